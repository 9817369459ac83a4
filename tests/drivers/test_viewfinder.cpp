// The viewfinder's hints on rendered lane frames: each hint appears for the
// effect it names and not for a clean, readable code or an empty lane.
#include "drivers/camera/viewfinder.hpp"
#include "tests/testing.hpp"

#include <doctest/doctest.h>

using namespace cp;
using namespace cp::camera;

namespace {

const std::string kPassText =
    "CP1:6BFOXN*TS0BI$ZD4N9:9S6RCVN5+O30K3/XIV0W23NTDEXWK G2EP4J0B3KL6QM5/OVGA/MAT%ZSGQK";

// A frame of one person holding their code still, with these effects.
Frame holding(const lane::Effects& fx, lane::Medium medium = lane::Medium::phone) {
    lane::LaneScript s;
    s.lead_frames = 2;
    lane::Person p;
    p.qr = kPassText;
    p.medium = medium;
    p.effects = fx;
    p.arrive_frames = 3;
    p.hold_frames = 4;
    p.leave_frames = 3;
    s.people.push_back(p);
    return render_lane_frame(s, 2 + 3 + 2, 1280, 720, 7);
}

Assessment assessed(const Frame& f) {
    auto a = assess(f);
    REQUIRE(a.ok());
    MESSAGE("hint ", to_string(a->hint), " seen ", a->sighting.seen, " module ", a->sighting.module_px,
            " contrast ", a->contrast, " sharpness ", a->sharpness, " glare ", a->glare);
    return *a;
}

}  // namespace

TEST_CASE("a clean code held up gets no hint; an empty lane gets none") {
    CHECK(assessed(holding({})).hint == Hint::none);
    lane::Effects paper;
    paper.brightness = 0.9;  // auto exposure keeps white paper below saturation
    CHECK(assessed(holding(paper, lane::Medium::paper)).hint == Hint::none);
    lane::LaneScript empty;
    empty.lead_frames = 5;
    CHECK(assessed(render_lane_frame(empty, 1, 1280, 720, 3)).hint == Hint::none);
}

TEST_CASE("a code too small to read: move closer") {
    lane::Effects fx;
    fx.size = 0.12;  // about 2 px per module at 720 lines: found, but marginal to read
    const Assessment a = assessed(holding(fx));
    CHECK(a.sighting.seen);
    CHECK(a.hint == Hint::move_closer);
}

TEST_CASE("a smeared code: hold still") {
    lane::Effects fx;
    fx.blur = lane::Blur::motion;
    fx.blur_px = 24;
    CHECK(assessed(holding(fx)).hint == Hint::hold_still);
    lane::Effects defocus;
    defocus.blur = lane::Blur::defocus;
    defocus.blur_px = 14;
    CHECK(assessed(holding(defocus)).hint == Hint::hold_still);
}

TEST_CASE("a reflection on the phone screen: glare") {
    lane::Effects fx;
    fx.glare = 0.9;
    CHECK(assessed(holding(fx)).hint == Hint::glare);
}

TEST_CASE("a broken frame is a typed error, not a hint") {
    Frame f;
    f.width = 10;
    f.height = 10;
    f.stride = 5;
    auto a = assess(f);
    REQUIRE_FALSE(a.ok());
    CHECK(a.error().is(cp::camera::reason::image));
}

TEST_CASE("the preview fits the box and is mirrored when the camera faces the person") {
    Frame f;
    f.width = 4;
    f.height = 2;
    f.stride = 4;
    f.format = decode::PixelFormat::gray8;
    f.pixels = {0, 0, 0, 255, 0, 0, 0, 255};
    const cv::Mat plain = preview_image(f, 8, 8, false);
    REQUIRE(plain.cols == 8);
    CHECK(plain.rows == 4);
    CHECK(plain.type() == CV_8UC3);
    CHECK(plain.at<cv::Vec3b>(0, 7)[0] > 200);
    CHECK(plain.at<cv::Vec3b>(0, 0)[0] < 50);
    const cv::Mat mirrored = preview_image(f, 8, 8, true);
    CHECK(mirrored.at<cv::Vec3b>(0, 0)[0] > 200);
    CHECK(mirrored.at<cv::Vec3b>(0, 7)[0] < 50);
    CHECK(preview_image(Frame{}, 8, 8, false).empty());
    const cv::Rect box = aim_box(1280, 720);
    CHECK(box.width == 504);
    CHECK(box.x + box.width / 2 == 640);
}
