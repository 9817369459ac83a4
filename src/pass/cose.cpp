#include "src/pass/cose.hpp"
#include "src/pass/reason.hpp"

#include "src/pass/cbor.hpp"

namespace cp::pass {

namespace {

constexpr std::uint64_t kTagCoseSign1 = 18;
constexpr std::uint64_t kTagCwt = 61;
constexpr std::int64_t kLabelAlg = 1;
constexpr std::int64_t kLabelKid = 4;

Result<CoseHeader> parse_header(const cbor_item_t* map) {
    if (map == nullptr || !cbor_isa_map(map)) return fail(ErrorKind::invalid_input, reason::cose, "header is not a map");
    if (cbor::has_duplicate_keys(map)) return fail(ErrorKind::invalid_input, reason::cose, "duplicate header label");
    CoseHeader h;
    cbor_pair* pairs = cbor_map_handle(map);
    for (std::size_t i = 0; i < cbor_map_size(map); ++i) {
        auto key = cbor::key_of(pairs[i].key);
        if (!key) return fail(ErrorKind::invalid_input, reason::cose, "header label is neither int nor text");
        if (key->is_text) continue;
        if (key->number == kLabelAlg) {
            h.alg_present = true;
            h.alg = cbor::as_int(pairs[i].value);  // a text alg stays nullopt: unsupported
            if (!h.alg && !cbor_isa_string(pairs[i].value))
                return fail(ErrorKind::invalid_input, reason::cose, "alg is neither int nor text");
        } else if (key->number == kLabelKid) {
            h.kid = cbor::as_bytes(pairs[i].value);
            if (!h.kid) return fail(ErrorKind::invalid_input, reason::cose, "kid is not a byte string");
        }
    }
    return h;
}

// Algorithm rules: strict takes alg from the protected header only (an attacker controls
// the unprotected one); HCERT allows the unprotected header when the protected has none.
// Returns the algorithm, or fills `v` with the rejection.
std::optional<std::int64_t> pick_alg(const CoseSign1& msg, HeaderRules rules, CoseVerification& v) {
    std::optional<std::int64_t> alg;
    bool alg_present = false;
    if (msg.protected_header.alg_present) {
        alg = msg.protected_header.alg;
        alg_present = true;
    } else if (rules == HeaderRules::hcert && msg.unprotected_header.alg_present) {
        alg = msg.unprotected_header.alg;
        alg_present = true;
    }
    bool allowed = alg && (*alg == kAlgES256 || (rules == HeaderRules::hcert && *alg == kAlgPS256));
    if (allowed) return alg;
    v.state = SignatureState::unsupported_alg;
    v.reason = reason::alg.code;
    v.detail = !alg_present ? "no alg in the protected header"
               : alg        ? "alg " + std::to_string(*alg) + " not allowed"
                            : "alg is not an integer";
    return std::nullopt;
}

CoseVerification verify_with(const CoseSign1& msg, const std::vector<const crypto::Certificate*>& certs,
                             bool kid_lookup_done, std::int64_t alg, const Bytes& kid) {
    CoseVerification v;
    v.kid = kid;
    if (certs.empty()) {
        v.state = SignatureState::unknown_key;
        v.reason = reason::unknown_key.code;
        v.detail = kid_lookup_done ? "no trusted certificate for kid " + to_hex(kid) : "no kid";
        return v;
    }
    Bytes tbs = sig_structure(msg.protected_bstr, msg.payload);
    std::string last;
    crypto::Sha256 digest = crypto::sha256(tbs);
    for (const crypto::Certificate* cert : certs) {
        Status st = alg == kAlgES256 ? cert->verify_es256_digest(digest, msg.signature)
                                      : cert->verify_ps256(tbs, msg.signature);
        if (st) {
            v.state = SignatureState::valid;
            v.reason.reset();
            v.signer = cert;
            return v;
        }
        last = st.error().message;
    }
    v.state = SignatureState::invalid;
    v.reason = reason::signature.code;
    v.detail = "signature does not verify with " + std::to_string(certs.size()) + " certificate(s): " + last;
    return v;
}

// The kid to look up, or a "cose" failure for a malformed one under strict rules.
std::optional<std::string> pick_kid(const CoseSign1& msg, HeaderRules rules, Bytes& kid, bool& have) {
    have = false;
    if (msg.protected_header.kid) {
        kid = *msg.protected_header.kid;
        have = true;
    } else if (rules == HeaderRules::hcert && msg.unprotected_header.kid) {
        kid = *msg.unprotected_header.kid;
        have = true;
    }
    if (rules == HeaderRules::strict) {
        if (!have) return std::string("no kid in the protected header");
        if (kid.size() != 8) return std::string("kid must be 8 bytes");
    }
    return std::nullopt;
}

}  // namespace

const char* to_string(SignatureState s) noexcept {
    switch (s) {
        case SignatureState::valid: return "valid";
        case SignatureState::invalid: return "invalid";
        case SignatureState::unknown_key: return "unknown-key";
        case SignatureState::unsupported_alg: return "unsupported-alg";
        case SignatureState::unchecked: return "unchecked";
    }
    return "unchecked";
}

Result<CoseSign1> parse_cose_sign1(ByteView data) {
    // The leading tags are read here, not by libcbor: libcbor 0.8 refuses tag numbers
    // 6..20 (its decoder treats them as unassigned), and COSE_Sign1 is tag 18.
    // Accepted: none, 18 (0xd2), or CWT 61 (0xd8 0x3d) around 18, as HCERT allows.
    if (data.size() >= 2 && data[0] == 0xd8 && data[1] == kTagCwt) {
        data = data.subspan(2);
        if (data.empty() || data[0] != 0xc0 + kTagCoseSign1)
            return fail(ErrorKind::invalid_input, reason::cose, "CWT tag 61 must wrap tag 18");
    }
    if (!data.empty() && data[0] == 0xc0 + kTagCoseSign1) data = data.subspan(1);
    auto item = cbor::decode(data);
    if (!item) return fail(item.error());
    const cbor_item_t* top = item->get();
    if (cbor_isa_tag(top))
        return fail(ErrorKind::invalid_input, reason::cose, "tag " + std::to_string(cbor_tag_value(top)) + " is not COSE_Sign1");
    if (!cbor_isa_array(top) || cbor_array_size(top) != 4)
        return fail(ErrorKind::invalid_input, reason::cose, "COSE_Sign1 must be an array of 4");
    cbor_item_t** parts = cbor_array_handle(top);
    CoseSign1 msg;
    auto prot = cbor::as_bytes(parts[0]);
    auto payload = cbor::as_bytes(parts[2]);
    auto sig = cbor::as_bytes(parts[3]);
    if (!prot) return fail(ErrorKind::invalid_input, reason::cose, "protected header is not a byte string");
    if (!payload) return fail(ErrorKind::invalid_input, reason::cose, "payload is not a byte string");
    if (!sig) return fail(ErrorKind::invalid_input, reason::cose, "signature is not a byte string");
    msg.protected_bstr = std::move(*prot);
    msg.payload = std::move(*payload);
    msg.signature = std::move(*sig);
    if (!msg.protected_bstr.empty()) {  // a zero-length bstr stands for an empty map
        auto ph = cbor::decode(msg.protected_bstr);
        if (!ph) return fail(ErrorKind::invalid_input, reason::cose, "protected header: " + ph.error().message);
        auto h = parse_header(ph->get());
        if (!h) return fail(h.error());
        msg.protected_header = *h;
    }
    auto uh = parse_header(parts[1]);
    if (!uh) return fail(uh.error().with_context("unprotected header"));
    msg.unprotected_header = *uh;
    return msg;
}

Bytes sig_structure(ByteView protected_bstr, ByteView payload) {
    // Written directly (a fixed 4-array): this runs on every scan, and libcbor would
    // copy both byte strings twice.
    auto head = [](Bytes& out, std::uint8_t major, std::uint64_t n) {
        std::uint8_t m = static_cast<std::uint8_t>(major << 5);
        if (n < 24) {
            out.push_back(static_cast<std::uint8_t>(m | n));
        } else if (n <= 0xff) {
            out.push_back(m | 24);
            out.push_back(static_cast<std::uint8_t>(n));
        } else if (n <= 0xffff) {
            out.push_back(m | 25);
            for (int s = 8; s >= 0; s -= 8) out.push_back(static_cast<std::uint8_t>(n >> s));
        } else if (n <= 0xffffffffu) {
            out.push_back(m | 26);
            for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<std::uint8_t>(n >> s));
        } else {
            out.push_back(m | 27);
            for (int s = 56; s >= 0; s -= 8) out.push_back(static_cast<std::uint8_t>(n >> s));
        }
    };
    static const char kContext[] = "Signature1";
    Bytes out;
    out.reserve(protected_bstr.size() + payload.size() + 32);
    head(out, 4, 4);
    head(out, 3, sizeof kContext - 1);
    out.insert(out.end(), kContext, kContext + sizeof kContext - 1);
    head(out, 2, protected_bstr.size());
    out.insert(out.end(), protected_bstr.begin(), protected_bstr.end());
    head(out, 2, 0);
    head(out, 2, payload.size());
    out.insert(out.end(), payload.begin(), payload.end());
    return out;
}

Result<Bytes> encode_protected_header(std::int64_t alg, ByteView kid) {
    cbor::Item map(cbor_new_definite_map(2));
    if (!map) return fail(ErrorKind::internal, reason::cbor, "out of memory");
    cbor_item_t* alg_item = cbor::build_int(alg);
    bool ok = cbor_map_add(map.get(), cbor_pair{cbor_move(cbor_build_uint8(1)), cbor_move(alg_item)});
    ok = ok && cbor_map_add(map.get(), cbor_pair{cbor_move(cbor_build_uint8(4)),
                                                 cbor_move(cbor_build_bytestring(kid.data(), kid.size()))});
    if (!ok) return fail(ErrorKind::internal, reason::cbor, "out of memory");
    return cbor::encode(map.get());
}

Result<Bytes> build_cose_sign1(ByteView protected_bstr, ByteView unprotected_map, ByteView payload,
                               ByteView signature, bool tag18) {
    cbor::Item unprot;
    if (unprotected_map.empty()) {
        unprot.reset(cbor_new_definite_map(0));
    } else {
        auto u = cbor::decode(unprotected_map);
        if (!u || !cbor_isa_map(u->get()))
            return fail(ErrorKind::invalid_input, reason::cose, "unprotected header is not a CBOR map");
        unprot = std::move(*u);
    }
    cbor::Item arr(cbor_new_definite_array(4));
    if (!arr || !unprot) return fail(ErrorKind::internal, reason::cbor, "out of memory");
    bool ok = cbor_array_push(arr.get(), cbor_move(cbor_build_bytestring(protected_bstr.data(), protected_bstr.size())));
    ok = ok && cbor_array_push(arr.get(), unprot.get());
    ok = ok && cbor_array_push(arr.get(), cbor_move(cbor_build_bytestring(payload.data(), payload.size())));
    ok = ok && cbor_array_push(arr.get(), cbor_move(cbor_build_bytestring(signature.data(), signature.size())));
    if (!ok) return fail(ErrorKind::internal, reason::cbor, "out of memory");
    if (!tag18) return cbor::encode(arr.get());
    cbor::Item tagged(cbor_build_tag(kTagCoseSign1, arr.get()));
    if (!tagged) return fail(ErrorKind::internal, reason::cbor, "out of memory");
    return cbor::encode(tagged.get());
}

Result<Bytes> cose_sign1_sign(ByteView payload, const crypto::PrivateKey& key, ByteView kid) {
    auto prot = encode_protected_header(kAlgES256, kid);
    if (!prot) return fail(prot.error());
    auto sig = key.sign_es256(sig_structure(*prot, payload));
    if (!sig) return fail(sig.error());
    return build_cose_sign1(*prot, {}, payload, *sig, true);
}

namespace {
// The header checks both verify_cose_sign1 overloads share; `candidates(kid, have)`
// names the certificates to try, `kid_known(have)` whether a missing kid is final.
template <typename Candidates, typename KidKnown>
CoseVerification verify_headers_then(const CoseSign1& msg, HeaderRules rules,
                                     Candidates&& candidates, KidKnown&& kid_known) {
    CoseVerification early;
    auto alg = pick_alg(msg, rules, early);
    if (!alg) return early;
    Bytes kid;
    bool have = false;
    if (auto bad = pick_kid(msg, rules, kid, have)) {
        CoseVerification v;
        v.reason = reason::cose.code;
        v.detail = *bad;
        return v;
    }
    return verify_with(msg, candidates(kid, have), kid_known(have), *alg, kid);
}
}  // namespace

CoseVerification verify_cose_sign1(const CoseSign1& msg, const crypto::TrustStore& store, HeaderRules rules) {
    return verify_headers_then(
        msg, rules,
        [&](const Bytes& kid, bool have) {
            return have ? store.find(kid) : std::vector<const crypto::Certificate*>{};
        },
        [](bool have) { return have; });
}

CoseVerification verify_cose_sign1(const CoseSign1& msg, const crypto::Certificate& cert, HeaderRules rules) {
    return verify_headers_then(
        msg, rules,
        [&](const Bytes& kid, bool have) {
            std::vector<const crypto::Certificate*> certs;
            if (!have || kid == cert.kid()) certs.push_back(&cert);
            return certs;
        },
        [](bool) { return true; });
}

namespace {
Result<Bytes> open_result(CoseSign1&& msg, const CoseVerification& v) {
    if (v.state == SignatureState::valid) return std::move(msg.payload);
    return fail(v.error());
}
}  // namespace

Error CoseVerification::error() const {
    return Error{is(reason::cose) ? ErrorKind::invalid_input : ErrorKind::rejected,
                 reason.value_or(reason::signature.code), detail};
}

Result<Bytes> cose_sign1_open(ByteView data, const crypto::TrustStore& store) {
    auto msg = parse_cose_sign1(data);
    if (!msg) return fail(msg.error());
    auto v = verify_cose_sign1(*msg, store, HeaderRules::strict);
    return open_result(std::move(msg).value(), v);
}

Result<Bytes> cose_sign1_open(ByteView data, const crypto::Certificate& cert) {
    auto msg = parse_cose_sign1(data);
    if (!msg) return fail(msg.error());
    auto v = verify_cose_sign1(*msg, cert, HeaderRules::strict);
    return open_result(std::move(msg).value(), v);
}

}  // namespace cp::pass
