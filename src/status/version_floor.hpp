// Version floor: the highest status-list or trust-list version this device ever
// installed, kept in a small file of its own beside what it guards (status.db →
// status.db.floor; a trust folder → <dir>/upstream-trust.floor). A missing,
// emptied or corrupt database, or a deleted trust envelope, does not lower it:
// an older signed list cannot replace a newer one by first destroying it.
//
// File: one line, the decimal version and "\n". Written as temp file + fsync +
// rename + fsync of the folder, so a power loss leaves the old or the new floor.
// A floor file that exists but does not parse fails closed ([io] "version-floor"):
// nothing installs until a technician resets it (reset(): logged, for a
// deliberate re-provision, e.g. `checkpoint list import --reset-version-floor`).
//
// Versions are bounded: 1 ≤ v ≤ kMaxListVersion (2^53 − 1, exact in a JSON
// double), so a signed list numbered INT64_MAX is invalid input, never a floor
// that blocks every later list.
#pragma once

#include "src/common/result.hpp"
#include "src/status/reason.hpp"

#include <cstdint>
#include <string>

namespace cp::status {

inline constexpr std::int64_t kMaxListVersion = (std::int64_t{1} << 53) - 1;

// The floor file guarding the status database at `db_path`.
std::string list_floor_path(const std::string& db_path);
// The floor file of the trust list installed in folder `trust_dir`.
std::string trust_floor_path(const std::string& trust_dir);

// The recorded floor; 0 when the file does not exist. Errors: [io] "version-floor"
// (unreadable or not a version).
Result<std::int64_t> read_version_floor(const std::string& path);

// Admits `version` for installation: [invalid_input] `bound_reason` when outside
// 1..kMaxListVersion, [rejected] `older_reason` when below the floor (equal is
// admitted: the same signed list may be installed again after a loss), [io]
// "version-floor" when the floor cannot be read or written. On success the floor
// is at least `version` (raised durably before the caller installs).
Status admit_version(const std::string& path, std::int64_t version, Reason older_reason,
                     Reason bound_reason);

// Technician override: sets the floor to `version` (0 removes it) whatever it
// was, and logs the change as a warning with `why`. Errors: [io] "version-floor".
Status reset_version_floor(const std::string& path, std::int64_t version, const std::string& why);

}  // namespace cp::status
