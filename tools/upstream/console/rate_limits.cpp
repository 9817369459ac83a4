#include "tools/upstream/console/rate_limits.hpp"
#include "tools/upstream/reasons.hpp"

namespace cp::upstream::console {

Result<std::shared_ptr<RateLimits>> RateLimits::open(const std::string& db) {
    auto opened = is_pg_url(db) ? open_pg_db(db) : open_sqlite_db(db, false);
    if (!opened) return fail(opened.error());
    {
        Stmt s(opened->get(), "SELECT count(*) FROM schema_migrations WHERE version = 3");
        auto r = s.step();
        if (!r || s.i64(0) != 1)
            return fail(ErrorKind::io, reason::rate_limits, "open the console store first (migration 3)");
    }
    return std::shared_ptr<RateLimits>(new RateLimits(std::move(*opened)));
}

Result<std::optional<std::int64_t>> RateLimits::take(const std::string& key, std::int64_t max,
                                                     std::int64_t window_s, std::int64_t now) {
    std::lock_guard lock(mu_);
    SqlDb* db = db_.get();
    return db->transaction([&]() -> Result<std::optional<std::int64_t>> {
        if (db->dialect() == Dialect::postgresql) {
            Stmt l(db, "SELECT pg_advisory_xact_lock(hashtext(?1))");
            CP_TRY(l.bind(1, "rate:" + key).run());
        }
        Stmt prune(db, "DELETE FROM rate_events WHERE until <= ?1");
        CP_TRY(prune.bind(1, now).run());
        Stmt c(db, "SELECT count(*) FROM rate_events WHERE key = ?1 AND at > ?2");
        auto n = scalar_i64(c.bind(1, key).bind(2, now - window_s));
        if (!n) return fail(n.error());
        if (*n >= max) return std::optional<std::int64_t>();
        Stmt ins(db, "INSERT INTO rate_events(key, at, until) VALUES(?1, ?2, ?3) RETURNING id");
        auto row = ins.bind(1, key).bind(2, now).bind(3, now + window_s).step();
        if (!row) return fail(row.error());
        return std::optional<std::int64_t>(ins.i64(0));
    });
}

Status RateLimits::give_back(std::int64_t event) {
    std::lock_guard lock(mu_);
    Stmt d(db_.get(), "DELETE FROM rate_events WHERE id = ?1");
    return d.bind(1, event).run();
}

Result<std::int64_t> RateLimits::count(const std::string& key, std::int64_t window_s, std::int64_t now) {
    std::lock_guard lock(mu_);
    Stmt c(db_.get(), "SELECT count(*) FROM rate_events WHERE key = ?1 AND at > ?2");
    return scalar_i64(c.bind(1, key).bind(2, now - window_s));
}

}  // namespace cp::upstream::console
