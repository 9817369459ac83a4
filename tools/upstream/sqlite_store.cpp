// UpstreamStore on SqlDb (sql_db.hpp): the same SQL on SQLite (one file, WAL) and on
// PostgreSQL (pg_store.cpp adds its schema and scan partitions); one connection
// behind a mutex per store (SQLite serialises writers anyway; one connection keeps
// transactions simple; PostgreSQL replicas are separate processes).
#include "src/common/enum_names.hpp"
#include "src/common/time.hpp"
#include "tools/upstream/pg_store.hpp"
#include "tools/upstream/sql_migrations.hpp"
#include "tools/upstream/store.hpp"
#include "tools/upstream/store_rows.hpp"
#include "tools/upstream/reasons.hpp"

#include <charconv>
#include <cstdio>
#include <filesystem>
#include <iterator>
#include <mutex>
#include <string_view>

namespace cp::upstream {

namespace {
constexpr EnumNames<PassStatus, 3> kPassStatusNames{
    {{{PassStatus::green, "green"}, {PassStatus::yellow, "yellow"}, {PassStatus::red, "red"}}}};
}  // namespace

const char* to_string(PassStatus s) noexcept { return kPassStatusNames.name(s); }
std::optional<PassStatus> parse_pass_status(std::string_view text) { return kPassStatusNames.parse(text); }

namespace {

// The scans table as it is today (after "CREATE TABLE"): one text for step 1 and
// for the rebuild of stores from before epochs, so the two cannot drift apart.
#define CP_SCANS_TABLE \
    "scans(\n" \
    "  device_id TEXT NOT NULL, epoch INTEGER NOT NULL DEFAULT 0, seq INTEGER NOT NULL, scan_id TEXT NOT NULL,\n" \
    "  pass_id TEXT NOT NULL, verdict TEXT NOT NULL, reason TEXT NOT NULL,\n" \
    "  temperature_c REAL, time INTEGER NOT NULL, lane TEXT NOT NULL,\n" \
    "  received_at INTEGER NOT NULL, alert INTEGER NOT NULL,\n" \
    "  manual INTEGER NOT NULL DEFAULT 0, ref_seq INTEGER NOT NULL DEFAULT 0,\n" \
    "  PRIMARY KEY(device_id, epoch, seq));\n"

// Step 1 for SQLite: the tables as they are today, IF NOT EXISTS because stores
// written before numbered migrations have them already (without the record).
constexpr const char* kTables = R"sql(
CREATE TABLE IF NOT EXISTS devices(
  id TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, enrolled_at INTEGER NOT NULL,
  revoked INTEGER NOT NULL DEFAULT 0, revoked_at INTEGER NOT NULL DEFAULT 0,
  acked_seq INTEGER NOT NULL DEFAULT 0, last_seen INTEGER NOT NULL DEFAULT 0,
  conflicts INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS )sql" CP_SCANS_TABLE R"sql(CREATE TABLE IF NOT EXISTS device_epochs(
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
  server_time_ms INTEGER NOT NULL, journal_epoch INTEGER NOT NULL DEFAULT 0,
  lost_rows INTEGER NOT NULL DEFAULT 0, lost_journals INTEGER NOT NULL DEFAULT 0,
  sync_faults INTEGER NOT NULL DEFAULT 0);
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

// Step 2 (after the upgrades of stores from before epochs, which rebuild scans).
constexpr const char* kIndexes = R"sql(
CREATE INDEX IF NOT EXISTS scans_received ON scans(received_at);
CREATE INDEX IF NOT EXISTS scans_alert ON scans(alert) WHERE alert = 1;
)sql";

const Migration kSteps[] = {
    {1, "devices-scans-lists", kTables, kPgTables},
    {2, "scan-indexes", kIndexes, kPgIndexes},
};

// A store from before journal epochs keyed scans by (device, seq): rebuilt with
// epoch 0 for every row (the old devices' epoch), rowids kept (dashboard cursors).
constexpr const char* kMigrateScansToEpochs = R"sql(
ALTER TABLE scans RENAME TO scans_before_epochs;
CREATE TABLE )sql" CP_SCANS_TABLE R"sql(INSERT INTO scans(rowid, device_id, epoch, seq, scan_id, pass_id, verdict, reason, temperature_c, time,
                  lane, received_at, alert, manual, ref_seq)
  SELECT rowid, device_id, 0, seq, scan_id, pass_id, verdict, reason, temperature_c, time,
         lane, received_at, alert, manual, ref_seq FROM scans_before_epochs ORDER BY rowid;
DROP TABLE scans_before_epochs;
INSERT OR IGNORE INTO device_epochs(device_id, epoch, acked_seq) SELECT id, 0, acked_seq FROM devices;
)sql";
#undef CP_SCANS_TABLE


// A guard's resolution is not a new event at the gate: never an alert.
bool is_alert(const Scan& s) {
    return !s.manual &&
           (s.verdict == "red" || s.reason == reason::scan_fever.view() ||
            s.reason == reason::scan_status_red.view());
}

class SqlStore final : public UpstreamStore {
public:
    SqlStore(std::unique_ptr<SqlDb> db, StoreOptions opts) : owned_(std::move(db)), db_(owned_.get()), opts_(opts) {}
    SqlStore(const SqlStore&) = delete;
    SqlStore& operator=(const SqlStore&) = delete;

    Dialect dialect() const { return db_->dialect(); }
    SqlDb& db() { return *db_; }
    std::mutex& mutex() { return mu_; }

    Status exec(const char* sql) { return db_->exec(sql); }

    template <typename F>
    auto transaction(F&& body) -> decltype(body()) {
        return db_->transaction(std::forward<F>(body));
    }

    Result<bool> has_column(const char* table, const char* column) {
        Stmt s(db_, "SELECT count(*) FROM pragma_table_info(?1) WHERE name = ?2");
        s.bind(1, std::string_view(table)).bind(2, std::string_view(column));
        auto n = scalar_i64(s);
        if (!n) return fail(n.error());
        return *n > 0;
    }

    // Brings a store to the current schema: numbered steps (sql_migrations.hpp); on
    // SQLite, between them, the upgrades of files written before the steps existed.
    Status migrate(std::int64_t now) {
        std::lock_guard lock(mu_);
        CP_TRY(apply_migrations(*db_, "store_migrations", kSteps, 1, now));
        if (dialect() == Dialect::sqlite) CP_TRY(upgrade_legacy_sqlite());
        CP_TRY(apply_migrations(*db_, "store_migrations", kSteps, std::size(kSteps), now));
        if (dialect() == Dialect::postgresql) CP_TRY(pg_maintain_scan_partitions(*db_, now, opts_));
        return {};
    }

    Status upgrade_legacy_sqlite() {
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
        if (db_->changes() == 0) return fail(ErrorKind::not_found, reason::device, id);
        return {};
    }

    Status revoke_device(const std::string& id, std::int64_t now) override {
        std::lock_guard lock(mu_);
        Stmt s(db_, "UPDATE devices SET revoked = 1, revoked_at = ?2 WHERE id = ?1");
        CP_TRY(s.bind(1, id).bind(2, now).run());
        if (db_->changes() == 0) return fail(ErrorKind::not_found, reason::device, id);
        return {};
    }

    Result<std::optional<Device>> find_device(const std::string& id) override {
        std::lock_guard lock(mu_);
        Stmt s(db_,
               "SELECT id, fingerprint, enrolled_at, revoked, revoked_at, acked_seq, conflicts FROM devices "
               "WHERE id = ?1");
        s.bind(1, id);
        return optional_row(s, read_device);
    }


    // A row of (pass_id, status, reason, updated_at). Errors: internal "status".
    static Result<StatusEntry> read_status_entry(Stmt& s) {
        auto st = parse_pass_status(s.text(1));
        if (!st) return fail(ErrorKind::internal, reason::status, "bad status in store");
        return StatusEntry{s.text(0), *st, s.text(2), s.i64(3)};
    }

    Result<std::vector<DeviceState>> devices() override {
        std::lock_guard lock(mu_);
        Stmt s(db_, std::string("SELECT ") + kDeviceStateColumns +
                        " FROM devices d LEFT JOIN heartbeats h ON h.device_id = d.id ORDER BY d.id");
        std::vector<DeviceState> out;
        CP_TRY(each_row(s, [&](Stmt& r) { out.push_back(read_device_state(r)); }));
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
        if (dialect() == Dialect::postgresql && !scans.empty()) {
            // Partitions for the coming days (and the retention), once a day per process.
            const std::int64_t day = scans.front().received_at / 86400;
            if (day != partitions_checked_day_) {
                CP_TRY(pg_maintain_scan_partitions(*db_, scans.front().received_at, opts_));
                partitions_checked_day_ = day;
            }
        }
        return transaction([&]() -> Result<IngestResult> {
            IngestResult res;
            const std::int64_t epoch = scans.empty() ? 0 : scans.front().epoch;
            res.epoch = epoch;
            // PostgreSQL: the device's row lock serialises its batches (SQLite's
            // IMMEDIATE transaction serialises every writer), so the existence check
            // below cannot race: partitioned scans have no unique (device, epoch, seq).
            if (dialect() == Dialect::postgresql) {
                Stmt w(db_, "SELECT pg_advisory_xact_lock_shared(?1)");
                CP_TRY(w.bind(1, kScanWriteLockKey).run());
            }
            Stmt dev(db_, dialect() == Dialect::postgresql ? "SELECT 1 FROM devices WHERE id = ?1 FOR UPDATE"
                                                           : "SELECT 1 FROM devices WHERE id = ?1");
            dev.bind(1, device_id);
            auto known = dev.step();
            if (!known) return fail(known.error());
            if (!*known) return fail(ErrorKind::not_found, reason::device, device_id);
            Stmt ins(db_,
                     "INSERT INTO scans(device_id, epoch, seq, scan_id, pass_id, verdict, reason, "
                     "temperature_c, time, lane, received_at, alert, manual, ref_seq) "
                     "SELECT ?1, ?14, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13 WHERE NOT EXISTS "
                     "(SELECT 1 FROM scans WHERE device_id = ?1 AND epoch = ?14 AND seq = ?2)");
            Stmt existing(db_,
                          "SELECT scan_id, pass_id, verdict, reason, temperature_c, time, lane, manual, ref_seq "
                          "FROM scans WHERE device_id = ?1 AND epoch = ?2 AND seq = ?3");
            Stmt keep(db_,
                      "INSERT INTO scan_conflicts(device_id, epoch, seq, scan_id, pass_id, verdict, reason, "
                      "temperature_c, time, lane, received_at, manual, ref_seq) "
                      "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)");
            for (const Scan& sc : scans) {
                if (sc.device_id != device_id)
                    return fail(ErrorKind::invalid_input, reason::device, "scan of another device");
                if (sc.epoch != epoch)
                    return fail(ErrorKind::invalid_input, reason::epoch, "one epoch per batch");
                ins.bind(1, sc.device_id).bind(2, sc.seq).bind(3, sc.scan_id).bind(4, sc.pass_id)
                    .bind(5, sc.verdict).bind(6, sc.reason).bind(7, sc.temperature_c)
                    .bind(8, sc.time).bind(9, sc.lane).bind(10, sc.received_at)
                    .bind(11, std::int64_t{is_alert(sc) ? 1 : 0})
                    .bind(12, std::int64_t{sc.manual ? 1 : 0}).bind(13, sc.ref_seq).bind(14, sc.epoch);
                CP_TRY(ins.run());
                ins.reset();
                if (db_->changes() == 1) {
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
               "INSERT INTO heartbeats(device_id, firmware, list_version, backlog, "
               "sensors, device_time_ms, server_time_ms, journal_epoch, lost_rows, lost_journals, "
               "sync_faults) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) "
               "ON CONFLICT(device_id) DO UPDATE SET firmware = ?2, list_version = ?3, backlog = ?4, "
               "sensors = ?5, device_time_ms = ?6, server_time_ms = ?7, journal_epoch = ?8, "
               "lost_rows = ?9, lost_journals = ?10, sync_faults = ?11");
        return s.bind(1, hb.device_id).bind(2, hb.firmware).bind(3, hb.list_version)
            .bind(4, hb.backlog).bind(5, hb.sensors_json).bind(6, hb.device_time_ms)
            .bind(7, hb.server_time_ms).bind(8, hb.journal_epoch).bind(9, hb.lost_rows)
            .bind(10, hb.lost_journals).bind(11, hb.sync_faults).run();
    }

    Result<std::vector<ScanRow>> scans(std::size_t limit, std::int64_t after_rowid,
                                       bool alerts_only, const std::string& device) override {
        std::lock_guard lock(mu_);
        Stmt s(db_, std::string("SELECT ") + kScanColumns +
                        " FROM scans s WHERE s.rowid > ?1 AND (?2 = 0 OR s.alert = 1) "
                        "AND (?3 = '' OR s.device_id = ?3) ORDER BY s.rowid DESC LIMIT ?4");
        s.bind(1, after_rowid).bind(2, std::int64_t{alerts_only ? 1 : 0}).bind(3, device)
            .bind(4, static_cast<std::int64_t>(limit));
        std::vector<ScanRow> out;
        CP_TRY(each_row(s, [&](Stmt& r) { out.push_back(read_scan_row(r)); }));
        return out;
    }

    Result<std::int64_t> scan_count() override {
        std::lock_guard lock(mu_);
        Stmt s(db_, "SELECT count(*) FROM scans");
        return scalar_i64(s);
    }

    Result<std::vector<HourCount>> scans_per_hour(std::int64_t since) override {
        std::lock_guard lock(mu_);
        Stmt s(db_,
               "SELECT (time / 3600) * 3600 AS h, count(*) FROM scans WHERE time >= ?1 AND manual = 0 "
               "GROUP BY h ORDER BY h");
        s.bind(1, since);
        std::vector<HourCount> out;
        CP_TRY(each_row(s, [&](Stmt& r) { out.push_back({r.i64(0), r.i64(1)}); }));
        return out;
    }

    Status set_statuses(const std::vector<StatusEntry>& entries, std::int64_t now) override {
        std::lock_guard lock(mu_);
        return transaction([&]() -> Status {
            Stmt s(db_,
                   "INSERT INTO statuses(pass_id, status, reason, updated_at) VALUES(?1, ?2, ?3, ?4) "
                   "ON CONFLICT(pass_id) DO UPDATE SET status = ?2, reason = ?3, updated_at = ?4");
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
        CP_TRY(each_row(s, [&](Stmt& r) -> Status {
            auto e = read_status_entry(r);
            if (!e) return fail(e.error());
            out.push_back(std::move(*e));
            return {};
        }));
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
        return scalar_i64(s);
    }

    Status publish_list(const ListVersion& v, const std::vector<StatusEntry>& entries) override {
        std::lock_guard lock(mu_);
        return publish_locked(v, v.snapshot, v.delta, [&](const StatusVisitor& fn) -> Status {
            for (const auto& en : entries) CP_TRY(fn(en));
            return {};
        });
    }

    // One publication in one transaction: the version row with its signed files, then
    // the published set from `entries`. Errors: rejected "version" when `v` is not the
    // next version, rejected publish-busy (PostgreSQL) while another replica publishes.
    // The signed files of a publication: in memory, or (SQLite) files on disk that go
    // into the row a buffer at a time.
    struct SignedFiles {
        const Bytes* snapshot = nullptr;
        const Bytes* delta = nullptr;
        std::string snapshot_file, delta_file;
        std::int64_t snapshot_size = 0, delta_size = 0;
    };

    Status publish_locked(const ListVersion& v, const Bytes& snapshot, const Bytes& delta,
                          const StatusStream& entries) {
        return publish_locked(v, SignedFiles{&snapshot, &delta, {}, {}, 0, 0}, entries);
    }
    Status publish_locked(const ListVersion& v, const SignedFiles& files, const StatusStream& entries) {
        return transaction([&]() -> Status {
            CP_TRY(take_publish_lock());
            auto latest = latest_version_locked();
            if (!latest) return fail(latest.error());
            if (v.version != *latest + 1)
                return fail(ErrorKind::rejected, reason::version, "expected version " + std::to_string(*latest + 1));
            if (files.snapshot) {
                Stmt s(db_,
                       "INSERT INTO list_versions(version, published_at, entries, changes, snapshot, "
                       "delta) VALUES(?1, ?2, ?3, ?4, ?5, ?6)");
                CP_TRY(s.bind(1, v.version).bind(2, v.published_at).bind(3, v.entries)
                           .bind(4, v.changes).bind(5, *files.snapshot).bind(6, *files.delta).run());
            } else {
                Stmt s(db_,
                       "INSERT INTO list_versions(version, published_at, entries, changes, snapshot, "
                       "delta) VALUES(?1, ?2, ?3, ?4, zeroblob(?5), zeroblob(?6))");
                CP_TRY(s.bind(1, v.version).bind(2, v.published_at).bind(3, v.entries)
                           .bind(4, v.changes).bind(5, files.snapshot_size).bind(6, files.delta_size).run());
                CP_TRY(db_->write_blob_from_file("list_versions", "snapshot", v.version, files.snapshot_file));
                CP_TRY(db_->write_blob_from_file("list_versions", "delta", v.version, files.delta_file));
            }
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

    Status for_each_status(StatusSet set, const StatusVisitor& fn) override {
        std::lock_guard lock(mu_);
        // One statement: a consistent read of the set while it runs.
        Stmt s(db_, set == StatusSet::working
                        ? "SELECT pass_id, status, reason, updated_at FROM statuses ORDER BY pass_id"
                        : "SELECT pass_id, status, reason, 0 FROM published_entries ORDER BY pass_id");
        return each_row(s, [&](Stmt& r) -> Status {
            auto e = read_status_entry(r);
            if (!e) return fail(e.error());
            return fn(std::move(*e));
        });
    }

    // Replicas on one PostgreSQL: one publisher at a time; the others are told so at
    // once instead of queueing behind it to fail on the version. Inside a transaction.
    Status take_publish_lock() {
        if (dialect() != Dialect::postgresql) return {};
        Stmt one(db_, "SELECT pg_try_advisory_xact_lock(?1)");
        one.bind(1, kPublishLockKey);
        auto got = one.step();
        if (!got) return fail(got.error());
        if (!*got || one.i64(0) == 0)
            return fail(ErrorKind::rejected, sql_reason::publish_busy, "another replica is publishing");
        return {};
    }

    // The signed files are read whole (their size, not the working set's: the entries
    // themselves stream from `entries`).
    static Result<std::int64_t> signed_file_size(const std::string& path) {
        std::error_code ec;
        const auto size = std::filesystem::file_size(path, ec);
        if (ec) return fail(ErrorKind::io, reason::read, "cannot read " + path);
        // A SQLite blob is at most 2 GiB (a 97-million-entry snapshot).
        if (size >= (std::uintmax_t{1} << 31)) return fail(ErrorKind::invalid_input, reason::list_format, "signed list over 2 GiB");
        return static_cast<std::int64_t>(size);
    }
    static Result<Bytes> read_signed_file(const std::string& path) {
        auto sz = signed_file_size(path);
        if (!sz) return fail(sz.error());
        const auto size = static_cast<std::uintmax_t>(*sz);
        std::FILE* f = std::fopen(path.c_str(), "rb");
        if (!f) return fail(ErrorKind::io, reason::read, "cannot open " + path);
        Bytes out(static_cast<std::size_t>(size));
        const std::size_t n = out.empty() ? 0 : std::fread(out.data(), 1, out.size(), f);
        std::fclose(f);
        if (n != out.size()) return fail(ErrorKind::io, reason::read, "cannot read " + path);
        return out;
    }

    Status publish_list_files(const ListVersion& v, const std::string& snapshot_file, const std::string& delta_file,
                              const StatusStream& entries) override {
        if (dialect() == Dialect::sqlite) {
            // From disk into the row (incremental blob I/O): reading the files whole,
            // then binding and recording them, held three copies of the snapshot
            // (650 MiB at 10 million entries).
            auto snap_size = signed_file_size(snapshot_file);
            if (!snap_size) return fail(snap_size.error());
            auto delta_size = signed_file_size(delta_file);
            if (!delta_size) return fail(delta_size.error());
            std::lock_guard lock(mu_);
            return publish_locked(v, SignedFiles{nullptr, nullptr, snapshot_file, delta_file, *snap_size, *delta_size},
                                  entries);
        }
        auto snapshot = read_signed_file(snapshot_file);
        if (!snapshot) return fail(snapshot.error());
        auto delta = read_signed_file(delta_file);
        if (!delta) return fail(delta.error());
        std::lock_guard lock(mu_);
        return publish_locked(v, *snapshot, *delta, entries);
    }

    Result<std::int64_t> prune_list_versions(std::int64_t keep_deltas) override {
        if (keep_deltas < 1) return fail(ErrorKind::invalid_input, reason::keep_deltas, "keep at least one delta");
        std::lock_guard lock(mu_);
        std::int64_t removed = 0;
        auto st = transaction([&]() -> Status {
            auto latest = latest_version_locked();
            if (!latest) return fail(latest.error());
            Stmt d(db_, "DELETE FROM list_versions WHERE version <= ?1");
            CP_TRY(d.bind(1, *latest - keep_deltas).run());
            removed = db_->changes();
            Stmt u(db_, "UPDATE list_versions SET snapshot = ?2 WHERE version < ?1 AND length(snapshot) > 0");
            return u.bind(1, *latest).bind(2, Bytes{}).run();
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
        return optional_row(s, [](Stmt& r) {
            ListVersion v;
            r.read(0, v.version, v.published_at, v.entries, v.changes, v.snapshot, v.delta);
            return v;
        });
    }

    Result<std::optional<Bytes>> list_file(std::int64_t version, ListFile which) override {
        std::lock_guard lock(mu_);
        Stmt s(db_, which == ListFile::snapshot ? "SELECT snapshot FROM list_versions WHERE version = ?1"
                                                : "SELECT delta FROM list_versions WHERE version = ?1");
        s.bind(1, version);
        return optional_row(s, [](Stmt& r) { return r.blob(0); });
    }

    Status add_issuer(const std::string& fingerprint, const Bytes& cert_der,
                      std::int64_t now) override {
        std::lock_guard lock(mu_);
        Stmt s(db_, "INSERT INTO issuers(fingerprint, cert, added_at) VALUES(?1, ?2, ?3) "
                    "ON CONFLICT(fingerprint) DO UPDATE SET cert = ?2, added_at = ?3");
        return s.bind(1, fingerprint).bind(2, cert_der).bind(3, now).run();
    }
    Status remove_issuer(const std::string& fingerprint) override {
        std::lock_guard lock(mu_);
        Stmt s(db_, "DELETE FROM issuers WHERE fingerprint = ?1");
        CP_TRY(s.bind(1, fingerprint).run());
        if (db_->changes() == 0) return fail(ErrorKind::not_found, reason::issuer, fingerprint);
        return {};
    }
    Result<std::vector<Bytes>> issuers() override {
        std::lock_guard lock(mu_);
        Stmt s(db_, "SELECT cert FROM issuers ORDER BY fingerprint");
        std::vector<Bytes> out;
        CP_TRY(each_row(s, [&](Stmt& r) { out.push_back(r.blob(0)); }));
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
        return optional_row(s, [](Stmt& r) { return TrustVersion{r.i64(0), r.i64(1), r.blob(2)}; });
    }

private:
    std::unique_ptr<SqlDb> owned_;
    SqlDb* db_;
    StoreOptions opts_;
    std::mutex mu_;
    std::int64_t partitions_checked_day_ = 0;  // PostgreSQL: the day maintenance last ran
};

}  // namespace

UpstreamStore::ScanRow read_scan_row(Stmt& s) {
    UpstreamStore::ScanRow r;
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
    return r;
}

Result<int> sqlite_synchronous(UpstreamStore& store) {
    auto* s = dynamic_cast<SqlStore*>(&store);
    if (!s || s->dialect() != Dialect::sqlite) return fail(ErrorKind::invalid_input, reason::store, "not a SQLite store");
    std::lock_guard lock(s->mutex());
    return sqlite_synchronous(s->db());
}

Result<std::unique_ptr<UpstreamStore>> open_sql_store(std::unique_ptr<SqlDb> db, StoreOptions opts) {
    const bool pg = db->dialect() == Dialect::postgresql;
    auto store = std::make_unique<SqlStore>(std::move(db), opts);
    if (auto m = store->migrate(wall_now_ms() / 1000); !m)
        return fail(ErrorKind::io, pg ? sql_reason::postgresql_schema : sql_reason::sqlite_schema, m.error().message);
    return std::unique_ptr<UpstreamStore>(std::move(store));
}

Result<std::unique_ptr<UpstreamStore>> open_sqlite_store(const std::string& path) {
    auto db = open_sqlite_db(path, true);
    if (!db) return fail(db.error());
    return open_sql_store(std::move(*db), {});
}

Result<StoreOptions> store_options(const std::string& retention_days) {
    StoreOptions o;
    if (retention_days.empty()) return o;
    std::int64_t n = 0;
    auto [end, ec] = std::from_chars(retention_days.data(), retention_days.data() + retention_days.size(), n);
    if (ec != std::errc() || end != retention_days.data() + retention_days.size() || n < 0 || n > 36500)
        return fail(ErrorKind::config, reason::scan_retention_days, "a whole number of days, 0..36500");
    o.scan_retention_days = n;
    return o;
}

Result<std::unique_ptr<UpstreamStore>> open_store(const std::string& db, StoreOptions opts) {
    if (is_pg_url(db)) return open_pg_store(db, opts);
    auto s = open_sqlite_db(db, true);
    if (!s) return fail(s.error());
    return open_sql_store(std::move(*s), opts);
}

}  // namespace cp::upstream
