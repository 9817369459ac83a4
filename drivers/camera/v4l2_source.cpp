// V4L2 camera through OpenCV videoio. USB cameras drop off the bus (cable,
// power, ESD at a gate); the source then reopens with exponential backoff
// instead of failing the daemon.
#include "drivers/camera/camera_internal.hpp"

#include "src/common/log.hpp"
#include "src/common/time.hpp"

#include <opencv2/videoio.hpp>

#include <algorithm>

namespace cp::camera {

#ifdef CHECKPOINT_WITH_V4L2
namespace {

class V4l2Source final : public Camera {
public:
    explicit V4l2Source(V4l2Config c) : config_(std::move(c)), backoff_ms_(config_.reconnect_min_ms) {}

    Result<Frame> next_frame(int timeout_ms) override {
        if (!cap_.isOpened()) {
            const std::int64_t now = monotonic_now_ms();
            if (now < retry_at_ms_) {
                detail::sleep_ms(std::min<std::int64_t>(timeout_ms, retry_at_ms_ - now));
                return fail(ErrorKind::unavailable, "device-lost", config_.device);
            }
            if (!try_open()) {
                retry_at_ms_ = monotonic_now_ms() + backoff_ms_;
                backoff_ms_ = std::min(backoff_ms_ * 2, config_.reconnect_max_ms);
                return fail(ErrorKind::unavailable, "device-lost",
                            config_.device + ": cannot open, retry in " +
                                std::to_string(backoff_ms_) + " ms");
            }
            backoff_ms_ = config_.reconnect_min_ms;
            log::info("camera", "opened", {{"device", config_.device}});
        }
        cv::Mat img;
        bool ok = false;
        try {
            // The read blocks for at most the driver's select() timeout; OpenCV's
            // V4L2 backend gives up after a few seconds without a frame.
            ok = cap_.read(img) && !img.empty();
        } catch (const cv::Exception& e) {
            log::warn("camera", "read failed", {{"device", config_.device}, {"error", e.what()}});
        }
        if (!ok) {
            cap_.release();
            retry_at_ms_ = monotonic_now_ms() + backoff_ms_;
            log::warn("camera", "device lost", {{"device", config_.device}});
            return fail(ErrorKind::unavailable, "device-lost", config_.device);
        }
        return detail::frame_from_mat(img, sequence_++, monotonic_now_ms());
    }

    std::string describe() const override {
        return "v4l2:" + config_.device + " " + std::to_string(config_.width) + "x" +
               std::to_string(config_.height) + " " + config_.fourcc + "@" +
               std::to_string(static_cast<int>(config_.fps));
    }

private:
    bool try_open() {
        try {
            if (!cap_.open(config_.device, cv::CAP_V4L2)) return false;
            const auto& f = config_.fourcc;
            cap_.set(cv::CAP_PROP_FOURCC, cv::VideoWriter::fourcc(f[0], f[1], f[2], f[3]));
            cap_.set(cv::CAP_PROP_FRAME_WIDTH, config_.width);
            cap_.set(cv::CAP_PROP_FRAME_HEIGHT, config_.height);
            cap_.set(cv::CAP_PROP_FPS, config_.fps);
            // Keep latency low: a stale queued frame shows the previous person.
            cap_.set(cv::CAP_PROP_BUFFERSIZE, 1);
            return cap_.isOpened();
        } catch (const cv::Exception& e) {
            log::warn("camera", "open failed", {{"device", config_.device}, {"error", e.what()}});
            cap_.release();
            return false;
        }
    }

    V4l2Config config_;
    cv::VideoCapture cap_;
    int backoff_ms_;
    std::int64_t retry_at_ms_ = 0;
    std::uint64_t sequence_ = 0;
};

}  // namespace
#endif

Result<std::unique_ptr<Camera>> open_v4l2(const V4l2Config& config) {
    if (config.fourcc.size() != 4)
        return fail(ErrorKind::config, "camera", "fourcc must be 4 characters");
    if (config.width < 160 || config.height < 120 || config.width > 7680 || config.height > 4320)
        return fail(ErrorKind::config, "camera", "width/height outside 160x120..7680x4320");
    if (!(config.fps > 0 && config.fps <= 240))
        return fail(ErrorKind::config, "camera", "fps must be in (0, 240]");
    if (config.reconnect_min_ms < 10 || config.reconnect_max_ms < config.reconnect_min_ms)
        return fail(ErrorKind::config, "camera", "reconnect_min_ms >= 10 and <= reconnect_max_ms");
#ifdef CHECKPOINT_WITH_V4L2
    return std::unique_ptr<Camera>(new V4l2Source(config));
#else
    return fail(ErrorKind::unavailable, "v4l2-disabled", "built without CHECKPOINT_WITH_V4L2");
#endif
}

}  // namespace cp::camera
