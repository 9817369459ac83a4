#include "src/decode/video_roi.hpp"

#include "src/decode/preprocess.hpp"

#include <algorithm>

namespace cp::decode {

cv::Rect roi_box(const Quad& q, cv::Size frame) {
    float x0 = q[0].x, x1 = q[0].x, y0 = q[0].y, y1 = q[0].y;
    for (const auto& p : q) {
        x0 = std::min(x0, p.x);
        x1 = std::max(x1, p.x);
        y0 = std::min(y0, p.y);
        y1 = std::max(y1, p.y);
    }
    const float w = x1 - x0, h = y1 - y0, m = std::max(w, h) * 0.6f;
    cv::Rect box(static_cast<int>(x0 - m), static_cast<int>(y0 - m), static_cast<int>(w + 2 * m),
                 static_cast<int>(h + 2 * m));
    return box & cv::Rect(0, 0, frame.width, frame.height);
}

int RoiTracker::try_region(FrameReader& reader, const cv::Mat& gray) {
    const std::optional<Quad> roi = last_quad_ ? last_quad_ : hint_;
    hint_.reset();
    if (!reader.opt().roi_reuse || !roi) return 0;
    // The code moves little between frames at 30 fps: a crop around the last
    // position (a read, or three finder patterns not yet read), scaled to a
    // comfortable size, is read in a few ms.
    const cv::Rect box = roi_box(*roi, gray.size());
    if (box.width < 16 || box.height < 16) return 0;
    const double f = std::clamp(480.0 / std::max(box.width, box.height), 0.25, 2.0);
    const cv::Mat crop = resized(gray(box), f);
    const Xform rx{1.0 / f, static_cast<double>(box.x), static_cast<double>(box.y)};
    const int n = reader.run(crop, rx, "roi", false);
    if (n > 0) return n;
    return reader.run(equalised(crop, 4), rx, "roi", false);
}

void RoiTracker::after_frame(const std::vector<Code>& codes) {
    if (!codes.empty()) {
        last_quad_ = codes.front().corners;
        frames_since_seen_ = 0;
    } else if (last_quad_ && ++frames_since_seen_ > 15) {
        // Half a second without a read: the code has left; stop paying for the ROI.
        last_quad_.reset();
    }
}

void RoiTracker::reset() {
    last_quad_.reset();
    hint_.reset();
    frames_since_seen_ = 0;
}

}  // namespace cp::decode
