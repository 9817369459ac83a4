#include "src/journal/journal.hpp"

#include "src/common/log.hpp"
#include "src/common/sqlite_stmt.hpp"
#include "src/common/time.hpp"

#include <nlohmann/json.hpp>
#include <sqlite3.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <limits>
#include <random>
#include <utility>

namespace cp::journal {
namespace {

constexpr const char* kCat = "journal";
constexpr std::size_t kMaxText = 64;  // bytes per text field: codes and ids, never prose

using sqlite::Stmt;

// Resets on scope exit so a statement never holds a read transaction open.
struct Reset {
    sqlite3_stmt* s;
    ~Reset() {
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
    }
};

Failure db_error(sqlite3* db, int rc, Reason otherwise, const std::string& what) {
    if (rc == SQLITE_FULL) return fail(ErrorKind::io, reason::disk_full, what + ": " + sqlite3_errstr(rc));
    if (rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB) return fail(ErrorKind::io, reason::corrupt, what + ": " + sqlite3_errstr(rc));
    return fail(ErrorKind::io, otherwise, what + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
}

int exec(sqlite3* db, const char* sql) { return sqlite3_exec(db, sql, nullptr, nullptr, nullptr); }

void bind_text(sqlite3_stmt* s, int i, const std::string& v) {
    if (v.empty()) sqlite3_bind_null(s, i);
    else sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}

// A row's columns from scan_id to direction, at parameters first .. first + 14
// (the scans table and the carried table list them in the same order).
void bind_row(sqlite3_stmt* s, int first, const ScanRecord& r) {
    bind_text(s, first, r.scan_id);
    bind_text(s, first + 1, to_string(r.type));
    if (r.ref_seq) sqlite3_bind_int64(s, first + 2, *r.ref_seq);
    sqlite3_bind_int64(s, first + 3, r.wall_ms);
    sqlite3_bind_int64(s, first + 4, r.mono_ms);
    bind_text(s, first + 5, r.pass_id);
    bind_text(s, first + 6, r.format);
    bind_text(s, first + 7, r.kind);
    bind_text(s, first + 8, r.verdict);
    bind_text(s, first + 9, r.reason);
    if (r.temperature_c) sqlite3_bind_double(s, first + 10, *r.temperature_c);
    bind_text(s, first + 11, r.lane);
    bind_text(s, first + 12, r.device_id);
    bind_text(s, first + 13, r.plate);
    bind_text(s, first + 14, r.direction);
}

std::string col_text(sqlite3_stmt* s, int i) {
    const unsigned char* t = sqlite3_column_text(s, i);
    return t ? std::string(reinterpret_cast<const char*>(t), static_cast<std::size_t>(sqlite3_column_bytes(s, i)))
             : std::string();
}

bool is_hex32(const std::string& s) {
    if (s.size() != 32) return false;
    for (char c : s) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}

constexpr const char* kColumns =
    "seq, scan_id, type, ref_seq, wall_ms, mono_ms, pass_id, format, kind, verdict, reason, "
    "temperature_c, lane, device_id, plate, direction, uploaded";
constexpr std::size_t kMaxScanId = 128;  // device id (64) + epoch + seq

std::string make_scan_id(const std::string& device, std::int64_t epoch, std::int64_t seq) {
    // Epoch 0 is a journal from before epochs: its ids keep the old form.
    if (epoch == 0) return device + "-" + std::to_string(seq);
    return device + "-" + std::to_string(epoch) + "-" + std::to_string(seq);
}

std::int64_t random_epoch() {
    std::random_device rd;
    const std::uint64_t v = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
    return static_cast<std::int64_t>(v % static_cast<std::uint64_t>(kMaxEpoch)) + 1;
}

ScanRecord read_row(sqlite3_stmt* s) {
    ScanRecord r;
    r.seq = sqlite3_column_int64(s, 0);
    r.scan_id = col_text(s, 1);
    r.type = col_text(s, 2) == "manual" ? RowType::manual : RowType::scan;
    if (sqlite3_column_type(s, 3) != SQLITE_NULL) r.ref_seq = sqlite3_column_int64(s, 3);
    r.wall_ms = sqlite3_column_int64(s, 4);
    r.mono_ms = sqlite3_column_int64(s, 5);
    r.pass_id = col_text(s, 6);
    r.format = col_text(s, 7);
    r.kind = col_text(s, 8);
    r.verdict = col_text(s, 9);
    r.reason = col_text(s, 10);
    if (sqlite3_column_type(s, 11) != SQLITE_NULL) r.temperature_c = sqlite3_column_double(s, 11);
    r.lane = col_text(s, 12);
    r.device_id = col_text(s, 13);
    r.plate = col_text(s, 14);
    r.direction = col_text(s, 15);
    r.uploaded = sqlite3_column_int(s, 16) != 0;
    return r;
}

Status validate(const ScanRecord& r) {
    auto bad = [](const std::string& m) { return fail(ErrorKind::invalid_input, reason::record, m); };
    if (!r.pass_id.empty() && !is_hex32(r.pass_id)) return bad("pass_id must be 32 lower-case hex digits");
    if (r.verdict != "GREEN" && r.verdict != "YELLOW" && r.verdict != "RED") return bad("verdict must be GREEN, YELLOW or RED");
    if (r.reason.empty()) return bad("reason is empty");
    for (const std::string* f : {&r.format, &r.kind, &r.reason, &r.lane, &r.device_id, &r.plate, &r.direction}) {
        if (f->size() > kMaxText) return bad("text field longer than 64 bytes");
        for (char c : *f) {
            if (static_cast<unsigned char>(c) < 0x20) return bad("control character in a text field");
        }
    }
    if (r.temperature_c && !std::isfinite(*r.temperature_c)) return bad("temperature is not finite");
    if (r.type == RowType::manual && !r.ref_seq) return bad("manual row without ref_seq");
    if (r.type == RowType::scan && r.ref_seq) return bad("scan row with ref_seq");
    return {};
}

}  // namespace

struct ScanJournal::Statements {
    Stmt insert, find_ref, batch, batch_carried, mark_through, mark_one, mark_carried, tail, prune, count_pending,
        begin, commit, rollback;
};

const char* to_string(RowType t) noexcept { return t == RowType::manual ? "manual" : "scan"; }

ScanJournal::ScanJournal(sqlite3* db, JournalOptions opts) : db_(db), opts_(std::move(opts)) {}

ScanJournal::~ScanJournal() {
    st_.reset();  // statements before the connection
    sqlite3_close(db_);
}

Result<std::unique_ptr<ScanJournal>> ScanJournal::open(const std::string& path, JournalOptions opts) {
    sqlite3* db = nullptr;
    int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             nullptr);
    if (rc != SQLITE_OK) {
        auto f = db_error(db, rc, reason::journal_open, "open " + path);
        sqlite3_close(db);
        return f;
    }
    std::unique_ptr<ScanJournal> j(new ScanJournal(db, std::move(opts)));
    j->path_ = path;
    sqlite3_busy_timeout(db, 2000);  // a technician's reader may hold the WAL briefly

    // Durability: WAL + synchronous=FULL fsyncs the WAL on every commit, so a
    // committed row survives power loss. The journal_mode answer is checked: a
    // file system without shared memory would silently keep rollback mode.
    {
        Stmt wal(db, "PRAGMA journal_mode=WAL");
        int wrc = wal ? sqlite3_step(wal.get()) : sqlite3_errcode(db);
        if (wrc == SQLITE_NOTADB || wrc == SQLITE_CORRUPT) return db_error(db, wrc, reason::journal_open, path);
        if (wrc != SQLITE_ROW || col_text(wal.get(), 0) != "wal") {
            return fail(ErrorKind::io, reason::journal_open, "cannot enable WAL on " + path + ": " + sqlite3_errmsg(db));
        }
    }
    if (exec(db, "PRAGMA synchronous=FULL") != SQLITE_OK || exec(db, "PRAGMA foreign_keys=OFF") != SQLITE_OK ||
        exec(db, "PRAGMA cache_size=-2048") != SQLITE_OK) {
        return db_error(db, sqlite3_errcode(db), reason::journal_open, "pragmas");
    }

    if (j->opts_.integrity != IntegrityCheck::none) {
        Stmt chk(db, j->opts_.integrity == IntegrityCheck::full ? "PRAGMA integrity_check" : "PRAGMA quick_check");
        if (!chk || sqlite3_step(chk.get()) != SQLITE_ROW || col_text(chk.get(), 0) != "ok") {
            return fail(ErrorKind::io, reason::corrupt, "integrity check failed on " + path);
        }
    }

    bool existed = false;
    {
        Stmt q(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'scans'");
        if (!q || sqlite3_step(q.get()) != SQLITE_ROW) return db_error(db, sqlite3_errcode(db), reason::journal_open, "schema");
        existed = sqlite3_column_int64(q.get(), 0) > 0;
    }
    // A scan row's columns after its identity: one list for the journal's own rows
    // and the carried ones, so the two tables cannot drift apart.
#define CP_JOURNAL_ROW_COLUMNS                                                    \
    " type TEXT NOT NULL CHECK (type IN ('scan','manual')),"                      \
    " ref_seq INTEGER,"                                                           \
    " wall_ms INTEGER NOT NULL, mono_ms INTEGER NOT NULL,"                        \
    " pass_id TEXT, format TEXT, kind TEXT,"                                      \
    " verdict TEXT NOT NULL CHECK (verdict IN ('GREEN','YELLOW','RED')),"         \
    " reason TEXT NOT NULL, temperature_c REAL,"                                  \
    " lane TEXT, device_id TEXT, plate TEXT, direction TEXT,"                     \
    " uploaded INTEGER NOT NULL DEFAULT 0"
    // AUTOINCREMENT: a sequence number is never reused, even after every row was
    // pruned, so upstream never sees two scans with one scan id.
    rc = exec(db,
              "CREATE TABLE IF NOT EXISTS scans ("
              " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
              " scan_id TEXT NOT NULL UNIQUE,"
              CP_JOURNAL_ROW_COLUMNS ");"
              // The sync client reads pending rows in seq order; a partial index keeps
              // that cheap however many uploaded rows precede them.
              "CREATE INDEX IF NOT EXISTS scans_pending ON scans(seq) WHERE uploaded = 0;"
              // The journal's epoch and its loss counters.
              "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
              // Pending rows taken over from a journal moved aside, with their own
              // epoch, seq and scan id; deleted once the command centre has them.
              "CREATE TABLE IF NOT EXISTS carried ("
              " epoch INTEGER NOT NULL, seq INTEGER NOT NULL,"
              " scan_id TEXT NOT NULL,"
              CP_JOURNAL_ROW_COLUMNS ","
              " PRIMARY KEY (epoch, seq));");
    if (rc != SQLITE_OK) return db_error(db, rc, reason::journal_open, "schema");
#undef CP_JOURNAL_ROW_COLUMNS

    {
        Stmt q(db, "SELECT value FROM meta WHERE key = 'epoch'");
        if (!q) return db_error(db, sqlite3_errcode(db), reason::journal_open, "epoch");
        rc = sqlite3_step(q.get());
        if (rc == SQLITE_ROW) {
            j->epoch_ = sqlite3_column_int64(q.get(), 0);
        } else if (rc == SQLITE_DONE) {
            // A journal from before epochs keeps epoch 0 (its rows are known upstream
            // under the old ids); a new one draws its own.
            j->epoch_ = existed ? 0 : random_epoch();
            Stmt ins(db, "INSERT INTO meta (key, value) VALUES ('epoch', ?)");
            if (!ins) return db_error(db, sqlite3_errcode(db), reason::journal_open, "epoch");
            sqlite3_bind_int64(ins.get(), 1, j->epoch_);
            rc = sqlite3_step(ins.get());
            if (rc != SQLITE_DONE) return db_error(db, rc, reason::journal_open, "epoch");
        } else {
            return db_error(db, rc, reason::journal_open, "epoch");
        }
        if (j->epoch_ < 0 || j->epoch_ > kMaxEpoch) return fail(ErrorKind::io, reason::corrupt, "epoch out of range in " + path);
    }

    auto& st = j->st_;
    st = std::make_unique<Statements>();
    std::string cols = kColumns;
    st->insert = Stmt(db,
                      "INSERT INTO scans (seq, scan_id, type, ref_seq, wall_ms, mono_ms, pass_id, format, kind, "
                      "verdict, reason, temperature_c, lane, device_id, plate, direction, uploaded) "
                      "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,0)");
    st->find_ref = Stmt(db, ("SELECT " + cols + " FROM scans WHERE seq = ? AND type = 'scan'").c_str());
    st->batch = Stmt(db, ("SELECT " + cols + " FROM scans WHERE uploaded = 0 ORDER BY seq LIMIT ?").c_str());
    st->batch_carried = Stmt(db, ("SELECT " + cols + ", epoch FROM carried WHERE uploaded = 0 AND epoch = "
                                  "(SELECT min(epoch) FROM carried WHERE uploaded = 0) ORDER BY seq LIMIT ?").c_str());
    st->mark_carried = Stmt(db, "DELETE FROM carried WHERE epoch = ? AND seq = ?");
    st->mark_through = Stmt(db, "UPDATE scans SET uploaded = 1 WHERE uploaded = 0 AND seq <= ?");
    st->mark_one = Stmt(db, "UPDATE scans SET uploaded = 1 WHERE uploaded = 0 AND seq = ?");
    st->tail = Stmt(db, ("SELECT * FROM (SELECT " + cols + " FROM scans ORDER BY seq DESC LIMIT ?) ORDER BY seq").c_str());
    st->prune = Stmt(db,
                     "DELETE FROM scans WHERE seq IN "
                     "(SELECT seq FROM scans WHERE uploaded = 1 ORDER BY seq LIMIT ?)");
    st->count_pending = Stmt(db, "SELECT (SELECT count(*) FROM scans WHERE uploaded = 0) +"
                                 " (SELECT count(*) FROM carried WHERE uploaded = 0)");
    st->begin = Stmt(db, "BEGIN IMMEDIATE");
    st->commit = Stmt(db, "COMMIT");
    st->rollback = Stmt(db, "ROLLBACK");
    for (const Stmt* s : {&st->insert, &st->find_ref, &st->batch, &st->batch_carried, &st->mark_through,
                          &st->mark_one, &st->mark_carried, &st->tail, &st->prune, &st->count_pending, &st->begin,
                          &st->commit, &st->rollback}) {
        if (!*s) return db_error(db, sqlite3_errcode(db), reason::journal_open, "prepare");
    }

    {
        // The sequence continues from the highest ever used (sqlite_sequence
        // remembers it even when the table is empty).
        Stmt q(db, "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name='scans'),0),"
                   " coalesce((SELECT max(seq) FROM scans),0)), (SELECT count(*) FROM scans)");
        if (!q || sqlite3_step(q.get()) != SQLITE_ROW) return db_error(db, sqlite3_errcode(db), reason::journal_open, "sequence");
        j->last_seq_ = sqlite3_column_int64(q.get(), 0);
        j->rows_ = sqlite3_column_int64(q.get(), 1);
    }
    log::info(kCat, "opened", {{"path", path}, {"rows", std::to_string(j->rows_)},
                               {"last_seq", std::to_string(j->last_seq_)}, {"epoch", std::to_string(j->epoch_)}});
    return j;
}

Status ScanJournal::check_disk_locked() const {
    if (opts_.disk_floor_bytes <= 0) return {};
    struct statvfs vfs{};
    std::string dir = std::filesystem::path(path_).parent_path().string();
    if (dir.empty()) dir = ".";
    if (::statvfs(dir.c_str(), &vfs) != 0) return {};  // cannot tell: let SQLite report SQLITE_FULL
    auto free_bytes = static_cast<std::int64_t>(vfs.f_bavail) * static_cast<std::int64_t>(vfs.f_frsize);
    if (free_bytes < opts_.disk_floor_bytes) {
        return fail(ErrorKind::io, reason::disk_full,
                    "free " + std::to_string(free_bytes) + " B below floor " + std::to_string(opts_.disk_floor_bytes) + " B");
    }
    return {};
}

Result<ScanRecord> ScanJournal::append(ScanRecord record) {
    std::lock_guard lock(mu_);
    return append_locked(std::move(record));
}

Result<ScanRecord> ScanJournal::append_manual(std::int64_t ref_seq, const std::string& verdict,
                                              const std::string& reason) {
    std::lock_guard lock(mu_);
    sqlite3_stmt* s = st_->find_ref.get();
    ScanRecord ref;
    {
        Reset reset{s};
        sqlite3_bind_int64(s, 1, ref_seq);
        int rc = sqlite3_step(s);
        if (rc == SQLITE_DONE) return fail(ErrorKind::not_found, reason::ref, "no scan with seq " + std::to_string(ref_seq));
        if (rc != SQLITE_ROW) return db_error(db_, rc, reason::journal_write, "find ref");
        ref = read_row(s);
        ref.epoch = epoch_;
    }
    ScanRecord m = ref;
    m.type = RowType::manual;
    m.ref_seq = ref_seq;
    m.verdict = verdict;
    m.reason = reason;
    m.wall_ms = 0;
    m.mono_ms = 0;
    m.temperature_c.reset();
    m.device_id = opts_.device_id;
    return append_locked(std::move(m));
}

Result<ScanRecord> ScanJournal::append_locked(ScanRecord r) {
    CP_TRY(validate(r));
    CP_TRY(check_disk_locked());
    if (r.wall_ms == 0) r.wall_ms = wall_now_ms();
    if (r.mono_ms == 0) r.mono_ms = monotonic_now_ms();
    r.seq = last_seq_ + 1;
    r.epoch = epoch_;
    r.scan_id = make_scan_id(opts_.device_id, epoch_, r.seq);
    r.uploaded = false;

    int rc = sqlite3_step(st_->begin.get());
    sqlite3_reset(st_->begin.get());
    if (rc != SQLITE_DONE) return db_error(db_, rc, reason::journal_write, "begin");

    sqlite3_stmt* s = st_->insert.get();
    {
        Reset reset{s};
        sqlite3_bind_int64(s, 1, r.seq);
        bind_row(s, 2, r);
        rc = sqlite3_step(s);
    }
    if (rc == SQLITE_DONE) {
        rc = sqlite3_step(st_->commit.get());
        sqlite3_reset(st_->commit.get());
    }
    if (rc != SQLITE_DONE) {
        auto err = db_error(db_, rc, reason::journal_write, "append");
        if (!sqlite3_get_autocommit(db_)) {
            sqlite3_step(st_->rollback.get());
            sqlite3_reset(st_->rollback.get());
        }
        log::error(kCat, "append failed", {{"reason", err.error.reason}, {"detail", err.error.message}});
        return err;
    }
    last_seq_ = r.seq;
    ++rows_;

    // Pruning is housekeeping: the row above is already committed, so a failure
    // here is logged and retried on the next append, never reported as a lost scan.
    // Row count is tracked in memory; byte size is only looked at every 64
    // appends (three pragmas are cheap but not free).
    if (opts_.prune_in_append) {
        if (auto p = prune_locked(last_seq_ % 64 == 0, std::numeric_limits<std::int64_t>::max()); !p.ok()) {
            log::warn(kCat, "prune failed", {{"detail", p.error().message}});
        }
    }
    return r;
}

Status ScanJournal::prune(std::int64_t max_delete) {
    std::lock_guard lock(mu_);
    return prune_locked(true, std::max<std::int64_t>(max_delete, 1));
}

Status ScanJournal::prune_locked(bool check_bytes, std::int64_t max_delete) {
    auto pages = [&](const char* pragma) -> std::int64_t {
        Stmt q(db_, pragma);
        return q && sqlite3_step(q.get()) == SQLITE_ROW ? sqlite3_column_int64(q.get(), 0) : 0;
    };
    auto used_bytes = [&] {
        return (pages("PRAGMA page_count") - pages("PRAGMA freelist_count")) * pages("PRAGMA page_size");
    };
    bool over_rows = rows_ > opts_.max_rows;
    bool over_bytes = check_bytes && used_bytes() > opts_.max_bytes;
    if (!over_rows && !over_bytes) return {};

    // Down to 90 % of the limit, so pruning runs once per many appends, not each.
    std::int64_t want = over_rows ? rows_ - opts_.max_rows * 9 / 10 : std::max<std::int64_t>(rows_ / 10, 1);
    want = std::min(want, max_delete);
    sqlite3_stmt* s = st_->prune.get();
    int rc;
    {
        Reset reset{s};
        sqlite3_bind_int64(s, 1, want);
        rc = sqlite3_step(s);
    }
    if (rc != SQLITE_DONE) return db_error(db_, rc, reason::journal_write, "prune");
    auto removed = static_cast<std::int64_t>(sqlite3_changes(db_));
    rows_ -= removed;
    if (removed > 0) log::info(kCat, "pruned uploaded rows", {{"rows", std::to_string(removed)}});
    return {};
}

Result<std::vector<ScanRecord>> ScanJournal::next_batch(std::size_t n) {
    std::lock_guard lock(mu_);
    std::vector<ScanRecord> out;
    const auto limit = static_cast<sqlite3_int64>(std::min<std::size_t>(n, 100000));
    int rc;
    {
        sqlite3_stmt* s = st_->batch_carried.get();
        Reset reset{s};
        sqlite3_bind_int64(s, 1, limit);
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
            out.push_back(read_row(s));
            out.back().epoch = sqlite3_column_int64(s, 17);
        }
        if (rc != SQLITE_DONE) return db_error(db_, rc, reason::journal_read, "next_batch");
    }
    if (!out.empty()) return out;
    sqlite3_stmt* s = st_->batch.get();
    Reset reset{s};
    sqlite3_bind_int64(s, 1, limit);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        out.push_back(read_row(s));
        out.back().epoch = epoch_;
    }
    if (rc != SQLITE_DONE) return db_error(db_, rc, reason::journal_read, "next_batch");
    return out;
}

namespace {
// Steps `s` once per seq in one transaction (`bind` binds the seq and whatever
// else `s` takes); the rows changed, or a rollback and the error.
Result<std::int64_t> step_each_seq(sqlite3* db, sqlite3_stmt* s, const std::vector<std::int64_t>& seqs,
                                   const std::function<void(std::int64_t)>& bind, const char* what) {
    if (exec(db, "BEGIN IMMEDIATE") != SQLITE_OK) return db_error(db, sqlite3_errcode(db), reason::journal_write, "begin");
    std::int64_t changed = 0;
    for (auto seq : seqs) {
        Reset reset{s};
        bind(seq);
        int rc = sqlite3_step(s);
        if (rc != SQLITE_DONE) {
            exec(db, "ROLLBACK");
            return db_error(db, rc, reason::journal_write, what);
        }
        changed += sqlite3_changes(db);
    }
    if (int rc = exec(db, "COMMIT"); rc != SQLITE_OK) {
        exec(db, "ROLLBACK");
        return db_error(db, rc, reason::journal_write, "commit");
    }
    return changed;
}
}  // namespace

Result<std::int64_t> ScanJournal::mark_carried_uploaded(std::int64_t epoch, const std::vector<std::int64_t>& seqs) {
    std::lock_guard lock(mu_);
    sqlite3_stmt* s = st_->mark_carried.get();
    return step_each_seq(db_, s, seqs, [&](std::int64_t seq) {
        sqlite3_bind_int64(s, 1, epoch);
        sqlite3_bind_int64(s, 2, seq);
    }, "mark_carried");
}

Status ScanJournal::carry(const std::vector<ScanRecord>& rows, Losses lost) {
    for (const auto& r : rows) {
        CP_TRY(validate(r));
        if (r.epoch == epoch_ || r.epoch < 0 || r.epoch > kMaxEpoch)
            return fail(ErrorKind::invalid_input, reason::record, "carried row with this journal's epoch");
        if (r.seq < 1 || r.scan_id.empty() || r.scan_id.size() > kMaxScanId)
            return fail(ErrorKind::invalid_input, reason::record, "carried row without seq or scan id");
        for (char c : r.scan_id) {
            if (static_cast<unsigned char>(c) <= 0x20) return fail(ErrorKind::invalid_input, reason::record, "scan id");
        }
    }
    std::lock_guard lock(mu_);
    if (exec(db_, "BEGIN IMMEDIATE") != SQLITE_OK) return db_error(db_, sqlite3_errcode(db_), reason::journal_write, "begin");
    auto abort = [&](int rc, const char* what) {
        exec(db_, "ROLLBACK");
        return db_error(db_, rc, reason::journal_write, what);
    };
    Stmt ins(db_, "INSERT OR IGNORE INTO carried (epoch, seq, scan_id, type, ref_seq, wall_ms, mono_ms, pass_id, "
                  "format, kind, verdict, reason, temperature_c, lane, device_id, plate, direction, uploaded) "
                  "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,0)");
    if (!ins) return abort(sqlite3_errcode(db_), "carry");
    for (const auto& r : rows) {
        sqlite3_stmt* s = ins.get();
        Reset reset{s};
        sqlite3_bind_int64(s, 1, r.epoch);
        sqlite3_bind_int64(s, 2, r.seq);
        bind_row(s, 3, r);
        if (int rc = sqlite3_step(s); rc != SQLITE_DONE) return abort(rc, "carry");
    }
    Stmt add(db_, "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = value + excluded.value");
    if (!add) return abort(sqlite3_errcode(db_), "losses");
    for (auto [key, v] : {std::pair<const char*, std::int64_t>{"lost_rows", lost.rows}, {"lost_journals", lost.journals}}) {
        Reset reset{add.get()};
        sqlite3_bind_text(add.get(), 1, key, -1, SQLITE_STATIC);
        sqlite3_bind_int64(add.get(), 2, std::max<std::int64_t>(v, 0));
        if (int rc = sqlite3_step(add.get()); rc != SQLITE_DONE) return abort(rc, "losses");
    }
    if (int rc = exec(db_, "COMMIT"); rc != SQLITE_OK) return abort(rc, "commit");
    return {};
}

Result<Losses> ScanJournal::losses() {
    std::lock_guard lock(mu_);
    Stmt q(db_, "SELECT coalesce((SELECT value FROM meta WHERE key = 'lost_rows'), 0),"
                " coalesce((SELECT value FROM meta WHERE key = 'lost_journals'), 0)");
    if (!q || sqlite3_step(q.get()) != SQLITE_ROW) return db_error(db_, sqlite3_errcode(db_), reason::journal_read, "losses");
    return Losses{sqlite3_column_int64(q.get(), 0), sqlite3_column_int64(q.get(), 1)};
}

Result<std::int64_t> ScanJournal::mark_uploaded_through(std::int64_t up_to) {
    std::lock_guard lock(mu_);
    sqlite3_stmt* s = st_->mark_through.get();
    Reset reset{s};
    sqlite3_bind_int64(s, 1, up_to);
    int rc = sqlite3_step(s);
    if (rc != SQLITE_DONE) return db_error(db_, rc, reason::journal_write, "mark_uploaded");
    return static_cast<std::int64_t>(sqlite3_changes(db_));
}

Result<std::int64_t> ScanJournal::mark_uploaded(const std::vector<std::int64_t>& seqs) {
    std::lock_guard lock(mu_);
    sqlite3_stmt* s = st_->mark_one.get();
    return step_each_seq(db_, s, seqs, [s](std::int64_t seq) { sqlite3_bind_int64(s, 1, seq); }, "mark_uploaded");
}

Result<std::vector<ScanRecord>> ScanJournal::tail(std::size_t n) {
    std::lock_guard lock(mu_);
    std::vector<ScanRecord> out;
    sqlite3_stmt* s = st_->tail.get();
    Reset reset{s};
    sqlite3_bind_int64(s, 1, static_cast<sqlite3_int64>(std::min<std::size_t>(n, 100000)));
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        out.push_back(read_row(s));
        out.back().epoch = epoch_;
    }
    if (rc != SQLITE_DONE) return db_error(db_, rc, reason::journal_read, "tail");
    return out;
}

Result<ScanJournal::Stats> ScanJournal::stats() {
    std::lock_guard lock(mu_);
    Stats st;
    st.rows = rows_;
    st.last_seq = last_seq_;
    sqlite3_stmt* s = st_->count_pending.get();
    {
        Reset reset{s};
        if (sqlite3_step(s) != SQLITE_ROW) return db_error(db_, sqlite3_errcode(db_), reason::journal_read, "stats");
        st.pending = sqlite3_column_int64(s, 0);
    }
    Stmt pc(db_, "SELECT (SELECT page_count FROM pragma_page_count()) - (SELECT freelist_count FROM pragma_freelist_count()),"
                 " (SELECT page_size FROM pragma_page_size())");
    if (pc && sqlite3_step(pc.get()) == SQLITE_ROW) {
        st.bytes_used = sqlite3_column_int64(pc.get(), 0) * sqlite3_column_int64(pc.get(), 1);
    }
    return st;
}

Result<Backlog> read_backlog(const std::string& path) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) return fail(ErrorKind::not_found, reason::journal_missing, "no journal at " + path);
    sqlite3* db = nullptr;
    int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
    struct Close {
        sqlite3* db;
        ~Close() { sqlite3_close(db); }
    } close{db};
    if (rc != SQLITE_OK) return db_error(db, rc, reason::journal_read, "open " + path);
    sqlite3_busy_timeout(db, 2000);  // the daemon's commit holds the WAL briefly
    Backlog b;
    {
        Stmt q(db, "SELECT (SELECT count(*) FROM scans), (SELECT count(*) FROM scans WHERE uploaded = 0),"
                   " coalesce((SELECT max(seq) FROM scans), 0),"
                   " (SELECT min(wall_ms) FROM scans WHERE uploaded = 0)");
        if (!q) return db_error(db, sqlite3_errcode(db), reason::journal_read, path + " is not a scan journal");
        rc = sqlite3_step(q.get());
        if (rc != SQLITE_ROW) return db_error(db, rc, reason::journal_read, "read " + path);
        b.rows = sqlite3_column_int64(q.get(), 0);
        b.pending = sqlite3_column_int64(q.get(), 1);
        b.last_seq = sqlite3_column_int64(q.get(), 2);
        if (sqlite3_column_type(q.get(), 3) != SQLITE_NULL) b.oldest_pending_wall_ms = sqlite3_column_int64(q.get(), 3);
    }
    {
        // Rows carried over from a journal moved aside (absent in older journals).
        Stmt q(db, "SELECT count(*) FROM carried WHERE uploaded = 0");
        if (q && sqlite3_step(q.get()) == SQLITE_ROW) b.pending += sqlite3_column_int64(q.get(), 0);
    }
    return b;
}

Salvage salvage_pending(const std::string& path) {
    Salvage out;
    auto lost_journal = [&](const std::string& why) {
        out.lost.journals = 1;
        log::error(kCat, "moved-aside journal not fully readable", {{"path", path}, {"detail", why}});
        return out;
    };
    sqlite3* db = nullptr;
    int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
    struct Close {
        sqlite3** db;
        ~Close() { sqlite3_close(*db); }
    } close{&db};
    if (rc != SQLITE_OK) return lost_journal(sqlite3_errstr(rc));
    {
        Stmt q(db, "SELECT value FROM meta WHERE key = 'epoch'");
        if (q) {
            rc = sqlite3_step(q.get());
            if (rc == SQLITE_ROW) out.epoch = sqlite3_column_int64(q.get(), 0);
            else if (rc != SQLITE_DONE) return lost_journal(std::string("epoch: ") + sqlite3_errmsg(db));
        } else if (std::string(sqlite3_errmsg(db)).find("no such table") == std::string::npos) {
            return lost_journal(std::string("epoch: ") + sqlite3_errmsg(db));
        }  // no meta table: a journal from before epochs, epoch 0
    }
    if (out.epoch < 0 || out.epoch > kMaxEpoch) return lost_journal("epoch out of range");
    std::optional<std::int64_t> expected;
    {
        Stmt q(db, "SELECT count(*) FROM scans NOT INDEXED WHERE uploaded = 0");
        if (q && sqlite3_step(q.get()) == SQLITE_ROW) expected = sqlite3_column_int64(q.get(), 0);
    }
    // The table itself, not the pending index (which may be what is damaged).
    bool stopped = false;
    {
        Stmt q(db, (std::string("SELECT ") + kColumns + " FROM scans NOT INDEXED WHERE uploaded = 0 ORDER BY seq").c_str());
        if (!q) return lost_journal(std::string("scans: ") + sqlite3_errmsg(db));
        while ((rc = sqlite3_step(q.get())) == SQLITE_ROW) {
            out.rows.push_back(read_row(q.get()));
            out.rows.back().epoch = out.epoch;
        }
        stopped = rc != SQLITE_DONE;
    }
    const auto scans_read = static_cast<std::int64_t>(out.rows.size());
    {
        // Rows it had carried itself from an earlier reset.
        Stmt q(db, (std::string("SELECT ") + kColumns + ", epoch FROM carried WHERE uploaded = 0 ORDER BY epoch, seq").c_str());
        if (q) {
            while ((rc = sqlite3_step(q.get())) == SQLITE_ROW) {
                out.rows.push_back(read_row(q.get()));
                out.rows.back().epoch = sqlite3_column_int64(q.get(), 17);
            }
            stopped = stopped || rc != SQLITE_DONE;
        }
    }
    // Rows that fail validation (a damaged page can read as garbage) are lost, not uploaded.
    const std::size_t before = out.rows.size();
    out.rows.erase(std::remove_if(out.rows.begin(), out.rows.end(),
                                  [](const ScanRecord& r) { return !validate(r).ok() || r.seq < 1 || r.scan_id.empty(); }),
                   out.rows.end());
    const auto read = static_cast<std::int64_t>(out.rows.size());
    const auto invalid = static_cast<std::int64_t>(before - out.rows.size());
    out.lost.rows = invalid + (expected && *expected > scans_read ? *expected - scans_read : 0);
    if (stopped || !expected || out.lost.rows > 0) out.lost.journals = 1;
    log::warn(kCat, "moved-aside journal read", {{"path", path}, {"epoch", std::to_string(out.epoch)},
                                                 {"pending_read", std::to_string(read)},
                                                 {"lost_rows", std::to_string(out.lost.rows)},
                                                 {"complete", out.lost.journals ? "no" : "yes"}});
    return out;
}

std::string to_json(const ScanRecord& r) {
    nlohmann::ordered_json j;
    j["seq"] = r.seq;
    j["scan_id"] = r.scan_id;
    j["type"] = to_string(r.type);
    if (r.ref_seq) j["ref_seq"] = *r.ref_seq;
    j["time"] = format_iso8601(r.wall_ms / 1000);
    j["wall_ms"] = r.wall_ms;
    j["mono_ms"] = r.mono_ms;
    j["pass_id"] = r.pass_id;
    j["format"] = r.format;
    j["kind"] = r.kind;
    j["verdict"] = r.verdict;
    j["reason"] = r.reason;
    if (r.temperature_c) j["temperature_c"] = *r.temperature_c;
    else j["temperature_c"] = nullptr;
    j["lane"] = r.lane;
    j["device_id"] = r.device_id;
    if (!r.plate.empty()) j["plate"] = r.plate;
    if (!r.direction.empty()) j["direction"] = r.direction;
    j["uploaded"] = r.uploaded;
    // Invalid UTF-8 in a text field must not throw out of a technician's command.
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace cp::journal
