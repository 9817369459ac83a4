// Storage of the reference upstream (command centre): enrolled devices, uploaded
// scans, heartbeats, pass statuses and published list versions.
//
// One implementation on two SQL backends (sql_db.hpp): SQLite, the default (one
// file, WAL), and PostgreSQL for a city (several replicas on one database).
// Implementations are thread-safe: the HTTPS server calls them from its worker pool.
#pragma once

#include "src/common/bytes.hpp"
#include "src/common/result.hpp"
#include "tools/upstream/reasons.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace cp::upstream {

struct Device {
    std::string id;             // certificate subject CN
    std::string fingerprint;    // SHA-256 of the certificate DER, 64 lower-case hex digits
    std::int64_t enrolled_at = 0;   // seconds since epoch
    bool revoked = false;
    std::int64_t revoked_at = 0;
    std::int64_t acked_seq = 0;     // highest contiguous scan sequence stored in the last epoch uploaded (0: none)
    std::int64_t conflicts = 0;     // rows received with another content under a stored (epoch, seq)
};

// One scan decision as uploaded by a device (no personal data: see architecture.md).
struct Scan {
    std::string device_id;
    std::int64_t seq = 0;          // journal sequence within the epoch, 1, 2, 3, ...
    std::string scan_id;           // device-made unique id of the scan
    std::string pass_id;           // 32 hex digits, or empty when no pass was read
    std::string verdict;           // "green", "yellow", "red", "reject"
    std::string reason;            // typed reason ("status-red", "fever", "signature", ...)
    std::optional<double> temperature_c;
    std::int64_t time = 0;         // device wall time of the scan, seconds since epoch
    std::string lane;
    std::int64_t received_at = 0;  // server time, seconds since epoch
    bool manual = false;           // a guard's resolution of an earlier scan
    std::int64_t ref_seq = 0;      // manual rows: the seq of the scan resolved
    std::int64_t epoch = 0;        // the device journal's generation (0: a device from before epochs)
};

struct IngestResult {
    std::int64_t epoch = 0;       // the epoch of the batch (one per call)
    std::int64_t acked_seq = 0;   // highest contiguous sequence now stored for the device in that epoch
    std::size_t stored = 0;       // rows newly stored by this call
    std::size_t duplicates = 0;   // rows already stored with the same content
    std::size_t conflicts = 0;    // rows whose (device, epoch, seq) is stored with other content:
                                  // kept in scan_conflicts, counted per device, never dropped
};

struct Heartbeat {
    std::string device_id;
    std::string firmware;
    std::int64_t list_version = 0;
    std::int64_t backlog = 0;        // journal rows not yet acknowledged
    std::string sensors_json;        // sensor health as sent, a JSON object
    std::int64_t device_time_ms = 0; // device wall clock when sent
    std::int64_t server_time_ms = 0; // server wall clock when received
    std::int64_t journal_epoch = 0;  // the device journal's current epoch
    std::int64_t lost_rows = 0;      // journal rows the device reports lost (unreadable journal)
    std::int64_t lost_journals = 0;  // journals moved aside that could not be fully read
    std::int64_t sync_faults = 0;    // faults on the device's sync thread since it started
};

struct DeviceState {
    Device device;
    std::optional<Heartbeat> last_heartbeat;
    std::int64_t last_seen = 0;      // seconds since epoch of the last accepted request
};

enum class PassStatus { green, yellow, red };
const char* to_string(PassStatus s) noexcept;
std::optional<PassStatus> parse_pass_status(std::string_view text);

struct StatusEntry {
    std::string pass_id;     // 32 lower-case hex digits
    PassStatus status = PassStatus::green;
    std::string reason;      // short code or text, no personal data
    std::int64_t since = 0;  // s since epoch: when the status was set (working set only)
};

// A published status-list version: the snapshot of every entry and the delta
// from the version before it, both already signed (bytes as served).
struct ListVersion {
    std::int64_t version = 0;
    std::int64_t published_at = 0;
    std::int64_t entries = 0;        // entries in the snapshot
    std::int64_t changes = 0;        // entries in the delta
    Bytes snapshot;
    Bytes delta;                     // from version - 1; empty for version 1
    // Sizes of the signed files (publish_list returns them without the bytes,
    // which may be hundreds of MiB: read those with UpstreamStore::list_version).
    std::int64_t snapshot_size = 0;
    std::int64_t delta_size = 0;
};

// The two signed files of a list version.
enum class ListFile { snapshot, delta };

// Which set of pass statuses for_each_status streams.
enum class StatusSet { working, published };
// Called once per entry by the streaming reads; an error stops the stream and is returned.
using StatusVisitor = std::function<Status(const StatusEntry&)>;
// A stream of entries: calls the visitor for each, in pass-id order.
using StatusStream = std::function<Status(const StatusVisitor&)>;

struct TrustVersion {
    std::int64_t version = 0;
    std::int64_t published_at = 0;
    Bytes signed_list;
};

struct HourCount {
    std::int64_t hour = 0;   // start of the hour, seconds since epoch
    std::int64_t scans = 0;
};

class UpstreamStore {
public:
    virtual ~UpstreamStore() = default;

    // Enrolls (or re-enrolls with a new certificate) a device. A revocation stays:
    // only unrevoke_device() lifts it (an explicit operator action).
    virtual Status enroll_device(const std::string& id, const std::string& fingerprint,
                                 std::int64_t now) = 0;
    // Lifts a revocation. Errors: not_found "device" when the id was never enrolled.
    virtual Status unrevoke_device(const std::string& id, std::int64_t now) {
        (void)id;
        (void)now;
        return fail(ErrorKind::internal, reason::unrevoke, "this store cannot lift a revocation");
    }
    // Errors: not_found "device" when the id was never enrolled.
    virtual Status revoke_device(const std::string& id, std::int64_t now) = 0;
    virtual Result<std::optional<Device>> find_device(const std::string& id) = 0;
    virtual Result<std::vector<DeviceState>> devices() = 0;
    virtual Status touch_device(const std::string& id, std::int64_t now) = 0;

    // Stores scans idempotently by (device, epoch, seq): a row already there with
    // the same content (scan id, pass, verdict, reason, temperature, time, lane,
    // type) is a duplicate; with other content a conflict: the first row stays in
    // scans, the new one is kept in scan_conflicts and counted on the device.
    // All rows must belong to `device_id` and share one epoch (invalid_input
    // "epoch" otherwise). One transaction.
    virtual Result<IngestResult> ingest_scans(const std::string& device_id,
                                              const std::vector<Scan>& scans) = 0;
    virtual Status record_heartbeat(const Heartbeat& hb) = 0;

    // Newest first. `after_rowid` > 0 returns only rows stored after that cursor.
    struct ScanRow {
        std::int64_t rowid = 0;
        Scan scan;
    };
    virtual Result<std::vector<ScanRow>> scans(std::size_t limit, std::int64_t after_rowid,
                                               bool alerts_only, const std::string& device) = 0;
    virtual Result<std::int64_t> scan_count() = 0;
    virtual Result<std::vector<HourCount>> scans_per_hour(std::int64_t since) = 0;

    // Pass statuses: the working set that the next publish signs.
    virtual Status set_statuses(const std::vector<StatusEntry>& entries, std::int64_t now) = 0;
    virtual Result<std::vector<StatusEntry>> statuses() = 0;

    // Published list versions (append-only). `publish_list` stores the version and
    // makes `entries` the published set, in one transaction; it fails with
    // rejected "version" unless v.version is latest + 1.
    virtual Result<std::int64_t> latest_list_version() = 0;
    virtual Status publish_list(const ListVersion& v, const std::vector<StatusEntry>& entries) = 0;
    // The entries signed into the latest version (for computing the next delta).
    virtual Result<std::vector<StatusEntry>> published_entries() = 0;
    virtual Result<std::optional<ListVersion>> list_version(std::int64_t version) = 0;
    // One signed file of a version without the other (a device fetching a 2 MB delta
    // does not read a 220 MB snapshot): nullopt when the version is not stored; empty
    // for version 1's delta and a pruned snapshot. The default goes through
    // list_version; the SQL store reads the one column.
    virtual Result<std::optional<Bytes>> list_file(std::int64_t version, ListFile which);

    // Streaming (lists.hpp publish_list builds a 10-million-entry version with
    // bounded memory through these three; the vector forms above stay for small
    // callers). The defaults below go through the vector forms, so a backend works
    // before it streams; the SQLite store overrides all three.
    //
    // Calls `fn` for every entry of `set` ordered by pass id (byte order of the 32
    // lower-case hex digits), from one consistent read, one row in memory at a
    // time. `since` is 0 for the published set. Stops at fn's first error and
    // returns it. `fn` must not call back into the store (it may hold a lock).
    virtual Status for_each_status(StatusSet set, const StatusVisitor& fn);
    // publish_list with the signed snapshot and delta in files (`v.snapshot` and
    // `v.delta` are ignored; an empty delta file for version 1) and the new
    // published set as a stream, all in one transaction. Errors as publish_list,
    // io "read" when a file cannot be read.
    virtual Status publish_list_files(const ListVersion& v, const std::string& snapshot_file,
                                      const std::string& delta_file, const StatusStream& entries);
    // Keeps the snapshot of the latest version and the deltas of the last
    // `keep_deltas` versions (>= 1); older versions' rows go, the snapshots of the
    // kept older versions are emptied (a device behind the window, or a request
    // for an old snapshot, is sent the latest snapshot). Returns the versions removed.
    virtual Result<std::int64_t> prune_list_versions(std::int64_t keep_deltas);

    // Trust list of pass issuer certificates (DER), and its published versions.
    virtual Status add_issuer(const std::string& fingerprint, const Bytes& cert_der,
                              std::int64_t now) = 0;
    virtual Status remove_issuer(const std::string& fingerprint) = 0;
    virtual Result<std::vector<Bytes>> issuers() = 0;
    virtual Status add_trust_version(const TrustVersion& t) = 0;
    virtual Result<std::optional<TrustVersion>> latest_trust() = 0;
};

struct StoreOptions {
    // PostgreSQL: scan partitions (one per UTC day) older than this many days are
    // dropped; 0 keeps every scan. SQLite keeps every scan.
    std::int64_t scan_retention_days = 0;
    // PostgreSQL: daily scan partitions created ahead of the current day.
    std::int64_t partitions_ahead_days = 7;
};

// Store options from command-line text: `retention_days` empty (keep every scan) or
// 0..36500. Errors: config "scan-retention-days".
Result<StoreOptions> store_options(const std::string& retention_days);

// Opens the store named by `db`: a PostgreSQL connection URI ("postgresql://…",
// "postgresql:///db?host=/run/postgresql") or else a SQLite file path (created if
// missing), applying pending migrations. Errors: io "sqlite-open" / "sqlite-schema"
// / "postgresql-open" / "postgresql-schema".
Result<std::unique_ptr<UpstreamStore>> open_store(const std::string& db, StoreOptions opts = {});

// Opens (creating if missing) the SQLite store at `path`.
// Errors: io "sqlite-open" / "sqlite-schema".
Result<std::unique_ptr<UpstreamStore>> open_sqlite_store(const std::string& path);

// PRAGMA synchronous of a store opened by open_sqlite_store (2: FULL).
// Errors: invalid_input "store" for another backend, io "sqlite".
Result<int> sqlite_synchronous(UpstreamStore& store);

}  // namespace cp::upstream
