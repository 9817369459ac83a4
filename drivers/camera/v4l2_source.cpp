// V4L2 camera through OpenCV videoio. USB cameras drop off the bus (cable,
// power, ESD at a gate); the source then reopens with exponential backoff
// instead of failing the daemon.
#include "drivers/camera/camera_internal.hpp"

#include "src/common/log.hpp"
#include "src/common/time.hpp"


#include <algorithm>

namespace cp::camera {

#ifdef CHECKPOINT_WITH_V4L2
namespace {

class V4l2Source final : public Camera {
public:
    V4l2Source(V4l2Config c, std::unique_ptr<detail::CvCapture> cap)
        : config_(std::move(c)), cap_(std::move(cap)), backoff_ms_(config_.reconnect_min_ms) {}

    Result<Frame> next_frame(int timeout_ms) override {
        if (!cap_->is_open()) {
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
        std::string error;
        // The read blocks for at most the driver's select() timeout; OpenCV's
        // V4L2 backend gives up after a few seconds without a frame.
        const bool ok = cap_->read(img, error);
        if (!error.empty()) log::warn("camera", "read failed", {{"device", config_.device}, {"error", error}});
        if (!ok) {
            cap_->release();
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
        std::string error;
        const bool ok = cap_->open_v4l2(config_, error);
        if (!error.empty()) log::warn("camera", "open failed", {{"device", config_.device}, {"error", error}});
        return ok;
    }

    V4l2Config config_;
    std::unique_ptr<detail::CvCapture> cap_;
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
    // OpenCV videoio is loaded now, not at start-up (camera_internal.hpp).
    auto cap = detail::new_cv_capture();
    if (!cap) return fail(cap.error());
    return std::unique_ptr<Camera>(new V4l2Source(config, std::move(*cap)));
#else
    return fail(ErrorKind::unavailable, "v4l2-disabled", "built without CHECKPOINT_WITH_V4L2");
#endif
}

}  // namespace cp::camera
