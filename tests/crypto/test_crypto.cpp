// Keys are generated at test time; no key material lives in the repository.
#include "src/crypto/crypto.hpp"
#include "src/crypto/trust_store.hpp"
#include "tests/testing.hpp"

#include <doctest/doctest.h>

using namespace cp;
using namespace cp::crypto;

namespace {
constexpr std::int64_t kJan2026 = 1767225600;

PrivateKey new_key() {
    auto k = PrivateKey::generate_p256();
    REQUIRE(k.ok());
    return std::move(k).value();
}
Bytes new_cert(const PrivateKey& k, const std::string& cn = "test issuer") {
    auto c = k.self_signed_certificate(cn, kJan2026, 365);
    REQUIRE(c.ok());
    return *c;
}
}  // namespace

TEST_CASE("SHA-256 of the FIPS 180-2 'abc' vector") {
    CHECK(to_hex(sha256(as_bytes("abc"))) ==
          "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(to_hex(sha256({})) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_CASE("ES256 sign and verify round trip, tampering and a foreign key fail") {
    PrivateKey k = new_key();
    auto cert = Certificate::parse(new_cert(k));
    REQUIRE(cert.ok());
    CHECK(cert->key_type() == KeyType::ec_p256);
    CHECK(cert->kid().size() == 8);
    CHECK(cert->kid() == kid_of(cert->der()));
    CHECK(cert->subject() == "CN=test issuer");
    CHECK(cert->not_before() == kJan2026);
    CHECK(cert->not_after() == kJan2026 + 365 * 86400);

    auto sig = k.sign_es256(as_bytes("message"));
    REQUIRE(sig.ok());
    CHECK(sig->size() == 64);
    CHECK(cert->verify_es256(as_bytes("message"), *sig).ok());
    auto bad = cert->verify_es256(as_bytes("messagE"), *sig);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().is(cp::crypto::reason::signature));
    Bytes flipped = *sig;
    flipped[10] ^= 1;
    CHECK_FALSE(cert->verify_es256(as_bytes("message"), flipped).ok());
    CHECK(cert->verify_es256(as_bytes("message"), Bytes(63)).error().is(cp::crypto::reason::signature));

    PrivateKey other = new_key();
    auto sig2 = other.sign_es256(as_bytes("message"));
    REQUIRE(sig2.ok());
    CHECK_FALSE(cert->verify_es256(as_bytes("message"), *sig2).ok());
    // An EC certificate cannot verify PS256.
    CHECK(cert->verify_ps256(as_bytes("message"), *sig).error().is(cp::crypto::reason::alg));
}

TEST_CASE("private key PEM round trip keeps the key") {
    PrivateKey k = new_key();
    auto pem = k.to_pem();
    REQUIRE(pem.ok());
    CHECK(pem->find("BEGIN EC PRIVATE KEY") != std::string::npos);
    auto k2 = PrivateKey::parse(as_bytes(*pem));
    REQUIRE(k2.ok());
    auto cert = Certificate::parse(new_cert(k));
    REQUIRE(cert.ok());
    auto sig = k2->sign_es256(as_bytes("x"));
    REQUIRE(sig.ok());
    CHECK(cert->verify_es256(as_bytes("x"), *sig).ok());
    CHECK(PrivateKey::parse(as_bytes("not a key")).error().is(cp::crypto::reason::key));
}

TEST_CASE("certificate parsing: PEM and DER agree; garbage is a typed error") {
    PrivateKey k = new_key();
    Bytes der = new_cert(k);
    std::string pem = certificate_pem(der);
    auto a = Certificate::parse(der);
    auto b = Certificate::parse(as_bytes(pem));
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    CHECK(a->der() == b->der());
    auto bad = Certificate::parse(as_bytes("garbage"));
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().is(cp::crypto::reason::certificate));
    Bytes truncated(der.begin(), der.begin() + static_cast<std::ptrdiff_t>(der.size() / 2));
    CHECK_FALSE(Certificate::parse(truncated).ok());
    CHECK(k.self_signed_certificate("a,b", kJan2026, 1).error().is(cp::crypto::reason::cn));
}

TEST_CASE("trust store: file, directory, bundle; lookup by kid") {
    testing::TempDir dir;
    PrivateKey k1 = new_key(), k2 = new_key();
    Bytes d1 = new_cert(k1, "one"), d2 = new_cert(k2, "two");
    testing::write_file(dir / "one.pem", certificate_pem(d1));
    testing::write_file(dir / "two.der", std::string(d2.begin(), d2.end()));
    testing::write_file(dir / "notes.txt", "ignored");
    auto store = TrustStore::load(dir.path().string());
    REQUIRE(store.ok());
    CHECK(store->size() == 2);
    CHECK(store->find(kid_of(d1)).size() == 1);
    CHECK(store->find(kid_of(d2)).size() == 1);
    CHECK(store->find(Bytes(8, 0)).empty());

    testing::write_file(dir / "bundle.crt", certificate_pem(d1) + certificate_pem(d2));
    auto bundle = TrustStore::load((dir / "bundle.crt").string());
    REQUIRE(bundle.ok());
    CHECK(bundle->size() == 2);

    auto missing = TrustStore::load((dir / "nope").string());
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error().is(cp::crypto::reason::trust_store));
    testing::write_file(dir / "broken.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
    auto broken = TrustStore::load(dir.path().string());
    REQUIRE_FALSE(broken.ok());
    CHECK(broken.error().is(cp::crypto::reason::certificate));
}

TEST_CASE("random bytes differ between draws") {
    std::uint8_t a[32], b[32];
    REQUIRE(random_bytes(a, sizeof a).ok());
    REQUIRE(random_bytes(b, sizeof b).ok());
    CHECK(Bytes(a, a + 32) != Bytes(b, b + 32));
}
