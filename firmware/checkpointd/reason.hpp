// The daemon's own error reasons (start-up and its helpers); errors from the modules
// it drives keep their module's reason.
#pragma once

#include "src/common/result.hpp"

namespace cp::daemon::reason {
inline constexpr Reason data_dir{"data-dir"};
inline constexpr Reason eventfd{"eventfd"};
inline constexpr Reason list_signer{"list-signer"};
inline constexpr Reason sd_notify{"sd-notify"};
inline constexpr Reason thread{"thread"};
inline constexpr Reason trust_store{"trust-store"};
}  // namespace cp::daemon::reason
