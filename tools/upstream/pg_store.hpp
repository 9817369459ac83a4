// The PostgreSQL parts of the upstream store (pg_store.cpp): its schema (scans
// partitioned by day of reception), the partition upkeep, the publish lock.
#pragma once

#include "tools/upstream/sql_db.hpp"
#include "tools/upstream/store.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace cp::upstream {

// The PostgreSQL variants of the store's migration steps 1 and 2.
extern const char* const kPgTables;
extern const char* const kPgIndexes;

// Advisory-lock key taken (pg_try_advisory_xact_lock) by the one replica publishing.
inline constexpr std::int64_t kPublishLockKey = 0x6370'7075'626cLL;  // "cppubl"

// Every ingest transaction holds this key shared (pg_advisory_xact_lock_shared); a
// reader that pages scans by rowid takes it exclusively, so that every row below the
// highest rowid it sees is committed (sequence numbers are not commit order).
inline constexpr std::int64_t kScanWriteLockKey = 0x6370'7363'616eLL;  // "cpscan"

// Creates the daily scan partitions from the day of `now` to opts.partitions_ahead_days
// ahead (those missing), and drops the partitions wholly older than
// opts.scan_retention_days (when > 0). Rows of days without a partition go to the
// default partition, never lost.
Status pg_maintain_scan_partitions(SqlDb& db, std::int64_t now, const StoreOptions& opts);

// The scan partitions, oldest first ("scans_20260101", ...; the default partition not).
Result<std::vector<std::string>> pg_scan_partitions(SqlDb& db);

// Connects and migrates. Errors: io "postgresql-open" / "postgresql-schema".
Result<std::unique_ptr<UpstreamStore>> open_pg_store(const std::string& url, StoreOptions opts);

// The columns of a scan row as both stores select them (table alias `s`), and the
// row read back (sqlite_store.cpp).
inline constexpr const char* kScanColumns =
    "s.rowid, s.device_id, s.seq, s.scan_id, s.pass_id, s.verdict, s.reason, s.temperature_c, "
    "s.time, s.lane, s.received_at, s.manual, s.ref_seq, s.epoch";
UpstreamStore::ScanRow read_scan_row(Stmt& s);

// The store on an open connection (sqlite_store.cpp).
Result<std::unique_ptr<UpstreamStore>> open_sql_store(std::unique_ptr<SqlDb> db, StoreOptions opts);

}  // namespace cp::upstream
