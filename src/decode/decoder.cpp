// QrDecoder: ZXing-cpp for the symbol itself, OpenCV for what ZXing lacks
// (contrast normalisation, scales, sharpening, inversion, region proposals).
// The stages and their order: stages.hpp; the tries and their dedup:
// reader.hpp; the budget: budget.hpp; image preparation: preprocess.hpp; the
// video region: video_roi.hpp. docs/decoding.md explains each stage and the
// measurements behind it.
#include "src/decode/decoder.hpp"

#include "src/decode/budget.hpp"
#include "src/decode/preprocess.hpp"
#include "src/decode/reason.hpp"
#include "src/decode/reader.hpp"
#include "src/decode/regions.hpp"
#include "src/decode/stages.hpp"
#include "src/decode/video_roi.hpp"

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <optional>
#include <utility>

namespace cp::decode {

struct QrDecoder::Impl {
    DecoderOptions opt;
    FrameReader reader{opt};
    RoiTracker tracker;
};

Result<Sighting> find_code(const ImageView& frame, int long_side) {
    auto g = to_gray(frame, DecoderOptions{}.max_side);
    if (!g) return fail(g.error());
    const int longest = std::max(g->cols, g->rows);
    // To `long_side`: reduced, or enlarged up to twice so that small modules
    // stay wider than the binariser's smallest ring.
    const double f = long_side > 0 ? std::min(2.0, static_cast<double>(long_side) / longest) : 1.0;
    cv::Mat small;
    if (f < 1.0) cv::resize(*g, small, cv::Size(), f, f, cv::INTER_AREA);
    else if (f > 1.0) cv::resize(*g, small, cv::Size(), f, f, cv::INTER_LINEAR);
    else small = *g;
    Sighting s;
    for (const Region& r : propose_regions(small, 8)) {
        if (!r.triple) continue;
        s.seen = true;
        s.module_px = static_cast<float>(r.module / f);
        s.centre = {static_cast<float>(r.cx / f), static_cast<float>(r.cy / f)};
        s.half = static_cast<float>(r.half / f);
        break;
    }
    return s;
}

QrDecoder::QrDecoder(DecoderOptions options) : impl_(std::make_unique<Impl>()) { impl_->opt = options; }
QrDecoder::~QrDecoder() = default;
QrDecoder::QrDecoder(QrDecoder&&) noexcept = default;
QrDecoder& QrDecoder::operator=(QrDecoder&&) noexcept = default;

const DecoderOptions& QrDecoder::options() const { return impl_->opt; }
const DecodeReport& QrDecoder::last_report() const { return impl_->reader.report; }
void QrDecoder::reset_tracking() { impl_->tracker.reset(); }

Result<std::vector<Code>> QrDecoder::decode(const ImageView& frame) {
    Deadline dl(impl_->opt.budget_ms);
    impl_->reader.start_frame();
    auto g = to_gray(frame, impl_->opt.max_side);
    if (!g) return fail(g.error());
    try {
        std::optional<Quad> hint;
        run_pipeline(impl_->reader, *g, dl, hint);
        impl_->tracker.clear_hint();  // only video frames carry a position forward
    } catch (const cv::Exception& e) {
        impl_->reader.take();
        return fail(ErrorKind::internal, reason::opencv, e.what());
    }
    return impl_->reader.take();
}

Result<std::vector<Code>> QrDecoder::decode_video_frame(const ImageView& frame) {
    auto& d = *impl_;
    Deadline dl(d.opt.budget_ms);
    d.reader.start_frame();
    auto g = to_gray(frame, d.opt.max_side);
    if (!g) return fail(g.error());
    try {
        d.tracker.try_region(d.reader, *g);
        if (!d.reader.any_found()) {
            std::optional<Quad> hint;
            run_pipeline(d.reader, *g, dl, hint);
            if (hint) d.tracker.set_hint(*hint);
        }
    } catch (const cv::Exception& e) {
        d.reader.take();
        return fail(ErrorKind::internal, reason::opencv, e.what());
    }
    auto codes = d.reader.take();
    d.tracker.after_frame(codes);
    return codes;
}

}  // namespace cp::decode
