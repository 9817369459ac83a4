#include "firmware/checkpointd/frame_mailbox.hpp"

#include <chrono>
#include <utility>

namespace cp::daemon {

void FrameMailbox::put(camera::Frame frame) {
    {
        std::lock_guard lock(mu_);
        if (frame_) ++dropped_;
        frame_ = std::move(frame);
    }
    cv_.notify_one();
}

std::optional<camera::Frame> FrameMailbox::take(int timeout_ms) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [this] { return frame_.has_value() || closed_; });
    std::optional<camera::Frame> f = std::move(frame_);
    frame_.reset();
    return f;
}

void FrameMailbox::close() {
    {
        std::lock_guard lock(mu_);
        closed_ = true;
    }
    cv_.notify_all();
}

bool FrameMailbox::drained() const {
    std::lock_guard lock(mu_);
    return closed_ && !frame_;
}

std::uint64_t FrameMailbox::dropped() const {
    std::lock_guard lock(mu_);
    return dropped_;
}

}  // namespace cp::daemon
