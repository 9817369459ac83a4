#include "src/decode/preprocess.hpp"
#include "src/decode/reason.hpp"

#include <opencv2/imgproc.hpp>

#include <cstdint>
#include <string>

namespace cp::decode {

Result<cv::Mat> to_gray(const ImageView& v, int max_side) {
    if (!v.data || v.width <= 0 || v.height <= 0)
        return fail(ErrorKind::invalid_input, reason::image, "empty frame");
    if (v.width > max_side || v.height > max_side)
        return fail(ErrorKind::invalid_input, reason::image,
                    "frame " + std::to_string(v.width) + "x" + std::to_string(v.height) + " exceeds " +
                        std::to_string(max_side));
    const int channels = cp::channels(v.format);
    if (v.stride < v.width * channels) return fail(ErrorKind::invalid_input, reason::image, "stride smaller than a row");
    // OpenCV wants a mutable pointer; the Mat is only read.
    cv::Mat m(v.height, v.width, channels == 1 ? CV_8UC1 : CV_8UC3, const_cast<std::uint8_t*>(v.data),
              static_cast<std::size_t>(v.stride));
    if (channels == 1) return m;
    cv::Mat g;
    cv::cvtColor(m, g, v.format == PixelFormat::bgr8 ? cv::COLOR_BGR2GRAY : cv::COLOR_RGB2GRAY);
    return g;
}

cv::Mat resized(const cv::Mat& src, double f) {
    cv::Mat out;
    cv::resize(src, out, cv::Size(), f, f, f < 1.0 ? cv::INTER_AREA : cv::INTER_LINEAR);
    return out;
}

// OpenCV's area resize has a fast path for a factor of exactly 2 (about 4 ms on
// a 12 Mpx frame) while its general path costs some 30 ms there: the frame is
// halved while the half is still large enough, and only the rest of the way
// takes the general path.
cv::Mat area_reduced(const cv::Mat& src, double f) {
    const cv::Size want(cvRound(src.cols * f), cvRound(src.rows * f));
    cv::Mat m = src;
    while (m.cols / 2 >= want.width && m.rows / 2 >= want.height) {
        // An odd last row or column is dropped so that the factor is exactly 2.
        cv::Mat half;
        cv::resize(m(cv::Rect(0, 0, m.cols & ~1, m.rows & ~1)), half, cv::Size(m.cols / 2, m.rows / 2), 0, 0,
                   cv::INTER_AREA);
        m = half;
    }
    if (m.size() == want) return m;
    cv::Mat out;
    cv::resize(m, out, want, 0, 0, cv::INTER_AREA);
    return out;
}

cv::Mat stretched(const cv::Mat& gray) {
    int hist[256] = {};
    for (int y = 0; y < gray.rows; y += 2) {
        const std::uint8_t* row = gray.ptr<std::uint8_t>(y);
        for (int x = 0; x < gray.cols; x += 2) ++hist[row[x]];
    }
    int total = 0;
    for (int v : hist) total += v;
    int lo = 0, hi = 255, acc = 0;
    while (lo < 255 && (acc += hist[lo]) < total / 100) ++lo;
    acc = 0;
    while (hi > 0 && (acc += hist[hi]) < total / 100) --hi;
    if (hi - lo > 160 || hi <= lo) return {};
    cv::Mat out;
    gray.convertTo(out, CV_8UC1, 255.0 / (hi - lo), -255.0 * lo / (hi - lo));
    return out;
}

cv::Mat equalised(const cv::Mat& gray, int tiles) {
    cv::Mat eq;
    cv::createCLAHE(2.5, cv::Size(tiles, tiles))->apply(gray, eq);
    return eq;
}

cv::Mat smoothed(const cv::Mat& gray) {
    cv::Mat sm;
    cv::GaussianBlur(gray, sm, cv::Size(5, 5), 0);
    return sm;
}

cv::Mat sharpened(const cv::Mat& gray) {
    cv::Mat bl, sh;
    cv::GaussianBlur(gray, bl, cv::Size(0, 0), 2.0);
    cv::addWeighted(gray, 2.0, bl, -1.0, 0, sh);
    return sh;
}

cv::Mat inverted(const cv::Mat& gray) {
    cv::Mat inv;
    cv::bitwise_not(gray, inv);
    return inv;
}

cv::Mat aspect_changed(const cv::Mat& gray, double a) {
    cv::Mat as;
    cv::resize(gray, as, cv::Size(), a, 1.0 / a, cv::INTER_LINEAR);
    return as;
}

}  // namespace cp::decode
