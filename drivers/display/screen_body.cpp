// Layout of the body, in fractions of the screen height (readable from two
// metres on 800x480 and 1920x1080 alike):
//   verdict   shape + Chinese words at 20 %, English at 8 %, then masked name ·
//             pass kind · temperature, the reason, and on a plate mismatch both
//             plates side by side.
//   idle      the prompt (10 %), the camera picture fitted between it and the
//             hint band (12 %), the aiming box over the picture.
// The shapes carry the verdict without colour (colour-blind guards, direct sun):
// GREEN a tick in a ring, YELLOW an exclamation mark in a triangle, RED a cross
// in a ring. They are drawn with lines, not glyphs, so no font can lose them.
#include "drivers/display/screen_body.hpp"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace cp::display {

const char* hint_zh(Hint h) {
    switch (h) {
    case Hint::move_closer: return "请靠近";
    case Hint::hold_still: return "请保持不动";
    case Hint::glare: return "请调低亮度 / 避开反光";
    case Hint::none: break;
    }
    return "";
}

const char* hint_en(Hint h) {
    switch (h) {
    case Hint::move_closer: return "Move closer";
    case Hint::hold_still: return "Hold still";
    case Hint::glare: return "Turn the screen down / avoid reflections";
    case Hint::none: break;
    }
    return "";
}

namespace {

struct Words {
    const char* zh;
    const char* en;
};

Words verdict_words(Verdict v) {
    switch (v) {
    case Verdict::green: return {"绿色 通行", "GREEN — PASS"};
    case Verdict::red: return {"红色 禁止通行", "RED — NO ENTRY"};
    case Verdict::yellow: return {"黄色 人工核验", "YELLOW — CHECK BY HAND"};
    case Verdict::idle: return {"请出示通行码", "Show your pass"};
    }
    return {"", ""};
}

// Font height (px, from `height` down) at which `text` fits `max_w`.
int fitted_height(cv::freetype::FreeType2& ft, const std::string& text, int height, int max_w) {
    int h = height;
    int baseline = 0;
    while (h > 8 && ft.getTextSize(text, h, -1, &baseline).width > max_w) h = h * 9 / 10;
    return h;
}

// Draws `text` centred on x = cx with its top at `top`, shrinking the font until
// it fits `max_w`. Returns the bottom of the drawn text.
int draw_centred(cv::freetype::FreeType2& ft, cv::Mat& img, const std::string& text, int cx, int top,
                 int height, int max_w, const cv::Scalar& colour) {
    if (text.empty()) return top;
    const int h = fitted_height(ft, text, height, max_w);
    int baseline = 0;
    const cv::Size size = ft.getTextSize(text, h, -1, &baseline);
    ft.putText(img, text, cv::Point(cx - size.width / 2, top + size.height), h, colour, -1, cv::LINE_AA, true);
    return top + size.height + baseline;
}

void draw_verdict(cv::freetype::FreeType2& ft, cv::Mat& img, const ScreenModel& model, int top) {
    const int w = img.cols, h = img.rows;
    const int margin = w / 32;
    // Dark text on yellow, white elsewhere: contrast, not decoration.
    const cv::Scalar ink = model.verdict == Verdict::yellow ? cv::Scalar(20, 20, 20) : cv::Scalar(255, 255, 255);
    const Words words = model.verdict == Verdict::idle && !model.prompt_zh.empty()
                            ? Words{model.prompt_zh.c_str(), model.prompt_en.c_str()}
                            : verdict_words(model.verdict);
    int y = top + h * 8 / 100;
    // Shape + Chinese words, centred together.
    const bool shape = model.verdict != Verdict::idle;
    const int word_h = h * 20 / 100;
    const int shape_s = shape ? word_h * 95 / 100 : 0;
    const int gap = shape ? word_h / 4 : 0;
    const int th = fitted_height(ft, words.zh, word_h, w - 2 * margin - shape_s - gap);
    int baseline = 0;
    const cv::Size ts = ft.getTextSize(words.zh, th, -1, &baseline);
    const int x0 = (w - (shape_s + gap + ts.width)) / 2;
    if (shape) draw_shape(img, model.verdict, cv::Point(x0, y + (ts.height - shape_s) / 2 + ts.height / 12), shape_s, ink);
    ft.putText(img, words.zh, cv::Point(x0 + shape_s + gap, y + ts.height), th, ink, -1, cv::LINE_AA, true);
    y += std::max(ts.height + baseline, shape_s);
    y = draw_centred(ft, img, words.en, w / 2, y + h * 2 / 100, h * 8 / 100, w - 2 * margin, ink);

    // Details: who (masked), what pass, temperature, why.
    y += h * 5 / 100;
    const int line_h = h * 6 / 100;
    std::string who = model.masked_name;
    if (!model.pass_kind.empty()) who += (who.empty() ? "" : "  ·  ") + model.pass_kind;
    if (model.temperature_c) {
        char t[32];
        std::snprintf(t, sizeof t, "%.1f °C", *model.temperature_c);
        who += (who.empty() ? "" : "  ·  ") + std::string(t);
    }
    y = draw_centred(ft, img, who, w / 2, y, line_h, w - 2 * margin, ink);
    y = draw_centred(ft, img, model.reason, w / 2, y + h * 2 / 100, line_h, w - 2 * margin, ink);
    if (!model.typed_plate.empty() || !model.pass_plate.empty()) {
        // Two boxes: what the inspector typed, what the pass says.
        const int box_w = (w - 3 * margin) / 2, box_h = h * 13 / 100;
        const int by = std::min(h - box_h - 1, std::max(y + h / 100, h - box_h - h / 25));  // at the bottom
        const std::pair<std::string, std::string> sides[] = {{"输入 Typed", model.typed_plate},
                                                             {"通行证 Pass", model.pass_plate}};
        for (int i = 0; i < 2; ++i) {
            const cv::Rect r(margin + i * (box_w + margin), by, box_w, box_h);
            cv::rectangle(img, r, ink, std::max(2, h / 240), cv::LINE_AA);
            const int ly = draw_centred(ft, img, sides[i].first, r.x + r.width / 2, r.y + box_h / 12, box_h * 30 / 100,
                                        box_w - margin, ink);
            draw_centred(ft, img, sides[i].second.empty() ? "—" : sides[i].second, r.x + r.width / 2, ly,
                         box_h * 45 / 100, box_w - margin, ink);
        }
        draw_centred(ft, img, "≠", w / 2, by + box_h / 6, box_h * 60 / 100, margin * 2, ink);
    }
}

void draw_viewfinder(cv::freetype::FreeType2& ft, cv::Mat& img, const ScreenModel& model, int top) {
    const int w = img.cols, h = img.rows;
    const int margin = w / 32;
    const cv::Scalar ink(255, 255, 255);
    const std::string zh = model.prompt_zh.empty() ? "请出示通行码" : model.prompt_zh;
    const std::string en = model.prompt_en.empty() ? "Show your pass" : model.prompt_en;
    int y = draw_centred(ft, img, zh + "  " + en, w / 2, top + h / 100, h * 9 / 100, w - 2 * margin, ink);
    const int band_h = h * 12 / 100;
    const int body_top = y + h / 100, body_bottom = h - band_h - h / 100;
    const int max_w = w - 2 * margin, max_h = std::max(1, body_bottom - body_top);

    // The picture, fitted and centred.
    const cv::Mat& p = model.preview;
    const double f = std::min(static_cast<double>(max_w) / p.cols, static_cast<double>(max_h) / p.rows);
    const int pw = std::max(1, static_cast<int>(p.cols * f)), ph = std::max(1, static_cast<int>(p.rows * f));
    const cv::Rect area((w - pw) / 2, body_top + (max_h - ph) / 2, pw, ph);
    cv::Mat fitted;
    cv::resize(p, fitted, area.size(), 0, 0, f < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
    if (!fitted.empty()) fitted.copyTo(img(area));

    // The aiming box (the same centred square, 70 % of the shorter side, that
    // the hints measure): corner brackets, bright on any picture.
    const int side = std::min(pw, ph) * 7 / 10;
    const cv::Rect box(area.x + (pw - side) / 2, area.y + (ph - side) / 2, side, side);
    const int arm = side / 5, t = std::max(3, h / 120);
    const cv::Scalar aim(120, 230, 0);
    const cv::Point corners[] = {box.tl(), {box.x + box.width, box.y}, box.br(), {box.x, box.y + box.height}};
    const int dx[] = {1, -1, -1, 1}, dy[] = {1, 1, -1, -1};
    for (int i = 0; i < 4; ++i) {
        cv::line(img, corners[i], corners[i] + cv::Point(dx[i] * arm, 0), aim, t, cv::LINE_AA);
        cv::line(img, corners[i], corners[i] + cv::Point(0, dy[i] * arm), aim, t, cv::LINE_AA);
    }

    // The hint band: a yellow bar with dark words while a hint holds; otherwise how to aim.
    const cv::Rect band(0, h - band_h, w, band_h);
    if (model.hint != Hint::none) {
        cv::rectangle(img, band, verdict_colour(Verdict::yellow), cv::FILLED);
        draw_centred(ft, img, std::string(hint_zh(model.hint)) + "  " + hint_en(model.hint), w / 2,
                     band.y + band_h / 8, band_h * 65 / 100, w - 2 * margin, cv::Scalar(20, 20, 20));
    } else {
        draw_centred(ft, img, "将二维码对准方框  Hold the code inside the box", w / 2, band.y + band_h / 6,
                     band_h * 50 / 100, w - 2 * margin, ink);
    }
}

}  // namespace

void draw_shape(cv::Mat& img, Verdict v, cv::Point at, int s, const cv::Scalar& ink) {
    const int t = std::max(3, s / 9);  // stroke
    const cv::Point c(at.x + s / 2, at.y + s / 2);
    const int r = s / 2 - t / 2;
    auto p = [&](double fx, double fy) { return cv::Point(at.x + static_cast<int>(fx * s), at.y + static_cast<int>(fy * s)); };
    switch (v) {
    case Verdict::green:
        cv::circle(img, c, r, ink, t, cv::LINE_AA);
        cv::line(img, p(0.27, 0.52), p(0.44, 0.70), ink, t, cv::LINE_AA);
        cv::line(img, p(0.44, 0.70), p(0.75, 0.32), ink, t, cv::LINE_AA);
        break;
    case Verdict::red:
        cv::circle(img, c, r, ink, t, cv::LINE_AA);
        cv::line(img, p(0.32, 0.32), p(0.68, 0.68), ink, t, cv::LINE_AA);
        cv::line(img, p(0.68, 0.32), p(0.32, 0.68), ink, t, cv::LINE_AA);
        break;
    case Verdict::yellow: {
        const std::vector<cv::Point> tri{p(0.5, 0.06), p(0.96, 0.92), p(0.04, 0.92)};
        cv::polylines(img, tri, true, ink, t, cv::LINE_AA);
        cv::line(img, p(0.5, 0.36), p(0.5, 0.64), ink, t, cv::LINE_AA);
        cv::circle(img, p(0.5, 0.78), std::max(2, t * 6 / 10), ink, cv::FILLED, cv::LINE_AA);
        break;
    }
    case Verdict::idle: break;
    }
}

void draw_body(cv::freetype::FreeType2& ft, cv::Mat& img, const ScreenModel& model, int top) {
    if (model.verdict == Verdict::idle && !model.preview.empty() && model.preview.type() == CV_8UC3) {
        draw_viewfinder(ft, img, model, top);
    } else {
        draw_verdict(ft, img, model, top);
    }
}

}  // namespace cp::display
