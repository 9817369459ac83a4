// The decoder's error reasons (ErrorKind and meaning in decoder.hpp and preprocess.hpp).
#pragma once

#include "src/common/result.hpp"

namespace cp::decode::reason {
inline constexpr Reason image{"image"};    // invalid_input: empty frame, bad channels or stride
inline constexpr Reason opencv{"opencv"};  // internal: OpenCV threw
}  // namespace cp::decode::reason
