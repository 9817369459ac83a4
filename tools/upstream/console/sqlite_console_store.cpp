// SQLite backend of ConsoleStore: its own connection to the upstream's database file
// (WAL; both connections wait on each other with a busy timeout), the console's
// tables created by numbered migrations.
#include "tools/upstream/console/console_store.hpp"
#include "tools/upstream/reasons.hpp"
#include "src/common/enum_names.hpp"
#include "src/common/time.hpp"
#include "tools/upstream/pg_store.hpp"
#include "tools/upstream/sql_db.hpp"
#include "tools/upstream/sql_migrations.hpp"
#include "tools/upstream/store_rows.hpp"

#include <algorithm>
#include <map>
#include <mutex>

namespace cp::upstream::console {

namespace {
constexpr EnumNames<Level, 4> kLevelNames{
    {{{Level::city, "city"}, {Level::district, "district"}, {Level::street, "street"}, {Level::grid, "grid"}}}};
constexpr EnumNames<Role, 5> kRoleNames{{{{Role::city, "city"},
                                          {Role::district, "district"},
                                          {Role::street, "street"},
                                          {Role::grid, "grid"},
                                          {Role::bigscreen, "bigscreen"}}}};
}  // namespace

const char* to_string(Level l) noexcept { return kLevelNames.name(l); }
std::optional<Level> parse_level(std::string_view s) { return kLevelNames.parse(s); }
const char* to_string(Role r) noexcept { return kRoleNames.name(r); }
std::optional<Role> parse_role(std::string_view s) { return kRoleNames.parse(s); }

bool valid_area_code(std::string_view s) {
    if (s.empty() || s.size() > 32) return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
    });
}

bool valid_name(std::string_view s, std::size_t max_bytes) {
    if (s.size() > max_bytes) return false;
    // Well-formed UTF-8 without control characters.
    std::size_t i = 0;
    while (i < s.size()) {
        auto c = static_cast<unsigned char>(s[i]);
        std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
        if (n == 0 || i + n > s.size()) return false;
        if (n == 1 && (c < 0x20 || c == 0x7F)) return false;
        for (std::size_t k = 1; k < n; ++k)
            if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2) return false;
        i += n;
    }
    return true;
}

bool valid_username(std::string_view s) {
    if (s.size() < 2 || s.size() > 64) return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '-' || c == '.' || c == '_';
    });
}

bool valid_pass_id(std::string_view s) {
    return s.size() == 32 && std::all_of(s.begin(), s.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
           });
}

bool valid_reason_code(std::string_view s) {
    if (s.empty() || s.size() > 32) return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '-';
    });
}

namespace {

// Numbered migrations (tools/upstream/sql_migrations.hpp): each runs once, in order,
// in its own transaction, and is recorded in schema_migrations. Never edit a released
// step; add the next one. `sql` is SQLite's; PostgreSQL runs the optional fourth
// field, or `sql` with the column types mapped, its triggers replaced by the fifth.
using cp::upstream::Migration;

// PostgreSQL's triggers of step 1 (the append-only audit); the tables are step 1's
// with the types mapped.
constexpr const char* kPgAuditTriggers = R"sql(
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN RAISE EXCEPTION 'audit is append-only'; END $$;
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
)sql";

const Migration kMigrations[] = {
    {1, "areas-operators-audit", R"sql(
CREATE TABLE areas(
  code TEXT PRIMARY KEY, parent TEXT REFERENCES areas(code), level INTEGER NOT NULL,
  name_zh TEXT NOT NULL, name_en TEXT NOT NULL DEFAULT '', path TEXT NOT NULL UNIQUE);
CREATE TABLE sites(
  id INTEGER PRIMARY KEY, code TEXT NOT NULL UNIQUE, area TEXT NOT NULL REFERENCES areas(code),
  name TEXT NOT NULL, kind TEXT NOT NULL);
CREATE TABLE device_sites(
  device_id TEXT PRIMARY KEY, site_id INTEGER NOT NULL REFERENCES sites(id));
CREATE TABLE passes(
  pass_id TEXT PRIMARY KEY, grid TEXT NOT NULL REFERENCES areas(code), label TEXT NOT NULL,
  added_at INTEGER NOT NULL);
CREATE INDEX passes_grid ON passes(grid);
CREATE TABLE status_terms(
  pass_id TEXT PRIMARY KEY, until INTEGER NOT NULL);
CREATE TABLE operators(
  id INTEGER PRIMARY KEY, username TEXT NOT NULL UNIQUE, role TEXT NOT NULL,
  area TEXT NOT NULL REFERENCES areas(code), pw_hash TEXT NOT NULL, created_at INTEGER NOT NULL,
  created_by TEXT NOT NULL, disabled INTEGER NOT NULL DEFAULT 0, pw_changed_at INTEGER NOT NULL);
CREATE TABLE sessions(
  token_hash TEXT PRIMARY KEY, operator_id INTEGER NOT NULL REFERENCES operators(id),
  csrf TEXT NOT NULL, created_at INTEGER NOT NULL, last_seen INTEGER NOT NULL);
CREATE TABLE login_failures(key TEXT NOT NULL, at INTEGER NOT NULL);
CREATE INDEX login_failures_key ON login_failures(key, at);
CREATE TABLE audit(
  id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, actor TEXT NOT NULL,
  role TEXT NOT NULL, area TEXT NOT NULL, path TEXT NOT NULL, action TEXT NOT NULL,
  object TEXT NOT NULL, from_value TEXT NOT NULL, to_value TEXT NOT NULL, reason TEXT NOT NULL);
CREATE INDEX audit_path ON audit(path);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
CREATE TABLE worklist(
  id INTEGER PRIMARY KEY, grid TEXT NOT NULL REFERENCES areas(code), kind TEXT NOT NULL,
  ref TEXT NOT NULL, pass_id TEXT NOT NULL, detail TEXT NOT NULL, created_at INTEGER NOT NULL,
  claimed_by TEXT NOT NULL DEFAULT '', claimed_at INTEGER NOT NULL DEFAULT 0,
  resolved_at INTEGER NOT NULL DEFAULT 0, outcome TEXT NOT NULL DEFAULT '',
  note TEXT NOT NULL DEFAULT '', UNIQUE(kind, ref));
CREATE INDEX worklist_open ON worklist(grid, resolved_at);
CREATE TABLE console_state(key TEXT PRIMARY KEY, value INTEGER NOT NULL);
)sql", nullptr, kPgAuditTriggers},
    {2, "status-terms-by-date", R"sql(
CREATE INDEX status_terms_until ON status_terms(until);
)sql"},
    // Residents (tools/upstream/console/residents.hpp): the ID number only as its
    // keyed hash; one current pass per resident, earlier ones kept with their end.
    {100, "residents", R"sql(
CREATE TABLE residents(
  id INTEGER PRIMARY KEY, grid TEXT NOT NULL REFERENCES areas(code), id_hash TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL, phone TEXT NOT NULL, address TEXT NOT NULL, created_at INTEGER NOT NULL,
  created_by TEXT NOT NULL);
CREATE INDEX residents_grid ON residents(grid);
CREATE TABLE resident_passes(
  pass_id TEXT PRIMARY KEY, resident_id INTEGER NOT NULL REFERENCES residents(id),
  issued_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, qr TEXT NOT NULL,
  page_token_hash TEXT NOT NULL UNIQUE, ended_at INTEGER NOT NULL DEFAULT 0,
  end_reason TEXT NOT NULL DEFAULT '');
CREATE INDEX resident_passes_current ON resident_passes(resident_id, ended_at);
CREATE TABLE self_checks(
  id INTEGER PRIMARY KEY, pass_id TEXT NOT NULL, at INTEGER NOT NULL, abnormal INTEGER NOT NULL,
  answers TEXT NOT NULL);
CREATE INDEX self_checks_pass ON self_checks(pass_id, at);
)sql"},
    {101, "resident-claim-codes", R"sql(
CREATE TABLE claim_codes(
  resident_id INTEGER PRIMARY KEY REFERENCES residents(id), code_hash TEXT NOT NULL,
  sent_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0);
)sql"},
    // Self-registration: a resident entered from the public page waits 'pending' for
    // the grid worker; the entered data waits with its code until the phone is proven.
    {102, "resident-self-registration", R"sql(
ALTER TABLE residents ADD COLUMN state TEXT NOT NULL DEFAULT 'active';
CREATE TABLE registration_codes(
  id_hash TEXT NOT NULL, phone TEXT NOT NULL, name TEXT NOT NULL, address TEXT NOT NULL,
  grid TEXT NOT NULL REFERENCES areas(code), code_hash TEXT NOT NULL, sent_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(id_hash, phone));
CREATE INDEX registration_codes_expiry ON registration_codes(expires_at);
)sql"},
    {150, "traveller-registrations", R"sql(
CREATE TABLE traveller_registrations(
  id INTEGER PRIMARY KEY, pass_id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE,
  label TEXT NOT NULL, name TEXT NOT NULL, id_hash TEXT NOT NULL, phone TEXT NOT NULL, origin TEXT NOT NULL,
  address TEXT NOT NULL, plate TEXT NOT NULL, grid TEXT NOT NULL REFERENCES areas(code),
  transport TEXT NOT NULL, expected_arrival INTEGER NOT NULL, site TEXT NOT NULL, qr TEXT NOT NULL,
  status TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
  arrived_at INTEGER NOT NULL DEFAULT 0, arrival_site TEXT NOT NULL DEFAULT '',
  arrival_device TEXT NOT NULL DEFAULT '', purged_at INTEGER NOT NULL DEFAULT 0);
CREATE INDEX traveller_registrations_open ON traveller_registrations(status, expires_at);
CREATE INDEX traveller_registrations_created ON traveller_registrations(purged_at, created_at);
CREATE INDEX traveller_registrations_grid ON traveller_registrations(grid);
CREATE INDEX traveller_registrations_arrived ON traveller_registrations(arrived_at);
CREATE TABLE traveller_attempts(key TEXT NOT NULL, at INTEGER NOT NULL);
CREATE INDEX traveller_attempts_key ON traveller_attempts(key, at);
)sql"},
    // Rate limits shared by every replica (rate_limits.hpp): one row per counted event.
    {3, "rate-events", R"sql(
CREATE TABLE rate_events(
  id INTEGER PRIMARY KEY, key TEXT NOT NULL, at INTEGER NOT NULL, until INTEGER NOT NULL);
CREATE INDEX rate_events_key ON rate_events(key, at);
CREATE INDEX rate_events_until ON rate_events(until);
)sql"},
    {110, "self-registration-grid-from", R"sql(
ALTER TABLE registration_codes ADD COLUMN grid_from TEXT NOT NULL DEFAULT 'chosen';
)sql"},
};

constexpr const char* kInScope = "substr(a.path, 1, length(?1)) = ?1";

using cp::upstream::Dialect;
using cp::upstream::SqlDb;
using cp::upstream::Stmt;

bool in_scope(const std::string& path, const Scope& scope) {
    return path.compare(0, scope.path.size(), scope.path) == 0;
}

int depth_of(const std::string& path) {  // "/a/" -> 0, "/a/b/" -> 1
    return static_cast<int>(std::count(path.begin(), path.end(), '/')) - 2;
}

Failure nf(Reason what, const std::string& id) { return fail(ErrorKind::not_found, what, id); }

class SqliteConsoleStore final : public ConsoleStore {
public:
    explicit SqliteConsoleStore(std::unique_ptr<SqlDb> db) : owned_(std::move(db)), db_(owned_.get()) {}

    Status exec(const char* sql) { return db_->exec(sql); }

    template <typename F>
    auto transaction(F&& body) -> decltype(body()) {
        return db_->transaction(std::forward<F>(body));
    }

    Status migrate() {
        std::lock_guard lock(mu_);
        return apply_migrations(*db_, "schema_migrations", kMigrations, wall_now_ms() / 1000);
    }

    Result<std::int64_t> schema_version() override {
        std::lock_guard lock(mu_);
        Stmt s(db_, "SELECT coalesce(max(version), 0) FROM schema_migrations");
        auto r = s.step();
        if (!r) return fail(r.error());
        return s.i64(0);
    }

    // ---- areas ---------------------------------------------------------------
    static AreaNode read_area(Stmt& s, int c = 0) {
        AreaNode a;
        a.code = s.text(c);
        a.parent = s.text(c + 1);
        a.level = static_cast<Level>(s.i64(c + 2));
        a.name_zh = s.text(c + 3);
        a.name_en = s.text(c + 4);
        a.path = s.text(c + 5);
        return a;
    }
    static constexpr const char* kAreaCols = "a.code, coalesce(a.parent, ''), a.level, a.name_zh, a.name_en, a.path";

    Result<std::optional<AreaNode>> area_locked(const std::string& code) {
        Stmt s(db_, std::string("SELECT ") + kAreaCols + " FROM areas a WHERE a.code = ?1");
        s.bind(1, code);
        auto r = s.step();
        if (!r) return fail(r.error());
        if (!*r) return std::optional<AreaNode>();
        return std::optional<AreaNode>(read_area(s));
    }

    // The node when it exists and is inside `scope` (null: any); not_found otherwise.
    Result<AreaNode> scoped_area_locked(const std::string& code, const Scope* scope) {
        auto a = area_locked(code);
        if (!a) return fail(a.error());
        if (!*a || (scope && !in_scope((*a)->path, *scope))) return nf(reason::area, code);
        return **a;
    }

    Status add_areas(const std::vector<AreaNode>& nodes, const Scope* scope) override {
        for (const auto& n : nodes)
            if (!valid_area_code(n.code) || n.name_zh.empty() || !valid_name(n.name_zh, 128) ||
                !valid_name(n.name_en, 128) || (!n.parent.empty() && !valid_area_code(n.parent)))
                return fail(ErrorKind::invalid_input, reason::area,
                            "code [0-9A-Za-z-]{1,32}, names 1..128 bytes: " + n.code);
        std::lock_guard lock(mu_);
        return transaction([&]() -> Status {
            for (const auto& n : nodes) CP_TRY(add_area_locked(n, scope));
            return {};
        });
    }

    Status add_area_locked(const AreaNode& n, const Scope* scope) {
        {
            auto existing = area_locked(n.code);
            if (!existing) return fail(existing.error());
            std::string path;
            Level level = Level::city;
            if (n.parent.empty()) {
                if (scope) return nf(reason::area, n.code);  // only the host adds the city
                Stmt c(db_, "SELECT count(*) FROM areas WHERE parent IS NULL");
                auto r = c.step();
                if (!r) return fail(r.error());
                if (c.i64(0) > 0 && !(*existing))
                    return fail(ErrorKind::rejected, reason::area_exists, "the city node exists already");
                path = "/" + n.code + "/";
            } else {
                auto parent = scoped_area_locked(n.parent, scope);
                if (!parent) return fail(parent.error());
                if (scope && scope->read_only) return nf(reason::area, n.parent);
                if (parent->level == Level::grid)
                    return fail(ErrorKind::invalid_input, reason::area, "a grid has no children");
                level = static_cast<Level>(static_cast<int>(parent->level) + 1);
                path = parent->path + n.code + "/";
            }
            if (*existing) {
                // Importing the same tree again is idempotent; a different place is not.
                if ((*existing)->path == path && (*existing)->name_zh == n.name_zh &&
                    (*existing)->name_en == n.name_en)
                    return {};
                return fail(ErrorKind::rejected, reason::area_exists, n.code);
            }
            Stmt s(db_, "INSERT INTO areas(code, parent, level, name_zh, name_en, path) "
                        "VALUES(?1, nullif(?2, ''), ?3, ?4, ?5, ?6)");
            return s.bind(1, n.code).bind(2, n.parent).bind(3, std::int64_t{static_cast<int>(level)})
                .bind(4, n.name_zh).bind(5, n.name_en).bind(6, path).run();
        }
    }

    Status rename_area(const std::string& code, const std::string& name_zh,
                       const std::string& name_en, const Scope& scope) override {
        if (name_zh.empty() || !valid_name(name_zh, 128) || !valid_name(name_en, 128))
            return fail(ErrorKind::invalid_input, reason::area, "names 1..128 bytes");
        std::lock_guard lock(mu_);
        auto a = scoped_area_locked(code, &scope);
        if (!a) return fail(a.error());
        // Editable by the level above: not one's own node.
        if (scope.read_only || a->path == scope.path) return nf(reason::area, code);
        Stmt s(db_, "UPDATE areas SET name_zh = ?2, name_en = ?3 WHERE code = ?1");
        return s.bind(1, code).bind(2, name_zh).bind(3, name_en).run();
    }

    Result<AreaNode> area(const std::string& code, const Scope* scope) override {
        std::lock_guard lock(mu_);
        return scoped_area_locked(code, scope);
    }

    Result<std::vector<AreaNode>> areas(const Scope& scope) override {
        std::lock_guard lock(mu_);
        Stmt s(db_, std::string("SELECT ") + kAreaCols + " FROM areas a WHERE " + kInScope +
                        " ORDER BY a.path");
        s.bind(1, scope.path);
        std::vector<AreaNode> out;
        CP_TRY(each_row(s, [&](Stmt& r) { out.push_back(read_area(r)); }));
        return out;
    }

    Result<std::vector<AreaCounts>> area_counts(const Scope& scope, std::int64_t now) override {
        std::lock_guard lock(mu_);
        std::vector<std::pair<std::string, AreaCounts>> nodes;  // path, counts
        {
            Stmt s(db_, std::string("SELECT a.code, a.path FROM areas a WHERE ") + kInScope +
                            " ORDER BY a.path");
            s.bind(1, scope.path);
            CP_TRY(each_row(s, [&](Stmt& r) {
                AreaCounts c;
                c.code = r.text(0);
                nodes.emplace_back(r.text(1), c);
            }));
        }
        std::map<std::string, AreaCounts> per_grid;  // grid path -> counts
        auto grid_rows = [&](const std::string& sql, auto&& apply) -> Status {
            Stmt s(db_, sql);
            s.bind(1, scope.path).bind(2, now - 24 * 3600);
            return each_row(s, [&](Stmt& r) { apply(per_grid[r.text(0)], r); });
        };
        CP_TRY(grid_rows(
            std::string("SELECT a.path, count(*), sum(CASE WHEN st.status = 'red' THEN 1 ELSE 0 END), "
                        "sum(CASE WHEN st.status = 'yellow' THEN 1 ELSE 0 END) "
                        "FROM passes p JOIN areas a ON a.code = p.grid "
                        "LEFT JOIN statuses st ON st.pass_id = p.pass_id WHERE ") +
                kInScope + " AND ?2 = ?2 GROUP BY a.path",
            [](AreaCounts& c, Stmt& r) {
                c.passes += r.i64(1);
                c.red += r.i64(2);
                c.yellow += r.i64(3);
            }));
        CP_TRY(grid_rows(
            std::string("SELECT a.path, sum(CASE WHEN s.verdict = 'red' OR s.reason = 'status-red' THEN 1 ELSE 0 END), "
                        "sum(CASE WHEN s.reason = 'fever' THEN 1 ELSE 0 END) FROM scans s JOIN passes p ON p.pass_id = s.pass_id "
                        "JOIN areas a ON a.code = p.grid WHERE ") +
                kInScope + " AND s.alert = 1 AND s.time >= ?2 GROUP BY a.path",
            [](AreaCounts& c, Stmt& r) {
                c.alerts_24h += r.i64(1);
                c.fevers_24h += r.i64(2);
            }));
        CP_TRY(grid_rows(
            std::string("SELECT a.path, count(*) FROM worklist w JOIN areas a ON a.code = w.grid WHERE ") +
                kInScope + " AND w.resolved_at = 0 AND ?2 = ?2 GROUP BY a.path",
            [](AreaCounts& c, Stmt& r) { c.open_work += r.i64(1); }));
        std::vector<AreaCounts> out;
        for (auto& [path, c] : nodes) {
            for (const auto& [gpath, g] : per_grid) {
                if (gpath.compare(0, path.size(), path) != 0) continue;
                c.passes += g.passes;
                c.red += g.red;
                c.yellow += g.yellow;
                c.alerts_24h += g.alerts_24h;
                c.fevers_24h += g.fevers_24h;
                c.open_work += g.open_work;
            }
            out.push_back(c);
        }
        return out;
    }

    // ---- sites and devices ---------------------------------------------------
    Result<std::int64_t> add_site(const Site& site, const Scope* scope) override {
        if (!valid_area_code(site.code) || site.name.empty() || !valid_name(site.name, 128) ||
            !valid_reason_code(site.kind))
            return fail(ErrorKind::invalid_input, reason::site, "code, name 1..128 bytes, kind [a-z0-9-]");
        std::lock_guard lock(mu_);
        auto a = scoped_area_locked(site.area, scope);
        if (!a) return fail(a.error());
        if (scope && scope->read_only) return nf(reason::area, site.area);
        Stmt s(db_, "INSERT INTO sites(code, area, name, kind) VALUES(?1, ?2, ?3, ?4) "
                    "ON CONFLICT(code) DO NOTHING RETURNING id");
        auto row = s.bind(1, site.code).bind(2, site.area).bind(3, site.name).bind(4, site.kind).step();
        if (!row) return fail(row.error());
        if (!*row) return fail(ErrorKind::rejected, reason::site_exists, site.code);
        return s.i64(0);
    }

    static Site read_site(Stmt& s, int c) {
        return Site{s.i64(c), s.text(c + 1), s.text(c + 2), s.text(c + 3), s.text(c + 4)};
    }

    Result<std::vector<Site>> sites(const Scope& scope) override {
        std::lock_guard lock(mu_);
        Stmt s(db_, std::string("SELECT si.id, si.code, si.area, si.name, si.kind FROM sites si "
                                "JOIN areas a ON a.code = si.area WHERE ") + kInScope + " ORDER BY si.code");
        s.bind(1, scope.path);
        std::vector<Site> out;
        CP_TRY(each_row(s, [&](Stmt& r) { out.push_back(read_site(r, 0)); }));
        return out;
    }

    Status assign_device(const std::string& device_id, const std::string& site_code,
                         const Scope* scope) override {
        std::lock_guard lock(mu_);
        Stmt q(db_, "SELECT si.id, a.path FROM sites si JOIN areas a ON a.code = si.area WHERE si.code = ?1");
        q.bind(1, site_code);
        auto r = q.step();
        if (!r) return fail(r.error());
        if (!*r || (scope && (scope->read_only || !in_scope(q.text(1), *scope))))
            return nf(reason::site, site_code);
        const std::int64_t site_id = q.i64(0);
        if (scope) {  // a console operator may only move devices it can see
            auto cur = device_path_locked(device_id);
            if (!cur) return fail(cur.error());
            if (!device_visible(*cur, *scope)) return nf(reason::device, device_id);
        } else {
            Stmt d(db_, "SELECT 1 FROM devices WHERE id = ?1");
            d.bind(1, device_id);
            auto have = d.step();
            if (!have) return fail(have.error());
            if (!*have) return nf(reason::device, device_id);
        }
        Stmt s(db_, "INSERT INTO device_sites(device_id, site_id) VALUES(?1, ?2) "
                    "ON CONFLICT(device_id) DO UPDATE SET site_id = ?2");
        return s.bind(1, device_id).bind(2, site_id).run();
    }

    // The device's site path: nullopt when not enrolled, "" when unassigned.
    Result<std::optional<std::string>> device_path_locked(const std::string& id) {
        Stmt s(db_, "SELECT coalesce(a.path, '') FROM devices d LEFT JOIN device_sites ds ON ds.device_id = d.id "
                    "LEFT JOIN sites si ON si.id = ds.site_id LEFT JOIN areas a ON a.code = si.area "
                    "WHERE d.id = ?1");
        s.bind(1, id);
        auto r = s.step();
        if (!r) return fail(r.error());
        if (!*r) return std::optional<std::string>();
        return std::optional<std::string>(s.text(0));
    }

    static bool device_visible(const std::optional<std::string>& path, const Scope& scope) {
        if (!path) return false;
        if (path->empty()) return depth_of(scope.path) == 0;  // unassigned: the city only
        return in_scope(*path, scope);
    }

    Result<std::vector<DeviceView>> devices_locked(const Scope& scope, const std::string& only) {
        constexpr int site = kDeviceStateColumnCount;  // the site's five columns, then its area path
        Stmt s(db_, std::string("SELECT ") + kDeviceStateColumns +
                        ", si.id, si.code, si.area, si.name, si.kind, coalesce(a.path, '') "
                        "FROM devices d LEFT JOIN heartbeats h ON h.device_id = d.id "
                        "LEFT JOIN device_sites ds ON ds.device_id = d.id LEFT JOIN sites si ON si.id = ds.site_id "
                        "LEFT JOIN areas a ON a.code = si.area WHERE (?1 = '' OR d.id = ?1) ORDER BY d.id");
        s.bind(1, only);
        std::vector<DeviceView> out;
        CP_TRY(each_row(s, [&](Stmt& r) {
            std::optional<std::string> path(r.text(site + 5));
            if (!device_visible(path, scope)) return;
            DeviceView v;
            v.state = read_device_state(r);
            if (!r.is_null(site)) v.site = read_site(r, site);
            out.push_back(std::move(v));
        }));
        return out;
    }

    Result<std::vector<DeviceView>> devices(const Scope& scope) override {
        std::lock_guard lock(mu_);
        return devices_locked(scope, "");
    }

    Result<DeviceView> device(const std::string& id, const Scope& scope) override {
        if (id.empty()) return nf(reason::device, id);
        std::lock_guard lock(mu_);
        auto v = devices_locked(scope, id);
        if (!v) return fail(v.error());
        if (v->empty()) return nf(reason::device, id);
        return v->front();
    }

    // ---- passes and statuses -------------------------------------------------
    Status add_passes(const std::vector<PassRecord>& passes, const Scope* scope,
                      const std::string& actor, std::int64_t now) override {
        for (const auto& p : passes)
            if (!valid_pass_id(p.pass_id) || !valid_name(p.label, 64))
                return fail(ErrorKind::invalid_input, reason::pass, p.pass_id);
        std::lock_guard lock(mu_);
        return transaction([&]() -> Status {
            if (scope && scope->read_only) return nf(reason::area, scope->path);
            std::map<std::string, AreaNode> grids;
            std::map<std::string, std::size_t> per_grid;
            Stmt ins(db_, "INSERT INTO passes(pass_id, grid, label, added_at) VALUES(?1, ?2, ?3, ?4) "
                          "ON CONFLICT(pass_id) DO UPDATE SET grid = ?2, label = ?3");
            Stmt old(db_, "SELECT a.path FROM passes p JOIN areas a ON a.code = p.grid WHERE p.pass_id = ?1");
            for (const auto& p : passes) {
                auto it = grids.find(p.grid);
                if (it == grids.end()) {
                    auto a = scoped_area_locked(p.grid, scope);
                    if (!a) return fail(a.error());
                    if (a->level != Level::grid)
                        return fail(ErrorKind::invalid_input, reason::pass, "area " + p.grid + " is not a grid");
                    it = grids.emplace(p.grid, *a).first;
                }
                if (scope) {  // moving a pass out of someone else's grid is a write there
                    old.bind(1, p.pass_id);
                    auto r = old.step();
                    if (!r) return fail(r.error());
                    if (*r && !in_scope(old.text(0), *scope)) return nf(reason::pass, p.pass_id);
                    old.reset();
                }
                CP_TRY(ins.bind(1, p.pass_id).bind(2, p.grid).bind(3, p.label).bind(4, now).run());
                ins.reset();
                ++per_grid[p.grid];
            }
            AuditEntry e;
            e.at = now;
            e.actor = actor;
            e.role = scope ? "" : "host";
            e.action = "passes-import";
            for (const auto& [code, a] : grids) {
                e.area = code;
                e.object = std::to_string(per_grid[code]);
                CP_TRY(audit_locked(e, a.path));
            }
            return {};
        });
    }

    static constexpr const char* kPassSelect =
        "SELECT p.pass_id, p.grid, p.label, coalesce(st.status, 'green'), coalesce(st.reason, ''), "
        "coalesce(t.until, 0), coalesce(st.updated_at, 0), a.path FROM passes p "
        "JOIN areas a ON a.code = p.grid LEFT JOIN statuses st ON st.pass_id = p.pass_id "
        "LEFT JOIN status_terms t ON t.pass_id = p.pass_id ";

    static PassRecord read_pass(Stmt& r) {
        PassRecord p;
        p.pass_id = r.text(0);
        p.grid = r.text(1);
        p.label = r.text(2);
        p.status = parse_pass_status(r.text(3)).value_or(PassStatus::green);
        p.reason = r.text(4);
        p.until = r.i64(5);
        p.since = r.i64(6);
        return p;
    }

    Result<std::vector<PassRecord>> passes(const Scope& scope, const std::string& grid,
                                           std::size_t limit) override {
        std::lock_guard lock(mu_);
        Stmt s(db_, std::string(kPassSelect) + "WHERE " + kInScope +
                        " AND (?2 = '' OR p.grid = ?2) ORDER BY p.grid, p.pass_id LIMIT ?3");
        s.bind(1, scope.path).bind(2, grid).bind(3, static_cast<std::int64_t>(limit));
        std::vector<PassRecord> out;
        CP_TRY(each_row(s, [&](Stmt& r) { out.push_back(read_pass(r)); }));
        return out;
    }

    Result<std::pair<PassRecord, std::string>> pass_locked(const std::string& pass_id) {
        Stmt s(db_, std::string(kPassSelect) + "WHERE p.pass_id = ?1");
        s.bind(1, pass_id);
        auto r = s.step();
        if (!r) return fail(r.error());
        if (!*r) return nf(reason::pass, pass_id);
        return std::make_pair(read_pass(s), s.text(7));
    }

    Result<PassRecord> pass(const std::string& pass_id, const Scope& scope) override {
        std::lock_guard lock(mu_);
        auto p = pass_locked(pass_id);
        if (!p) return fail(p.error());
        if (!in_scope(p->second, scope)) return nf(reason::pass, pass_id);
        return p->first;
    }

    Status write_status_locked(const StatusChange& c, std::int64_t now) {
        Stmt s(db_, "INSERT INTO statuses(pass_id, status, reason, updated_at) VALUES(?1, ?2, ?3, ?4) "
                    "ON CONFLICT(pass_id) DO UPDATE SET status = ?2, reason = ?3, updated_at = ?4");
        CP_TRY(s.bind(1, c.pass_id).bind(2, to_string(c.status)).bind(3, c.reason).bind(4, now).run());
        if (c.until > 0) {
            Stmt t(db_, "INSERT INTO status_terms(pass_id, until) VALUES(?1, ?2) "
                        "ON CONFLICT(pass_id) DO UPDATE SET until = ?2");
            return t.bind(1, c.pass_id).bind(2, c.until).run();
        }
        Stmt t(db_, "DELETE FROM status_terms WHERE pass_id = ?1");
        return t.bind(1, c.pass_id).run();
    }

    Status change_statuses(const std::vector<StatusChange>& changes, const Scope& scope,
                           const Operator& actor, std::int64_t now) override {
        for (const auto& c : changes) {
            if (!valid_pass_id(c.pass_id)) return nf(reason::pass, c.pass_id);
            if (c.status == PassStatus::red && !valid_reason_code(c.reason))
                return fail(ErrorKind::invalid_input, reason::status_reason, "a red status needs a reason code");
            if (!c.reason.empty() && !valid_reason_code(c.reason))
                return fail(ErrorKind::invalid_input, reason::status_reason, "reason code [a-z0-9-]{1,32}");
            if (c.until != 0 && c.until <= now)
                return fail(ErrorKind::invalid_input, reason::until, "the end date is in the past");
        }
        std::lock_guard lock(mu_);
        return transaction([&]() -> Status {
            for (const auto& c : changes) {
                auto p = pass_locked(c.pass_id);
                if (!p) return fail(p.error());
                if (!in_scope(p->second, scope)) return nf(reason::pass, c.pass_id);
                if (scope.read_only) return fail(ErrorKind::rejected, reason::read_only, "big-screen account");
                CP_TRY(write_status_locked(c, now));
                AuditEntry e;
                e.at = now;
                e.actor = actor.username;
                e.role = to_string(actor.role);
                e.area = p->first.grid;
                e.action = "status";
                e.object = c.pass_id;
                e.from = to_string(p->first.status);
                e.to = to_string(c.status);
                e.reason = c.reason + (c.until ? " until " + std::to_string(c.until) : "");
                CP_TRY(audit_locked(e, p->second));
            }
            return {};
        });
    }

    Result<std::size_t> expire_statuses(std::int64_t now) override {
        std::lock_guard lock(mu_);
        {  // Runs every second: no write lock unless something is due.
            Stmt q(db_, "SELECT 1 FROM status_terms WHERE until <= ?1 LIMIT 1");
            q.bind(1, now);
            auto due = q.step();
            if (!due) return fail(due.error());
            if (!*due) return std::size_t{0};
        }
        return transaction([&]() -> Result<std::size_t> {
            std::vector<std::pair<PassRecord, std::string>> due;
            Stmt s(db_, std::string(kPassSelect) + "WHERE t.until > 0 AND t.until <= ?1");
            s.bind(1, now);
            CP_TRY(each_row(s, [&](Stmt& r) { due.emplace_back(read_pass(r), r.text(7)); }));
            std::size_t expired = 0;
            for (const auto& [p, path] : due) {
                if (p.status == PassStatus::green) {  // made green meanwhile (e.g. on the host): only the term goes
                    Stmt t(db_, "DELETE FROM status_terms WHERE pass_id = ?1");
                    CP_TRY(t.bind(1, p.pass_id).run());
                    continue;
                }
                ++expired;
                CP_TRY(write_status_locked({p.pass_id, PassStatus::green, "", 0}, now));
                AuditEntry e{0, now, "system", "system", p.grid, "status", p.pass_id,
                             to_string(p.status), "green", "end-date"};
                CP_TRY(audit_locked(e, path));
                Stmt w(db_, "INSERT INTO worklist(grid, kind, ref, pass_id, detail, created_at) "
                            "VALUES(?1, 'isolation-ended', ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING");
                CP_TRY(w.bind(1, p.grid).bind(2, p.pass_id + ":" + std::to_string(p.until))
                           .bind(3, p.pass_id).bind(4, std::string(to_string(p.status)) + " " + p.reason)
                           .bind(5, now).run());
            }
            return expired;
        });
    }

    // ---- scans ---------------------------------------------------------------
    static std::string scan_filter() {
        return std::string("(s.pass_id IN (SELECT p.pass_id FROM passes p JOIN areas a ON a.code = p.grid WHERE ") +
               kInScope + ") OR s.device_id IN (SELECT ds.device_id FROM device_sites ds JOIN sites si "
               "ON si.id = ds.site_id JOIN areas a ON a.code = si.area WHERE " + kInScope + "))";
    }

    Result<std::vector<UpstreamStore::ScanRow>> scans(const Scope& scope, std::size_t limit,
                                                      bool alerts_only) override {
        std::lock_guard lock(mu_);
        Stmt s(db_, std::string("SELECT ") + cp::upstream::kScanColumns + " FROM scans s WHERE " + scan_filter() +
                        " AND (?2 = 0 OR s.alert = 1) ORDER BY s.rowid DESC LIMIT ?3");
        s.bind(1, scope.path).bind(2, std::int64_t{alerts_only ? 1 : 0}).bind(3, static_cast<std::int64_t>(limit));
        std::vector<UpstreamStore::ScanRow> out;
        CP_TRY(each_row(s, [&](Stmt& r) { out.push_back(cp::upstream::read_scan_row(r)); }));
        return out;
    }

    Result<std::vector<std::pair<std::int64_t, std::int64_t>>> bucket_counts(const Scope& scope,
                                                                             std::int64_t since,
                                                                             std::int64_t width) {
        Stmt s(db_, "SELECT (s.time / ?3) * ?3 AS b, count(*) FROM scans s WHERE " + scan_filter() +
                        " AND s.time >= ?2 AND s.manual = 0 GROUP BY b ORDER BY b");
        s.bind(1, scope.path).bind(2, since).bind(3, width);
        std::vector<std::pair<std::int64_t, std::int64_t>> out;
        CP_TRY(each_row(s, [&](Stmt& r) { out.emplace_back(r.i64(0), r.i64(1)); }));
        return out;
    }

    Result<std::vector<HourCount>> scans_per_hour(const Scope& scope, std::int64_t since) override {
        std::lock_guard lock(mu_);
        auto b = bucket_counts(scope, since, 3600);
        if (!b) return fail(b.error());
        std::vector<HourCount> out;
        for (auto [t, n] : *b) out.push_back({t, n});
        return out;
    }

    Result<std::vector<DayCount>> scans_per_day(const Scope& scope, std::int64_t since) override {
        std::lock_guard lock(mu_);
        auto b = bucket_counts(scope, since, 86400);
        if (!b) return fail(b.error());
        std::vector<DayCount> out;
        for (auto [t, n] : *b) out.push_back({t, n});
        return out;
    }

    // ---- operators and sessions ----------------------------------------------
    static constexpr const char* kOpSelect =
        "SELECT o.id, o.username, o.role, o.area, a.path, o.pw_hash, o.created_at, o.disabled "
        "FROM operators o JOIN areas a ON a.code = o.area ";

    static std::optional<Operator> read_operator(Stmt& r) {
        auto role = parse_role(r.text(2));
        if (!role) return std::nullopt;
        Operator o;
        o.id = r.i64(0);
        o.username = r.text(1);
        o.role = *role;
        o.area = r.text(3);
        o.area_path = r.text(4);
        o.pw_hash = r.text(5);
        o.created_at = r.i64(6);
        o.disabled = r.i64(7) != 0;
        return o;
    }

    Result<std::int64_t> add_operator(const Operator& op, const Operator* creator,
                                      std::int64_t now) override {
        if (!valid_username(op.username) || op.pw_hash.rfind("$argon2id$", 0) != 0)
            return fail(ErrorKind::invalid_input, reason::operator_, "username [a-z0-9._-]{2,64}, Argon2id hash");
        std::lock_guard lock(mu_);
        return transaction([&]() -> Result<std::int64_t> {
            const Scope scope = creator ? creator->scope() : Scope{};
            auto a = scoped_area_locked(op.area, creator ? &scope : nullptr);
            if (!a) return fail(a.error());
            if (op.role != Role::bigscreen && static_cast<int>(op.role) != static_cast<int>(a->level))
                return fail(ErrorKind::invalid_input, reason::operator_,
                            std::string("role ") + to_string(op.role) + " at a " + to_string(a->level) + " node");
            if (creator) {
                // Made by an operator above it: a deeper node, or a big screen at one's own.
                const bool deeper = a->path != creator->area_path;
                if (creator->role == Role::bigscreen || creator->role == Role::grid ||
                    (!deeper && op.role != Role::bigscreen))
                    return nf(reason::area, op.area);
            }
            Stmt s(db_, "INSERT INTO operators(username, role, area, pw_hash, created_at, created_by, "
                        "pw_changed_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?5) ON CONFLICT(username) DO NOTHING "
                        "RETURNING id");
            auto row = s.bind(1, op.username).bind(2, to_string(op.role)).bind(3, op.area).bind(4, op.pw_hash)
                           .bind(5, now).bind(6, creator ? creator->username : std::string("host")).step();
            if (!row) return fail(row.error());
            if (!*row) return fail(ErrorKind::rejected, reason::operator_exists, op.username);
            const std::int64_t id = s.i64(0);
            AuditEntry e{0, now, creator ? creator->username : "host",
                         creator ? to_string(creator->role) : "host", op.area, "operator-add",
                         op.username, "", to_string(op.role), ""};
            CP_TRY(audit_locked(e, a->path));
            return id;
        });
    }

    Result<std::optional<Operator>> one_operator(const std::string& where, auto&& binder) {
        std::lock_guard lock(mu_);
        Stmt s(db_, std::string(kOpSelect) + where);
        binder(s);
        auto r = s.step();
        if (!r) return fail(r.error());
        if (!*r) return std::optional<Operator>();
        return read_operator(s);
    }

    Result<std::optional<Operator>> find_operator(const std::string& username) override {
        return one_operator("WHERE o.username = ?1", [&](Stmt& s) { s.bind(1, username); });
    }
    Result<std::optional<Operator>> operator_by_id(std::int64_t id) override {
        return one_operator("WHERE o.id = ?1", [&](Stmt& s) { s.bind(1, id); });
    }

    Result<std::vector<Operator>> operators(const Scope& scope) override {
        std::lock_guard lock(mu_);
        Stmt s(db_, std::string(kOpSelect) + "WHERE " + kInScope + " ORDER BY a.path, o.username");
        s.bind(1, scope.path);
        std::vector<Operator> out;
        CP_TRY(each_row(s, [&](Stmt& r) {
            if (auto o = read_operator(r)) {
                o->pw_hash.clear();
                out.push_back(std::move(*o));
            }
        }));
        return out;
    }

    Status set_password(std::int64_t id, const std::string& pw_hash, std::int64_t now) override {
        if (pw_hash.rfind("$argon2id$", 0) != 0) return fail(ErrorKind::invalid_input, reason::operator_, "hash");
        std::lock_guard lock(mu_);
        Stmt s(db_, "UPDATE operators SET pw_hash = ?2, pw_changed_at = ?3 WHERE id = ?1");
        CP_TRY(s.bind(1, id).bind(2, pw_hash).bind(3, now).run());
        if (db_->changes() == 0) return nf(reason::operator_, std::to_string(id));
        return {};
    }

    Result<std::int64_t> operator_count() override {
        std::lock_guard lock(mu_);
        Stmt s(db_, "SELECT count(*) FROM operators");
        auto r = s.step();
        if (!r) return fail(r.error());
        return s.i64(0);
    }

    Status add_session(const Session& x) override {
        std::lock_guard lock(mu_);
        Stmt s(db_, "INSERT INTO sessions(token_hash, operator_id, csrf, created_at, last_seen) "
                    "VALUES(?1, ?2, ?3, ?4, ?5)");
        return s.bind(1, x.token_hash).bind(2, x.operator_id).bind(3, x.csrf).bind(4, x.created_at)
            .bind(5, x.last_seen).run();
    }
    Result<std::optional<Session>> session(const std::string& token_hash) override {
        std::lock_guard lock(mu_);
        Stmt s(db_, "SELECT token_hash, operator_id, csrf, created_at, last_seen FROM sessions WHERE token_hash = ?1");
        s.bind(1, token_hash);
        auto r = s.step();
        if (!r) return fail(r.error());
        if (!*r) return std::optional<Session>();
        return std::optional<Session>(Session{s.text(0), s.i64(1), s.text(2), s.i64(3), s.i64(4)});
    }
    Status touch_session(const std::string& token_hash, std::int64_t now) override {
        std::lock_guard lock(mu_);
        Stmt s(db_, "UPDATE sessions SET last_seen = ?2 WHERE token_hash = ?1 AND last_seen < ?2");
        return s.bind(1, token_hash).bind(2, now).run();
    }
    Status delete_session(const std::string& token_hash) override {
        std::lock_guard lock(mu_);
        Stmt s(db_, "DELETE FROM sessions WHERE token_hash = ?1");
        return s.bind(1, token_hash).run();
    }
    Status delete_sessions_of(std::int64_t operator_id) override {
        std::lock_guard lock(mu_);
        Stmt s(db_, "DELETE FROM sessions WHERE operator_id = ?1");
        return s.bind(1, operator_id).run();
    }
    Status prune_sessions(std::int64_t idle_before, std::int64_t created_before) override {
        std::lock_guard lock(mu_);
        Stmt s(db_, "DELETE FROM sessions WHERE last_seen < ?1 OR created_at < ?2");
        CP_TRY(s.bind(1, idle_before).bind(2, created_before).run());
        Stmt f(db_, "DELETE FROM login_failures WHERE at < ?1");
        return f.bind(1, created_before).run();
    }

    Status add_login_failure(const std::string& key, std::int64_t now) override {
        std::lock_guard lock(mu_);
        Stmt s(db_, "INSERT INTO login_failures(key, at) VALUES(?1, ?2)");
        return s.bind(1, key).bind(2, now).run();
    }
    Result<std::int64_t> login_failures(const std::string& key, std::int64_t since) override {
        std::lock_guard lock(mu_);
        Stmt s(db_, "SELECT count(*) FROM login_failures WHERE key = ?1 AND at >= ?2");
        s.bind(1, key).bind(2, since);
        auto r = s.step();
        if (!r) return fail(r.error());
        return s.i64(0);
    }
    Status clear_login_failures(const std::string& key) override {
        std::lock_guard lock(mu_);
        Stmt s(db_, "DELETE FROM login_failures WHERE key = ?1");
        return s.bind(1, key).run();
    }

    // ---- publish schedule ----------------------------------------------------
    Result<bool> claim_publish_run(std::int64_t now_ms, std::int64_t interval_ms) override {
        std::lock_guard lock(mu_);
        const std::int64_t next = now_ms + interval_ms;
        Stmt first(db_, "INSERT INTO console_state(key, value) VALUES('publish-due-ms', ?1) ON CONFLICT DO NOTHING");
        CP_TRY(first.bind(1, next).run());
        if (db_->changes() == 1) return false;
        // One row update: of replicas claiming at once, the row lock lets one see it due.
        Stmt claim(db_, "UPDATE console_state SET value = ?2 WHERE key = 'publish-due-ms' AND value <= ?1");
        CP_TRY(claim.bind(1, now_ms).bind(2, next).run());
        return db_->changes() == 1;
    }

    // ---- audit ---------------------------------------------------------------
    Status audit_locked(const AuditEntry& e, const std::string& path) {
        Stmt s(db_, "INSERT INTO audit(at, actor, role, area, path, action, object, from_value, to_value, "
                    "reason) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
        return s.bind(1, e.at).bind(2, e.actor).bind(3, e.role).bind(4, e.area).bind(5, path)
            .bind(6, e.action).bind(7, e.object).bind(8, e.from).bind(9, e.to).bind(10, e.reason).run();
    }

    Status audit(const AuditEntry& e) override {
        std::lock_guard lock(mu_);
        auto a = area_locked(e.area);
        if (!a) return fail(a.error());
        if (!*a) return nf(reason::area, e.area);
        return audit_locked(e, (*a)->path);
    }

    Result<std::vector<AuditEntry>> audit_log(const Scope& scope, std::size_t limit) override {
        std::lock_guard lock(mu_);
        Stmt s(db_, "SELECT id, at, actor, role, area, action, object, from_value, to_value, reason "
                    "FROM audit a WHERE " + std::string(kInScope) + " ORDER BY id DESC LIMIT ?2");
        s.bind(1, scope.path).bind(2, static_cast<std::int64_t>(limit));
        std::vector<AuditEntry> out;
        CP_TRY(each_row(s, [&](Stmt& r) {
            out.push_back(AuditEntry{r.i64(0), r.i64(1), r.text(2), r.text(3), r.text(4), r.text(5),
                                     r.text(6), r.text(7), r.text(8), r.text(9)});
        }));
        return out;
    }

    // ---- worklist ------------------------------------------------------------
    Result<std::size_t> refresh_worklist(std::int64_t now) override {
        std::lock_guard lock(mu_);
        {  // Runs every second: no write lock unless scans arrived since the last pass.
            Stmt q(db_, "SELECT coalesce((SELECT value FROM console_state WHERE key = 'worklist-scan-cursor'), 0) < "
                        "coalesce((SELECT max(rowid) FROM scans), 0)");
            auto r = q.step();
            if (!r) return fail(r.error());
            if (q.i64(0) == 0) return std::size_t{0};
        }
        return transaction([&]() -> Result<std::size_t> {
            if (db_->dialect() == Dialect::postgresql) {
                // No ingest in flight: every scan below max(rowid) is committed, so the
                // cursor never passes a row that commits later (pg_store.hpp).
                Stmt w(db_, "SELECT pg_advisory_xact_lock(?1)");
                CP_TRY(w.bind(1, cp::upstream::kScanWriteLockKey).run());
            }
            Stmt c(db_, "SELECT coalesce((SELECT value FROM console_state WHERE key = 'worklist-scan-cursor'), 0), "
                        "coalesce((SELECT max(rowid) FROM scans), 0)");
            auto r = c.step();
            if (!r) return fail(r.error());
            const std::int64_t cursor = c.i64(0), top = c.i64(1);
            if (top <= cursor) return std::size_t{0};
            Stmt ins(db_, "INSERT INTO worklist(grid, kind, ref, pass_id, detail, created_at) "
                          "SELECT p.grid, 'scan-alert', s.device_id || ':' || s.seq, s.pass_id, "
                          "s.verdict || ' ' || s.reason || ' ' || s.device_id, ?3 FROM scans s "
                          "JOIN passes p ON p.pass_id = s.pass_id "
                          "WHERE s.rowid > ?1 AND s.rowid <= ?2 AND s.alert = 1 ON CONFLICT DO NOTHING");
            CP_TRY(ins.bind(1, cursor).bind(2, top).bind(3, now).run());
            const auto n = static_cast<std::size_t>(db_->changes());
            Stmt up(db_, "INSERT INTO console_state(key, value) VALUES('worklist-scan-cursor', ?1) "
                         "ON CONFLICT(key) DO UPDATE SET value = ?1");
            CP_TRY(up.bind(1, top).run());
            return n;
        });
    }

    static WorkItem read_work(Stmt& r) {
        return WorkItem{r.i64(0), r.text(1), r.text(2), r.text(3), r.text(4), r.i64(5),
                        r.text(6), r.i64(7), r.i64(8), r.text(9), r.text(10)};
    }
    static constexpr const char* kWorkSelect =
        "SELECT w.id, w.grid, w.kind, w.pass_id, w.detail, w.created_at, w.claimed_by, w.claimed_at, "
        "w.resolved_at, w.outcome, w.note, a.path FROM worklist w JOIN areas a ON a.code = w.grid ";

    Result<std::vector<WorkItem>> worklist(const Scope& scope, bool open_only, std::size_t limit) override {
        std::lock_guard lock(mu_);
        Stmt s(db_, std::string(kWorkSelect) + "WHERE " + kInScope +
                        " AND (?2 = 0 OR w.resolved_at = 0) ORDER BY w.resolved_at != 0, w.id DESC LIMIT ?3");
        s.bind(1, scope.path).bind(2, std::int64_t{open_only ? 1 : 0}).bind(3, static_cast<std::int64_t>(limit));
        std::vector<WorkItem> out;
        CP_TRY(each_row(s, [&](Stmt& r) { out.push_back(read_work(r)); }));
        return out;
    }

    Result<std::pair<WorkItem, std::string>> work_locked(std::int64_t id, const Operator& actor) {
        Stmt s(db_, std::string(kWorkSelect) + "WHERE w.id = ?1");
        s.bind(1, id);
        auto r = s.step();
        if (!r) return fail(r.error());
        if (!*r || !in_scope(s.text(11), actor.scope())) return nf(reason::work_item, std::to_string(id));
        if (actor.role == Role::bigscreen) return fail(ErrorKind::rejected, reason::read_only, "big-screen account");
        return std::make_pair(read_work(s), s.text(11));
    }

    Status claim_work(std::int64_t id, const Operator& actor, std::int64_t now) override {
        std::lock_guard lock(mu_);
        return transaction([&]() -> Status {
            auto w = work_locked(id, actor);
            if (!w) return fail(w.error());
            if (w->first.resolved_at) return fail(ErrorKind::rejected, reason::resolved, std::to_string(id));
            if (!w->first.claimed_by.empty() && w->first.claimed_by != actor.username)
                return fail(ErrorKind::rejected, reason::claimed, w->first.claimed_by);
            Stmt s(db_, "UPDATE worklist SET claimed_by = ?2, claimed_at = ?3 WHERE id = ?1");
            CP_TRY(s.bind(1, id).bind(2, actor.username).bind(3, now).run());
            AuditEntry e{0, now, actor.username, to_string(actor.role), w->first.grid, "work-claim",
                         std::to_string(id), w->first.claimed_by, actor.username, w->first.kind};
            return audit_locked(e, w->second);
        });
    }

    Status resolve_work(std::int64_t id, const std::string& outcome, const std::string& note,
                        const Operator& actor, std::int64_t now) override {
        if (!valid_reason_code(outcome) || !valid_name(note, 500))
            return fail(ErrorKind::invalid_input, reason::outcome, "outcome code [a-z0-9-], note at most 500 bytes");
        std::lock_guard lock(mu_);
        return transaction([&]() -> Status {
            auto w = work_locked(id, actor);
            if (!w) return fail(w.error());
            if (w->first.resolved_at) return fail(ErrorKind::rejected, reason::resolved, std::to_string(id));
            if (!w->first.claimed_by.empty() && w->first.claimed_by != actor.username &&
                actor.role == Role::grid)
                return fail(ErrorKind::rejected, reason::claimed, w->first.claimed_by);
            Stmt s(db_, "UPDATE worklist SET resolved_at = ?2, outcome = ?3, note = ?4, "
                        "claimed_by = CASE claimed_by WHEN '' THEN ?5 ELSE claimed_by END WHERE id = ?1");
            CP_TRY(s.bind(1, id).bind(2, now).bind(3, outcome).bind(4, note).bind(5, actor.username).run());
            AuditEntry e{0, now, actor.username, to_string(actor.role), w->first.grid, "work-resolve",
                         std::to_string(id), "open", outcome, note};
            return audit_locked(e, w->second);
        });
    }

private:
    std::unique_ptr<SqlDb> owned_;
    SqlDb* db_;
    std::mutex mu_;
};

}  // namespace

namespace {

Result<std::unique_ptr<ConsoleStore>> open_console_on(std::unique_ptr<SqlDb> db) {
    const bool pg = db->dialect() == Dialect::postgresql;
    const Reason migration = pg ? cp::upstream::sql_reason::postgresql_schema : Reason("sqlite-migration");
    {
        // The console joins the upstream's tables: they must exist (open the upstream store first).
        Stmt s(db.get(), pg ? "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename IN "
                              "('scans', 'statuses', 'devices', 'heartbeats')"
                            : "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN "
                              "('scans', 'statuses', 'devices', 'heartbeats')");
        auto r = s.step();
        if (!r || s.i64(0) != 4)
            return fail(ErrorKind::io, migration, "the upstream schema is missing; open the upstream store first");
    }
    auto store = std::make_unique<SqliteConsoleStore>(std::move(db));
    auto st = store->migrate();
    if (!st) return fail(ErrorKind::io, migration, st.error().message);
    return std::unique_ptr<ConsoleStore>(std::move(store));
}

}  // namespace

Result<std::unique_ptr<ConsoleStore>> open_sqlite_console_store(const std::string& path) {
    auto db = cp::upstream::open_sqlite_db(path, false);
    if (!db) return fail(db.error());
    return open_console_on(std::move(*db));
}

Result<std::unique_ptr<ConsoleStore>> open_console_store(const std::string& db) {
    if (cp::upstream::is_pg_url(db)) {
        auto c = cp::upstream::open_pg_db(db);
        if (!c) return fail(c.error());
        return open_console_on(std::move(*c));
    }
    return open_sqlite_console_store(db);
}

}  // namespace cp::upstream::console
