// The guard screen in each state a person at the lane meets, rendered from sim
// camera frames through the real hint assessment: idle with the viewfinder, each
// hint, each verdict with its shape, a plate mismatch, a cold-gate remeasure.
// With CHECKPOINT_DOC_IMAGES=<dir> the screens are written there as PNGs (the
// pictures in docs/images/, shown in docs/daemon.md).
#include "drivers/camera/viewfinder.hpp"
#include "drivers/display/display.hpp"
#include "drivers/png/png_io.hpp"
#include "tests/testing.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>

using namespace cp;
namespace fs = std::filesystem;

namespace {

const char* kFont = "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc";
const std::string kPassText =
    "CP1:6BFOXN*TS0BI$ZD4N9:9S6RCVN5+O30K3/XIV0W23NTDEXWK G2EP4J0B3KL6QM5/OVGA/MAT%ZSGQK";

camera::Frame holding(const lane::Effects& fx) {
    lane::LaneScript s;
    s.lead_frames = 2;
    lane::Person p;
    p.qr = kPassText;
    p.effects = fx;
    p.arrive_frames = 3;
    p.hold_frames = 4;
    s.people.push_back(p);
    return camera::render_lane_frame(s, 7, 1280, 720, 11);
}

display::Hint to_display(camera::Hint h) {
    switch (h) {
    case camera::Hint::move_closer: return display::Hint::move_closer;
    case camera::Hint::hold_still: return display::Hint::hold_still;
    case camera::Hint::glare: return display::Hint::glare;
    case camera::Hint::none: break;
    }
    return display::Hint::none;
}

display::StatusBar bar() {
    display::StatusBar b;
    b.list_age_s = 840;
    b.journal_backlog = 0;
    b.sensor = display::Health::ok;
    b.network = display::Health::ok;
    b.lane = "gate-07";
    b.clock = "08:15";
    return b;
}

struct Shots {
    std::unique_ptr<display::GuardScreen> screen;
    fs::path out;
    testing::TempDir tmp;
    Shots() {
        if (!fs::exists(kFont)) {
            MESSAGE("fonts-noto-cjk is not installed: ", kFont);
            std::exit(testing::kSkip);
        }
        display::ScreenConfig c;
        c.width = 800;
        c.height = 480;
        screen = display::GuardScreen::create(c).value();
        const char* dir = std::getenv("CHECKPOINT_DOC_IMAGES");
        out = dir != nullptr ? fs::path(dir) : tmp.path();
        fs::create_directories(out);
    }
    cv::Mat shot(const std::string& name, display::ScreenModel m) {
        m.status = bar();
        cv::Mat img = screen->render(m);
        REQUIRE(png::write((out / (name + ".png")).string(), img).ok());
        return img;
    }
};

}  // namespace

TEST_CASE("screens: the viewfinder with each hint, from sim frames through the hint assessment") {
    Shots s;
    struct Case {
        const char* name;
        lane::Effects fx;
        camera::Hint expect;
    };
    lane::Effects clean, small, blurred, glare;
    small.size = 0.12;
    blurred.blur = lane::Blur::motion;
    blurred.blur_px = 24;
    glare.glare = 0.9;
    const Case cases[] = {{"screen-idle-viewfinder", clean, camera::Hint::none},
                          {"screen-hint-move-closer", small, camera::Hint::move_closer},
                          {"screen-hint-hold-still", blurred, camera::Hint::hold_still},
                          {"screen-hint-glare", glare, camera::Hint::glare}};
    for (const Case& c : cases) {
        CAPTURE(c.name);
        const camera::Frame f = holding(c.fx);
        auto a = camera::assess(f);
        REQUIRE(a.ok());
        CHECK(a->hint == c.expect);
        display::ScreenModel m;
        m.preview = camera::preview_image(f, 800, 480, true);
        m.hint = to_display(a->hint);
        const cv::Mat img = s.shot(c.name, m);
        // A hint turns the bottom band yellow; no hint leaves it dark.
        const cv::Vec3b band = img.at<cv::Vec3b>(475, 3);
        CHECK((band[2] > 200) == (c.expect != camera::Hint::none));
    }
}

TEST_CASE("screens: every verdict, a plate mismatch and a cold-gate remeasure") {
    Shots s;
    display::ScreenModel green;
    green.verdict = display::Verdict::green;
    green.masked_name = "张*明";
    green.pass_kind = "Resident pass";
    green.temperature_c = 36.5;
    green.reason = "通行  Pass";
    s.shot("screen-green", green);

    display::ScreenModel red = green;
    red.verdict = display::Verdict::red;
    red.masked_name = "李*华";
    red.reason = "红码：请配合工作人员  Red status: please see the staff";
    s.shot("screen-red", red);

    display::ScreenModel yellow = green;
    yellow.verdict = display::Verdict::yellow;
    yellow.masked_name = "赵*强";
    yellow.reason = "名单中无此码，请人工核验  Not in status list: manual check";
    s.shot("screen-yellow", yellow);

    display::ScreenModel plate;
    plate.verdict = display::Verdict::yellow;
    plate.masked_name = "孙*平";
    plate.pass_kind = "Driver pass";
    plate.temperature_c = 36.7;
    plate.reason = "车牌不符，请人工核验  Plate mismatch: manual check";
    plate.typed_plate = "黑E12345";
    plate.pass_plate = "黑E67890";
    s.shot("screen-plate-mismatch", plate);

    display::ScreenModel cold;
    cold.verdict = display::Verdict::yellow;
    cold.masked_name = "张*明";
    cold.pass_kind = "Resident pass";
    cold.reason = "气温超出测温范围，请到室内复测  Too cold or hot to measure here: measure again indoors (air -20 C)";
    const cv::Mat img = s.shot("screen-remeasure-indoors", cold);
    CHECK(img.cols == 800);

    // The handheld between presses: the prompt and the last plates to pick from.
    display::ScreenModel handheld;
    handheld.prompt_zh = "按扳机扫码";
    handheld.prompt_en = "Press the trigger to scan";
    handheld.reason = "最近车牌 Last plates:  1 黑E12345  2 黑A77801  3 吉B20931";
    const cv::Mat hh = s.shot("screen-handheld-idle", handheld);
    CHECK(hh.at<cv::Vec3b>(470, 5) == cv::Vec3b(48, 40, 36));  // idle colour, no picture
}
