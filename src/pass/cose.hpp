// COSE_Sign1 (RFC 9052) as CP1 and HCERT use it: parse, build, sign and verify.
// General enough for any signed payload (status lists use the same functions).
//
// Error reasons (spec words): "cbor" (not decodable CBOR), "cose" (not a COSE_Sign1,
// bad header, duplicate header label, bad kid), "alg" (algorithm missing or not
// allowed), "unknown-key" (no trusted certificate for the kid), "signature".
#pragma once

#include "src/common/bytes.hpp"
#include "src/common/result.hpp"
#include "src/crypto/crypto.hpp"
#include "src/crypto/trust_store.hpp"
#include "src/pass/reason.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace cp::pass {

inline constexpr std::int64_t kAlgES256 = -7;
inline constexpr std::int64_t kAlgPS256 = -37;

struct CoseHeader {
    std::optional<std::int64_t> alg;  // label 1 when an integer
    bool alg_present = false;         // label 1 present at all (text algs count, as unsupported)
    std::optional<Bytes> kid;         // label 4
};

struct CoseSign1 {
    Bytes protected_bstr;  // the protected header exactly as signed
    CoseHeader protected_header;
    CoseHeader unprotected_header;
    Bytes payload;
    Bytes signature;
};

// Parses a COSE_Sign1: untagged, tag 18, or CWT tag 61 around tag 18. Header maps
// must have int or text labels without duplicates; kid must be a bstr.
Result<CoseSign1> parse_cose_sign1(ByteView data);

// ["Signature1", protected_bstr, h'', payload]: the bytes that are signed.
Bytes sig_structure(ByteView protected_bstr, ByteView payload);

// Encodes a COSE_Sign1 from its parts. `unprotected_map` is the encoded CBOR map
// (empty → an empty map). Errors: internal/"cbor", invalid_input/"cose" when
// unprotected_map is not a CBOR map.
Result<Bytes> build_cose_sign1(ByteView protected_bstr, ByteView unprotected_map, ByteView payload,
                               ByteView signature, bool tag18 = true);

// The protected header {1: alg, 4: kid} in canonical order.
Result<Bytes> encode_protected_header(std::int64_t alg, ByteView kid);

// Signs `payload` with ES256: protected {1: -7, 4: kid}, empty unprotected, tag 18.
Result<Bytes> cose_sign1_sign(ByteView payload, const crypto::PrivateKey& key, ByteView kid);

// Which header rules apply when verifying.
enum class HeaderRules {
    strict,  // CP1 (and status lists): alg only from the protected header and = ES256; kid 8 bytes, protected
    hcert,   // EU DCC: alg/kid from the protected header, else from the unprotected; ES256 or PS256
};

enum class SignatureState { valid, invalid, unknown_key, unsupported_alg, unchecked };
const char* to_string(SignatureState s) noexcept;

struct CoseVerification {
    SignatureState state = SignatureState::unchecked;
    std::optional<std::string> reason;  // nullopt when valid; else "cose", "alg", "unknown-key", "signature"
    std::string detail;
    Bytes kid;                           // the kid used for the look-up (may be empty)
    const crypto::Certificate* signer = nullptr;

    bool is(Reason r) const { return reason && *reason == r.view(); }
    // A failed verification as an Error: [invalid_input] "cose", else [rejected]
    // with the reason ("signature" when none was set).
    Error error() const;
};

// Verifies a parsed message against every trusted certificate sharing its kid.
CoseVerification verify_cose_sign1(const CoseSign1& msg, const crypto::TrustStore& store,
                                   HeaderRules rules = HeaderRules::strict);
// Verifies against one certificate; a kid in the message must match the certificate's.
CoseVerification verify_cose_sign1(const CoseSign1& msg, const crypto::Certificate& cert,
                                   HeaderRules rules = HeaderRules::strict);

// Convenience for signed documents (status lists): parse + strict verify, returns the payload.
// Errors: invalid_input/"cbor"|"cose", rejected/"alg"|"unknown-key"|"signature".
Result<Bytes> cose_sign1_open(ByteView data, const crypto::TrustStore& store);
Result<Bytes> cose_sign1_open(ByteView data, const crypto::Certificate& cert);

}  // namespace cp::pass
