// Test issuers made at test time (never committed) and a builder for crafted passes.
#pragma once

#include "src/crypto/crypto.hpp"
#include "src/crypto/trust_store.hpp"
#include "src/pass/base45.hpp"
#include "src/pass/claims.hpp"
#include "src/pass/compression.hpp"
#include "src/pass/cose.hpp"
#include "src/pass/issuer.hpp"

#include <doctest/doctest.h>

namespace cp::pass::testing {

inline constexpr std::int64_t kIat = 1767225600;  // 2026-01-01
inline constexpr std::int64_t kExp = 1798761600;  // 2027-01-01
inline constexpr std::int64_t kNow = 1780000000;  // between the two

struct Issuer {
    crypto::PrivateKey key;
    Bytes cert_der;
    Bytes kid;
    static Issuer make(const std::string& cn = "test issuer") {
        auto k = crypto::PrivateKey::generate_p256();
        REQUIRE(k.ok());
        auto der = k->self_signed_certificate(cn, kIat - 86400, 3650);
        REQUIRE(der.ok());
        Bytes kid = crypto::kid_of(*der);
        return Issuer{std::move(k).value(), *der, kid};
    }
    crypto::Certificate cert() const {
        auto c = crypto::Certificate::parse(cert_der);
        REQUIRE(c.ok());
        return std::move(c).value();
    }
};

inline Bytes bytes_of(std::string_view s) {
    ByteView v = as_bytes(s);
    return Bytes(v.begin(), v.end());
}

inline Pass resident() {
    Pass p;
    p.issuer = "CN-HL-DQ";
    p.issued_at = kIat;
    p.expires_at = kExp;
    for (std::size_t i = 0; i < p.id.size(); ++i) p.id[i] = static_cast<std::uint8_t>(i * 17);
    p.kind = Kind::resident;
    p.name = "张*明";
    p.grid = "ranghulu.xinghua.07";
    return p;
}

inline Bytes claims_of(const Pass& p) {
    auto c = encode_cp1_claims(p);
    REQUIRE(c.ok());
    return *c;
}

// Signs an arbitrary protected header / payload; `unprotected` is an encoded map or empty.
inline Bytes signed_cose(const Issuer& signer, const Bytes& protected_bstr, const Bytes& payload,
                         const Bytes& unprotected = {}, bool tag18 = true) {
    auto sig = signer.key.sign_es256(sig_structure(protected_bstr, payload));
    REQUIRE(sig.ok());
    auto cose = build_cose_sign1(protected_bstr, unprotected, payload, *sig, tag18);
    REQUIRE(cose.ok());
    return *cose;
}

inline Bytes es256_header(const Bytes& kid) {
    auto h = encode_protected_header(kAlgES256, kid);
    REQUIRE(h.ok());
    return *h;
}

inline std::string text_of(const Bytes& cose, std::string_view prefix = "CP1:") {
    auto t = qr_text_from_cose(prefix, cose);
    REQUIRE(t.ok());
    return *t;
}

inline std::string zlib_text(const Bytes& inner, std::string_view prefix = "CP1:") {
    auto z = deflate_zlib(inner);
    REQUIRE(z.ok());
    return std::string(prefix) + base45_encode(*z);
}

}  // namespace cp::pass::testing
