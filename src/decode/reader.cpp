#define ZX_USE_UTF8 1
#include "src/decode/reader.hpp"

#include "src/common/log.hpp"
#include "src/decode/preprocess.hpp"

#include <ZXing/ReadBarcode.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <utility>

namespace cp::decode {

namespace {

ZXing::DecodeHints qr_hints(bool pyramid, bool global) {
    ZXing::DecodeHints h;
    h.setBinarizer(global ? ZXing::Binarizer::GlobalHistogram : ZXing::Binarizer::LocalAverage);
    h.setFormats(ZXing::BarcodeFormat::QRCode);
    h.setTryHarder(true);
    h.setTryRotate(false);  // rotation only matters to 1D readers
    h.setTryDownscale(pyramid);
    return h;
}

}  // namespace

void FrameReader::start_frame() {
    report = {};
    found_.clear();
}

bool FrameReader::deadline_fits(double cost_ms) {
    if (!deadline_ || deadline_->fits(cost_ms)) return true;
    note_skip();
    return false;
}

bool FrameReader::affordable(double try_mpx) {
    if (report.tries == 0 || !deadline_ || deadline_->fits(zxing_rate.estimate(try_mpx))) return true;
    note_skip();
    return false;
}

double FrameReader::deadline_left_fraction(const Deadline& dl, double try_mpx) const {
    const double cost = zxing_rate.estimate(try_mpx);
    return dl.fits(cost) ? 1.0 : std::max(0.0, dl.left_ms()) / cost;
}

int FrameReader::run(const cv::Mat& gray, const Xform& xf, const char* stage, bool pyramid, bool global,
                     const Quad* place) {
    ++report.tries;
    ZXing::ImageView iv(gray.data, gray.cols, gray.rows, ZXing::ImageFormat::Lum, static_cast<int>(gray.step[0]));
    ZXing::Results rs;
    const auto t0 = std::chrono::steady_clock::now();
    try {
        rs = ZXing::ReadBarcodes(iv, qr_hints(pyramid, global).setIsPure(place != nullptr));
    } catch (const std::exception& e) {
        log::warn("decode", "zxing failed", {{"stage", stage}, {"what", e.what()}});
        return 0;
    }
    zxing_rate.observe(ms_since(t0), mpx(gray));
    int added = 0;
    for (const auto& r : rs) {
        // Reed-Solomon has corrected or rejected the codewords; anything ZXing
        // flags (checksum, format) is dropped rather than shown to the verifier.
        if (!r.isValid() || r.format() != ZXing::BarcodeFormat::QRCode) continue;
        const auto& p = r.position();
        Quad q;
        for (std::size_t i = 0; i < 4; ++i) q[i] = place ? (*place)[i] : xf.apply(p[i].x, p[i].y);
        if (merge(Code{r.text(), q, stage})) ++added;
    }
    return added;
}

bool FrameReader::merge(Code c) {
    for (auto& f : found_) {
        if (!overlaps(f.code.corners, c.corners)) continue;
        if (f.code.text == c.text) {
            ++f.votes;
            return false;
        }
        f.conflict = true;
        ++report.conflicts;
        log::warn("decode", "different texts at one position", {{"stage", c.stage}});
        return false;
    }
    found_.push_back(Found{std::move(c), 1, false});
    return true;
}

bool FrameReader::any_found() const {
    return std::any_of(found_.begin(), found_.end(), [](const Found& f) { return !f.conflict; });
}

bool FrameReader::room_for_more(const cv::Mat& frame) const {
    double covered_area = 0;
    for (const auto& fd : found_) covered_area += quad_area(fd.code.corners);
    return covered_area < opt_.room_for_more * static_cast<double>(frame.cols) * frame.rows;
}

bool FrameReader::covered(Point p) const {
    return std::any_of(found_.begin(), found_.end(), [&](const Found& f) { return inside(f.code.corners, p); });
}

float FrameReader::largest_side() const {
    float side = 0;
    for (const auto& fd : found_) {
        const auto& q = fd.code.corners;
        side = std::max(side, std::hypot(q[0].x - q[1].x, q[0].y - q[1].y));
    }
    return side;
}

std::vector<Code> FrameReader::take() {
    std::vector<Code> out;
    for (auto& f : found_)
        if (!f.conflict) out.push_back(std::move(f.code));
    found_.clear();
    return out;
}

int FrameReader::run_region(const cv::Mat& gray, Point c, double half_side) {
    cv::Rect box(static_cast<int>(c.x - half_side), static_cast<int>(c.y - half_side),
                 static_cast<int>(2 * half_side), static_cast<int>(2 * half_side));
    box &= cv::Rect(0, 0, gray.cols, gray.rows);
    if (box.width < 16 || box.height < 16) return 0;
    const double f = std::clamp(opt_.region_side / std::max(box.width, box.height), 0.25, 4.0);
    const double crop_mpx = box.width * f * box.height * f / 1e6;
    if (!affordable(crop_mpx)) return 0;
    ++report.regions;
    cv::Mat scaled = resized(gray(box), f);
    const Xform rx{1.0 / f, static_cast<double>(box.x), static_cast<double>(box.y)};
    int n = run(scaled, rx, "region", false);
    if (n == 0 && opt_.global_threshold && affordable(crop_mpx)) n = run(scaled, rx, "region-global", false, true);
    if (n > 0 || !opt_.contrast || !affordable(crop_mpx)) return n;
    return run(equalised(scaled, 4), rx, "region", false);
}

}  // namespace cp::decode
