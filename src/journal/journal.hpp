// ScanJournal: every decision, durably, before the gate opens (architecture:
// "data that must never be lost"). SQLite in WAL mode with synchronous=FULL, so
// append() returns only after the row is on stable storage.
//
// Personal data: a row holds the pass id (hex), never a name or an ID number;
// append() refuses a pass id that is not 32 hex digits, so free text cannot slip
// in through that field.
//
// Size: when the journal holds more than max_rows rows or max_bytes bytes,
// uploaded rows are pruned oldest first. Rows not yet uploaded are never pruned:
// the journal then grows until the free disk space reaches disk_floor_bytes, and
// append() fails with "disk-full" (the daemon shows it and answers YELLOW).
//
// Thread-safety: all member functions are thread-safe (one internal mutex around
// one SQLite connection): the decide thread appends while the sync thread reads
// batches and marks them uploaded. Only one ScanJournal per file per process;
// another process may read (checkpoint journal tail) thanks to WAL.
#pragma once

#include "src/common/result.hpp"

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

struct sqlite3;

// Error reasons: [io] "corrupt" (integrity check or header fails: the daemon moves the
// file aside and starts a new journal), [io] "disk-full" (the file system or the
// journal's size cap is full), [io] "journal-open" / "journal-read" / "journal-write"
// (any other SQLite failure), [not_found] "journal-missing",
// [invalid_input] "record" (a row that breaks the journal's rules), [not_found] "ref".
namespace cp::journal::reason {
inline constexpr Reason corrupt{"corrupt"};
inline constexpr Reason disk_full{"disk-full"};
inline constexpr Reason journal_missing{"journal-missing"};
inline constexpr Reason journal_open{"journal-open"};
inline constexpr Reason journal_read{"journal-read"};
inline constexpr Reason journal_write{"journal-write"};
inline constexpr Reason record{"record"};
inline constexpr Reason ref{"ref"};
}  // namespace cp::journal::reason

namespace cp::journal {

enum class RowType { scan, manual };

struct ScanRecord {
    // Assigned by append() (ignored on input).
    std::int64_t seq = 0;            // sequence within the journal's epoch, strictly increasing, never reused
    std::int64_t epoch = 0;          // the journal generation the row was written in (ScanJournal::epoch())
    std::string scan_id;             // "<device_id>-<epoch>-<seq>" ("<device_id>-<seq>" in epoch 0), unique across the fleet

    RowType type = RowType::scan;
    std::optional<std::int64_t> ref_seq;  // manual rows: the scan the guard resolved
    std::int64_t wall_ms = 0;        // wall clock, ms since epoch (0: append() fills it in)
    std::int64_t mono_ms = 0;        // CLOCK_MONOTONIC, ms (0: append() fills it in)
    std::string pass_id;             // 32 lower-case hex digits, or empty when unreadable
    std::string format;              // "cp1", "hc1" or empty
    std::string kind;                // "R", "D", "V", "E", "DCC" or empty
    std::string verdict;             // "GREEN", "YELLOW", "RED"
    std::string reason;              // decision reason code ("ok", "fever", ...); manual: guard's reason
    std::optional<double> temperature_c;  // °C, when measured
    std::string lane;                // lane name/mode ("gate", "truck", or a site lane id)
    std::string device_id;
    std::string plate;               // truck lane only
    std::string direction;           // "in", "out" or empty
    bool uploaded = false;           // set by mark_uploaded()
};

enum class IntegrityCheck { none, quick, full };

struct JournalOptions {
    std::string device_id = "cp-0000";          // prefix of scan ids
    std::int64_t max_rows = 1'000'000;          // rows; beyond, uploaded rows are pruned
    std::int64_t max_bytes = 512LL << 20;       // bytes of database pages in use; same
    std::int64_t disk_floor_bytes = 64LL << 20; // bytes free on the file system below which append fails
    IntegrityCheck integrity = IntegrityCheck::quick;  // on open, after a power loss
    // true: append() prunes after its commit. false: the owner calls prune()
    // from a housekeeping thread, so no delete ever delays a scan's append.
    bool prune_in_append = true;
};

// Epochs (journal generations): a journal created new draws a random epoch in
// [1, kMaxEpoch]; a journal that predates epochs keeps epoch 0 and its old scan
// ids. (epoch, seq) identifies a row for the command centre, so a journal that is
// moved aside and started again at seq 1 never reuses an id.
constexpr std::int64_t kMaxEpoch = (std::int64_t{1} << 53) - 1;  // exact in JSON doubles

// Rows lost with a journal that could not be read (reported in the heartbeat).
struct Losses {
    std::int64_t rows = 0;      // pending rows known to be lost
    std::int64_t journals = 0;  // moved-aside journals whose pending rows could not all be read
};

class ScanJournal {
public:
    // Opens or creates the journal. Errors: [io] "journal-open" (cannot open or
    // set WAL), [io] "corrupt" (integrity check failed: the daemon moves the file
    // aside and starts a new one, keeping the old for a technician).
    static Result<std::unique_ptr<ScanJournal>> open(const std::string& path, JournalOptions opts = {});
    ~ScanJournal();
    ScanJournal(const ScanJournal&) = delete;
    ScanJournal& operator=(const ScanJournal&) = delete;

    // Appends one row and commits it durably before returning; returns the row
    // as stored (seq, scan_id, times filled in). Errors: [invalid_input] "record"
    // (a field fails validation: pass id not hex, verdict unknown, text too long,
    // manual row without ref_seq), [not_found] "ref" (manual row referencing no
    // scan), [io] "disk-full" (free space below the floor, or SQLITE_FULL),
    // [io] "journal-write" (any other SQLite failure). Nothing is written on error.
    Result<ScanRecord> append(ScanRecord record);

    // A guard's resolution of a YELLOW: a manual row referencing scan `ref_seq`,
    // carrying that scan's pass id. Errors as append().
    Result<ScanRecord> append_manual(std::int64_t ref_seq, const std::string& verdict,
                                     const std::string& reason);

    // Deletes uploaded rows, oldest first, when over max_rows/max_bytes: down to
    // 90 % of the limit, at most `max_delete` rows per call so the lock is held
    // briefly. Errors: [io] "journal-write".
    Status prune(std::int64_t max_delete = 1000);

    // Up to `n` rows not yet uploaded (for the sync client), all of one epoch:
    // carried rows of an earlier journal first (oldest epoch first), then this
    // journal's rows, in sequence order.
    Result<std::vector<ScanRecord>> next_batch(std::size_t n);
    // Marks every row of this journal's epoch with seq <= up_to as uploaded;
    // returns how many changed.
    Result<std::int64_t> mark_uploaded_through(std::int64_t up_to);
    // Marks carried rows (epoch != epoch()) as uploaded; returns how many changed.
    Result<std::int64_t> mark_carried_uploaded(std::int64_t epoch, const std::vector<std::int64_t>& seqs);

    // This journal's epoch.
    std::int64_t epoch() const { return epoch_; }
    // Takes over the pending rows of a journal moved aside (salvage_pending()):
    // stored with their own epoch, seq and scan id, uploaded before this journal's
    // rows; adds `lost` to the loss counters. One transaction. Errors: [invalid_input]
    // "record" (a row fails validation, or has this journal's epoch), [io] "journal-write".
    Status carry(const std::vector<ScanRecord>& rows, Losses lost);
    Result<Losses> losses();
    // Marks the given rows as uploaded; returns how many changed.
    Result<std::int64_t> mark_uploaded(const std::vector<std::int64_t>& seqs);

    // The last `n` rows, oldest first (for technicians).
    Result<std::vector<ScanRecord>> tail(std::size_t n);

    struct Stats {
        std::int64_t rows = 0;
        std::int64_t pending = 0;       // not yet uploaded (carried rows included)
        std::int64_t last_seq = 0;
        std::int64_t bytes_used = 0;    // database pages in use
    };
    Result<Stats> stats();

private:
    ScanJournal(sqlite3* db, JournalOptions opts);
    Result<ScanRecord> append_locked(ScanRecord r);
    Status prune_locked(bool check_bytes, std::int64_t max_delete);
    Status check_disk_locked() const;

    std::mutex mu_;
    sqlite3* db_;
    JournalOptions opts_;
    std::string path_;
    std::int64_t last_seq_ = 0;
    std::int64_t epoch_ = 0;
    std::int64_t rows_ = 0;
    struct Statements;
    std::unique_ptr<Statements> st_;
};

// What a technician's tool reads from a journal another process writes (checkpoint
// diag): the file is opened read-only (SQLITE_OPEN_READONLY: never created, never
// written, no integrity check, no WAL checkpoint), so it is safe beside a running
// checkpointd. Errors: [not_found] "journal-missing" when there is no file;
// [io] "journal-read" when it cannot be read as a journal; [io] "corrupt".
struct Backlog {
    std::int64_t rows = 0;
    std::int64_t pending = 0;                            // rows not yet uploaded
    std::int64_t last_seq = 0;                           // highest seq in the file (0: none)
    std::optional<std::int64_t> oldest_pending_wall_ms;  // wall time of the oldest pending row
};
Result<Backlog> read_backlog(const std::string& path);

// What could be read of a journal that failed its integrity check (the daemon
// moved it aside): its epoch and its rows not yet uploaded, read read-only and
// without indexes, in sequence order, up to the first unreadable page.
struct Salvage {
    std::int64_t epoch = 0;
    std::vector<ScanRecord> rows;     // pending rows read
    Losses lost;                      // what is known lost (journals = 1 when reading stopped early)
};
// Never fails: a file that cannot be opened or read at all is reported as one
// lost journal with no rows.
Salvage salvage_pending(const std::string& path);

// One row as a JSON object (one line, no newline): the format of
// `checkpoint journal tail` and the upload body's elements.
std::string to_json(const ScanRecord& r);
const char* to_string(RowType t) noexcept;

}  // namespace cp::journal
