// Fuzz target: bytes → imagefile::probe (format and size from the header), and
// for headers within a small limit, imagefile::decode. Checks that a decoded image
// has exactly the size its header announced.
#include "src/imagefile/image_file.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::uint8_t> bytes(data, size);
    cp::imagefile::Limits limits;
    limits.max_pixels = 256 * 256;
    limits.max_side = 1024;
    auto h = cp::imagefile::probe(bytes, limits);
    if (!h) return 0;
    if (h->width <= 0 || h->height <= 0 || static_cast<std::uint64_t>(h->width) * static_cast<std::uint64_t>(h->height) > limits.max_pixels)
        std::abort();  // probe let through what its limits forbid
    auto img = cp::imagefile::decode(bytes, (data[size - 1] & 1) ? cp::decode::PixelFormat::bgr8 : cp::decode::PixelFormat::gray8,
                                 limits);
    if (img && (img->width != h->width || img->height != h->height ||
                img->pixels.size() != static_cast<std::size_t>(img->stride) * static_cast<std::size_t>(img->height)))
        std::abort();
    return 0;
}
