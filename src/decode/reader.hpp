// The decoder's tries and what they found: one ZXing run over a prepared
// image, its codes merged by position (same text: one code; different texts at
// one position: a conflict, neither reported), crops around likely codes, and
// the budget checks every stage asks before a try. Lives as long as the
// QrDecoder (the cost rates learn across frames). Private to src/decode.
#pragma once

#include "src/decode/budget.hpp"
#include "src/decode/decoder.hpp"
#include "src/decode/geometry.hpp"

#include <opencv2/core.hpp>

#include <vector>

namespace cp::decode {

class FrameReader {
public:
    explicit FrameReader(const DecoderOptions& opt) : opt_(opt) {}

    // A new frame: report and codes cleared.
    void start_frame();
    // The deadline the budget checks use (null: none, as for the video ROI tries).
    void set_deadline(const Deadline* deadline) { deadline_ = deadline; }

    // One ZXing run over an 8-bit gray image; valid QR results are merged with
    // corners mapped back through `xf`. Returns the number of new (not yet
    // seen) codes. With `place`, the image is a code drawn by the grid sampler
    // (ZXing's pure-image mode) and `place` its corners in the frame.
    int run(const cv::Mat& gray, const Xform& xf, const char* stage, bool pyramid = true, bool global = false,
            const Quad* place = nullptr);
    // Decodes a square crop of the full-resolution frame around a proposal,
    // scaled so the code spans about region_side pixels; then the global
    // threshold and local equalisation on the crop. Returns codes added.
    int run_region(const cv::Mat& gray, Point c, double half_side);

    bool any_found() const;
    // Whether the codes read so far leave room for more codes worth a search.
    bool room_for_more(const cv::Mat& frame) const;
    bool covered(Point p) const;
    // The longest first side of the codes read (0: none).
    float largest_side() const;
    // The codes read, conflicts dropped; clears them.
    std::vector<Code> take();

    // Whether a try over `try_mpx` megapixels (and its preparation) fits in what
    // is left of the budget. The first try of a frame always runs.
    bool affordable(double try_mpx);
    // Whether work estimated at `cost_ms` fits in the budget left.
    bool deadline_fits(double cost_ms);
    // The fraction of a try over `try_mpx` megapixels that fits in the budget
    // left (>= 1: all of it).
    double deadline_left_fraction(const Deadline& dl, double try_mpx) const;
    void note_skip() {
        ++report.skipped;
        report.budget_hit = true;
    }

    const DecoderOptions& opt() const { return opt_; }
    DecodeReport report;
    // ZXing time per megapixel (with pyramid: ~1.1x the pixels) and finder
    // search time per megapixel, learned across frames.
    CostRate zxing_rate{30.0};
    CostRate search_rate{20.0};
    // Grid sampler time per 10^5 modules (a version 40 code has 31 329).
    CostRate grid_rate{150.0};

private:
    struct Found {
        Code code;
        int votes = 1;
        bool conflict = false;
    };
    bool merge(Code c);

    const DecoderOptions& opt_;
    std::vector<Found> found_;
    const Deadline* deadline_ = nullptr;  // of the frame being decoded
};

}  // namespace cp::decode
