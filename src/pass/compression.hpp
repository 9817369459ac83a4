// zlib (RFC 1950) layer of CP1/HC1.
#pragma once

#include "src/common/bytes.hpp"
#include "src/common/result.hpp"
#include "src/pass/reason.hpp"

#include <cstddef>

namespace cp::pass {

// The spec's cap on inflated size: a verifier refuses to inflate more than 64 KiB.
inline constexpr std::size_t kMaxInflated = 64 * 1024;

// Inflates one complete zlib stream. Errors: invalid_input/"inflate" when the data is
// not a complete, valid zlib stream (or has trailing bytes); invalid_input/"too-large"
// as soon as the output would exceed `cap` (memory stays bounded by `cap`).
Result<Bytes> inflate_capped(ByteView compressed, std::size_t cap = kMaxInflated);

// zlib stream at the best compression level. Errors: internal/"deflate".
Result<Bytes> deflate_zlib(ByteView data);

}  // namespace cp::pass
