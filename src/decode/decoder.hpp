// The decode stage: frames in, QR codes with their corners out. The core sees
// frames only as a non-owning view (architecture principle 2); OpenCV stays an
// implementation detail of this module.
#pragma once

#include "src/common/result.hpp"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace cp::decode {

enum class PixelFormat { gray8, bgr8, rgb8 };

// Non-owning view of one frame; valid for the duration of the call only.
struct ImageView {
    const std::uint8_t* data = nullptr;
    int width = 0;
    int height = 0;
    int stride = 0;  // bytes per row
    PixelFormat format = PixelFormat::gray8;
};

struct Point {
    float x = 0;
    float y = 0;
};

struct Code {
    std::string text;             // the QR text as read (CP1:/HC1: ...)
    std::array<Point, 4> corners; // image pixels, clockwise from top-left of the code
};

// Decodes every QR code in a frame. Not thread-safe: one instance per thread.
class QrDecoder;

// Reads an image file (PNG, JPEG) through the same path the device uses for
// camera frames. Errors: io/"image" when the file cannot be read or decoded.
Result<std::vector<Code>> decode_file(const std::string& path);

}  // namespace cp::decode
