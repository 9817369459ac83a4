// The guard screens the README shows (docs/images/guard-*.png) are made by the
// daemon's own display code: GuardScreen renders a ScreenModel, the PNG sink writes
// it. This test renders them again and checks the committed images are those
// screens (same size, same verdict colour, close in every pixel on average), so the
// README cannot show a screen the code no longer draws. After a deliberate change
// of the screen, write them again:
//   CHECKPOINT_WRITE_IMAGES=1 build/tests/test_readme_images
#include "drivers/display/display.hpp"
#include "tests/testing.hpp"

#include <doctest/doctest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include <cstdlib>
#include <filesystem>

using namespace cp;
using namespace cp::display;
namespace fs = std::filesystem;

namespace {

const char* kFont = "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc";
constexpr int kWidth = 960;
constexpr int kHeight = 540;

ScreenModel scene(Verdict v) {
    ScreenModel m;
    m.verdict = v;
    m.masked_name = "张*明";
    m.pass_kind = "Resident pass";
    m.temperature_c = v == Verdict::red ? 38.4 : 36.6;
    m.reason = v == Verdict::red ? "temperature 38.4 °C" : "";
    m.status.list_age_s = 840;
    m.status.journal_backlog = 0;
    m.status.sensor = Health::ok;
    m.status.network = Health::ok;
    m.status.lane = "Lane 3 IN";
    m.status.clock = "14:32";
    return m;
}

// Renders through the PNG sink, as checkpointd's `png` display backend does.
cv::Mat render_png(Verdict v, const testing::TempDir& dir) {
    ScreenConfig c;
    c.width = kWidth;
    c.height = kHeight;
    c.font_path = kFont;
    auto screen = GuardScreen::create(c);
    REQUIRE(screen.ok());
    const fs::path folder = dir / to_string(v);
    auto sink = open_png_folder(folder.string(), 1);
    REQUIRE(sink.ok());
    GuardDisplay display(std::move(*screen), std::move(*sink));
    REQUIRE(display.show(scene(v)).ok());
    cv::Mat img = cv::imread((folder / "screen-000000.png").string(), cv::IMREAD_COLOR);
    REQUIRE_FALSE(img.empty());
    return img;
}

}  // namespace

TEST_CASE("README guard screens: made by the display code, committed as made") {
    if (!fs::exists(kFont)) {
        MESSAGE("fonts-noto-cjk is not installed: ", kFont);
        std::exit(testing::kSkip);
    }
    const fs::path images = fs::path(std::getenv("CHECKPOINT_SOURCE") ? std::getenv("CHECKPOINT_SOURCE") : ".") /
                            "docs" / "images";
    const bool write = std::getenv("CHECKPOINT_WRITE_IMAGES") != nullptr;
    testing::TempDir dir;
    for (Verdict v : {Verdict::green, Verdict::red}) {
        const cv::Mat fresh = render_png(v, dir);
        const fs::path file = images / (std::string("guard-") + to_string(v) + ".png");
        if (write) {
            fs::create_directories(images);
            REQUIRE(cv::imwrite(file.string(), fresh));
        }
        const cv::Mat committed = cv::imread(file.string(), cv::IMREAD_COLOR);
        REQUIRE_MESSAGE(!committed.empty(), file.string() << " is missing: CHECKPOINT_WRITE_IMAGES=1 build/tests/test_readme_images");
        CHECK(committed.cols == kWidth);
        CHECK(committed.rows == kHeight);
        const cv::Vec3b corner = committed.at<cv::Vec3b>(kHeight - 5, 5);
        const cv::Scalar bg = verdict_colour(v);
        for (int i = 0; i < 3; ++i) CHECK(std::abs(corner[i] - static_cast<int>(bg[i])) <= 2);
        // Close on average: the text may move a little with the font build, not the screen.
        cv::Mat diff;
        cv::absdiff(committed, fresh, diff);
        const cv::Scalar mean = cv::mean(diff);
        MESSAGE(file.filename().string(), ": mean difference ", mean[0], " ", mean[1], " ", mean[2]);
        for (int i = 0; i < 3; ++i) CHECK(mean[i] < 24.0);
    }
}
