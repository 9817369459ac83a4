// The frame-difference gate: the decoder idles while nothing in the picture
// changes (an empty lane at night, a wall). A frame is summarised by the mean
// gray level of 16x16-pixel blocks, each from 16 sampled pixels (about 60 000
// pixel reads for 1280x720: tens of microseconds), and compared with the last
// frame that was decoded. Decoding goes on whenever
//   - enough blocks moved (a person, a phone, the light),
//   - a change happened in the last settle_frames frames (the picture settles),
//   - a code was read, or a likely code left unread, within the hold-off gap
//     (hold-off needs fresh sightings; a hard code gets every frame's tries),
//   - refresh_ms passed since the last decode (nothing waits long for a retry).
// Sensor noise moves a 16-sample block mean by a fraction of a gray level, far
// below block_delta.
//
// Thread-safety: NOT thread-safe; the decide thread owns it.
#pragma once

#include "drivers/camera/camera.hpp"

#include <cstdint>
#include <vector>

namespace cp::camera {

struct FrameGateConfig {
    int block = 16;                // px, side of a block
    double block_delta = 6.0;      // gray levels a block mean must move to count as changed
    double changed_share = 0.002;  // share of moved blocks that makes a frame "changed"
    int settle_frames = 3;         // after a change, frames decoded even when still
    int refresh_ms = 500;          // ms; decode at least this often anyway
};

class FrameGate {
public:
    explicit FrameGate(FrameGateConfig config = {}) : config_(config) {}
    // True: decode this frame. `code_in_view`: a code was read, or a likely
    // code left unread, within the hold-off gap (ScanPipeline::code_or_likely_in_view).
    bool should_decode(const Frame& frame, std::int64_t mono_ms, bool code_in_view);
    std::uint64_t skipped() const { return skipped_; }
    std::uint64_t passed() const { return passed_; }

private:
    FrameGateConfig config_;
    std::vector<float> ref_, cur_;
    int cols_ = 0, rows_ = 0;
    int settle_ = 0;
    std::int64_t last_decode_ms_ = -1;
    std::uint64_t skipped_ = 0, passed_ = 0;
};

}  // namespace cp::camera
