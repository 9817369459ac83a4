// PostgreSQL parts of the upstream store: the schema, scans partitioned by the day
// they were received (declarative range partitioning, a default partition for days
// without one), partitions made ahead and dropped after the retention, and the
// connection. The store's statements themselves are shared (sqlite_store.cpp).
#include "tools/upstream/pg_store.hpp"

#include <cstdio>
#include <ctime>

namespace cp::upstream {

// Scans: no unique (device, epoch, seq) across partitions (PostgreSQL requires the
// partition key in a unique index); ingest serialises a device's batches on its row
// instead. `rowid` is the arrival order the dashboard and the worklist page by.
const char* const kPgTables = R"sql(
CREATE TABLE devices(
  id TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, enrolled_at BIGINT NOT NULL,
  revoked BIGINT NOT NULL DEFAULT 0, revoked_at BIGINT NOT NULL DEFAULT 0,
  acked_seq BIGINT NOT NULL DEFAULT 0, last_seen BIGINT NOT NULL DEFAULT 0,
  conflicts BIGINT NOT NULL DEFAULT 0);
CREATE SEQUENCE scans_rowid;
CREATE TABLE scans(
  rowid BIGINT NOT NULL DEFAULT nextval('scans_rowid'),
  device_id TEXT NOT NULL, epoch BIGINT NOT NULL DEFAULT 0, seq BIGINT NOT NULL, scan_id TEXT NOT NULL,
  pass_id TEXT NOT NULL, verdict TEXT NOT NULL, reason TEXT NOT NULL,
  temperature_c DOUBLE PRECISION, time BIGINT NOT NULL, lane TEXT NOT NULL,
  received_at BIGINT NOT NULL, alert BIGINT NOT NULL,
  manual BIGINT NOT NULL DEFAULT 0, ref_seq BIGINT NOT NULL DEFAULT 0
) PARTITION BY RANGE (received_at);
CREATE TABLE scans_default PARTITION OF scans DEFAULT;
CREATE TABLE device_epochs(
  device_id TEXT NOT NULL, epoch BIGINT NOT NULL, acked_seq BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY(device_id, epoch));
CREATE TABLE scan_conflicts(
  device_id TEXT NOT NULL, epoch BIGINT NOT NULL, seq BIGINT NOT NULL, scan_id TEXT NOT NULL,
  pass_id TEXT NOT NULL, verdict TEXT NOT NULL, reason TEXT NOT NULL,
  temperature_c DOUBLE PRECISION, time BIGINT NOT NULL, lane TEXT NOT NULL,
  received_at BIGINT NOT NULL, manual BIGINT NOT NULL, ref_seq BIGINT NOT NULL);
CREATE TABLE heartbeats(
  device_id TEXT PRIMARY KEY, firmware TEXT NOT NULL, list_version BIGINT NOT NULL,
  backlog BIGINT NOT NULL, sensors TEXT NOT NULL, device_time_ms BIGINT NOT NULL,
  server_time_ms BIGINT NOT NULL, journal_epoch BIGINT NOT NULL DEFAULT 0,
  lost_rows BIGINT NOT NULL DEFAULT 0, lost_journals BIGINT NOT NULL DEFAULT 0,
  sync_faults BIGINT NOT NULL DEFAULT 0);
CREATE TABLE statuses(
  pass_id TEXT PRIMARY KEY, status TEXT NOT NULL, reason TEXT NOT NULL, updated_at BIGINT NOT NULL);
CREATE TABLE published_entries(
  pass_id TEXT PRIMARY KEY, status TEXT NOT NULL, reason TEXT NOT NULL);
CREATE TABLE list_versions(
  version BIGINT PRIMARY KEY, published_at BIGINT NOT NULL, entries BIGINT NOT NULL,
  changes BIGINT NOT NULL, snapshot BYTEA NOT NULL, delta BYTEA NOT NULL);
CREATE TABLE issuers(
  fingerprint TEXT PRIMARY KEY, cert BYTEA NOT NULL, added_at BIGINT NOT NULL);
CREATE TABLE trust_versions(
  version BIGINT PRIMARY KEY, published_at BIGINT NOT NULL, signed BYTEA NOT NULL);
)sql";

// Indexes on the partitioned table are made on every partition. scans_key: ingest's
// duplicate check; scans_rowid: the newest-first pages and the worklist cursor;
// scans_alert: alert pages; scans_pass / scans_time: the console's per-area joins
// and hourly counts.
const char* const kPgIndexes = R"sql(
CREATE INDEX scans_key ON scans(device_id, epoch, seq);
CREATE INDEX scans_rowid_order ON scans(rowid);
CREATE INDEX scans_received ON scans(received_at);
CREATE INDEX scans_alert ON scans(rowid) WHERE alert = 1;
CREATE INDEX scans_pass ON scans(pass_id);
CREATE INDEX scans_time ON scans(time);
)sql";

namespace {

constexpr std::int64_t kDay = 86400;
constexpr std::int64_t kMaintenanceLockKey = 0x6370'7061'7274LL;  // "cppart"

std::string day_name(std::int64_t day) {
    std::time_t t = static_cast<std::time_t>(day * kDay);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::snprintf(buf, sizeof buf, "scans_%04d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    return buf;
}

// The day number of a partition name, or -1.
std::int64_t name_day(const std::string& name) {
    int y = 0, m = 0, d = 0;
    if (name.size() != 14 || std::sscanf(name.c_str(), "scans_%4d%2d%2d", &y, &m, &d) != 3) return -1;
    std::tm tm{};
    tm.tm_year = y - 1900;
    tm.tm_mon = m - 1;
    tm.tm_mday = d;
    return static_cast<std::int64_t>(timegm(&tm)) / kDay;
}

}  // namespace

Result<std::vector<std::string>> pg_scan_partitions(SqlDb& db) {
    Stmt s(&db, "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = 'scans'::regclass AND c.relname <> 'scans_default' ORDER BY c.relname");
    std::vector<std::string> out;
    CP_TRY(each_row(s, [&](Stmt& r) { out.push_back(r.text(0)); }));
    return out;
}

Status pg_maintain_scan_partitions(SqlDb& db, std::int64_t now, const StoreOptions& opts) {
    const std::int64_t today = now / kDay;
    return db.transaction([&]() -> Status {
        Stmt lock(&db, "SELECT pg_advisory_xact_lock(?1)");
        CP_TRY(lock.bind(1, kMaintenanceLockKey).run());
        auto have = pg_scan_partitions(db);
        if (!have) return fail(have.error());
        for (std::int64_t day = today; day <= today + opts.partitions_ahead_days; ++day) {
            const std::string name = day_name(day);
            bool exists = false;
            for (const auto& h : *have) exists = exists || h == name;
            if (exists) continue;
            // Rows of that day already in the default partition would make the new
            // partition's constraint fail: they stay where they are.
            Stmt dflt(&db, "SELECT 1 FROM scans_default WHERE received_at >= ?1 AND received_at < ?2 LIMIT 1");
            dflt.bind(1, day * kDay).bind(2, (day + 1) * kDay);
            auto busy = dflt.step();
            if (!busy) return fail(busy.error());
            if (*busy) continue;
            CP_TRY(db.exec("CREATE TABLE " + name + " PARTITION OF scans FOR VALUES FROM (" +
                           std::to_string(day * kDay) + ") TO (" + std::to_string((day + 1) * kDay) + ")"));
        }
        if (opts.scan_retention_days > 0) {
            for (const auto& h : *have) {
                const std::int64_t day = name_day(h);
                if (day >= 0 && day + 1 <= today - opts.scan_retention_days) CP_TRY(db.exec("DROP TABLE " + h));
            }
        }
        return {};
    });
}

bool is_pg_url(std::string_view db) {
    return db.rfind("postgresql://", 0) == 0 || db.rfind("postgres://", 0) == 0;
}

Result<std::unique_ptr<UpstreamStore>> open_pg_store(const std::string& url, StoreOptions opts) {
    auto db = open_pg_db(url);
    if (!db) return fail(db.error());
    return open_sql_store(std::move(*db), opts);
}

}  // namespace cp::upstream
