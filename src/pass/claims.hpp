// CWT claims (layer 4) ↔ Pass, for CP1 and HC1. Errors: invalid_input/"cbor" when the
// payload is not CBOR, invalid_input/"claims" for a missing, mistyped or invalid claim
// (also: a text claim over its limit below, or one holding a control character).
#pragma once

#include "src/common/bytes.hpp"
#include "src/common/result.hpp"
#include "src/pass/reason.hpp"
#include "src/pass/pass.hpp"

#include <cstddef>
#include <string_view>

namespace cp::pass {

// Limits on text claims. The plate is journaled with every driver scan, and the
// scan journal stores text fields of at most 64 bytes without control
// characters: a pass whose plate the journal would refuse is refused here, so
// every verdict shown can be recorded. HC1 names follow the EU DCC schema
// (each of gn, fn, gnt, fnt at most 80 characters); iss is bounded as in CP1.
inline constexpr std::size_t kMaxPlateBytes = 64;
inline constexpr std::size_t kMaxPlateChars = 32;
inline constexpr std::size_t kMaxIssuerChars = 256;
inline constexpr std::size_t kMaxDccNamePartChars = 80;

// CP1: {1: iss, 6: iat, 4: exp, -65537: pass map}, per the spec's tables.
Result<Pass> parse_cp1_claims(ByteView payload);

// HC1: {1: iss (optional), 6: iat, 4: exp, -260: {1: EU DCC}}. The pass id is derived:
// the first 16 bytes of SHA-256 over the UTF-8 of the certificate identifier `ci` of the
// first vaccination/test/recovery entry, so the same DCC always maps to the same status
// list key. `name` is "given family" (gn, fn; else the transliterated gnt, fnt).
Result<Pass> parse_hc1_claims(ByteView payload);

// Encodes the CWT claims map of a CP1 pass (the issuer side). Checks what parse checks.
Result<Bytes> encode_cp1_claims(const Pass& pass);

// The claims as JSON in the spec's example form (pass id as 32 hex digits):
// {"iss":..,"iat":..,"exp":..,"pass":{"v":1,"id":"..","k":"R","n":..,"g":..}}.
std::string cp1_claims_json(const Pass& pass);

// The inverse, for `checkpoint pass issue`: JSON text in that form → Pass.
// Errors: invalid_input/"claims" naming the offending key.
Result<Pass> cp1_pass_from_json(std::string_view json);

}  // namespace cp::pass
