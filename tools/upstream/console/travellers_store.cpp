// TravellerStore on SQLite or PostgreSQL: its own connection to the console's database.
#include "tools/upstream/console/travellers_store.hpp"
#include "tools/upstream/console/travellers_request.hpp"
#include "tools/upstream/reasons.hpp"

#include "src/common/enum_names.hpp"
#include "tools/upstream/pg_store.hpp"
#include "tools/upstream/sql_db.hpp"

#include <mutex>

namespace cp::upstream::console {

namespace {
constexpr EnumNames<TravelStatus, 3> kTravelStatusNames{{{{TravelStatus::registered, "registered"},
                                                          {TravelStatus::arrived, "arrived"},
                                                          {TravelStatus::expired, "expired"}}}};
}  // namespace

const char* to_string(TravelStatus s) noexcept { return kTravelStatusNames.name(s); }

bool is_entry_kind(std::string_view kind) {
    constexpr std::string_view suffix = "-entry";
    return kind == "entry" || (kind.size() > suffix.size() && kind.substr(kind.size() - suffix.size()) == suffix);
}

namespace {

using cp::upstream::Dialect;
using cp::upstream::SqlDb;
using cp::upstream::Stmt;

// The store writes only to_string() names; anything else reads as registered.
TravelStatus parse_status(const std::string& s) {
    return kTravelStatusNames.parse(s).value_or(TravelStatus::registered);
}

constexpr const char* kCols =
    "r.id, r.pass_id, r.kind, r.label, r.name, r.id_hash, r.phone, r.origin, r.address, r.plate, r.grid, "
    "r.transport, r.expected_arrival, r.site, r.qr, r.status, r.created_at, r.expires_at, r.arrived_at, "
    "r.arrival_site, r.arrival_device, r.purged_at ";

Registration read_reg(Stmt& s) {
    return Registration{.id = s.i64(0), .pass_id = s.text(1), .kind = s.text(2), .label = s.text(3),
                        .name = s.text(4), .id_hash = s.text(5), .phone = s.text(6), .origin = s.text(7),
                        .address = s.text(8), .plate = s.text(9), .grid = s.text(10), .transport = s.text(11),
                        .expected_arrival = s.i64(12), .site = s.text(13), .qr = s.text(14),
                        .status = parse_status(s.text(15)), .created_at = s.i64(16), .expires_at = s.i64(17),
                        .arrived_at = s.i64(18), .arrival_site = s.text(19), .arrival_device = s.text(20),
                        .purged_at = s.i64(21)};
}

class SqlTravellerStore final : public TravellerStore {
public:
    explicit SqlTravellerStore(std::unique_ptr<SqlDb> db) : owned_(std::move(db)), db_(owned_.get()) {}

    Status exec(const char* sql) { return db_->exec(sql); }
    template <typename F>
    auto transaction(F&& body) -> decltype(body()) {
        return db_->transaction(std::forward<F>(body));
    }

    Result<std::int64_t> add(const Registration& r, const std::string& token_hash) override {
        std::lock_guard lock(mu_);
        return transaction([&]() -> Result<std::int64_t> {
            Stmt g(db_, "SELECT level FROM areas WHERE code = ?1");
            g.bind(1, r.grid);
            auto have = g.step();
            if (!have) return fail(have.error());
            if (!*have || g.i64(0) != static_cast<std::int64_t>(Level::grid)) return fail(ErrorKind::not_found, reason::area, r.grid);
            Stmt ins(db_,
                     "INSERT INTO traveller_registrations(pass_id, kind, token_hash, label, name, id_hash, phone, "
                     "origin, address, plate, grid, transport, expected_arrival, site, qr, status, created_at, "
                     "expires_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, "
                     "'registered', ?16, ?17) ON CONFLICT DO NOTHING RETURNING id");
            ins.bind(1, r.pass_id).bind(2, r.kind).bind(3, token_hash).bind(4, r.label).bind(5, r.name)
                .bind(6, r.id_hash).bind(7, r.phone).bind(8, r.origin).bind(9, r.address).bind(10, r.plate)
                .bind(11, r.grid).bind(12, r.transport).bind(13, r.expected_arrival).bind(14, r.site)
                .bind(15, r.qr).bind(16, r.created_at).bind(17, r.expires_at);
            auto added = ins.step();
            if (!added) return fail(added.error());
            if (!*added) return fail(ErrorKind::rejected, traveller_reason::kExists, r.pass_id);
            const std::int64_t id = ins.i64(0);
            ins.reset();
            Stmt p(db_, "INSERT INTO passes(pass_id, grid, label, added_at) VALUES(?1, ?2, ?3, ?4) "
                        "ON CONFLICT DO NOTHING");
            CP_TRY(p.bind(1, r.pass_id).bind(2, r.grid).bind(3, r.label).bind(4, r.created_at).run());
            return id;
        });
    }

    Result<Registration> by_token(const std::string& token_hash) override {
        std::lock_guard lock(mu_);
        Stmt s(db_, std::string("SELECT ") + kCols + "FROM traveller_registrations r WHERE r.token_hash = ?1 "
                                                     "AND r.purged_at = 0");
        s.bind(1, token_hash);
        auto row = s.step();
        if (!row) return fail(row.error());
        if (!*row) return fail(ErrorKind::not_found, traveller_reason::kRegistration, "");
        return read_reg(s);
    }

    Result<std::vector<Registration>> list(const Scope& scope, std::size_t limit) override {
        std::lock_guard lock(mu_);
        Stmt s(db_, std::string("SELECT ") + kCols +
                        "FROM traveller_registrations r JOIN areas a ON a.code = r.grid "
                        "WHERE substr(a.path, 1, length(?1)) = ?1 ORDER BY r.id DESC LIMIT ?2");
        s.bind(1, scope.path).bind(2, static_cast<std::int64_t>(limit));
        std::vector<Registration> out;
        CP_TRY(cp::upstream::each_row(s, [&](Stmt& x) { out.push_back(read_reg(x)); }));
        return out;
    }

    Result<Registration> get(std::int64_t id, const Scope& scope) override {
        std::lock_guard lock(mu_);
        Stmt s(db_, std::string("SELECT ") + kCols +
                        "FROM traveller_registrations r JOIN areas a ON a.code = r.grid "
                        "WHERE r.id = ?2 AND substr(a.path, 1, length(?1)) = ?1");
        s.bind(1, scope.path).bind(2, id);
        auto row = s.step();
        if (!row) return fail(row.error());
        if (!*row) return fail(ErrorKind::not_found, traveller_reason::kRegistration, std::to_string(id));
        return read_reg(s);
    }

    Result<bool> admit(const std::vector<Limit>& limits, std::int64_t now) override {
        std::lock_guard lock(mu_);
        return transaction([&]() -> Result<bool> {
            if (db_->dialect() == Dialect::postgresql) {
                // Replicas counting the same keys at once: one after the other.
                Stmt l(db_, "SELECT pg_advisory_xact_lock(hashtext('traveller-attempts'))");
                CP_TRY(l.run());
            }
            Stmt count(db_, "SELECT count(*) >= ?3 FROM traveller_attempts WHERE key = ?1 AND at > ?2");
            for (const auto& l : limits) {
                count.reset();
                auto row = count.bind(1, l.key).bind(2, now - l.window_s).bind(3, l.max).step();
                if (!row) return fail(row.error());
                if (count.i64(0) != 0) return false;
            }
            Stmt ins(db_, "INSERT INTO traveller_attempts(key, at) VALUES(?1, ?2)");
            for (const auto& l : limits) {
                ins.reset();
                CP_TRY(ins.bind(1, l.key).bind(2, now).run());
            }
            return true;
        });
    }

    Result<std::vector<Site>> entry_points(const Scope* scope) override {
        std::lock_guard lock(mu_);
        Stmt s(db_, "SELECT st.id, st.code, st.area, st.name, st.kind FROM sites st JOIN areas a ON a.code = st.area "
                    "WHERE substr(a.path, 1, length(?1)) = ?1 ORDER BY st.code");
        s.bind(1, scope ? scope->path : std::string("/"));
        std::vector<Site> out;
        CP_TRY(cp::upstream::each_row(s, [&](Stmt& x) {
            Site site{x.i64(0), x.text(1), x.text(2), x.text(3), x.text(4)};
            if (is_entry_kind(site.kind)) out.push_back(std::move(site));
        }));
        return out;
    }

    Result<Site> entry_point(const std::string& code, const Scope* scope) override {
        auto all = entry_points(scope);
        if (!all) return fail(all.error());
        for (auto& s : *all)
            if (s.code == code) return s;
        return fail(ErrorKind::not_found, reason::site, code);
    }

    Result<std::vector<GridChoice>> grids() override {
        std::lock_guard lock(mu_);
        // Grid with its two ancestors' names (district / street / grid).
        Stmt s(db_, "SELECT g.code, coalesce(d.name_zh || ' / ', '') || coalesce(st.name_zh || ' / ', '') || g.name_zh, "
                    "coalesce(nullif(d.name_en, '') || ' / ', '') || coalesce(nullif(st.name_en, '') || ' / ', '') || "
                    "g.name_en FROM areas g LEFT JOIN areas st ON st.code = g.parent "
                    "LEFT JOIN areas d ON d.code = st.parent WHERE g.level = ?1 ORDER BY g.path");
        s.bind(1, static_cast<std::int64_t>(Level::grid));
        std::vector<GridChoice> out;
        CP_TRY(cp::upstream::each_row(s, [&](Stmt& x) { out.push_back({x.text(0), x.text(1), x.text(2)}); }));
        return out;
    }

    Result<std::size_t> record_arrivals(std::int64_t now) override {
        std::lock_guard lock(mu_);
        // (cursor, newest scan rowid): the scans not looked at yet are (cursor, top].
        auto range = [this]() -> Result<std::pair<std::int64_t, std::int64_t>> {
            Stmt c(db_, "SELECT coalesce((SELECT value FROM console_state WHERE key = 'arrival-scan-cursor'), 0), "
                        "coalesce((SELECT max(rowid) FROM scans), 0)");
            auto row = c.step();
            if (!row) return fail(row.error());
            return std::make_pair(c.i64(0), c.i64(1));
        };
        // Runs every tick: no write lock unless scans arrived since the last pass.
        auto before = range();
        if (!before) return fail(before.error());
        if (before->first >= before->second) return std::size_t{0};
        return transaction([&]() -> Result<std::size_t> {
            if (db_->dialect() == Dialect::postgresql) {
                // No ingest in flight: every scan below max(rowid) is committed (pg_store.hpp).
                Stmt w(db_, "SELECT pg_advisory_xact_lock(?1)");
                CP_TRY(w.bind(1, cp::upstream::kScanWriteLockKey).run());
            }
            auto now_range = range();
            if (!now_range) return fail(now_range.error());
            const auto [cursor, top] = *now_range;
            Stmt q(db_, "SELECT r.id, r.grid, r.pass_id, r.kind, s.time, s.device_id, coalesce(st.code, ''), "
                        "a.path FROM scans s JOIN traveller_registrations r ON r.pass_id = s.pass_id "
                        "JOIN areas a ON a.code = r.grid "
                        "LEFT JOIN device_sites ds ON ds.device_id = s.device_id "
                        "LEFT JOIN sites st ON st.id = ds.site_id "
                        "WHERE s.rowid > ?1 AND s.rowid <= ?2 AND s.manual = 0 AND s.verdict != 'reject' "
                        "AND s.pass_id != '' ORDER BY s.rowid");
            q.bind(1, cursor).bind(2, top);
            struct Hit {
                std::int64_t id, time;
                std::string grid, pass_id, kind, device, site, path;
            };
            std::vector<Hit> hits;
            CP_TRY(cp::upstream::each_row(q, [&](Stmt& x) {
                hits.push_back({x.i64(0), x.i64(4), x.text(1), x.text(2), x.text(3), x.text(5), x.text(6), x.text(7)});
            }));
            std::size_t n = 0;
            for (const auto& h : hits) {
                Stmt up(db_, "UPDATE traveller_registrations SET status = 'arrived', arrived_at = ?2, "
                             "arrival_site = ?3, arrival_device = ?4 WHERE id = ?1 AND status = 'registered'");
                CP_TRY(up.bind(1, h.id).bind(2, h.time).bind(3, h.site).bind(4, h.device).run());
                if (db_->changes() != 1) continue;  // arrived already (a second scan)
                ++n;
                const std::string where = h.site.empty() ? h.device : h.site;
                Stmt w(db_, "INSERT INTO worklist(grid, kind, ref, pass_id, detail, created_at) "
                            "VALUES(?1, 'arrival', ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING");
                CP_TRY(w.bind(1, h.grid).bind(2, "registration:" + std::to_string(h.id)).bind(3, h.pass_id)
                           .bind(4, "arrived " + h.kind + " " + where).bind(5, now).run());
                Stmt au(db_, "INSERT INTO audit(at, actor, role, area, path, action, object, from_value, "
                             "to_value, reason) VALUES(?1, 'system', '', ?2, ?3, 'arrival', ?4, 'registered', "
                             "'arrived', ?5)");
                CP_TRY(au.bind(1, now).bind(2, h.grid).bind(3, h.path).bind(4, h.pass_id).bind(5, where).run());
            }
            Stmt cur(db_, "INSERT INTO console_state(key, value) VALUES('arrival-scan-cursor', ?1) "
                          "ON CONFLICT(key) DO UPDATE SET value = excluded.value");
            CP_TRY(cur.bind(1, top).run());
            return n;
        });
    }

    Result<std::size_t> expire(std::int64_t now) override {
        std::lock_guard lock(mu_);
        Stmt s(db_, "UPDATE traveller_registrations SET status = 'expired' "
                    "WHERE status = 'registered' AND expires_at <= ?1");
        CP_TRY(s.bind(1, now).run());
        return static_cast<std::size_t>(db_->changes());
    }

    Result<std::size_t> purge(std::int64_t created_before, std::int64_t now) override {
        std::lock_guard lock(mu_);
        auto purged = transaction([&]() -> Result<std::size_t> {
            Stmt s(db_, "UPDATE traveller_registrations SET name = '', id_hash = '', phone = '', origin = '', "
                        "address = '', plate = '', qr = '', label = '', token_hash = 'purged:' || id, "
                        "purged_at = ?2 WHERE purged_at = 0 AND created_at < ?1");
            CP_TRY(s.bind(1, created_before).bind(2, now).run());
            const auto n = static_cast<std::size_t>(db_->changes());
            // Attempt counters are only needed for a day.
            Stmt a(db_, "DELETE FROM traveller_attempts WHERE at < ?1");
            CP_TRY(a.bind(1, now - 86400).run());
            return n;
        });
        // SQLite: the old rows live on in the write-ahead log until a checkpoint: write
        // them back (secure_delete zeroes the freed space) and empty the log.
        // PostgreSQL: the old row versions stay in the table's pages as dead tuples
        // until it is rewritten (VACUUM FULL: a new file, the old one removed). Its
        // write-ahead log keeps them until recycled (docs/deployment.md).
        if (purged && *purged > 0)
            CP_TRY(exec(db_->dialect() == Dialect::sqlite ? "PRAGMA wal_checkpoint(TRUNCATE)"
                                                          : "VACUUM FULL traveller_registrations"));
        return purged;
    }

    Result<std::vector<EntryCount>> arrivals_per_entry(const Scope& scope, std::int64_t since) override {
        std::lock_guard lock(mu_);
        // Arrivals counted where they were scanned; expected ones where they registered.
        Stmt s(db_, "SELECT x.site, coalesce(st.name, ''), sum(x.arrived), sum(x.expected) FROM ("
                    "  SELECT r.arrival_site AS site, 1 AS arrived, 0 AS expected FROM traveller_registrations r "
                    "  JOIN areas a ON a.code = r.grid WHERE substr(a.path, 1, length(?1)) = ?1 "
                    "  AND r.status = 'arrived' AND r.arrived_at >= ?2 "
                    "  UNION ALL SELECT r.site, 0, 1 FROM traveller_registrations r "
                    "  JOIN areas a ON a.code = r.grid WHERE substr(a.path, 1, length(?1)) = ?1 "
                    "  AND r.status = 'registered') x "
                    "LEFT JOIN sites st ON st.code = x.site GROUP BY x.site, st.name ORDER BY x.site");
        s.bind(1, scope.path).bind(2, since);
        std::vector<EntryCount> out;
        CP_TRY(cp::upstream::each_row(s, [&](Stmt& x) { out.push_back({x.text(0), x.text(1), x.i64(2), x.i64(3)}); }));
        return out;
    }

private:
    std::unique_ptr<SqlDb> owned_;
    SqlDb* db_;
    std::mutex mu_;
};

}  // namespace

Result<std::unique_ptr<TravellerStore>> open_traveller_store(const std::string& db_url) {
    const bool pg = is_pg_url(db_url);
    auto opened = pg ? open_pg_db(db_url) : open_sqlite_db(db_url, false);
    if (!opened) return fail(opened.error());
    SqlDb* db = opened->get();
    auto store = std::make_unique<SqlTravellerStore>(std::move(*opened));
    if (!pg) {
        // Purged personal data must not linger in free pages.
        CP_TRY(store->exec("PRAGMA secure_delete=ON"));
        CP_TRY(store->exec("PRAGMA foreign_keys=ON"));
    }
    Stmt s(db, "SELECT count(*) FROM schema_migrations WHERE version = 150");
    auto r = s.step();
    if (!r || s.i64(0) != 1)
        return fail(ErrorKind::io, reason::sqlite_migration, "the console schema is missing; open the console store first");
    return std::unique_ptr<TravellerStore>(std::move(store));
}

}  // namespace cp::upstream::console
