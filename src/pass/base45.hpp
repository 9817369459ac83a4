// Base45 (RFC 9285): the QR-alphanumeric-friendly encoding of CP1 and HC1 payloads.
#pragma once

#include "src/common/bytes.hpp"
#include "src/common/result.hpp"
#include "src/pass/reason.hpp"

#include <string>
#include <string_view>

namespace cp::pass {

std::string base45_encode(ByteView data);

// Errors: invalid_input/"base45" for a character outside the alphabet, a dangling
// single character (length % 3 == 1), or a triplet/pair whose value exceeds 65535/255.
Result<Bytes> base45_decode(std::string_view text);

}  // namespace cp::pass
