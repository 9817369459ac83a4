// The thermometer drivers' fault reasons (Error::reason, Measurement::fault_reason),
// as typed constants (src/common/result.hpp): code that branches on one names it.
#pragma once

#include "src/common/result.hpp"

namespace cp::thermo::reason {

inline constexpr Reason no_bus{"no-bus"};        // the I2C bus device node cannot be opened
inline constexpr Reason no_device{"no-device"};  // nothing answers at the sensor's address
inline constexpr Reason nack{"nack"};            // the sensor did not acknowledge a transfer
inline constexpr Reason pec{"pec"};              // an answer failed its packet error check
inline constexpr Reason stuck{"stuck"};          // the sensor repeats one value

}  // namespace cp::thermo::reason
