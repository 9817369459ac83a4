// A simulated V4L2 capture device behind the backend's system-call seam
// (drivers/camera/v4l2_io.hpp), at the level of the ioctl structs: it
// negotiates formats, hands out memory-mapped buffers, fills them with frames
// from a payload function, enforces the streaming protocol (QBUF only for a
// buffer the application holds, DQBUF only while streaming, no REQBUFS or
// S_FMT while buffers are mapped, mmap only at a buffer's offset) and injects
// faults. It counts open descriptors and mappings so tests can see leaks.
// Single-threaded, like the backend.
#pragma once

#include "drivers/camera/v4l2_io.hpp"

#include <linux/videodev2.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace cp::testing {

class SimV4l2 final : public camera::detail::V4l2Io {
public:
    // ---- the device ----
    std::string path = "/dev/video0";
    bool present = true;  // false: open() fails with ENOENT
    std::uint32_t capabilities = V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_STREAMING;
    // Formats S_FMT grants; a request for another gets the first.
    std::vector<std::uint32_t> formats = {V4L2_PIX_FMT_MJPEG, V4L2_PIX_FMT_YUYV, V4L2_PIX_FMT_GREY};
    std::optional<std::uint32_t> forced_format;  // S_FMT returns this whatever was asked
    std::uint32_t max_width = 1280;              // S_FMT clamps to these
    std::uint32_t max_height = 720;
    std::optional<std::uint32_t> forced_sizeimage;
    unsigned max_buffers = 8;
    // The bytes of frame `sequence` in the negotiated format (YUYV rows of
    // bytesperline, or a JPEG). Bytes beyond the buffer are cut off.
    std::function<std::vector<std::uint8_t>(std::uint32_t sequence)> payload;

    // ---- faults ----
    int eintr_polls = 0;          // the next N poll() calls fail with EINTR
    int spurious_wakeups = 0;     // the next N poll() calls report POLLIN with no frame filled
    bool stalled = false;         // poll() times out: no frame comes
    std::uint32_t frames_per_poll = 1;  // > 1: the device fills several buffers while the reader is busy
    std::uint32_t skip_sequence = 0;    // the next frame's sequence jumps by this (a drop in the driver)
    std::optional<std::uint32_t> bytesused_override;  // the next frame reports this bytesused
    bool error_flag_next = false;       // the next frame carries V4L2_BUF_FLAG_ERROR
    int vanish_after_frames = -1;       // the device vanishes once this many frames were filled
    void vanish();                      // unplugged: ENODEV on open descriptors, POLLERR, ENOENT on open
    void reappear();                    // plugged in again (a fresh device: sequence restarts at 0)

    // Controls VIDIOC_S_CTRL/G_CTRL accept; others fail with EINVAL, as a
    // driver does for a control it does not have.
    std::map<std::uint32_t, std::int32_t> controls = {{V4L2_CID_EXPOSURE_AUTO, V4L2_EXPOSURE_APERTURE_PRIORITY},
                                                      {V4L2_CID_EXPOSURE_ABSOLUTE, 156},
                                                      {V4L2_CID_GAIN, 32},
                                                      {V4L2_CID_AUTOGAIN, 1}};

    // ---- what a test looks at ----
    std::vector<std::pair<std::uint32_t, std::int32_t>> controls_set;  // every S_CTRL in order
    int open_descriptors() const { return static_cast<int>(fds_.size()); }
    int mappings() const { return mappings_; }
    bool streaming() const { return streaming_; }
    std::size_t allocated_buffers() const { return bufs_.size(); }
    std::size_t queued_buffers() const { return queued_.size(); }
    const v4l2_pix_format& format() const { return fmt_; }
    int opens = 0;                        // open() calls, failed ones included
    std::uint32_t frames_filled = 0;
    std::vector<std::string> violations;  // protocol errors by the application

    // ---- V4l2Io ----
    int open(const char* p, int flags) override;
    int close(int fd) override;
    int ioctl(int fd, unsigned long request, void* arg) override;
    void* mmap(std::size_t length, int prot, int flags, int fd, off_t offset) override;
    int munmap(void* addr, std::size_t length) override;
    int poll(pollfd* fds, nfds_t nfds, int timeout_ms) override;

private:
    enum class State { user, queued, done };
    struct Buffer {
        std::vector<std::uint8_t> mem;
        State state = State::user;
        int maps = 0;
        std::uint32_t bytesused = 0;
        std::uint32_t sequence = 0;
        std::uint32_t flags = 0;
        timeval timestamp{};
    };
    static constexpr std::uint32_t kOffsetStep = 1u << 20;

    int violation(const std::string& what, int err);
    int fail_errno(int err);
    void fill_one();
    void describe(std::uint32_t index, v4l2_buffer& b) const;
    int do_ioctl(int fd, unsigned long request, void* arg);

    std::map<int, bool> fds_;  // descriptor -> opened before the device last vanished
    int next_fd_ = 100;
    bool vanished_ = false;
    int owner_ = -1;  // the descriptor that holds the buffers
    bool streaming_ = false;
    v4l2_pix_format fmt_{};
    std::vector<Buffer> bufs_;
    std::deque<std::uint32_t> queued_;
    std::deque<std::uint32_t> done_;
    int mappings_ = 0;
    std::uint32_t sequence_ = 0;
};

}  // namespace cp::testing
