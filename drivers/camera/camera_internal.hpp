// Shared by the camera backends; not part of the interface.
#pragma once

#include "drivers/camera/camera.hpp"

#include <opencv2/core.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace cp::camera::detail {

// Copies a BGR8 or gray8 Mat into an owned, packed Frame.
Frame frame_from_mat(const cv::Mat& mat, std::uint64_t sequence, std::int64_t timestamp_ms);

// Paces frames at a fixed rate against CLOCK_MONOTONIC.
class Pacer {
public:
    explicit Pacer(double fps) : fps_(fps) {}
    // Sleeps until frame `index` is due. Returns false (after sleeping
    // timeout_ms) when it is not due within timeout_ms.
    bool wait_for(std::uint64_t index, int timeout_ms);
    std::int64_t due_ms(std::uint64_t index);

private:
    double fps_;
    std::int64_t start_ms_ = -1;
};

void sleep_ms(std::int64_t ms);

// OpenCV videoio and imgcodecs, which map GStreamer, FFmpeg, GDAL, GDCM and
// more into the process, live in the plugin libcp_camera_videoio.so and are
// loaded only when a video file or a non-PNG image is opened. The V4L2 camera
// does not use it (v4l2_source.cpp talks to the kernel directly).
// The plugin catches every cv::Exception and reports it in `error`.
class CvCapture {
public:
    virtual ~CvCapture() = default;
    virtual bool open_file(const std::string& path, std::string& error) = 0;  // FFmpeg
    virtual bool read(cv::Mat& frame, std::string& error) = 0;
    virtual bool is_open() const = 0;
    virtual void release() = 0;
};
// Errors: unavailable/"plugin" when the plugin cannot be loaded.
Result<std::unique_ptr<CvCapture>> new_cv_capture();
// cv::imdecode(bytes, IMREAD_COLOR) through the plugin. The caller checks the
// header first (src/imagefile/image_header.hpp). Errors: unavailable/"plugin";
// io/"frame" when the bytes cannot be decoded.
Result<cv::Mat> cv_imdecode(std::span<const std::uint8_t> bytes);

inline constexpr const char* kVideoioPlugin = "cp_camera_videoio";

}  // namespace cp::camera::detail

// The plugin's entry points (C linkage, looked up with dlsym).
extern "C" cp::camera::detail::CvCapture* cp_camera_videoio_new_capture();
extern "C" bool cp_camera_videoio_imdecode(const std::uint8_t* data, std::size_t size, cv::Mat* out,
                                           std::string* error);

namespace cp::camera::detail {

}  // namespace cp::camera::detail
