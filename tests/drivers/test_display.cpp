#include "drivers/display/display.hpp"
#include "drivers/display/screen_body.hpp"
#include "tests/testing.hpp"

#include <doctest/doctest.h>
#include <opencv2/imgcodecs.hpp>

#include <filesystem>

using namespace cp;
using namespace cp::display;

namespace {

const char* kFont = "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc";

std::unique_ptr<GuardScreen> screen(int w = 1280, int h = 720) {
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

ScreenModel model(Verdict v) {
    ScreenModel m;
    m.verdict = v;
    m.masked_name = "W*** L*";
    m.pass_kind = "Resident pass";
    m.temperature_c = 36.6;
    m.reason = v == Verdict::red ? "pass revoked" : "";
    m.status.list_age_s = 840;
    m.status.journal_backlog = 3;
    m.status.sensor = Health::ok;
    m.status.network = Health::degraded;
    m.status.lane = "Lane 3 IN";
    m.status.clock = "14:32";
    return m;
}

bool same_colour(const cv::Vec3b& px, const cv::Scalar& c) {
    for (int i = 0; i < 3; ++i)
        if (std::abs(px[i] - static_cast<int>(c[i])) > 2) return false;
    return true;
}

// Share of the band's pixels that are not the background: glyphs were drawn.
double ink_share(const cv::Mat& img, cv::Rect band, const cv::Scalar& bg) {
    int ink = 0;
    for (int y = band.y; y < band.y + band.height; ++y)
        for (int x = band.x; x < band.x + band.width; ++x)
            if (!same_colour(img.at<cv::Vec3b>(y, x), bg)) ++ink;
    return static_cast<double>(ink) / band.area();
}

}  // namespace

TEST_CASE("each verdict renders a PNG of the configured size in its colour") {
    auto s = screen();
    testing::TempDir dir;
    auto sink = open_png_folder((dir / "screens").string(), 10);
    REQUIRE(sink.ok());
    GuardDisplay display(std::move(s), std::move(*sink));
    const Verdict verdicts[] = {Verdict::green, Verdict::red, Verdict::yellow, Verdict::idle};
    for (Verdict v : verdicts) REQUIRE(display.show(model(v)).ok());
    for (int i = 0; i < 4; ++i) {
        char name[32];
        std::snprintf(name, sizeof name, "screen-%06d.png", i);
        cv::Mat img = cv::imread((dir / "screens" / name).string(), cv::IMREAD_COLOR);
        REQUIRE_FALSE(img.empty());
        CHECK(img.cols == 1280);
        CHECK(img.rows == 720);
        const cv::Scalar bg = verdict_colour(verdicts[i]);
        // Corners of the verdict area are the verdict colour...
        CHECK(same_colour(img.at<cv::Vec3b>(700, 10), bg));
        CHECK(same_colour(img.at<cv::Vec3b>(120, 1270), bg));
        // ...the status bar is dark...
        CHECK(same_colour(img.at<cv::Vec3b>(5, 640), cv::Scalar(30, 30, 30)));
        // ...and the verdict line carries glyphs (about 20 % of the height).
        const double ink = ink_share(img, cv::Rect(200, 140, 880, 140), bg);
        CHECK(ink > 0.08);
        CHECK(ink < 0.8);
    }
}

TEST_CASE("the verdict colours differ from one another") {
    CHECK(verdict_colour(Verdict::green) != verdict_colour(Verdict::red));
    CHECK(verdict_colour(Verdict::green) != verdict_colour(Verdict::yellow));
    CHECK(verdict_colour(Verdict::red) != verdict_colour(Verdict::yellow));
    // Red is red and green is green in BGR.
    CHECK(verdict_colour(Verdict::red)[2] > verdict_colour(Verdict::red)[1] + 100);
    CHECK(verdict_colour(Verdict::green)[1] > verdict_colour(Verdict::green)[2] + 100);
}

TEST_CASE("a small panel gets the same layout scaled") {
    auto s = screen(800, 480);
    cv::Mat img = s->render(model(Verdict::red));
    CHECK(img.cols == 800);
    CHECK(img.rows == 480);
    CHECK(same_colour(img.at<cv::Vec3b>(470, 5), verdict_colour(Verdict::red)));
}

TEST_CASE("a missing or broken font is a typed error") {
    testing::TempDir dir;
    ScreenConfig c;
    c.font_path = (dir / "absent.ttc").string();
    auto missing = GuardScreen::create(c);
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error().kind == ErrorKind::not_found);
    CHECK(missing.error().is(cp::display::reason::font));
    testing::write_file(dir / "broken.ttc", "not a font");
    c.font_path = (dir / "broken.ttc").string();
    auto broken = GuardScreen::create(c);
    REQUIRE_FALSE(broken.ok());
    CHECK(broken.error().is(cp::display::reason::font));
    c = {};
    c.width = 100;
    CHECK(GuardScreen::create(c).error().kind == ErrorKind::config);
}

TEST_CASE("the PNG folder keeps only the newest screens") {
    testing::TempDir dir;
    auto sink = open_png_folder(dir.path().string(), 3).value();
    cv::Mat img(240, 320, CV_8UC3, cv::Scalar(1, 2, 3));
    for (int i = 0; i < 5; ++i) REQUIRE(sink->show(img).ok());
    int count = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
        ++count;
        CHECK(e.path().extension() == ".png");
    }
    CHECK(count == 3);
    CHECK(std::filesystem::exists(dir / "screen-000004.png"));
    CHECK_FALSE(std::filesystem::exists(dir / "screen-000001.png"));
    // A new sink on the same folder continues the numbering.
    auto again = open_png_folder(dir.path().string(), 3).value();
    REQUIRE(again->show(img).ok());
    CHECK(std::filesystem::exists(dir / "screen-000005.png"));
    CHECK(open_png_folder(dir.path().string(), 0).error().kind == ErrorKind::config);
}

TEST_CASE("framebuffer pixel conversion: 16, 24 and 32 bpp") {
    cv::Mat px(1, 2, CV_8UC3);
    px.at<cv::Vec3b>(0, 0) = {0, 0, 255};    // red
    px.at<cv::Vec3b>(0, 1) = {255, 128, 0};  // blue-ish
    FbFormat rgb565{16, 11, 5, 5, 6, 0, 5};
    std::uint8_t b16[4] = {};
    REQUIRE(convert_to_fb(px, rgb565, b16, 4, 2, 1).ok());
    CHECK(b16[0] == 0x00);
    CHECK(b16[1] == 0xf8);                                   // 0xf800
    CHECK((b16[2] | (b16[3] << 8)) == ((128 >> 2) << 5 | 31));
    FbFormat rgb888{24, 16, 8, 8, 8, 0, 8};
    std::uint8_t b24[6] = {};
    REQUIRE(convert_to_fb(px, rgb888, b24, 6, 2, 1).ok());
    CHECK(b24[0] == 0);
    CHECK(b24[2] == 255);
    CHECK(b24[3] == 255);
    CHECK(b24[4] == 128);
    FbFormat xbgr{32, 0, 8, 8, 8, 16, 8};
    std::uint8_t b32[8] = {};
    REQUIRE(convert_to_fb(px, xbgr, b32, 8, 2, 1).ok());
    CHECK(b32[0] == 255);
    CHECK(b32[6] == 255);
    FbFormat bad{12, 0, 4, 4, 4, 8, 4};
    CHECK(convert_to_fb(px, bad, b32, 8, 2, 1).error().is(cp::display::reason::fb_format));
    FbFormat overflow{16, 12, 8, 0, 8, 0, 8};
    CHECK_FALSE(convert_to_fb(px, overflow, b16, 4, 2, 1).ok());
    CHECK_FALSE(convert_to_fb(px, rgb565, b16, 2, 2, 1).ok());  // line shorter than a row
}

TEST_CASE("no window without a display server") {
    ::unsetenv("DISPLAY");
    ::unsetenv("WAYLAND_DISPLAY");
    auto w = open_window();
    REQUIRE_FALSE(w.ok());
    CHECK(w.error().is(cp::display::reason::window));
    auto fb = open_framebuffer("/dev/fb-does-not-exist");
    REQUIRE_FALSE(fb.ok());
    CHECK(fb.error().is(cp::display::reason::framebuffer));
}

TEST_CASE("every verdict has its own shape, drawn without a font") {
    // Ink at a few points of a 90 px square: the tick's corner, the cross's arms,
    // the exclamation mark's bar; each shape has ink where the others have none.
    const int s = 90;
    auto ink_at = [&](Verdict v, double fx, double fy) {
        cv::Mat img(s, s, CV_8UC3, cv::Scalar(0, 0, 0));
        draw_shape(img, v, {0, 0}, s, cv::Scalar(255, 255, 255));
        return img.at<cv::Vec3b>(static_cast<int>(fy * s), static_cast<int>(fx * s))[0] > 128;
    };
    // Tick: its corner, not the centre.
    CHECK(ink_at(Verdict::green, 0.44, 0.69));
    CHECK_FALSE(ink_at(Verdict::green, 0.5, 0.45));
    // Cross: centre and the arm towards the lower right.
    CHECK(ink_at(Verdict::red, 0.5, 0.5));
    CHECK(ink_at(Verdict::red, 0.64, 0.64));
    CHECK_FALSE(ink_at(Verdict::red, 0.44, 0.69));
    // Exclamation mark: bar and dot, nothing where the cross's arm is.
    CHECK(ink_at(Verdict::yellow, 0.5, 0.5));
    CHECK(ink_at(Verdict::yellow, 0.5, 0.78));
    CHECK_FALSE(ink_at(Verdict::yellow, 0.64, 0.64));
    // Idle has no shape.
    CHECK_FALSE(ink_at(Verdict::idle, 0.5, 0.5));
}

TEST_CASE("idle with a camera picture: the picture, the aiming box and the hint band") {
    auto s = screen(800, 480);
    ScreenModel m = model(Verdict::idle);
    m.preview = cv::Mat(360, 640, CV_8UC3, cv::Scalar(10, 120, 200));
    const cv::Mat plain = s->render(m);
    // The picture fills the middle of the body.
    CHECK(same_colour(plain.at<cv::Vec3b>(240, 400), cv::Scalar(10, 120, 200)));
    // No hint: the band keeps the idle colour.
    CHECK(same_colour(plain.at<cv::Vec3b>(475, 5), verdict_colour(Verdict::idle)));
    m.hint = Hint::move_closer;
    const cv::Mat hinted = s->render(m);
    CHECK(same_colour(hinted.at<cv::Vec3b>(475, 5), verdict_colour(Verdict::yellow)));
    // The aiming box's brackets are drawn over the picture: some pixels of the
    // picture area differ from the flat picture colour besides the band.
    int bracket = 0;
    for (int y = 60; y < 400; ++y)
        for (int x = 100; x < 700; ++x)
            if (same_colour(plain.at<cv::Vec3b>(y, x), cv::Scalar(120, 230, 0))) ++bracket;
    CHECK(bracket > 100);
    // A verdict never shows the picture.
    m.verdict = Verdict::green;
    const cv::Mat green = s->render(m);
    int picture = 0;
    for (int y = 60; y < 480; y += 4)
        for (int x = 0; x < 800; x += 4)
            if (same_colour(green.at<cv::Vec3b>(y, x), cv::Scalar(10, 120, 200))) ++picture;
    CHECK(picture == 0);
    CHECK(same_colour(green.at<cv::Vec3b>(470, 5), verdict_colour(Verdict::green)));
}

TEST_CASE("a plate mismatch shows both plates") {
    auto s = screen(800, 480);
    ScreenModel m = model(Verdict::yellow);
    const cv::Mat without = s->render(m);
    m.typed_plate = "黑E12345";
    m.pass_plate = "黑E67890";
    const cv::Mat with = s->render(m);
    const cv::Scalar bg = verdict_colour(Verdict::yellow);
    // Two boxes near the bottom, each with ink, where there was none before.
    const cv::Rect left(30, 400, 330, 60), right(440, 400, 330, 60);
    CHECK(ink_share(without, left, bg) < 0.01);
    CHECK(ink_share(with, left, bg) > 0.03);
    CHECK(ink_share(with, right, bg) > 0.03);
}
