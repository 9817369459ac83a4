// The GPIO driver's error reasons: "gpio-faulted" once a line has failed (the
// actuators fail closed).
#pragma once

#include "src/common/result.hpp"

namespace cp::gpio::reason {
inline constexpr Reason gpio{"gpio"};
inline constexpr Reason gpio_chip{"gpio-chip"};
inline constexpr Reason gpio_faulted{"gpio-faulted"};
inline constexpr Reason gpio_line{"gpio-line"};
inline constexpr Reason gpiod_disabled{"gpiod-disabled"};
}  // namespace cp::gpio::reason
