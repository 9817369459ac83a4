// The configuration's error reasons: [config] "config" (a bad key or value),
// [io] "config-read" (the file cannot be read).
#pragma once

#include "src/common/result.hpp"

namespace cp::config::reason {
inline constexpr Reason config{"config"};
inline constexpr Reason config_read{"config-read"};
}  // namespace cp::config::reason
