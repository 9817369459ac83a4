// libcp_camera_videoio.so: OpenCV videoio and imgcodecs behind the small
// interface of camera_internal.hpp, loaded by the camera only when needed.
#include "drivers/camera/camera_internal.hpp"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/videoio.hpp>

namespace {

class Capture final : public cp::camera::detail::CvCapture {
public:
    bool open_file(const std::string& path, std::string& error) override {
        try {
            // FFmpeg only: CAP_ANY would also probe camera backends (dc1394,
            // gphoto2) with a file name, slowly and with leaks in them.
            return cap_.open(path, cv::CAP_FFMPEG) && cap_.isOpened();
        } catch (const cv::Exception& e) {
            error = e.what();
            return false;
        }
    }
    bool read(cv::Mat& frame, std::string& error) override {
        try {
            return cap_.read(frame) && !frame.empty();
        } catch (const cv::Exception& e) {
            error = e.what();
            return false;
        }
    }
    bool is_open() const override { return cap_.isOpened(); }
    void release() override { cap_.release(); }

private:
    cv::VideoCapture cap_;
};

}  // namespace

extern "C" __attribute__((visibility("default"))) cp::camera::detail::CvCapture* cp_camera_videoio_new_capture() {
    return new Capture();
}

extern "C" __attribute__((visibility("default"))) bool cp_camera_videoio_imdecode(const std::uint8_t* data,
                                                                                std::size_t size, cv::Mat* out,
                                                                                std::string* error) {
    try {
        const cv::Mat encoded(1, static_cast<int>(size), CV_8U, const_cast<std::uint8_t*>(data));
        *out = cv::imdecode(encoded, cv::IMREAD_COLOR | cv::IMREAD_IGNORE_ORIENTATION);
        return !out->empty();
    } catch (const cv::Exception& e) {
        *error = e.what();
        return false;
    }
}
