// The prepared statement both SQLite stores of the upstream use (the device
// store, sqlite_store.cpp, and the console's, console/sqlite_console_store.cpp):
// RAII, typed binds, errors surfacing through step() as io/"sqlite".
#pragma once

#include "src/common/bytes.hpp"
#include "src/common/result.hpp"

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cp::upstream {

// RAII prepared statement with typed binds; errors surface through step().
class Stmt {
public:
    Stmt(sqlite3* db, std::string_view sql) : db_(db) {
        rc_ = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &s_, nullptr);
    }
    ~Stmt() { sqlite3_finalize(s_); }
    Stmt(const Stmt&) = delete;
    Stmt& operator=(const Stmt&) = delete;

    Stmt& bind(int i, std::int64_t v) {
        if (rc_ == SQLITE_OK) rc_ = sqlite3_bind_int64(s_, i, v);
        return *this;
    }
    Stmt& bind(int i, std::string_view v) {
        if (rc_ == SQLITE_OK)
            rc_ = sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
        return *this;
    }
    Stmt& bind(int i, const std::string& v) { return bind(i, std::string_view(v)); }
    Stmt& bind(int i, const char* v) { return bind(i, std::string_view(v)); }
    Stmt& bind(int i, const Bytes& v) {
        // An empty vector has no data pointer, which SQLite would store as NULL.
        if (rc_ == SQLITE_OK)
            rc_ = v.empty() ? sqlite3_bind_zeroblob(s_, i, 0)
                            : sqlite3_bind_blob(s_, i, v.data(), static_cast<int>(v.size()),
                                                SQLITE_TRANSIENT);
        return *this;
    }
    Stmt& bind(int i, std::optional<double> v) {
        if (rc_ == SQLITE_OK) rc_ = v ? sqlite3_bind_double(s_, i, *v) : sqlite3_bind_null(s_, i);
        return *this;
    }
    // true: a row is ready; false: done. Errors: io "sqlite".
    Result<bool> step() {
        if (rc_ != SQLITE_OK) return error();
        int rc = sqlite3_step(s_);
        if (rc == SQLITE_ROW) return true;
        if (rc == SQLITE_DONE) return false;
        rc_ = rc;
        return error();
    }
    Status run() {
        auto r = step();
        if (!r) return fail(r.error());
        return {};
    }
    // Ready to bind and step again; an error of the last use is forgotten.
    void reset() {
        sqlite3_reset(s_);
        sqlite3_clear_bindings(s_);
        if (rc_ != SQLITE_OK && s_) rc_ = SQLITE_OK;
    }
    std::int64_t i64(int c) { return sqlite3_column_int64(s_, c); }
    std::string text(int c) {
        const auto* p = sqlite3_column_text(s_, c);
        return p ? std::string(reinterpret_cast<const char*>(p),
                               static_cast<std::size_t>(sqlite3_column_bytes(s_, c)))
                 : std::string();
    }
    Bytes blob(int c) {
        const auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(s_, c));
        auto n = static_cast<std::size_t>(sqlite3_column_bytes(s_, c));
        return p ? Bytes(p, p + n) : Bytes();
    }
    bool is_null(int c) { return sqlite3_column_type(s_, c) == SQLITE_NULL; }
    std::optional<double> real_or_null(int c) {
        if (sqlite3_column_type(s_, c) == SQLITE_NULL) return std::nullopt;
        return sqlite3_column_double(s_, c);
    }

private:
    Failure error() const {
        return fail(ErrorKind::io, "sqlite", std::string(sqlite3_errstr(rc_)) + ": " +
                                                 sqlite3_errmsg(db_));
    }
    sqlite3* db_;
    sqlite3_stmt* s_ = nullptr;
    int rc_ = SQLITE_OK;
};

// One statement or script on `db`. Errors: io "sqlite".
inline Status sqlite_exec(sqlite3* db, const char* sql) {
    char* msg = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
        std::string m = msg ? msg : "?";
        sqlite3_free(msg);
        return fail(ErrorKind::io, "sqlite", m);
    }
    return {};
}

// body() inside BEGIN IMMEDIATE ... COMMIT; rolled back when it fails.
template <typename F>
auto sqlite_transaction(sqlite3* db, F&& body) -> decltype(body()) {
    CP_TRY(sqlite_exec(db, "BEGIN IMMEDIATE"));
    auto r = body();
    if (!r.ok() || !sqlite_exec(db, "COMMIT").ok()) {
        (void)sqlite_exec(db, "ROLLBACK");
        if (r.ok()) return fail(ErrorKind::io, "sqlite", "commit failed");
    }
    return r;
}

// Reads every row of `s` with `f(Stmt&)`.
template <typename F>
Status for_each_row(Stmt& s, F&& f) {
    for (;;) {
        auto row = s.step();
        if (!row) return fail(row.error());
        if (!*row) return {};
        f(s);
    }
}

// A read-write connection (serialized threading mode) waiting up to 5 s on locks.
// Errors: io "sqlite-open".
inline Result<sqlite3*> sqlite_open(const std::string& path) {
    sqlite3* db = nullptr;
    int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, nullptr);
    if (rc != SQLITE_OK) {
        std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
        sqlite3_close_v2(db);
        return fail(ErrorKind::io, "sqlite-open", path + ": " + msg);
    }
    sqlite3_busy_timeout(db, 5000);
    return db;
}

}  // namespace cp::upstream
