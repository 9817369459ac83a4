// libFuzzer target: detail::decode_mjpeg_gray on arbitrary bytes. The first
// four bytes are the negotiated frame size (width - 1 and height - 1, 10 bits
// each, little-endian), the rest is what the camera put in the buffer. The
// output is exactly width * height bytes, so ASan catches any write past it;
// an error must be io/"frame".
#include "drivers/camera/reason.hpp"
#include "drivers/camera/v4l2_io.hpp"

#include <cstddef>
#include <cstdint>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 4) return 0;
    const int width = 1 + (data[0] | (data[1] & 0x3) << 8);
    const int height = 1 + (data[2] | (data[3] & 0x3) << 8);
    std::vector<std::uint8_t> out(static_cast<std::size_t>(width) * static_cast<std::size_t>(height));
    auto r = cp::camera::detail::decode_mjpeg_gray({data + 4, size - 4}, width, height, out.data());
    if (!r.ok() && (r.error().kind != cp::ErrorKind::io || !r.error().is(cp::camera::reason::frame))) __builtin_trap();
    return 0;
}
