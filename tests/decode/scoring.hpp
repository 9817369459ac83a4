// Scoring of QR reads against the hand-labelled corners of the BoofCV QR study
// (tests/data/boofcv-qr/README.md): a code counts as read when a result's centre lies
// inside a labelled quadrilateral; each result matches one label at most, and
// each label is counted once. A result whose centre lies in no label is a
// false read.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace cp::decode::scoring {

struct Pt {
    double x = 0, y = 0;
};
using Quad = std::array<Pt, 4>;

// Parses a label file: four lines "x y" (one code), or "SETS" followed by one
// line of eight numbers per code. Lines starting with '#' are comments.
// nullopt when the text fits neither layout.
std::optional<std::vector<Quad>> parse_labels(const std::string& text);

bool inside(const Quad& q, Pt p);
Pt centre(const Quad& q);

struct Score {
    int labels = 0;
    int read = 0;        // labels matched by a result
    int false_reads = 0; // results whose centre lies in no label
    int duplicates = 0;  // results in an already matched label
};

// `results` are the corners of the decoded codes.
Score score(const std::vector<Quad>& labels, const std::vector<Quad>& results);

struct Sample {
    std::string category;
    std::filesystem::path image;
    std::vector<Quad> labels;
};

// Bare ZXing-cpp, the README's reference setting: ReadBarcodes on the gray
// frame, QR only, tryHarder + tryRotate + tryDownscale; corners of the valid
// results.
std::vector<Quad> read_bare_zxing(const std::uint8_t* gray, int width, int height, int stride);

// Every labelled image under `root` (one folder per category), sorted.
// Images whose label file cannot be parsed are skipped with a message on stderr.
std::vector<Sample> load_dataset(const std::filesystem::path& root);

}  // namespace cp::decode::scoring
