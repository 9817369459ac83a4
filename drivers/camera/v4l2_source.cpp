// V4L2 camera through the kernel's V4L2 API directly: memory-mapped streaming
// buffers, YUYV/GREY taken as luma, MJPEG decoded with libjpeg (mjpeg.cpp).
// Nothing beyond the kernel headers and libjpeg is loaded (docs/benchmarks.md,
// peak RSS). USB cameras drop off the bus (cable, power, ESD at a gate); the
// source then releases the device and reopens it with exponential backoff
// instead of failing the daemon.
#include "drivers/camera/v4l2_io.hpp"
#include "drivers/camera/reason.hpp"

#include "src/common/log.hpp"
#include "src/common/time.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <thread>

#ifdef CHECKPOINT_WITH_V4L2
#include <fcntl.h>
#include <linux/videodev2.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#endif

namespace cp::camera {

#ifdef CHECKPOINT_WITH_V4L2
namespace detail {
namespace {

class SystemIo final : public V4l2Io {
public:
    int open(const char* path, int flags) override { return ::open(path, flags); }
    int close(int fd) override { return ::close(fd); }
    int ioctl(int fd, unsigned long request, void* arg) override { return ::ioctl(fd, request, arg); }
    void* mmap(std::size_t length, int prot, int flags, int fd, off_t offset) override {
        return ::mmap(nullptr, length, prot, flags, fd, offset);
    }
    int munmap(void* addr, std::size_t length) override { return ::munmap(addr, length); }
    int poll(pollfd* fds, nfds_t nfds, int timeout_ms) override { return ::poll(fds, nfds, timeout_ms); }
};

}  // namespace

std::shared_ptr<V4l2Io> system_v4l2_io() { return std::make_shared<SystemIo>(); }

}  // namespace detail

namespace {

std::uint32_t fourcc_code(const std::string& s) {
    return v4l2_fourcc(static_cast<unsigned char>(s[0]), static_cast<unsigned char>(s[1]),
                       static_cast<unsigned char>(s[2]), static_cast<unsigned char>(s[3]));
}

std::string fourcc_text(std::uint32_t f) {
    std::string s;
    for (int i = 0; i < 4; ++i) {
        const auto c = static_cast<char>((f >> (8 * i)) & 0xff);
        s += (c >= 0x20 && c < 0x7f) ? c : '?';
    }
    return s;
}

// What the driver agreed to in VIDIOC_S_FMT, checked.
struct Negotiated {
    std::uint32_t pixelformat = 0;
    int width = 0;
    int height = 0;
    std::size_t bytesperline = 0;
    std::size_t sizeimage = 0;
    double fps = 0;  // 0: unknown (S_PARM not supported)
};

class V4l2Source final : public Camera {
public:
    V4l2Source(V4l2Config c, std::shared_ptr<detail::V4l2Io> io)
        : config_(std::move(c)), io_(std::move(io)), backoff_ms_(config_.reconnect_min_ms) {}
    ~V4l2Source() override { release(); }
    V4l2Source(const V4l2Source&) = delete;
    V4l2Source& operator=(const V4l2Source&) = delete;

    Result<Frame> next_frame(int timeout_ms) override {
        if (fd_ < 0) {
            const std::int64_t now = monotonic_now_ms();
            if (now < retry_at_ms_) {
                // Until the next attempt, the error that made us wait.
                sleep_ms(std::min<std::int64_t>(timeout_ms, retry_at_ms_ - now));
                return fail(wait_error_);
            }
            if (auto s = start(); !s) {
                release();
                retry_at_ms_ = monotonic_now_ms() + backoff_ms_;
                wait_error_ = s.error();
                wait_error_.message += ", retry in " + std::to_string(backoff_ms_) + " ms";
                backoff_ms_ = std::min(backoff_ms_ * 2, config_.reconnect_max_ms);
                return fail(wait_error_);
            }
            backoff_ms_ = config_.reconnect_min_ms;
            log::info("camera", "opened", {{"source", describe()}});
        }
        return capture(timeout_ms);
    }

    void standby() override {
        if (fd_ < 0) return;
        release();
        retry_at_ms_ = 0;  // reopen at the next next_frame(), without a backoff
        backoff_ms_ = config_.reconnect_min_ms;
    }

    Status set_exposure(Exposure e) override {
        exposure_ = e;
        if (fd_ < 0) return {};  // applied when the device (re)opens
        return apply_exposure();
    }

    std::string describe() const override {
        if (fd_ < 0)
            return "v4l2:" + config_.device + " " + std::to_string(config_.width) + "x" +
                   std::to_string(config_.height) + " " + config_.fourcc + "@" +
                   std::to_string(static_cast<int>(std::lround(config_.fps)));
        return "v4l2:" + config_.device + " " + std::to_string(fmt_.width) + "x" + std::to_string(fmt_.height) +
               " " + fourcc_text(fmt_.pixelformat) + "@" +
               (fmt_.fps > 0 ? std::to_string(static_cast<int>(std::lround(fmt_.fps))) : std::string("?")) + " " +
               std::to_string(buffers_.size()) + "x" + std::to_string(fmt_.sizeimage) + " B mmap";
    }

private:
    struct Buffer {
        void* addr = nullptr;
        std::size_t length = 0;
    };

    static void sleep_ms(std::int64_t ms) {
        if (ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    }

    // Exposure and gain through V4L2 controls. UVC cameras take
    // V4L2_EXPOSURE_MANUAL and V4L2_EXPOSURE_APERTURE_PRIORITY (their "auto");
    // gain and autogain are optional (EINVAL from a camera without them is fine).
    Status apply_exposure() {
        auto set = [&](std::uint32_t id, std::int32_t value) {
            v4l2_control c{};
            c.id = id;
            c.value = value;
            return xioctl(VIDIOC_S_CTRL, &c);
        };
        const bool shorten = exposure_ == Exposure::short_exposure;
        if (set(V4L2_CID_EXPOSURE_AUTO, shorten ? V4L2_EXPOSURE_MANUAL : V4L2_EXPOSURE_APERTURE_PRIORITY) < 0)
            return fail(ErrorKind::unavailable, reason::camera_control,
                        config_.device + ": V4L2_CID_EXPOSURE_AUTO: " + std::strerror(errno));
        if (shorten) {
            if (set(V4L2_CID_EXPOSURE_ABSOLUTE, config_.short_exposure_100us) < 0)
                return fail(ErrorKind::unavailable, reason::camera_control,
                            config_.device + ": V4L2_CID_EXPOSURE_ABSOLUTE: " + std::strerror(errno));
            if (config_.short_gain >= 0) {
                (void)set(V4L2_CID_AUTOGAIN, 0);
                (void)set(V4L2_CID_GAIN, config_.short_gain);
            }
        } else {
            (void)set(V4L2_CID_AUTOGAIN, 1);
        }
        return {};
    }

    // ioctl, repeated on EINTR as libv4l2 does.
    int xioctl(unsigned long request, void* arg) {
        int r;
        do r = io_->ioctl(fd_, request, arg);
        while (r < 0 && errno == EINTR);
        return r;
    }

    Failure lost(const char* what, int err) const {
        return fail(ErrorKind::unavailable, reason::device_lost, config_.device + ": " + what + ": " + std::strerror(err));
    }

    // Open, check, negotiate, map and stream. On failure the caller releases.
    Status start() {
        fd_ = io_->open(config_.device.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (fd_ < 0) return lost("cannot open", errno);

        v4l2_capability cap{};
        if (xioctl(VIDIOC_QUERYCAP, &cap) < 0) return lost("VIDIOC_QUERYCAP", errno);
        const std::uint32_t caps = (cap.capabilities & V4L2_CAP_DEVICE_CAPS) ? cap.device_caps : cap.capabilities;
        if (!(caps & V4L2_CAP_VIDEO_CAPTURE))
            return fail(ErrorKind::config, reason::camera_device,
                        config_.device + " is not a video capture node (a UVC camera's metadata node?)");
        if (!(caps & V4L2_CAP_STREAMING))
            return fail(ErrorKind::config, reason::camera_device, config_.device + " has no streaming I/O");

        v4l2_format f{};
        f.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
        f.fmt.pix.width = static_cast<std::uint32_t>(config_.width);
        f.fmt.pix.height = static_cast<std::uint32_t>(config_.height);
        f.fmt.pix.pixelformat = fourcc_code(config_.fourcc);
        f.fmt.pix.field = V4L2_FIELD_NONE;
        if (xioctl(VIDIOC_S_FMT, &f) < 0) return lost("VIDIOC_S_FMT", errno);
        if (auto s = check_format(f.fmt.pix); !s) return s;

        // Frame rate: best effort; many drivers round it or do not support it.
        v4l2_streamparm parm{};
        parm.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
        parm.parm.capture.timeperframe.numerator = 1000;
        parm.parm.capture.timeperframe.denominator = static_cast<std::uint32_t>(std::lround(config_.fps * 1000));
        fmt_.fps = 0;
        if (xioctl(VIDIOC_S_PARM, &parm) == 0 && parm.parm.capture.timeperframe.numerator > 0)
            fmt_.fps = static_cast<double>(parm.parm.capture.timeperframe.denominator) /
                       parm.parm.capture.timeperframe.numerator;

        v4l2_requestbuffers req{};
        req.count = detail::kV4l2Buffers;
        req.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
        req.memory = V4L2_MEMORY_MMAP;
        if (xioctl(VIDIOC_REQBUFS, &req) < 0) return lost("VIDIOC_REQBUFS", errno);
        requested_ = true;
        if (req.count < 2 || req.count > 32)
            return fail(ErrorKind::unavailable, reason::device_lost,
                        config_.device + ": driver granted " + std::to_string(req.count) + " buffers");
        const std::size_t need = fmt_.pixelformat == V4L2_PIX_FMT_MJPEG ? 1 : fmt_.sizeimage;
        for (std::uint32_t i = 0; i < req.count; ++i) {
            v4l2_buffer b{};
            b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
            b.memory = V4L2_MEMORY_MMAP;
            b.index = i;
            if (xioctl(VIDIOC_QUERYBUF, &b) < 0) return lost("VIDIOC_QUERYBUF", errno);
            if (b.length < need)
                return fail(ErrorKind::unavailable, reason::device_lost,
                            config_.device + ": buffer of " + std::to_string(b.length) + " bytes for a " +
                                std::to_string(fmt_.sizeimage) + "-byte image");
            void* p = io_->mmap(b.length, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, static_cast<off_t>(b.m.offset));
            if (p == MAP_FAILED) return lost("mmap", errno);
            buffers_.push_back(Buffer{p, b.length});
            if (xioctl(VIDIOC_QBUF, &b) < 0) return lost("VIDIOC_QBUF", errno);
        }
        int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
        if (xioctl(VIDIOC_STREAMON, &type) < 0) return lost("VIDIOC_STREAMON", errno);
        streaming_ = true;
        first_in_stream_ = true;
        // A reconnected camera starts at its defaults: ask again for what the lane wants.
        if (exposure_ != Exposure::automatic) {
            if (auto c = apply_exposure(); !c) log::warn("camera", "exposure not set", {{"detail", c.error().message}});
        }
        return {};
    }

    Status check_format(const v4l2_pix_format& p) {
        const auto bad = [&](const std::string& why) {
            return fail(ErrorKind::config, reason::camera_format,
                        config_.device + ": driver returned " + fourcc_text(p.pixelformat) + " " +
                            std::to_string(p.width) + "x" + std::to_string(p.height) + ": " + why);
        };
        std::size_t bpp = 0;  // bytes per pixel of the raw formats
        if (p.pixelformat == V4L2_PIX_FMT_YUYV) bpp = 2;
        else if (p.pixelformat == V4L2_PIX_FMT_GREY) bpp = 1;
        else if (p.pixelformat != V4L2_PIX_FMT_MJPEG) return bad("not a format this backend converts (MJPG, YUYV, GREY)");
        if (p.width < 16 || p.height < 16 || p.width > 7680 || p.height > 4320) return bad("size outside 16x16..7680x4320");
        fmt_.pixelformat = p.pixelformat;
        fmt_.width = static_cast<int>(p.width);
        fmt_.height = static_cast<int>(p.height);
        fmt_.bytesperline = p.bytesperline;
        fmt_.sizeimage = p.sizeimage;
        if (bpp) {
            if (fmt_.bytesperline < p.width * bpp || fmt_.bytesperline > p.width * bpp + 4096)
                return bad("bytesperline " + std::to_string(p.bytesperline));
            if (fmt_.sizeimage < fmt_.bytesperline * p.height || fmt_.sizeimage > 2 * fmt_.bytesperline * p.height)
                return bad("sizeimage " + std::to_string(p.sizeimage));
        } else if (p.sizeimage == 0 || p.sizeimage > 64u << 20) {
            return bad("sizeimage " + std::to_string(p.sizeimage));
        }
        return {};
    }

    // Everything back: stream off, unmap, free the driver's buffers, close.
    void release() {
        if (fd_ < 0) return;
        if (streaming_) {
            int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
            (void)xioctl(VIDIOC_STREAMOFF, &type);
            streaming_ = false;
        }
        for (const Buffer& b : buffers_) io_->munmap(b.addr, b.length);
        buffers_.clear();
        if (requested_) {
            v4l2_requestbuffers req{};
            req.count = 0;
            req.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
            req.memory = V4L2_MEMORY_MMAP;
            (void)xioctl(VIDIOC_REQBUFS, &req);
            requested_ = false;
        }
        io_->close(fd_);
        fd_ = -1;
    }

    Failure drop_device(const char* what, int err) {
        const Failure f = lost(what, err);
        log::warn("camera", "device lost", {{"device", config_.device}, {"error", f.error.message}});
        release();
        retry_at_ms_ = monotonic_now_ms() + backoff_ms_;
        wait_error_ = f.error;
        // The frames missed while the device was away leave a gap in the sequence.
        next_sequence_ += 1;
        return f;
    }

    Result<Frame> capture(int timeout_ms) {
        const std::int64_t deadline = monotonic_now_ms() + std::max(timeout_ms, 0);
        for (;;) {
            const auto left = static_cast<int>(std::max<std::int64_t>(deadline - monotonic_now_ms(), 0));
            pollfd p{fd_, POLLIN, 0};
            const int r = io_->poll(&p, 1, left);
            if (r < 0) {
                if (errno != EINTR) return drop_device("poll", errno);
                if (left == 0) return fail(ErrorKind::unavailable, reason::timeout, config_.device);
                continue;
            }
            if (r == 0) return fail(ErrorKind::unavailable, reason::timeout, config_.device);
            if (p.revents & (POLLERR | POLLHUP | POLLNVAL)) return drop_device("poll", ENODEV);
            // Take the newest filled buffer; older ones go straight back.
            v4l2_buffer newest{};
            bool have = false;
            for (;;) {
                v4l2_buffer b{};
                b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
                b.memory = V4L2_MEMORY_MMAP;
                if (xioctl(VIDIOC_DQBUF, &b) < 0) {
                    if (errno == EAGAIN) break;
                    return drop_device("VIDIOC_DQBUF", errno);
                }
                if (b.index >= buffers_.size()) return drop_device("VIDIOC_DQBUF index", EINVAL);
                if (have && xioctl(VIDIOC_QBUF, &newest) < 0) return drop_device("VIDIOC_QBUF", errno);
                newest = b;
                have = true;
            }
            if (!have) {
                if (left == 0) return fail(ErrorKind::unavailable, reason::timeout, config_.device);
                continue;  // woken without a buffer
            }
            Result<Frame> frame = convert(newest);
            if (xioctl(VIDIOC_QBUF, &newest) < 0) return drop_device("VIDIOC_QBUF", errno);
            return frame;
        }
    }

    // The driver counts frames from 0 at STREAMON (32 bits, wrapping), skipping
    // the ones it dropped; each stream continues after the previous one's last.
    std::uint64_t sequence_of(const v4l2_buffer& b) {
        if (first_in_stream_) {
            first_in_stream_ = false;
            stream_base_ = next_sequence_;
            wraps_ = 0;
            last_raw_ = b.sequence;
        }
        if (b.sequence < 0x10000000u && last_raw_ >= 0xf0000000u) ++wraps_;
        last_raw_ = b.sequence;
        std::uint64_t s = stream_base_ + (wraps_ << 32) + b.sequence;
        if (s < next_sequence_) s = next_sequence_;  // never backwards
        next_sequence_ = s + 1;
        return s;
    }

    static std::int64_t timestamp_of(const v4l2_buffer& b) {
        if ((b.flags & V4L2_BUF_FLAG_TIMESTAMP_MASK) == V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC &&
            (b.timestamp.tv_sec > 0 || b.timestamp.tv_usec > 0))
            return static_cast<std::int64_t>(b.timestamp.tv_sec) * 1000 + b.timestamp.tv_usec / 1000;
        return monotonic_now_ms();
    }

    Result<Frame> convert(const v4l2_buffer& b) {
        const std::uint64_t sequence = sequence_of(b);
        const Buffer& buf = buffers_[b.index];
        const auto bad = [&](const std::string& why) {
            return fail(ErrorKind::io, reason::frame, config_.device + " frame " + std::to_string(sequence) + ": " + why);
        };
        if (b.flags & V4L2_BUF_FLAG_ERROR) return bad("the driver marked it corrupt");
        if (b.bytesused > buf.length || b.bytesused > fmt_.sizeimage)
            return bad(std::to_string(b.bytesused) + " bytes used in a " + std::to_string(buf.length) +
                       "-byte buffer (sizeimage " + std::to_string(fmt_.sizeimage) + ")");
        const auto* data = static_cast<const std::uint8_t*>(buf.addr);
        const auto w = static_cast<std::size_t>(fmt_.width);
        const auto h = static_cast<std::size_t>(fmt_.height);
        Frame f;
        f.width = fmt_.width;
        f.height = fmt_.height;
        f.stride = fmt_.width;
        f.format = PixelFormat::gray8;
        f.sequence = sequence;
        f.timestamp_ms = timestamp_of(b);
        if (fmt_.pixelformat == V4L2_PIX_FMT_MJPEG) {
            if (b.bytesused > detail::kMaxMjpegBytes) return bad("MJPEG frame over the size cap");
            f.pixels.resize(w * h);
            if (auto s = detail::decode_mjpeg_gray({data, b.bytesused}, f.width, f.height, f.pixels.data()); !s)
                return bad(s.error().message);
            return f;
        }
        const std::size_t bpp = fmt_.pixelformat == V4L2_PIX_FMT_YUYV ? 2 : 1;
        if (b.bytesused < fmt_.bytesperline * (h - 1) + w * bpp)
            return bad("truncated: " + std::to_string(b.bytesused) + " bytes");
        f.pixels.resize(w * h);
        for (std::size_t y = 0; y < h; ++y) {
            const std::uint8_t* row = data + y * fmt_.bytesperline;
            std::uint8_t* out = f.pixels.data() + y * w;
            if (bpp == 1) std::memcpy(out, row, w);
            else
                for (std::size_t x = 0; x < w; ++x) out[x] = row[2 * x];  // Y0 U Y1 V: luma at even bytes
        }
        return f;
    }

    V4l2Config config_;
    std::shared_ptr<detail::V4l2Io> io_;
    int fd_ = -1;
    bool requested_ = false;
    bool streaming_ = false;
    std::vector<Buffer> buffers_;
    Negotiated fmt_;
    int backoff_ms_;
    std::int64_t retry_at_ms_ = 0;
    Error wait_error_;
    bool first_in_stream_ = true;
    Exposure exposure_ = Exposure::automatic;
    std::uint64_t next_sequence_ = 0;
    std::uint64_t stream_base_ = 0;
    std::uint64_t wraps_ = 0;
    std::uint32_t last_raw_ = 0;
};

}  // namespace
#endif

namespace detail {

Result<std::unique_ptr<Camera>> open_v4l2_with(const V4l2Config& config, std::shared_ptr<V4l2Io> io) {
    if (config.fourcc != "MJPG" && config.fourcc != "YUYV" && config.fourcc != "GREY")
        return fail(ErrorKind::config, reason::camera, "fourcc must be MJPG, YUYV or GREY");
    if (config.width < 160 || config.height < 120 || config.width > 7680 || config.height > 4320)
        return fail(ErrorKind::config, reason::camera, "width/height outside 160x120..7680x4320");
    if (!(config.fps > 0 && config.fps <= 240))
        return fail(ErrorKind::config, reason::camera, "fps must be in (0, 240]");
    if (config.reconnect_min_ms < 10 || config.reconnect_max_ms < config.reconnect_min_ms)
        return fail(ErrorKind::config, reason::camera, "reconnect_min_ms >= 10 and <= reconnect_max_ms");
#ifdef CHECKPOINT_WITH_V4L2
    if (!io) return fail(ErrorKind::internal, reason::camera, "no V4L2 system call layer");
    return std::unique_ptr<Camera>(new V4l2Source(config, std::move(io)));
#else
    (void)io;
    return fail(ErrorKind::unavailable, reason::v4l2_disabled, "built without CHECKPOINT_WITH_V4L2");
#endif
}

}  // namespace detail

Result<std::unique_ptr<Camera>> open_v4l2(const V4l2Config& config) {
#ifdef CHECKPOINT_WITH_V4L2
    return detail::open_v4l2_with(config, detail::system_v4l2_io());
#else
    return detail::open_v4l2_with(config, nullptr);
#endif
}

}  // namespace cp::camera
