// A prepared SQLite statement owned by RAII, shared by the modules that keep
// SQLite files (journal, status list). Header-only: cp_common does not link
// SQLite; a module that includes this links it itself.
#pragma once

#include <sqlite3.h>

#include <utility>

namespace cp::sqlite {

// Prepared once (SQLITE_PREPARE_PERSISTENT) and finalized on destruction.
// A statement that failed to prepare is empty (operator bool is false).
class Stmt {
public:
    Stmt() = default;
    Stmt(sqlite3* db, const char* sql) {
        if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s_, nullptr) != SQLITE_OK) s_ = nullptr;
    }
    ~Stmt() { sqlite3_finalize(s_); }
    Stmt(const Stmt&) = delete;
    Stmt& operator=(const Stmt&) = delete;
    Stmt& operator=(Stmt&& o) noexcept {
        std::swap(s_, o.s_);
        return *this;
    }
    sqlite3_stmt* get() const { return s_; }
    explicit operator bool() const { return s_ != nullptr; }

private:
    sqlite3_stmt* s_ = nullptr;
};

}  // namespace cp::sqlite
