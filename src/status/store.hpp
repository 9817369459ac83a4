// StatusList: the offline status list a device answers from (pass id → green /
// yellow / red, reason, since) with its metadata. This is the interface; the
// SQLite backend (sqlite_store.cpp) is the one the device uses, opened with
// open_sqlite_status_list().
//
// Guarantees (architecture, "data that must never be lost or faked"):
//   - Replacement is atomic: a lookup answers from the old list or the new one,
//     never a mix, in this process and in any other process reading the file.
//   - An unsigned, badly signed, truncated, malformed or not-newer list (or a
//     delta not based on the active version) is refused and the active list is
//     left byte-identical.
//   - Memory is bounded: the list stays on disk; the page cache is capped.
//
// Thread-safety: all member functions are thread-safe. import/apply_delta run
// one at a time (also across processes, through a lock file) and do not block
// lookups while they stream and build; lookups wait only for the final swap.
#pragma once

#include "src/status/reason.hpp"
#include "src/common/bytes.hpp"
#include "src/common/result.hpp"
#include "src/crypto/trust_store.hpp"
#include "src/pass/pass.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace cp::status {

enum class PassStatus { green, yellow, red };
const char* to_string(PassStatus s) noexcept;  // "green", "yellow", "red"

struct Entry {
    PassStatus status = PassStatus::yellow;
    std::string reason;     // short text from the list ("isolation", "close-contact", ...)
    std::int64_t since = 0; // s since epoch: when this status began
};

struct ListInfo {
    std::int64_t version = 0;
    std::int64_t created_at = 0;   // s since epoch, from the signed header: list age starts here
    std::int64_t imported_at = 0;  // s since epoch, device clock at import
    std::string signer_kid;        // hex of the signing certificate's kid
    std::int64_t entries = 0;
    std::string issuer;
};

struct ImportOptions {
    // The device clock at import (0: now). Only recorded, never used to accept or refuse.
    std::int64_t now_s = 0;
    // Technician override for a deliberate re-provision (full lists only): install
    // this list whatever the active version and the version floor, then set the
    // floor to its version. Logged as a warning. Never set by the sync path.
    bool reset_version_floor = false;
};

class StatusList {
public:
    virtual ~StatusList() = default;

    // The entry for `id`, or nullopt when the id is not in the list (or no list
    // is installed: see info()). Errors: [io] "status-read" (database failure).
    virtual Result<std::optional<Entry>> lookup(const pass::PassId& id) = 0;

    // Metadata of the active list; nullopt when none is installed.
    virtual std::optional<ListInfo> info() = 0;

    // Verifies and installs a full list file (streamed; 10M entries fine) signed
    // by a certificate in `trust`. Errors: the reasons of list_format.hpp,
    // [rejected] "list-version" (not newer than the active list, or older than the
    // version floor of version_floor.hpp: the highest version ever installed, kept
    // in <path>.floor and not lowered by a missing or corrupt database),
    // [rejected] "list-kind" (a delta given to import), [io] "status-write",
    // [io] "version-floor" (floor file unreadable: nothing installs until a
    // technician resets it). On any error the active list is untouched.
    virtual Result<ListInfo> import_file(const std::string& path, const crypto::TrustStore& trust,
                                         ImportOptions opts = {}) = 0;
    virtual Result<ListInfo> import_bytes(ByteView data, const crypto::TrustStore& trust,
                                          ImportOptions opts = {}) = 0;

    // Applies a signed delta (version N → M, same file format, kind delta) in one
    // transaction. Errors as import, plus [rejected] "list-base" (the active
    // version is not N, or no list is installed) and "list-kind" (a full list).
    // The version floor applies (M below it: "list-version"); there is no override.
    virtual Result<ListInfo> apply_delta(ByteView signed_delta, const crypto::TrustStore& trust,
                                         ImportOptions opts = {}) = 0;

    // Another process (the CLI, the sync client) may have installed a new list:
    // re-open when the file changed. Cheap (one stat); call before lookups or on
    // a timer. Returns true when it switched.
    virtual Result<bool> reload_if_changed() = 0;
};

struct StoreOptions {
    std::int64_t cache_kib = 4096;  // KiB of SQLite page cache per connection (bounds RSS)
    bool create = true;             // a missing file is an empty store (no list installed)
};

// Opens the SQLite-backed store at `path` (created on first import). A file that
// is not a readable status database is logged and treated as "no list" (so a
// new import can replace it). Errors: [io] "status-open" when the file exists but
// cannot be opened at all, or is missing and opts.create is false.
Result<std::unique_ptr<StatusList>> open_sqlite_status_list(const std::string& path, StoreOptions opts = {});

}  // namespace cp::status
