// libFuzzer target: png::decode_bgr on arbitrary bytes. A decoded image must be
// BGR8 within the size limits.
#include "drivers/png/png_io.hpp"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto r = cp::png::decode_bgr(cp::ByteView(data, size));
    if (!r.ok()) return 0;
    if (r->type() != CV_8UC3 || r->cols < 1 || r->rows < 1 || r->cols > cp::png::kMaxWidth ||
        r->rows > cp::png::kMaxHeight)
        __builtin_trap();
    return 0;
}
