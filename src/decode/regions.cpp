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

std::vector<Finder> find_finders(const cv::Mat& gray, cv::Mat& bin) {
    const int longest = std::max(gray.cols, gray.rows);
    int block = std::clamp(longest / 40, 15, 61) | 1;
    // Dark modules become foreground; a local threshold survives shadows and glare.
    cv::adaptiveThreshold(gray, bin, 255, cv::ADAPTIVE_THRESH_MEAN_C, cv::THRESH_BINARY_INV, block, 7);
    std::vector<std::vector<cv::Point>> contours;
    std::vector<cv::Vec4i> tree;
    cv::findContours(bin.clone(), contours, tree, cv::RETR_TREE, cv::CHAIN_APPROX_SIMPLE);

    std::vector<Finder> out;
    for (std::size_t i = 0; i < contours.size(); ++i) {
        const int child = tree[i][2];
        if (child < 0) continue;
        const int grand = tree[static_cast<std::size_t>(child)][2];
        if (grand < 0) continue;
        const auto& outer = contours[i];
        const auto& core = contours[static_cast<std::size_t>(grand)];
        const double a_out = cv::contourArea(outer);
        const double a_core = cv::contourArea(core);
        if (a_out < 36 || a_core < 2) continue;
        const double ratio = a_out / a_core;  // 49/9 for a square-on pattern
        if (ratio < 2.5 || ratio > 14) continue;
        const cv::Rect r = cv::boundingRect(outer);
        const double aspect = static_cast<double>(r.width) / r.height;
        if (aspect < 0.4 || aspect > 2.5) continue;
        if (a_out < 0.4 * r.area()) continue;
        const cv::Moments mo = cv::moments(outer), mc = cv::moments(core);
        if (mo.m00 <= 0 || mc.m00 <= 0) continue;
        const cv::Point2f co(static_cast<float>(mo.m10 / mo.m00), static_cast<float>(mo.m01 / mo.m00));
        const cv::Point2f cc(static_cast<float>(mc.m10 / mc.m00), static_cast<float>(mc.m01 / mc.m00));
        const auto size = static_cast<float>(std::sqrt(a_out));
        if (dist(co, cc) > 0.25f * size) continue;
        bool dup = false;
        for (const auto& f : out)
            if (dist(f.c, co) < 0.5f * std::max(f.size, size)) dup = true;
        if (!dup) out.push_back({co, size});
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
            if (d < 1.6f * fs[a].size || d > 26.0f * fs[a].size) continue;
            nb.emplace_back(d, j);
        }
        std::sort(nb.begin(), nb.end());
        if (nb.size() > 8) nb.resize(8);
        std::erase_if(nb, [&](const auto& e) { return longest_light_run(bin, fs[a], fs[e.second]) > 5.5f; });
        for (std::size_t x = 0; x < nb.size(); ++x) {
            for (std::size_t y = x + 1; y < nb.size(); ++y) {
                const float d1 = nb[x].first, d2 = nb[y].first;
                if (d2 > 1.4f * d1) continue;
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
        out.push_back({mid.x, mid.y, 0.5f * diag + 1.2f * fs[t.a].size, true});
    }
    // Lone patterns: the other two were lost to blur or glare; the code lies
    // somewhere around, so the box is centred on the pattern and large.
    for (std::size_t i = 0; i < n; ++i)
        if (!used[i]) out.push_back({fs[i].c.x, fs[i].c.y, 4.0f * fs[i].size, false});
    if (out.size() > static_cast<std::size_t>(max_regions)) out.resize(static_cast<std::size_t>(max_regions));
    return out;
}

}  // namespace cp::decode
