#include "src/zlib/zlib.hpp"

#include <zlib.h>

#include <algorithm>
#include <limits>

namespace cp::zlib {

namespace {

int window_bits(Wrapper w) { return w == Wrapper::gzip ? 16 + MAX_WBITS : MAX_WBITS; }

// Inflates into `out` (Bytes or std::string), appending chunk by chunk.
template <typename Out>
Result<Out> inflate_into(const std::uint8_t* data, std::size_t size, Wrapper wrapper, std::size_t cap,
                         Trailing trailing) {
    if (size > std::numeric_limits<uInt>::max())
        return fail(ErrorKind::invalid_input, reason::too_large, "compressed input too large");
    z_stream zs{};
    if (inflateInit2(&zs, window_bits(wrapper)) != Z_OK)
        return fail(ErrorKind::internal, reason::failed, "inflateInit failed");
    struct End {
        z_stream& z;
        ~End() { inflateEnd(&z); }
    } end{zs};
    // zlib's API takes non-const input but never writes to it.
    zs.next_in = const_cast<Bytef*>(data);
    zs.avail_in = static_cast<uInt>(size);
    Out out;
    std::uint8_t buf[16384];
    for (;;) {
        zs.next_out = buf;
        zs.avail_out = sizeof buf;
        const int rc = ::inflate(&zs, Z_NO_FLUSH);
        const std::size_t produced = sizeof buf - zs.avail_out;
        // The cap first: what was produced before an error counts.
        if (out.size() + produced > cap)
            return fail(ErrorKind::invalid_input, reason::too_large,
                        "inflated data exceeds " + std::to_string(cap) + " bytes");
        out.insert(out.end(), buf, buf + produced);
        if (rc == Z_STREAM_END) break;
        if (rc == Z_MEM_ERROR) return fail(ErrorKind::internal, reason::failed, "out of memory");
        if (rc == Z_BUF_ERROR || (rc == Z_OK && zs.avail_in == 0 && zs.avail_out != 0))
            return fail(ErrorKind::invalid_input, reason::truncated, "truncated stream");
        if (rc != Z_OK) return fail(ErrorKind::invalid_input, reason::corrupt, "corrupt stream");
    }
    if (zs.avail_in != 0 && trailing == Trailing::refuse)
        return fail(ErrorKind::invalid_input, reason::trailing_bytes, "bytes after the stream");
    return out;
}

template <typename Out>
Result<Out> deflate_into(const std::uint8_t* data, std::size_t size, Wrapper wrapper, int level) {
    if (size > std::numeric_limits<uInt>::max() / 2)
        return fail(ErrorKind::invalid_input, reason::too_large, "input too large");
    z_stream zs{};
    if (deflateInit2(&zs, level, Z_DEFLATED, window_bits(wrapper), 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return fail(ErrorKind::internal, reason::failed, "deflateInit failed");
    Out out(deflateBound(&zs, static_cast<uLong>(size)), 0);
    zs.next_in = const_cast<Bytef*>(data);
    zs.avail_in = static_cast<uInt>(size);
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    const int rc = ::deflate(&zs, Z_FINISH);
    out.resize(zs.total_out);
    deflateEnd(&zs);
    if (rc != Z_STREAM_END) return fail(ErrorKind::internal, reason::failed, "deflate did not finish");
    return out;
}

const std::uint8_t* bytes_of(std::string_view s) { return reinterpret_cast<const std::uint8_t*>(s.data()); }

}  // namespace

Result<Bytes> inflate(ByteView compressed, Wrapper wrapper, std::size_t cap, Trailing trailing) {
    return inflate_into<Bytes>(compressed.data(), compressed.size(), wrapper, cap, trailing);
}

Result<std::string> inflate(std::string_view compressed, Wrapper wrapper, std::size_t cap, Trailing trailing) {
    return inflate_into<std::string>(bytes_of(compressed), compressed.size(), wrapper, cap, trailing);
}

Result<Bytes> deflate(ByteView data, Wrapper wrapper, int level) {
    return deflate_into<Bytes>(data.data(), data.size(), wrapper, level);
}

Result<std::string> deflate(std::string_view data, Wrapper wrapper, int level) {
    return deflate_into<std::string>(bytes_of(data), data.size(), wrapper, level);
}

}  // namespace cp::zlib
