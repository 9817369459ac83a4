// Numbered schema migrations for both store backends (sql_db.hpp): each step runs
// once, in order, in its own transaction, and is recorded in a table of applied
// versions. Never edit a released step; append the next one.
//
// A step's `sql` is SQLite's. PostgreSQL runs `pg_sql` when the step gives one, and
// otherwise `sql` with SQLite's column types mapped (pg_ddl()): INTEGER -> BIGINT,
// INTEGER PRIMARY KEY [AUTOINCREMENT] -> an identity key, BLOB -> BYTEA, REAL ->
// DOUBLE PRECISION; SQLite's CREATE TRIGGER ... END; statements are left out and
// `pg_extra` (PostgreSQL's triggers) runs after. The runner refuses a step whose SQLite
// triggers would be left out with no `pg_extra` or `pg_sql` to replace them.
#pragma once

#include "tools/upstream/sql_db.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace cp::upstream {

struct Migration {
    int version;
    const char* name;
    const char* sql;               // SQLite
    const char* pg_sql = nullptr;    // PostgreSQL, when it differs beyond the type mapping
    const char* pg_extra = nullptr;  // PostgreSQL, after the mapped `sql`: its triggers
};

// Applies the pending steps of `steps[0..n)` and records them in `table` (created
// if missing). On PostgreSQL each step holds an advisory lock, so replicas starting
// together apply it once. Errors: io "sqlite" / "postgresql" with the step's name.
Status apply_migrations(SqlDb& db, std::string_view table, const Migration* steps, std::size_t n,
                        std::int64_t now);

template <std::size_t N>
Status apply_migrations(SqlDb& db, std::string_view table, const Migration (&steps)[N], std::int64_t now) {
    return apply_migrations(db, table, steps, N, now);
}

// The highest version recorded in `table` (0: none).
Result<std::int64_t> migrated_version(SqlDb& db, std::string_view table);

// SQLite DDL with PostgreSQL's column types, without SQLite's triggers (see above).
std::string pg_ddl(std::string_view sqlite_ddl);

}  // namespace cp::upstream
