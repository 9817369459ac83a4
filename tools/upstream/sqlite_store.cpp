// SQLite backend of UpstreamStore: one file, WAL, one connection behind a mutex
// (SQLite serialises writers anyway; one connection keeps transactions simple).
#include "tools/upstream/store.hpp"
#include "tools/upstream/reasons.hpp"
#include "tools/upstream/sqlite_util.hpp"

#include <sqlite3.h>

#include <cstdio>
#include <filesystem>
#include <mutex>
#include <string_view>

namespace cp::upstream {

const char* to_string(PassStatus s) noexcept {
    switch (s) {
        case PassStatus::green: return "green";
        case PassStatus::yellow: return "yellow";
        case PassStatus::red: return "red";
    }
    return "?";
}

std::optional<PassStatus> parse_pass_status(std::string_view text) {
    if (text == "green") return PassStatus::green;
    if (text == "yellow") return PassStatus::yellow;
    if (text == "red") return PassStatus::red;
    return std::nullopt;
}

namespace {

// synchronous=FULL: WAL is synced at every commit, and a device is acknowledged
// only after its commit, so an acked row survives a power cut (with NORMAL the
// last commits can be lost, after the device has pruned them).
constexpr const char* kSchema = R"sql(
PRAGMA journal_mode=WAL;
PRAGMA synchronous=FULL;
CREATE TABLE IF NOT EXISTS devices(
  id TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, enrolled_at INTEGER NOT NULL,
  revoked INTEGER NOT NULL DEFAULT 0, revoked_at INTEGER NOT NULL DEFAULT 0,
  acked_seq INTEGER NOT NULL DEFAULT 0, last_seen INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS scans(
  device_id TEXT NOT NULL, epoch INTEGER NOT NULL DEFAULT 0, seq INTEGER NOT NULL, scan_id TEXT NOT NULL,
  pass_id TEXT NOT NULL, verdict TEXT NOT NULL, reason TEXT NOT NULL,
  temperature_c REAL, time INTEGER NOT NULL, lane TEXT NOT NULL,
  received_at INTEGER NOT NULL, alert INTEGER NOT NULL,
  manual INTEGER NOT NULL DEFAULT 0, ref_seq INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY(device_id, epoch, seq));
CREATE TABLE IF NOT EXISTS device_epochs(
  device_id TEXT NOT NULL, epoch INTEGER NOT NULL, acked_seq INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY(device_id, epoch));
CREATE TABLE IF NOT EXISTS scan_conflicts(
  device_id TEXT NOT NULL, epoch INTEGER NOT NULL, seq INTEGER NOT NULL, scan_id TEXT NOT NULL,
  pass_id TEXT NOT NULL, verdict TEXT NOT NULL, reason TEXT NOT NULL,
  temperature_c REAL, time INTEGER NOT NULL, lane TEXT NOT NULL,
  received_at INTEGER NOT NULL, manual INTEGER NOT NULL, ref_seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS heartbeats(
  device_id TEXT PRIMARY KEY, firmware TEXT NOT NULL, list_version INTEGER NOT NULL,
  backlog INTEGER NOT NULL, sensors TEXT NOT NULL, device_time_ms INTEGER NOT NULL,
  server_time_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS statuses(
  pass_id TEXT PRIMARY KEY, status TEXT NOT NULL, reason TEXT NOT NULL, updated_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS published_entries(
  pass_id TEXT PRIMARY KEY, status TEXT NOT NULL, reason TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS list_versions(
  version INTEGER PRIMARY KEY, published_at INTEGER NOT NULL, entries INTEGER NOT NULL,
  changes INTEGER NOT NULL, snapshot BLOB NOT NULL, delta BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS issuers(
  fingerprint TEXT PRIMARY KEY, cert BLOB NOT NULL, added_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS trust_versions(
  version INTEGER PRIMARY KEY, published_at INTEGER NOT NULL, signed BLOB NOT NULL);
)sql";

// After kSchema and the migrations (the scans table may have been rebuilt).
constexpr const char* kIndexes = R"sql(
CREATE INDEX IF NOT EXISTS scans_received ON scans(received_at);
CREATE INDEX IF NOT EXISTS scans_alert ON scans(alert) WHERE alert = 1;
)sql";

// A store from before journal epochs keyed scans by (device, seq): rebuilt with
// epoch 0 for every row (the old devices' epoch), rowids kept (dashboard cursors).
constexpr const char* kMigrateScansToEpochs = R"sql(
ALTER TABLE scans RENAME TO scans_before_epochs;
CREATE TABLE scans(
  device_id TEXT NOT NULL, epoch INTEGER NOT NULL DEFAULT 0, seq INTEGER NOT NULL, scan_id TEXT NOT NULL,
  pass_id TEXT NOT NULL, verdict TEXT NOT NULL, reason TEXT NOT NULL,
  temperature_c REAL, time INTEGER NOT NULL, lane TEXT NOT NULL,
  received_at INTEGER NOT NULL, alert INTEGER NOT NULL,
  manual INTEGER NOT NULL DEFAULT 0, ref_seq INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY(device_id, epoch, seq));
INSERT INTO scans(rowid, device_id, epoch, seq, scan_id, pass_id, verdict, reason, temperature_c, time,
                  lane, received_at, alert, manual, ref_seq)
  SELECT rowid, device_id, 0, seq, scan_id, pass_id, verdict, reason, temperature_c, time,
         lane, received_at, alert, manual, ref_seq FROM scans_before_epochs ORDER BY rowid;
DROP TABLE scans_before_epochs;
INSERT OR IGNORE INTO device_epochs(device_id, epoch, acked_seq) SELECT id, 0, acked_seq FROM devices;
)sql";


// A guard's resolution is not a new event at the gate: never an alert.
bool is_alert(const Scan& s) {
    return !s.manual &&
           (s.verdict == "red" || s.reason == reason::scan_fever.view() ||
            s.reason == reason::scan_status_red.view());
}

class SqliteStore final : public UpstreamStore {
public:
    explicit SqliteStore(sqlite3* db) : db_(db) {}
    ~SqliteStore() override { sqlite3_close_v2(db_); }
    SqliteStore(const SqliteStore&) = delete;
    SqliteStore& operator=(const SqliteStore&) = delete;

    Status exec(const char* sql) {
        char* msg = nullptr;
        if (sqlite3_exec(db_, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
            std::string m = msg ? msg : "?";
            sqlite3_free(msg);
            return fail(ErrorKind::io, "sqlite", m);
        }
        return {};
    }

    Result<int> synchronous() {
        std::lock_guard lock(mu_);
        Stmt s(db_, "PRAGMA synchronous");
        auto row = s.step();
        if (!row) return fail(row.error());
        if (!*row) return fail(ErrorKind::io, "sqlite", "no PRAGMA synchronous");
        return static_cast<int>(s.i64(0));
    }

    // Runs `body` in one IMMEDIATE transaction; rolls back when it fails.
    template <typename F>
    auto transaction(F&& body) -> decltype(body()) {
        CP_TRY(exec("BEGIN IMMEDIATE"));
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

    Result<bool> has_column(const char* table, const char* column) {
        Stmt s(db_, "SELECT count(*) FROM pragma_table_info(?1) WHERE name = ?2");
        s.bind(1, std::string_view(table)).bind(2, std::string_view(column));
        auto row = s.step();
        if (!row) return fail(row.error());
        return s.i64(0) > 0;
    }

    // Brings a store written by an earlier version to the current schema, each
    // step in one transaction.
    Status migrate() {
        std::lock_guard lock(mu_);
        struct Column {
            const char* table;
            const char* column;
            const char* add;
        };
        static const Column kAdded[] = {
            {"devices", "conflicts", "ALTER TABLE devices ADD COLUMN conflicts INTEGER NOT NULL DEFAULT 0"},
            {"heartbeats", "journal_epoch", "ALTER TABLE heartbeats ADD COLUMN journal_epoch INTEGER NOT NULL DEFAULT 0"},
            {"heartbeats", "lost_rows", "ALTER TABLE heartbeats ADD COLUMN lost_rows INTEGER NOT NULL DEFAULT 0"},
            {"heartbeats", "lost_journals", "ALTER TABLE heartbeats ADD COLUMN lost_journals INTEGER NOT NULL DEFAULT 0"},
            {"heartbeats", "sync_faults", "ALTER TABLE heartbeats ADD COLUMN sync_faults INTEGER NOT NULL DEFAULT 0"},
        };
        for (const auto& c : kAdded) {
            auto has = has_column(c.table, c.column);
            if (!has) return fail(has.error());
            if (!*has) CP_TRY(exec(c.add));
        }
        auto epochs = has_column("scans", "epoch");
        if (!epochs) return fail(epochs.error());
        if (!*epochs) {
            return transaction([&]() -> Status { return exec(kMigrateScansToEpochs); });
        }
        return {};
    }

    Status enroll_device(const std::string& id, const std::string& fingerprint,
                         std::int64_t now) override {
        std::lock_guard lock(mu_);
        Stmt s(db_,
               "INSERT INTO devices(id, fingerprint, enrolled_at) VALUES(?1, ?2, ?3) "
               "ON CONFLICT(id) DO UPDATE SET fingerprint = ?2, enrolled_at = ?3");
        return s.bind(1, id).bind(2, fingerprint).bind(3, now).run();
    }

    Status unrevoke_device(const std::string& id, std::int64_t now) override {
        (void)now;
        std::lock_guard lock(mu_);
        Stmt s(db_, "UPDATE devices SET revoked = 0, revoked_at = 0 WHERE id = ?1");
        CP_TRY(s.bind(1, id).run());
        if (sqlite3_changes(db_) == 0) return fail(ErrorKind::not_found, "device", id);
        return {};
    }

    Status revoke_device(const std::string& id, std::int64_t now) override {
        std::lock_guard lock(mu_);
        Stmt s(db_, "UPDATE devices SET revoked = 1, revoked_at = ?2 WHERE id = ?1");
        CP_TRY(s.bind(1, id).bind(2, now).run());
        if (sqlite3_changes(db_) == 0) return fail(ErrorKind::not_found, "device", id);
        return {};
    }

    Result<std::optional<Device>> find_device(const std::string& id) override {
        std::lock_guard lock(mu_);
        Stmt s(db_,
               "SELECT id, fingerprint, enrolled_at, revoked, revoked_at, acked_seq, conflicts FROM devices "
               "WHERE id = ?1");
        s.bind(1, id);
        auto row = s.step();
        if (!row) return fail(row.error());
        if (!*row) return std::optional<Device>();
        return std::optional<Device>(read_device(s));
    }

    static Device read_device(Stmt& s) {
        Device d;
        d.id = s.text(0);
        d.fingerprint = s.text(1);
        d.enrolled_at = s.i64(2);
        d.revoked = s.i64(3) != 0;
        d.revoked_at = s.i64(4);
        d.acked_seq = s.i64(5);
        d.conflicts = s.i64(6);
        return d;
    }

    Result<std::vector<DeviceState>> devices() override {
        std::lock_guard lock(mu_);
        Stmt s(db_,
               "SELECT d.id, d.fingerprint, d.enrolled_at, d.revoked, d.revoked_at, d.acked_seq, "
               "d.conflicts, d.last_seen, h.firmware, h.list_version, h.backlog, h.sensors, h.device_time_ms, "
               "h.server_time_ms, h.journal_epoch, h.lost_rows, h.lost_journals, h.sync_faults "
               "FROM devices d LEFT JOIN heartbeats h ON h.device_id = d.id ORDER BY d.id");
        std::vector<DeviceState> out;
        for (;;) {
            auto row = s.step();
            if (!row) return fail(row.error());
            if (!*row) break;
            DeviceState st;
            st.device = read_device(s);
            st.last_seen = s.i64(7);
            if (!s.is_null(8)) {
                Heartbeat hb;
                hb.device_id = st.device.id;
                hb.firmware = s.text(8);
                hb.list_version = s.i64(9);
                hb.backlog = s.i64(10);
                hb.sensors_json = s.text(11);
                hb.device_time_ms = s.i64(12);
                hb.server_time_ms = s.i64(13);
                hb.journal_epoch = s.i64(14);
                hb.lost_rows = s.i64(15);
                hb.lost_journals = s.i64(16);
                hb.sync_faults = s.i64(17);
                st.last_heartbeat = hb;
            }
            out.push_back(std::move(st));
        }
        return out;
    }

    Status touch_device(const std::string& id, std::int64_t now) override {
        std::lock_guard lock(mu_);
        Stmt s(db_, "UPDATE devices SET last_seen = ?2 WHERE id = ?1 AND last_seen < ?2");
        return s.bind(1, id).bind(2, now).run();
    }

    Result<IngestResult> ingest_scans(const std::string& device_id,
                                      const std::vector<Scan>& scans) override {
        std::lock_guard lock(mu_);
        return transaction([&]() -> Result<IngestResult> {
            IngestResult res;
            const std::int64_t epoch = scans.empty() ? 0 : scans.front().epoch;
            res.epoch = epoch;
            Stmt dev(db_, "SELECT 1 FROM devices WHERE id = ?1");
            dev.bind(1, device_id);
            auto known = dev.step();
            if (!known) return fail(known.error());
            if (!*known) return fail(ErrorKind::not_found, "device", device_id);
            Stmt ins(db_,
                     "INSERT INTO scans(device_id, epoch, seq, scan_id, pass_id, verdict, reason, "
                     "temperature_c, time, lane, received_at, alert, manual, ref_seq) "
                     "VALUES(?1, ?14, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) "
                     "ON CONFLICT(device_id, epoch, seq) DO NOTHING");
            Stmt existing(db_,
                          "SELECT scan_id, pass_id, verdict, reason, temperature_c, time, lane, manual, ref_seq "
                          "FROM scans WHERE device_id = ?1 AND epoch = ?2 AND seq = ?3");
            Stmt keep(db_,
                      "INSERT INTO scan_conflicts(device_id, epoch, seq, scan_id, pass_id, verdict, reason, "
                      "temperature_c, time, lane, received_at, manual, ref_seq) "
                      "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)");
            for (const Scan& sc : scans) {
                if (sc.device_id != device_id)
                    return fail(ErrorKind::invalid_input, "device", "scan of another device");
                if (sc.epoch != epoch)
                    return fail(ErrorKind::invalid_input, "epoch", "one epoch per batch");
                ins.bind(1, sc.device_id).bind(2, sc.seq).bind(3, sc.scan_id).bind(4, sc.pass_id)
                    .bind(5, sc.verdict).bind(6, sc.reason).bind(7, sc.temperature_c)
                    .bind(8, sc.time).bind(9, sc.lane).bind(10, sc.received_at)
                    .bind(11, std::int64_t{is_alert(sc) ? 1 : 0})
                    .bind(12, std::int64_t{sc.manual ? 1 : 0}).bind(13, sc.ref_seq).bind(14, sc.epoch);
                CP_TRY(ins.run());
                ins.reset();
                if (sqlite3_changes(db_) == 1) {
                    ++res.stored;
                    continue;
                }
                existing.bind(1, sc.device_id).bind(2, sc.epoch).bind(3, sc.seq);
                auto row = existing.step();
                if (!row) return fail(row.error());
                // A duplicate only when the content is the one stored: a journal
                // reset or a device bug reusing an id must not pass as a re-send.
                const bool same = *row && existing.text(0) == sc.scan_id && existing.text(1) == sc.pass_id &&
                                  existing.text(2) == sc.verdict && existing.text(3) == sc.reason &&
                                  existing.real_or_null(4) == sc.temperature_c && existing.i64(5) == sc.time &&
                                  existing.text(6) == sc.lane && (existing.i64(7) != 0) == sc.manual &&
                                  existing.i64(8) == sc.ref_seq;
                existing.reset();
                if (same) {
                    ++res.duplicates;
                    continue;
                }
                ++res.conflicts;
                keep.bind(1, sc.device_id).bind(2, sc.epoch).bind(3, sc.seq).bind(4, sc.scan_id)
                    .bind(5, sc.pass_id).bind(6, sc.verdict).bind(7, sc.reason).bind(8, sc.temperature_c)
                    .bind(9, sc.time).bind(10, sc.lane).bind(11, sc.received_at)
                    .bind(12, std::int64_t{sc.manual ? 1 : 0}).bind(13, sc.ref_seq);
                CP_TRY(keep.run());
                keep.reset();
            }
            if (res.conflicts > 0) {
                Stmt cnt(db_, "UPDATE devices SET conflicts = conflicts + ?2 WHERE id = ?1");
                CP_TRY(cnt.bind(1, device_id).bind(2, static_cast<std::int64_t>(res.conflicts)).run());
            }
            // Advance the epoch's acknowledgement over every contiguous sequence now stored.
            Stmt cur(db_, "SELECT acked_seq FROM device_epochs WHERE device_id = ?1 AND epoch = ?2");
            cur.bind(1, device_id).bind(2, epoch);
            auto row = cur.step();
            if (!row) return fail(row.error());
            std::int64_t acked = *row ? cur.i64(0) : 0;
            Stmt next(db_, "SELECT seq FROM scans WHERE device_id = ?1 AND epoch = ?2 AND seq > ?3 ORDER BY seq");
            next.bind(1, device_id).bind(2, epoch).bind(3, acked);
            for (;;) {
                auto r = next.step();
                if (!r) return fail(r.error());
                if (!*r || next.i64(0) != acked + 1) break;
                ++acked;
            }
            Stmt ep(db_,
                    "INSERT INTO device_epochs(device_id, epoch, acked_seq) VALUES(?1, ?2, ?3) "
                    "ON CONFLICT(device_id, epoch) DO UPDATE SET acked_seq = ?3");
            CP_TRY(ep.bind(1, device_id).bind(2, epoch).bind(3, acked).run());
            Stmt upd(db_, "UPDATE devices SET acked_seq = ?2 WHERE id = ?1");
            CP_TRY(upd.bind(1, device_id).bind(2, acked).run());
            res.acked_seq = acked;
            return res;
        });
    }

    Status record_heartbeat(const Heartbeat& hb) override {
        std::lock_guard lock(mu_);
        Stmt s(db_,
               "INSERT OR REPLACE INTO heartbeats(device_id, firmware, list_version, backlog, "
               "sensors, device_time_ms, server_time_ms, journal_epoch, lost_rows, lost_journals, "
               "sync_faults) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
        return s.bind(1, hb.device_id).bind(2, hb.firmware).bind(3, hb.list_version)
            .bind(4, hb.backlog).bind(5, hb.sensors_json).bind(6, hb.device_time_ms)
            .bind(7, hb.server_time_ms).bind(8, hb.journal_epoch).bind(9, hb.lost_rows)
            .bind(10, hb.lost_journals).bind(11, hb.sync_faults).run();
    }

    Result<std::vector<ScanRow>> scans(std::size_t limit, std::int64_t after_rowid,
                                       bool alerts_only, const std::string& device) override {
        std::lock_guard lock(mu_);
        Stmt s(db_,
               "SELECT rowid, device_id, seq, scan_id, pass_id, verdict, reason, temperature_c, "
               "time, lane, received_at, manual, ref_seq, epoch FROM scans WHERE rowid > ?1 AND (?2 = 0 OR alert = 1) "
               "AND (?3 = '' OR device_id = ?3) ORDER BY rowid DESC LIMIT ?4");
        s.bind(1, after_rowid).bind(2, std::int64_t{alerts_only ? 1 : 0}).bind(3, device)
            .bind(4, static_cast<std::int64_t>(limit));
        std::vector<ScanRow> out;
        for (;;) {
            auto row = s.step();
            if (!row) return fail(row.error());
            if (!*row) break;
            ScanRow r;
            r.rowid = s.i64(0);
            r.scan.device_id = s.text(1);
            r.scan.seq = s.i64(2);
            r.scan.scan_id = s.text(3);
            r.scan.pass_id = s.text(4);
            r.scan.verdict = s.text(5);
            r.scan.reason = s.text(6);
            r.scan.temperature_c = s.real_or_null(7);
            r.scan.time = s.i64(8);
            r.scan.lane = s.text(9);
            r.scan.received_at = s.i64(10);
            r.scan.manual = s.i64(11) != 0;
            r.scan.ref_seq = s.i64(12);
            r.scan.epoch = s.i64(13);
            out.push_back(std::move(r));
        }
        return out;
    }

    Result<std::int64_t> scan_count() override {
        std::lock_guard lock(mu_);
        Stmt s(db_, "SELECT count(*) FROM scans");
        auto row = s.step();
        if (!row) return fail(row.error());
        return s.i64(0);
    }

    Result<std::vector<HourCount>> scans_per_hour(std::int64_t since) override {
        std::lock_guard lock(mu_);
        Stmt s(db_,
               "SELECT (time / 3600) * 3600 AS h, count(*) FROM scans WHERE time >= ?1 AND manual = 0 "
               "GROUP BY h ORDER BY h");
        s.bind(1, since);
        std::vector<HourCount> out;
        for (;;) {
            auto row = s.step();
            if (!row) return fail(row.error());
            if (!*row) break;
            out.push_back({s.i64(0), s.i64(1)});
        }
        return out;
    }

    Status set_statuses(const std::vector<StatusEntry>& entries, std::int64_t now) override {
        std::lock_guard lock(mu_);
        return transaction([&]() -> Status {
            Stmt s(db_,
                   "INSERT OR REPLACE INTO statuses(pass_id, status, reason, updated_at) "
                   "VALUES(?1, ?2, ?3, ?4)");
            for (const auto& e : entries) {
                CP_TRY(s.bind(1, e.pass_id).bind(2, std::string_view(to_string(e.status)))
                           .bind(3, e.reason).bind(4, now).run());
                s.reset();
            }
            return {};
        });
    }

    Result<std::vector<StatusEntry>> read_entries(const char* sql) {
        Stmt s(db_, sql);
        std::vector<StatusEntry> out;
        for (;;) {
            auto row = s.step();
            if (!row) return fail(row.error());
            if (!*row) break;
            auto st = parse_pass_status(s.text(1));
            if (!st) return fail(ErrorKind::internal, "status", "bad status in store");
            out.push_back({s.text(0), *st, s.text(2), s.i64(3)});
        }
        return out;
    }

    Result<std::vector<StatusEntry>> statuses() override {
        std::lock_guard lock(mu_);
        return read_entries(
            "SELECT pass_id, status, reason, updated_at FROM statuses ORDER BY pass_id");
    }

    Result<std::int64_t> latest_list_version() override {
        std::lock_guard lock(mu_);
        return latest_version_locked();
    }

    Result<std::int64_t> latest_version_locked() {
        Stmt s(db_, "SELECT coalesce(max(version), 0) FROM list_versions");
        auto row = s.step();
        if (!row) return fail(row.error());
        return s.i64(0);
    }

    Status publish_list(const ListVersion& v, const std::vector<StatusEntry>& entries) override {
        std::lock_guard lock(mu_);
        return transaction([&]() -> Status {
            auto latest = latest_version_locked();
            if (!latest) return fail(latest.error());
            if (v.version != *latest + 1)
                return fail(ErrorKind::rejected, "version",
                            "expected version " + std::to_string(*latest + 1));
            Stmt s(db_,
                   "INSERT INTO list_versions(version, published_at, entries, changes, snapshot, "
                   "delta) VALUES(?1, ?2, ?3, ?4, ?5, ?6)");
            CP_TRY(s.bind(1, v.version).bind(2, v.published_at).bind(3, v.entries)
                       .bind(4, v.changes).bind(5, v.snapshot).bind(6, v.delta).run());
            CP_TRY(exec("DELETE FROM published_entries"));
            Stmt e(db_, "INSERT INTO published_entries(pass_id, status, reason) VALUES(?1, ?2, ?3)");
            for (const auto& en : entries) {
                CP_TRY(e.bind(1, en.pass_id).bind(2, std::string_view(to_string(en.status)))
                           .bind(3, en.reason).run());
                e.reset();
            }
            return {};
        });
    }

    Status for_each_status(StatusSet set, const StatusVisitor& fn) override {
        std::lock_guard lock(mu_);
        // One statement: a consistent read of the set while it runs.
        Stmt s(db_, set == StatusSet::working
                        ? "SELECT pass_id, status, reason, updated_at FROM statuses ORDER BY pass_id"
                        : "SELECT pass_id, status, reason, 0 FROM published_entries ORDER BY pass_id");
        for (;;) {
            auto row = s.step();
            if (!row) return fail(row.error());
            if (!*row) return {};
            auto st = parse_pass_status(s.text(1));
            if (!st) return fail(ErrorKind::internal, "status", "bad status in store");
            CP_TRY(fn(StatusEntry{s.text(0), *st, s.text(2), s.i64(3)}));
        }
    }

    // Copies a file into the blob column `column` of list_versions row `version`
    // (made with zeroblob of the file's size), in 1 MiB pieces.
    Status blob_from_file(const char* column, std::int64_t version, const std::string& path, std::int64_t size) {
        if (size == 0) return {};
        std::FILE* f = std::fopen(path.c_str(), "rb");
        if (!f) return fail(ErrorKind::io, "read", "cannot open " + path);
        sqlite3_blob* blob = nullptr;
        if (sqlite3_blob_open(db_, "main", "list_versions", column, version, 1, &blob) != SQLITE_OK) {
            std::fclose(f);
            return fail(ErrorKind::io, "sqlite", sqlite3_errmsg(db_));
        }
        std::vector<unsigned char> buf(std::size_t{1} << 20);
        std::int64_t at = 0;
        Status st;
        while (at < size) {
            const std::size_t n = std::fread(buf.data(), 1, buf.size(), f);
            if (n == 0 || at + static_cast<std::int64_t>(n) > size) {
                st = fail(ErrorKind::io, "read", "cannot read " + path);
                break;
            }
            if (sqlite3_blob_write(blob, buf.data(), static_cast<int>(n), static_cast<int>(at)) != SQLITE_OK) {
                st = fail(ErrorKind::io, "sqlite", sqlite3_errmsg(db_));
                break;
            }
            at += static_cast<std::int64_t>(n);
        }
        sqlite3_blob_close(blob);
        std::fclose(f);
        return st;
    }

    Status publish_list_files(const ListVersion& v, const std::string& snapshot_file, const std::string& delta_file,
                              const StatusStream& entries) override {
        std::error_code ec;
        const auto snap_size = static_cast<std::int64_t>(std::filesystem::file_size(snapshot_file, ec));
        if (ec) return fail(ErrorKind::io, "read", "cannot read " + snapshot_file);
        const auto delta_size = static_cast<std::int64_t>(std::filesystem::file_size(delta_file, ec));
        if (ec) return fail(ErrorKind::io, "read", "cannot read " + delta_file);
        // A SQLite blob is at most 2 GiB (a 97-million-entry snapshot).
        if (snap_size >= (std::int64_t{1} << 31) || delta_size >= (std::int64_t{1} << 31))
            return fail(ErrorKind::invalid_input, "list-format", "signed list over 2 GiB");
        std::lock_guard lock(mu_);
        return transaction([&]() -> Status {
            auto latest = latest_version_locked();
            if (!latest) return fail(latest.error());
            if (v.version != *latest + 1)
                return fail(ErrorKind::rejected, "version", "expected version " + std::to_string(*latest + 1));
            Stmt s(db_,
                   "INSERT INTO list_versions(version, published_at, entries, changes, snapshot, "
                   "delta) VALUES(?1, ?2, ?3, ?4, zeroblob(?5), zeroblob(?6))");
            CP_TRY(s.bind(1, v.version).bind(2, v.published_at).bind(3, v.entries)
                       .bind(4, v.changes).bind(5, snap_size).bind(6, delta_size).run());
            CP_TRY(blob_from_file("snapshot", v.version, snapshot_file, snap_size));
            CP_TRY(blob_from_file("delta", v.version, delta_file, delta_size));
            CP_TRY(exec("DELETE FROM published_entries"));
            Stmt e(db_, "INSERT INTO published_entries(pass_id, status, reason) VALUES(?1, ?2, ?3)");
            return entries([&](const StatusEntry& en) -> Status {
                CP_TRY(e.bind(1, en.pass_id).bind(2, std::string_view(to_string(en.status)))
                           .bind(3, en.reason).run());
                e.reset();
                return {};
            });
        });
    }

    Result<std::int64_t> prune_list_versions(std::int64_t keep_deltas) override {
        if (keep_deltas < 1) return fail(ErrorKind::invalid_input, "keep-deltas", "keep at least one delta");
        std::lock_guard lock(mu_);
        std::int64_t removed = 0;
        auto st = transaction([&]() -> Status {
            auto latest = latest_version_locked();
            if (!latest) return fail(latest.error());
            Stmt d(db_, "DELETE FROM list_versions WHERE version <= ?1");
            CP_TRY(d.bind(1, *latest - keep_deltas).run());
            removed = sqlite3_changes(db_);
            Stmt u(db_, "UPDATE list_versions SET snapshot = zeroblob(0) WHERE version < ?1 AND length(snapshot) > 0");
            return u.bind(1, *latest).run();
        });
        if (!st) return fail(st.error());
        return removed;
    }

    Result<std::vector<StatusEntry>> published_entries() override {
        std::lock_guard lock(mu_);
        return read_entries(
            "SELECT pass_id, status, reason, 0 FROM published_entries ORDER BY pass_id");
    }

    Result<std::optional<ListVersion>> list_version(std::int64_t version) override {
        std::lock_guard lock(mu_);
        Stmt s(db_,
               "SELECT version, published_at, entries, changes, snapshot, delta FROM list_versions "
               "WHERE version = ?1");
        s.bind(1, version);
        auto row = s.step();
        if (!row) return fail(row.error());
        if (!*row) return std::optional<ListVersion>();
        ListVersion v;
        v.version = s.i64(0);
        v.published_at = s.i64(1);
        v.entries = s.i64(2);
        v.changes = s.i64(3);
        v.snapshot = s.blob(4);
        v.delta = s.blob(5);
        return std::optional<ListVersion>(std::move(v));
    }

    Status add_issuer(const std::string& fingerprint, const Bytes& cert_der,
                      std::int64_t now) override {
        std::lock_guard lock(mu_);
        Stmt s(db_, "INSERT OR REPLACE INTO issuers(fingerprint, cert, added_at) VALUES(?1, ?2, ?3)");
        return s.bind(1, fingerprint).bind(2, cert_der).bind(3, now).run();
    }
    Status remove_issuer(const std::string& fingerprint) override {
        std::lock_guard lock(mu_);
        Stmt s(db_, "DELETE FROM issuers WHERE fingerprint = ?1");
        CP_TRY(s.bind(1, fingerprint).run());
        if (sqlite3_changes(db_) == 0) return fail(ErrorKind::not_found, "issuer", fingerprint);
        return {};
    }
    Result<std::vector<Bytes>> issuers() override {
        std::lock_guard lock(mu_);
        Stmt s(db_, "SELECT cert FROM issuers ORDER BY fingerprint");
        std::vector<Bytes> out;
        for (;;) {
            auto row = s.step();
            if (!row) return fail(row.error());
            if (!*row) break;
            out.push_back(s.blob(0));
        }
        return out;
    }
    Status add_trust_version(const TrustVersion& t) override {
        std::lock_guard lock(mu_);
        Stmt s(db_, "INSERT INTO trust_versions(version, published_at, signed) VALUES(?1, ?2, ?3)");
        return s.bind(1, t.version).bind(2, t.published_at).bind(3, t.signed_list).run();
    }
    Result<std::optional<TrustVersion>> latest_trust() override {
        std::lock_guard lock(mu_);
        Stmt s(db_,
               "SELECT version, published_at, signed FROM trust_versions ORDER BY version DESC "
               "LIMIT 1");
        auto row = s.step();
        if (!row) return fail(row.error());
        if (!*row) return std::optional<TrustVersion>();
        return std::optional<TrustVersion>(TrustVersion{s.i64(0), s.i64(1), s.blob(2)});
    }

private:
    sqlite3* db_;
    std::mutex mu_;
};

}  // namespace

Result<int> sqlite_synchronous(UpstreamStore& store) {
    auto* s = dynamic_cast<SqliteStore*>(&store);
    if (!s) return fail(ErrorKind::invalid_input, "store", "not a SQLite store");
    return s->synchronous();
}

Result<std::unique_ptr<UpstreamStore>> open_sqlite_store(const std::string& path) {
    sqlite3* db = nullptr;
    int rc = sqlite3_open_v2(path.c_str(), &db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                             nullptr);
    if (rc != SQLITE_OK) {
        std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
        sqlite3_close_v2(db);
        return fail(ErrorKind::io, "sqlite-open", path + ": " + msg);
    }
    sqlite3_busy_timeout(db, 5000);
    auto store = std::make_unique<SqliteStore>(db);
    auto st = store->exec(kSchema);
    if (!st) return fail(ErrorKind::io, "sqlite-schema", st.error().message);
    if (auto m = store->migrate(); !m) return fail(ErrorKind::io, "sqlite-schema", m.error().message);
    if (auto i = store->exec(kIndexes); !i) return fail(ErrorKind::io, "sqlite-schema", i.error().message);
    return std::unique_ptr<UpstreamStore>(std::move(store));
}

}  // namespace cp::upstream
