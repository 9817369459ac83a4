// libcp_display_window.so: the desktop window (OpenCV highgui, which maps Qt),
// loaded by open_window() only; the device's framebuffer and PNG sinks never map it.
#include <opencv2/core.hpp>
#include <opencv2/highgui.hpp>

#include <string>

extern "C" bool cp_display_window_show(const char* title, const cv::Mat* bgr, std::string* error);

extern "C" __attribute__((visibility("default"))) bool cp_display_window_show(const char* title, const cv::Mat* bgr,
                                                                             std::string* error) {
    try {
        cv::imshow(title, *bgr);
        cv::waitKey(1);  // lets the window system paint
        return true;
    } catch (const cv::Exception& e) {
        *error = e.what();
        return false;
    }
}
