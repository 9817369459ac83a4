#include "drivers/png/png_io.hpp"

#include <png.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>

namespace cp::png {
namespace {

// png_image keeps its message in a fixed buffer; copy it before png_image_free.
std::string message_of(const png_image& img) { return std::string(img.message); }

}  // namespace

Result<cv::Mat> decode_bgr(ByteView data) {
    png_image img;
    std::memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&img, data.data(), data.size())) {
        std::string m = message_of(img);
        png_image_free(&img);
        return fail(ErrorKind::invalid_input, reason::png, m);
    }
    if (img.width == 0 || img.height == 0 || img.width > static_cast<png_uint_32>(kMaxWidth) ||
        img.height > static_cast<png_uint_32>(kMaxHeight)) {
        const std::string m = std::to_string(img.width) + "x" + std::to_string(img.height) + " outside 1x1.." +
                              std::to_string(kMaxWidth) + "x" + std::to_string(kMaxHeight);
        png_image_free(&img);
        return fail(ErrorKind::invalid_input, reason::png, m);
    }
    img.format = PNG_FORMAT_BGR;  // alpha is composed onto black, 16 bit reduced to 8
    cv::Mat out(static_cast<int>(img.height), static_cast<int>(img.width), CV_8UC3);
    if (!png_image_finish_read(&img, nullptr, out.data, static_cast<png_int_32>(out.step[0]), nullptr)) {
        std::string m = message_of(img);
        png_image_free(&img);
        return fail(ErrorKind::invalid_input, reason::png, m);
    }
    return out;
}

Result<cv::Mat> read_bgr(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return fail(ErrorKind::io, reason::png, path + ": cannot open");
    in.seekg(0, std::ios::end);
    const auto size = static_cast<std::streamoff>(in.tellg());
    if (size < 0 || static_cast<std::uint64_t>(size) > kMaxFileBytes)
        return fail(ErrorKind::io, reason::png, path + ": larger than " + std::to_string(kMaxFileBytes) + " bytes");
    in.seekg(0);
    Bytes data(static_cast<std::size_t>(size));
    if (!in.read(reinterpret_cast<char*>(data.data()), size)) return fail(ErrorKind::io, reason::png, path + ": read failed");
    auto m = decode_bgr(data);
    if (!m) return fail(m.error().with_context(path));
    return m;
}

Status write(const std::string& path, const cv::Mat& image) {
    if (image.depth() != CV_8U || (image.channels() != 3 && image.channels() != 1))
        return fail(ErrorKind::invalid_input, reason::png, "only BGR8 or gray8 images are written");
    png_image img;
    std::memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    img.width = static_cast<png_uint_32>(image.cols);
    img.height = static_cast<png_uint_32>(image.rows);
    img.format = image.channels() == 3 ? PNG_FORMAT_BGR : PNG_FORMAT_GRAY;
    if (!png_image_write_to_file(&img, path.c_str(), 0, image.data, static_cast<png_int_32>(image.step[0]), nullptr)) {
        std::string m = message_of(img);
        png_image_free(&img);
        return fail(ErrorKind::io, reason::png, path + ": " + m);
    }
    return {};
}

}  // namespace cp::png
