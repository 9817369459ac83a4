// The camera drivers' error reasons, as typed constants (src/common/result.hpp).
#pragma once

#include "src/common/result.hpp"

namespace cp::camera::reason {

inline constexpr Reason frame{"frame"};  // one frame could not be read or decoded; the next may be fine

}  // namespace cp::camera::reason
