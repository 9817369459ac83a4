#include "src/pass/compression.hpp"
#include "src/pass/reason.hpp"

#include "src/zlib/zlib.hpp"

#include <string>

namespace cp::pass {

Result<Bytes> inflate_capped(ByteView compressed, std::size_t cap) {
    auto r = zlib::inflate(compressed, zlib::Wrapper::zlib, cap);
    if (r) return r;
    const Error& e = r.error();
    if (e.is(zlib::reason::failed)) return fail(ErrorKind::internal, reason::inflate, e.message);
    if (e.is(zlib::reason::too_large))
        return fail(ErrorKind::invalid_input, reason::too_large, "inflated data exceeds " + std::to_string(cap / 1024) + " KiB");
    return fail(ErrorKind::invalid_input, reason::inflate, e.message);
}

Result<Bytes> deflate_zlib(ByteView data) {
    auto r = zlib::deflate(data, zlib::Wrapper::zlib, 9);
    if (!r) return fail(ErrorKind::internal, reason::deflate, r.error().message);
    return r;
}

}  // namespace cp::pass
