#define ZX_USE_UTF8 1
#include "tests/decode/scoring.hpp"

#include <ZXing/ReadBarcode.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace cp::decode::scoring {

namespace fs = std::filesystem;

std::optional<std::vector<Quad>> parse_labels(const std::string& text) {
    std::istringstream in(text);
    std::string line;
    std::vector<std::vector<double>> rows;
    bool sets = false;
    while (std::getline(in, line)) {
        const auto first = line.find_first_not_of(" \t\r");
        if (first == std::string::npos || line[first] == '#') continue;
        if (line.compare(first, 4, "SETS") == 0) {
            sets = true;
            continue;
        }
        std::istringstream ls(line);
        std::vector<double> v;
        double d;
        while (ls >> d) v.push_back(d);
        if (!ls.eof()) return std::nullopt;
        rows.push_back(std::move(v));
    }
    std::vector<Quad> out;
    if (sets) {
        for (const auto& r : rows) {
            if (r.size() != 8) return std::nullopt;
            Quad q;
            for (std::size_t i = 0; i < 4; ++i) q[i] = {r[2 * i], r[2 * i + 1]};
            out.push_back(q);
        }
        return out;
    }
    if (rows.size() != 4) return std::nullopt;
    Quad q;
    for (std::size_t i = 0; i < 4; ++i) {
        if (rows[i].size() != 2) return std::nullopt;
        q[i] = {rows[i][0], rows[i][1]};
    }
    out.push_back(q);
    return out;
}

bool inside(const Quad& q, Pt p) {
    bool in = false;
    for (std::size_t i = 0, j = 3; i < 4; j = i++) {
        const Pt a = q[i], b = q[j];
        if ((a.y > p.y) != (b.y > p.y)) {
            const double x = (b.x - a.x) * (p.y - a.y) / (b.y - a.y) + a.x;
            if (p.x < x) in = !in;
        }
    }
    return in;
}

Pt centre(const Quad& q) {
    Pt c;
    for (const auto& p : q) {
        c.x += p.x / 4;
        c.y += p.y / 4;
    }
    return c;
}

Score score(const std::vector<Quad>& labels, const std::vector<Quad>& results) {
    Score s;
    s.labels = static_cast<int>(labels.size());
    std::vector<bool> matched(labels.size(), false);
    for (const auto& r : results) {
        const Pt c = centre(r);
        bool in_any = false, counted = false;
        for (std::size_t i = 0; i < labels.size(); ++i) {
            if (!inside(labels[i], c)) continue;
            in_any = true;
            if (!matched[i]) {
                matched[i] = true;
                counted = true;
                ++s.read;
                break;
            }
        }
        if (!in_any) ++s.false_reads;
        else if (!counted) ++s.duplicates;
    }
    return s;
}

std::vector<Quad> read_bare_zxing(const std::uint8_t* gray, int width, int height, int stride) {
    ZXing::DecodeHints h;
    h.setFormats(ZXing::BarcodeFormat::QRCode);
    h.setTryHarder(true);
    h.setTryRotate(true);
    h.setTryDownscale(true);
    ZXing::ImageView iv(gray, width, height, ZXing::ImageFormat::Lum, stride);
    std::vector<Quad> out;
    for (const auto& r : ZXing::ReadBarcodes(iv, h)) {
        if (!r.isValid()) continue;
        Quad q;
        for (std::size_t i = 0; i < 4; ++i)
            q[i] = {static_cast<double>(r.position()[i].x), static_cast<double>(r.position()[i].y)};
        out.push_back(q);
    }
    return out;
}

std::vector<Sample> load_dataset(const fs::path& root) {
    std::vector<Sample> out;
    std::vector<fs::path> dirs;
    for (const auto& e : fs::directory_iterator(root))
        if (e.is_directory()) dirs.push_back(e.path());
    std::sort(dirs.begin(), dirs.end());
    for (const auto& d : dirs) {
        std::vector<fs::path> images;
        for (const auto& e : fs::directory_iterator(d)) {
            auto ext = e.path().extension().string();
            std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
            if (ext == ".jpg" || ext == ".jpeg" || ext == ".png") images.push_back(e.path());
        }
        std::sort(images.begin(), images.end());
        for (const auto& img : images) {
            fs::path label = img;
            label.replace_extension(".txt");
            std::ifstream in(label);
            if (!in) continue;
            std::stringstream ss;
            ss << in.rdbuf();
            auto q = parse_labels(ss.str());
            if (!q) {
                std::fprintf(stderr, "skipping %s: unreadable labels\n", label.c_str());
                continue;
            }
            out.push_back({d.filename().string(), img, std::move(*q)});
        }
    }
    return out;
}

}  // namespace cp::decode::scoring
