#include "drivers/camera/viewfinder.hpp"
#include "drivers/camera/reason.hpp"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>

namespace cp::camera {

const char* to_string(Hint h) {
    switch (h) {
    case Hint::none: return "none";
    case Hint::move_closer: return "move-closer";
    case Hint::hold_still: return "hold-still";
    case Hint::glare: return "glare";
    }
    return "none";
}

cv::Rect aim_box(int w, int h) {
    const int side = std::min(w, h) * 7 / 10;
    return {(w - side) / 2, (h - side) / 2, side, side};
}

namespace {

// The frame as a Mat over its pixels (no copy).
cv::Mat wrap(const Frame& f) {
    const int type = f.format == PixelFormat::gray8 ? CV_8UC1 : CV_8UC3;
    return cv::Mat(f.height, f.width, type, const_cast<std::uint8_t*>(f.pixels.data()),
                   static_cast<std::size_t>(f.stride));
}

bool consistent(const Frame& f) {
    const int channels = f.format == PixelFormat::gray8 ? 1 : 3;
    return f.width > 0 && f.height > 0 && f.stride >= f.width * channels &&
           f.pixels.size() >= static_cast<std::size_t>(f.stride) * static_cast<std::size_t>(f.height);
}

}  // namespace

Result<Assessment> assess(const Frame& frame, const HintConfig& config) {
    if (!consistent(frame)) return fail(ErrorKind::invalid_input, reason::image, "empty or inconsistent frame");
    Assessment a;
    const cv::Rect box = aim_box(frame.width, frame.height);
    cv::Mat roi = wrap(frame)(box);
    // The decoder's finder search over the aiming box (a view into the frame).
    const ImageView box_view{roi.data, box.width, box.height, frame.stride, frame.format};
    auto sighting = decode::find_code(box_view, config.finder_long_side);
    if (!sighting) return fail(sighting.error());
    a.sighting = *sighting;
    if (a.sighting.seen) {
        a.sighting.centre.x += static_cast<float>(box.x);
        a.sighting.centre.y += static_cast<float>(box.y);
    }

    // Blur and glare on a small gray copy of the aiming box.
    const double f = std::min(1.0, static_cast<double>(config.work_long_side) / std::max(box.width, box.height));
    cv::Mat small, gray;
    cv::resize(roi, small, cv::Size(), f, f, cv::INTER_AREA);
    if (small.channels() == 3) cv::cvtColor(small, gray, frame.format == PixelFormat::rgb8 ? cv::COLOR_RGB2GRAY
                                                                                                   : cv::COLOR_BGR2GRAY);
    else gray = small;
    cv::Scalar mean, sd;
    cv::meanStdDev(gray, mean, sd);
    a.contrast = sd[0];
    a.glare = static_cast<double>(cv::countNonZero(gray >= 250)) / static_cast<double>(gray.total());
    cv::Mat lap;
    cv::Laplacian(gray, lap, CV_16S, 1);
    const double mean_abs = cv::mean(cv::abs(lap))[0];
    a.sharpness = a.contrast > 0 ? mean_abs / a.contrast : 0;

    if (a.glare >= config.glare_share) a.hint = Hint::glare;
    else if (a.sighting.seen && a.sighting.module_px < config.min_module_px) a.hint = Hint::move_closer;
    else if (a.contrast >= config.min_contrast && a.sharpness < config.min_sharpness) a.hint = Hint::hold_still;
    return a;
}

cv::Mat preview_image(const Frame& frame, int max_w, int max_h, bool mirror) {
    if (!consistent(frame) || max_w <= 0 || max_h <= 0) return {};
    const double f = std::min(static_cast<double>(max_w) / frame.width, static_cast<double>(max_h) / frame.height);
    const int w = std::max(1, static_cast<int>(std::lround(frame.width * f)));
    const int h = std::max(1, static_cast<int>(std::lround(frame.height * f)));
    cv::Mat scaled;
    cv::resize(wrap(frame), scaled, cv::Size(w, h), 0, 0, f < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
    cv::Mat bgr;
    if (scaled.channels() == 1) cv::cvtColor(scaled, bgr, cv::COLOR_GRAY2BGR);
    else if (frame.format == PixelFormat::rgb8) cv::cvtColor(scaled, bgr, cv::COLOR_RGB2BGR);
    else bgr = scaled;
    if (mirror) cv::flip(bgr, bgr, 1);
    return bgr;
}

}  // namespace cp::camera
