// The display driver's error reasons.
#pragma once

#include "src/common/result.hpp"

namespace cp::display::reason {
inline constexpr Reason fb_format{"fb-format"};
inline constexpr Reason font{"font"};
inline constexpr Reason framebuffer{"framebuffer"};
inline constexpr Reason screen{"screen"};
inline constexpr Reason window{"window"};
}  // namespace cp::display::reason
