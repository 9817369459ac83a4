#include "src/imagefile/image_file.hpp"
#include "src/imagefile/reason.hpp"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include <cstring>

namespace cp::imagefile {

using Bytes = std::span<const std::uint8_t>;

Result<Image> decode(Bytes bytes, PixelFormat want, const Limits& limits) {
    if (want != PixelFormat::gray8 && want != PixelFormat::bgr8)
        return fail(ErrorKind::internal, reason::image_format, "decode gives gray8 or bgr8");
    auto hr = probe(bytes, limits);
    if (!hr) return fail(hr.error());
    const Header h = *hr;
    const bool gray = want == PixelFormat::gray8;
    cv::Mat m;
    try {
        const cv::Mat encoded(1, static_cast<int>(bytes.size()), CV_8U,
                              const_cast<std::uint8_t*>(bytes.data()));
        m = cv::imdecode(encoded, (gray ? cv::IMREAD_GRAYSCALE : cv::IMREAD_COLOR) | cv::IMREAD_IGNORE_ORIENTATION);
    } catch (const cv::Exception& e) {
        return fail(ErrorKind::invalid_input, reason::image_data, std::string(format_name(h.format)) + ": " + e.what());
    }
    if (m.empty())
        return fail(ErrorKind::invalid_input, reason::image_data, std::string(format_name(h.format)) + ": cannot decode");
    if (m.cols != h.width || m.rows != h.height)
        return fail(ErrorKind::invalid_input, reason::image_header, std::string(format_name(h.format)) + ": decoded size differs from the header");
    Image out;
    out.width = m.cols;
    out.height = m.rows;
    out.format = want;
    out.stride = m.cols * (gray ? 1 : 3);
    out.pixels.resize(static_cast<std::size_t>(out.stride) * static_cast<std::size_t>(out.height));
    for (int y = 0; y < m.rows; ++y)
        std::memcpy(out.pixels.data() + static_cast<std::size_t>(y) * static_cast<std::size_t>(out.stride),
                    m.ptr(y), static_cast<std::size_t>(out.stride));
    return out;
}

Result<Image> load(const std::string& path, PixelFormat want, const Limits& limits) {
    auto bytes = read_file(path, limits);
    if (!bytes) return fail(bytes.error());
    auto img = decode(*bytes, want, limits);
    if (!img) return fail(img.error().with_context(path));
    return img;
}

Result<std::vector<decode::Code>> decode_file(const std::string& path, const decode::DecoderOptions& options) {
    auto img = load(path, PixelFormat::gray8);
    if (!img) return fail(img.error());
    decode::QrDecoder dec(options);
    auto r = dec.decode(img->view());
    if (!r) return fail(r.error().with_context(path));
    return r;
}

}  // namespace cp::imagefile
