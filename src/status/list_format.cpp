#include "src/status/list_format.hpp"
#include "src/status/version_floor.hpp"
#include "src/status/reason.hpp"

#include "src/pass/cbor.hpp"
#include "src/pass/cose.hpp"

#include <mbedtls/sha256.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace cp::status {
namespace {

// Header map keys (docs/status-list-format.md).
enum Key : std::int64_t {
    kFormat = 1, kKind = 2, kVersion = 3, kBase = 4, kCreated = 5, kCount = 6, kDigest = 7, kReasons = 8, kIssuer = 9,
};

Failure bad(const std::string& m) { return fail(ErrorKind::invalid_input, reason::list_format, m); }

// A minimal canonical CBOR writer: the header has only ints, strings and one array.
void put_head(Bytes& out, std::uint8_t major, std::uint64_t v) {
    const auto m = static_cast<std::uint8_t>(major << 5);
    if (v < 24) {
        out.push_back(static_cast<std::uint8_t>(m | v));
    } else if (v <= 0xff) {
        out.push_back(m | 24);
        out.push_back(static_cast<std::uint8_t>(v));
    } else if (v <= 0xffff) {
        out.push_back(m | 25);
        for (int s = 8; s >= 0; s -= 8) out.push_back(static_cast<std::uint8_t>(v >> s));
    } else if (v <= 0xffffffffULL) {
        out.push_back(m | 26);
        for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<std::uint8_t>(v >> s));
    } else {
        out.push_back(m | 27);
        for (int s = 56; s >= 0; s -= 8) out.push_back(static_cast<std::uint8_t>(v >> s));
    }
}
void put_int(Bytes& out, std::int64_t v) {
    if (v >= 0) put_head(out, 0, static_cast<std::uint64_t>(v));
    else put_head(out, 1, static_cast<std::uint64_t>(-(v + 1)));
}
void put_bytes(Bytes& out, std::uint8_t major, ByteView b) {
    put_head(out, major, b.size());
    out.insert(out.end(), b.begin(), b.end());
}

void put_u32(std::uint8_t* p, std::uint32_t v) {
    p[0] = static_cast<std::uint8_t>(v >> 24);
    p[1] = static_cast<std::uint8_t>(v >> 16);
    p[2] = static_cast<std::uint8_t>(v >> 8);
    p[3] = static_cast<std::uint8_t>(v);
}
std::uint32_t get_u32(const std::uint8_t* p) {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}

Result<std::size_t> read_full(ByteSource& src, std::uint8_t* out, std::size_t n) {
    std::size_t got = 0;
    while (got < n) {
        auto r = src.read(out + got, n - got);
        if (!r) return fail(r.error());
        if (*r == 0) break;
        got += *r;
    }
    return got;
}

Status check_reasons(const std::vector<std::string>& reasons) {
    if (reasons.size() > kMaxReasons) return bad("more than 255 reasons");
    for (const auto& r : reasons) {
        if (r.size() > kMaxReasonBytes) return bad("reason longer than 64 bytes");
        if (!pass::cbor::valid_utf8(r)) return bad("reason is not UTF-8");
        for (char c : r) {
            if (static_cast<unsigned char>(c) < 0x20) return bad("control character in a reason");
        }
    }
    return {};
}

}  // namespace

const char* to_string(Op op) noexcept {
    switch (op) {
    case Op::green: return "green";
    case Op::yellow: return "yellow";
    case Op::red: return "red";
    case Op::remove: return "remove";
    }
    return "?";
}

Bytes encode_header(const ListHeader& h) {
    Bytes out;
    bool delta = h.kind == ListKind::delta;
    put_head(out, 5, 7u + (delta ? 1u : 0u) + (h.issuer.empty() ? 0u : 1u));
    put_int(out, kFormat); put_int(out, 1);
    put_int(out, kKind); put_int(out, static_cast<std::int64_t>(h.kind));
    put_int(out, kVersion); put_int(out, h.version);
    if (delta) { put_int(out, kBase); put_int(out, h.base_version); }
    put_int(out, kCreated); put_int(out, h.created_at);
    put_int(out, kCount); put_head(out, 0, h.entry_count);
    put_int(out, kDigest); put_bytes(out, 2, h.entries_sha256);
    put_int(out, kReasons);
    put_head(out, 4, h.reasons.size());
    for (const auto& r : h.reasons) put_bytes(out, 3, as_bytes(r));
    if (!h.issuer.empty()) { put_int(out, kIssuer); put_bytes(out, 3, as_bytes(h.issuer)); }
    return out;
}

Result<ListHeader> decode_header(ByteView payload) {
    namespace cb = pass::cbor;
    auto item = cb::decode(payload);
    if (!item) return bad("header is not CBOR");
    const cbor_item_t* map = item->get();
    if (!cbor_isa_map(map) || cb::has_duplicate_keys(map)) return bad("header is not a map with unique keys");
    auto get_int = [&](std::int64_t key) -> std::optional<std::int64_t> {
        const cbor_item_t* v = cb::map_get(map, key);
        return v ? cb::as_int(v) : std::nullopt;
    };
    ListHeader h;
    if (get_int(kFormat) != 1) return bad("header format is not 1");
    auto kind = get_int(kKind);
    if (kind != 0 && kind != 1) return bad("header kind is neither 0 (full) nor 1 (delta)");
    h.kind = static_cast<ListKind>(*kind);
    auto version = get_int(kVersion), created = get_int(kCreated), count = get_int(kCount);
    if (!version || *version < 1) return bad("header version missing or < 1");
    if (*version > kMaxListVersion) return bad("header version above 2^53 - 1");
    if (!created || *created < 0) return bad("header created_at missing or negative");
    if (!count || *count < 0 || static_cast<std::uint64_t>(*count) > kMaxEntries) return bad("header count missing or too large");
    h.version = *version;
    h.created_at = *created;
    h.entry_count = static_cast<std::uint64_t>(*count);
    if (h.kind == ListKind::delta) {
        auto base = get_int(kBase);
        if (!base || *base < 1 || *base >= h.version) return bad("delta base version missing or not below version");
        h.base_version = *base;
    } else if (cb::map_get(map, kBase)) {
        return bad("full list with a base version");
    }
    const cbor_item_t* dg = cb::map_get(map, kDigest);
    auto digest = dg ? cb::as_bytes(dg) : std::nullopt;
    if (!digest || digest->size() != 32) return bad("header digest missing or not 32 bytes");
    std::copy(digest->begin(), digest->end(), h.entries_sha256.begin());
    const cbor_item_t* rs = cb::map_get(map, kReasons);
    if (!rs || !cbor_isa_array(rs)) return bad("header reasons missing or not an array");
    if (cbor_array_size(rs) > kMaxReasons) return bad("more than 255 reasons");
    for (std::size_t i = 0; i < cbor_array_size(rs); ++i) {
        cbor_item_t** items = cbor_array_handle(rs);
        auto t = cb::as_text(items[i]);
        if (!t) return bad("reason is not text");
        h.reasons.push_back(*t);
    }
    CP_TRY(check_reasons(h.reasons));
    if (const cbor_item_t* is = cb::map_get(map, kIssuer)) {
        auto t = cb::as_text(is);
        if (!t || t->size() > 64 || !cb::valid_utf8(*t)) return bad("issuer is not short text");
        h.issuer = *t;
    }
    return h;
}

void encode_record(const ListEntry& e, std::uint8_t* out) {
    std::memcpy(out, e.id.data(), 16);
    out[16] = static_cast<std::uint8_t>(e.op);
    out[17] = e.reason;
    put_u32(out + 18, e.since);
}

Result<ListEntry> decode_record(const std::uint8_t* in, const ListHeader& h) {
    ListEntry e;
    std::memcpy(e.id.data(), in, 16);
    if (in[16] > 3) return bad("record op out of range");
    e.op = static_cast<Op>(in[16]);
    if (e.op == Op::remove && h.kind != ListKind::delta) return bad("remove record in a full list");
    e.reason = in[17];
    if (e.reason >= h.reasons.size() && !(h.reasons.empty() && e.reason == 0)) return bad("record reason index out of range");
    e.since = get_u32(in + 18);
    return e;
}

// ---- writing

namespace {
struct Sha {
    mbedtls_sha256_context ctx;
    Sha() {
        mbedtls_sha256_init(&ctx);
        mbedtls_sha256_starts_ret(&ctx, 0);
    }
    ~Sha() { mbedtls_sha256_free(&ctx); }
    Sha(const Sha&) = delete;
    Sha& operator=(const Sha&) = delete;
    void update(const std::uint8_t* p, std::size_t n) { mbedtls_sha256_update_ret(&ctx, p, n); }
    crypto::Sha256 finish() {
        crypto::Sha256 out{};
        mbedtls_sha256_finish_ret(&ctx, out.data());
        return out;
    }
};

Status check_sorted(std::span<const ListEntry> entries, const ListHeader& h) {
    for (std::size_t i = 0; i < entries.size(); ++i) {
        if (i > 0 && !(entries[i - 1].id < entries[i].id)) return bad("entries not strictly sorted by id (duplicate?)");
        if (entries[i].op == Op::remove && h.kind != ListKind::delta) return bad("remove record in a full list");
        if (entries[i].reason >= h.reasons.size() && !(h.reasons.empty() && entries[i].reason == 0))
            return bad("reason index out of range");
    }
    return {};
}

Result<Bytes> signed_header(ListHeader& h, std::span<const ListEntry> entries, const crypto::PrivateKey& key,
                            ByteView kid) {
    CP_TRY(check_reasons(h.reasons));
    CP_TRY(check_sorted(entries, h));
    if (h.version < 1 || h.version > kMaxListVersion ||
        (h.kind == ListKind::delta && (h.base_version < 1 || h.base_version >= h.version)))
        return bad("version must be 1..2^53-1 and a delta's base below it");
    if (entries.size() > kMaxEntries) return bad("too many entries");
    Sha sha;
    std::uint8_t rec[kRecordSize];
    for (const auto& e : entries) {
        encode_record(e, rec);
        sha.update(rec, sizeof rec);
    }
    h.entry_count = entries.size();
    h.entries_sha256 = sha.finish();
    auto cose = pass::cose_sign1_sign(encode_header(h), key, kid);
    if (!cose) return fail(cose.error());
    if (cose->size() > kMaxHeaderBytes) return bad("signed header too large");
    return cose;
}

void put_prefix(Bytes& out, const Bytes& cose) {  // magic, length, COSE
    out.insert(out.end(), kMagic, kMagic + sizeof kMagic);
    std::uint8_t len[4];
    put_u32(len, static_cast<std::uint32_t>(cose.size()));
    out.insert(out.end(), len, len + 4);
    out.insert(out.end(), cose.begin(), cose.end());
}
}  // namespace

Result<Bytes> build_list(ListHeader header, std::vector<ListEntry> entries, const crypto::PrivateKey& key,
                         ByteView kid) {
    std::sort(entries.begin(), entries.end(), [](const ListEntry& a, const ListEntry& b) { return a.id < b.id; });
    auto cose = signed_header(header, entries, key, kid);
    if (!cose) return fail(cose.error());
    Bytes out;
    put_prefix(out, *cose);
    std::size_t at = out.size();
    out.resize(at + entries.size() * kRecordSize);
    for (const auto& e : entries) {
        encode_record(e, out.data() + at);
        at += kRecordSize;
    }
    return out;
}

Status write_list_file(const std::string& path, ListHeader header, std::span<const ListEntry> sorted,
                       const crypto::PrivateKey& key, ByteView kid) {
    auto cose = signed_header(header, sorted, key, kid);
    if (!cose) return fail(cose.error());
    Bytes prefix;
    put_prefix(prefix, *cose);
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) return fail(ErrorKind::io, reason::io, "cannot create " + path + ": " + std::strerror(errno));
    bool ok = std::fwrite(prefix.data(), 1, prefix.size(), f) == prefix.size();
    std::vector<std::uint8_t> buf;
    buf.reserve(4096 * kRecordSize);
    for (std::size_t i = 0; ok && i < sorted.size(); ++i) {
        std::uint8_t rec[kRecordSize];
        encode_record(sorted[i], rec);
        buf.insert(buf.end(), rec, rec + kRecordSize);
        if (buf.size() >= 4096 * kRecordSize || i + 1 == sorted.size()) {
            ok = std::fwrite(buf.data(), 1, buf.size(), f) == buf.size();
            buf.clear();
        }
    }
    ok = (std::fclose(f) == 0) && ok;
    if (!ok) {
        std::remove(path.c_str());
        return fail(ErrorKind::io, reason::io, "cannot write " + path);
    }
    return {};
}

struct EntriesDigest::Impl : Sha {};
EntriesDigest::EntriesDigest() : impl_(std::make_unique<Impl>()) {}
EntriesDigest::~EntriesDigest() = default;
void EntriesDigest::update(ByteView records) { impl_->update(records.data(), records.size()); }
crypto::Sha256 EntriesDigest::finish() { return impl_->finish(); }

Result<Bytes> signed_prefix(const ListHeader& h, const crypto::PrivateKey& key, ByteView kid) {
    CP_TRY(check_reasons(h.reasons));
    auto cose = pass::cose_sign1_sign(encode_header(h), key, kid);
    if (!cose) return fail(cose.error());
    if (cose->size() > kMaxHeaderBytes) return bad("signed header too large");
    Bytes out;
    put_prefix(out, *cose);
    return out;
}

// ---- sources

Result<std::size_t> MemorySource::read(std::uint8_t* out, std::size_t n) {
    std::size_t k = std::min(n, data_.size() - pos_);
    if (k == 0) return k;  // an empty view may have a null data pointer
    std::memcpy(out, data_.data() + pos_, k);
    pos_ += k;
    return k;
}

Result<std::unique_ptr<FileSource>> FileSource::open(const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) return fail(ErrorKind::io, reason::io, "cannot open " + path + ": " + std::strerror(errno));
    return std::unique_ptr<FileSource>(new FileSource(f));
}
FileSource::~FileSource() { std::fclose(f_); }
Result<std::size_t> FileSource::read(std::uint8_t* out, std::size_t n) {
    std::size_t k = std::fread(out, 1, n, f_);
    if (k == 0 && std::ferror(f_)) return fail(ErrorKind::io, reason::io, "read error");
    return k;
}

// ---- reading

struct ListReader::Hash : Sha {};

ListReader::ListReader(ByteSource& src, ListHeader h, Bytes kid)
    : src_(src), header_(std::move(h)), kid_(std::move(kid)), hash_(std::make_unique<Hash>()) {}
ListReader::~ListReader() = default;

Result<std::unique_ptr<ListReader>> ListReader::open(ByteSource& src, const crypto::TrustStore& trust) {
    std::uint8_t prefix[sizeof kMagic + 4];
    auto got = read_full(src, prefix, sizeof prefix);
    if (!got) return fail(got.error());
    if (*got != sizeof prefix || std::memcmp(prefix, kMagic, sizeof kMagic) != 0) return bad("not a status list file (magic)");
    std::uint32_t len = get_u32(prefix + sizeof kMagic);
    if (len == 0 || len > kMaxHeaderBytes) return bad("signed header length out of range");
    Bytes cose(len);
    got = read_full(src, cose.data(), len);
    if (!got) return fail(got.error());
    if (*got != len) return bad("truncated signed header");

    auto msg = pass::parse_cose_sign1(cose);
    if (!msg) return fail(msg.error());
    auto v = pass::verify_cose_sign1(*msg, trust, pass::HeaderRules::strict);
    if (v.state != pass::SignatureState::valid) return fail(v.error().with_context("status list signature"));
    auto h = decode_header(msg->payload);
    if (!h) return fail(h.error());
    return std::unique_ptr<ListReader>(new ListReader(src, std::move(h).value(), v.kid));
}

Result<std::size_t> ListReader::next(std::span<ListEntry> out) {
    if (done_) return std::size_t{0};
    if (out.empty()) return fail(ErrorKind::internal, reason::list_format, "next() needs room for one entry");
    const std::uint64_t left = header_.entry_count - read_;
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(left, out.size()));
    if (want == 0) {
        // End: nothing may follow, and the digest must match what was signed.
        std::uint8_t extra;
        auto more = read_full(src_, &extra, 1);
        if (!more) return fail(more.error());
        if (*more != 0) return bad("bytes after the last entry");
        if (hash_->finish() != header_.entries_sha256)
            return fail(ErrorKind::rejected, reason::list_digest, "entries do not match the signed digest");
        done_ = true;
        return std::size_t{0};
    }
    buf_.resize(want * kRecordSize);
    auto got = read_full(src_, buf_.data(), buf_.size());
    if (!got) return fail(got.error());
    if (*got != buf_.size()) return bad("truncated: fewer entries than the header says");
    hash_->update(buf_.data(), buf_.size());
    for (std::size_t i = 0; i < want; ++i) {
        auto e = decode_record(buf_.data() + i * kRecordSize, header_);
        if (!e) return fail(e.error());
        if (have_prev_ && !(prev_ < e->id)) return bad("entries not strictly sorted by id");
        prev_ = e->id;
        have_prev_ = true;
        out[i] = *e;
    }
    read_ += want;
    return want;
}

}  // namespace cp::status
