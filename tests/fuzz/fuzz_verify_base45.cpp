// libFuzzer target: Base45 alone. Base45 is canonical, so decode then encode must
// give back the input, and encode then decode the bytes.
#include "src/pass/base45.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    auto decoded = cp::pass::base45_decode(text);
    if (decoded && cp::pass::base45_encode(*decoded) != text) std::abort();
    auto back = cp::pass::base45_decode(cp::pass::base45_encode(cp::ByteView(data, size)));
    if (!back || *back != cp::Bytes(data, data + size)) std::abort();
    return 0;
}
