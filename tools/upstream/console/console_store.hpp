// Storage of the command-centre console: the area tree (city → district → street →
// grid), sites and the devices assigned to them, passes belonging to grids, operator
// accounts with one role at one node, sessions, login failures, the append-only
// audit log, the per-grid worklist and the end dates of statuses.
//
// Scope is part of every query: each read or write that concerns an area-bound
// object takes the operator's Scope (the path of the operator's node) and returns
// not_found for anything outside that subtree, so a caller cannot tell "outside
// my scope" from "does not exist".
//
// Area paths are materialised ("/23/2301/230102/"): a node is inside a scope when
// its path starts with the scope's path. The schema is created by numbered
// migrations (schema_migrations table), so a second backend (PostgreSQL) can apply
// the same numbered steps. Implementations are thread-safe.
#pragma once

#include "src/common/result.hpp"
#include "tools/upstream/store.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace cp::upstream::console {

enum class Level { city = 0, district = 1, street = 2, grid = 3 };
const char* to_string(Level l) noexcept;
std::optional<Level> parse_level(std::string_view s);

// An operator's role: one of the four levels (it must match its node's level), or a
// read-only big-screen account at any node.
enum class Role { city, district, street, grid, bigscreen };
const char* to_string(Role r) noexcept;
std::optional<Role> parse_role(std::string_view s);

struct AreaNode {
    std::string code;      // [0-9A-Za-z-], 1..32
    std::string parent;    // empty for the city
    Level level = Level::city;
    std::string name_zh;
    std::string name_en;   // optional
    std::string path;      // "/city/district/.../code/"
};

// The subtree an operator may read (and, unless read-only, change).
struct Scope {
    std::string path;      // the operator's node path; "/" never (no global scope)
    bool read_only = true;
};

struct Operator {
    std::int64_t id = 0;
    std::string username;
    Role role = Role::grid;
    std::string area;       // node code
    std::string area_path;
    std::string pw_hash;    // Argon2id string (libsodium crypto_pwhash_str)
    std::int64_t created_at = 0;
    bool disabled = false;
    Scope scope() const { return {area_path, role == Role::bigscreen}; }
};

struct Session {
    std::string token_hash;  // SHA-256 of the cookie token, hex (the token is never stored)
    std::int64_t operator_id = 0;
    std::string csrf;
    std::int64_t created_at = 0;
    std::int64_t last_seen = 0;
};

struct Site {
    std::int64_t id = 0;
    std::string code;
    std::string area;
    std::string name;
    std::string kind;       // gate, shop, road-entry, rail-entry, ...
};

struct DeviceAssignment {
    std::string device_id;
    std::int64_t site_id = 0;
};

struct PassRecord {
    std::string pass_id;     // 32 lower-case hex
    std::string grid;        // grid node code
    std::string label;       // masked name as printed on the pass ("张*")
    // Current working status (green when the upstream has none).
    PassStatus status = PassStatus::green;
    std::string reason;
    std::int64_t until = 0;  // 0: no end date
    std::int64_t since = 0;
};

struct AuditEntry {
    std::int64_t id = 0;
    std::int64_t at = 0;
    std::string actor;       // operator username, or "system"
    std::string role;
    std::string area;        // node the object belongs to (scope of the entry)
    std::string action;      // status, login, logout, operator-add, ...
    std::string object;      // pass id, username, site code, ...
    std::string from;
    std::string to;
    std::string reason;
};

struct WorkItem {
    std::int64_t id = 0;
    std::string grid;
    std::string kind;        // scan-alert, isolation-ended, self-report, arrival
    std::string pass_id;
    std::string detail;      // e.g. "red status-red gate-01" (no personal data)
    std::int64_t created_at = 0;
    std::string claimed_by;
    std::int64_t claimed_at = 0;
    std::int64_t resolved_at = 0;
    std::string outcome;
    std::string note;
};

struct StatusChange {
    std::string pass_id;
    PassStatus status = PassStatus::green;
    std::string reason;
    std::int64_t until = 0;  // end date (s since epoch); 0: none
};

struct AreaCounts {
    std::string code;
    std::int64_t passes = 0, red = 0, yellow = 0, alerts_24h = 0, fevers_24h = 0;
    std::int64_t open_work = 0;
};

struct DeviceView {
    DeviceState state;
    std::optional<Site> site;
};

struct DayCount {
    std::int64_t day = 0;  // start of the UTC day
    std::int64_t scans = 0;
};

class ConsoleStore {
public:
    virtual ~ConsoleStore() = default;

    // The numbered migrations applied so far (tests and `upstream operator` report it).
    virtual Result<std::int64_t> schema_version() = 0;

    // --- areas ---------------------------------------------------------------
    // Adds a node under `parent` (empty parent: the city, allowed once).
    // Errors: invalid_input "area" (bad code/name/level), rejected "area-exists",
    // not_found "area" (parent outside `scope` or missing). `scope` null: host CLI.
    // Several nodes in one transaction (all or nothing), parents before children.
    virtual Status add_areas(const std::vector<AreaNode>& nodes, const Scope* scope) = 0;
    Status add_area(const AreaNode& node, const Scope* scope) { return add_areas({node}, scope); }
    virtual Status rename_area(const std::string& code, const std::string& name_zh,
                               const std::string& name_en, const Scope& scope) = 0;
    virtual Result<AreaNode> area(const std::string& code, const Scope* scope) = 0;
    virtual Result<std::vector<AreaNode>> areas(const Scope& scope) = 0;
    virtual Result<std::vector<AreaCounts>> area_counts(const Scope& scope, std::int64_t now) = 0;

    // --- sites and devices ---------------------------------------------------
    virtual Result<std::int64_t> add_site(const Site& s, const Scope* scope) = 0;
    virtual Result<std::vector<Site>> sites(const Scope& scope) = 0;
    // Assigns an enrolled device to a site in scope (scope null: host CLI).
    virtual Status assign_device(const std::string& device_id, const std::string& site_code,
                                 const Scope* scope) = 0;
    // Devices at sites in scope (the city also sees unassigned devices).
    virtual Result<std::vector<DeviceView>> devices(const Scope& scope) = 0;
    virtual Result<DeviceView> device(const std::string& id, const Scope& scope) = 0;

    // --- passes and statuses -------------------------------------------------
    // Registers passes in grids (all-or-nothing; every grid inside scope).
    virtual Status add_passes(const std::vector<PassRecord>& passes, const Scope* scope,
                              const std::string& actor, std::int64_t now) = 0;
    virtual Result<std::vector<PassRecord>> passes(const Scope& scope, const std::string& grid,
                                                   std::size_t limit) = 0;
    virtual Result<PassRecord> pass(const std::string& pass_id, const Scope& scope) = 0;
    // Sets statuses of passes in scope (all-or-nothing) and writes one audit entry
    // per change; Errors: not_found "pass" (outside scope), rejected "read-only".
    virtual Status change_statuses(const std::vector<StatusChange>& changes, const Scope& scope,
                                   const Operator& actor, std::int64_t now) = 0;
    // Statuses whose end date has passed return to green (audited as "system") and
    // open an isolation-ended worklist item. Returns how many.
    virtual Result<std::size_t> expire_statuses(std::int64_t now) = 0;

    // --- scans (read, scoped) ------------------------------------------------
    // Scans of passes registered in scope, or taken at devices of sites in scope.
    virtual Result<std::vector<UpstreamStore::ScanRow>> scans(const Scope& scope, std::size_t limit,
                                                              bool alerts_only) = 0;
    virtual Result<std::vector<HourCount>> scans_per_hour(const Scope& scope, std::int64_t since) = 0;
    virtual Result<std::vector<DayCount>> scans_per_day(const Scope& scope, std::int64_t since) = 0;

    // --- operators and sessions ----------------------------------------------
    // Errors: rejected "operator-exists", invalid_input "operator", not_found "area".
    virtual Result<std::int64_t> add_operator(const Operator& op, const Operator* creator,
                                              std::int64_t now) = 0;
    virtual Result<std::optional<Operator>> find_operator(const std::string& username) = 0;
    virtual Result<std::optional<Operator>> operator_by_id(std::int64_t id) = 0;
    virtual Result<std::vector<Operator>> operators(const Scope& scope) = 0;
    virtual Status set_password(std::int64_t operator_id, const std::string& pw_hash,
                                std::int64_t now) = 0;
    virtual Result<std::int64_t> operator_count() = 0;

    virtual Status add_session(const Session& s) = 0;
    virtual Result<std::optional<Session>> session(const std::string& token_hash) = 0;
    virtual Status touch_session(const std::string& token_hash, std::int64_t now) = 0;
    virtual Status delete_session(const std::string& token_hash) = 0;
    virtual Status delete_sessions_of(std::int64_t operator_id) = 0;
    virtual Status prune_sessions(std::int64_t idle_before, std::int64_t created_before) = 0;

    // Login failures by key ("user:NAME", "ip:ADDR") inside a window; stored, so
    // that several server processes share them.
    virtual Status add_login_failure(const std::string& key, std::int64_t now) = 0;
    virtual Result<std::int64_t> login_failures(const std::string& key, std::int64_t since) = 0;
    virtual Status clear_login_failures(const std::string& key) = 0;

    // --- automatic publishing ------------------------------------------------
    // The publish schedule, one row every replica shares: true when a run is due at
    // `now_ms` (the next one then falls due `interval_ms` later), false when any
    // replica took this slot already. The first call on a new database only
    // schedules (false); a changed interval applies from the next due time.
    virtual Result<bool> claim_publish_run(std::int64_t now_ms, std::int64_t interval_ms) = 0;

    // --- audit (append-only) -------------------------------------------------
    virtual Status audit(const AuditEntry& e) = 0;
    virtual Result<std::vector<AuditEntry>> audit_log(const Scope& scope, std::size_t limit) = 0;

    // --- worklist ------------------------------------------------------------
    // Opens items for RED/fever scans of registered passes stored since the last call
    // (a cursor kept in the store). Returns how many were opened.
    virtual Result<std::size_t> refresh_worklist(std::int64_t now) = 0;
    virtual Result<std::vector<WorkItem>> worklist(const Scope& scope, bool open_only,
                                                   std::size_t limit) = 0;
    // Errors: not_found "work-item" (outside scope), rejected "claimed"/"resolved".
    virtual Status claim_work(std::int64_t id, const Operator& actor, std::int64_t now) = 0;
    virtual Status resolve_work(std::int64_t id, const std::string& outcome,
                                const std::string& note, const Operator& actor,
                                std::int64_t now) = 0;
};

// Opens the console tables in the SQLite file of the upstream store (its own
// connection; WAL), applying pending migrations. Errors: io "sqlite-open",
// io "sqlite-migration".
Result<std::unique_ptr<ConsoleStore>> open_sqlite_console_store(const std::string& path);

// The console store in the database `db` names, as open_store() reads it: a
// PostgreSQL URI or a SQLite file. Errors: also io "postgresql-open" / "postgresql-schema".
Result<std::unique_ptr<ConsoleStore>> open_console_store(const std::string& db);

// Validation shared by the store, the CLI and the server.
bool valid_area_code(std::string_view s);
bool valid_name(std::string_view s, std::size_t max_bytes);  // UTF-8, no control chars
bool valid_username(std::string_view s);
bool valid_pass_id(std::string_view s);
bool valid_reason_code(std::string_view s);  // [a-z0-9-], 1..32

}  // namespace cp::upstream::console
