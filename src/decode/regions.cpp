#include "src/decode/regions.hpp"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>

namespace cp::decode {

namespace {

struct Finder {
    cv::Point2f c;
    float size = 0;  // side of the outer square, about 7 modules
};

float dist(cv::Point2f a, cv::Point2f b) { return std::hypot(a.x - b.x, a.y - b.y); }

// A finder pattern, binarised, is a dark ring (24 of its 49 modules) around a
// dark 3x3 core, two separate connected components whose centroids coincide.
// Connected components cost a few ms per megapixel, contours many times that
// on textured backgrounds.
std::vector<Finder> find_finders(const cv::Mat& gray, cv::Mat& bin) {
    const int longest = std::max(gray.cols, gray.rows);
    const int block = std::clamp(longest / 40, 15, 61) | 1;
    // Dark modules become foreground; a local threshold survives shadows and glare.
    cv::adaptiveThreshold(gray, bin, 255, cv::ADAPTIVE_THRESH_MEAN_C, cv::THRESH_BINARY_INV, block, 7);
    cv::Mat labels, stats, centroids;
    const int n = cv::connectedComponentsWithStats(bin, labels, stats, centroids, 8, CV_32S);

    struct Blob {
        cv::Point2f c;
        float w, h;
        int area;
    };
    auto blob = [&](int i) {
        return Blob{{static_cast<float>(centroids.at<double>(i, 0)), static_cast<float>(centroids.at<double>(i, 1))},
                    static_cast<float>(stats.at<int>(i, cv::CC_STAT_WIDTH)),
                    static_cast<float>(stats.at<int>(i, cv::CC_STAT_HEIGHT)), stats.at<int>(i, cv::CC_STAT_AREA)};
    };
    // Cores: compact, square-ish blobs; bucketed on a coarse grid for lookup.
    const int cell = 16;
    const int gx = (gray.cols + cell - 1) / cell, gy = (gray.rows + cell - 1) / cell;
    std::vector<std::vector<int>> grid(static_cast<std::size_t>(gx) * static_cast<std::size_t>(gy));
    auto cell_of = [&](cv::Point2f p) {
        const int x = std::clamp(static_cast<int>(p.x) / cell, 0, gx - 1);
        const int y = std::clamp(static_cast<int>(p.y) / cell, 0, gy - 1);
        return static_cast<std::size_t>(y) * static_cast<std::size_t>(gx) + static_cast<std::size_t>(x);
    };
    for (int i = 1; i < n; ++i) {
        const Blob b = blob(i);
        if (b.area < 3 || b.w > 0.25f * static_cast<float>(longest)) continue;
        const float aspect = b.w / b.h;
        if (aspect < 0.5f || aspect > 2.0f) continue;
        if (static_cast<float>(b.area) < 0.4f * b.w * b.h) continue;
        grid[cell_of(b.c)].push_back(i);
    }
    std::vector<Finder> out;
    for (int i = 1; i < n; ++i) {
        const Blob r = blob(i);
        if (r.area < 12 || r.w < 7 || r.h < 7) continue;
        const float aspect = r.w / r.h;
        if (aspect < 0.5f || aspect > 2.0f) continue;
        const float fill = static_cast<float>(r.area) / (r.w * r.h);
        if (fill < 0.15f || fill > 0.75f) continue;  // a ring, straight (0.49) or turned (0.25)
        const float size = std::sqrt(static_cast<float>(r.area) * 49.0f / 24.0f);
        // The ring's centroid sits at its box centre.
        const cv::Point2f box_c(static_cast<float>(stats.at<int>(i, cv::CC_STAT_LEFT)) + r.w / 2,
                                static_cast<float>(stats.at<int>(i, cv::CC_STAT_TOP)) + r.h / 2);
        if (dist(box_c, r.c) > 0.15f * size) continue;
        bool hit = false;
        const std::size_t home = cell_of(r.c);
        const int hx = static_cast<int>(home % static_cast<std::size_t>(gx)), hy = static_cast<int>(home / static_cast<std::size_t>(gx));
        for (int y = std::max(0, hy - 1); y <= std::min(gy - 1, hy + 1) && !hit; ++y) {
            for (int x = std::max(0, hx - 1); x <= std::min(gx - 1, hx + 1) && !hit; ++x) {
                for (int j : grid[static_cast<std::size_t>(y) * static_cast<std::size_t>(gx) + static_cast<std::size_t>(x)]) {
                    if (j == i) continue;
                    const Blob c = blob(j);
                    if (dist(c.c, r.c) > 0.15f * size) continue;
                    const float ratio = static_cast<float>(r.area) / static_cast<float>(c.area);  // 24/9
                    if (ratio < 1.0f || ratio > 7.0f) continue;
                    const float side = std::max(c.w, c.h) / std::max(r.w, r.h);  // 3/7
                    if (side < 0.2f || side > 0.7f) continue;
                    hit = true;
                    break;
                }
            }
        }
        if (hit) out.push_back({r.c, size});
    }
    return out;
}

// Longest run of light pixels (in module units) on the segment between two
// finder centres, leaving out the finders themselves. Within one code the
// segment crosses data and timing modules; between two codes it crosses both
// quiet zones, at least eight light modules in a row.
float longest_light_run(const cv::Mat& bin, const Finder& a, const Finder& b) {
    const float d = dist(a.c, b.c);
    const float module = 0.5f * (a.size + b.size) / 7.0f;
    const int steps = std::max(2, static_cast<int>(d));
    const float skip = 0.5f * (a.size + b.size) / 2.0f / d;  // fraction covered by a finder
    int run = 0, best = 0;
    for (int i = 0; i <= steps; ++i) {
        const float t = static_cast<float>(i) / static_cast<float>(steps);
        if (t < skip || t > 1.0f - skip) continue;
        const int x = static_cast<int>(a.c.x + t * (b.c.x - a.c.x));
        const int y = static_cast<int>(a.c.y + t * (b.c.y - a.c.y));
        if (x < 0 || y < 0 || x >= bin.cols || y >= bin.rows) continue;
        if (bin.at<std::uint8_t>(y, x) == 0) best = std::max(best, ++run);
        else run = 0;
    }
    return static_cast<float>(best) * d / static_cast<float>(steps) / module;
}

}  // namespace

std::vector<Region> propose_regions(const cv::Mat& gray, int max_regions) {
    cv::Mat bin;
    const auto fs = find_finders(gray, bin);
    const std::size_t n = fs.size();
    struct Triple {
        std::size_t a, b, c;
        float score;
    };
    std::vector<Triple> triples;
    for (std::size_t a = 0; a < n; ++a) {
        // Neighbours of similar size at a plausible finder-to-finder distance,
        // with no quiet zone between them.
        std::vector<std::pair<float, std::size_t>> nb;
        for (std::size_t j = 0; j < n; ++j) {
            if (j == a) continue;
            const float ratio = fs[j].size / fs[a].size;
            if (ratio < 0.6f || ratio > 1.66f) continue;
            const float d = dist(fs[a].c, fs[j].c);
            // Up to version 40 (170 modules between centres, 24 finder sides),
            // with room for a finder measured small under blur.
            if (d < 1.6f * fs[a].size || d > 30.0f * fs[a].size) continue;
            nb.emplace_back(d, j);
        }
        std::sort(nb.begin(), nb.end());
        if (nb.size() > 8) nb.resize(8);
        // Long segments across a large code (well over 100 modules) cross
        // runs of light data modules that long by chance: the limit grows
        // with the distance (in modules) beyond 70 modules.
        std::erase_if(nb, [&](const auto& e) {
            const float modules = e.first * 7.0f / fs[a].size;
            return longest_light_run(bin, fs[a], fs[e.second]) > std::max(5.5f, 0.08f * modules);
        });
        for (std::size_t x = 0; x < nb.size(); ++x) {
            for (std::size_t y = x + 1; y < nb.size(); ++y) {
                const float d1 = nb[x].first, d2 = nb[y].first;
                // A code tilted away from the camera foreshortens one side:
                // 1.6 admits tilts up to about 50 degrees (cos 51 = 1 / 1.6).
                if (d2 > 1.6f * d1) continue;
                const cv::Point2f u = fs[nb[x].second].c - fs[a].c, v = fs[nb[y].second].c - fs[a].c;
                const float cosang = (u.x * v.x + u.y * v.y) / (d1 * d2);
                if (std::fabs(cosang) > 0.4f) continue;  // the corner pattern sits at a right angle
                // Smallest codes first: a larger triangle may span neighbouring codes.
                triples.push_back({a, nb[x].second, nb[y].second, (d1 + d2) / fs[a].size + 4.0f * std::fabs(cosang)});
            }
        }
    }
    std::sort(triples.begin(), triples.end(), [](const Triple& l, const Triple& r) { return l.score < r.score; });
    std::vector<bool> used(n, false);
    std::vector<Region> out;
    for (const auto& t : triples) {
        if (used[t.a] || used[t.b] || used[t.c]) continue;
        used[t.a] = used[t.b] = used[t.c] = true;
        const cv::Point2f mid = (fs[t.b].c + fs[t.c].c) * 0.5f;
        const float diag = dist(fs[t.b].c, fs[t.c].c);
        const float module = (fs[t.a].size + fs[t.b].size + fs[t.c].size) / 21.0f;
        out.push_back({mid.x, mid.y, 0.5f * diag + 1.2f * fs[t.a].size, true, fs[t.a].c, fs[t.b].c, fs[t.c].c, module});
    }
    // Lone patterns: the other two were lost to blur or glare; the code lies
    // somewhere around, so the box is centred on the pattern and large.
    for (std::size_t i = 0; i < n; ++i)
        if (!used[i]) out.push_back({fs[i].c.x, fs[i].c.y, 4.0f * fs[i].size, false, fs[i].c, {}, {}, 0});
    if (out.size() > static_cast<std::size_t>(max_regions)) out.resize(static_cast<std::size_t>(max_regions));
    return out;
}

}  // namespace cp::decode
