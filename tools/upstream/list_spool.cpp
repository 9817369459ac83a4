#include "tools/upstream/list_spool.hpp"
#include "tools/upstream/reasons.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace cp::upstream {

namespace fs = std::filesystem;

namespace {
constexpr std::size_t kBufRecords = 8192;

Failure io_fail(const std::string& what, const fs::path& p) {
    return fail(ErrorKind::io, reason::spool, what + " " + p.string() + ": " + std::strerror(errno));
}
}  // namespace

Result<ScratchDir> ScratchDir::create() {
    std::error_code ec;
    fs::path base = fs::temp_directory_path(ec);
    if (ec) base = "/tmp";
    std::string tmpl = (base / "cp-publish-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) return io_fail("mkdtemp", tmpl);
    ScratchDir d;
    d.path_ = tmpl;
    return d;
}
ScratchDir::ScratchDir(ScratchDir&& o) noexcept : path_(std::move(o.path_)) { o.path_.clear(); }
ScratchDir::~ScratchDir() {
    if (path_.empty()) return;
    std::error_code ec;
    fs::remove_all(path_, ec);
}

Result<RecordSpool> RecordSpool::create(fs::path path) {
    RecordSpool s;
    s.path_ = std::move(path);
    s.f_ = std::fopen(s.path_.c_str(), "w+b");
    if (!s.f_) return io_fail("create", s.path_);
    s.buf_.reserve(kBufRecords * status::kRecordSize);
    return s;
}

RecordSpool::RecordSpool(RecordSpool&& o) noexcept
    : path_(std::move(o.path_)), f_(o.f_), buf_(std::move(o.buf_)), digest_(), sha_(o.sha_), count_(o.count_),
      have_last_(o.have_last_), last_(o.last_) {
    // Only moved before the first add (create()): the digest has nothing yet.
    o.f_ = nullptr;
}

RecordSpool::~RecordSpool() {
    if (f_) std::fclose(f_);
}

Status RecordSpool::flush() {
    if (buf_.empty()) return {};
    digest_.update(ByteView(buf_.data(), buf_.size()));
    if (std::fwrite(buf_.data(), 1, buf_.size(), f_) != buf_.size()) return io_fail("write", path_);
    buf_.clear();
    return {};
}

Status RecordSpool::add(const status::ListEntry& e) {
    if (have_last_ && !(last_ < e.id))
        return fail(ErrorKind::internal, reason::order, "entries are not in strictly increasing pass-id order");
    have_last_ = true;
    last_ = e.id;
    std::uint8_t rec[status::kRecordSize];
    status::encode_record(e, rec);
    buf_.insert(buf_.end(), rec, rec + status::kRecordSize);
    ++count_;
    if (buf_.size() >= kBufRecords * status::kRecordSize) return flush();
    return {};
}

Result<crypto::Sha256> RecordSpool::finish() {
    CP_TRY(flush());
    if (std::fflush(f_) != 0) return io_fail("write", path_);
    sha_ = digest_.finish();
    return sha_;
}

status::ListEntry record_entry(const std::uint8_t* rec) {
    status::ListEntry e;
    std::memcpy(e.id.data(), rec, e.id.size());
    e.op = static_cast<status::Op>(rec[16]);
    e.reason = rec[17];
    e.since = (std::uint32_t{rec[18]} << 24) | (std::uint32_t{rec[19]} << 16) | (std::uint32_t{rec[20]} << 8) |
              std::uint32_t{rec[21]};
    return e;
}

Status RecordSpool::for_each(const std::function<Status(const status::ListEntry&)>& fn) const {
    if (std::fseek(f_, 0, SEEK_SET) != 0) return io_fail("seek", path_);
    std::vector<std::uint8_t> buf(kBufRecords * status::kRecordSize);
    std::uint64_t left = count_;
    while (left > 0) {
        const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(left, kBufRecords));
        if (std::fread(buf.data(), status::kRecordSize, want, f_) != want) return io_fail("read", path_);
        for (std::size_t i = 0; i < want; ++i) CP_TRY(fn(record_entry(buf.data() + i * status::kRecordSize)));
        left -= want;
    }
    return {};
}

Result<std::int64_t> RecordSpool::write_signed(status::ListHeader h, const crypto::PrivateKey& key, ByteView kid,
                                               const fs::path& out) const {
    h.entry_count = count_;
    h.entries_sha256 = sha_;
    auto prefix = status::signed_prefix(h, key, kid);
    if (!prefix) return fail(prefix.error());
    std::FILE* o = std::fopen(out.c_str(), "wb");
    if (!o) return io_fail("create", out);
    bool ok = std::fwrite(prefix->data(), 1, prefix->size(), o) == prefix->size();
    ok = ok && std::fseek(f_, 0, SEEK_SET) == 0;
    std::vector<std::uint8_t> buf(kBufRecords * status::kRecordSize);
    std::uint64_t left = count_ * status::kRecordSize;
    while (ok && left > 0) {
        const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(left, buf.size()));
        ok = std::fread(buf.data(), 1, want, f_) == want && std::fwrite(buf.data(), 1, want, o) == want;
        left -= want;
    }
    ok = std::fclose(o) == 0 && ok;
    if (!ok) return io_fail("write", out);
    return static_cast<std::int64_t>(prefix->size() + count_ * status::kRecordSize);
}

}  // namespace cp::upstream
