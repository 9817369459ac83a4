// The pass module's error reasons: the spec's reason words (docs/pass-verification.md),
// on the wire and in the journal exactly as spelt here. A Verification or an Error
// from this module carries one of them.
#pragma once

#include "src/common/result.hpp"

namespace cp::pass::reason {
inline constexpr Reason alg{"alg"};
inline constexpr Reason base45{"base45"};
inline constexpr Reason cbor{"cbor"};
inline constexpr Reason claims{"claims"};
inline constexpr Reason cose{"cose"};
inline constexpr Reason deflate{"deflate"};
inline constexpr Reason expired{"expired"};
inline constexpr Reason inflate{"inflate"};
inline constexpr Reason not_yet_valid{"not-yet-valid"};
inline constexpr Reason prefix{"prefix"};
inline constexpr Reason signature{"signature"};
inline constexpr Reason too_large{"too-large"};
inline constexpr Reason unknown_key{"unknown-key"};
}  // namespace cp::pass::reason
