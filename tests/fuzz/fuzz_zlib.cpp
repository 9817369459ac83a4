// libFuzzer target: zlib::inflate on arbitrary bytes, either wrapper, with a cap
// from the first byte. An accepted stream is never over its cap and survives a
// deflate/inflate round trip.
#include "src/zlib/zlib.hpp"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const auto wrapper = (data[0] & 1) ? cp::zlib::Wrapper::gzip : cp::zlib::Wrapper::zlib;
    const std::size_t cap = static_cast<std::size_t>(data[0] >> 1) * 1024;
    auto r = cp::zlib::inflate(cp::ByteView(data + 1, size - 1), wrapper, cap,
                               (data[0] & 0x80) ? cp::zlib::Trailing::ignore : cp::zlib::Trailing::refuse);
    if (!r.ok()) return 0;
    if (r->size() > cap) __builtin_trap();
    auto z = cp::zlib::deflate(cp::ByteView(*r), wrapper, 6);
    if (!z.ok()) __builtin_trap();
    auto back = cp::zlib::inflate(cp::ByteView(*z), wrapper, cap);
    if (!back.ok() || *back != *r) __builtin_trap();
    return 0;
}
