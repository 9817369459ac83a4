// The configuration's error reasons: [config] "config" (a bad key or value),
// [io] "config-read" (the file cannot be read), [config] "root" (a --root that is
// not a folder, or a board file not under it; config_request.hpp).
#pragma once

#include "src/common/result.hpp"

namespace cp::config::reason {
inline constexpr Reason config{"config"};
inline constexpr Reason config_read{"config-read"};
inline constexpr Reason root{"root"};
}  // namespace cp::config::reason
