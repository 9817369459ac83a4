// QrDecoder on generated frames: text and corner positions under scale,
// rotation, low contrast, inversion, many codes; ImageView
// errors; the scoring rule the benchmark and regression test rely on.
#define ZX_USE_UTF8 1
#include "src/decode/decoder.hpp"
#include "src/decode/grid.hpp"
#include "src/decode/regions.hpp"
#include "src/decode/video_roi.hpp"
#include "tests/decode/scoring.hpp"
#include "tests/testing.hpp"

#include <ZXing/BitMatrix.h>
#include <ZXing/MultiFormatWriter.h>
#include <doctest/doctest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <cmath>
#include <string>

using namespace cp::decode;
namespace sc = cp::decode::scoring;

namespace {

// A QR symbol, 1 px per module, no quiet zone: dark = 0, light = 255.
cv::Mat symbol(const std::string& text) {
    auto bm = ZXing::MultiFormatWriter(ZXing::BarcodeFormat::QRCode).setMargin(0).encode(text, 0, 0);
    cv::Mat m(bm.height(), bm.width(), CV_8UC1);
    for (int y = 0; y < bm.height(); ++y)
        for (int x = 0; x < bm.width(); ++x) m.at<std::uint8_t>(y, x) = bm.get(x, y) ? 0 : 255;
    return m;
}

// Pastes the symbol scaled to `side` px with its top-left corner at (x, y).
// Returns the four corners in frame pixels (clockwise from top-left).
std::array<cv::Point2f, 4> paste(cv::Mat& frame, const std::string& text, int x, int y, int side) {
    cv::Mat s;
    cv::resize(symbol(text), s, cv::Size(side, side), 0, 0, cv::INTER_NEAREST);
    s.copyTo(frame(cv::Rect(x, y, side, side)));
    const auto fx = static_cast<float>(x), fy = static_cast<float>(y), fs = static_cast<float>(side);
    return {cv::Point2f{fx, fy}, {fx + fs, fy}, {fx + fs, fy + fs}, {fx, fy + fs}};
}

ImageView view(const cv::Mat& m) {
    return {m.data, m.cols, m.rows, static_cast<int>(m.step[0]),
            m.channels() == 1 ? PixelFormat::gray8 : PixelFormat::bgr8};
}

std::vector<Code> decode(const cv::Mat& m, DecoderOptions opt = {}) {
    opt.budget_ms = 0;  // results must not depend on machine load
    QrDecoder d(opt);
    auto r = d.decode(view(m));
    REQUIRE(r.ok());
    return *r;
}

float corner_error(const Code& c, const std::array<cv::Point2f, 4>& truth) {
    float worst = 0;
    for (std::size_t i = 0; i < 4; ++i)
        worst = std::max(worst, std::hypot(c.corners[i].x - truth[i].x, c.corners[i].y - truth[i].y));
    return worst;
}

const std::string kText = "CP1:7QKD2M4ZRA8C1N5X0B9T3W6Y";

}  // namespace

TEST_CASE("scoring: label layouts") {
    auto one = sc::parse_labels("# comment\n1 2\n3 4\n5 6\n7 8\n");
    REQUIRE(one);
    REQUIRE(one->size() == 1);
    CHECK((*one)[0][2].x == 5);
    auto sets = sc::parse_labels("# c\nSETS\n0 0 10 0 10 10 0 10\n20 20 30 20 30 30 20 30\n");
    REQUIRE(sets);
    CHECK(sets->size() == 2);
    CHECK_FALSE(sc::parse_labels("1 2\n3 4\n"));
    CHECK_FALSE(sc::parse_labels("SETS\n1 2 3\n"));
    CHECK_FALSE(sc::parse_labels("1 2\n3 x\n5 6\n7 8\n"));
}

TEST_CASE("scoring: centre inside a label, one label per result, false reads") {
    const sc::Quad a{{{0, 0}, {10, 0}, {10, 10}, {0, 10}}};
    const sc::Quad b{{{20, 0}, {30, 0}, {30, 10}, {20, 10}}};
    const sc::Quad in_a{{{2, 2}, {8, 2}, {8, 8}, {2, 8}}};
    const sc::Quad off{{{100, 100}, {110, 100}, {110, 110}, {100, 110}}};
    auto s = sc::score({a, b}, {in_a, in_a, off});
    CHECK(s.labels == 2);
    CHECK(s.read == 1);        // two results in one label count once
    CHECK(s.duplicates == 1);
    CHECK(s.false_reads == 1); // centre in no label
    // A rotated (diamond) label: the centre test follows the quad, not its box.
    const sc::Quad diamond{{{50, 0}, {100, 50}, {50, 100}, {0, 50}}};
    CHECK(sc::inside(diamond, {50, 50}));
    CHECK_FALSE(sc::inside(diamond, {5, 5}));
}

TEST_CASE("generated code: text and corners mapped back to frame pixels") {
    // Big frame: the decoder works on a reduced copy, corners must come back
    // in original pixels.
    cv::Mat frame(1500, 2400, CV_8UC1, cv::Scalar(255));
    const auto truth = paste(frame, kText, 1300, 700, 330);
    auto codes = decode(frame);
    REQUIRE(codes.size() == 1);
    CHECK(codes[0].text == kText);
    CHECK(corner_error(codes[0], truth) < 12.0f);
}

TEST_CASE("generated code: small, large, rotated, low contrast, colour") {
    SUBCASE("small: 2 px per module in a 1280x720 frame") {
        cv::Mat frame(720, 1280, CV_8UC1, cv::Scalar(255));
        paste(frame, kText, 900, 500, 2 * symbol(kText).cols);
        auto codes = decode(frame);
        REQUIRE(codes.size() == 1);
        CHECK(codes[0].text == kText);
    }
    SUBCASE("large: the code fills the frame") {
        cv::Mat frame(1100, 1100, CV_8UC1, cv::Scalar(255));
        paste(frame, kText, 20, 20, 1060);
        auto codes = decode(frame);
        REQUIRE(codes.size() == 1);
        CHECK(codes[0].text == kText);
    }
    SUBCASE("rotated by 30 degrees") {
        cv::Mat frame(900, 900, CV_8UC1, cv::Scalar(255));
        paste(frame, kText, 300, 300, 300);
        cv::Mat rot;
        cv::warpAffine(frame, rot, cv::getRotationMatrix2D({450, 450}, 30, 1.0), frame.size(), cv::INTER_LINEAR,
                       cv::BORDER_CONSTANT, cv::Scalar(255));
        auto codes = decode(rot);
        REQUIRE(codes.size() == 1);
        CHECK(codes[0].text == kText);
        // The centre of the code stays at the rotation centre.
        float cx = 0, cy = 0;
        for (const auto& p : codes[0].corners) {
            cx += p.x / 4;
            cy += p.y / 4;
        }
        CHECK(std::fabs(cx - 450) < 8);
        CHECK(std::fabs(cy - 450) < 8);
    }
    SUBCASE("low contrast: 30 grey levels between dark and light") {
        cv::Mat frame(600, 800, CV_8UC1, cv::Scalar(255));
        paste(frame, kText, 200, 150, 250);
        frame.convertTo(frame, CV_8UC1, 30.0 / 255.0, 100);
        auto codes = decode(frame);
        REQUIRE(codes.size() == 1);
        CHECK(codes[0].text == kText);
    }
    SUBCASE("colour frame (BGR)") {
        cv::Mat gray(600, 800, CV_8UC1, cv::Scalar(255));
        paste(gray, kText, 100, 100, 300);
        cv::Mat bgr;
        cv::cvtColor(gray, bgr, cv::COLOR_GRAY2BGR);
        auto codes = decode(bgr);
        REQUIRE(codes.size() == 1);
        CHECK(codes[0].text == kText);
    }
}

TEST_CASE("inverted code: light modules on dark, read only with the inversion stage") {
    cv::Mat frame(600, 800, CV_8UC1, cv::Scalar(255));
    paste(frame, kText, 250, 150, 250);
    cv::bitwise_not(frame, frame);
    auto codes = decode(frame);
    REQUIRE(codes.size() == 1);
    CHECK(codes[0].text == kText);
    DecoderOptions no_inv;
    no_inv.inverted = false;
    CHECK(decode(frame, no_inv).empty());
}

TEST_CASE("lane frame: the quick try on a reduced copy reads a pass held up, corners in frame pixels") {
    cv::Mat frame(720, 1280, CV_8UC1, cv::Scalar(190));
    const auto truth = paste(frame, kText, 500, 200, 25 * 8);  // 8 px per module
    DecoderOptions lane;
    lane.stop_at_first = true;
    lane.budget_ms = 0;
    QrDecoder d(lane);
    auto r = d.decode(view(frame));
    REQUIRE(r.ok());
    REQUIRE(r->size() == 1);
    CHECK((*r)[0].stage == "quick");
    CHECK(d.last_report().tries == 1);
    CHECK(corner_error((*r)[0], truth) < 6.0f);
}

TEST_CASE("budget: tries whose estimated cost exceeds what is left are skipped, the first always runs") {
    cv::Mat noise(720, 1280, CV_8UC1);
    cv::randu(noise, 0, 256);
    DecoderOptions tight;
    tight.budget_ms = 1;
    QrDecoder d(tight);
    auto r = d.decode(view(noise));
    REQUIRE(r.ok());
    CHECK(r->empty());
    CHECK(d.last_report().tries >= 1);
    CHECK(d.last_report().tries <= 2);
    CHECK(d.last_report().budget_hit);
}

TEST_CASE("many small codes in a big frame: each read once, at its own position") {
    cv::Mat frame(2400, 3200, CV_8UC1, cv::Scalar(235));
    std::vector<sc::Quad> labels;
    std::vector<std::string> texts;
    for (int r = 0; r < 4; ++r) {
        for (int c = 0; c < 5; ++c) {
            const std::string t = "CP1:LANE" + std::to_string(r) + std::to_string(c);
            texts.push_back(t);
            const auto q = paste(frame, t, 200 + c * 580, 200 + r * 520, 150);
            labels.push_back({{{q[0].x, q[0].y}, {q[1].x, q[1].y}, {q[2].x, q[2].y}, {q[3].x, q[3].y}}});
        }
    }
    auto codes = decode(frame);
    std::vector<sc::Quad> got;
    for (const auto& code : codes) {
        got.push_back({{{code.corners[0].x, code.corners[0].y},
                        {code.corners[1].x, code.corners[1].y},
                        {code.corners[2].x, code.corners[2].y},
                        {code.corners[3].x, code.corners[3].y}}});
        CHECK(std::find(texts.begin(), texts.end(), code.text) != texts.end());
    }
    auto s = sc::score(labels, got);
    CHECK(s.read == 20);
    CHECK(s.false_reads == 0);
    CHECK(s.duplicates == 0);
}

TEST_CASE("video: the last position is tried first and still reads the code") {
    cv::Mat frame(720, 1280, CV_8UC1, cv::Scalar(200));
    paste(frame, kText, 700, 300, 180);
    DecoderOptions opt;
    opt.budget_ms = 0;
    QrDecoder d(opt);
    auto first = d.decode_video_frame(view(frame));
    REQUIRE(first.ok());
    REQUIRE(first->size() == 1);
    // The code moved a little, as between two frames at 30 fps.
    cv::Mat next(720, 1280, CV_8UC1, cv::Scalar(200));
    paste(next, kText, 712, 306, 180);
    auto second = d.decode_video_frame(view(next));
    REQUIRE(second.ok());
    REQUIRE(second->size() == 1);
    CHECK((*second)[0].stage == "roi");
    CHECK(d.last_report().tries <= 2);
    d.reset_tracking();
    auto third = d.decode_video_frame(view(next));
    REQUIRE(third.ok());
    REQUIRE(third->size() == 1);
    CHECK((*third)[0].stage != "roi");
}

namespace {

// A long text (upper-case letters and digits, no pattern ZXing could
// compress) that fills a high-version symbol.
std::string long_text(std::size_t n) {
    std::string t;
    std::uint32_t x = 12345;
    const char* alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    for (std::size_t i = 0; i < n; ++i) {
        x = x * 1103515245u + 12345u;
        t += alphabet[(x >> 16) % 36];
    }
    return t;
}

// The symbol of `text` at `px` px per module with a 4-module quiet zone, on
// paper bent so that no single perspective transform fits it: a perspective
// tilt, and the middle bowed by `bow` modules along both axes (zero at the
// edges, so the corners stay where the tilt puts them). Returns the frame and
// the code's corners in it.
std::pair<cv::Mat, std::array<cv::Point2f, 4>> bent_code(const std::string& text, int px, double bow) {
    const cv::Mat sym = symbol(text);
    const int n = sym.cols, side = n * px, q = 4 * px;
    cv::Mat flat(side + 2 * q, side + 2 * q, CV_8UC1, cv::Scalar(255));
    cv::resize(sym, flat(cv::Rect(q, q, side, side)), cv::Size(side, side), 0, 0, cv::INTER_NEAREST);
    const float w = static_cast<float>(flat.cols);
    const cv::Point2f src[4] = {{0, 0}, {w, 0}, {w, w}, {0, w}};
    const float out = w * 1.3f;
    const cv::Point2f dst[4] = {{0.10f * out, 0.08f * out}, {0.86f * out, 0.14f * out}, {0.92f * out, 0.90f * out},
                                {0.06f * out, 0.84f * out}};
    const cv::Mat h = cv::getPerspectiveTransform(src, dst);
    const cv::Mat inv = h.inv();
    cv::Mat mx(static_cast<int>(out), static_cast<int>(out), CV_32FC1), my(mx.size(), CV_32FC1);
    const double b = bow * px;
    for (int y = 0; y < mx.rows; ++y)
        for (int x = 0; x < mx.cols; ++x) {
            const double* m = inv.ptr<double>(0);
            const double d = m[6] * x + m[7] * y + m[8];
            const double u = (m[0] * x + m[1] * y + m[2]) / d, v = (m[3] * x + m[4] * y + m[5]) / d;
            // Bow in symbol space: a module's place moves by up to `bow` modules mid-code.
            const double su = std::clamp((u - q) / side, 0.0, 1.0), sv = std::clamp((v - q) / side, 0.0, 1.0);
            mx.at<float>(y, x) = static_cast<float>(u + b * std::sin(CV_PI * sv) * std::sin(CV_PI * su));
            my.at<float>(y, x) = static_cast<float>(v + b * std::sin(CV_PI * su));
        }
    cv::Mat frame;
    cv::remap(flat, frame, mx, my, cv::INTER_LINEAR, cv::BORDER_CONSTANT, cv::Scalar(255));
    cv::GaussianBlur(frame, frame, cv::Size(0, 0), 0.6);
    std::vector<cv::Point2f> in{{static_cast<float>(q), static_cast<float>(q)},
                                {static_cast<float>(q + side), static_cast<float>(q)},
                                {static_cast<float>(q + side), static_cast<float>(q + side)},
                                {static_cast<float>(q), static_cast<float>(q + side)}},
        corners;
    cv::perspectiveTransform(in, corners, h);
    return {frame, {corners[0], corners[1], corners[2], corners[3]}};
}

}  // namespace

TEST_CASE("video region: the crop box is clipped to the frame; kept 15 frames without a read, forgotten on the 16th") {
    const Quad q = square_around(Point{150, 150}, 50);  // a 100 px code
    // Margin 0.6 of the side (60 px in float: the origin truncates to 39).
    CHECK(roi_box(q, cv::Size(1000, 1000)) == cv::Rect(39, 39, 220, 220));
    CHECK(roi_box(square_around(Point{20, 980}, 50), cv::Size(1000, 1000)) == cv::Rect(0, 870, 130, 130));

    DecoderOptions opt;
    FrameReader reader(opt);
    RoiTracker tracker;
    const cv::Mat blank(480, 640, CV_8UC1, cv::Scalar(255));
    auto tries_on_blank = [&] {
        reader.start_frame();
        CHECK(tracker.try_region(reader, blank) == 0);
        return reader.report.tries;
    };
    CHECK(tries_on_blank() == 0);  // nothing tracked yet
    tracker.after_frame({Code{"CP1:X", q, "plain"}});
    for (int i = 0; i < 15; ++i) {
        CHECK(tries_on_blank() == 2);  // the crop as is, then equalised
        tracker.after_frame({});
    }
    CHECK(tries_on_blank() == 2);
    tracker.after_frame({});  // the 16th frame without a read
    CHECK(tries_on_blank() == 0);

    // A hint (three finder patterns seen, nothing read) is tried once.
    tracker.set_hint(q);
    CHECK(tries_on_blank() == 2);
    CHECK(tries_on_blank() == 0);
}

TEST_CASE("grid sampler: a bent high-version code that one perspective transform cannot read") {
    const std::string text = long_text(1400);
    const int version = (symbol(text).cols - 17) / 4;
    REQUIRE(version >= 20);
    REQUIRE(version <= 30);
    // 5 px per module, the middle bowed by 2 modules (the sampler reads this
    // at 4, 5 and 6 px per module up to a bow of 2.2 modules; beyond, its
    // alignment search, which reaches 2 modules from the prediction, starts to
    // lose the grid).
    const auto [frame, truth] = bent_code(text, 5, 2.0);
    DecoderOptions no_grid;
    no_grid.grid_sampler = false;
    CHECK(decode(frame, no_grid).empty());  // ZXing's own sampling drifts off the bent grid
    auto codes = decode(frame);
    REQUIRE(codes.size() == 1);
    CHECK(codes[0].text == text);
    CHECK(codes[0].stage == "grid");
    CHECK(corner_error(codes[0], truth) < 3 * 5.0f);  // within 3 modules: the corners are extrapolated
}

TEST_CASE("grid sampler: alignment positions and versions from finder spacing") {
    CHECK(alignment_positions(1).empty());
    CHECK(alignment_positions(2) == std::vector<int>{6, 18});
    CHECK(alignment_positions(7) == std::vector<int>{6, 22, 38});
    CHECK(alignment_positions(32) == std::vector<int>{6, 34, 60, 86, 112, 138});
    CHECK(alignment_positions(40) == std::vector<int>{6, 30, 58, 86, 114, 142, 170});
    // Version 25 (117 modules): finder centres 110 modules apart.
    const FinderTriple t{{100, 100}, {100 + 110 * 4.0f, 100}, {100, 100 + 110 * 4.0f}, 4.0f};
    const auto v = likely_versions(t, 2);
    REQUIRE(v.size() == 5);
    CHECK(v.front() == 25);
    CHECK(likely_versions(FinderTriple{{0, 0}, {0, 0}, {0, 0}, 0.0f}, 2).empty());
    // Degenerate geometry (all three finders on one point) samples nothing.
    cv::Mat blank(400, 400, CV_8UC1, cv::Scalar(255));
    CHECK(sample_grid(blank, FinderTriple{{50, 50}, {50, 50}, {50, 50}, 4.0f}, 25).image.empty());
}

TEST_CASE("finder triples: a code seen at a steep angle is proposed as one code") {
    // A version-2 code at 6 px per module, turned by 30 degrees and foreshortened
    // along one axis to 0.64 (a tilt of about 50 degrees): one finder-to-finder
    // side is 1.56 times the other.
    const cv::Mat sym = symbol("CP1:STEEP-ANGLE-0123456789");
    const int px = 6, side = sym.cols * px, q = 4 * px;
    cv::Mat flat(side + 2 * q, side + 2 * q, CV_8UC1, cv::Scalar(255));
    cv::resize(sym, flat(cv::Rect(q, q, side, side)), cv::Size(side, side), 0, 0, cv::INTER_NEAREST);
    const double a = 30.0 * CV_PI / 180.0, c = std::cos(a), s = std::sin(a), k = 0.64;
    // Foreshorten x, then turn, then move into a 640 x 480 frame.
    const cv::Matx23d m(k * c, -s, 0, k * s, c, 0);
    cv::Matx23d affine = m;
    const cv::Point2d mid(flat.cols / 2.0, flat.rows / 2.0);
    affine(0, 2) = 320 - (m(0, 0) * mid.x + m(0, 1) * mid.y);
    affine(1, 2) = 240 - (m(1, 0) * mid.x + m(1, 1) * mid.y);
    cv::Mat frame;
    cv::warpAffine(flat, frame, affine, cv::Size(640, 480), cv::INTER_LINEAR, cv::BORDER_CONSTANT, cv::Scalar(255));
    const auto regions = propose_regions(frame, 16);
    const auto triple = std::find_if(regions.begin(), regions.end(), [](const Region& r) { return r.triple; });
    REQUIRE(triple != regions.end());
    CHECK(std::hypot(triple->cx - 320.0f, triple->cy - 240.0f) < 4.0f * px);
    // Its finder spacing: the two sides from the corner pattern differ by the tilt.
    const float d1 = std::hypot(triple->a.x - triple->corner.x, triple->a.y - triple->corner.y);
    const float d2 = std::hypot(triple->b.x - triple->corner.x, triple->b.y - triple->corner.y);
    CHECK(std::max(d1, d2) / std::min(d1, d2) > 1.45f);
}

TEST_CASE("frames without a code give no code") {
    cv::Mat noise(480, 640, CV_8UC1);
    cv::randu(noise, 0, 256);
    CHECK(decode(noise).empty());
    cv::Mat flat(480, 640, CV_8UC1, cv::Scalar(128));
    CHECK(decode(flat).empty());
}

TEST_CASE("bad frames are typed errors") {
    QrDecoder d;
    std::vector<std::uint8_t> px(100 * 100, 255);
    CHECK(d.decode(ImageView{nullptr, 100, 100, 100, PixelFormat::gray8}).error().kind == cp::ErrorKind::invalid_input);
    CHECK(d.decode(ImageView{px.data(), 0, 100, 100, PixelFormat::gray8}).error().reason == "image");
    CHECK(d.decode(ImageView{px.data(), 100, 100, 50, PixelFormat::gray8}).error().kind == cp::ErrorKind::invalid_input);
    CHECK(d.decode(ImageView{px.data(), 40, 40, 40, PixelFormat::bgr8}).error().kind == cp::ErrorKind::invalid_input);
    CHECK(d.decode(ImageView{px.data(), 100000, 1, 100000, PixelFormat::gray8}).error().kind ==
          cp::ErrorKind::invalid_input);
    CHECK(d.decode(ImageView{px.data(), 100, 100, 100, PixelFormat::gray8}).ok());
}

