// The direct V4L2 capture backend's seams; not part of the camera interface.
// The backend reaches the kernel only through V4l2Io, so tests can put a
// simulated device behind it (tests/drivers/sim_v4l2.hpp), and the MJPEG
// decoder is separate so a fuzz target can feed it arbitrary bytes.
#pragma once

#include "drivers/camera/camera.hpp"

#include <poll.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

namespace cp::camera::detail {

// The system calls the backend makes, with the system calls' conventions:
// -1 (MAP_FAILED for mmap) and errno on failure.
class V4l2Io {
public:
    virtual ~V4l2Io() = default;
    virtual int open(const char* path, int flags) = 0;
    virtual int close(int fd) = 0;
    virtual int ioctl(int fd, unsigned long request, void* arg) = 0;
    virtual void* mmap(std::size_t length, int prot, int flags, int fd, off_t offset) = 0;
    virtual int munmap(void* addr, std::size_t length) = 0;
    virtual int poll(pollfd* fds, nfds_t nfds, int timeout_ms) = 0;
};

// The real thing: ::open, ::close, ::ioctl, ::mmap, ::munmap, ::poll.
std::shared_ptr<V4l2Io> system_v4l2_io();

// open_v4l2() with the system calls going to `io`. Same errors as open_v4l2.
Result<std::unique_ptr<Camera>> open_v4l2_with(const V4l2Config& config, std::shared_ptr<V4l2Io> io);

// Memory-mapped buffers the backend asks the driver for: one being converted,
// one being filled, one spare. The newest filled buffer is taken and older ones
// go straight back, so a stale frame never shows the previous person.
inline constexpr unsigned kV4l2Buffers = 3;

// Largest MJPEG frame accepted (bytes), whatever sizeimage the driver reports.
inline constexpr std::size_t kMaxMjpegBytes = 8u << 20;

// Decodes one MJPEG frame (a baseline JPEG, Huffman tables optional as UVC
// cameras send them) straight to 8-bit luma, `width` x `height` pixels packed
// into `out`, which must hold width * height bytes. The frame must be exactly
// width x height. Errors: io/"frame" for anything else: empty, over
// kMaxMjpegBytes, not a JPEG, truncated or corrupt data, other dimensions,
// progressive or CMYK coding. Never reads outside `jpeg`.
Status decode_mjpeg_gray(std::span<const std::uint8_t> jpeg, int width, int height, std::uint8_t* out);

}  // namespace cp::camera::detail
