// SQLite backend of StatusList.
//
// Layout: one database file (rollback journal, never WAL: a full import renames
// a new file over the old one, and a stale -wal beside it would be replayed into
// the new file). Tables: entries (WITHOUT ROWID, keyed by the 16-byte id, so a
// lookup is one B-tree descent), reasons (index → text), meta (key → value).
//
// Full import: stream + verify into <path>.new with journaling off (the file is
// private until renamed), fsync, rename over <path>, fsync the folder. Readers
// holding the old file keep reading the old inode until they re-open, so every
// answer comes from one list. Delta: one transaction on <path>; rollback journal
// keeps it atomic, also across a power loss.
#include "src/status/store.hpp"
#include "src/status/reason.hpp"

#include "src/common/log.hpp"
#include "src/common/sqlite_stmt.hpp"
#include "src/common/time.hpp"
#include "src/status/list_format.hpp"
#include "src/status/version_floor.hpp"

#include <sqlite3.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <mutex>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>
#include <vector>

namespace cp::status {
namespace {

constexpr const char* kCat = "status";
constexpr std::size_t kChunk = 4096;  // entries per read: 88 KiB of buffer

using sqlite::Stmt;

struct Db {
    sqlite3* h = nullptr;
    Db() = default;
    ~Db() { sqlite3_close(h); }
    Db(const Db&) = delete;
    Db& operator=(const Db&) = delete;
};

int exec(sqlite3* db, const char* sql) { return sqlite3_exec(db, sql, nullptr, nullptr, nullptr); }

Failure db_fail(sqlite3* db, int rc, Reason why, const std::string& what) {
    if (rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB) return fail(ErrorKind::io, reason::corrupt, what + ": " + sqlite3_errstr(rc));
    return fail(ErrorKind::io, why, what + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
}

std::string col_text(sqlite3_stmt* s, int i) {
    const unsigned char* t = sqlite3_column_text(s, i);
    return t ? std::string(reinterpret_cast<const char*>(t), static_cast<std::size_t>(sqlite3_column_bytes(s, i))) : "";
}

struct FileId {
    dev_t dev = 0;
    ino_t ino = 0;
    std::int64_t mtime_ns = 0;
    off_t size = 0;
    bool operator==(const FileId&) const = default;
};

std::optional<FileId> file_id(const std::string& path) {
    struct stat st{};
    if (::stat(path.c_str(), &st) != 0) return std::nullopt;
    return FileId{st.st_dev, st.st_ino, static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec,
                  st.st_size};
}

Status fsync_path(const std::string& path, bool dir) {
    int fd = ::open(path.c_str(), (dir ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
    if (fd < 0) return fail(ErrorKind::io, reason::status_write, "open for fsync " + path + ": " + std::strerror(errno));
    int rc = ::fsync(fd);
    ::close(fd);
    if (rc != 0) return fail(ErrorKind::io, reason::status_write, "fsync " + path + ": " + std::strerror(errno));
    return {};
}

// Reads meta + reasons of an open database. Errors "corrupt" when the tables are missing.
Result<ListInfo> read_meta(sqlite3* db, std::vector<std::string>* reasons) {
    ListInfo info;
    Stmt q(db, "SELECT key, value FROM meta");
    if (!q) return db_fail(db, SQLITE_CORRUPT, reason::status_read, "no meta table");
    int rc;
    int seen = 0;
    while ((rc = sqlite3_step(q.get())) == SQLITE_ROW) {
        std::string k = col_text(q.get(), 0);
        if (k == "version") { info.version = sqlite3_column_int64(q.get(), 1); ++seen; }
        else if (k == "created_at") { info.created_at = sqlite3_column_int64(q.get(), 1); ++seen; }
        else if (k == "imported_at") info.imported_at = sqlite3_column_int64(q.get(), 1);
        else if (k == "signer_kid") info.signer_kid = col_text(q.get(), 1);
        else if (k == "entries") info.entries = sqlite3_column_int64(q.get(), 1);
        else if (k == "issuer") info.issuer = col_text(q.get(), 1);
    }
    if (rc != SQLITE_DONE) return db_fail(db, rc, reason::status_read, "meta");
    if (seen != 2) return fail(ErrorKind::io, reason::corrupt, "meta without version/created_at");
    if (reasons) {
        reasons->clear();
        Stmt r(db, "SELECT idx, text FROM reasons ORDER BY idx");
        if (!r) return db_fail(db, SQLITE_CORRUPT, reason::status_read, "no reasons table");
        while ((rc = sqlite3_step(r.get())) == SQLITE_ROW) {
            auto idx = static_cast<std::size_t>(sqlite3_column_int64(r.get(), 0));
            if (idx > 1'000'000) return fail(ErrorKind::io, reason::corrupt, "reason index");
            if (reasons->size() <= idx) reasons->resize(idx + 1);
            (*reasons)[idx] = col_text(r.get(), 1);
        }
        if (rc != SQLITE_DONE) return db_fail(db, rc, reason::status_read, "reasons");
    }
    return info;
}

Status set_meta(sqlite3* db, const ListInfo& info) {
    Stmt s(db, "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)");
    if (!s) return db_fail(db, sqlite3_errcode(db), reason::status_write, "meta");
    auto put_int = [&](const char* k, std::int64_t v) {
        sqlite3_bind_text(s.get(), 1, k, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s.get(), 2, v);
        int rc = sqlite3_step(s.get());
        sqlite3_reset(s.get());
        return rc;
    };
    auto put_text = [&](const char* k, const std::string& v) {
        sqlite3_bind_text(s.get(), 1, k, -1, SQLITE_STATIC);
        sqlite3_bind_text(s.get(), 2, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
        int rc = sqlite3_step(s.get());
        sqlite3_reset(s.get());
        return rc;
    };
    for (int rc : {put_int("version", info.version), put_int("created_at", info.created_at),
                   put_int("imported_at", info.imported_at), put_text("signer_kid", info.signer_kid),
                   put_int("entries", info.entries), put_text("issuer", info.issuer)}) {
        if (rc != SQLITE_DONE) return db_fail(db, rc, reason::status_write, "meta");
    }
    return {};
}

// One open connection to one installed list file.
struct Snapshot {
    Db db;
    Stmt lookup;
    std::vector<std::string> reasons;
    ListInfo info;
    FileId id;
};

Result<std::unique_ptr<Snapshot>> open_snapshot(const std::string& path, std::int64_t cache_kib) {
    auto snap = std::make_unique<Snapshot>();
    auto fid = file_id(path);
    if (!fid) return fail(ErrorKind::io, reason::status_open, "missing " + path);
    snap->id = *fid;
    int rc = sqlite3_open_v2(path.c_str(), &snap->db.h, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) return db_fail(snap->db.h, rc, reason::status_open, "open " + path);
    // A delta commits in place; wait for its short exclusive lock instead of failing a lookup.
    sqlite3_busy_timeout(snap->db.h, 2000);
    // Bounded cache and no mmap: mapped pages would count towards the daemon's RSS.
    std::string pragmas = "PRAGMA cache_size=-" + std::to_string(cache_kib) + "; PRAGMA mmap_size=0;";
    exec(snap->db.h, pragmas.c_str());
    auto info = read_meta(snap->db.h, &snap->reasons);
    if (!info) return fail(info.error());
    snap->info = *info;
    snap->lookup = Stmt(snap->db.h, "SELECT status, reason, since FROM entries WHERE id = ?");
    if (!snap->lookup) return db_fail(snap->db.h, SQLITE_CORRUPT, reason::status_open, "entries table");
    return snap;
}

// Exclusive lock across processes for the duration of an import or delta.
class FileLock {
public:
    explicit FileLock(const std::string& path) {
        fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd_ >= 0 && ::flock(fd_, LOCK_EX) != 0) {
            ::close(fd_);
            fd_ = -1;
        }
    }
    ~FileLock() {
        if (fd_ >= 0) ::close(fd_);
    }
    FileLock(const FileLock&) = delete;
    FileLock& operator=(const FileLock&) = delete;
    bool ok() const { return fd_ >= 0; }

private:
    int fd_ = -1;
};

class SqliteStatusList final : public StatusList {
public:
    SqliteStatusList(std::string path, StoreOptions opts) : path_(std::move(path)), opts_(opts) {}

    Status init() {
        if (!file_id(path_)) {
            if (!opts_.create) return fail(ErrorKind::io, reason::status_open, "missing " + path_);
            return {};
        }
        auto s = open_snapshot(path_, opts_.cache_kib);
        if (!s) {
            // A damaged list must not stop the daemon or block the next import:
            // answer "no list" (YELLOW) and let a good list replace the file.
            if (!s.error().is(reason::corrupt)) return fail(s.error());
            log::error(kCat, "status database unreadable; no list until a new one is imported",
                       {{"path", path_}, {"detail", s.error().message}});
            return {};
        }
        snap_ = std::move(s).value();
        return {};
    }

    Result<std::optional<Entry>> lookup(const pass::PassId& id) override {
        std::lock_guard lock(mu_);
        if (!snap_) return std::optional<Entry>{};
        sqlite3_stmt* s = snap_->lookup.get();
        sqlite3_bind_blob(s, 1, id.data(), static_cast<int>(id.size()), SQLITE_STATIC);
        int rc = sqlite3_step(s);
        std::optional<Entry> out;
        if (rc == SQLITE_ROW) {
            Entry e;
            int st = sqlite3_column_int(s, 0);
            e.status = st == 0 ? PassStatus::green : st == 2 ? PassStatus::red : PassStatus::yellow;
            auto idx = static_cast<std::size_t>(sqlite3_column_int64(s, 1));
            if (idx < snap_->reasons.size()) e.reason = snap_->reasons[idx];
            e.since = sqlite3_column_int64(s, 2);
            out = std::move(e);
            rc = SQLITE_DONE;
        }
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
        if (rc != SQLITE_DONE) return db_fail(snap_->db.h, rc, reason::status_read, "lookup");
        return out;
    }

    std::optional<ListInfo> info() override {
        std::lock_guard lock(mu_);
        if (!snap_) return std::nullopt;
        return snap_->info;
    }

    Result<ListInfo> import_file(const std::string& file, const crypto::TrustStore& trust, ImportOptions o) override {
        auto src = FileSource::open(file);
        if (!src) return fail(src.error());
        return install_full(**src, trust, o);
    }

    Result<ListInfo> import_bytes(ByteView data, const crypto::TrustStore& trust, ImportOptions o) override {
        MemorySource src(data);
        return install_full(src, trust, o);
    }

    Result<ListInfo> apply_delta(ByteView data, const crypto::TrustStore& trust, ImportOptions o) override;

    Result<bool> reload_if_changed() override {
        auto fid = file_id(path_);
        {
            std::lock_guard lock(mu_);
            if (!fid && !snap_) return false;
            if (fid && snap_ && *fid == snap_->id) return false;
        }
        if (!fid) return false;  // the file went away: keep answering from what we have
        auto s = open_snapshot(path_, opts_.cache_kib);
        if (!s) return fail(s.error());
        std::lock_guard lock(mu_);
        snap_ = std::move(s).value();
        log::info(kCat, "reloaded", {{"version", std::to_string(snap_->info.version)}});
        return true;
    }

private:
    // The version on disk right now (another process may have installed one).
    Result<std::optional<ListInfo>> disk_info() {
        if (!file_id(path_)) return std::optional<ListInfo>{};
        Db db;
        int rc = sqlite3_open_v2(path_.c_str(), &db.h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
        if (rc != SQLITE_OK) return db_fail(db.h, rc, reason::status_open, "open " + path_);
        sqlite3_busy_timeout(db.h, 5000);
        // Reading also rolls back a hot journal left by a delta interrupted by a
        // power loss, before a rename could orphan that journal next to a new file.
        auto info = read_meta(db.h, nullptr);
        if (!info) return fail(info.error());
        return std::optional<ListInfo>(*info);
    }

    Result<ListInfo> install_full(ByteSource& src, const crypto::TrustStore& trust, ImportOptions o);

    std::string path_;
    StoreOptions opts_;
    std::mutex mu_;         // snap_ and its statement
    std::mutex import_mu_;  // one import/delta at a time in this process
    std::unique_ptr<Snapshot> snap_;
};

Result<ListInfo> SqliteStatusList::install_full(ByteSource& src, const crypto::TrustStore& trust, ImportOptions o) {
    std::lock_guard imp(import_mu_);
    FileLock flock_(path_ + ".lock");
    if (!flock_.ok()) return fail(ErrorKind::io, reason::status_write, "cannot lock " + path_ + ".lock");

    auto reader = ListReader::open(src, trust);
    if (!reader) return fail(reader.error());
    const ListHeader& h = (*reader)->header();
    if (h.kind != ListKind::full) return fail(ErrorKind::rejected, reason::list_kind, "a delta is not a full list");
    const std::string floor_path = list_floor_path(path_);
    auto current = disk_info();
    if (!current) {
        // An unreadable database must not lock the device out of every future list.
        if (!current.error().is(reason::corrupt)) return fail(current.error());
        log::warn(kCat, "active list unreadable; replacing it", {{"detail", current.error().message}});
    } else if (*current && h.version <= (*current)->version && !o.reset_version_floor) {
        return fail(ErrorKind::rejected, reason::list_version,
                    "version " + std::to_string(h.version) + " is not newer than the active " +
                        std::to_string((*current)->version));
    }
    // The floor outlives the database: a missing or corrupt status.db does not
    // let an older list in. Checked now (before streaming) and raised below.
    if (!o.reset_version_floor) {
        auto floor = read_version_floor(floor_path);
        if (!floor) return fail(floor.error());
        if (h.version < *floor)
            return fail(ErrorKind::rejected, reason::list_version,
                        "version " + std::to_string(h.version) + " is older than version " +
                            std::to_string(*floor) + " installed before");
    }

    const std::string tmp = path_ + ".new";
    std::filesystem::remove(tmp);
    auto cleanup = [&](Failure f) {
        std::error_code ec;
        std::filesystem::remove(tmp, ec);
        std::filesystem::remove(tmp + "-journal", ec);
        log::warn(kCat, "list refused", {{"reason", f.error.reason}, {"detail", f.error.message}});
        return f;
    };
    ListInfo info;
    {
        Db db;
        int rc = sqlite3_open_v2(tmp.c_str(), &db.h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
        if (rc != SQLITE_OK) return cleanup(db_fail(db.h, rc, reason::status_write, "create " + tmp));
        // The file is private until renamed: no journal, no syncs while building;
        // one fsync before the rename makes it durable. Bounded cache: sorted
        // inserts only touch the rightmost path of the B-tree.
        std::string pragmas = "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-" +
                              std::to_string(opts_.cache_kib) + "; PRAGMA mmap_size=0;";
        if (exec(db.h, pragmas.c_str()) != SQLITE_OK ||
            exec(db.h,
                 "CREATE TABLE entries (id BLOB PRIMARY KEY NOT NULL, status INTEGER NOT NULL,"
                 " reason INTEGER NOT NULL, since INTEGER NOT NULL) WITHOUT ROWID;"
                 "CREATE TABLE reasons (idx INTEGER PRIMARY KEY, text TEXT NOT NULL);"
                 "CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value) WITHOUT ROWID;"
                 "BEGIN;") != SQLITE_OK) {
            return cleanup(db_fail(db.h, sqlite3_errcode(db.h), reason::status_write, "schema"));
        }
        {
            Stmt rs(db.h, "INSERT INTO reasons (idx, text) VALUES (?, ?)");
            for (std::size_t i = 0; i < h.reasons.size(); ++i) {
                sqlite3_bind_int64(rs.get(), 1, static_cast<sqlite3_int64>(i));
                sqlite3_bind_text(rs.get(), 2, h.reasons[i].data(), static_cast<int>(h.reasons[i].size()), SQLITE_STATIC);
                if (sqlite3_step(rs.get()) != SQLITE_DONE) return cleanup(db_fail(db.h, sqlite3_errcode(db.h), reason::status_write, "reasons"));
                sqlite3_reset(rs.get());
            }
        }
        Stmt ins(db.h, "INSERT INTO entries (id, status, reason, since) VALUES (?, ?, ?, ?)");
        if (!ins) return cleanup(db_fail(db.h, sqlite3_errcode(db.h), reason::status_write, "prepare"));
        std::vector<ListEntry> chunk(kChunk);
        for (;;) {
            auto n = (*reader)->next(chunk);
            if (!n) return cleanup(fail(n.error()));
            if (*n == 0) break;
            for (std::size_t i = 0; i < *n; ++i) {
                const ListEntry& e = chunk[i];
                sqlite3_stmt* s = ins.get();
                sqlite3_bind_blob(s, 1, e.id.data(), 16, SQLITE_STATIC);
                sqlite3_bind_int(s, 2, static_cast<int>(e.op));
                sqlite3_bind_int(s, 3, e.reason);
                sqlite3_bind_int64(s, 4, e.since);
                rc = sqlite3_step(s);
                sqlite3_reset(s);
                if (rc != SQLITE_DONE) return cleanup(db_fail(db.h, rc, reason::status_write, "insert"));
            }
        }
        // Only now, with the digest verified, do the entries count as the list.
        info.version = h.version;
        info.created_at = h.created_at;
        info.imported_at = o.now_s ? o.now_s : wall_now_ms() / 1000;
        info.signer_kid = to_hex((*reader)->signer_kid());
        info.entries = static_cast<std::int64_t>(h.entry_count);
        info.issuer = h.issuer;
        if (auto m = set_meta(db.h, info); !m.ok()) return cleanup(fail(m.error()));
        if (exec(db.h, "COMMIT; PRAGMA journal_mode=DELETE;") != SQLITE_OK)
            return cleanup(db_fail(db.h, sqlite3_errcode(db.h), reason::status_write, "commit"));
    }
    if (auto s = fsync_path(tmp, false); !s.ok()) return cleanup(fail(s.error()));
    // Floor first: a power loss between the two leaves the floor ahead of the
    // database, which still admits this same version again.
    if (o.reset_version_floor) {
        if (auto s = reset_version_floor(floor_path, info.version, "list import with reset_version_floor"); !s.ok())
            return cleanup(fail(s.error()));
    } else if (auto s = admit_version(floor_path, info.version, reason::list_version, reason::list_format); !s.ok()) {
        return cleanup(fail(s.error()));
    }
    if (::rename(tmp.c_str(), path_.c_str()) != 0)
        return cleanup(fail(ErrorKind::io, reason::status_write, std::string("rename: ") + std::strerror(errno)));
    std::string dir = std::filesystem::path(path_).parent_path().string();
    (void)fsync_path(dir.empty() ? "." : dir, true);  // best effort: some file systems refuse a dir fsync

    auto snap = open_snapshot(path_, opts_.cache_kib);
    if (!snap) return fail(snap.error());
    {
        std::lock_guard lock(mu_);
        snap_ = std::move(snap).value();
    }
    log::info(kCat, "list installed", {{"version", std::to_string(info.version)},
                                       {"entries", std::to_string(info.entries)}, {"kid", info.signer_kid}});
    return info;
}

Result<ListInfo> SqliteStatusList::apply_delta(ByteView data, const crypto::TrustStore& trust, ImportOptions o) {
    std::lock_guard imp(import_mu_);
    FileLock flock_(path_ + ".lock");
    if (!flock_.ok()) return fail(ErrorKind::io, reason::status_write, "cannot lock " + path_ + ".lock");

    MemorySource src(data);
    auto reader = ListReader::open(src, trust);
    if (!reader) return fail(reader.error());
    const ListHeader& h = (*reader)->header();
    if (h.kind != ListKind::delta) return fail(ErrorKind::rejected, reason::list_kind, "a full list is not a delta");
    auto current = disk_info();
    if (!current) return fail(current.error());
    if (!*current) return fail(ErrorKind::rejected, reason::list_base, "no list installed to apply a delta to");
    if ((*current)->version != h.base_version) {
        return fail(ErrorKind::rejected, (*current)->version >= h.version ? reason::list_version : reason::list_base,
                    "delta " + std::to_string(h.base_version) + "→" + std::to_string(h.version) +
                        " does not apply to active version " + std::to_string((*current)->version));
    }
    const std::string floor_path = list_floor_path(path_);
    {
        auto floor = read_version_floor(floor_path);
        if (!floor) return fail(floor.error());
        if (h.version < *floor)
            return fail(ErrorKind::rejected, reason::list_version,
                        "delta to version " + std::to_string(h.version) + " is older than version " +
                            std::to_string(*floor) + " installed before");
    }

    Db db;
    int rc = sqlite3_open_v2(path_.c_str(), &db.h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) return db_fail(db.h, rc, reason::status_write, "open");
    sqlite3_busy_timeout(db.h, 5000);
    std::string pragmas = "PRAGMA journal_mode=DELETE; PRAGMA synchronous=FULL; PRAGMA cache_size=-" +
                          std::to_string(opts_.cache_kib) + ";";
    if (exec(db.h, pragmas.c_str()) != SQLITE_OK || exec(db.h, "BEGIN IMMEDIATE") != SQLITE_OK)
        return db_fail(db.h, sqlite3_errcode(db.h), reason::status_write, "begin");
    auto rollback = [&](Failure f) {
        exec(db.h, "ROLLBACK");
        log::warn(kCat, "delta refused", {{"reason", f.error.reason}, {"detail", f.error.message}});
        return f;
    };

    // Map the delta's reason table onto the database's (texts are the identity).
    std::vector<std::int64_t> reason_map;
    {
        Stmt find(db.h, "SELECT idx FROM reasons WHERE text = ?");
        Stmt add(db.h, "INSERT INTO reasons (idx, text) VALUES ((SELECT coalesce(max(idx), -1) + 1 FROM reasons), ?)");
        for (const auto& r : h.reasons) {
            sqlite3_bind_text(find.get(), 1, r.data(), static_cast<int>(r.size()), SQLITE_STATIC);
            if (sqlite3_step(find.get()) == SQLITE_ROW) {
                reason_map.push_back(sqlite3_column_int64(find.get(), 0));
            } else {
                sqlite3_bind_text(add.get(), 1, r.data(), static_cast<int>(r.size()), SQLITE_STATIC);
                if (sqlite3_step(add.get()) != SQLITE_DONE) return rollback(db_fail(db.h, sqlite3_errcode(db.h), reason::status_write, "reasons"));
                sqlite3_reset(add.get());
                reason_map.push_back(sqlite3_last_insert_rowid(db.h));
            }
            sqlite3_reset(find.get());
        }
        if (reason_map.empty()) reason_map.push_back(0);
    }

    Stmt exists(db.h, "SELECT 1 FROM entries WHERE id = ?");
    Stmt upsert(db.h, "INSERT OR REPLACE INTO entries (id, status, reason, since) VALUES (?, ?, ?, ?)");
    Stmt del(db.h, "DELETE FROM entries WHERE id = ?");
    if (!exists || !upsert || !del) return rollback(db_fail(db.h, sqlite3_errcode(db.h), reason::status_write, "prepare"));
    std::int64_t count = (*current)->entries;
    std::vector<ListEntry> chunk(kChunk);
    for (;;) {
        auto n = (*reader)->next(chunk);
        if (!n) return rollback(fail(n.error()));
        if (*n == 0) break;
        for (std::size_t i = 0; i < *n; ++i) {
            const ListEntry& e = chunk[i];
            sqlite3_bind_blob(exists.get(), 1, e.id.data(), 16, SQLITE_STATIC);
            bool had = sqlite3_step(exists.get()) == SQLITE_ROW;
            sqlite3_reset(exists.get());
            sqlite3_stmt* s = e.op == Op::remove ? del.get() : upsert.get();
            sqlite3_bind_blob(s, 1, e.id.data(), 16, SQLITE_STATIC);
            if (e.op != Op::remove) {
                sqlite3_bind_int(s, 2, static_cast<int>(e.op));
                sqlite3_bind_int64(s, 3, reason_map[e.reason]);
                sqlite3_bind_int64(s, 4, e.since);
                if (!had) ++count;
            } else if (had) {
                --count;
            }
            rc = sqlite3_step(s);
            sqlite3_reset(s);
            if (rc != SQLITE_DONE) return rollback(db_fail(db.h, rc, reason::status_write, "apply"));
        }
    }
    ListInfo info = **current;
    info.version = h.version;
    info.created_at = h.created_at;
    info.imported_at = o.now_s ? o.now_s : wall_now_ms() / 1000;
    info.signer_kid = to_hex((*reader)->signer_kid());
    info.entries = count;
    if (!h.issuer.empty()) info.issuer = h.issuer;
    if (auto m = set_meta(db.h, info); !m.ok()) return rollback(fail(m.error()));

    // Commit and re-read under the lookup lock: no lookup sees new entries with
    // the old reason table or metadata.
    if (auto fs = admit_version(floor_path, info.version, reason::list_version, reason::list_format); !fs.ok()) return rollback(fail(fs.error()));
    std::lock_guard lock(mu_);
    if (int crc = exec(db.h, "COMMIT"); crc != SQLITE_OK) return rollback(db_fail(db.h, crc, reason::status_write, "commit"));
    auto snap = open_snapshot(path_, opts_.cache_kib);
    if (!snap) return fail(snap.error());
    snap_ = std::move(snap).value();
    log::info(kCat, "delta applied", {{"from", std::to_string(h.base_version)}, {"to", std::to_string(h.version)}});
    return info;
}

}  // namespace

const char* to_string(PassStatus s) noexcept {
    switch (s) {
    case PassStatus::green: return "green";
    case PassStatus::yellow: return "yellow";
    case PassStatus::red: return "red";
    }
    return "yellow";
}

Result<std::unique_ptr<StatusList>> open_sqlite_status_list(const std::string& path, StoreOptions opts) {
    auto s = std::make_unique<SqliteStatusList>(path, opts);
    CP_TRY(s->init());
    return std::unique_ptr<StatusList>(std::move(s));
}

}  // namespace cp::status
