// The issuers a device trusts: X.509 certificates indexed by kid (first 8 bytes of
// SHA-256 of the DER). Several certificates may share a kid; a verifier tries each.
// Not thread-safe for concurrent modification; concurrent lookups are fine, but see
// Certificate for concurrent verification.
#pragma once

#include "src/common/bytes.hpp"
#include "src/common/result.hpp"
#include "src/crypto/crypto.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace cp::crypto {

class TrustStore {
public:
    TrustStore() = default;
    TrustStore(TrustStore&&) noexcept = default;
    TrustStore& operator=(TrustStore&&) noexcept = default;

    // A file (one DER certificate, or PEM holding one or more certificates) or a
    // directory of such files (*.pem, *.crt, *.cer, *.der; other files ignored).
    // Errors: io/"trust-store" when the path cannot be read or yields no certificate;
    // invalid_input/"certificate" (with the file name) when a file does not parse.
    static Result<TrustStore> load(const std::string& path);

    // Adds one certificate (PEM with possibly several certificates, or DER).
    Status add_pem_or_der(ByteView data);
    void add(Certificate cert);
    // Registers a certificate under a kid given by a trust list rather than computed
    // from its DER (how two issuer certificates can come to share one kid).
    void add(Certificate cert, Bytes kid);

    // Every certificate whose kid equals `kid` (empty when none).
    std::vector<const Certificate*> find(ByteView kid) const;
    std::size_t size() const { return certs_.size(); }
    const std::vector<std::unique_ptr<Certificate>>& certificates() const { return certs_; }
    // Unique in the process for these contents: every new store and every add()
    // takes a fresh value, so a cache of verifications can tell the trust changed.
    std::uint64_t generation() const { return generation_; }

private:
    static std::uint64_t next_generation();
    std::uint64_t generation_ = next_generation();
    std::vector<std::unique_ptr<Certificate>> certs_;
    std::multimap<Bytes, const Certificate*> by_kid_;
};

}  // namespace cp::crypto
