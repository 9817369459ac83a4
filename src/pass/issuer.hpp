// The issuer side of CP1: Pass → signed QR text.
#pragma once

#include "src/common/bytes.hpp"
#include "src/common/result.hpp"
#include "src/pass/reason.hpp"
#include "src/crypto/crypto.hpp"
#include "src/pass/pass.hpp"

#include <string>

namespace cp::pass {

// "CP1:" + Base45(zlib(COSE_Sign1(ES256, kid, claims))). `kid` is the kid of the
// issuer's certificate (crypto::kid_of(cert DER)). Errors: invalid_input/"claims" for a
// pass that verifiers would refuse; internal errors from signing or encoding.
Result<std::string> issue_cp1(const Pass& pass, const crypto::PrivateKey& key, ByteView kid);

// Wraps any COSE_Sign1 bytes as QR text with the given prefix ("CP1:" or "HC1:").
// Used by tests and tools to build deliberately malformed passes.
Result<std::string> qr_text_from_cose(std::string_view prefix, ByteView cose);

}  // namespace cp::pass
