// The thermometer driver's error reasons: "nack" (no device answers at the
// address), "pec" (packet error code mismatch), "error-flag" (the sensor flags its
// reading), "i2c" (bus error), "no-bus" (the bus device cannot be opened).
#pragma once

#include "src/common/result.hpp"

namespace cp::thermo::reason {
inline constexpr Reason error_flag{"error-flag"};
inline constexpr Reason i2c{"i2c"};
inline constexpr Reason nack{"nack"};
inline constexpr Reason no_bus{"no-bus"};
inline constexpr Reason no_device{"no-device"};  // nothing answers at the sensor's address
inline constexpr Reason stuck{"stuck"};          // the sensor repeats one value
inline constexpr Reason pec{"pec"};
inline constexpr Reason thermometer{"thermometer"};
}  // namespace cp::thermo::reason
