#include "drivers/camera/camera_internal.hpp"
#include "drivers/camera/reason.hpp"

#include "drivers/plugin/plugin.hpp"
#include "src/common/time.hpp"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <thread>

namespace cp::camera::detail {

Frame frame_from_mat(const cv::Mat& mat, std::uint64_t sequence, std::int64_t timestamp_ms) {
    cv::Mat src = mat;
    if (mat.type() == CV_8UC4) cv::cvtColor(mat, src, cv::COLOR_BGRA2BGR);
    Frame f;
    f.width = src.cols;
    f.height = src.rows;
    f.format = src.channels() == 1 ? PixelFormat::gray8 : PixelFormat::bgr8;
    const auto row = static_cast<std::size_t>(src.cols) * static_cast<std::size_t>(src.channels());
    f.stride = static_cast<int>(row);
    f.pixels.resize(row * static_cast<std::size_t>(src.rows));
    for (int y = 0; y < src.rows; ++y)
        std::memcpy(f.pixels.data() + row * static_cast<std::size_t>(y), src.ptr(y), row);
    f.sequence = sequence;
    f.timestamp_ms = timestamp_ms;
    return f;
}

std::int64_t Pacer::due_ms(std::uint64_t index) {
    if (start_ms_ < 0) start_ms_ = monotonic_now_ms();
    if (fps_ <= 0) return monotonic_now_ms();
    return start_ms_ + std::llround(static_cast<double>(index) * 1000.0 / fps_);
}

bool Pacer::wait_for(std::uint64_t index, int timeout_ms) {
    const std::int64_t due = due_ms(index);
    const std::int64_t now = monotonic_now_ms();
    if (due - now > timeout_ms) {
        sleep_ms(timeout_ms);
        return false;
    }
    sleep_ms(due - now);
    return true;
}

Result<std::unique_ptr<CvCapture>> new_cv_capture() {
    decltype(cp_camera_videoio_new_capture)* fn = nullptr;
    if (auto s = plugin::plugin_function(kVideoioPlugin, "cp_camera_videoio_new_capture", fn); !s) return fail(s.error());
    return std::unique_ptr<CvCapture>(fn());
}

Result<cv::Mat> cv_imdecode(std::span<const std::uint8_t> bytes) {
    decltype(cp_camera_videoio_imdecode)* fn = nullptr;
    if (auto s = plugin::plugin_function(kVideoioPlugin, "cp_camera_videoio_imdecode", fn); !s) return fail(s.error());
    cv::Mat img;
    std::string error = "cannot decode";
    if (!fn(bytes.data(), bytes.size(), &img, &error)) return fail(ErrorKind::io, reason::frame, error);
    return img;
}

void sleep_ms(std::int64_t ms) {
    if (ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

}  // namespace cp::camera::detail
