#include "src/decode/grid.hpp"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <optional>

namespace cp::decode {

namespace {

int dimension(int version) { return 17 + 4 * version; }

// A point whose place in the code (module units, origin at the code's
// top-left corner) and in the image are both known.
struct Control {
    cv::Point2d module;
    cv::Point2d image;
};

// The grid near one place: the image point of a module coordinate and the
// image vectors of one module step along the code's x and y.
struct Local {
    cv::Point2d p, ex, ey;
};

// Affine fit weighted towards the control points nearest `q` (moving least
// squares, weight 1 / (d^2 + 1)^2 with d in modules): exact through three
// points, and a bent surface is followed patch by patch.
std::optional<Local> local_fit(const std::vector<Control>& cs, cv::Point2d q) {
    if (cs.size() < 3) return std::nullopt;
    std::vector<double> w(cs.size());
    double sw = 0;
    cv::Point2d pm(0, 0), im(0, 0);
    for (std::size_t i = 0; i < cs.size(); ++i) {
        const cv::Point2d d = cs[i].module - q;
        const double d2 = d.dot(d) + 1.0;
        w[i] = 1.0 / (d2 * d2);
        sw += w[i];
        pm += w[i] * cs[i].module;
        im += w[i] * cs[i].image;
    }
    pm /= sw;
    im /= sw;
    double sxx = 0, sxy = 0, syy = 0, bxx = 0, bxy = 0, byx = 0, byy = 0;
    for (std::size_t i = 0; i < cs.size(); ++i) {
        const cv::Point2d d = cs[i].module - pm, u = cs[i].image - im;
        sxx += w[i] * d.x * d.x;
        sxy += w[i] * d.x * d.y;
        syy += w[i] * d.y * d.y;
        bxx += w[i] * d.x * u.x;
        bxy += w[i] * d.y * u.x;
        byx += w[i] * d.x * u.y;
        byy += w[i] * d.y * u.y;
    }
    const double det = sxx * syy - sxy * sxy;
    if (!(det > 1e-9 * sxx * syy) || sxx <= 0 || syy <= 0) return std::nullopt;  // collinear points
    const cv::Point2d ex((bxx * syy - bxy * sxy) / det, (byx * syy - byy * sxy) / det);
    const cv::Point2d ey((bxy * sxx - bxx * sxy) / det, (byy * sxx - byx * sxy) / det);
    return Local{im + ex * (q.x - pm.x) + ey * (q.y - pm.y), ex, ey};
}

// Bilinear grey level at p; -1 outside the image.
double level(const cv::Mat& g, cv::Point2d p) {
    if (!(p.x >= 0 && p.y >= 0 && p.x < g.cols - 1 && p.y < g.rows - 1)) return -1;
    const int x = static_cast<int>(p.x), y = static_cast<int>(p.y);
    const double fx = p.x - x, fy = p.y - y;
    const std::uint8_t* r0 = g.ptr<std::uint8_t>(y);
    const std::uint8_t* r1 = g.ptr<std::uint8_t>(y + 1);
    return (r0[x] * (1 - fx) + r0[x + 1] * fx) * (1 - fy) + (r1[x] * (1 - fx) + r1[x + 1] * fx) * fy;
}

// A pattern of nested squares, `radius` modules out from its centre module:
// whether the ring at Chebyshev distance r is dark.
using Rings = bool (*)(int r);
bool finder_ring(int r) { return r != 2; }          // 7x7: dark, light, dark 3x3 core
bool alignment_ring(int r) { return r != 1; }       // 5x5: dark, light, dark centre

// Correlation of the grey levels at the pattern's module centres with its
// dark/light layout (1: perfect; dark counts positive).
double pattern_score(const cv::Mat& g, cv::Point2d c, const Local& l, int radius, Rings dark) {
    double s = 0, ss = 0, st = 0, tt = 0, t_sum = 0;
    int n = 0;
    for (int v = -radius; v <= radius; ++v)
        for (int u = -radius; u <= radius; ++u) {
            const double x = level(g, c + l.ex * u + l.ey * v);
            if (x < 0) return -1;
            const double t = dark(std::max(std::abs(u), std::abs(v))) ? 1.0 : -1.0;
            s += -x;
            ss += x * x;
            st += -x * t;
            tt += t * t;
            t_sum += t;
            ++n;
        }
    const double cov = st - s * t_sum / n;
    const double var_x = ss - s * s / n, var_t = tt - t_sum * t_sum / n;
    if (var_x <= 1e-6) return -1;
    return cov / std::sqrt(var_x * var_t);
}

// Searches around the predicted centre (up to `reach` modules away) for the
// place where the pattern fits best; nullopt when nothing fits well.
std::optional<cv::Point2d> find_pattern(const cv::Mat& g, const Local& l, double reach, int radius, Rings dark,
                                        double min_score) {
    const double module = std::sqrt(std::fabs(l.ex.x * l.ey.y - l.ex.y * l.ey.x));
    if (!(module >= 1.0)) return std::nullopt;
    const double step = std::max(0.5, module / 4.0);
    const int n = static_cast<int>(reach * module / step);
    double best = min_score;
    std::optional<cv::Point2d> at;
    for (int j = -n; j <= n; ++j)
        for (int i = -n; i <= n; ++i) {
            const cv::Point2d c = l.p + cv::Point2d(i * step, j * step);
            // Nearer the prediction wins a tie: data modules can mimic a pattern.
            const double score = pattern_score(g, c, l, radius, dark) - 0.03 * std::hypot(i, j) * step / module;
            if (score > best) {
                best = score;
                at = c;
            }
        }
    return at;
}

bool is_finder_corner(int x, int y, int n) { return (x == 6 && y == 6) || (x == 6 && y == n - 7) || (x == n - 7 && y == 6); }

// Module values of the function patterns a version fixes (finders with their
// separators, timing, alignment): 1 dark, 0 light, -1 data or format.
cv::Mat function_patterns(int version) {
    const int n = dimension(version);
    cv::Mat f(n, n, CV_8SC1, cv::Scalar(-1));
    auto set = [&](int x, int y, int v) {
        if (x >= 0 && y >= 0 && x < n && y < n) f.at<std::int8_t>(y, x) = static_cast<std::int8_t>(v);
    };
    for (int i = 8; i < n - 8; ++i) {
        set(i, 6, i % 2 == 0);
        set(6, i, i % 2 == 0);
    }
    const int corners[3][2] = {{3, 3}, {n - 4, 3}, {3, n - 4}};
    for (const auto& c : corners)
        for (int dy = -4; dy <= 4; ++dy)
            for (int dx = -4; dx <= 4; ++dx) set(c[0] + dx, c[1] + dy, std::max(std::abs(dx), std::abs(dy)) <= 3 && finder_ring(std::max(std::abs(dx), std::abs(dy))));
    const auto pos = alignment_positions(version);
    for (int ay : pos)
        for (int ax : pos) {
            if (is_finder_corner(ax, ay, n)) continue;
            for (int dy = -2; dy <= 2; ++dy)
                for (int dx = -2; dx <= 2; ++dx) set(ax + dx, ay + dy, alignment_ring(std::max(std::abs(dx), std::abs(dy))));
        }
    return f;
}

// The 18-bit version information word of a version (7..40): the version
// in the top 6 bits, a BCH(18,6) remainder below.
int version_word(int version) {
    int rem = version;
    for (int i = 0; i < 12; ++i) rem = (rem << 1) ^ ((rem >> 11) * 0x1F25);
    return version << 12 | rem;
}

// Reads the two version information blocks (bottom-left: 6 wide, 3 high;
// top-right: 3 wide, 6 high) with the grid the finder patterns give, and
// returns the version whose word is within 3 bit errors of either (0: none).
int read_version(const cv::Mat& g, const std::vector<Control>& cs, int n) {
    int best_version = 0, best_dist = 4;
    for (int block = 0; block < 2; ++block) {
        double vals[18];
        double sum = 0;
        for (int i = 0; i < 18; ++i) {
            const int a = i / 3, b = n - 11 + i % 3;
            const cv::Point2d m = block == 0 ? cv::Point2d(a + 0.5, b + 0.5) : cv::Point2d(b + 0.5, a + 0.5);
            const auto l = local_fit(cs, m);
            vals[i] = l ? level(g, l->p) : -1;
            if (vals[i] < 0) return 0;
            sum += vals[i];
        }
        // The block's own mean as threshold: a flat, unreadable block gives a
        // word far from every version's.
        int word = 0;
        for (int i = 0; i < 18; ++i)
            if (vals[i] < sum / 18) word |= 1 << i;
        for (int v = 7; v <= 40; ++v) {
            const int d = std::popcount(static_cast<unsigned>(word ^ version_word(v)));
            if (d < best_dist) {
                best_dist = d;
                best_version = v;
            }
        }
    }
    return best_version;
}

}  // namespace

std::vector<int> alignment_positions(int version) {
    if (version < 2 || version > 40) return {};
    const int count = version / 7 + 2, size = dimension(version);
    const int step = version == 32 ? 26 : (version * 4 + count * 2 + 1) / (count * 2 - 2) * 2;
    std::vector<int> out(static_cast<std::size_t>(count));
    out[0] = 6;
    for (int i = count - 1, p = size - 7; i >= 1; --i, p -= step) out[static_cast<std::size_t>(i)] = p;
    return out;
}

std::vector<int> likely_versions(const FinderTriple& t, int spread) {
    if (!(t.module > 0)) return {};
    const double d = 0.5 * (cv::norm(t.a - t.corner) + cv::norm(t.b - t.corner));
    // Finder centres are 3.5 modules in from the code's edges.
    const double n = d / t.module + 7.0;
    if (!std::isfinite(n) || n < 17.0 || n > 200.0) return {};
    const int v = static_cast<int>(std::lround((n - 17.0) / 4.0));
    std::vector<int> out;
    for (int k = 0; k <= spread; ++k)
        for (int s : {v + k, v - k}) {
            if (s >= 1 && s <= 40 && std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
        }
    return out;
}

SampledCode sample_grid(const cv::Mat& gray, const FinderTriple& t, int version, int px_per_module) {
    SampledCode out;
    if (version < 1 || version > 40 || px_per_module < 1) return out;
    const int n = dimension(version);
    // Which neighbour is top-right: the code's x axis turns clockwise into its
    // y axis (image y points down).
    cv::Point2d tl = t.corner, tr = t.a, bl = t.b;
    if ((tr - tl).cross(bl - tl) < 0) std::swap(tr, bl);
    const double far = n - 3.5;
    std::vector<Control> cs{{{3.5, 3.5}, tl}, {{far, 3.5}, tr}, {{3.5, far}, bl}};
    const auto first = local_fit(cs, {n / 2.0, n / 2.0});
    if (!first) return out;
    const double module = std::sqrt(std::fabs(first->ex.cross(first->ey)));
    if (!(module >= 1.5) || module * n > 4.0 * std::max(gray.cols, gray.rows)) return out;

    // The code and a margin, lightly smoothed against JPEG noise and print grain.
    cv::Rect box;
    {
        std::vector<cv::Point2f> pts;
        for (const auto& c : cs) pts.emplace_back(c.image);
        const cv::Point2d br = first->p * 2 - tl;  // the fourth corner, by symmetry
        pts.emplace_back(br);
        box = cv::boundingRect(pts);
        const int m = static_cast<int>(8 * module + 0.1 * std::max(box.width, box.height));
        box = cv::Rect(box.x - m, box.y - m, box.width + 2 * m, box.height + 2 * m) & cv::Rect(0, 0, gray.cols, gray.rows);
        if (box.width < 16 || box.height < 16) return out;
    }
    cv::Mat g;
    cv::GaussianBlur(gray(box), g, cv::Size(0, 0), std::clamp(module / 6.0, 0.5, 3.0));
    const cv::Point2d off(box.x, box.y);
    for (auto& c : cs) c.image -= off;

    // Finder centres, refined where the 7x7 pattern fits.
    for (auto& c : cs) {
        auto l = local_fit(cs, c.module);
        if (!l) return out;
        l->p = c.image;
        if (auto p = find_pattern(g, *l, 1.0, 3, finder_ring, 0.5)) c.image = *p;
    }
    // Versions 7 and up write their version twice beside the finder patterns
    // (18 bits, BCH-protected): read before the alignment search, it tells a
    // wrong guess from the finder spacing.
    if (version >= 7) {
        out.version_read = read_version(g, cs, n);
        if (out.version_read != 0 && out.version_read != version) return out;
    }
    // Alignment patterns, nearest the points already known first.
    struct Pending {
        cv::Point2d module;
        bool done = false;
    };
    std::vector<Pending> todo;
    const auto pos = alignment_positions(version);
    for (int ay : pos)
        for (int ax : pos)
            if (!is_finder_corner(ax, ay, n)) todo.push_back({{ax + 0.5, ay + 0.5}});
    for (std::size_t k = 0; k < todo.size(); ++k) {
        std::size_t next = todo.size();
        double nearest = 1e18;
        for (std::size_t i = 0; i < todo.size(); ++i) {
            if (todo[i].done) continue;
            for (const auto& c : cs) {
                const double d = cv::norm(c.module - todo[i].module);
                if (d < nearest) {
                    nearest = d;
                    next = i;
                }
            }
        }
        if (next == todo.size()) break;
        todo[next].done = true;
        const auto l = local_fit(cs, todo[next].module);
        if (!l) continue;
        if (auto p = find_pattern(g, *l, 2.0, 2, alignment_ring, 0.6)) cs.push_back({todo[next].module, *p});
    }

    // Each module's grey level at its centre, thresholded against the mean of
    // the modules around it.
    cv::Mat values(n, n, CV_32FC1);
    for (int y = 0; y < n; ++y)
        for (int x = 0; x < n; ++x) {
            const auto l = local_fit(cs, {x + 0.5, y + 0.5});
            if (!l) return out;
            // Outside the crop (a strongly bent edge): taken as light.
            const double v = level(g, l->p);
            values.at<float>(y, x) = static_cast<float>(v < 0 ? 255.0 : v);
        }
    cv::Mat mean;
    cv::blur(values, mean, cv::Size(9, 9), cv::Point(-1, -1), cv::BORDER_REFLECT);
    const cv::Mat fixed = function_patterns(version);
    const int q = 4;  // quiet zone, modules
    cv::Mat img((n + 2 * q) * px_per_module, (n + 2 * q) * px_per_module, CV_8UC1, cv::Scalar(255));
    for (int y = 0; y < n; ++y)
        for (int x = 0; x < n; ++x) {
            const int f = fixed.at<std::int8_t>(y, x);
            const bool dark = f >= 0 ? f == 1 : values.at<float>(y, x) < mean.at<float>(y, x);
            if (dark)
                img(cv::Rect((x + q) * px_per_module, (y + q) * px_per_module, px_per_module, px_per_module))
                    .setTo(cv::Scalar(0));
        }
    out.image = img;
    const cv::Point2d code_corners[4] = {{0, 0}, {static_cast<double>(n), 0}, {static_cast<double>(n), static_cast<double>(n)}, {0, static_cast<double>(n)}};
    for (std::size_t i = 0; i < 4; ++i) {
        const auto l = local_fit(cs, code_corners[i]);
        if (!l) return SampledCode{};
        out.corners[i] = cv::Point2f(l->p + off);
    }
    return out;
}

}  // namespace cp::decode
