// The image file modules' error reasons (cp_imageheader and cp_imagefile; ErrorKind
// and meaning in image_header.hpp and image_file.hpp).
#pragma once

#include "src/common/result.hpp"

namespace cp::imagefile::reason {
inline constexpr Reason image{"image"};                // io: the file cannot be read
inline constexpr Reason image_format{"image-format"};  // invalid_input: not PNG, JPEG or BMP
inline constexpr Reason image_size{"image-size"};      // invalid_input: empty or over the limits
inline constexpr Reason image_header{"image-header"};  // invalid_input: decoded size differs from the header
inline constexpr Reason image_data{"image-data"};      // invalid_input: the codec cannot decode it
}  // namespace cp::imagefile::reason
