// Regression floor on the BoofCV QR photographs, scored with the rule of
// tests/data/boofcv-qr/README.md, budget off. Built twice:
// - test_decode_boofcv: the subset vendored in tests/data/boofcv-qr (never skips);
// - test_decode_boofcv_full (CHECKPOINT_BOOFCV_FULL): the full set in
//   ../shared/data/boofcv-qr, skips (77) when it is absent.
// Each floor is the measured rate minus a margin; see docs/decoding.md.
#include "src/decode/decoder.hpp"
#include "tests/decode/scoring.hpp"
#include "tests/testing.hpp"

#include <doctest/doctest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include <cstdio>
#include <map>

using namespace cp::decode;
namespace sc = cp::decode::scoring;

namespace {

#ifdef CHECKPOINT_BOOFCV_FULL
// Measured 82.3% on the full set (382 of 464 codes, budget off); the floor leaves room for
// small changes in the pipeline but not for losing a stage.
constexpr double kMinReadRate = 0.75;
// The grid sampler's share: 12 of 13 high-version codes measured (bare ZXing 0).
constexpr int kMinHighVersion = 9;
#else
// The vendored subset: measured 77.1 % (84 of 109 codes; 3 of 3 high-version), bare ZXing 20.2 % (22); the floor lies
// between, below ours by a margin for small changes, far above what bare ZXing reads.
constexpr double kMinReadRate = 0.70;
constexpr int kMinHighVersion = 2;
#endif

sc::Quad to_quad(const Code& c) {
    sc::Quad q;
    for (std::size_t i = 0; i < 4; ++i) q[i] = {c.corners[i].x, c.corners[i].y};
    return q;
}

}  // namespace

TEST_CASE("boofcv-qr: read rate above the floor, more than bare ZXing per category, no false reads") {
#ifdef CHECKPOINT_BOOFCV_FULL
    const auto root = cp::testing::require_shared_data("boofcv-qr");
#else
    const auto root = cp::testing::vendored_data("boofcv-qr");
#endif
    const auto samples = sc::load_dataset(root);
    REQUIRE(!samples.empty());

    DecoderOptions opt;
    opt.budget_ms = 0;  // the pipeline's reach, independent of machine load
    QrDecoder dec(opt);
    struct Tally {
        int labels = 0, ours = 0, zxing = 0, false_reads = 0;
    };
    std::map<std::string, Tally> cats;
    Tally all;
    for (const auto& s : samples) {
        cv::Mat g = cv::imread(s.image.string(), cv::IMREAD_GRAYSCALE | cv::IMREAD_IGNORE_ORIENTATION);
        REQUIRE_MESSAGE(!g.empty(), s.image.string());
        auto codes = dec.decode(ImageView{g.data, g.cols, g.rows, static_cast<int>(g.step[0]), PixelFormat::gray8});
        REQUIRE(codes.ok());
        std::vector<sc::Quad> quads;
        for (const auto& c : *codes) quads.push_back(to_quad(c));
        const auto ours = sc::score(s.labels, quads);
        const auto ref = sc::score(s.labels, sc::read_bare_zxing(g.data, g.cols, g.rows, static_cast<int>(g.step[0])));
        for (Tally* t : {&cats[s.category], &all}) {
            t->labels += ours.labels;
            t->ours += ours.read;
            t->zxing += ref.read;
            t->false_reads += ours.false_reads;
        }
    }
    for (const auto& [cat, t] : cats) {
        std::printf("%-14s %3d codes: ours %3d, bare ZXing %3d\n", cat.c_str(), t.labels, t.ours, t.zxing);
        // More than bare ZXing wherever it leaves a code unread; where it reads
        // every code (close, monitor) there is only matching it.
        if (t.zxing < t.labels) CHECK_MESSAGE(t.ours > t.zxing, cat);
        else CHECK_MESSAGE(t.ours == t.labels, cat);
    }
    const double rate = static_cast<double>(all.ours) / all.labels;
    std::printf("all: %d of %d (%.1f%%), bare ZXing %d, false reads %d\n", all.ours, all.labels, 100 * rate,
                all.zxing, all.false_reads);
    CHECK(rate >= kMinReadRate);
    if (cats.count("high_version")) CHECK(cats["high_version"].ours >= kMinHighVersion);
    CHECK(all.false_reads == 0);
}
