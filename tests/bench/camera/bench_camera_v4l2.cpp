// bench_camera_v4l2: what the direct V4L2 backend costs at 1280x720.
//   memory: the process's resident set before the source is opened and while
//     it streams (a frame held), on the simulated device, whose buffers are
//     ordinary memory touched in full, as a driver's mmap buffers are once
//     mapped; the difference is the buffers + the frame + libjpeg's state.
//   time: next_frame() per frame (MJPEG: libjpeg to gray8; YUYV: luma copy;
//     both include the simulated device copying the payload into a buffer),
//     beside the baseline cv::imdecode(IMREAD_GRAYSCALE) of the same JPEG and
//     cv::cvtColor(YUV2GRAY_YUYV) of the same YUYV bytes, in the same run.
#include "drivers/camera/v4l2_io.hpp"
#include "tests/bench/bench.hpp"
#include "tests/drivers/sim_v4l2.hpp"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <cstdio>
#include <fstream>
#include <string>

namespace {

long status_kib(const char* field) {
    std::ifstream in("/proc/self/status");
    for (std::string line; std::getline(in, line);)
        if (line.rfind(field, 0) == 0) return std::stol(line.substr(line.find(':') + 1));
    return -1;
}

cv::Mat test_scene() {
    cv::Mat m(720, 1280, CV_8UC3);
    cv::randu(m, cv::Scalar::all(60), cv::Scalar::all(200));
    cv::GaussianBlur(m, m, cv::Size(9, 9), 3);  // camera-like, not white noise
    cv::rectangle(m, {400, 150}, {880, 630}, cv::Scalar::all(250), cv::FILLED);
    for (int i = 0; i < 24; ++i)
        cv::rectangle(m, {420 + i * 19, 170 + (i * 37) % 400}, {436 + i * 19, 186 + (i * 37) % 400}, cv::Scalar::all(10),
                      cv::FILLED);
    return m;
}

void run(const char* fourcc, std::vector<std::uint8_t> payload, const std::function<void()>& baseline) {
    auto dev = std::make_shared<cp::testing::SimV4l2>();
    dev->payload = [&payload](std::uint32_t) { return payload; };
    cp::camera::V4l2Config c;
    c.fourcc = fourcc;
    c.fps = 30;
    const long before = status_kib("VmRSS");
    auto cam = cp::camera::detail::open_v4l2_with(c, dev).value();
    auto first = cam->next_frame(1000);
    if (!first) {
        std::printf("%s: %s\n", fourcc, first.error().describe().c_str());
        return;
    }
    const long streaming = status_kib("VmRSS");
    const std::size_t sizeimage = dev->format().sizeimage;
    std::printf("\n%s 1280x720 (%s), frame %zu bytes\n", fourcc, cam->describe().c_str(), payload.size());
    std::printf("  resident set added while streaming: %.2f MiB (before %.1f MiB, streaming %.1f MiB)\n",
                static_cast<double>(streaming - before) / 1024.0, static_cast<double>(before) / 1024.0,
                static_cast<double>(streaming) / 1024.0);
    std::printf("  of which: %u buffers x sizeimage %zu = %.2f MiB, gray8 frame %.2f MiB\n",
                cp::camera::detail::kV4l2Buffers, sizeimage,
                static_cast<double>(cp::camera::detail::kV4l2Buffers * sizeimage) / 1048576.0,
                static_cast<double>(first->pixels.size()) / 1048576.0);
    const auto ours = cp::bench::measure(200, 10, [&] {
        auto f = cam->next_frame(1000);
        if (!f) std::abort();
    });
    const auto base = cp::bench::measure(200, 10, baseline);
    std::printf("  next_frame -> gray8: median %.2f ms (p95 %.2f)\n", ours.median_us / 1000, ours.p95_us / 1000);
    std::printf("  baseline, same bytes: median %.2f ms (p95 %.2f)\n", base.median_us / 1000, base.p95_us / 1000);
}

}  // namespace

int main() {
    const cv::Mat scene = test_scene();
    std::vector<std::uint8_t> jpeg;
    cv::imencode(".jpg", scene, jpeg, {cv::IMWRITE_JPEG_QUALITY, 85});
    cv::Mat yuv;
    cv::cvtColor(scene, yuv, cv::COLOR_BGR2YUV);
    std::vector<std::uint8_t> yuyv(1280 * 720 * 2);
    for (int y = 0; y < 720; ++y)
        for (int x = 0; x < 1280; ++x) {
            const auto& p = yuv.at<cv::Vec3b>(y, x);
            const std::size_t i = (static_cast<std::size_t>(y) * 1280 + static_cast<std::size_t>(x)) * 2;
            yuyv[i] = p[0];
            yuyv[i + 1] = (x % 2 == 0) ? p[1] : p[2];
        }
    std::printf("bench_camera_v4l2: simulated V4L2 device, 1280x720, 200 frames each\n");
    run("MJPG", jpeg, [&] {
        cv::Mat g = cv::imdecode(jpeg, cv::IMREAD_GRAYSCALE);
        if (g.empty()) std::abort();
    });
    run("YUYV", yuyv, [&] {
        cv::Mat src(720, 1280, CV_8UC2, yuyv.data());
        cv::Mat g;
        cv::cvtColor(src, g, cv::COLOR_YUV2GRAY_YUYV);
    });
    return 0;
}
