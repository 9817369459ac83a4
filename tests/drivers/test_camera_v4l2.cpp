// The direct V4L2 backend against a simulated device (tests/drivers/sim_v4l2.hpp):
// format negotiation, mmap streaming, YUYV and MJPEG to gray8, faults, device
// loss and reconnection with backoff, and nothing left open or mapped.
#include "drivers/camera/camera.hpp"
#include "drivers/camera/v4l2_io.hpp"
#include "src/common/time.hpp"
#include "src/decode/decoder.hpp"
#include "tests/drivers/sim_v4l2.hpp"

#include <doctest/doctest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <fcntl.h>
#include <sys/mman.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

using namespace cp;
using namespace cp::camera;
using cp::testing::SimV4l2;

namespace {

const std::string kPass = "CP1:V4L2-TEST-PASS-0123456789";

// A lane frame (BGR) with a pass held still and sharp in front of the camera.
cv::Mat pass_scene(int w, int h) {
    lane::LaneScript script;
    script.lead_frames = 0;
    lane::Person p;
    p.qr = kPass;
    p.medium = lane::Medium::paper;
    p.arrive_frames = 1;
    p.hold_frames = 3;
    script.people.push_back(p);
    Frame f = render_lane_frame(script, 2, w, h, 3);
    return cv::Mat(f.height, f.width, CV_8UC3, f.pixels.data(), static_cast<std::size_t>(f.stride)).clone();
}

std::vector<std::uint8_t> jpeg_of(const cv::Mat& bgr, std::vector<int> params = {}) {
    std::vector<std::uint8_t> out;
    REQUIRE(cv::imencode(".jpg", bgr, out, params));
    return out;
}

// YUYV rows with the luma of `bgr` and neutral chroma.
std::vector<std::uint8_t> yuyv_of(const cv::Mat& bgr) {
    cv::Mat gray;
    cv::cvtColor(bgr, gray, cv::COLOR_BGR2GRAY);
    std::vector<std::uint8_t> out(static_cast<std::size_t>(gray.total()) * 2);
    for (int y = 0; y < gray.rows; ++y)
        for (int x = 0; x < gray.cols; ++x) {
            const std::size_t i = (static_cast<std::size_t>(y) * static_cast<std::size_t>(gray.cols) + static_cast<std::size_t>(x)) * 2;
            out[i] = gray.at<std::uint8_t>(y, x);
            out[i + 1] = 128;
        }
    return out;
}

// An MJPEG frame as UVC cameras send it: no Huffman tables (DHT segments).
std::vector<std::uint8_t> without_huffman_tables(const std::vector<std::uint8_t>& jpeg) {
    std::vector<std::uint8_t> out(jpeg.begin(), jpeg.begin() + 2);
    std::size_t i = 2;
    while (i + 4 <= jpeg.size() && jpeg[i] == 0xFF && jpeg[i + 1] != 0xDA) {
        const std::size_t len = static_cast<std::size_t>(jpeg[i + 2]) << 8 | jpeg[i + 3];
        if (jpeg[i + 1] != 0xC4) out.insert(out.end(), jpeg.begin() + static_cast<long>(i), jpeg.begin() + static_cast<long>(i + 2 + len));
        i += 2 + len;
    }
    out.insert(out.end(), jpeg.begin() + static_cast<long>(i), jpeg.end());
    return out;
}

V4l2Config config(int w, int h, const std::string& fourcc) {
    V4l2Config c;
    c.width = w;
    c.height = h;
    c.fourcc = fourcc;
    c.fps = 30;
    c.reconnect_min_ms = 20;
    c.reconnect_max_ms = 80;
    return c;
}

std::unique_ptr<Camera> open_on(const std::shared_ptr<SimV4l2>& dev, const V4l2Config& c) {
    auto cam = detail::open_v4l2_with(c, dev);
    REQUIRE(cam.ok());
    return std::move(*cam);
}

// A camera that sends the same frame bytes again and again.
std::unique_ptr<Camera> open_showing(const std::shared_ptr<SimV4l2>& dev, std::vector<std::uint8_t> bytes, int w, int h,
                                     const std::string& fourcc) {
    dev->payload = [bytes = std::move(bytes)](std::uint32_t) { return bytes; };
    return open_on(dev, config(w, h, fourcc));
}

// A 320x240 YUYV camera showing the same lane frame again and again.
std::unique_ptr<Camera> open_yuyv_320(const std::shared_ptr<SimV4l2>& dev) {
    return open_showing(dev, yuyv_of(pass_scene(320, 240)), 320, 240, "YUYV");
}

std::string reason_of(const Result<Frame>& r) { return r ? std::string("ok") : r.error().reason; }

std::vector<std::string> codes_in(const Frame& f) {
    decode::QrDecoder decoder;
    auto codes = decoder.decode(f.view());
    REQUIRE(codes.ok());
    std::vector<std::string> out;
    for (const auto& c : *codes) out.push_back(c.text);
    return out;
}

std::size_t threads_now() {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/task")) ++n;
    return n;
}

void check_nothing_held(const SimV4l2& dev) {
    CHECK(dev.open_descriptors() == 0);
    CHECK(dev.mappings() == 0);
    CHECK(dev.allocated_buffers() == 0);
    CHECK_FALSE(dev.streaming());
    CHECK(dev.violations.empty());
}

}  // namespace

TEST_CASE("MJPEG 1280x720: the pass in the frame decodes through cp::decode, frames are gray8 in order") {
    auto dev = std::make_shared<SimV4l2>();
    const auto jpeg = jpeg_of(pass_scene(1280, 720));
    dev->payload = [&](std::uint32_t) { return jpeg; };
    const std::size_t threads = threads_now();
    {
        auto cam = open_on(dev, config(1280, 720, "MJPG"));
        CHECK(dev->opens == 0);  // opened on the first next_frame, not before
        for (std::uint64_t i = 0; i < 3; ++i) {
            const std::int64_t before = monotonic_now_ms();
            auto f = cam->next_frame(500);
            REQUIRE(f.ok());
            CHECK(f->sequence == i);
            CHECK(f->width == 1280);
            CHECK(f->height == 720);
            CHECK(f->stride == 1280);
            CHECK(f->format == decode::PixelFormat::gray8);
            CHECK(f->pixels.size() == 1280u * 720u);
            CHECK(f->timestamp_ms >= before);
            CHECK(f->timestamp_ms <= monotonic_now_ms());
            if (i == 0) CHECK(codes_in(*f) == std::vector<std::string>{kPass});
        }
        CHECK(cam->describe() == "v4l2:/dev/video0 1280x720 MJPG@30 3x1843200 B mmap");
        CHECK(dev->open_descriptors() == 1);
        CHECK(dev->mappings() == static_cast<int>(detail::kV4l2Buffers));
        CHECK(threads_now() == threads);  // no thread of its own
    }
    check_nothing_held(*dev);
}

TEST_CASE("MJPEG without Huffman tables, as UVC cameras send it, decodes") {
    auto dev = std::make_shared<SimV4l2>();
    const auto jpeg = without_huffman_tables(jpeg_of(pass_scene(640, 480)));
    REQUIRE(jpeg.size() < jpeg_of(pass_scene(640, 480)).size());
    auto cam = open_showing(dev, jpeg, 640, 480, "MJPG");
    auto f = cam->next_frame(500);
    REQUIRE(f.ok());
    CHECK(codes_in(*f) == std::vector<std::string>{kPass});
}

TEST_CASE("YUYV: the frame is the luma, byte for byte, and the pass decodes") {
    auto dev = std::make_shared<SimV4l2>();
    const cv::Mat scene = pass_scene(640, 480);
    const auto yuyv = yuyv_of(scene);
    dev->payload = [&](std::uint32_t) { return yuyv; };
    auto cam = open_on(dev, config(640, 480, "YUYV"));
    auto f = cam->next_frame(500);
    REQUIRE(f.ok());
    CHECK(dev->format().pixelformat == V4L2_PIX_FMT_YUYV);
    cv::Mat gray;
    cv::cvtColor(scene, gray, cv::COLOR_BGR2GRAY);
    CHECK(std::equal(f->pixels.begin(), f->pixels.end(), gray.data));
    CHECK(codes_in(*f) == std::vector<std::string>{kPass});
    CHECK(cam->describe() == "v4l2:/dev/video0 640x480 YUYV@30 3x614400 B mmap");
}

TEST_CASE("GREY frames are copied as they are") {
    auto dev = std::make_shared<SimV4l2>();
    std::vector<std::uint8_t> grey(320 * 240);
    for (std::size_t i = 0; i < grey.size(); ++i) grey[i] = static_cast<std::uint8_t>(i * 7);
    auto cam = open_showing(dev, grey, 320, 240, "GREY");
    auto f = cam->next_frame(500);
    REQUIRE(f.ok());
    CHECK(f->pixels == grey);
}

TEST_CASE("the size and format the driver returns are used and reported") {
    auto dev = std::make_shared<SimV4l2>();
    dev->max_width = 640;
    dev->max_height = 360;
    dev->formats = {V4L2_PIX_FMT_YUYV};  // asked MJPG, the driver gives YUYV
    const auto yuyv = yuyv_of(pass_scene(640, 360));
    dev->payload = [&](std::uint32_t) { return yuyv; };
    auto cam = open_on(dev, config(1280, 720, "MJPG"));
    CHECK(cam->describe() == "v4l2:/dev/video0 1280x720 MJPG@30");  // configured, not open yet
    auto f = cam->next_frame(500);
    REQUIRE(f.ok());
    CHECK(f->width == 640);
    CHECK(f->height == 360);
    CHECK(cam->describe() == "v4l2:/dev/video0 640x360 YUYV@30 3x460800 B mmap");
}

TEST_CASE("a format the backend cannot convert is a typed config error, nothing left open") {
    auto dev = std::make_shared<SimV4l2>();
    dev->forced_format = V4L2_PIX_FMT_H264;
    auto cam = open_on(dev, config(640, 480, "MJPG"));
    auto f = cam->next_frame(100);
    REQUIRE_FALSE(f.ok());
    CHECK(f.error().kind == ErrorKind::config);
    CHECK(f.error().is(cp::camera::reason::camera_format));
    CHECK(f.error().message.find("H264") != std::string::npos);
    check_nothing_held(*dev);
    // Until the next attempt the same error, without opening the node again.
    auto again = cam->next_frame(5);
    REQUIRE_FALSE(again.ok());
    CHECK(again.error().is(cp::camera::reason::camera_format));
    CHECK(dev->opens == 1);
}

TEST_CASE("sizeimage or bytesperline the format cannot hold is refused") {
    auto dev = std::make_shared<SimV4l2>();
    dev->forced_sizeimage = 1000;  // a 640x480 YUYV image needs 614400 bytes
    auto cam = open_on(dev, config(640, 480, "YUYV"));
    auto f = cam->next_frame(100);
    REQUIRE_FALSE(f.ok());
    CHECK(f.error().is(cp::camera::reason::camera_format));
    check_nothing_held(*dev);
}

TEST_CASE("a node without capture or without streaming is a typed config error") {
    for (std::uint32_t caps : {std::uint32_t{V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_READWRITE},
                               std::uint32_t{V4L2_CAP_META_CAPTURE | V4L2_CAP_STREAMING}}) {
        auto dev = std::make_shared<SimV4l2>();
        dev->capabilities = caps;
        auto cam = open_on(dev, config(640, 480, "MJPG"));
        auto f = cam->next_frame(100);
        REQUIRE_FALSE(f.ok());
        CHECK(f.error().kind == ErrorKind::config);
        CHECK(f.error().is(cp::camera::reason::camera_device));
        check_nothing_held(*dev);
    }
}

TEST_CASE("corrupt, truncated and oversized frames are io/frame and the next frame is fine") {
    auto dev = std::make_shared<SimV4l2>();
    const auto good = jpeg_of(pass_scene(640, 480));
    auto corrupt = good;
    for (std::size_t i = good.size() / 3; i < good.size() / 3 + 400; ++i) corrupt[i] = static_cast<std::uint8_t>(i * 31);
    const std::vector<std::uint8_t> truncated(good.begin(), good.begin() + static_cast<long>(good.size() / 2));
    const auto other_size = jpeg_of(pass_scene(320, 240));
    const auto progressive = jpeg_of(pass_scene(640, 480), {cv::IMWRITE_JPEG_PROGRESSIVE, 1});
    const std::vector<std::uint8_t> garbage(5000, 0x5a);
    std::vector<std::vector<std::uint8_t>> script = {good, corrupt, good, truncated, good, other_size, good,
                                                     progressive, good, garbage, good, {}, good};
    dev->payload = [&](std::uint32_t seq) { return script.at(seq); };
    auto cam = open_on(dev, config(640, 480, "MJPG"));
    std::vector<std::string> seen;
    for (std::size_t i = 0; i < script.size(); ++i) {
        auto f = cam->next_frame(500);
        seen.push_back(reason_of(f));
        if (f.ok()) CHECK(f->sequence == i);
        else CHECK(f.error().kind == ErrorKind::io);
    }
    // Odd positions are the bad ones: every one an error, every even one a frame.
    CHECK(seen == std::vector<std::string>{"ok", "frame", "ok", "frame", "ok", "frame", "ok", "frame", "ok", "frame",
                                           "ok", "frame", "ok"});
    dev->payload = [&](std::uint32_t) { return good; };
    auto after = cam->next_frame(500);
    CHECK(after.ok());
    CHECK(dev->violations.empty());
}

TEST_CASE("bytesused beyond the buffer and the driver's error flag are io/frame, then frames continue") {
    auto dev = std::make_shared<SimV4l2>();
    auto cam = open_showing(dev, jpeg_of(pass_scene(640, 480)), 640, 480, "MJPG");
    REQUIRE(cam->next_frame(500).ok());
    dev->bytesused_override = 640 * 480 * 2 + 1;
    auto f = cam->next_frame(500);
    REQUIRE_FALSE(f.ok());
    CHECK(f.error().kind == ErrorKind::io);
    CHECK(f.error().is(cp::camera::reason::frame));
    REQUIRE(cam->next_frame(500).ok());
    dev->error_flag_next = true;
    CHECK(reason_of(cam->next_frame(500)) == "frame");
    auto ok = cam->next_frame(500);
    REQUIRE(ok.ok());
    CHECK(ok->sequence == 4);
    CHECK(dev->violations.empty());
}

TEST_CASE("a truncated YUYV frame is io/frame") {
    auto dev = std::make_shared<SimV4l2>();
    const auto yuyv = yuyv_of(pass_scene(320, 240));
    dev->payload = [&](std::uint32_t seq) {
        return seq == 1 ? std::vector<std::uint8_t>(yuyv.begin(), yuyv.begin() + 1000) : yuyv;
    };
    auto cam = open_on(dev, config(320, 240, "YUYV"));
    CHECK(reason_of(cam->next_frame(500)) == "ok");
    auto bad = cam->next_frame(500);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().kind == ErrorKind::io);
    CHECK(bad.error().is(cp::camera::reason::frame));
    CHECK(reason_of(cam->next_frame(500)) == "ok");
}

TEST_CASE("EINTR, spurious wake-ups and a stalled device: timeouts, no errors, no device loss") {
    auto dev = std::make_shared<SimV4l2>();
    auto cam = open_yuyv_320(dev);
    dev->eintr_polls = 3;
    dev->spurious_wakeups = 2;
    auto f = cam->next_frame(500);
    REQUIRE(f.ok());
    CHECK(f->sequence == 0);
    dev->stalled = true;
    auto t = cam->next_frame(30);
    REQUIRE_FALSE(t.ok());
    CHECK(t.error().is(cp::camera::reason::timeout));
    dev->stalled = false;
    REQUIRE(cam->next_frame(500).ok());
    CHECK(dev->opens == 1);
    CHECK(dev->violations.empty());
}

TEST_CASE("a reader that lags gets the newest frame; sequence gaps show the drops") {
    auto dev = std::make_shared<SimV4l2>();
    auto cam = open_yuyv_320(dev);
    dev->frames_per_poll = 3;  // three frames filled while the reader was busy
    auto a = cam->next_frame(500);
    auto b = cam->next_frame(500);
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    CHECK(a->sequence == 2);
    CHECK(b->sequence == 5);
    dev->frames_per_poll = 1;
    dev->skip_sequence = 4;  // the driver dropped four frames
    auto c = cam->next_frame(500);
    REQUIRE(c.ok());
    CHECK(c->sequence == 10);
    // Every buffer is back with the driver.
    CHECK(dev->queued_buffers() == detail::kV4l2Buffers);
    CHECK(dev->violations.empty());
}

TEST_CASE("the device vanishes mid-stream: device-lost, everything released, reopened after the backoff") {
    auto dev = std::make_shared<SimV4l2>();
    auto cam = open_showing(dev, jpeg_of(pass_scene(640, 480)), 640, 480, "MJPG");
    dev->vanish_after_frames = 2;
    REQUIRE(cam->next_frame(500).ok());
    REQUIRE(cam->next_frame(500).ok());
    auto lost = cam->next_frame(500);
    REQUIRE_FALSE(lost.ok());
    CHECK(lost.error().kind == ErrorKind::unavailable);
    CHECK(lost.error().is(cp::camera::reason::device_lost));
    check_nothing_held(*dev);  // released at once, not at the next open
    CHECK(dev->opens == 1);

    // Still gone: each open attempt doubles the wait (20, 40, 80, 80 ms); a
    // call inside the wait sleeps at most its timeout and does not open.
    std::vector<std::string> messages;
    for (int i = 0; i < 8; ++i) {
        auto r = cam->next_frame(1000);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().is(cp::camera::reason::device_lost));
        messages.push_back(r.error().message);
    }
    CHECK(dev->opens == 1 + 4);
    CHECK(messages[0] == "/dev/video0: poll: No such device");  // the wait after the loss
    CHECK(messages[2] == messages[1]);  // waiting repeats the last attempt's error
    CHECK(messages[1].find("retry in 20 ms") != std::string::npos);
    CHECK(messages[3].find("retry in 40 ms") != std::string::npos);
    CHECK(messages[5].find("retry in 80 ms") != std::string::npos);
    CHECK(messages[7].find("retry in 80 ms") != std::string::npos);

    dev->reappear();
    const std::int64_t t0 = monotonic_now_ms();
    Result<Frame> back = cam->next_frame(1000);
    for (int i = 0; i < 3 && !back.ok(); ++i) back = cam->next_frame(1000);
    REQUIRE(back.ok());
    CHECK(monotonic_now_ms() - t0 <= 1000);
    CHECK(back->sequence == 3);  // 0, 1, then a gap for the frames missed
    auto next = cam->next_frame(500);
    REQUIRE(next.ok());
    CHECK(next->sequence == 4);
    cam.reset();
    check_nothing_held(*dev);
}

TEST_CASE("an absent device node is device-lost until it appears") {
    auto dev = std::make_shared<SimV4l2>();
    dev->present = false;
    auto cam = open_yuyv_320(dev);
    auto r = cam->next_frame(10);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().is(cp::camera::reason::device_lost));
    CHECK(r.error().message.find("cannot open") != std::string::npos);
    dev->present = true;
    Result<Frame> f = cam->next_frame(100);
    for (int i = 0; i < 3 && !f.ok(); ++i) f = cam->next_frame(100);
    REQUIRE(f.ok());
    CHECK(f->sequence == 0);
}

TEST_CASE("the simulated device enforces the protocol it checks the backend against") {
    SimV4l2 dev;
    const int fd = dev.open("/dev/video0", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    REQUIRE(fd >= 0);
    v4l2_buffer b{};
    b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    b.memory = V4L2_MEMORY_MMAP;
    CHECK(dev.ioctl(fd, VIDIOC_DQBUF, &b) == -1);  // not streaming
    v4l2_format f{};
    f.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    f.fmt.pix.width = 320;
    f.fmt.pix.height = 240;
    f.fmt.pix.pixelformat = V4L2_PIX_FMT_YUYV;
    REQUIRE(dev.ioctl(fd, VIDIOC_S_FMT, &f) == 0);
    v4l2_requestbuffers req{};
    req.count = 2;
    req.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    req.memory = V4L2_MEMORY_MMAP;
    REQUIRE(dev.ioctl(fd, VIDIOC_REQBUFS, &req) == 0);
    b.index = 0;
    CHECK(dev.ioctl(fd, VIDIOC_QBUF, &b) == -1);  // not mapped yet
    REQUIRE(dev.ioctl(fd, VIDIOC_QUERYBUF, &b) == 0);
    void* p = dev.mmap(b.length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, static_cast<off_t>(b.m.offset));
    REQUIRE(p != MAP_FAILED);
    REQUIRE(dev.ioctl(fd, VIDIOC_QBUF, &b) == 0);
    CHECK(dev.ioctl(fd, VIDIOC_QBUF, &b) == -1);  // queued twice
    CHECK(dev.ioctl(fd, VIDIOC_S_FMT, &f) == -1);  // buffers allocated
    req.count = 0;
    CHECK(dev.ioctl(fd, VIDIOC_REQBUFS, &req) == -1);  // still mapped
    CHECK(dev.violations.size() == 5);
    CHECK(dev.munmap(p, b.length) == 0);
    CHECK(dev.close(fd) == 0);
    CHECK(dev.open_descriptors() == 0);
    CHECK(dev.allocated_buffers() == 0);
}

TEST_CASE("decode_mjpeg_gray: geometry and bounds") {
    const auto jpeg = jpeg_of(pass_scene(320, 240));
    std::vector<std::uint8_t> out(320 * 240);
    CHECK(detail::decode_mjpeg_gray(jpeg, 320, 240, out.data()).ok());
    auto wrong = detail::decode_mjpeg_gray(jpeg, 640, 480, out.data());
    REQUIRE_FALSE(wrong.ok());
    CHECK(wrong.error().kind == ErrorKind::io);
    CHECK(wrong.error().is(cp::camera::reason::frame));
    CHECK(wrong.error().message.find("320x240") != std::string::npos);
    CHECK_FALSE(detail::decode_mjpeg_gray({}, 320, 240, out.data()).ok());
    std::vector<std::uint8_t> huge(detail::kMaxMjpegBytes + 1, 0);
    std::copy(jpeg.begin(), jpeg.end(), huge.begin());
    CHECK_FALSE(detail::decode_mjpeg_gray(huge, 320, 240, out.data()).ok());
}

TEST_CASE("open_v4l2 validates its configuration") {
    auto dev = std::make_shared<SimV4l2>();
    auto c = config(640, 480, "H264");
    CHECK(detail::open_v4l2_with(c, dev).error().is(cp::camera::reason::camera));
    c = config(100, 480, "MJPG");
    CHECK(detail::open_v4l2_with(c, dev).error().kind == ErrorKind::config);
    c = config(640, 480, "MJPG");
    c.reconnect_max_ms = 5;
    CHECK(detail::open_v4l2_with(c, dev).error().kind == ErrorKind::config);
    CHECK(dev->opens == 0);
}

TEST_CASE("exposure: a short exposure at low gain through V4L2 controls, auto again, and again after a reconnect") {
    auto dev = std::make_shared<SimV4l2>();
    auto cam = open_showing(dev, jpeg_of(pass_scene(640, 480)), 640, 480, "MJPG");
    // Before the device is open the wish is kept, nothing is sent.
    REQUIRE(cam->set_exposure(Exposure::short_exposure).ok());
    CHECK(dev->controls_set.empty());
    REQUIRE(cam->next_frame(500).ok());  // opens: the wish is applied when streaming starts
    CHECK(dev->controls[V4L2_CID_EXPOSURE_AUTO] == V4L2_EXPOSURE_MANUAL);
    CHECK(dev->controls[V4L2_CID_EXPOSURE_ABSOLUTE] == 30);
    CHECK(dev->controls[V4L2_CID_AUTOGAIN] == 0);
    CHECK(dev->controls[V4L2_CID_GAIN] == 0);

    dev->controls_set.clear();
    REQUIRE(cam->set_exposure(Exposure::automatic).ok());
    CHECK(dev->controls[V4L2_CID_EXPOSURE_AUTO] == V4L2_EXPOSURE_APERTURE_PRIORITY);
    CHECK(dev->controls[V4L2_CID_AUTOGAIN] == 1);
    CHECK(dev->controls_set.size() == 2);

    // Short again, then the camera drops off the bus and comes back at its defaults.
    REQUIRE(cam->set_exposure(Exposure::short_exposure).ok());
    dev->vanish();
    REQUIRE_FALSE(cam->next_frame(200).ok());
    dev->reappear();
    dev->controls[V4L2_CID_EXPOSURE_AUTO] = V4L2_EXPOSURE_APERTURE_PRIORITY;
    dev->controls[V4L2_CID_EXPOSURE_ABSOLUTE] = 156;
    Result<Frame> back = cam->next_frame(1000);
    for (int i = 0; i < 10 && !back.ok(); ++i) back = cam->next_frame(1000);
    REQUIRE(back.ok());
    CHECK(dev->controls[V4L2_CID_EXPOSURE_AUTO] == V4L2_EXPOSURE_MANUAL);
    CHECK(dev->controls[V4L2_CID_EXPOSURE_ABSOLUTE] == 30);
    CHECK(dev->violations.empty());
}

TEST_CASE("exposure: a camera without exposure controls is a typed error, and frames keep coming") {
    auto dev = std::make_shared<SimV4l2>();
    dev->controls.clear();  // no controls at all
    auto cam = open_showing(dev, jpeg_of(pass_scene(640, 480)), 640, 480, "MJPG");
    REQUIRE(cam->next_frame(500).ok());
    auto s = cam->set_exposure(Exposure::short_exposure);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().kind == ErrorKind::unavailable);
    CHECK(s.error().is(cp::camera::reason::camera_control));
    CHECK(cam->next_frame(500).ok());
}

TEST_CASE("standby: the stream stops and the node is closed; the next frame opens it again at once") {
    auto dev = std::make_shared<SimV4l2>();
    auto cam = open_showing(dev, jpeg_of(pass_scene(640, 480)), 640, 480, "MJPG");
    REQUIRE(cam->set_exposure(Exposure::short_exposure).ok());
    REQUIRE(cam->next_frame(500).ok());
    CHECK(dev->streaming());
    cam->standby();
    CHECK_FALSE(dev->streaming());
    check_nothing_held(*dev);
    cam->standby();  // twice is harmless
    dev->controls[V4L2_CID_EXPOSURE_AUTO] = V4L2_EXPOSURE_APERTURE_PRIORITY;
    REQUIRE(cam->next_frame(500).ok());  // reopened at once: no reconnect backoff, no error first
    CHECK(dev->streaming());
    CHECK(dev->opens == 2);
    CHECK(dev->controls[V4L2_CID_EXPOSURE_AUTO] == V4L2_EXPOSURE_MANUAL);  // the wish survives
    CHECK(dev->violations.empty());
}
