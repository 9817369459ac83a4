// SQLite backend of SqlDb (sql_db.hpp): the embedded default store, one file, WAL.
#include "tools/upstream/sql_db.hpp"
#include "tools/upstream/reasons.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <vector>

namespace cp::upstream {
namespace {

class SqliteQuery final : public SqlQuery {
public:
    SqliteQuery(sqlite3* db, std::string_view sql) : db_(db) {
        rc_ = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &s_, nullptr);
    }
    ~SqliteQuery() override { sqlite3_finalize(s_); }

    void bind_i64(int i, std::int64_t v) override {
        if (rc_ == SQLITE_OK) rc_ = sqlite3_bind_int64(s_, i, v);
    }
    void bind_text(int i, std::string_view v) override {
        if (rc_ == SQLITE_OK)
            rc_ = sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    }
    void bind_blob(int i, const Bytes& v) override {
        // An empty vector has no data pointer, which SQLite would store as NULL.
        if (rc_ == SQLITE_OK)
            rc_ = v.empty() ? sqlite3_bind_zeroblob(s_, i, 0)
                            : sqlite3_bind_blob(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    }
    void bind_real(int i, std::optional<double> v) override {
        if (rc_ == SQLITE_OK) rc_ = v ? sqlite3_bind_double(s_, i, *v) : sqlite3_bind_null(s_, i);
    }
    Result<bool> step() override {
        if (rc_ != SQLITE_OK) return error();
        int rc = sqlite3_step(s_);
        if (rc == SQLITE_ROW) return true;
        if (rc == SQLITE_DONE) return false;
        rc_ = rc;
        return error();
    }
    void reset() override {
        sqlite3_reset(s_);
        sqlite3_clear_bindings(s_);
        if (rc_ != SQLITE_OK && s_) rc_ = SQLITE_OK;
    }
    std::int64_t i64(int c) override { return sqlite3_column_int64(s_, c); }
    std::string text(int c) override {
        const auto* p = sqlite3_column_text(s_, c);
        return p ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(s_, c)))
                 : std::string();
    }
    Bytes blob(int c) override {
        const auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(s_, c));
        auto n = static_cast<std::size_t>(sqlite3_column_bytes(s_, c));
        return p ? Bytes(p, p + n) : Bytes();
    }
    bool is_null(int c) override { return sqlite3_column_type(s_, c) == SQLITE_NULL; }
    std::optional<double> real_or_null(int c) override {
        if (sqlite3_column_type(s_, c) == SQLITE_NULL) return std::nullopt;
        return sqlite3_column_double(s_, c);
    }

private:
    Failure error() const {
        return fail(ErrorKind::io, sql_reason::sqlite, std::string(sqlite3_errstr(rc_)) + ": " + sqlite3_errmsg(db_));
    }
    sqlite3* db_;
    sqlite3_stmt* s_ = nullptr;
    int rc_ = SQLITE_OK;
};

class SqliteDb final : public SqlDb {
public:
    explicit SqliteDb(sqlite3* db) : db_(db) {}
    ~SqliteDb() override { sqlite3_close_v2(db_); }
    SqliteDb(const SqliteDb&) = delete;
    SqliteDb& operator=(const SqliteDb&) = delete;

    Dialect dialect() const override { return Dialect::sqlite; }
    Status exec(std::string_view sql) override {
        char* msg = nullptr;
        const std::string s(sql);
        if (sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &msg) != SQLITE_OK) {
            std::string m = msg ? msg : "?";
            sqlite3_free(msg);
            return fail(ErrorKind::io, sql_reason::sqlite, m);
        }
        return {};
    }
    std::unique_ptr<SqlQuery> prepare(std::string_view sql) override {
        return std::make_unique<SqliteQuery>(db_, sql);
    }
    std::int64_t changes() override { return sqlite3_changes(db_); }
    Status write_blob_from_file(std::string_view table, std::string_view column, std::int64_t rowid,
                                const std::string& path) override {
        sqlite3_blob* b = nullptr;
        if (sqlite3_blob_open(db_, "main", std::string(table).c_str(), std::string(column).c_str(), rowid, 1, &b) !=
            SQLITE_OK) {
            sqlite3_blob_close(b);
            return fail(ErrorKind::io, sql_reason::sqlite, std::string("blob open: ") + sqlite3_errmsg(db_));
        }
        std::unique_ptr<sqlite3_blob, int (*)(sqlite3_blob*)> closer(b, &sqlite3_blob_close);
        std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
        if (!f) return fail(ErrorKind::io, reason::read, "cannot open " + path);
        const int size = sqlite3_blob_bytes(b);
        std::vector<char> buf(1 << 20);
        int at = 0;
        while (at < size) {
            const int n = static_cast<int>(std::fread(buf.data(), 1, std::min<std::size_t>(buf.size(), static_cast<std::size_t>(size - at)), f.get()));
            if (n <= 0) return fail(ErrorKind::io, reason::read, "cannot read " + path);
            if (sqlite3_blob_write(b, buf.data(), n, at) != SQLITE_OK)
                return fail(ErrorKind::io, sql_reason::sqlite, std::string("blob write: ") + sqlite3_errmsg(db_));
            at += n;
        }
        if (std::fgetc(f.get()) != EOF) return fail(ErrorKind::io, reason::read, path + " is longer than its blob");
        return {};
    }

private:
    sqlite3* db_;
};

}  // namespace

Status SqlDb::write_blob_from_file(std::string_view, std::string_view, std::int64_t, const std::string&) {
    return fail(ErrorKind::internal, sql_reason::blob_io, "incremental blob writes are SQLite's");
}

Result<int> sqlite_synchronous(SqlDb& db) {
    if (db.dialect() != Dialect::sqlite) return fail(ErrorKind::invalid_input, reason::store, "not a SQLite store");
    Stmt s(&db, "PRAGMA synchronous");
    auto row = s.step();
    if (!row) return fail(row.error());
    if (!*row) return fail(ErrorKind::io, sql_reason::sqlite, "no PRAGMA synchronous");
    return static_cast<int>(s.i64(0));
}

// synchronous=FULL: WAL is synced at every commit, and a device is acknowledged
// only after its commit, so an acked row survives a power cut (with NORMAL the
// last commits can be lost, after the device has pruned them).
Result<std::unique_ptr<SqlDb>> open_sqlite_db(const std::string& path, bool create) {
    sqlite3* raw = nullptr;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
    int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
    if (rc != SQLITE_OK) {
        std::string msg = raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
        sqlite3_close_v2(raw);
        return fail(ErrorKind::io, sql_reason::sqlite_open, path + ": " + msg);
    }
    sqlite3_busy_timeout(raw, 5000);
    auto db = std::make_unique<SqliteDb>(raw);
    if (auto st = db->exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON"); !st)
        return fail(ErrorKind::io, sql_reason::sqlite_open, path + ": " + st.error().message);
    return std::unique_ptr<SqlDb>(std::move(db));
}

}  // namespace cp::upstream
