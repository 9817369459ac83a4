// PassVerifier: QR text → verdict, for CP1 and HC1 (EU DCC). Pure: no I/O, no logging,
// never throws; time and memory are bounded for any input (text ≤ 16 KiB, inflated
// COSE ≤ 64 KiB, CBOR nesting ≤ 16).
//
// A pass is verified when every layer decodes, the kid names a trusted certificate,
// the signature verifies, and iat <= now + skew and now < exp + skew (HC1: now <= exp
// + skew, as HCERT verifiers do). Otherwise the
// outcome carries the first failing step's reason word (spec): prefix, base45, inflate,
// too-large, cbor, cose, alg, unknown-key, signature, claims, not-yet-valid, expired.
#pragma once

#include "src/common/bytes.hpp"
#include "src/common/result.hpp"
#include "src/crypto/trust_store.hpp"
#include "src/pass/cose.hpp"
#include "src/pass/pass.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cp::pass {

inline constexpr std::size_t kMaxQrText = 16 * 1024;

struct VerifierOptions {
    std::int64_t skew_seconds = 300;  // clock tolerance on iat and exp, seconds
};

struct Verification {
    std::optional<Format> format;      // known once the prefix is recognised
    SignatureState signature = SignatureState::unchecked;
    std::optional<bool> expired;       // known once claims decode: CP1 now >= exp + skew, HC1 now > exp + skew
    std::optional<std::string> reason; // nullopt only when verified
    std::string detail;                // human-readable, no personal data
    Bytes kid;                         // kid used for the key look-up (may be empty)
    // Decoded claims. Present whenever they decode, even when the signature failed:
    // then they are UNTRUSTED and for diagnostics only; act on them only if verified().
    std::optional<Pass> pass;

    bool verified() const { return !reason.has_value(); }
    bool is(Reason r) const { return reason && *reason == r.view(); }
    // Verified, or refused only for its validity period ("expired", "not-yet-valid"):
    // the outcome recheck_time() can update.
    bool verified_but_for_time() const {
        return verified() || is(reason::expired) || is(reason::not_yet_valid);
    }
};

// "CP1:"/"HC1:" prefix → format and the Base45 text. Errors: invalid_input/"prefix".
Result<std::pair<Format, std::string_view>> split_prefix(std::string_view text);

class PassVerifier {
public:
    // Keeps a reference: `store` must outlive the verifier. Thread-safety as TrustStore.
    explicit PassVerifier(const crypto::TrustStore& store, VerifierOptions options = {});

    // QR text → verdict, at `now` (seconds since the epoch).
    Verification verify(std::string_view text, std::int64_t now) const;
    // From the COSE layer on (the decoded, inflated bytes), for callers that have them.
    Verification verify_cose(Format format, ByteView cose, std::int64_t now) const;

    const VerifierOptions& options() const { return options_; }
    const crypto::TrustStore& store() const { return store_; }

    // The time rules alone, at `now`, on an earlier outcome of verify() whose
    // signature was valid and whose claims decoded (reason none, "expired" or
    // "not-yet-valid"): sets expired and reason as verify() would at `now`.
    // Anything else is left as it is. For caches of verified texts.
    void recheck_time(Verification& v, std::int64_t now) const;

private:
    const crypto::TrustStore& store_;
    VerifierOptions options_;
};

}  // namespace cp::pass
