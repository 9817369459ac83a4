// Encoded image files decoded through OpenCV's codecs after the header checks
// of image_header.hpp. The device's frame path does not link this (the daemon
// decodes PNG with libpng and the rest through its camera plugin).
#pragma once

#include "src/common/image.hpp"
#include "src/common/result.hpp"
#include "src/decode/decoder.hpp"
#include "src/imagefile/image_header.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace cp::imagefile {

// Decoded pixels, owned (src/common/image.hpp). gray8 or bgr8 as asked.
using cp::Image;

// probe() then decode. `want` is gray8 or bgr8.
Result<Image> decode(std::span<const std::uint8_t> bytes, PixelFormat want,
                     const Limits& limits = {});
// Reads the whole file (regular files only, up to max_file_bytes) and decodes it.
Result<Image> load(const std::string& path, PixelFormat want, const Limits& limits = {});

// `checkpoint decode` / `verify --image`: load (gray) and run the decode stage.
Result<std::vector<decode::Code>> decode_file(const std::string& path,
                                              const decode::DecoderOptions& options = {});

}  // namespace cp::imagefile
