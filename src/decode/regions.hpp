// Region proposals: where QR finder patterns (the three nested squares) are,
// grouped into likely codes. Private to src/decode (uses OpenCV types).
#pragma once

#include <opencv2/core.hpp>

#include <vector>

namespace cp::decode {

struct Region {
    float cx = 0, cy = 0;  // centre of the likely code (image pixels)
    float half = 0;        // half side of a square that holds it with its quiet zone
    bool triple = false;   // three finder patterns found (else one lone pattern)
    // A triple's finder centres (the corner pattern first) and module size (px).
    cv::Point2f corner, a, b;
    float module = 0;
};

// Finder-pattern candidates of an 8-bit gray image, grouped by threes into
// likely codes (best-shaped triples first), then lone candidates. At most
// `max_regions` are returned.
std::vector<Region> propose_regions(const cv::Mat& gray, int max_regions);

}  // namespace cp::decode
