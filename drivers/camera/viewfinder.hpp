// The viewfinder: what the person at the lane sees while the scanner waits —
// the live camera picture (scaled, mirrored when the camera faces them), an
// aiming box, and one hint at a time drawn from the decoder's finder search and
// two cheap image measures:
//   move_closer  a code is seen but its modules are too small to read
//   hold_still   something with contrast is in the box but its edges are smeared
//   glare        a patch of saturated pixels in the box (a phone screen's reflection
//                or a screen turned up too bright). A camera at auto exposure keeps
//                white paper below saturation; paper the camera clips to 255 in
//                full sun also gets this hint, which is the right advice there too.
// Runs on the daemon's viewfinder thread on its own copy of a frame, never on the
// decode path (docs/daemon.md).
//
// Thread-safety: free functions on values; safe from any thread.
#pragma once

#include "drivers/camera/camera.hpp"
#include "src/decode/decoder.hpp"
#include "src/common/result.hpp"

#include <opencv2/core.hpp>

namespace cp::camera {

enum class Hint { none, move_closer, hold_still, glare };
const char* to_string(Hint h);

struct HintConfig {
    float min_module_px = 2.5f;   // frame px per module below which a seen code is "too small"
    double glare_share = 0.015;   // share of saturated (>= 250) pixels in the box: glare
    double min_contrast = 20;     // gray-level standard deviation in the box below which nothing is there
    double min_sharpness = 0.16;  // mean |Laplacian| / standard deviation below which the box is smeared
    int work_long_side = 320;     // px; blur and glare are measured on a copy this size
    // The finder search runs on the aiming box at full resolution up to this
    // side (px), reduced beyond: small modules must stay visible to it.
    int finder_long_side = 800;
};

// The aiming box in a w x h picture: a centred square, 70 % of the shorter side.
cv::Rect aim_box(int w, int h);

struct Assessment {
    Hint hint = Hint::none;
    decode::Sighting sighting;
    double contrast = 0;    // gray standard deviation in the box
    double sharpness = 0;   // mean |Laplacian| / contrast in the box
    double glare = 0;       // share of saturated pixels in the box
};
// Errors: invalid_input/"image" for an empty or inconsistent frame.
Result<Assessment> assess(const Frame& frame, const HintConfig& config = {});

// The picture for the screen: BGR8, fitted into max_w x max_h keeping the aspect
// ratio, mirrored left-right when `mirror` (a camera facing the person: moving
// the phone left moves it left on the screen). Empty for an empty frame.
cv::Mat preview_image(const Frame& frame, int max_w, int max_h, bool mirror);

}  // namespace cp::camera
