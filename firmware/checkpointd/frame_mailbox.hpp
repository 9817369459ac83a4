// FrameMailbox: the hand-over between the capture thread and the decide (or
// viewfinder) thread, one frame deep (docs/daemon.md, "Newest frame only").
#pragma once

#include "drivers/camera/camera.hpp"

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>

namespace cp::daemon {

// The newest frame only: capture never waits for decode, and a slow decode
// never works on a stale frame (latency does not build up). Thread-safe.
class FrameMailbox {
public:
    // Replaces a frame not yet taken (counted as dropped).
    void put(camera::Frame frame);
    // Waits up to timeout_ms for a frame.
    std::optional<camera::Frame> take(int timeout_ms);
    // No more frames will come (end of a file or sim source).
    void close();
    bool drained() const;  // closed and empty
    std::uint64_t dropped() const;

private:
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::optional<camera::Frame> frame_;
    bool closed_ = false;
    std::uint64_t dropped_ = 0;
};

}  // namespace cp::daemon
