// The sim camera: renders what a gate camera sees when people hold up passes.
// Effects are the ones that make real reads fail — tilt, blur, glare, dim
// screens, sensor noise — so the decode stage is exercised, not flattered.
#include "drivers/camera/camera_internal.hpp"
#include "drivers/camera/reason.hpp"

#include "src/common/log.hpp"

#include <ZXing/BarcodeFormat.h>
#include <ZXing/BitMatrix.h>
#include <ZXing/MultiFormatWriter.h>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <exception>

namespace cp::camera {
namespace {

constexpr double kPi = 3.14159265358979323846;

// The code as black/white modules with a 4-module quiet zone, `px` pixels wide.
// An empty Mat when the text does not fit in a QR code.
cv::Mat render_qr(const std::string& text, int px) {
    try {
        ZXing::MultiFormatWriter writer(ZXing::BarcodeFormat::QRCode);
        writer.setMargin(0);
        ZXing::BitMatrix bits = writer.encode(text, 0, 0);
        const int n = bits.width();
        const int quiet = 4;
        const int modules = n + 2 * quiet;
        const int scale = std::max(1, px / modules);
        cv::Mat small(modules, modules, CV_8UC1, cv::Scalar(255));
        for (int y = 0; y < n; ++y)
            for (int x = 0; x < n; ++x)
                if (bits.get(x, y)) small.at<std::uint8_t>(y + quiet, x + quiet) = 0;
        cv::Mat big;
        cv::resize(small, big, cv::Size(modules * scale, modules * scale), 0, 0,
                   cv::INTER_NEAREST);
        return big;
    } catch (const std::exception& e) {
        // ZXing throws for text beyond QR capacity; the person shows a blank screen.
        log::warn("camera", "sim: cannot render QR", {{"error", e.what()}});
        return {};
    }
}

// The pass as held up: a phone (dark body, lit screen) or a sheet of paper.
cv::Mat render_card(const lane::Person& p, int frame_height, cv::Mat& mask) {
    const int qr_px = std::max(40, static_cast<int>(p.effects.size * frame_height));
    cv::Mat qr = p.qr ? render_qr(*p.qr, qr_px) : cv::Mat();
    if (qr.empty()) qr = cv::Mat(qr_px, qr_px, CV_8UC1, cv::Scalar(235));
    cv::Mat qr_bgr;
    cv::cvtColor(qr, qr_bgr, cv::COLOR_GRAY2BGR);
    const int q = qr_bgr.cols;
    cv::Mat card;
    if (p.medium == lane::Medium::phone) {
        const int w = q * 12 / 10, h = q * 21 / 10, bezel = std::max(4, q / 25);
        card = cv::Mat(h, w, CV_8UC3, cv::Scalar(28, 28, 32));
        cv::Rect screen(bezel, bezel * 3, w - 2 * bezel, h - 6 * bezel);
        // A screen at brightness b shows white as b * (235), black stays slightly lit.
        const double b = std::clamp(p.effects.brightness, 0.1, 1.5);
        cv::Mat scr(screen.size(), CV_8UC3, cv::Scalar(250, 248, 245));
        cv::rectangle(scr, cv::Rect(0, 0, scr.cols, scr.rows / 8), cv::Scalar(190, 120, 40),
                      cv::FILLED);  // app header bar
        qr_bgr.copyTo(scr(cv::Rect((scr.cols - q) / 2, (scr.rows - q) / 2, q, q)));
        scr.convertTo(scr, -1, b * 0.92, 12 * b);
        scr.copyTo(card(screen));
    } else {
        const int w = q * 14 / 10, h = q * 19 / 10;
        card = cv::Mat(h, w, CV_8UC3, cv::Scalar(228, 233, 236));
        qr_bgr.copyTo(card(cv::Rect((w - q) / 2, q / 6, q, q)));
        for (int i = 0; i < 4; ++i) {  // printed lines below the code
            int y = q / 6 + q + q / 10 + i * q / 12;
            if (y + 3 < h)
                cv::line(card, {w / 8, y}, {w * 7 / 8 - i * w / 10, y}, cv::Scalar(90, 90, 90),
                         std::max(1, q / 60));
        }
        card.convertTo(card, -1, std::clamp(p.effects.brightness, 0.1, 1.5), 0);
    }
    mask = cv::Mat(card.size(), CV_8UC1, cv::Scalar(255));
    return card;
}

void render_background(cv::Mat& img) {
    // A gate lane: a wall gradient, two posts and a floor line. No noise here;
    // noise is per frame.
    const int w = img.cols, h = img.rows;
    for (int y = 0; y < h; ++y) {
        auto v = static_cast<std::uint8_t>(150 - 60 * y / h);
        img.row(y).setTo(cv::Scalar(v, v + 5, v + 12));
    }
    cv::rectangle(img, cv::Rect(w / 12, 0, w / 14, h), cv::Scalar(70, 75, 80), cv::FILLED);
    cv::rectangle(img, cv::Rect(w - w / 12 - w / 14, 0, w / 14, h), cv::Scalar(70, 75, 80),
                  cv::FILLED);
    cv::line(img, {0, h * 5 / 6}, {w, h * 5 / 6}, cv::Scalar(60, 60, 60), 3);
}

void motion_blur(cv::Mat& img, double len_px) {
    const int k = std::max(1, static_cast<int>(std::lround(len_px)));
    if (k < 2) return;
    cv::Mat kernel = cv::Mat::zeros(1, k, CV_32F);
    kernel.setTo(1.0f / static_cast<float>(k));
    cv::filter2D(img, img, -1, kernel);
}

}  // namespace

Frame render_lane_frame(const lane::LaneScript& script, std::int64_t frame, int width,
                        int height, std::uint32_t seed) {
    cv::Mat img(height, width, CV_8UC3);
    render_background(img);
    cv::RNG rng(static_cast<std::uint64_t>(seed) * 0x9E3779B97F4A7C15ull +
                static_cast<std::uint64_t>(frame));
    const lane::Position pos = script.at(frame);
    double noise = 2.0;
    if (pos.person >= 0) {
        const lane::Person& p = script.people[static_cast<std::size_t>(pos.person)];
        const lane::Effects& fx = p.effects;
        noise = fx.noise;
        cv::Mat mask;
        cv::Mat card = render_card(p, height, mask);
        const double cw = card.cols, ch = card.rows;
        // Where the centre of the card is: walks in from the right, holds with a
        // small hand tremor, walks out to the left.
        const double progress =
            pos.phase_frames > 0 ? (pos.frame_in_phase + 1.0) / pos.phase_frames : 1.0;
        double cx = width / 2.0, cy = height / 2.0;
        double speed_px = 0;
        const double travel = width / 2.0 + cw;
        if (pos.phase == lane::Phase::arriving) {
            cx += travel * (1.0 - progress);
            speed_px = travel / std::max(1, pos.phase_frames);
        } else if (pos.phase == lane::Phase::leaving) {
            cx -= travel * progress;
            speed_px = travel / std::max(1, pos.phase_frames);
        } else {
            const double t = static_cast<double>(frame) + seed;
            cx += 3.0 * std::sin(t * 0.7);
            cy += 2.0 * std::cos(t * 0.5);
        }
        // Corners of the card after in-plane rotation and a tilt about the vertical
        // axis: the far edge shrinks, the width foreshortens.
        const double tilt = fx.tilt_deg * kPi / 180.0;
        const double rot = fx.rotate_deg * kPi / 180.0;
        const double half_w = cw / 2.0 * std::cos(tilt);
        const double near_h = ch / 2.0, far_h = ch / 2.0 * (1.0 - 0.35 * std::sin(tilt));
        cv::Point2f local[4] = {{static_cast<float>(-half_w), static_cast<float>(-near_h)},
                                {static_cast<float>(half_w), static_cast<float>(-far_h)},
                                {static_cast<float>(half_w), static_cast<float>(far_h)},
                                {static_cast<float>(-half_w), static_cast<float>(near_h)}};
        cv::Point2f dst[4];
        for (int i = 0; i < 4; ++i) {
            const double x = local[i].x, y = local[i].y;
            dst[i] = cv::Point2f(static_cast<float>(cx + x * std::cos(rot) - y * std::sin(rot)),
                                 static_cast<float>(cy + x * std::sin(rot) + y * std::cos(rot)));
        }
        cv::Point2f src[4] = {{0, 0},
                              {static_cast<float>(cw), 0},
                              {static_cast<float>(cw), static_cast<float>(ch)},
                              {0, static_cast<float>(ch)}};
        cv::Mat h = cv::getPerspectiveTransform(src, dst);
        cv::Mat warped, warped_mask;
        cv::warpPerspective(card, warped, h, img.size(), cv::INTER_LINEAR, cv::BORDER_CONSTANT);
        cv::warpPerspective(mask, warped_mask, h, img.size(), cv::INTER_LINEAR,
                            cv::BORDER_CONSTANT);
        // The camera stands still: only the moving pass smears — a walking person
        // over about a third of the 1/fps exposure, plus the hand's own shake.
        // Blurring colour and coverage together blends the smeared edges.
        double smear = speed_px / 3.0;
        if (fx.blur == lane::Blur::motion) smear += fx.blur_px;
        if (smear >= 2) {
            motion_blur(warped, smear);
            motion_blur(warped_mask, smear);
        }
        // Composite in float only where the card covers the frame: outside it
        // alpha is 0 and the pixels stay as they are, so the result is the same
        // as over the whole frame at a fraction of the memory (a 1280x720
        // CV_32FC3 image is 11 MB, and the blend needs several).
        const cv::Rect cover = cv::boundingRect(warped_mask);
        if (!cover.empty()) {
            cv::Mat alpha, alpha3, fimg, fcard;
            warped_mask(cover).convertTo(alpha, CV_32F, 1.0 / 255.0);
            cv::Mat a_planes[3] = {alpha, alpha, alpha};
            cv::merge(a_planes, 3, alpha3);
            cv::Mat under = img(cover);
            under.convertTo(fimg, CV_32FC3);
            warped(cover).convertTo(fcard, CV_32FC3);
            fimg = fimg.mul(cv::Scalar::all(1.0) - alpha3) + fcard.mul(alpha3);
            fimg.convertTo(under, CV_8UC3);
        }
        // Glare: a soft specular spot, off-centre over the code.
        if (fx.glare > 0) {
            cv::Mat spot(img.size(), CV_32FC1, cv::Scalar(0));
            const cv::Point c(static_cast<int>(cx + cw * 0.15), static_cast<int>(cy - ch * 0.1));
            cv::circle(spot, c, static_cast<int>(cw * 0.18), cv::Scalar(1.0), cv::FILLED);
            const int k = static_cast<int>(cw * 0.25) | 1;
            cv::GaussianBlur(spot, spot, cv::Size(k, k), 0);
            cv::Mat spot3;
            cv::Mat planes[3] = {spot, spot, spot};
            cv::merge(planes, 3, spot3);
            cv::Mat f;
            img.convertTo(f, CV_32FC3);
            f += spot3 * (fx.glare * 255.0);
            f.convertTo(img, CV_8UC3);
        }
        // Out of focus: the person stands off the focal plane, so the whole picture
        // near them softens (the wall behind is close enough to share it).
        if (fx.blur == lane::Blur::defocus && fx.blur_px > 0) {
            cv::GaussianBlur(img, img, cv::Size(0, 0), fx.blur_px / 2.0);
        }
    }
    if (noise > 0) {
        cv::Mat n(img.size(), CV_16SC3);
        rng.fill(n, cv::RNG::NORMAL, cv::Scalar::all(0), cv::Scalar::all(noise));
        cv::Mat s;
        img.convertTo(s, CV_16SC3);
        s += n;
        s.convertTo(img, CV_8UC3);
    }
    return detail::frame_from_mat(img, static_cast<std::uint64_t>(frame < 0 ? 0 : frame), 0);
}

namespace {

class SimCamera final : public Camera {
public:
    explicit SimCamera(SimCameraConfig c) : config_(std::move(c)), pacer_(config_.fps) {}

    Result<Frame> next_frame(int timeout_ms) override {
        const std::int64_t total = config_.script.total_frames();
        if (!config_.loop && static_cast<std::int64_t>(sequence_) >= total)
            return fail(ErrorKind::not_found, reason::end_of_stream, "lane script finished");
        if (config_.real_time && !pacer_.wait_for(sequence_, timeout_ms))
            return fail(ErrorKind::unavailable, reason::timeout);
        const std::int64_t lane_frame =
            total > 0 ? static_cast<std::int64_t>(sequence_) % total : 0;
        if (config_.cursor) config_.cursor->set_frame(lane_frame);
        Frame f = render_lane_frame(config_.script, lane_frame, config_.width, config_.height,
                                    config_.seed);
        f.sequence = sequence_;
        // Lane time: in the as-fast-as-consumed mode the timestamps still advance by
        // 1/fps, so time-based logic downstream sees the lane as it would run.
        f.timestamp_ms = pacer_.due_ms(0) +
                         std::llround(static_cast<double>(sequence_) * 1000.0 / config_.fps);
        ++sequence_;
        return f;
    }

    std::string describe() const override {
        return "sim:" + std::to_string(config_.script.people.size()) + " people " +
               std::to_string(config_.width) + "x" + std::to_string(config_.height) + "@" +
               std::to_string(static_cast<int>(config_.fps)) +
               (config_.real_time ? " real-time" : " fast");
    }

private:
    SimCameraConfig config_;
    detail::Pacer pacer_;
    std::uint64_t sequence_ = 0;
};

}  // namespace

Result<std::unique_ptr<Camera>> open_sim(const SimCameraConfig& config) {
    if (!(config.fps > 0 && config.fps <= 240))
        return fail(ErrorKind::config, reason::camera, "sim fps must be in (0, 240]");
    if (config.width < 160 || config.height < 120 || config.width > 3840 ||
        config.height > 2160)
        return fail(ErrorKind::config, reason::camera, "sim frame size outside 160x120..3840x2160");
    return std::unique_ptr<Camera>(new SimCamera(config));
}

}  // namespace cp::camera
