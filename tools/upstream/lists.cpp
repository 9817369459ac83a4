#include "tools/upstream/lists.hpp"
#include "tools/upstream/reasons.hpp"

#include "src/status/list_format.hpp"
#include "tools/upstream/list_spool.hpp"

#include <nlohmann/json.hpp>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <utility>

namespace cp::upstream {

using nlohmann::json;

Result<std::string> read_text_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return fail(ErrorKind::io, reason::read, path);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

namespace {

struct BioFree { void operator()(BIO* b) const { BIO_free(b); } };
struct X509Free { void operator()(X509* x) const { X509_free(x); } };

std::unique_ptr<X509, X509Free> parse_x509(ByteView pem_or_der) {
    std::unique_ptr<BIO, BioFree> bio(
        BIO_new_mem_buf(pem_or_der.data(), static_cast<int>(pem_or_der.size())));
    if (!bio) return nullptr;
    X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
    if (!x) {
        const unsigned char* p = pem_or_der.data();
        x = d2i_X509(nullptr, &p, static_cast<long>(pem_or_der.size()));
    }
    ERR_clear_error();
    return std::unique_ptr<X509, X509Free>(x);
}

Bytes der_of(X509* x) {
    unsigned char* der = nullptr;
    int len = i2d_X509(x, &der);
    if (len <= 0) return {};
    Bytes out(der, der + len);
    OPENSSL_free(der);
    return out;
}

Bytes kid_of(const Bytes& der) {
    Bytes d = sha256(der);
    d.resize(8);
    return d;
}

bool is_p256(EVP_PKEY* k) {
    if (EVP_PKEY_get_base_id(k) != EVP_PKEY_EC) return false;
    char name[64] = {};
    std::size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof name, &len) != 1)
        return false;
    return std::string_view(name, len) == "prime256v1" || std::string_view(name, len) == "P-256";
}

}  // namespace

Bytes sha256(ByteView data) {
    Bytes out(32);
    unsigned int n = 0;
    EVP_Digest(data.data(), data.size(), out.data(), &n, EVP_sha256(), nullptr);
    return out;
}

std::string fingerprint(ByteView der) { return to_hex(sha256(der)); }

Result<Bytes> certificate_der(ByteView pem_or_der) {
    auto x = parse_x509(pem_or_der);
    if (!x) return fail(ErrorKind::invalid_input, reason::certificate, "not a PEM or DER certificate");
    return der_of(x.get());
}

ListSigner::ListSigner(ListSigner&& o) noexcept
    : pkey_(std::exchange(o.pkey_, nullptr)), list_key_(std::move(o.list_key_)),
      cert_der_(std::move(o.cert_der_)), kid_(std::move(o.kid_)) {}
ListSigner& ListSigner::operator=(ListSigner&& o) noexcept {
    if (this != &o) {
        EVP_PKEY_free(static_cast<EVP_PKEY*>(pkey_));
        pkey_ = std::exchange(o.pkey_, nullptr);
        list_key_ = std::move(o.list_key_);
        cert_der_ = std::move(o.cert_der_);
        kid_ = std::move(o.kid_);
    }
    return *this;
}
ListSigner::~ListSigner() { EVP_PKEY_free(static_cast<EVP_PKEY*>(pkey_)); }

Result<ListSigner> ListSigner::load(const std::string& key_pem_path, const std::string& cert_path) {
    auto key_text = read_text_file(key_pem_path);
    if (!key_text) return fail(key_text.error());
    auto cert_text = read_text_file(cert_path);
    if (!cert_text) return fail(cert_text.error());
    std::unique_ptr<BIO, BioFree> bio(
        BIO_new_mem_buf(key_text->data(), static_cast<int>(key_text->size())));
    EVP_PKEY* k = bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr;
    ERR_clear_error();
    if (!k) return fail(ErrorKind::invalid_input, reason::key, "list-signing key is not a PEM private key");
    ListSigner s;
    s.pkey_ = k;
    if (!is_p256(k)) return fail(ErrorKind::invalid_input, reason::key, "list-signing key is not EC P-256");
    auto x = parse_x509(as_bytes(*cert_text));
    if (!x) return fail(ErrorKind::invalid_input, reason::certificate, "list-signing certificate");
    // A key that does not match its certificate would publish lists no device accepts.
    if (X509_check_private_key(x.get(), k) != 1) {
        ERR_clear_error();
        return fail(ErrorKind::config, reason::key_mismatch,
                    "the list-signing key does not match its certificate");
    }
    s.cert_der_ = der_of(x.get());
    s.kid_ = kid_of(s.cert_der_);
    auto mk = crypto::PrivateKey::parse(as_bytes(*key_text));
    if (!mk) return fail(mk.error().with_context("list-signing key"));
    s.list_key_ = std::make_unique<crypto::PrivateKey>(std::move(*mk));
    return s;
}

Result<Bytes> ListSigner::sign(ByteView message) const {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    if (!ctx) return fail(ErrorKind::internal, reason::crypto);
    std::size_t len = 0;
    Bytes der;
    bool ok = EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr,
                                 static_cast<EVP_PKEY*>(pkey_)) == 1 &&
              EVP_DigestSign(ctx, nullptr, &len, message.data(), message.size()) == 1;
    if (ok) {
        der.resize(len);
        ok = EVP_DigestSign(ctx, der.data(), &len, message.data(), message.size()) == 1;
        der.resize(len);
    }
    EVP_MD_CTX_free(ctx);
    if (!ok) {
        ERR_clear_error();
        return fail(ErrorKind::internal, reason::crypto, "signing failed");
    }
    // DER ECDSA-Sig-Value -> raw r||s, 32 bytes each (COSE form).
    const unsigned char* p = der.data();
    ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
    if (!sig) return fail(ErrorKind::internal, reason::crypto, "bad ECDSA signature");
    Bytes rs(64);
    const BIGNUM* r = nullptr;
    const BIGNUM* sv = nullptr;
    ECDSA_SIG_get0(sig, &r, &sv);
    ok = BN_bn2binpad(r, rs.data(), 32) == 32 && BN_bn2binpad(sv, rs.data() + 32, 32) == 32;
    ECDSA_SIG_free(sig);
    if (!ok) return fail(ErrorKind::internal, reason::crypto, "bad ECDSA signature");
    return rs;
}

DocumentVerifier::DocumentVerifier(DocumentVerifier&& o) noexcept
    : pkey_(std::exchange(o.pkey_, nullptr)), kid_(std::move(o.kid_)) {}
DocumentVerifier& DocumentVerifier::operator=(DocumentVerifier&& o) noexcept {
    if (this != &o) {
        EVP_PKEY_free(static_cast<EVP_PKEY*>(pkey_));
        pkey_ = std::exchange(o.pkey_, nullptr);
        kid_ = std::move(o.kid_);
    }
    return *this;
}
DocumentVerifier::~DocumentVerifier() { EVP_PKEY_free(static_cast<EVP_PKEY*>(pkey_)); }

Result<DocumentVerifier> DocumentVerifier::from_certificate(ByteView pem_or_der) {
    auto x = parse_x509(pem_or_der);
    if (!x) return fail(ErrorKind::invalid_input, reason::certificate, "not a PEM or DER certificate");
    DocumentVerifier v;
    v.pkey_ = X509_get_pubkey(x.get());
    if (!v.pkey_ || !is_p256(static_cast<EVP_PKEY*>(v.pkey_)))
        return fail(ErrorKind::invalid_input, reason::certificate, "signer key is not EC P-256");
    v.kid_ = kid_of(der_of(x.get()));
    return v;
}

Status DocumentVerifier::verify_es256(ByteView message, ByteView rs) const {
    if (rs.size() != 64) return fail(ErrorKind::rejected, reason::signature, "not 64 bytes");
    ECDSA_SIG* sig = ECDSA_SIG_new();
    BIGNUM* r = BN_bin2bn(rs.data(), 32, nullptr);
    BIGNUM* s = BN_bin2bn(rs.data() + 32, 32, nullptr);
    if (!sig || !r || !s || ECDSA_SIG_set0(sig, r, s) != 1) {
        ECDSA_SIG_free(sig);
        BN_free(r);
        BN_free(s);
        return fail(ErrorKind::internal, reason::crypto);
    }
    unsigned char* der = nullptr;
    int len = i2d_ECDSA_SIG(sig, &der);
    ECDSA_SIG_free(sig);
    if (len <= 0) return fail(ErrorKind::internal, reason::crypto);
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    bool ok = ctx &&
              EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr,
                                   static_cast<EVP_PKEY*>(pkey_)) == 1 &&
              EVP_DigestVerify(ctx, der, static_cast<std::size_t>(len), message.data(),
                               message.size()) == 1;
    EVP_MD_CTX_free(ctx);
    OPENSSL_free(der);
    ERR_clear_error();
    if (!ok) return fail(ErrorKind::rejected, reason::signature);
    return {};
}

Result<Bytes> sign_document(const ListSigner& signer, const std::string& payload_json) {
    auto sig = signer.sign(as_bytes(payload_json));
    if (!sig) return fail(sig.error());
    json env = {{"alg", "ES256"}, {"kid", to_hex(signer.kid())}, {"payload", payload_json},
                {"sig", to_hex(*sig)}};
    std::string text = env.dump();
    return Bytes(text.begin(), text.end());
}

Result<std::string> verify_document(ByteView envelope, const DocumentVerifier& verifier) {
    json env = json::parse(as_chars(envelope), nullptr, false);
    if (env.is_discarded() || !env.is_object() || !env.contains("alg") ||
        !env["alg"].is_string() || !env.contains("kid") || !env["kid"].is_string() ||
        !env.contains("payload") || !env["payload"].is_string() || !env.contains("sig") ||
        !env["sig"].is_string())
        return fail(ErrorKind::invalid_input, reason::envelope, "not a signed document");
    if (env["alg"].get<std::string>() != "ES256") return fail(ErrorKind::rejected, reason::alg);
    auto kid = from_hex(env["kid"].get<std::string>());
    if (!kid || *kid != verifier.kid()) return fail(ErrorKind::rejected, reason::kid);
    auto sig = from_hex(env["sig"].get<std::string>());
    if (!sig) return fail(ErrorKind::invalid_input, reason::envelope, "sig is not hex");
    std::string payload = env["payload"].get<std::string>();
    auto ok = verifier.verify_es256(as_bytes(payload), *sig);
    if (!ok) return fail(ErrorKind::rejected, reason::signature);
    return payload;
}

namespace {

status::Op op_of(PassStatus s) {
    switch (s) {
        case PassStatus::green: return status::Op::green;
        case PassStatus::yellow: return status::Op::yellow;
        case PassStatus::red: return status::Op::red;
    }
    return status::Op::yellow;
}

// Collects reason texts into the header's table; the records index into it.
class ReasonTable {
public:
    Result<std::uint8_t> index(const std::string& reason) {
        auto it = idx_.find(reason);
        if (it != idx_.end()) return it->second;
        if (texts_.size() >= status::kMaxReasons)
            return fail(ErrorKind::invalid_input, reason::list_format, "more than 255 distinct reasons");
        auto i = static_cast<std::uint8_t>(texts_.size());
        texts_.push_back(reason);
        idx_[reason] = i;
        return i;
    }
    std::vector<std::string> texts() const { return texts_; }
    const std::string& text(std::uint8_t i) const { return texts_.at(i); }

private:
    std::vector<std::string> texts_;
    std::map<std::string, std::uint8_t> idx_;
};

Result<status::ListEntry> list_entry(const std::string& pass_id, status::Op op,
                                     const std::string& reason, std::int64_t since,
                                     ReasonTable& reasons) {
    auto id = from_hex(pass_id);
    if (!id || id->size() != 16)
        return fail(ErrorKind::invalid_input, reason::pass_id, "not 32 hex digits");
    status::ListEntry e;
    std::copy(id->begin(), id->end(), e.id.begin());
    e.op = op;
    auto r = reasons.index(reason);
    if (!r) return fail(r.error());
    e.reason = *r;
    e.since = static_cast<std::uint32_t>(std::clamp<std::int64_t>(since, 0, 0xffffffffLL));
    return e;
}

}  // namespace

// The issuer text in list headers (informative only).
constexpr const char* kListIssuer = "command-centre";

Result<ListVersion> publish_list(UpstreamStore& store, const ListSigner& signer, std::int64_t now,
                                 bool force, std::int64_t keep_deltas) {
    if (keep_deltas < 0) return fail(ErrorKind::invalid_input, reason::keep_deltas, "a negative number of deltas");
    auto latest = store.latest_list_version();
    if (!latest) return fail(latest.error());
    auto scratch = ScratchDir::create();
    if (!scratch) return fail(scratch.error());
    auto published = RecordSpool::create(*scratch / "published");
    auto working = RecordSpool::create(*scratch / "working");
    auto changes = RecordSpool::create(*scratch / "delta");
    for (auto* r : {&published, &working, &changes})
        if (!*r) return fail(r->error());
    ReasonTable pub_reasons, snap_reasons, delta_reasons;

    // 1. The published set to a spool (one read; the store is not re-entered while
    //    a stream runs).
    CP_TRY(store.for_each_status(StatusSet::published, [&](const StatusEntry& e) -> Status {
        auto le = list_entry(e.pass_id, op_of(e.status), e.reason, 0, pub_reasons);
        if (!le) return fail(le.error());
        return published->add(*le);
    }));
    CP_TRY(published->finish());

    // 2. The working set to the snapshot spool, merged against the published spool
    //    (both in id order) into the delta spool: changed, new and removed entries.
    std::vector<status::ListEntry> before;  // at most one record: the published cursor
    std::vector<std::uint8_t> pub_buf(status::kRecordSize);
    std::uint64_t pub_read = 0;
    std::FILE* pub_file = std::fopen((*scratch / "published").c_str(), "rb");
    if (!pub_file) return fail(ErrorKind::io, reason::spool, "cannot reopen the published spool");
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> pub_closer(pub_file, &std::fclose);
    auto next_published = [&]() -> Result<bool> {
        before.clear();
        if (pub_read == published->count()) return false;
        if (std::fread(pub_buf.data(), 1, pub_buf.size(), pub_file) != pub_buf.size())
            return fail(ErrorKind::io, reason::spool, "cannot read the published spool");
        ++pub_read;
        before.push_back(record_entry(pub_buf.data()));
        return true;
    };
    auto removed = [&](const status::ListEntry& gone) -> Status {
        auto de = list_entry(to_hex(ByteView(gone.id.data(), gone.id.size())), status::Op::remove, "", now,
                             delta_reasons);
        if (!de) return fail(de.error());
        return changes->add(*de);
    };
    auto more = next_published();
    if (!more) return fail(more.error());
    std::int64_t entries = 0;
    auto merged = store.for_each_status(StatusSet::working, [&](const StatusEntry& e) -> Status {
        auto se = list_entry(e.pass_id, op_of(e.status), e.reason, e.since, snap_reasons);
        if (!se) return fail(se.error());
        CP_TRY(working->add(*se));
        ++entries;
        while (!before.empty() && before.front().id < se->id) {
            CP_TRY(removed(before.front()));
            auto m = next_published();
            if (!m) return fail(m.error());
        }
        bool changed = true;
        if (!before.empty() && before.front().id == se->id) {
            changed = before.front().op != se->op || pub_reasons.text(before.front().reason) != e.reason;
            auto m = next_published();
            if (!m) return fail(m.error());
        }
        if (!changed) return {};
        auto de = list_entry(e.pass_id, op_of(e.status), e.reason, e.since, delta_reasons);
        if (!de) return fail(de.error());
        return changes->add(*de);
    });
    if (!merged) return fail(merged.error());
    while (!before.empty()) {
        CP_TRY(removed(before.front()));
        auto m = next_published();
        if (!m) return fail(m.error());
    }
    CP_TRY(working->finish());
    CP_TRY(changes->finish());
    const auto n_changes = static_cast<std::int64_t>(changes->count());
    if (n_changes == 0 && *latest > 0 && !force)
        return fail(ErrorKind::rejected, reason::unchanged, "no status changed since the last version");

    ListVersion v;
    v.version = *latest + 1;
    v.published_at = now;
    v.entries = entries;
    v.changes = n_changes;

    // 3. The signed files: header (count, digest, reasons) then the spooled records.
    status::ListHeader snap;
    snap.kind = status::ListKind::full;
    snap.version = v.version;
    snap.created_at = now;
    snap.reasons = snap_reasons.texts();
    snap.issuer = kListIssuer;
    auto snap_size = working->write_signed(snap, signer.list_key(), signer.kid(), *scratch / "snapshot.cpsl");
    if (!snap_size) return fail(snap_size.error().with_context("snapshot"));
    v.snapshot_size = *snap_size;
    const auto delta_path = *scratch / "delta.cpsl";
    if (*latest > 0) {
        // Version 1 has no delta: a device without a list takes the snapshot.
        status::ListHeader delta = snap;
        delta.kind = status::ListKind::delta;
        delta.base_version = *latest;
        delta.reasons = delta_reasons.texts();
        auto d = changes->write_signed(delta, signer.list_key(), signer.kid(), delta_path);
        if (!d) return fail(d.error().with_context("delta"));
        v.delta_size = *d;
    } else {
        std::FILE* f = std::fopen(delta_path.c_str(), "wb");
        if (!f || std::fclose(f) != 0) return fail(ErrorKind::io, reason::spool, "cannot create the empty delta");
    }

    // 4. One store transaction: the version and its files, and the signed set as
    //    the new published set (what was signed, not what the working set became
    //    meanwhile).
    CP_TRY(store.publish_list_files(v, (*scratch / "snapshot.cpsl").string(), delta_path.string(),
                                    [&](const StatusVisitor& visit) -> Status {
                                        return working->for_each([&](const status::ListEntry& le) -> Status {
                                            return visit(StatusEntry{
                                                to_hex(ByteView(le.id.data(), le.id.size())),
                                                le.op == status::Op::red     ? PassStatus::red
                                                : le.op == status::Op::green ? PassStatus::green
                                                                             : PassStatus::yellow,
                                                snap_reasons.text(le.reason), 0});
                                        });
                                    }));
    // 5. Older versions beyond the window go (the next publish retries a failure).
    if (keep_deltas > 0) {
        if (auto pruned = store.prune_list_versions(keep_deltas); !pruned)
            return fail(pruned.error().with_context("prune"));
    }
    return v;
}

Result<TrustVersion> publish_trust(UpstreamStore& store, const ListSigner& signer,
                                   std::int64_t now) {
    auto prev = store.latest_trust();
    if (!prev) return fail(prev.error());
    auto certs = store.issuers();
    if (!certs) return fail(certs.error());
    TrustVersion t;
    t.version = (*prev ? (*prev)->version : 0) + 1;
    t.published_at = now;
    json issuers = json::array();
    for (const auto& der : *certs) issuers.push_back(to_hex(der));
    json doc = {{"type", "cp-trust-list"}, {"version", t.version}, {"issued_at", now},
                {"issuers", std::move(issuers)}};
    auto signed_doc = sign_document(signer, doc.dump());
    if (!signed_doc) return fail(signed_doc.error());
    t.signed_list = std::move(*signed_doc);
    CP_TRY(store.add_trust_version(t));
    return t;
}

}  // namespace cp::upstream
