// Shared by the camera backends; not part of the interface.
#pragma once

#include "drivers/camera/camera.hpp"

#include <opencv2/core.hpp>

namespace cp::camera::detail {

// Copies a BGR8 or gray8 Mat into an owned, packed Frame.
Frame frame_from_mat(const cv::Mat& mat, std::uint64_t sequence, std::int64_t timestamp_ms);

// Paces frames at a fixed rate against CLOCK_MONOTONIC.
class Pacer {
public:
    explicit Pacer(double fps) : fps_(fps) {}
    // Sleeps until frame `index` is due. Returns false (after sleeping
    // timeout_ms) when it is not due within timeout_ms.
    bool wait_for(std::uint64_t index, int timeout_ms);
    std::int64_t due_ms(std::uint64_t index);

private:
    double fps_;
    std::int64_t start_ms_ = -1;
};

void sleep_ms(std::int64_t ms);

}  // namespace cp::camera::detail
