// Cryptographic primitives of the trust core, on mbedTLS 2.28. Every mbedTLS
// error is caught here and returned as a Result; nothing throws.
//
// Error reasons used by this module (ErrorKind in brackets):
//   "certificate"  [invalid_input] a certificate does not parse
//   "key"          [invalid_input] a key does not parse, or is of the wrong type
//   "alg"          [rejected]      the key type does not fit the algorithm asked for
//   "signature"    [rejected]      the signature does not verify (or has the wrong size)
//   "rng"          [internal]      the random generator could not be seeded
//   "crypto"       [internal]      an unexpected mbedTLS failure
#pragma once

#include "src/crypto/reason.hpp"
#include "src/common/bytes.hpp"
#include "src/common/result.hpp"

#include <array>
#include <cstdint>
#include <memory>
#include <string>

namespace cp::crypto {

using Sha256 = std::array<std::uint8_t, 32>;

Sha256 sha256(ByteView data);

// kid of a certificate: the first 8 bytes of SHA-256 over its DER (CP1 and HCERT alike).
Bytes kid_of(ByteView certificate_der);

enum class KeyType { ec_p256, rsa, other };

// An X.509 certificate with its parsed public key. Parsing happens once; the key
// is reused for every verification (this is the "cache" that keeps verification
// cheap). Move-only. Verification of one Certificate from several threads at once
// is not safe (mbedTLS caches precomputed points in the key on first use).
class Certificate {
public:
    // PEM (first certificate of the text) or DER.
    static Result<Certificate> parse(ByteView pem_or_der);

    Certificate(Certificate&&) noexcept;
    Certificate& operator=(Certificate&&) noexcept;
    ~Certificate();

    const Bytes& der() const { return der_; }
    const Bytes& kid() const { return kid_; }
    KeyType key_type() const;
    std::string subject() const;
    // notBefore / notAfter as seconds since the epoch (UTC).
    std::int64_t not_before() const;
    std::int64_t not_after() const;

    // ECDSA P-256 over SHA-256(message); signature is raw r||s (64 bytes, COSE form).
    // Errors: "alg" when the key is not P-256, "signature" when it does not verify.
    Status verify_es256(ByteView message, ByteView signature_rs) const;
    // Same with a precomputed SHA-256 digest.
    Status verify_es256_digest(const Sha256& digest, ByteView signature_rs) const;
    // RSASSA-PSS with SHA-256, MGF1-SHA-256, any salt length (COSE PS256).
    Status verify_ps256(ByteView message, ByteView signature) const;

    // The mbedtls_pk_context* of the key (for benchmarks comparing against bare mbedTLS).
    void* native_pk() const;

private:
    struct Impl;
    explicit Certificate(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
    Bytes der_;
    Bytes kid_;
};

// An EC P-256 private key (the issuer's signing key). Move-only.
class PrivateKey {
public:
    static Result<PrivateKey> generate_p256();
    // PEM or DER, unencrypted (SEC1 or PKCS#8). Error "key" when it is not an EC P-256 key.
    static Result<PrivateKey> parse(ByteView pem_or_der);

    PrivateKey(PrivateKey&&) noexcept;
    PrivateKey& operator=(PrivateKey&&) noexcept;
    ~PrivateKey();

    Result<std::string> to_pem() const;
    Result<std::string> public_key_pem() const;

    // ES256 over `message`: raw r||s, 64 bytes.
    Result<Bytes> sign_es256(ByteView message) const;

    // A self-signed X.509 v3 certificate (DER) for this key, subject CN=`common_name`,
    // valid from `not_before` for `days` days (seconds since the epoch).
    Result<Bytes> self_signed_certificate(const std::string& common_name, std::int64_t not_before,
                                          int days) const;

private:
    struct Impl;
    explicit PrivateKey(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// DER → PEM ("-----BEGIN CERTIFICATE-----").
std::string certificate_pem(ByteView der);

// Fills `out` from the process-wide CTR_DRBG (seeded once from the system's entropy).
// Thread-safe.
Status random_bytes(std::uint8_t* out, std::size_t len);

}  // namespace cp::crypto
