// Fuzz target: the grid sampler (src/decode/grid.hpp) on arbitrary pixels and
// arbitrary finder geometry: degenerate, collinear, outside the image, huge or
// tiny module sizes, any version. Random frames almost never reach it through
// QrDecoder (it needs three finder patterns of a large code), so it is called
// directly. Bounded: the image is at most 255 x 512 px.
#include "src/decode/grid.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace {

float coord(const std::uint8_t* p) {
    std::int16_t v;
    std::memcpy(&v, p, sizeof v);
    return static_cast<float>(v) / 4.0f;  // quarter pixels, negative allowed
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    constexpr std::size_t head = 15;  // 6 coordinates, module, version, width
    if (size < head + 1) return 0;
    const cp::decode::FinderTriple t{{coord(data), coord(data + 2)},
                                     {coord(data + 4), coord(data + 6)},
                                     {coord(data + 8), coord(data + 10)},
                                     static_cast<float>(data[12]) / 8.0f};
    const int version = data[13] % 42;  // 0 and 41: out of range on purpose
    const int width = 1 + data[14];
    const int height = static_cast<int>(std::min<std::size_t>((size - head) / static_cast<std::size_t>(width), 512));
    if (height < 1) return 0;
    const cv::Mat gray(height, width, CV_8UC1, const_cast<std::uint8_t*>(data + head));
    for (const int v : cp::decode::likely_versions(t, 2)) {
        if (v < 1 || v > 40) __builtin_trap();
    }
    const auto s = cp::decode::sample_grid(gray, t, version);
    if (!s.image.empty()) {
        // A rendered code: (17 + 4v + 8) modules of 4 px a side.
        if (s.image.cols != (25 + 4 * version) * 4 || s.image.rows != s.image.cols) __builtin_trap();
    }
    return 0;
}
