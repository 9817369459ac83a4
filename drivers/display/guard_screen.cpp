// The guard screen's layout. Sizes are fractions of the screen height so the
// same layout reads from two metres on a 7" 800x480 panel and a 21" 1920x1080
// one: the verdict word is about a fifth of the screen tall.
#include "drivers/display/display.hpp"
#include "drivers/display/reason.hpp"
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
        return fail(ErrorKind::config, reason::screen, "width/height outside 320x240..7680x4320");
    if (config.font_index < 0 || config.font_index > 31)
        return fail(ErrorKind::config, reason::screen, "font_index: must be 0..31");
    std::error_code ec;
    if (!std::filesystem::is_regular_file(config.font_path, ec))
        return fail(ErrorKind::not_found, reason::font,
                    config.font_path + ": missing (Debian: apt install fonts-noto-cjk)");
    auto impl = std::make_unique<Impl>();
    try {
        impl->ft = cv::freetype::createFreeType2();
        impl->ft->loadFontData(config.font_path, config.font_index);
    } catch (const cv::Exception& e) {
        return fail(ErrorKind::io, reason::font, config.font_path + ": " + e.what());
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

bool list_stale(const StatusBar& bar) {
    return bar.list_age_s && bar.list_max_age_s > 0 && *bar.list_age_s > bar.list_max_age_s;
}

}  // namespace

const char* health_word(Health h) {
    switch (h) {
    case Health::ok: return "OK";
    case Health::degraded: return "DEGRADED";
    case Health::fault: return "FAULT";
    case Health::unknown: return "UNKNOWN";  // not configured, or nothing measured or answered yet
    }
    return "UNKNOWN";
}

std::string list_age_text(const StatusBar& bar) {
    if (!bar.list_age_s) return "List: NONE";
    const std::int64_t s = std::max<std::int64_t>(0, *bar.list_age_s);
    // Seconds up to a minute, then minutes, then hours.
    const std::string age = s < 60     ? std::to_string(s) + " s"
                            : s < 3600 ? std::to_string(s / 60) + " min"
                                       : std::to_string(s / 3600) + " h";
    return std::string("List: ") + (list_stale(bar) ? "STALE " : "") + age;
}

namespace {

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
    const StatusBar& bar = model.status;
    const cv::Scalar plain(230, 230, 230);
    std::vector<std::pair<std::string, cv::Scalar>> items;
    if (!bar.lane.empty()) items.push_back({bar.lane, plain});
    const bool list_ok = bar.list_age_s.has_value() && !list_stale(bar);
    items.push_back({list_age_text(bar), list_ok ? plain : health_colour(Health::fault)});
    items.push_back({"Journal: " + std::to_string(bar.journal_backlog),
                     bar.journal_backlog > 100 ? health_colour(Health::degraded) : plain});
    items.push_back({std::string("Temp: ") + health_word(bar.sensor), health_colour(bar.sensor)});
    items.push_back({std::string("Net: ") + health_word(bar.network), health_colour(bar.network)});
    if (bar.disk_low) items.push_back({"Disk: LOW", health_colour(Health::fault)});
    if (!bar.clock.empty()) items.push_back({bar.clock, plain});
    // Everything on one line: the font shrinks until the items and their gaps fit.
    int th = text_h, gap = bar_h / 2;
    auto width_of = [&](int height) {
        int total = 0, baseline = 0;
        for (const auto& it : items) total += ft.getTextSize(it.first, height, -1, &baseline).width;
        return total + gap * static_cast<int>(items.size() - 1) + margin;
    };
    while (th > 8 && width_of(th) > w) th = th * 9 / 10;
    int x = margin / 2;
    for (std::size_t i = 0; i < items.size(); ++i) {
        const auto& [text, colour] = items[i];
        int baseline = 0;
        const int tw = ft.getTextSize(text, th, -1, &baseline).width;
        // The clock keeps the right edge.
        if (!bar.clock.empty() && i + 1 == items.size()) x = std::max(x, w - tw - margin / 2);
        draw_left(ft, img, text, x, ty + (text_h - th) / 2, th, colour);
        x += tw + gap;
    }

    // The body: verdict with its shape, or the viewfinder (screen_body.cpp).
    draw_body(ft, img, model, bar_h);
    return img;
}

}  // namespace cp::display
