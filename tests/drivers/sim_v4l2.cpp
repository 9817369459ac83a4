#include "tests/drivers/sim_v4l2.hpp"

#include <fcntl.h>
#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

namespace cp::testing {

void SimV4l2::vanish() {
    present = false;
    vanished_ = true;
    for (auto& [fd, alive] : fds_) alive = false;
    streaming_ = false;
    queued_.clear();
    done_.clear();
}

void SimV4l2::reappear() {
    present = true;
    vanished_ = false;
    sequence_ = 0;
}

int SimV4l2::violation(const std::string& what, int err) {
    violations.push_back(what);
    return fail_errno(err);
}

int SimV4l2::fail_errno(int err) {
    errno = err;
    return -1;
}

int SimV4l2::open(const char* p, int flags) {
    ++opens;
    if (!present || path != p) return fail_errno(ENOENT);
    if (!(flags & O_RDWR) || !(flags & O_NONBLOCK) || !(flags & O_CLOEXEC))
        violations.push_back("open without O_RDWR | O_NONBLOCK | O_CLOEXEC");
    const int fd = next_fd_++;
    fds_[fd] = true;
    return fd;
}

int SimV4l2::close(int fd) {
    auto it = fds_.find(fd);
    if (it == fds_.end()) return violation("close of a descriptor not open", EBADF);
    fds_.erase(it);
    if (fd == owner_) {
        // Closing the owner stops streaming and frees the buffers once unmapped.
        streaming_ = false;
        queued_.clear();
        done_.clear();
        owner_ = -1;
        if (mappings_ == 0) bufs_.clear();
    }
    return 0;
}

void* SimV4l2::mmap(std::size_t length, int prot, int flags, int fd, off_t offset) {
    auto it = fds_.find(fd);
    if (it == fds_.end()) {
        violation("mmap on a descriptor not open", EBADF);
        return MAP_FAILED;
    }
    if (!it->second) {
        errno = ENODEV;
        return MAP_FAILED;
    }
    const auto index = static_cast<std::size_t>(offset) / kOffsetStep;
    if (fd != owner_ || offset % kOffsetStep != 0 || index >= bufs_.size() || length != bufs_[index].mem.size() ||
        !(flags & MAP_SHARED) || !(prot & PROT_READ)) {
        violation("mmap that does not match a buffer from QUERYBUF", EINVAL);
        return MAP_FAILED;
    }
    ++bufs_[index].maps;
    ++mappings_;
    return bufs_[index].mem.data();
}

int SimV4l2::munmap(void* addr, std::size_t length) {
    for (auto& b : bufs_) {
        if (b.mem.data() != addr || b.maps == 0) continue;
        if (length != b.mem.size()) return violation("munmap with another length", EINVAL);
        --b.maps;
        --mappings_;
        if (mappings_ == 0 && owner_ < 0) bufs_.clear();
        return 0;
    }
    return violation("munmap of an address not mapped", EINVAL);
}

void SimV4l2::describe(std::uint32_t index, v4l2_buffer& b) const {
    const Buffer& buf = bufs_[index];
    b.index = index;
    b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    b.memory = V4L2_MEMORY_MMAP;
    b.length = static_cast<std::uint32_t>(buf.mem.size());
    b.m.offset = index * kOffsetStep;
    b.bytesused = buf.bytesused;
    b.sequence = buf.sequence;
    b.flags = buf.flags | V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC;
    b.timestamp = buf.timestamp;
    b.field = V4L2_FIELD_NONE;
}

void SimV4l2::fill_one() {
    sequence_ += skip_sequence;
    skip_sequence = 0;
    const std::uint32_t seq = sequence_++;
    if (queued_.empty()) return;  // no buffer queued: the driver drops the frame
    const std::uint32_t index = queued_.front();
    queued_.pop_front();
    Buffer& b = bufs_[index];
    std::vector<std::uint8_t> bytes = payload ? payload(seq) : std::vector<std::uint8_t>{};
    const std::size_t n = std::min(bytes.size(), b.mem.size());
    std::copy_n(bytes.begin(), n, b.mem.begin());
    b.bytesused = bytesused_override.value_or(static_cast<std::uint32_t>(n));
    bytesused_override.reset();
    b.flags = error_flag_next ? V4L2_BUF_FLAG_ERROR : 0;
    error_flag_next = false;
    b.sequence = seq;
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    b.timestamp.tv_sec = ts.tv_sec;
    b.timestamp.tv_usec = ts.tv_nsec / 1000;
    b.state = State::done;
    done_.push_back(index);
    ++frames_filled;
}

int SimV4l2::poll(pollfd* fds, nfds_t nfds, int /*timeout_ms*/) {
    if (nfds != 1) return violation("poll on other than one descriptor", EINVAL);
    pollfd& p = fds[0];
    p.revents = 0;
    auto it = fds_.find(p.fd);
    if (it == fds_.end()) {
        violation("poll on a descriptor not open", EBADF);
        p.revents = POLLNVAL;
        return 1;
    }
    if (eintr_polls > 0) {
        --eintr_polls;
        return fail_errno(EINTR);
    }
    if (vanish_after_frames >= 0 && frames_filled >= static_cast<std::uint32_t>(vanish_after_frames)) {
        vanish_after_frames = -1;
        vanish();
    }
    if (!it->second || !streaming_) {
        if (it->second) violations.push_back("poll while not streaming");
        p.revents = POLLERR;
        return 1;
    }
    if (spurious_wakeups > 0) {
        --spurious_wakeups;
        p.revents = POLLIN;
        return 1;
    }
    if (!stalled)
        for (std::uint32_t i = 0; i < frames_per_poll; ++i) fill_one();
    if (done_.empty()) return 0;  // the timeout passes at once
    p.revents = POLLIN | POLLRDNORM;
    return 1;
}

int SimV4l2::ioctl(int fd, unsigned long request, void* arg) {
    auto it = fds_.find(fd);
    if (it == fds_.end()) return violation("ioctl on a descriptor not open", EBADF);
    if (!it->second) return fail_errno(ENODEV);
    return do_ioctl(fd, request, arg);
}

int SimV4l2::do_ioctl(int fd, unsigned long request, void* arg) {
    switch (request) {
    case VIDIOC_QUERYCAP: {
        auto* c = static_cast<v4l2_capability*>(arg);
        *c = v4l2_capability{};
        std::strncpy(reinterpret_cast<char*>(c->driver), "sim_v4l2", sizeof c->driver - 1);
        std::strncpy(reinterpret_cast<char*>(c->card), "simulated camera", sizeof c->card - 1);
        c->device_caps = capabilities;
        c->capabilities = capabilities | V4L2_CAP_DEVICE_CAPS;
        return 0;
    }
    case VIDIOC_S_FMT: {
        auto* f = static_cast<v4l2_format*>(arg);
        if (f->type != V4L2_BUF_TYPE_VIDEO_CAPTURE) return violation("S_FMT of another buffer type", EINVAL);
        if (!bufs_.empty()) return violation("S_FMT while buffers are allocated", EBUSY);
        v4l2_pix_format& p = f->fmt.pix;
        if (forced_format) p.pixelformat = *forced_format;
        else if (std::find(formats.begin(), formats.end(), p.pixelformat) == formats.end())
            p.pixelformat = formats.front();
        p.width = std::clamp<std::uint32_t>(p.width, 16, max_width);
        p.height = std::clamp<std::uint32_t>(p.height, 16, max_height);
        p.field = V4L2_FIELD_NONE;
        const std::uint32_t bpp = p.pixelformat == V4L2_PIX_FMT_YUYV ? 2 : 1;
        p.bytesperline = p.pixelformat == V4L2_PIX_FMT_MJPEG ? 0 : p.width * bpp;
        // uvcvideo reports the camera's maximum frame size; about 2 bytes a pixel.
        p.sizeimage = forced_sizeimage.value_or(p.pixelformat == V4L2_PIX_FMT_MJPEG ? p.width * p.height * 2
                                                                                  : p.bytesperline * p.height);
        fmt_ = p;
        return 0;
    }
    case VIDIOC_S_PARM: {
        auto* s = static_cast<v4l2_streamparm*>(arg);
        if (s->type != V4L2_BUF_TYPE_VIDEO_CAPTURE) return violation("S_PARM of another buffer type", EINVAL);
        // The camera runs at 30 fps or 15 fps, the nearest to what was asked.
        auto& t = s->parm.capture.timeperframe;
        const bool fast = t.numerator > 0 && t.denominator / t.numerator >= 23;
        t.numerator = 1;
        t.denominator = fast ? 30 : 15;
        s->parm.capture.capability = V4L2_CAP_TIMEPERFRAME;
        return 0;
    }
    case VIDIOC_REQBUFS: {
        auto* r = static_cast<v4l2_requestbuffers*>(arg);
        if (r->type != V4L2_BUF_TYPE_VIDEO_CAPTURE || r->memory != V4L2_MEMORY_MMAP)
            return violation("REQBUFS of another type or memory", EINVAL);
        if (streaming_) return violation("REQBUFS while streaming", EBUSY);
        if (owner_ >= 0 && owner_ != fd) return violation("REQBUFS from a second descriptor", EBUSY);
        if (mappings_ > 0) return violation("REQBUFS while buffers are mapped", EBUSY);
        if (fmt_.sizeimage == 0 && r->count > 0) return violation("REQBUFS before S_FMT", EINVAL);
        bufs_.clear();
        queued_.clear();
        done_.clear();
        if (r->count == 0) {
            owner_ = -1;
            return 0;
        }
        r->count = std::clamp<std::uint32_t>(r->count, 2, max_buffers);
        bufs_.resize(r->count);
        for (auto& b : bufs_) b.mem.assign(fmt_.sizeimage, 0);
        owner_ = fd;
        return 0;
    }
    case VIDIOC_QUERYBUF: {
        auto* b = static_cast<v4l2_buffer*>(arg);
        if (fd != owner_ || b->index >= bufs_.size()) return violation("QUERYBUF of no buffer", EINVAL);
        describe(b->index, *b);
        return 0;
    }
    case VIDIOC_QBUF: {
        auto* b = static_cast<v4l2_buffer*>(arg);
        if (fd != owner_ || b->index >= bufs_.size() || b->memory != V4L2_MEMORY_MMAP)
            return violation("QBUF of no buffer", EINVAL);
        Buffer& buf = bufs_[b->index];
        if (buf.state != State::user) return violation("QBUF of a buffer the application does not hold", EINVAL);
        if (buf.maps == 0) return violation("QBUF of a buffer not mapped", EINVAL);
        buf.state = State::queued;
        queued_.push_back(b->index);
        return 0;
    }
    case VIDIOC_DQBUF: {
        auto* b = static_cast<v4l2_buffer*>(arg);
        if (fd != owner_ || !streaming_) return violation("DQBUF while not streaming", EINVAL);
        if (done_.empty()) return fail_errno(EAGAIN);
        const std::uint32_t index = done_.front();
        done_.pop_front();
        bufs_[index].state = State::user;
        describe(index, *b);
        return 0;
    }
    case VIDIOC_STREAMON: {
        if (fd != owner_ || bufs_.empty()) return violation("STREAMON without buffers", EINVAL);
        if (queued_.empty()) return violation("STREAMON with no buffer queued", EINVAL);
        streaming_ = true;
        return 0;
    }
    case VIDIOC_STREAMOFF: {
        if (fd != owner_) return violation("STREAMOFF from a descriptor without buffers", EINVAL);
        streaming_ = false;
        // All buffers go back to the application, as in videobuf2.
        queued_.clear();
        done_.clear();
        for (auto& b : bufs_) b.state = State::user;
        return 0;
    }
    case VIDIOC_S_CTRL: {
        auto* c = static_cast<v4l2_control*>(arg);
        auto ctl = controls.find(c->id);
        if (ctl == controls.end()) return fail_errno(EINVAL);
        ctl->second = c->value;
        controls_set.emplace_back(c->id, c->value);
        return 0;
    }
    case VIDIOC_G_CTRL: {
        auto* c = static_cast<v4l2_control*>(arg);
        auto ctl = controls.find(c->id);
        if (ctl == controls.end()) return fail_errno(EINVAL);
        c->value = ctl->second;
        return 0;
    }
    default:
        return fail_errno(ENOTTY);
    }
}

}  // namespace cp::testing
