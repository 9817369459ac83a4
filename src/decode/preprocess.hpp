// Image preparation for the decoder's tries: the gray frame from a view, the
// working size, and the variants the whole-frame stages read (contrast, blur,
// sharpening, inversion, aspect). Private to src/decode (uses OpenCV types).
#pragma once

#include "src/common/result.hpp"
#include "src/decode/decoder.hpp"

#include <opencv2/core.hpp>

#include <algorithm>

namespace cp::decode {

// Wraps the view as an 8-bit gray Mat (a copy only for colour input).
// Errors: invalid_input/"image" for a null, empty, oversized (either side over
// `max_side`) or inconsistent view.
Result<cv::Mat> to_gray(const ImageView& v, int max_side);

inline int long_side(const cv::Mat& m) { return std::max(m.cols, m.rows); }
inline double mpx(const cv::Mat& m) { return static_cast<double>(m.cols) * m.rows / 1e6; }

// Scaled by f: area-averaged when reducing, bilinear when enlarging.
cv::Mat resized(const cv::Mat& src, double f);
// The frame reduced by f (< 1), area-averaged, sized as cv::resize sizes it,
// by halvings first (OpenCV's fast path) and the general path for the rest.
cv::Mat area_reduced(const cv::Mat& src, double f);
// Maps the 1st..99th percentile of grey levels onto 0..255. Empty when the
// frame already spans most of the range (nothing to gain).
cv::Mat stretched(const cv::Mat& gray);
// Contrast-limited histogram equalisation (clip 2.5) over tiles x tiles blocks.
cv::Mat equalised(const cv::Mat& gray, int tiles);
cv::Mat smoothed(const cv::Mat& gray);   // 5x5 Gaussian
cv::Mat sharpened(const cv::Mat& gray);  // unsharp mask, sigma 2
cv::Mat inverted(const cv::Mat& gray);
// x scaled by a, y by 1/a (bilinear): the same pixel count, the aspect changed.
cv::Mat aspect_changed(const cv::Mat& gray, double a);

}  // namespace cp::decode
