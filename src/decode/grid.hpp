// Our own grid sampler for large QR codes (high versions) on bent or tilted
// paper: ZXing 1.4 samples a code through one perspective transform, which
// drifts over 100+ modules. This one fits the grid locally between the finder
// and alignment patterns and renders the modules as a clean image for ZXing.
// Private to src/decode (uses OpenCV types).
#pragma once

#include <opencv2/core.hpp>

#include <array>
#include <vector>

namespace cp::decode {

// Three finder-pattern centres of one likely code, in image pixels: the corner
// pattern and its two neighbours (either order), and the module size (px).
struct FinderTriple {
    cv::Point2f corner, a, b;
    float module = 0;
};

struct SampledCode {
    cv::Mat image;                       // empty: the geometry does not hold
    std::array<cv::Point2f, 4> corners;  // the code in the source image, clockwise from top-left
    // Version read from the code's version information (0: none read). When it
    // differs from the version asked for, the image is empty: try this one.
    int version_read = 0;
};

// QR versions (1..40) worth trying for a triple, most likely first: the one
// its finder spacing and module size suggest, then its neighbours up to `spread`.
std::vector<int> likely_versions(const FinderTriple& t, int spread);

// Samples the code of the given version whose finder patterns are `t`: finder
// centres refined, alignment patterns searched around their predicted
// positions (nearest the known points first, each found one correcting the
// prediction of the next), each module's centre placed by a locally weighted
// affine fit to those points, thresholded against its neighbourhood, and drawn
// at `px_per_module` with a 4-module quiet zone (dark = 0, light = 255).
SampledCode sample_grid(const cv::Mat& gray, const FinderTriple& t, int version, int px_per_module = 4);

// Centres (module indices) of a version's alignment patterns along one axis.
std::vector<int> alignment_positions(int version);

}  // namespace cp::decode
