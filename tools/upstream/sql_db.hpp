// The SQL connection both upstream stores (devices and scans: sql_store.cpp; the
// console: console/sqlite_console_store.cpp) are written against, with two backends:
// SQLite (sqlite_db.cpp, the embedded default) and PostgreSQL (pg_db.cpp, libpq).
//
// Statements are written once in the subset both dialects share: numbered
// parameters ?1..?N (the PostgreSQL backend sends them as $1..$N, typed by the bind:
// bigint, text, bytea, double precision), INSERT ... ON CONFLICT, RETURNING, CASE
// instead of boolean arithmetic. The few places that differ ask dialect().
// Schema changes are numbered migrations (sql_migrations.hpp) with a per-dialect
// variant where the DDL differs.
//
// A connection is not thread-safe: each store keeps one behind its mutex.
#pragma once

#include "src/common/bytes.hpp"
#include "src/common/result.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

namespace cp::upstream {

namespace sql_reason {
inline constexpr Reason sqlite{"sqlite"};
inline constexpr Reason sqlite_open{"sqlite-open"};
inline constexpr Reason sqlite_schema{"sqlite-schema"};
inline constexpr Reason postgresql{"postgresql"};
inline constexpr Reason postgresql_open{"postgresql-open"};
inline constexpr Reason postgresql_schema{"postgresql-schema"};
inline constexpr Reason store_url{"store-url"};
inline constexpr Reason publish_busy{"publish-busy"};
inline constexpr Reason blob_io{"blob-io"};  // internal: incremental blob writes on a store that has none
}  // namespace sql_reason

enum class Dialect { sqlite, postgresql };

// One prepared statement of a backend.
class SqlQuery {
public:
    virtual ~SqlQuery() = default;
    virtual void bind_i64(int i, std::int64_t v) = 0;
    virtual void bind_text(int i, std::string_view v) = 0;
    virtual void bind_blob(int i, const Bytes& v) = 0;  // empty: a zero-length value, not NULL
    virtual void bind_real(int i, std::optional<double> v) = 0;
    // true: a row is ready; false: done. Errors: io "sqlite" / "postgresql".
    virtual Result<bool> step() = 0;
    // Ready to bind and step again; bindings and an error of the last use are forgotten.
    virtual void reset() = 0;
    virtual std::int64_t i64(int c) = 0;  // NULL: 0; a boolean: 0 or 1
    virtual std::string text(int c) = 0;
    virtual Bytes blob(int c) = 0;
    virtual bool is_null(int c) = 0;
    virtual std::optional<double> real_or_null(int c) = 0;
};

class SqlDb {
public:
    virtual ~SqlDb() = default;
    virtual Dialect dialect() const = 0;
    // Runs one or more statements without parameters.
    virtual Status exec(std::string_view sql) = 0;
    virtual std::unique_ptr<SqlQuery> prepare(std::string_view sql) = 0;
    // Rows inserted, updated or deleted by the last statement.
    virtual std::int64_t changes() = 0;
    // SQLite: overwrites the zero-filled blob in `column` of row `rowid` of `table`
    // with the file at `path` (of the blob's size), a buffer at a time (incremental
    // blob I/O), so a file of hundreds of MB is never whole in memory. Errors: io
    // "read", io "sqlite"; internal "blob-io" on a backend without it.
    virtual Status write_blob_from_file(std::string_view table, std::string_view column, std::int64_t rowid,
                                        const std::string& path);

    // SQLite: BEGIN IMMEDIATE (the write lock at once, no upgrade deadlock).
    Status begin() { return exec(dialect() == Dialect::sqlite ? "BEGIN IMMEDIATE" : "BEGIN"); }

    // Runs `body` in one transaction; rolls back when it fails.
    template <typename F>
    auto transaction(F&& body) -> decltype(body()) {
        CP_TRY(begin());
        auto r = body();
        if (!r.ok()) {
            (void)exec("ROLLBACK");
            return r;
        }
        auto c = exec("COMMIT");
        if (!c.ok()) {
            (void)exec("ROLLBACK");
            return fail(c.error());
        }
        return r;
    }
};

// A statement with typed, chainable binds (the stores' everyday handle).
class Stmt {
public:
    Stmt(SqlDb* db, std::string_view sql) : q_(db->prepare(sql)) {}
    Stmt(const Stmt&) = delete;
    Stmt& operator=(const Stmt&) = delete;

    Stmt& bind(int i, std::int64_t v) { return q_->bind_i64(i, v), *this; }
    Stmt& bind(int i, std::string_view v) { return q_->bind_text(i, v), *this; }
    Stmt& bind(int i, const std::string& v) { return bind(i, std::string_view(v)); }
    Stmt& bind(int i, const char* v) { return bind(i, std::string_view(v)); }
    Stmt& bind(int i, const Bytes& v) { return q_->bind_blob(i, v), *this; }
    Stmt& bind(int i, std::optional<double> v) { return q_->bind_real(i, v), *this; }
    Result<bool> step() { return q_->step(); }
    Status run() {
        auto r = step();
        if (!r) return fail(r.error());
        return {};
    }
    void reset() { q_->reset(); }
    std::int64_t i64(int c) { return q_->i64(c); }
    std::string text(int c) { return q_->text(c); }
    Bytes blob(int c) { return q_->blob(c); }
    bool is_null(int c) { return q_->is_null(c); }
    std::optional<double> real_or_null(int c) { return q_->real_or_null(c); }
    // Reads columns first, first + 1, ... into `out...`, each by its type:
    //   r.read(0, v.version, v.published_at, v.snapshot);
    template <class... T>
    void read(int first, T&... out) {
        int c = first;
        (read_one(c++, out), ...);
    }

private:
    void read_one(int c, std::int64_t& v) { v = i64(c); }
    void read_one(int c, bool& v) { v = i64(c) != 0; }
    void read_one(int c, std::string& v) { v = text(c); }
    void read_one(int c, Bytes& v) { v = blob(c); }

    std::unique_ptr<SqlQuery> q_;
};

// Reads every row of `s` with `f(Stmt&)`; when `f` returns a Status, its first
// failure stops the walk and is returned.
template <typename F>
Status each_row(Stmt& s, F&& f) {
    for (;;) {
        auto row = s.step();
        if (!row) return fail(row.error());
        if (!*row) return {};
        if constexpr (std::is_void_v<decltype(f(s))>) {
            f(s);
        } else {
            CP_TRY(f(s));
        }
    }
}

// Steps `s` once: no value when the query has no row, else `read(Stmt&)` of it.
template <typename F>
auto optional_row(Stmt& s, F&& read) -> Result<std::optional<decltype(read(s))>> {
    using Row = decltype(read(s));
    auto row = s.step();
    if (!row) return fail(row.error());
    if (!*row) return std::optional<Row>();
    return std::optional<Row>(read(s));
}

// The first column of the first row as an integer (count(*), max(...)).
inline Result<std::int64_t> scalar_i64(Stmt& s) {
    auto row = s.step();
    if (!row) return fail(row.error());
    return s.i64(0);
}

// Opens (creating if missing when `create`) a SQLite file: WAL, synchronous=FULL,
// foreign keys on, a busy timeout. Errors: io "sqlite-open".
Result<std::unique_ptr<SqlDb>> open_sqlite_db(const std::string& path, bool create);

// Connects to PostgreSQL: `url` is a libpq connection URI ("postgresql://…",
// "postgresql:///db?host=/run/postgresql"). Errors: io "postgresql-open", and
// config "postgresql-open" in a build without libpq.
Result<std::unique_ptr<SqlDb>> open_pg_db(const std::string& url);

// True when `db` names a PostgreSQL database (postgresql:// or postgres://).
bool is_pg_url(std::string_view db);

// The synchronous PRAGMA of a SQLite connection (2: FULL). Errors: invalid_input
// "store" for PostgreSQL.
Result<int> sqlite_synchronous(SqlDb& db);

}  // namespace cp::upstream
