// QrDecoder: ZXing-cpp for the symbol itself, OpenCV for what ZXing lacks
// (contrast normalisation, scales, sharpening, inversion, region proposals).
// docs/decoding.md explains each stage and the measurements behind it.
#define ZX_USE_UTF8 1
#include "src/decode/decoder.hpp"

#include "src/common/log.hpp"
#include "src/common/time.hpp"
#include "src/decode/grid.hpp"
#include "src/decode/regions.hpp"

#include <ZXing/ReadBarcode.h>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <exception>
#include <filesystem>
#include <optional>
#include <utility>

namespace cp::decode {

namespace {

using Quad = std::array<Point, 4>;

// Maps working-image pixels back to the original frame:
// orig = (work * (ax, ay)) * scale + offset; ax, ay undo an aspect change.
struct Xform {
    double scale = 1.0;
    double ox = 0.0;
    double oy = 0.0;
    double ax = 1.0;
    double ay = 1.0;
    Point apply(double x, double y) const {
        return {static_cast<float>(x * ax * scale + ox), static_cast<float>(y * ay * scale + oy)};
    }
};

Point centre(const Quad& q) {
    float x = 0, y = 0;
    for (const auto& p : q) {
        x += p.x;
        y += p.y;
    }
    return {x / 4.0f, y / 4.0f};
}

// Point in convex-or-not quadrilateral by the even-odd rule.
bool inside(const Quad& q, Point p) {
    bool in = false;
    for (std::size_t i = 0, j = 3; i < 4; j = i++) {
        const Point a = q[i], b = q[j];
        if ((a.y > p.y) != (b.y > p.y)) {
            const float x = (b.x - a.x) * (p.y - a.y) / (b.y - a.y) + a.x;
            if (p.x < x) in = !in;
        }
    }
    return in;
}

double quad_area(const Quad& q) {
    double a = 0;
    for (std::size_t i = 0, j = 3; i < 4; j = i++) a += static_cast<double>(q[j].x) * q[i].y - static_cast<double>(q[i].x) * q[j].y;
    return std::fabs(a) / 2;
}

bool overlaps(const Quad& a, const Quad& b) { return inside(a, centre(b)) || inside(b, centre(a)); }

struct Found {
    Code code;
    int votes = 1;
    bool conflict = false;
};

class Deadline {
public:
    explicit Deadline(int budget_ms) : budget_ms_(budget_ms), start_(std::chrono::steady_clock::now()) {}
    bool spent() const { return budget_ms_ > 0 && elapsed_ms() >= budget_ms_; }
    // Whether work estimated at `cost_ms` would end within the budget.
    bool fits(double cost_ms) const { return budget_ms_ <= 0 || elapsed_ms() + cost_ms <= budget_ms_; }
    double left_ms() const { return budget_ms_ - elapsed_ms(); }  // meaningful only with a budget
    double elapsed_ms() const {
        return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_).count();
    }

private:
    int budget_ms_;
    std::chrono::steady_clock::time_point start_;
};

ZXing::DecodeHints qr_hints(bool pyramid, bool global) {
    ZXing::DecodeHints h;
    h.setBinarizer(global ? ZXing::Binarizer::GlobalHistogram : ZXing::Binarizer::LocalAverage);
    h.setFormats(ZXing::BarcodeFormat::QRCode);
    h.setTryHarder(true);
    h.setTryRotate(false);  // rotation only matters to 1D readers
    h.setTryDownscale(pyramid);
    return h;
}

int long_side(const cv::Mat& m) { return std::max(m.cols, m.rows); }
double mpx(const cv::Mat& m) { return static_cast<double>(m.cols) * m.rows / 1e6; }

// Cost of a kind of work per unit (a megapixel, for the grid sampler 10^5
// modules), learned from the work done: the
// estimate of the next step's time before it starts. Starts pessimistic so the
// first frames do not overrun while it learns; follows changes of load within
// a few frames.
class CostRate {
public:
    explicit CostRate(double ms_per_mpx) : rate_(ms_per_mpx) {}
    double estimate(double mpx) const { return rate_ * mpx; }
    void observe(double ms, double mpx) {
        if (mpx < 0.02) return;  // tiny images: fixed overhead, not a rate
        const double r = ms / mpx;
        // Up quickly (an overrun costs a frame), down slowly.
        rate_ += (r > rate_ ? 0.5 : 0.1) * (r - rate_);
    }

private:
    double rate_;
};

cv::Mat resized(const cv::Mat& src, double f) {
    cv::Mat out;
    cv::resize(src, out, cv::Size(), f, f, f < 1.0 ? cv::INTER_AREA : cv::INTER_LINEAR);
    return out;
}

// The frame reduced by f (< 1), area-averaged, sized as cv::resize sizes it.
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

// Maps the 1st..99th percentile of grey levels onto 0..255. Empty when the
// frame already spans most of the range (nothing to gain).
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

}  // namespace

struct QrDecoder::Impl {
    DecoderOptions opt;
    DecodeReport report;
    std::vector<Found> found;
    std::optional<Quad> last_quad;
    std::optional<Quad> hint;  // a likely but unread code in the last frame
    int frames_since_seen = 0;
    // ZXing time per megapixel (with pyramid: ~1.1x the pixels) and finder
    // search time per megapixel, learned across frames.
    CostRate zxing_rate{30.0};
    CostRate search_rate{20.0};
    // Grid sampler time per 10^5 modules (a version 40 code has 31 329), which
    // its local fits and pattern searches are proportional to.
    CostRate grid_rate{150.0};
    static double grid_units(int version) {
        const double n = 17.0 + 4.0 * version;
        return n * n / 1e5;
    }
    bool deadline_fits(double cost_ms) {
        if (!deadline || deadline->fits(cost_ms)) return true;
        ++report.skipped;
        report.budget_hit = true;
        return false;
    }
    const Deadline* deadline = nullptr;  // of the frame being decoded

    // Whether a try over `mpx` megapixels (and its preparation) fits in what is
    // left of the budget. The first try of a frame always runs.
    bool affordable(double try_mpx) {
        if (report.tries == 0 || !deadline || deadline->fits(zxing_rate.estimate(try_mpx))) return true;
        ++report.skipped;
        report.budget_hit = true;
        return false;
    }

    // The fraction of a try over `try_mpx` megapixels that fits in the budget
    // left (>= 1: all of it).
    double deadline_left_fraction(const Deadline& dl, double try_mpx) const {
        const double cost = zxing_rate.estimate(try_mpx);
        return dl.fits(cost) ? 1.0 : std::max(0.0, dl.left_ms()) / cost;
    }

    // One ZXing run over an 8-bit gray image; valid QR results are merged.
    // Returns the number of new (not yet seen) codes. With `place`, the image
    // is a code drawn by the grid sampler (ZXing's pure-image mode) and `place`
    // its corners in the frame.
    int run(const cv::Mat& gray, const Xform& xf, const char* stage, bool pyramid = true, bool global = false,
            const Quad* place = nullptr) {
        ++report.tries;
        ZXing::ImageView iv(gray.data, gray.cols, gray.rows, ZXing::ImageFormat::Lum,
                            static_cast<int>(gray.step[0]));
        ZXing::Results rs;
        const auto t0 = std::chrono::steady_clock::now();
        try {
            rs = ZXing::ReadBarcodes(iv, qr_hints(pyramid, global).setIsPure(place != nullptr));
        } catch (const std::exception& e) {
            log::warn("decode", "zxing failed", {{"stage", stage}, {"what", e.what()}});
            return 0;
        }
        zxing_rate.observe(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count(),
                           mpx(gray));
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

    // Dedups by position: the same text at an overlapping position is one code;
    // different texts at one position are a conflict and neither is reported.
    bool merge(Code c) {
        for (auto& f : found) {
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
        found.push_back(Found{std::move(c), 1, false});
        return true;
    }

    bool any_found() const {
        return std::any_of(found.begin(), found.end(), [](const Found& f) { return !f.conflict; });
    }

    // Whether the codes read so far leave room for more codes worth a search.
    bool room_for_more(const cv::Mat& frame) const {
        double covered_area = 0;
        for (const auto& fd : found) covered_area += quad_area(fd.code.corners);
        return covered_area < opt.room_for_more * static_cast<double>(frame.cols) * frame.rows;
    }

    bool covered(Point p) const {
        return std::any_of(found.begin(), found.end(), [&](const Found& f) { return inside(f.code.corners, p); });
    }

    std::vector<Code> take() {
        std::vector<Code> out;
        for (auto& f : found)
            if (!f.conflict) out.push_back(std::move(f.code));
        found.clear();
        return out;
    }

    // Decodes a square crop of the full-resolution frame around a proposal,
    // scaled so the code spans a few hundred pixels. Returns codes added.
    int run_region(const cv::Mat& gray, Point c, double half_side) {
        cv::Rect box(static_cast<int>(c.x - half_side), static_cast<int>(c.y - half_side),
                     static_cast<int>(2 * half_side), static_cast<int>(2 * half_side));
        box &= cv::Rect(0, 0, gray.cols, gray.rows);
        if (box.width < 16 || box.height < 16) return 0;
        const double f = std::clamp(opt.region_side / std::max(box.width, box.height), 0.25, 4.0);
        const double crop_mpx = box.width * f * box.height * f / 1e6;
        if (!affordable(crop_mpx)) return 0;
        ++report.regions;
        cv::Mat scaled = resized(gray(box), f);
        const Xform rx{1.0 / f, static_cast<double>(box.x), static_cast<double>(box.y)};
        int n = run(scaled, rx, "region", false);
        if (n == 0 && opt.global_threshold && affordable(crop_mpx)) n = run(scaled, rx, "region-global", false, true);
        if (n > 0 || !opt.contrast || !affordable(crop_mpx)) return n;
        cv::Mat eq;
        cv::createCLAHE(2.5, cv::Size(4, 4))->apply(scaled, eq);
        return run(eq, rx, "region", false);
    }

    // The still-image pipeline. `gray` is the full-resolution frame.
    void pipeline(const cv::Mat& gray, const Deadline& dl) {
        deadline = &dl;
        struct Forget {
            const Deadline*& d;
            ~Forget() { d = nullptr; }
        } forget{deadline};
        // Whether a try over `try_mpx` megapixels may start.
        auto may = [&](double try_mpx) {
            if (opt.stop_at_first && any_found()) return false;
            if (dl.spent()) {
                report.budget_hit = true;
                return false;
            }
            return affordable(try_mpx);
        };

        // Working image: big photographs are reduced once; ZXing's own pyramid
        // (factor 3) then covers the coarse scales.
        auto lap = [t = std::chrono::steady_clock::now()]() mutable {
            const auto now = std::chrono::steady_clock::now();
            const double ms = std::chrono::duration<double, std::milli>(now - t).count();
            t = now;
            return ms;
        };
        cv::Mat work = gray;
        Xform wx;
        // A frame a little above the working size (720p video) is used as is:
        // the resize would cost more than it saves.
        if (opt.rescale && long_side(gray) > opt.work_long_side * 5 / 4) {
            const double f = static_cast<double>(opt.work_long_side) / long_side(gray);
            work = area_reduced(gray, f);
            wx.scale = 1.0 / f;
        }
        struct RestTimer {
            decltype(lap)& l;
            double& into;
            ~RestTimer() { into += l(); }
        } rest{lap, report.ms_rest};
        const double work_mpx = mpx(work);
        // A quick look at a reduced copy first: a code held up to the camera has
        // modules large enough to survive it, and costs a quarter of the time.
        bool quick_read = false;
        if (opt.quick_long_side > 0 && long_side(work) * 2 >= opt.quick_long_side * 3) {
            const double f = static_cast<double>(opt.quick_long_side) / long_side(work);
            quick_read = run(resized(work, f), Xform{wx.scale / f, 0, 0}, "quick", false) > 0;
        }
        // A still image wants every code: when the quick read leaves no room for
        // the finder search (big codes), a neighbour it missed is found only by
        // the full-size try.
        if ((!quick_read || !room_for_more(gray)) && !(opt.stop_at_first && quick_read)) {
            // Under a tight budget the full-size try is shrunk to what fits
            // (its cost goes with the pixel count), rather than skipped.
            const double fit = deadline_left_fraction(dl, work_mpx * 1.1);
            if (fit >= 1.0 && may(work_mpx * 1.1)) {
                run(work, wx, "plain");
            } else if (opt.quick_long_side > 0 && std::sqrt(fit) * long_side(work) >= 1.25 * opt.quick_long_side &&
                       !dl.spent()) {
                const double f = std::sqrt(fit);
                run(resized(work, f), Xform{wx.scale / f, 0, 0}, "plain", false);
            } else {
                may(work_mpx * 1.1);  // counts the skip
            }
        }
        report.ms_plain = lap();
        if (!may(0)) return;

        // Finder patterns tell whether codes remain unread after a first read,
        // and where small ones are that the whole-frame tries miss. After a
        // read, the search runs at the scale where that code spans ~64 px
        // (others are likely alike), which is cheap on big frames.
        std::vector<Region> proposals;
        Xform px;
        // Codes already read that cover much of the frame leave no room for
        // others worth the search.
        const bool room = room_for_more(gray);
        double search_f = 1.0;
        if (opt.regions && room) {
            double f = std::min(1.0, static_cast<double>(opt.proposal_long_side) / long_side(gray));
            float side = 0;
            for (const auto& fd : found) {
                const auto& q = fd.code.corners;
                side = std::max(side, std::hypot(q[0].x - q[1].x, q[0].y - q[1].y));
            }
            // Not below recheck_long_side: codes of other sizes may sit beside the one read.
            if (side > 0) f = std::min(f, std::max(64.0 / side, opt.recheck_long_side / long_side(gray)));
            search_f = f;
        }
        const double search_mpx = mpx(gray) * search_f * search_f;
        if (opt.regions && room && dl.fits(search_rate.estimate(search_mpx))) {
            const auto t0 = std::chrono::steady_clock::now();
            // Bilinear, not area-averaged: it keeps the edges of small finder
            // patterns sharp (area averaging blurs them into the threshold's
            // noise: 6 codes fewer on sheets of small codes) and costs a
            // fraction of the time.
            cv::Mat pimg = gray;
            if (search_f < 1.0) cv::resize(gray, pimg, cv::Size(), search_f, search_f, cv::INTER_LINEAR);
            px.scale = 1.0 / search_f;
            proposals = propose_regions(pimg, opt.max_regions * 2);
            search_rate.observe(
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count(), search_mpx);
        } else if (opt.regions && room) {
            ++report.skipped;
            report.budget_hit = true;
        }
        report.ms_proposals = lap();
        auto unread_triples = [&] {
            return std::any_of(proposals.begin(), proposals.end(),
                               [&](const Region& r) { return r.triple && !covered(px.apply(r.cx, r.cy)); });
        };
        auto more = [&](double try_mpx) { return (!any_found() || unread_triples()) && may(try_mpx); };
        // Evidence of an unread code: a finder pattern (alone or in a triple)
        // outside every code read. The dearer whole-frame tries that only help
        // particular conditions run only then.
        const bool unread_finder = std::any_of(proposals.begin(), proposals.end(), [&](const Region& r) {
            return !covered(px.apply(r.cx, r.cy));
        });
        if (!more(0)) return;

        // Likely codes (three finders): a crop is cheap and keeps detail.
        int decoded = 0;
        for (const auto& r : proposals) {
            if (!r.triple || decoded >= opt.max_regions || !may(0)) continue;
            const Point c = px.apply(r.cx, r.cy);
            if (covered(c)) continue;
            ++decoded;
            run_region(gray, c, r.half * px.scale);
        }
        report.ms_regions = lap();
        // For the next video frame: where a code probably is, though unread yet.
        for (const auto& r : proposals) {
            if (!r.triple || covered(px.apply(r.cx, r.cy))) continue;
            const Point c = px.apply(r.cx, r.cy);
            const auto h = static_cast<float>(r.half * px.scale);
            hint = Quad{Point{c.x - h, c.y - h}, Point{c.x + h, c.y - h}, Point{c.x + h, c.y + h}, Point{c.x - h, c.y + h}};
            break;
        }

        if (opt.contrast && more(work_mpx)) {
            // Dim screens and faded prints: a global stretch first (the binariser
            // treats blocks of low range as flat), then local equalisation.
            cv::Mat st = stretched(work);
            if (!st.empty()) run(st, wx, "stretch");
        }
        if (opt.contrast && more(work_mpx * 1.1)) {
            cv::Mat eq;
            cv::createCLAHE(2.5, cv::Size(8, 8))->apply(work, eq);
            run(eq, wx, "clahe");
        }
        if (opt.global_threshold && unread_finder && more(work_mpx * 1.1)) run(work, wx, "global", true, true);
        if (opt.smooth && more(work_mpx * 1.1)) {
            cv::Mat sm;
            cv::GaussianBlur(work, sm, cv::Size(5, 5), 0);
            run(sm, wx, "smooth");
        }
        if (opt.sharpen && more(work_mpx * 1.2)) {
            cv::Mat bl, sh;
            cv::GaussianBlur(work, bl, cv::Size(0, 0), 2.0);
            cv::addWeighted(work, 2.0, bl, -1.0, 0, sh);
            run(sh, wx, "sharpen");
        }
        if (opt.multiscale && more(work_mpx / 4)) {
            // Codes that fill the frame: ZXing's factor-3 pyramid skips 1/2.
            run(resized(work, 0.5), Xform{wx.scale * 2.0, 0, 0}, "half", false);
        }
        if (opt.multiscale && long_side(work) < 1000 && more(work_mpx * 4)) {
            // Small frames: module size below ~2 px defeats the binariser.
            run(resized(work, 2.0), Xform{wx.scale * 0.5, 0, 0}, "double", false);
        }
        if (opt.inverted && more(work_mpx * 1.1)) {
            cv::Mat inv;
            cv::bitwise_not(work, inv);
            run(inv, wx, "inverted");
        }
        // Steep angles: the foreshortened axis stretched, the other shrunk.
        for (const double a : {std::sqrt(2.0), std::sqrt(0.5)}) {
            if (!opt.aspect || !unread_finder || !more(work_mpx)) break;
            cv::Mat as;
            cv::resize(work, as, cv::Size(), a, 1.0 / a, cv::INTER_LINEAR);
            run(as, Xform{wx.scale, wx.ox, wx.oy, 1.0 / a, a}, "aspect");
        }
        // Full resolution: small codes in big frames lose their modules in the
        // working image. Dear, so last, and only where it adds much detail.
        if (opt.full_resolution && wx.scale > 1.4 && (more(mpx(gray) * 1.1) || (room && may(mpx(gray) * 1.1)))) {
            run(gray, Xform{}, "full");
        }
        // Lone finder patterns: the code lies somewhere around it.
        for (const auto& r : proposals) {
            if (r.triple || decoded >= opt.max_regions || !more(0)) continue;
            const Point c = px.apply(r.cx, r.cy);
            if (covered(c)) continue;
            ++decoded;
            run_region(gray, c, r.half * px.scale);
        }
        // Large codes on bent paper: ZXing's one-transform sampling drifts
        // over so many modules, so codes whose finder spacing says a high
        // version, still unread after every other try, are sampled by our
        // own grid (src/decode/grid.hpp) for the likely versions.
        for (const auto& r : proposals) {
            if (!opt.grid_sampler || !r.triple || !more(0)) continue;
            if (covered(px.apply(r.cx, r.cy))) continue;
            auto at = [&](cv::Point2f p) {
                const Point q = px.apply(p.x, p.y);
                return cv::Point2f(q.x, q.y);
            };
            const FinderTriple t{at(r.corner), at(r.a), at(r.b), static_cast<float>(r.module * px.scale)};
            auto versions = likely_versions(t, 2);
            if (versions.empty() || versions.front() < opt.grid_min_version) continue;
            std::vector<int> tried;
            for (std::size_t i = 0; i < versions.size(); ++i) {
                const int v = versions[i];
                if (std::find(tried.begin(), tried.end(), v) != tried.end()) continue;
                tried.push_back(v);
                const double units = grid_units(v);
                if (!may(0) || !deadline_fits(grid_rate.estimate(units))) break;
                const auto t0 = std::chrono::steady_clock::now();
                const SampledCode sc = sample_grid(gray, t, v);
                if (sc.image.empty()) {
                    // The code's own version information names another version: that one next.
                    if (sc.version_read > 0 && std::find(tried.begin(), tried.end(), sc.version_read) == tried.end())
                        versions.insert(versions.begin() + static_cast<std::ptrdiff_t>(i) + 1, sc.version_read);
                    continue;
                }
                // Only whole samplings teach the rate (a wrong version is refused early).
                grid_rate.observe(
                    std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count(), units);
                Quad q;
                for (std::size_t k = 0; k < 4; ++k) q[k] = {sc.corners[k].x, sc.corners[k].y};
                if (run(sc.image, Xform{}, "grid", false, false, &q) > 0) break;
            }
        }
    }
};

namespace {

// Wraps the view as an 8-bit gray Mat (a copy only for colour input).
Result<cv::Mat> to_gray(const ImageView& v, int max_side) {
    if (!v.data || v.width <= 0 || v.height <= 0)
        return fail(ErrorKind::invalid_input, "image", "empty frame");
    if (v.width > max_side || v.height > max_side)
        return fail(ErrorKind::invalid_input, "image",
                    "frame " + std::to_string(v.width) + "x" + std::to_string(v.height) + " exceeds " +
                        std::to_string(max_side));
    const int channels = v.format == PixelFormat::gray8 ? 1 : 3;
    if (v.stride < v.width * channels) return fail(ErrorKind::invalid_input, "image", "stride smaller than a row");
    // OpenCV wants a mutable pointer; the Mat is only read.
    cv::Mat m(v.height, v.width, channels == 1 ? CV_8UC1 : CV_8UC3, const_cast<std::uint8_t*>(v.data),
              static_cast<std::size_t>(v.stride));
    if (channels == 1) return m;
    cv::Mat g;
    cv::cvtColor(m, g, v.format == PixelFormat::bgr8 ? cv::COLOR_BGR2GRAY : cv::COLOR_RGB2GRAY);
    return g;
}

}  // namespace

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
const DecodeReport& QrDecoder::last_report() const { return impl_->report; }
void QrDecoder::reset_tracking() {
    impl_->last_quad.reset();
    impl_->hint.reset();
    impl_->frames_since_seen = 0;
}

Result<std::vector<Code>> QrDecoder::decode(const ImageView& frame) {
    Deadline dl(impl_->opt.budget_ms);
    impl_->report = {};
    impl_->found.clear();
    auto g = to_gray(frame, impl_->opt.max_side);
    if (!g) return fail(g.error());
    try {
        impl_->pipeline(*g, dl);
        impl_->hint.reset();  // only video frames carry a position forward
    } catch (const cv::Exception& e) {
        impl_->found.clear();
        return fail(ErrorKind::internal, "opencv", e.what());
    }
    return impl_->take();
}

Result<std::vector<Code>> QrDecoder::decode_video_frame(const ImageView& frame) {
    auto& d = *impl_;
    Deadline dl(d.opt.budget_ms);
    d.report = {};
    d.found.clear();
    auto g = to_gray(frame, d.opt.max_side);
    if (!g) return fail(g.error());
    try {
        std::optional<Quad> roi = d.last_quad ? d.last_quad : d.hint;
        d.hint.reset();
        if (d.opt.roi_reuse && roi) {
            // The code moves little between frames at 30 fps: a crop around the
            // last position (a read, or three finder patterns not yet read),
            // scaled to a comfortable size, is read in a few ms.
            const Quad& q = *roi;
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
            box &= cv::Rect(0, 0, g->cols, g->rows);
            if (box.width >= 16 && box.height >= 16) {
                double f = std::clamp(480.0 / std::max(box.width, box.height), 0.25, 2.0);
                cv::Mat crop = resized((*g)(box), f);
                const Xform rx{1.0 / f, static_cast<double>(box.x), static_cast<double>(box.y)};
                if (d.run(crop, rx, "roi", false) == 0) {
                    cv::Mat eq;
                    cv::createCLAHE(2.5, cv::Size(4, 4))->apply(crop, eq);
                    d.run(eq, rx, "roi", false);
                }
            }
        }
        if (!d.any_found()) d.pipeline(*g, dl);
    } catch (const cv::Exception& e) {
        d.found.clear();
        return fail(ErrorKind::internal, "opencv", e.what());
    }
    auto codes = d.take();
    if (!codes.empty()) {
        d.last_quad = codes.front().corners;
        d.frames_since_seen = 0;
    } else if (d.last_quad && ++d.frames_since_seen > 15) {
        // Half a second without a read: the code has left; stop paying for the ROI.
        d.last_quad.reset();
    }
    return codes;
}

}  // namespace cp::decode
