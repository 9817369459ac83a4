#include "src/decode/stages.hpp"

#include "src/decode/grid.hpp"
#include "src/decode/preprocess.hpp"
#include "src/decode/regions.hpp"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <vector>

namespace cp::decode {

namespace {

// What a whole-frame stage tries: an image and its mapping back to the frame.
// An empty image skips the try (nothing to gain).
struct Try {
    cv::Mat image;
    Xform xf;
};

// When a whole-frame stage runs, besides its option and the budget.
enum class When {
    always,
    unread_finder,  // a finder pattern lies outside every code read
    small_work,     // the working image's long side is under 1000 px
    reduced,        // the working image is much smaller than the frame (scale > 1.4)
};

// How a stage asks the budget.
enum class Gate {
    more,          // no code read yet, or a likely code unread; and the try fits
    more_or_room,  // as `more`, or the frame has room for codes beside those read
};

// One row of the whole-frame table.
struct FrameStage {
    const char* name;                   // Code::stage of what it reads
    bool DecoderOptions::*option;       // switched off by this option
    When when;
    Gate gate;
    bool on_frame;                      // cost from the full frame, else from the working image
    double cost;                        // megapixels of one try, a multiple of that image's
    int tries;                          // variants; the first that is not affordable ends the stage
    bool pyramid;                       // ZXing's own downscale pyramid
    bool global;                        // ZXing's global-histogram binariser
    Try (*make)(const cv::Mat& work, const Xform& wx, const cv::Mat& gray, int i);
};

// Whole-frame variants after the crops around likely codes, in order. The
// dearer ones that only help particular conditions run only when a finder
// pattern is still unread.
const FrameStage kFrameStages[] = {
    // Dim screens and faded prints: a global stretch first (the binariser
    // treats blocks of low range as flat), then local equalisation.
    {"stretch", &DecoderOptions::contrast, When::always, Gate::more, false, 1.0, 1, true, false,
     [](const cv::Mat& w, const Xform& wx, const cv::Mat&, int) { return Try{stretched(w), wx}; }},
    {"clahe", &DecoderOptions::contrast, When::always, Gate::more, false, 1.1, 1, true, false,
     [](const cv::Mat& w, const Xform& wx, const cv::Mat&, int) { return Try{equalised(w, 8), wx}; }},
    // Evenly lit codes whose fine modules defeat the local-average binariser.
    {"global", &DecoderOptions::global_threshold, When::unread_finder, Gate::more, false, 1.1, 1, true, true,
     [](const cv::Mat& w, const Xform& wx, const cv::Mat&, int) { return Try{w, wx}; }},
    {"smooth", &DecoderOptions::smooth, When::always, Gate::more, false, 1.1, 1, true, false,
     [](const cv::Mat& w, const Xform& wx, const cv::Mat&, int) { return Try{smoothed(w), wx}; }},
    {"sharpen", &DecoderOptions::sharpen, When::always, Gate::more, false, 1.2, 1, true, false,
     [](const cv::Mat& w, const Xform& wx, const cv::Mat&, int) { return Try{sharpened(w), wx}; }},
    // Codes that fill the frame: ZXing's factor-3 pyramid skips 1/2.
    {"half", &DecoderOptions::multiscale, When::always, Gate::more, false, 0.25, 1, false, false,
     [](const cv::Mat& w, const Xform& wx, const cv::Mat&, int) {
         return Try{resized(w, 0.5), Xform{wx.scale * 2.0, 0, 0}};
     }},
    // Small frames: module size below ~2 px defeats the binariser.
    {"double", &DecoderOptions::multiscale, When::small_work, Gate::more, false, 4.0, 1, false, false,
     [](const cv::Mat& w, const Xform& wx, const cv::Mat&, int) {
         return Try{resized(w, 2.0), Xform{wx.scale * 0.5, 0, 0}};
     }},
    {"inverted", &DecoderOptions::inverted, When::always, Gate::more, false, 1.1, 1, true, false,
     [](const cv::Mat& w, const Xform& wx, const cv::Mat&, int) { return Try{inverted(w), wx}; }},
    // Steep angles: the foreshortened axis stretched, the other shrunk (x by
    // sqrt 2 then by sqrt 1/2).
    {"aspect", &DecoderOptions::aspect, When::unread_finder, Gate::more, false, 1.0, 2, true, false,
     [](const cv::Mat& w, const Xform& wx, const cv::Mat&, int i) {
         const double a = i == 0 ? std::sqrt(2.0) : std::sqrt(0.5);
         return Try{aspect_changed(w, a), Xform{wx.scale, wx.ox, wx.oy, 1.0 / a, a}};
     }},
    // Full resolution: small codes in big frames lose their modules in the
    // working image. Dear, so last, and only where it adds much detail.
    {"full", &DecoderOptions::full_resolution, When::reduced, Gate::more_or_room, true, 1.1, 1, true, false,
     [](const cv::Mat&, const Xform&, const cv::Mat& g, int) { return Try{g, Xform{}}; }},
};

// One frame through the stages.
class Pass {
public:
    Pass(FrameReader& reader, const cv::Mat& gray, const Deadline& dl, std::optional<Quad>& hint)
        : r_(reader), opt_(reader.opt()), report_(reader.report), gray_(gray), dl_(dl), hint_(hint) {}

    // A step of the pipeline; false ends the frame.
    using Step = bool (Pass::*)();
    bool working();
    bool quick();
    bool plain();
    bool finders();
    bool regions();
    bool variants();
    bool lone();
    bool grid();

    void finish() { report_.ms_rest += lap(); }

private:
    // Whether a try over `try_mpx` megapixels may start.
    bool may(double try_mpx) {
        if (opt_.stop_at_first && r_.any_found()) return false;
        if (dl_.spent()) {
            report_.budget_hit = true;
            return false;
        }
        return r_.affordable(try_mpx);
    }
    bool unread_triples() const {
        return std::any_of(proposals_.begin(), proposals_.end(),
                           [&](const Region& r) { return r.triple && !r_.covered(px_.apply(r.cx, r.cy)); });
    }
    // Whether a further try is worth it (nothing read, or a likely code
    // unread) and may start.
    bool more(double try_mpx) { return (!r_.any_found() || unread_triples()) && may(try_mpx); }
    bool applies(When w) const;
    bool gate(const FrameStage& s);
    void run_stage(const FrameStage& s);
    // Crops around the proposals of one kind (triples or lone patterns), up to max_regions in all.
    void crops(bool triples);
    double lap() {
        const auto now = std::chrono::steady_clock::now();
        const double ms = std::chrono::duration<double, std::milli>(now - lap_).count();
        lap_ = now;
        return ms;
    }

    FrameReader& r_;
    const DecoderOptions& opt_;
    DecodeReport& report_;
    const cv::Mat& gray_;
    const Deadline& dl_;
    std::optional<Quad>& hint_;
    std::chrono::steady_clock::time_point lap_ = std::chrono::steady_clock::now();

    cv::Mat work_;  // the working image and its mapping to the frame
    Xform wx_;
    double work_mpx_ = 0;
    bool quick_read_ = false;
    std::vector<Region> proposals_;  // finder search results and their mapping to the frame
    Xform px_;
    bool room_ = false;           // codes read at the search left room for more
    bool unread_finder_ = false;  // a finder pattern outside every code read at the search
    int decoded_ = 0;             // region crops decoded
};

// The pipeline: each step runs when its own conditions hold; a step that
// returns false ends the frame (a code read with stop_at_first, the budget spent,
// nothing left worth a try).
const Pass::Step kSteps[] = {&Pass::working, &Pass::quick,    &Pass::plain, &Pass::finders,
                             &Pass::regions, &Pass::variants, &Pass::lone,  &Pass::grid};

// Working image: big photographs are reduced once; ZXing's own pyramid
// (factor 3) then covers the coarse scales. A frame a little above the working
// size (720p video) is used as is: the resize would cost more than it saves.
bool Pass::working() {
    work_ = gray_;
    if (opt_.rescale && long_side(gray_) > opt_.work_long_side * 5 / 4) {
        const double f = static_cast<double>(opt_.work_long_side) / long_side(gray_);
        work_ = area_reduced(gray_, f);
        wx_.scale = 1.0 / f;
    }
    work_mpx_ = mpx(work_);
    return true;
}

// A quick look at a reduced copy first: a code held up to the camera has
// modules large enough to survive it, and costs a quarter of the time.
bool Pass::quick() {
    if (opt_.quick_long_side > 0 && long_side(work_) * 2 >= opt_.quick_long_side * 3) {
        const double f = static_cast<double>(opt_.quick_long_side) / long_side(work_);
        quick_read_ = r_.run(resized(work_, f), Xform{wx_.scale / f, 0, 0}, "quick", false) > 0;
    }
    return true;
}

bool Pass::plain() {
    // A still image wants every code: when the quick read leaves no room for
    // the finder search (big codes), a neighbour it missed is found only by
    // the full-size try.
    if ((!quick_read_ || !r_.room_for_more(gray_)) && !(opt_.stop_at_first && quick_read_)) {
        // Under a tight budget the full-size try is shrunk to what fits
        // (its cost goes with the pixel count), rather than skipped.
        const double fit = r_.deadline_left_fraction(dl_, work_mpx_ * 1.1);
        if (fit >= 1.0 && may(work_mpx_ * 1.1)) {
            r_.run(work_, wx_, "plain");
        } else if (opt_.quick_long_side > 0 && std::sqrt(fit) * long_side(work_) >= 1.25 * opt_.quick_long_side &&
                   !dl_.spent()) {
            const double f = std::sqrt(fit);
            r_.run(resized(work_, f), Xform{wx_.scale / f, 0, 0}, "plain", false);
        } else {
            may(work_mpx_ * 1.1);  // counts the skip
        }
    }
    report_.ms_plain = lap();
    return may(0);
}

// Finder patterns tell whether codes remain unread after a first read, and
// where small ones are that the whole-frame tries miss. After a read, the
// search runs at the scale where that code spans ~64 px (others are likely
// alike), which is cheap on big frames.
bool Pass::finders() {
    // Codes already read that cover much of the frame leave no room for
    // others worth the search.
    room_ = r_.room_for_more(gray_);
    double search_f = 1.0;
    if (opt_.regions && room_) {
        double f = std::min(1.0, static_cast<double>(opt_.proposal_long_side) / long_side(gray_));
        const float side = r_.largest_side();
        // Not below recheck_long_side: codes of other sizes may sit beside the one read.
        if (side > 0) f = std::min(f, std::max(64.0 / side, opt_.recheck_long_side / long_side(gray_)));
        search_f = f;
    }
    const double search_mpx = mpx(gray_) * search_f * search_f;
    if (opt_.regions && room_ && dl_.fits(r_.search_rate.estimate(search_mpx))) {
        const auto t0 = std::chrono::steady_clock::now();
        // Bilinear, not area-averaged: it keeps the edges of small finder
        // patterns sharp (area averaging blurs them into the threshold's
        // noise: 6 codes fewer on sheets of small codes) and costs a
        // fraction of the time.
        cv::Mat pimg = gray_;
        if (search_f < 1.0) cv::resize(gray_, pimg, cv::Size(), search_f, search_f, cv::INTER_LINEAR);
        px_.scale = 1.0 / search_f;
        proposals_ = propose_regions(pimg, opt_.max_regions * 2);
        r_.search_rate.observe(ms_since(t0), search_mpx);
    } else if (opt_.regions && room_) {
        r_.note_skip();
    }
    report_.ms_proposals = lap();
    // Evidence of an unread code: a finder pattern (alone or in a triple)
    // outside every code read.
    unread_finder_ = std::any_of(proposals_.begin(), proposals_.end(),
                                 [&](const Region& r) { return !r_.covered(px_.apply(r.cx, r.cy)); });
    return more(0);
}

void Pass::crops(bool triples) {
    for (const auto& r : proposals_) {
        if (r.triple != triples || decoded_ >= opt_.max_regions || !(triples ? may(0) : more(0))) continue;
        const Point c = px_.apply(r.cx, r.cy);
        if (r_.covered(c)) continue;
        ++decoded_;
        r_.run_region(gray_, c, r.half * px_.scale);
    }
}

// Likely codes (three finders): a crop is cheap and keeps detail.
bool Pass::regions() {
    crops(true);
    report_.ms_regions = lap();
    // For the next video frame: where a code probably is, though unread yet.
    for (const auto& r : proposals_) {
        if (!r.triple || r_.covered(px_.apply(r.cx, r.cy))) continue;
        hint_ = square_around(px_.apply(r.cx, r.cy), static_cast<float>(r.half * px_.scale));
        break;
    }
    return true;
}

bool Pass::applies(When w) const {
    switch (w) {
    case When::always: return true;
    case When::unread_finder: return unread_finder_;
    case When::small_work: return long_side(work_) < 1000;
    case When::reduced: return wx_.scale > 1.4;
    }
    return false;
}

bool Pass::gate(const FrameStage& s) {
    const double m = (s.on_frame ? mpx(gray_) : work_mpx_) * s.cost;
    switch (s.gate) {
    case Gate::more: return more(m);
    case Gate::more_or_room: return more(m) || (room_ && may(m));
    }
    return false;
}

void Pass::run_stage(const FrameStage& s) {
    for (int i = 0; i < s.tries; ++i) {
        if (!(opt_.*s.option) || !applies(s.when) || !gate(s)) break;
        const Try t = s.make(work_, wx_, gray_, i);
        if (!t.image.empty()) r_.run(t.image, t.xf, s.name, s.pyramid, s.global);
    }
}

bool Pass::variants() {
    for (const auto& s : kFrameStages) run_stage(s);
    return true;
}

// Lone finder patterns: the code lies somewhere around it.
bool Pass::lone() {
    crops(false);
    return true;
}

// Large codes on bent paper: ZXing's one-transform sampling drifts over so
// many modules, so codes whose finder spacing says a high version, still
// unread after every other try, are sampled by our own grid
// (src/decode/grid.hpp) for the likely versions.
bool Pass::grid() {
    for (const auto& r : proposals_) {
        if (!opt_.grid_sampler || !r.triple || !more(0)) continue;
        if (r_.covered(px_.apply(r.cx, r.cy))) continue;
        auto at = [&](cv::Point2f p) {
            const Point q = px_.apply(p.x, p.y);
            return cv::Point2f(q.x, q.y);
        };
        const FinderTriple t{at(r.corner), at(r.a), at(r.b), static_cast<float>(r.module * px_.scale)};
        auto versions = likely_versions(t, 2);
        if (versions.empty() || versions.front() < opt_.grid_min_version) continue;
        std::vector<int> tried;
        for (std::size_t i = 0; i < versions.size(); ++i) {
            const int v = versions[i];
            if (std::find(tried.begin(), tried.end(), v) != tried.end()) continue;
            tried.push_back(v);
            const double units = grid_units(v);
            if (!may(0) || !r_.deadline_fits(r_.grid_rate.estimate(units))) break;
            const auto t0 = std::chrono::steady_clock::now();
            const SampledCode sc = sample_grid(gray_, t, v);
            if (sc.image.empty()) {
                // The code's own version information names another version: that one next.
                if (sc.version_read > 0 && std::find(tried.begin(), tried.end(), sc.version_read) == tried.end())
                    versions.insert(versions.begin() + static_cast<std::ptrdiff_t>(i) + 1, sc.version_read);
                continue;
            }
            // Only whole samplings teach the rate (a wrong version is refused early).
            r_.grid_rate.observe(ms_since(t0), units);
            Quad q;
            for (std::size_t k = 0; k < 4; ++k) q[k] = {sc.corners[k].x, sc.corners[k].y};
            if (r_.run(sc.image, Xform{}, "grid", false, false, &q) > 0) break;
        }
    }
    return true;
}

}  // namespace

void run_pipeline(FrameReader& reader, const cv::Mat& gray, const Deadline& dl, std::optional<Quad>& hint) {
    reader.set_deadline(&dl);
    struct Forget {
        FrameReader& r;
        ~Forget() { r.set_deadline(nullptr); }
    } forget{reader};
    Pass pass(reader, gray, dl, hint);
    struct Rest {
        Pass& p;
        ~Rest() { p.finish(); }
    } rest{pass};
    for (const Pass::Step step : kSteps)
        if (!(pass.*step)()) return;
}

}  // namespace cp::decode
