#include "src/pass/verifier.hpp"
#include "src/pass/reason.hpp"

#include "src/pass/base45.hpp"
#include "src/pass/claims.hpp"
#include "src/pass/compression.hpp"

namespace cp::pass {

namespace {

Verification reject(Verification v, const Error& e) {
    v.reason = e.reason;
    v.detail = e.message;
    return v;
}

// Arithmetic only on now and skew (sane values), never on claim values an attacker
// chose, so INT64 extremes in iat/exp cannot overflow.
// CP1 (spec): valid while now < exp + skew. HC1 follows HCERT verifiers, for which a
// DCC is still valid at the second of exp (expired only when now > exp + skew).
bool is_expired(Format format, const Pass& p, std::int64_t now, std::int64_t skew) {
    return format == Format::cp1 ? now - skew >= p.expires_at   // now >= exp + skew
                                 : now - skew > p.expires_at;   // now >  exp + skew
}

}  // namespace

Result<std::pair<Format, std::string_view>> split_prefix(std::string_view text) {
    if (text.starts_with("CP1:")) return std::pair{Format::cp1, text.substr(4)};
    if (text.starts_with("HC1:")) return std::pair{Format::hc1, text.substr(4)};
    return fail(ErrorKind::invalid_input, reason::prefix, "text does not start with CP1: or HC1:");
}

PassVerifier::PassVerifier(const crypto::TrustStore& store, VerifierOptions options)
    : store_(store), options_(options) {}

Verification PassVerifier::verify(std::string_view text, std::int64_t now) const {
    Verification v;
    if (text.size() > kMaxQrText)
        return reject(v, Error(ErrorKind::invalid_input, reason::too_large, "QR text longer than 16 KiB"));
    auto split = split_prefix(text);
    if (!split) return reject(v, split.error());
    v.format = split->first;
    auto compressed = base45_decode(split->second);
    if (!compressed) return reject(v, compressed.error());
    auto cose = inflate_capped(*compressed, kMaxInflated);
    if (!cose) return reject(v, cose.error());
    return verify_cose(split->first, *cose, now);
}

Verification PassVerifier::verify_cose(Format format, ByteView cose, std::int64_t now) const {
    Verification v;
    v.format = format;
    if (cose.size() > kMaxInflated)
        return reject(v, Error(ErrorKind::invalid_input, reason::too_large, "COSE larger than 64 KiB"));
    auto msg = parse_cose_sign1(cose);
    if (!msg) return reject(v, msg.error());

    CoseVerification cv =
        verify_cose_sign1(*msg, store_, format == Format::cp1 ? HeaderRules::strict : HeaderRules::hcert);
    v.signature = cv.state;
    v.kid = cv.kid;
    if (cv.reason) {
        v.reason = cv.reason;
        v.detail = cv.detail;
    }

    // Claims are decoded even after a signature failure, for diagnostics; the first
    // failure's reason stands.
    auto pass = format == Format::cp1 ? parse_cp1_claims(msg->payload) : parse_hc1_claims(msg->payload);
    if (!pass) {
        if (!v.reason) return reject(v, pass.error());
        return v;
    }
    pass->kid = v.kid;
    v.pass = std::move(pass).value();
    if (v.reason) {
        v.expired = is_expired(format, *v.pass, now, options_.skew_seconds);
        return v;
    }
    recheck_time(v, now);
    return v;
}

void PassVerifier::recheck_time(Verification& v, std::int64_t now) const {
    if (!v.pass || !v.format || v.signature != SignatureState::valid) return;
    if (!v.verified_but_for_time()) return;
    const std::int64_t skew = options_.skew_seconds;
    const bool expired = is_expired(*v.format, *v.pass, now, skew);
    // Arithmetic only on now and skew, as in is_expired().
    const bool not_yet_valid = v.pass->issued_at > now + skew;
    v.expired = expired;
    v.reason.reset();
    v.detail.clear();
    if (not_yet_valid) {
        v = reject(std::move(v), Error(ErrorKind::rejected, reason::not_yet_valid, "issued after now + skew"));
    } else if (expired) {
        v = reject(std::move(v), Error(ErrorKind::rejected, reason::expired, "expired before now - skew"));
    }
}

}  // namespace cp::pass
