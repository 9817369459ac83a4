#include "src/pass/compression.hpp"
#include "src/pass/reason.hpp"

#include <zlib.h>

#include <limits>

namespace cp::pass {

Result<Bytes> inflate_capped(ByteView compressed, std::size_t cap) {
    if (compressed.size() > std::numeric_limits<uInt>::max())
        return fail(ErrorKind::invalid_input, reason::too_large, "compressed input too large");
    z_stream zs{};
    if (inflateInit(&zs) != Z_OK) return fail(ErrorKind::internal, reason::inflate, "inflateInit failed");
    // zlib's API takes non-const input but never writes to it.
    zs.next_in = const_cast<Bytef*>(compressed.data());
    zs.avail_in = static_cast<uInt>(compressed.size());
    // One byte beyond the cap tells "exactly cap" from "more than cap".
    Bytes out(cap + 1);
    zs.next_out = out.data();
    zs.avail_out = static_cast<uInt>(out.size());
    int rc = inflate(&zs, Z_FINISH);
    std::size_t produced = out.size() - zs.avail_out;
    std::size_t left_in = zs.avail_in;
    inflateEnd(&zs);
    if (produced > cap) return fail(ErrorKind::invalid_input, reason::too_large, "inflated data exceeds 64 KiB");
    if (rc != Z_STREAM_END) {
        const char* why = rc == Z_DATA_ERROR ? "corrupt zlib stream"
                          : rc == Z_BUF_ERROR ? "truncated zlib stream"
                                              : "zlib error";
        return fail(ErrorKind::invalid_input, reason::inflate, why);
    }
    if (left_in != 0) return fail(ErrorKind::invalid_input, reason::inflate, "bytes after the zlib stream");
    out.resize(produced);
    return out;
}

Result<Bytes> deflate_zlib(ByteView data) {
    if (data.size() > std::numeric_limits<uLong>::max() / 2)
        return fail(ErrorKind::internal, reason::deflate, "input too large");
    uLongf len = compressBound(static_cast<uLong>(data.size()));
    Bytes out(len);
    int rc = compress2(out.data(), &len, data.data(), static_cast<uLong>(data.size()), Z_BEST_COMPRESSION);
    if (rc != Z_OK) return fail(ErrorKind::internal, reason::deflate, "compress2 failed");
    out.resize(len);
    return out;
}

}  // namespace cp::pass
