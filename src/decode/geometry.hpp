// Geometry of codes in a frame: quadrilaterals, the mapping from a working
// image back to the frame, and the tests the decoder's dedup and its "is this
// finder pattern already read" questions use. Private to src/decode.
#pragma once

#include "src/decode/decoder.hpp"

#include <array>

namespace cp::decode {

using Quad = std::array<Point, 4>;

// Maps working-image pixels back to the original frame:
// orig = (work * (ax, ay)) * scale + offset; ax, ay undo an aspect change.
struct Xform {
    double scale = 1.0;
    double ox = 0.0;
    double oy = 0.0;
    double ax = 1.0;
    double ay = 1.0;
    Point apply(double x, double y) const {
        return {static_cast<float>(x * ax * scale + ox), static_cast<float>(y * ay * scale + oy)};
    }
};

Point centre(const Quad& q);
// Point in convex-or-not quadrilateral by the even-odd rule.
bool inside(const Quad& q, Point p);
double quad_area(const Quad& q);
// Two codes at one position: either one's centre inside the other.
bool overlaps(const Quad& a, const Quad& b);
// The axis-aligned square of half side `half` around `c`, clockwise from top-left.
Quad square_around(Point c, float half);

}  // namespace cp::decode
