#include "drivers/camera/frame_gate.hpp"

#include <algorithm>
#include <cmath>

namespace cp::camera {

bool FrameGate::should_decode(const Frame& f, std::int64_t mono_ms, bool code_in_view) {
    const int channels = f.format == PixelFormat::gray8 ? 1 : 3;
    const int b = std::max(4, config_.block);
    const bool usable = f.width >= b && f.height >= b && f.stride >= f.width * channels &&
                        f.pixels.size() >= static_cast<std::size_t>(f.stride) * static_cast<std::size_t>(f.height);
    if (!usable) {  // not ours to judge: the decoder reports a malformed frame
        ++passed_;
        return true;
    }
    const int cols = f.width / b, rows = f.height / b;
    cur_.assign(static_cast<std::size_t>(cols) * static_cast<std::size_t>(rows), 0.0f);
    // 4x4 samples per block; for colour frames the green byte (most of the luma).
    const int step = b / 4;
    const int green = channels == 3 ? 1 : 0;
    for (int by = 0; by < rows; ++by) {
        for (int bx = 0; bx < cols; ++bx) {
            int sum = 0;
            for (int y = by * b + step / 2; y < (by + 1) * b; y += step) {
                const std::uint8_t* row = f.pixels.data() + static_cast<std::size_t>(y) * static_cast<std::size_t>(f.stride);
                for (int x = bx * b + step / 2; x < (bx + 1) * b; x += step)
                    sum += row[static_cast<std::size_t>(x * channels + green)];
            }
            cur_[static_cast<std::size_t>(by * cols + bx)] = static_cast<float>(sum) / 16.0f;
        }
    }
    bool changed = cols != cols_ || rows != rows_ || ref_.size() != cur_.size();
    if (!changed) {
        std::size_t moved = 0;
        for (std::size_t i = 0; i < cur_.size(); ++i)
            if (std::fabs(cur_[i] - ref_[i]) > config_.block_delta) ++moved;
        changed = static_cast<double>(moved) >= config_.changed_share * static_cast<double>(cur_.size());
    }
    if (changed) settle_ = config_.settle_frames;
    const bool decode = changed || settle_ > 0 || code_in_view || last_decode_ms_ < 0 ||
                        mono_ms - last_decode_ms_ >= config_.refresh_ms;
    if (!decode) {
        ++skipped_;
        return false;
    }
    if (settle_ > 0) --settle_;
    ref_.swap(cur_);
    cols_ = cols;
    rows_ = rows;
    last_decode_ms_ = mono_ms;
    ++passed_;
    return true;
}

}  // namespace cp::camera
