// A TEST-ONLY list signer: a fresh P-256 key and self-signed certificate per run.
#pragma once

#include "src/crypto/crypto.hpp"
#include "src/crypto/trust_store.hpp"
#include "src/status/list_format.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <random>

namespace cp::status::testing {

struct Signer {
    crypto::PrivateKey key;
    Bytes cert_der;
    Bytes kid;
    crypto::TrustStore trust;

    static Signer make(const char* cn = "Test list signer") {
        auto k = crypto::PrivateKey::generate_p256();
        REQUIRE(k.ok());
        auto der = k->self_signed_certificate(cn, 1'700'000'000, 3650);
        REQUIRE(der.ok());
        Signer s{std::move(k).value(), *der, crypto::kid_of(*der), {}};
        auto cert = crypto::Certificate::parse(s.cert_der);
        REQUIRE(cert.ok());
        s.trust.add(std::move(cert).value());
        return s;
    }

    Bytes list(std::int64_t version, const std::vector<ListEntry>& entries, std::vector<std::string> reasons = {"", "isolation", "close-contact"},
               std::int64_t created_at = 1'800'000'000) const {
        ListHeader h;
        h.version = version;
        h.created_at = created_at;
        h.reasons = std::move(reasons);
        h.issuer = "CN-HL-DQ";
        auto b = build_list(h, entries, key, kid);
        REQUIRE_MESSAGE(b.ok(), (b.ok() ? "" : b.error().describe()));
        return *b;
    }

    Bytes delta(std::int64_t base, std::int64_t version, const std::vector<ListEntry>& entries,
                std::vector<std::string> reasons = {"", "isolation", "released"}) const {
        ListHeader h;
        h.kind = ListKind::delta;
        h.base_version = base;
        h.version = version;
        h.created_at = 1'800'000'000 + version;
        h.reasons = std::move(reasons);
        auto b = build_list(h, entries, key, kid);
        REQUIRE_MESSAGE(b.ok(), (b.ok() ? "" : b.error().describe()));
        return *b;
    }
};

inline pass::PassId id_of(std::uint64_t n) {
    // Spread ids over the key space like random pass ids, deterministically.
    pass::PassId id{};
    std::uint64_t a = n * 0x9E3779B97F4A7C15ULL + 1, b = (n ^ 0xdeadbeefULL) * 0xC2B2AE3D27D4EB4FULL;
    std::memcpy(id.data(), &a, 8);
    std::memcpy(id.data() + 8, &b, 8);
    return id;
}

inline ListEntry entry(std::uint64_t n, Op op, std::uint8_t reason = 0, std::uint32_t since = 1'790'000'000) {
    return {id_of(n), op, reason, since};
}

}  // namespace cp::status::testing
