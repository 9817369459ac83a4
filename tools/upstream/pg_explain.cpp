// upstream-pg-explain: EXPLAIN (ANALYZE, BUFFERS) of the store's hot paths on
// PostgreSQL, on a database filled with a city-sized sample (docs/deployment.md).
//
//   build/bin/upstream-pg-explain --db postgresql:///cc_explain?host=/run/postgresql
//                                 [--devices 2000] [--scans-per-device 500]
//
// The database must be empty (a new one): the tool creates the schema through
// open_store(), bulk-loads scans with generate_series, ANALYZEs, and prints the plan
// of each statement as the store runs it (writes inside a rolled-back transaction).
#include "tools/upstream/pg_store.hpp"
#include "tools/upstream/sql_db.hpp"
#include "tools/upstream/store.hpp"

#include <cstdio>
#include <cstdlib>
#include <string>

using namespace cp::upstream;

namespace {

int usage() {
    std::fprintf(stderr, "usage: upstream-pg-explain --db postgresql://... [--devices N] [--scans-per-device N]\n");
    return 2;
}

bool explain(SqlDb& db, const char* title, const std::string& sql) {
    std::printf("### %s\n\n```\n%s\n\n", title, sql.c_str());
    if (!db.exec("BEGIN")) return false;
    Stmt s(&db, "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql);
    for (;;) {
        auto row = s.step();
        if (!row) {
            std::fprintf(stderr, "%s: %s\n", title, row.error().describe().c_str());
            (void)db.exec("ROLLBACK");
            return false;
        }
        if (!*row) break;
        std::printf("%s\n", s.text(0).c_str());
    }
    std::printf("```\n\n");
    return db.exec("ROLLBACK").ok();
}

}  // namespace

int main(int argc, char** argv) {
    std::string url;
    long devices = 2000, per_device = 500;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string k = argv[i];
        if (k == "--db") url = argv[i + 1];
        else if (k == "--devices") devices = std::strtol(argv[i + 1], nullptr, 10);
        else if (k == "--scans-per-device") per_device = std::strtol(argv[i + 1], nullptr, 10);
        else return usage();
    }
    if (!is_pg_url(url) || devices < 1 || devices > 100000 || per_device < 1 || per_device > 100000) return usage();
    auto store = open_store(url);
    if (!store) {
        std::fprintf(stderr, "%s\n", store.error().describe().c_str());
        return 1;
    }
    auto dbr = open_pg_db(url);
    if (!dbr) return 1;
    SqlDb& db = **dbr;
    const long now = 1'780'000'000;
    // Devices, heartbeats, scans over the last 7 days (one partition a day), 1 in 50 an alert.
    const std::string fill =
        "INSERT INTO devices(id, fingerprint, enrolled_at) SELECT 'gate-' || d, md5(d::text) || md5(d::text), " +
        std::to_string(now) + " FROM generate_series(1, " + std::to_string(devices) + ") d;"
        "INSERT INTO heartbeats(device_id, firmware, list_version, backlog, sensors, device_time_ms, server_time_ms) "
        "SELECT id, '1.0', 1, 0, '{}', 0, 0 FROM devices;"
        "INSERT INTO scans(device_id, epoch, seq, scan_id, pass_id, verdict, reason, temperature_c, time, lane, "
        "received_at, alert) SELECT 'gate-' || d, 1, s, 'x' || d || '-' || s, md5((d * 100000 + s)::text), "
        "CASE WHEN s % 50 = 0 THEN 'red' ELSE 'green' END, CASE WHEN s % 50 = 0 THEN 'status-red' ELSE 'ok' END, "
        "36.5, " + std::to_string(now) + " - (s * 604800 / " + std::to_string(per_device) + "), 'in', " +
        std::to_string(now) + " - (s * 604800 / " + std::to_string(per_device) +
        "), CASE WHEN s % 50 = 0 THEN 1 ELSE 0 END FROM generate_series(1, " + std::to_string(devices) +
        ") d, generate_series(1, " + std::to_string(per_device) + ") s;"
        "INSERT INTO list_versions(version, published_at, entries, changes, snapshot, delta) "
        "SELECT v, " + std::to_string(now) + ", 0, 0, '\\x00', '\\x00' FROM generate_series(1, 500) v;"
        "ANALYZE;";
    // Partitions for the sample's days before the rows arrive (else: the default partition).
    StoreOptions opts;
    opts.partitions_ahead_days = 8;
    if (auto m = pg_maintain_scan_partitions(db, now - 8 * 86400, opts); !m || !db.exec(fill)) {
        std::fprintf(stderr, "fill failed\n");
        return 1;
    }
    std::printf("Sample: %ld devices, %ld scans (%ld per device over 7 days, daily partitions).\n\n", devices,
                devices * per_device, per_device);
    const std::string dev = "'gate-" + std::to_string(devices / 2) + "'";
    bool ok = true;
    ok &= explain(db, "ingest: lock the device row", "SELECT 1 FROM devices WHERE id = " + dev + " FOR UPDATE");
    ok &= explain(db, "ingest: insert a scan unless stored",
                  "INSERT INTO scans(device_id, epoch, seq, scan_id, pass_id, verdict, reason, temperature_c, time, "
                  "lane, received_at, alert, manual, ref_seq) SELECT " + dev + ", 1, 999999, 'n', 'p', 'green', 'ok', "
                  "36.5, " + std::to_string(now) + ", 'in', " + std::to_string(now) + ", 0, 0, 0 WHERE NOT EXISTS "
                  "(SELECT 1 FROM scans WHERE device_id = " + dev + " AND epoch = 1 AND seq = 999999)");
    ok &= explain(db, "ingest: advance the acknowledgement",
                  "SELECT seq FROM scans WHERE device_id = " + dev + " AND epoch = 1 AND seq > " +
                      std::to_string(per_device - 5) + " ORDER BY seq");
    ok &= explain(db, "heartbeat",
                  "INSERT INTO heartbeats(device_id, firmware, list_version, backlog, sensors, device_time_ms, "
                  "server_time_ms, journal_epoch, lost_rows, lost_journals, sync_faults) VALUES(" + dev +
                  ", '1.1', 2, 0, '{}', 0, 0, 1, 0, 0, 0) ON CONFLICT(device_id) DO UPDATE SET firmware = "
                  "excluded.firmware, list_version = excluded.list_version, backlog = excluded.backlog");
    ok &= explain(db, "list fetch: one version",
                  "SELECT version, published_at, entries, changes, snapshot, delta FROM list_versions WHERE version = 499");
    ok &= explain(db, "console: newest alerts",
                  "SELECT rowid, device_id, seq FROM scans WHERE rowid > 0 AND alert = 1 ORDER BY rowid DESC LIMIT 50");
    ok &= explain(db, "console: scans per hour of the last day",
                  "SELECT (time / 3600) * 3600 AS h, count(*) FROM scans WHERE time >= " + std::to_string(now - 86400) +
                      " AND manual = 0 GROUP BY h ORDER BY h");
    return ok ? 0 : 1;
}
