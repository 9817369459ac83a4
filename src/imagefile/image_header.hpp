// Encoded image files (PNG, JPEG, BMP) read with bounds: the format is
// recognised from its magic bytes and the dimensions from its header before any
// pixel is decoded, so a file that claims a gigapixel, or a format outside this
// list (OpenCV's DICOM, TIFF, PNM, ... readers), is refused with a typed error
// instead of reaching a decoder that would allocate whatever the header says.
// Each accepted magic is one OpenCV's first matching reader also claims, so the
// size checked here is the size that reader allocates. (PNM was dropped: its
// comment rules let OpenCV's reader see another size than a careful parser.)
#pragma once

#include "src/common/result.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace cp::imagefile {

enum class Format { png, jpeg, bmp };
const char* format_name(Format f);

struct Header {
    Format format = Format::png;
    int width = 0;
    int height = 0;
};

struct Limits {
    std::uint64_t max_pixels = 40'000'000;          // a 40 Mpx phone photograph
    std::uint64_t max_file_bytes = 64ull << 20;     // 64 MiB
    int max_side = 16'384;
};

// Format and size from the first bytes, without decoding. Errors: invalid_input
// with reason "image-format" (not one of the three), "image-header" (truncated
// or inconsistent header), "image-size" (zero or above the limits).
Result<Header> probe(std::span<const std::uint8_t> bytes, const Limits& limits = {});

// Reads a regular file of at most max_file_bytes whole. Errors: io/"image"
// (missing, not a regular file, unreadable), invalid_input/"image-size".
Result<std::vector<std::uint8_t>> read_file(const std::string& path, const Limits& limits = {});

}  // namespace cp::imagefile
