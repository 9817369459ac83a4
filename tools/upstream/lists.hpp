// Signed documents the command centre publishes: status-list snapshots and deltas,
// and the trust list of pass issuer certificates.
//
// Status-list snapshots and deltas are files in the status module's signed format
// (CPSLIST1, docs/status-list-format.md), built with cp::status::build_list, so a
// device verifies and applies them with its own StatusList.
// The trust list is a JSON envelope (docs/sync-protocol.md, "Signed documents"):
//   {"alg":"ES256","kid":"<16 hex>","payload":"<JSON text>","sig":"<128 hex, r||s>"}
// where `sig` is ES256 over the exact UTF-8 bytes of `payload`, and `kid` is the
// first 8 bytes of SHA-256 over the signer certificate's DER.
#pragma once

#include "src/common/bytes.hpp"
#include "src/common/result.hpp"
#include "src/crypto/crypto.hpp"
#include "tools/upstream/store.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace cp::upstream {

// The command centre's list-signing key (EC P-256) with its certificate. OpenSSL
// underneath, so the upstream does not depend on the device's crypto backend.
class ListSigner {
public:
    // Errors: io "read" when a file cannot be read; invalid_input "key"/"certificate";
    // config "key-mismatch" when the key is not the certificate's.
    static Result<ListSigner> load(const std::string& key_pem_path, const std::string& cert_path);
    ListSigner(ListSigner&&) noexcept;
    ListSigner& operator=(ListSigner&&) noexcept;
    ~ListSigner();

    // ES256 over `message`, raw r||s (64 bytes).
    Result<Bytes> sign(ByteView message) const;
    const Bytes& certificate_der() const { return cert_der_; }
    const Bytes& kid() const { return kid_; }
    // The same key for the status module's list builder (mbedTLS).
    const crypto::PrivateKey& list_key() const { return *list_key_; }

private:
    ListSigner() = default;
    void* pkey_ = nullptr;  // EVP_PKEY*
    std::unique_ptr<crypto::PrivateKey> list_key_;
    Bytes cert_der_;
    Bytes kid_;
};

// A verifier for signed documents: the public key of a signer certificate.
class DocumentVerifier {
public:
    // PEM or DER certificate. Errors: invalid_input "certificate".
    static Result<DocumentVerifier> from_certificate(ByteView pem_or_der);
    DocumentVerifier(DocumentVerifier&&) noexcept;
    DocumentVerifier& operator=(DocumentVerifier&&) noexcept;
    ~DocumentVerifier();
    const Bytes& kid() const { return kid_; }
    // Errors: rejected "signature".
    Status verify_es256(ByteView message, ByteView signature_rs) const;

private:
    DocumentVerifier() = default;
    void* pkey_ = nullptr;  // EVP_PKEY*
    Bytes kid_;
};

// Wraps `payload_json` (a serialized JSON object) in a signed envelope.
Result<Bytes> sign_document(const ListSigner& signer, const std::string& payload_json);

// Checks an envelope against `cert` and returns the payload text.
// Errors: invalid_input "envelope" (not the form above), rejected "alg", "kid", "signature".
Result<std::string> verify_document(ByteView envelope, const DocumentVerifier& verifier);

// Deltas `upstream publish` and the console keep after a publish by default (the
// server offers a chain of at most 50).
constexpr std::int64_t kDefaultKeepDeltas = 50;

// Builds version latest+1 from the working set against the published set, signs the
// snapshot and the delta (CPSLIST1), and stores both atomically; then, when
// `keep_deltas` > 0, prunes the store to the latest snapshot and the last
// `keep_deltas` deltas (0: every version is kept).
// Streaming: both sets are read once each through UpstreamStore::for_each_status
// into temporary record files under $TMPDIR (22 bytes an entry), merged in
// pass-id order, and the signed files go to the store from disk: memory stays a
// few buffers at any list size (docs/benchmarks.md, "Publishing").
// The returned version carries the sizes, not the bytes (snapshot and delta are
// empty): read those with store.list_version(v.version).
// Errors: the store's, rejected "unchanged" when nothing changed since the last
// version (unless `force`), invalid_input "list-format" (e.g. more than 255
// distinct reasons), "pass-id", "keep-deltas" (< 0); io "spool" (the temporary files).
Result<ListVersion> publish_list(UpstreamStore& store, const ListSigner& signer, std::int64_t now,
                                 bool force = false, std::int64_t keep_deltas = 0);

// Signs the current issuer set as trust-list version latest+1 and stores it.
Result<TrustVersion> publish_trust(UpstreamStore& store, const ListSigner& signer,
                                   std::int64_t now);

// SHA-256 of DER as 64 lower-case hex digits (device and issuer fingerprints).
std::string fingerprint(ByteView der);
Bytes sha256(ByteView data);
// A certificate (PEM or DER) as DER. Errors: invalid_input "certificate".
Result<Bytes> certificate_der(ByteView pem_or_der);

// Reads a whole file. Errors: io "read".
Result<std::string> read_text_file(const std::string& path);

}  // namespace cp::upstream
