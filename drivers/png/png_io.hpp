// PNG in and out through libpng, for the guard screen snapshots and the file
// camera's image folders. OpenCV's imgcodecs would do the same but maps GDAL,
// GDCM, OpenEXR and more into the daemon (docs/benchmarks.md, peak RSS).
//
// Thread-safety: the functions keep no state; call them from any thread.
#pragma once

#include "src/common/bytes.hpp"
#include "src/common/result.hpp"

#include <opencv2/core.hpp>

#include <string>

// Error reason: "png" (any read, decode or write failure).
namespace cp::png::reason {
inline constexpr Reason png{"png"};
}  // namespace cp::png::reason

namespace cp::png {

// Largest image accepted when decoding (a camera frame or a screen).
inline constexpr int kMaxWidth = 7680;
inline constexpr int kMaxHeight = 4320;
// Largest PNG file read.
inline constexpr std::size_t kMaxFileBytes = 64u << 20;

// Decodes a PNG (any bit depth, palette, gray, alpha) into BGR8.
// Errors: invalid_input/"png" for a damaged or unsupported file, or one larger
// than kMaxWidth x kMaxHeight.
Result<cv::Mat> decode_bgr(ByteView data);
// Reads and decodes a file. Errors: as decode_bgr; io/"png" when unreadable or
// larger than kMaxFileBytes.
Result<cv::Mat> read_bgr(const std::string& path);
// Writes a BGR8 (or gray8) image as PNG to `path` (the caller renames it into
// place). Errors: invalid_input/"png" for another pixel type; io/"png".
Status write(const std::string& path, const cv::Mat& image);

}  // namespace cp::png
