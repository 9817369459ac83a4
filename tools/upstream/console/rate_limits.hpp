// Rate limits every replica on one database shares: counted events per key in the
// store (table rate_events, console migration 3), not in a process's memory. Used
// for the per-phone SMS quota (sms.hpp). Each take() is one transaction; on
// PostgreSQL it holds an advisory lock of the key, so two replicas counting the same
// key at once cannot both pass the last free slot.
//
// Thread-safe (one connection, one mutex). Disk stays bounded: every take() drops
// the events whose window has passed.
#pragma once

#include "src/common/result.hpp"
#include "tools/upstream/sql_db.hpp"

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace cp::upstream::console {

class RateLimits {
public:
    // Its own connection to the console's database (a SQLite path or a PostgreSQL
    // URL) where the console store has applied its migrations. Errors: io
    // "sqlite-open" / "postgresql-open", io "rate-limits" (migration 3 missing).
    static Result<std::shared_ptr<RateLimits>> open(const std::string& db);

    // Counts one event of `key` at `now` unless `max` events of it fall in
    // (now - window_s, now] already: the event's id, or no value when the limit is
    // reached (nothing counted). Errors: io "sqlite" / "postgresql".
    Result<std::optional<std::int64_t>> take(const std::string& key, std::int64_t max, std::int64_t window_s,
                                             std::int64_t now);
    // Forgets a counted event (the action it admitted failed). Unknown ids: no-op.
    Status give_back(std::int64_t event);
    // Events of `key` counted in (now - window_s, now].
    Result<std::int64_t> count(const std::string& key, std::int64_t window_s, std::int64_t now);

private:
    explicit RateLimits(std::unique_ptr<SqlDb> db) : db_(std::move(db)) {}
    std::unique_ptr<SqlDb> db_;
    std::mutex mu_;
};

}  // namespace cp::upstream::console
