// Pixels in memory, for every module that passes images around: the camera
// drivers deliver Frames, image files decode to an Image, the decode stage
// reads an ImageView of either. Header-only; no OpenCV.
#pragma once

#include <cstdint>
#include <vector>

namespace cp {

enum class PixelFormat { gray8, bgr8, rgb8 };

// Bytes per pixel of a format (1 or 3).
constexpr int channels(PixelFormat f) { return f == PixelFormat::gray8 ? 1 : 3; }

// Non-owning view of one image; valid while the pixels it points at live unchanged.
struct ImageView {
    const std::uint8_t* data = nullptr;
    int width = 0;
    int height = 0;
    int stride = 0;  // bytes per row
    PixelFormat format = PixelFormat::gray8;
};

// An image that owns its pixels (rows `stride` bytes apart).
struct Image {
    std::vector<std::uint8_t> pixels;
    int width = 0;
    int height = 0;
    int stride = 0;  // bytes per row
    PixelFormat format = PixelFormat::gray8;

    // Valid while this Image lives unchanged.
    ImageView view() const { return ImageView{pixels.data(), width, height, stride, format}; }
};

// One captured frame: an image (BGR8 unless the source says otherwise, e.g. a
// camera that delivers luma only) with when and in what order it was taken.
struct Frame : Image {
    std::int64_t timestamp_ms = 0;  // CLOCK_MONOTONIC when captured / rendered
    std::uint64_t sequence = 0;     // 0, 1, 2, ... per opened source; gaps mean drops

    Frame() { format = PixelFormat::bgr8; }
};

}  // namespace cp
