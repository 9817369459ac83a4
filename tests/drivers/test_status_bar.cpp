// The guard screen's status bar: faults in words (no symbols), list ages in
// seconds, minutes, then hours, a stale list, a low disk and a thermometer fault
// drawn in the fault colour like "Net: FAULT", the date beside the time.
#include "drivers/display/display.hpp"
#include "tests/testing.hpp"

#include <doctest/doctest.h>

#include <filesystem>

using namespace cp;
using namespace cp::display;

namespace {

const char* kFont = "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc";

std::unique_ptr<GuardScreen> screen(int w, int h) {
    if (!std::filesystem::exists(kFont)) {
        MESSAGE("fonts-noto-cjk is not installed: ", kFont);
        std::exit(testing::kSkip);
    }
    ScreenConfig c;
    c.width = w;
    c.height = h;
    c.font_path = kFont;
    auto s = GuardScreen::create(c);
    REQUIRE(s.ok());
    return std::move(*s);
}

// Pixels of the status bar (top 8 %) close to a colour.
int pixels_like(const cv::Mat& img, const cv::Scalar& c) {
    const int bar_h = std::max(24, img.rows * 8 / 100);
    int n = 0;
    for (int y = 0; y < bar_h; ++y)
        for (int x = 0; x < img.cols; ++x) {
            const auto px = img.at<cv::Vec3b>(y, x);
            bool same = true;
            for (int i = 0; i < 3; ++i) same = same && std::abs(px[i] - static_cast<int>(c[i])) <= 6;
            n += same;
        }
    return n;
}

const cv::Scalar kFaultInk(60, 60, 230);  // health_colour(fault), BGR

StatusBar healthy() {
    StatusBar b;
    b.list_age_s = 300;
    b.list_max_age_s = 86400;
    b.sensor = Health::ok;
    b.network = Health::ok;
    b.lane = "gate-07";
    b.clock = "2026-12-02 14:32";
    return b;
}

}  // namespace

TEST_CASE("list ages read seconds up to a minute, then minutes, then hours; STALE over the limit") {
    StatusBar b = healthy();
    b.list_age_s = 0;
    CHECK(list_age_text(b) == "List: 0 s");
    b.list_age_s = 59;
    CHECK(list_age_text(b) == "List: 59 s");
    b.list_age_s = 60;
    CHECK(list_age_text(b) == "List: 1 min");
    b.list_age_s = 119;
    CHECK(list_age_text(b) == "List: 1 min");
    b.list_age_s = 59 * 60;
    CHECK(list_age_text(b) == "List: 59 min");
    b.list_age_s = 3 * 3600 + 10;
    CHECK(list_age_text(b) == "List: 3 h");
    b.list_max_age_s = 3600;
    CHECK(list_age_text(b) == "List: STALE 3 h");
    b.list_age_s.reset();
    CHECK(list_age_text(b) == "List: NONE");
}

TEST_CASE("health words have no symbols") {
    for (Health h : {Health::ok, Health::degraded, Health::fault, Health::unknown}) {
        const std::string w = health_word(h);
        CAPTURE(w);
        CHECK(w.find('?') == std::string::npos);
        CHECK(w.size() >= 2);
    }
    CHECK(std::string(health_word(Health::fault)) == "FAULT");
}

TEST_CASE("stale list, low disk and a thermometer fault are drawn in the fault colour on the idle screen") {
    auto s = screen(800, 480);  // the 7" panel: the narrowest bar
    ScreenModel ok;
    ok.status = healthy();
    const int base = pixels_like(s->render(ok), kFaultInk);
    CHECK(base == 0);  // nothing red while all is well

    ScreenModel stale = ok;
    stale.status.list_age_s = 3 * 86400;
    const int stale_px = pixels_like(s->render(stale), kFaultInk);
    CHECK(stale_px > 20);

    ScreenModel disk = ok;
    disk.status.disk_low = true;
    CHECK(pixels_like(s->render(disk), kFaultInk) > 20);

    ScreenModel temp = ok;
    temp.status.sensor = Health::fault;
    CHECK(pixels_like(s->render(temp), kFaultInk) > 20);

    // All of them at once still fit the 800 px bar (the font shrinks): more red ink.
    ScreenModel all = stale;
    all.status.disk_low = true;
    all.status.sensor = Health::fault;
    all.status.network = Health::fault;
    CHECK(pixels_like(s->render(all), kFaultInk) > stale_px);
}
