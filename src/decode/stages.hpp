// The still-image pipeline as a table of stages (stages.cpp), tried in order,
// cheap first, each with its condition and its budget:
//
//   working   reduce a big frame once to the working size (rescale)
//   quick     a reduced copy first (quick_long_side)
//   plain     the working image, shrunk to what the budget leaves
//   finders   finder-pattern search: where unread codes are (regions)
//   regions   crops around likely codes (three finders)
//   variants  whole-frame variants, one table row each: stretch, clahe,
//             global, smooth, sharpen, half, double, inverted, aspect, full
//   lone      crops around lone finder patterns
//   grid      our own grid sampler for large codes still unread
//
// docs/decoding.md explains each stage and the measurements behind it.
// Private to src/decode.
#pragma once

#include "src/decode/budget.hpp"
#include "src/decode/geometry.hpp"
#include "src/decode/reader.hpp"

#include <opencv2/core.hpp>

#include <optional>

namespace cp::decode {

// Runs the stages over `gray` (the full-resolution frame) within `dl`; the
// codes read collect in `reader`. `hint` receives where a likely code sits
// unread (for the next video frame).
void run_pipeline(FrameReader& reader, const cv::Mat& gray, const Deadline& dl, std::optional<Quad>& hint);

}  // namespace cp::decode
