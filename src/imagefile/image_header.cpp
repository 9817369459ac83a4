#include "src/imagefile/image_header.hpp"
#include "src/imagefile/reason.hpp"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <system_error>

namespace cp::imagefile {
namespace {

using Bytes = std::span<const std::uint8_t>;

std::uint32_t be16(Bytes b, std::size_t at) { return (std::uint32_t{b[at]} << 8) | b[at + 1]; }
std::uint32_t be32(Bytes b, std::size_t at) { return (be16(b, at) << 16) | be16(b, at + 2); }
std::uint32_t le16(Bytes b, std::size_t at) { return (std::uint32_t{b[at + 1]} << 8) | b[at]; }
std::uint32_t le32(Bytes b, std::size_t at) { return (le16(b, at + 2) << 16) | le16(b, at); }

Error header_error(const char* format, const std::string& what) {
    return {ErrorKind::invalid_input, "image-header", std::string(format) + ": " + what};
}

Result<Header> png_header(Bytes b) {
    // Signature, then the first chunk must be IHDR of length 13 (PNG spec 5.2, 11.2.2).
    if (b.size() < 24) return fail(header_error("png", "truncated before IHDR"));
    if (be32(b, 8) != 13 || std::memcmp(b.data() + 12, "IHDR", 4) != 0)
        return fail(header_error("png", "first chunk is not IHDR"));
    const std::uint32_t w = be32(b, 16), h = be32(b, 20);
    if (w > 0x7fffffffu || h > 0x7fffffffu) return fail(header_error("png", "dimension above 2^31"));
    return Header{Format::png, static_cast<int>(w), static_cast<int>(h)};
}

bool is_sof(std::uint8_t m) {
    // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC).
    return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
}

Result<Header> jpeg_header(Bytes b) {
    std::size_t at = 2;  // after SOI
    while (true) {
        if (at >= b.size()) return fail(header_error("jpeg", "no frame header before the end"));
        if (b[at] != 0xFF) return fail(header_error("jpeg", "marker expected"));
        while (at < b.size() && b[at] == 0xFF) ++at;  // fill bytes
        if (at >= b.size()) return fail(header_error("jpeg", "truncated marker"));
        const std::uint8_t m = b[at++];
        if (m == 0x01 || (m >= 0xD0 && m <= 0xD7)) continue;  // no length field
        if (m == 0xD9 || m == 0xDA || m == 0xD8)
            return fail(header_error("jpeg", "scan or end before the frame header"));
        if (at + 2 > b.size()) return fail(header_error("jpeg", "truncated segment length"));
        const std::uint32_t len = be16(b, at);
        if (len < 2) return fail(header_error("jpeg", "segment length below 2"));
        if (is_sof(m)) {
            if (len < 8 || at + 7 > b.size()) return fail(header_error("jpeg", "truncated frame header"));
            const std::uint32_t h = be16(b, at + 3), w = be16(b, at + 5);
            return Header{Format::jpeg, static_cast<int>(w), static_cast<int>(h)};
        }
        at += len;
    }
}

Result<Header> bmp_header(Bytes b) {
    if (b.size() < 26) return fail(header_error("bmp", "truncated header"));
    const std::uint32_t dib = le32(b, 14);
    if (dib == 12) return Header{Format::bmp, static_cast<int>(le16(b, 18)), static_cast<int>(le16(b, 20))};
    if (dib < 40 || dib > 124) return fail(header_error("bmp", "unknown info header size"));
    const auto w = static_cast<std::int32_t>(le32(b, 18));
    auto h = static_cast<std::int32_t>(le32(b, 22));
    if (w <= 0 || h == INT32_MIN) return fail(header_error("bmp", "bad dimensions"));
    if (h < 0) h = -h;  // top-down rows
    return Header{Format::bmp, w, h};
}

Result<Header> header_of(Bytes b) {
    static constexpr std::uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
    if (b.size() >= 8 && std::memcmp(b.data(), png_sig, 8) == 0) return png_header(b);
    if (b.size() >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) return jpeg_header(b);
    if (b.size() >= 2 && b[0] == 'B' && b[1] == 'M') return bmp_header(b);
    return fail(ErrorKind::invalid_input, reason::image_format, "not a PNG, JPEG or BMP image");
}

}  // namespace

const char* format_name(Format f) {
    switch (f) {
    case Format::png: return "png";
    case Format::jpeg: return "jpeg";
    case Format::bmp: return "bmp";
    }
    return "?";
}

Result<Header> probe(Bytes bytes, const Limits& limits) {
    if (bytes.size() > limits.max_file_bytes)
        return fail(ErrorKind::invalid_input, reason::image_size,
                    std::to_string(bytes.size()) + " bytes, above " + std::to_string(limits.max_file_bytes));
    auto hr = header_of(bytes);
    if (!hr) return fail(hr.error());
    const Header h = *hr;
    const std::uint64_t px = static_cast<std::uint64_t>(h.width) * static_cast<std::uint64_t>(h.height);
    if (h.width <= 0 || h.height <= 0)
        return fail(ErrorKind::invalid_input, reason::image_size, std::string(format_name(h.format)) + ": empty image");
    if (h.width > limits.max_side || h.height > limits.max_side || px > limits.max_pixels)
        return fail(ErrorKind::invalid_input, reason::image_size,
                    std::string(format_name(h.format)) + ": " + std::to_string(h.width) + "x" +
                        std::to_string(h.height) + " is above the limit");
    return h;
}

Result<std::vector<std::uint8_t>> read_file(const std::string& path, const Limits& limits) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec))
        return fail(ErrorKind::io, reason::image, path + ": not a readable file");
    const auto size = std::filesystem::file_size(path, ec);
    if (ec) return fail(ErrorKind::io, reason::image, path + ": " + ec.message());
    if (size > limits.max_file_bytes)
        return fail(ErrorKind::invalid_input, reason::image_size, path + ": file above " +
                                                                std::to_string(limits.max_file_bytes) + " bytes");
    std::ifstream in(path, std::ios::binary);
    std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
    if (!in || !in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size)))
        return fail(ErrorKind::io, reason::image, path + ": cannot read");
    return bytes;
}

}  // namespace cp::imagefile
