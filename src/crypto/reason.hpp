// The crypto module's error reasons (ErrorKind and meaning in crypto.hpp and
// trust_store.hpp).
#pragma once

#include "src/common/result.hpp"

namespace cp::crypto::reason {
inline constexpr Reason alg{"alg"};
inline constexpr Reason certificate{"certificate"};
inline constexpr Reason cn{"cn"};
inline constexpr Reason crypto{"crypto"};
inline constexpr Reason days{"days"};
inline constexpr Reason key{"key"};
inline constexpr Reason rng{"rng"};
inline constexpr Reason signature{"signature"};
inline constexpr Reason trust_store{"trust-store"};
}  // namespace cp::crypto::reason
