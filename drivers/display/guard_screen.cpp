// The guard screen's layout. Sizes are fractions of the screen height so the
// same layout reads from two metres on a 7" 800x480 panel and a 21" 1920x1080
// one: the verdict word is about a fifth of the screen tall.
#include "drivers/display/display.hpp"
#include "drivers/display/screen_body.hpp"

#include "src/common/log.hpp"

#include <opencv2/freetype.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

namespace cp::display {

const char* to_string(Verdict v) {
    switch (v) {
    case Verdict::idle: return "idle";
    case Verdict::green: return "green";
    case Verdict::yellow: return "yellow";
    case Verdict::red: return "red";
    }
    return "idle";
}

cv::Scalar verdict_colour(Verdict v) {
    switch (v) {
    case Verdict::green: return {40, 150, 0};    // BGR
    case Verdict::yellow: return {0, 200, 255};
    case Verdict::red: return {20, 20, 200};
    case Verdict::idle: return {48, 40, 36};
    }
    return {48, 40, 36};
}

struct GuardScreen::Impl {
    cv::Ptr<cv::freetype::FreeType2> ft;
};

GuardScreen::GuardScreen(ScreenConfig config, std::unique_ptr<Impl> impl)
    : config_(std::move(config)), impl_(std::move(impl)) {}
GuardScreen::~GuardScreen() = default;

Result<std::unique_ptr<GuardScreen>> GuardScreen::create(const ScreenConfig& config) {
    if (config.width < 320 || config.height < 240 || config.width > 7680 || config.height > 4320)
        return fail(ErrorKind::config, "screen", "width/height outside 320x240..7680x4320");
    if (config.font_index < 0 || config.font_index > 31)
        return fail(ErrorKind::config, "screen", "font_index: must be 0..31");
    std::error_code ec;
    if (!std::filesystem::is_regular_file(config.font_path, ec))
        return fail(ErrorKind::not_found, "font",
                    config.font_path + ": missing (Debian: apt install fonts-noto-cjk)");
    auto impl = std::make_unique<Impl>();
    try {
        impl->ft = cv::freetype::createFreeType2();
        impl->ft->loadFontData(config.font_path, config.font_index);
    } catch (const cv::Exception& e) {
        return fail(ErrorKind::io, "font", config.font_path + ": " + e.what());
    }
    return std::unique_ptr<GuardScreen>(new GuardScreen(config, std::move(impl)));
}

namespace {

void draw_left(cv::freetype::FreeType2& ft, cv::Mat& img, const std::string& text, int x,
               int top, int height, const cv::Scalar& colour) {
    if (text.empty()) return;
    int baseline = 0;
    cv::Size size = ft.getTextSize(text, height, -1, &baseline);
    ft.putText(img, text, cv::Point(x, top + size.height), height, colour, -1, cv::LINE_AA, true);
}

cv::Scalar health_colour(Health h) {
    switch (h) {
    case Health::ok: return {80, 200, 80};
    case Health::degraded: return {0, 200, 255};
    case Health::fault: return {60, 60, 230};
    case Health::unknown: return {150, 150, 150};
    }
    return {150, 150, 150};
}

const char* health_word(Health h) {
    switch (h) {
    case Health::ok: return "OK";
    case Health::degraded: return "degraded";
    case Health::fault: return "FAULT";
    case Health::unknown: return "?";
    }
    return "?";
}

std::string list_age_text(const std::optional<std::int64_t>& age_s) {
    if (!age_s) return "List: none";
    const std::int64_t s = *age_s;
    if (s < 120) return "List: " + std::to_string(s) + " s";
    if (s < 7200) return "List: " + std::to_string(s / 60) + " min";
    return "List: " + std::to_string(s / 3600) + " h";
}

}  // namespace

cv::Mat GuardScreen::render(const ScreenModel& model) {
    const int w = config_.width, h = config_.height;
    cv::Mat img(h, w, CV_8UC3, verdict_colour(model.verdict));
    auto& ft = *impl_->ft;
    const int margin = w / 32;

    // Status bar along the top.
    const int bar_h = std::max(24, h * 8 / 100);
    cv::rectangle(img, cv::Rect(0, 0, w, bar_h), cv::Scalar(30, 30, 30), cv::FILLED);
    const int text_h = bar_h * 55 / 100;
    const int ty = (bar_h - text_h) / 2 - bar_h / 20;
    std::vector<std::pair<std::string, cv::Scalar>> items;
    if (!model.status.lane.empty()) items.push_back({model.status.lane, {230, 230, 230}});
    const bool list_ok = model.status.list_age_s.has_value();
    items.push_back({list_age_text(model.status.list_age_s),
                     list_ok ? cv::Scalar(230, 230, 230) : health_colour(Health::fault)});
    items.push_back({"Journal: " + std::to_string(model.status.journal_backlog),
                     model.status.journal_backlog > 100 ? health_colour(Health::degraded)
                                                        : cv::Scalar(230, 230, 230)});
    items.push_back({std::string("Sensor: ") + health_word(model.status.sensor),
                     health_colour(model.status.sensor)});
    items.push_back({std::string("Net: ") + health_word(model.status.network),
                     health_colour(model.status.network)});
    int x = margin / 2;
    for (const auto& [text, colour] : items) {
        draw_left(ft, img, text, x, ty, text_h, colour);
        int baseline = 0;
        x += ft.getTextSize(text, text_h, -1, &baseline).width + bar_h;
    }
    if (!model.status.clock.empty()) {
        int baseline = 0;
        const int cw = ft.getTextSize(model.status.clock, text_h, -1, &baseline).width;
        draw_left(ft, img, model.status.clock, w - cw - margin / 2, ty, text_h, {230, 230, 230});
    }

    // The body: verdict with its shape, or the viewfinder (screen_body.cpp).
    draw_body(ft, img, model, bar_h);
    return img;
}

}  // namespace cp::display
