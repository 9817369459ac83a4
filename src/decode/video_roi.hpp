// Video-frame tracking: where the last code was read (or three finder
// patterns were seen unread) so the next frame of a 30 fps stream tries a crop
// there first; a code moves little between frames. Private to src/decode.
#pragma once

#include "src/decode/geometry.hpp"
#include "src/decode/reader.hpp"

#include <opencv2/core.hpp>

#include <optional>
#include <vector>

namespace cp::decode {

class RoiTracker {
public:
    // Tries the tracked region of `gray` (the last read, else the hint left by
    // the last frame's finder search), then forgets the hint. Returns codes added.
    int try_region(FrameReader& reader, const cv::Mat& gray);
    // A likely but unread code in this frame, for the next one.
    void set_hint(const Quad& q) { hint_ = q; }
    void clear_hint() { hint_.reset(); }
    // After a frame: follows the first code read; forgets the position after
    // half a second (15 frames) without a read.
    void after_frame(const std::vector<Code>& codes);
    void reset();

private:
    std::optional<Quad> last_quad_;
    std::optional<Quad> hint_;  // a likely but unread code in the last frame
    int frames_since_seen_ = 0;
};

// The crop searched around `q`: its bounding box widened by 0.6 of its longer
// side on every side, clipped to the frame.
cv::Rect roi_box(const Quad& q, cv::Size frame);

}  // namespace cp::decode
