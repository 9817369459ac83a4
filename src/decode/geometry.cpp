#include "src/decode/geometry.hpp"

#include <cmath>
#include <cstddef>

namespace cp::decode {

Point centre(const Quad& q) {
    float x = 0, y = 0;
    for (const auto& p : q) {
        x += p.x;
        y += p.y;
    }
    return {x / 4.0f, y / 4.0f};
}

bool inside(const Quad& q, Point p) {
    bool in = false;
    for (std::size_t i = 0, j = 3; i < 4; j = i++) {
        const Point a = q[i], b = q[j];
        if ((a.y > p.y) != (b.y > p.y)) {
            const float x = (b.x - a.x) * (p.y - a.y) / (b.y - a.y) + a.x;
            if (p.x < x) in = !in;
        }
    }
    return in;
}

double quad_area(const Quad& q) {
    double a = 0;
    for (std::size_t i = 0, j = 3; i < 4; j = i++) a += static_cast<double>(q[j].x) * q[i].y - static_cast<double>(q[i].x) * q[j].y;
    return std::fabs(a) / 2;
}

bool overlaps(const Quad& a, const Quad& b) { return inside(a, centre(b)) || inside(b, centre(a)); }

Quad square_around(Point c, float h) {
    return Quad{Point{c.x - h, c.y - h}, Point{c.x + h, c.y - h}, Point{c.x + h, c.y + h}, Point{c.x - h, c.y + h}};
}

}  // namespace cp::decode
