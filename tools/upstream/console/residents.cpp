#include "tools/upstream/console/residents.hpp"

#include "src/common/log.hpp"
#include "src/pass/issuer.hpp"
#include "tools/upstream/console/auth.hpp"
#include "tools/upstream/console/identity.hpp"
#include "tools/upstream/sql_db.hpp"

#include <sodium.h>

#include <algorithm>
#include <map>
#include <mutex>

namespace cp::upstream::console {

namespace {

constexpr const char* kCat = "residents";
constexpr const char* kPending = "pending";  // residents.state of a self-registered resident
using cp::upstream::Stmt;

Failure nf(Reason what, const std::string& id) { return fail(ErrorKind::not_found, what, id); }

bool in_scope(const std::string& path, const Scope& scope) {
    return path.compare(0, scope.path.size(), scope.path) == 0;
}

// Full personal data only for operators of the resident's own grid.
bool sees_clear(const Operator& op, const std::string& grid_path) {
    return op.role == Role::grid && op.area_path == grid_path;
}

// "/hg/d1/s1/ga/" -> "d1.s1.ga": the pass's `g`, district.street.grid.
std::string dotted_grid(const std::string& path) {
    std::vector<std::string> parts;
    std::size_t p = 1;
    while (p < path.size()) {
        std::size_t e = path.find('/', p);
        if (e == std::string::npos) break;
        parts.push_back(path.substr(p, e - p));
        p = e + 1;
    }
    std::string out;
    for (std::size_t i = parts.size() > 3 ? parts.size() - 3 : 0; i < parts.size(); ++i)
        out += (out.empty() ? "" : ".") + parts[i];
    return out;
}

AuditEntry audit_of(const Operator& op, std::int64_t now, const std::string& area, const char* action,
                    const std::string& object, const std::string& to, const std::string& reason_text) {
    return {0, now, op.username, to_string(op.role), area, action, object, "", to, reason_text};
}

}  // namespace

struct Residents::Impl {
    std::unique_ptr<SqlDb> owned;
    SqlDb* db = nullptr;
    ConsoleStore& store;
    ResidentsConfig cfg;
    Bytes kid;
    std::mutex mu;

    Impl(ConsoleStore& s, ResidentsConfig c) : store(s), cfg(std::move(c)) {}

    // Runs `body` in one write transaction of this connection, rolled back on failure.
    template <typename F>
    auto transaction(F&& body) -> decltype(body()) {
        return db->transaction(std::forward<F>(body));
    }

    // The grid node when it is a grid inside `scope`; not_found otherwise.
    Result<AreaNode> grid_in(const std::string& code, const Scope& scope) {
        auto a = store.area(code, &scope);
        if (!a) return fail(a.error());
        if (a->level != Level::grid) return nf(reason::area, code);
        return *a;
    }

    static constexpr const char* kResidentSelect =
        "SELECT r.id, r.grid, r.name, r.phone, r.address, a.path, "
        "coalesce(rp.pass_id, ''), coalesce(rp.issued_at, 0), r.state FROM residents r "
        "JOIN areas a ON a.code = r.grid "
        "LEFT JOIN resident_passes rp ON rp.resident_id = r.id AND rp.ended_at = 0 ";

    ResidentView read_resident(Stmt& s, const Operator& op) {
        ResidentView v;
        s.read(0, v.id, v.grid, v.name, v.phone, v.address);
        v.masked = !sees_clear(op, s.text(5));
        if (v.masked) {
            v.name = mask_name(v.name);
            v.phone = mask_phone(v.phone);
            v.address = v.address.empty() ? "" : "***";
        }
        v.pass_id = s.text(6);
        v.issued_at = s.i64(7);
        v.pending = s.text(8) == kPending;
        return v;
    }

    void add_status(ResidentView& v, const Scope& scope) {
        if (v.pass_id.empty()) return;
        if (auto p = store.pass(v.pass_id, scope)) {
            v.status = p->status;
            v.status_reason = p->reason;
        }
    }

    Result<std::vector<ResidentView>> list_locked(const Operator& op, const std::string& grid,
                                                  std::optional<std::int64_t> id, std::size_t limit) {
        const Scope sc = op.scope();
        std::string sql = std::string(kResidentSelect) + "WHERE substr(a.path, 1, length(?1)) = ?1";
        if (!grid.empty()) sql += " AND r.grid = ?2";
        if (id) sql += " AND r.id = ?3";
        sql += " ORDER BY r.grid, r.id LIMIT ?4";
        Stmt s(db, sql);
        s.bind(1, sc.path).bind(2, grid).bind(3, id.value_or(0)).bind(4, static_cast<std::int64_t>(limit));
        std::vector<ResidentView> out;
        for (;;) {
            auto r = s.step();
            if (!r) return fail(r.error());
            if (!*r) break;
            out.push_back(read_resident(s, op));
        }
        for (auto& v : out) add_status(v, sc);
        return out;
    }

    Result<IssuedPass> issue_one(const Operator& op, std::int64_t resident, const std::string& name,
                                 const AreaNode& grid, std::int64_t now) {
        pass::Pass p;
        p.format = pass::Format::cp1;
        p.issuer = cfg.issuer;
        p.issued_at = now;
        p.expires_at = now + cfg.pass_validity_s;
        p.kid = kid;
        randombytes_buf(p.id.data(), p.id.size());
        p.kind = pass::Kind::resident;
        p.name = mask_name(name);
        p.grid = dotted_grid(grid.path);
        auto qr = pass::issue_cp1(p, *cfg.issuer_key, kid);
        if (!qr) return fail(qr.error());
        IssuedPass out{resident, pass::id_hex(p.id), *qr, random_token(), ""};
        const Scope sc = op.scope();
        // The pass belongs to the grid in the console first; then it is the resident's.
        CP_TRY(store.add_passes({{out.pass_id, grid.code, p.name, PassStatus::green, "", 0, 0}}, &sc, op.username, now));
        Stmt ins(db, "INSERT INTO resident_passes(pass_id, resident_id, issued_at, expires_at, qr, page_token_hash) "
                     "VALUES(?1, ?2, ?3, ?4, ?5, ?6)");
        CP_TRY(ins.bind(1, out.pass_id).bind(2, resident).bind(3, now).bind(4, p.expires_at).bind(5, out.qr)
                   .bind(6, token_hash(out.page_token)).run());
        return out;
    }

    // Ends the resident's current pass and puts it RED with `why`; returns its id.
    // Not inside a transaction of this connection: the console store writes the
    // status through its own connection to the same file.
    Result<std::string> end_current(const Operator& op, std::int64_t resident, Reason why, std::int64_t now) {
        Stmt q(db, "SELECT pass_id FROM resident_passes WHERE resident_id = ?1 AND ended_at = 0");
        q.bind(1, resident);
        auto r = q.step();
        if (!r) return fail(r.error());
        if (!*r) return fail(ErrorKind::rejected, reason::no_pass, std::to_string(resident));
        const std::string old = q.text(0);
        q.reset();  // no read transaction left open on this connection across the write below
        // RED first: should the process stop in between, the pass is refused already
        // and ending it again repeats the same steps.
        CP_TRY(store.change_statuses({{old, PassStatus::red, why.code, 0}}, op.scope(), op, now));
        Stmt u(db, "UPDATE resident_passes SET ended_at = ?2, end_reason = ?3 WHERE pass_id = ?1");
        CP_TRY(u.bind(1, old).bind(2, now).bind(3, why.code).run());
        return old;
    }

    Result<std::pair<std::string, std::string>> page_row(std::string_view token) {  // pass id, grid path
        if (token.size() != 64) return nf(reason::pass_page, "");
        Stmt s(db, "SELECT rp.pass_id, a.path FROM resident_passes rp JOIN residents r ON r.id = rp.resident_id "
                   "JOIN areas a ON a.code = r.grid WHERE rp.page_token_hash = ?1");
        s.bind(1, token_hash(token));
        auto r = s.step();
        if (!r) return fail(r.error());
        if (!*r) return nf(reason::pass_page, "");
        return std::make_pair(s.text(0), s.text(1));
    }
};

Residents::Residents(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Residents::~Residents() = default;

Result<std::unique_ptr<Residents>> Residents::open(const std::string& db_path, ConsoleStore& store,
                                                   ResidentsConfig cfg) {
    if (cfg.id_secret.size() < kMinIdSecretBytes)
        return fail(ErrorKind::config, reason::id_secret, "the ID secret is shorter than 32 bytes");
    if (sodium_init() < 0) return fail(ErrorKind::internal, reason::sodium, "libsodium");
    auto impl = std::make_unique<Impl>(store, std::move(cfg));
    if (!impl->cfg.issuer_cert_der.empty()) impl->kid = crypto::kid_of(impl->cfg.issuer_cert_der);
    auto opened = is_pg_url(db_path) ? open_pg_db(db_path) : open_sqlite_db(db_path, false);
    if (!opened) return fail(opened.error());
    impl->owned = std::move(*opened);
    impl->db = impl->owned.get();
    {
        Stmt s(impl->db, "SELECT count(*) FROM schema_migrations WHERE version = 100");
        auto r = s.step();
        if (!r || s.i64(0) != 1)
            return fail(ErrorKind::io, reason::sqlite_migration, "open the console store first (migration 100)");
    }
    return std::unique_ptr<Residents>(new Residents(std::move(impl)));
}

bool Residents::can_issue() const { return impl_->cfg.issuer_key && !impl_->kid.empty(); }

std::string Residents::link(const std::string& token) const { return impl_->cfg.public_url + "/p/" + token; }

Result<std::size_t> Residents::import(const std::vector<ResidentRow>& rows, const Operator& actor, std::int64_t now) {
    Impl& m = *impl_;
    const Scope sc = actor.scope();
    if (sc.read_only) return fail(ErrorKind::rejected, reason::read_only, "big-screen account");
    std::map<std::string, AreaNode> grids;
    for (const auto& r : rows) {
        if (grids.count(r.grid)) continue;
        auto g = m.grid_in(r.grid, sc);
        if (!g) return fail(g.error());
        grids.emplace(r.grid, *g);
    }
    std::lock_guard lock(m.mu);
    auto n = m.transaction([&]() -> Result<std::size_t> {
        Stmt find(m.db, "SELECT r.id, a.path FROM residents r JOIN areas a ON a.code = r.grid WHERE r.id_hash = ?1");
        Stmt ins(m.db, "INSERT INTO residents(grid, id_hash, name, phone, address, created_at, created_by) "
                       "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)");
        Stmt upd(m.db, "UPDATE residents SET grid = ?2, name = ?3, phone = ?4, address = ?5 WHERE id = ?1");
        std::size_t line = 0;
        for (const auto& r : rows) {
            ++line;
            const std::string h = id_hash(m.cfg.id_secret, r.id_number);
            find.bind(1, h);
            auto got = find.step();
            if (!got) return fail(got.error());
            if (*got) {
                const std::int64_t id = find.i64(0);
                const std::string path = find.text(1);
                find.reset();
                // A person lives in one grid; moving one in from outside the scope is
                // for an operator above both grids.
                if (!in_scope(path, sc))
                    return fail(ErrorKind::rejected, reason::registered_elsewhere, "row " + std::to_string(line));
                CP_TRY(upd.bind(1, id).bind(2, r.grid).bind(3, r.name).bind(4, r.phone).bind(5, r.address).run());
                upd.reset();
            } else {
                find.reset();
                CP_TRY(ins.bind(1, r.grid).bind(2, h).bind(3, r.name).bind(4, r.phone).bind(5, r.address).bind(6, now)
                           .bind(7, actor.username).run());
                ins.reset();
            }
        }
        return rows.size();
    });
    if (!n) return n;
    for (const auto& [code, g] : grids)
        (void)m.store.audit(audit_of(actor, now, code, "residents-import", code, std::to_string(rows.size()), ""));
    return n;
}

Result<std::vector<ResidentView>> Residents::list(const Operator& actor, const std::string& grid, std::size_t limit) {
    std::lock_guard lock(impl_->mu);
    return impl_->list_locked(actor, grid, std::nullopt, limit);
}

Result<ResidentView> Residents::get(std::int64_t id, const Operator& actor) {
    std::lock_guard lock(impl_->mu);
    auto v = impl_->list_locked(actor, "", id, 1);
    if (!v) return fail(v.error());
    if (v->empty()) return nf(reason::resident, std::to_string(id));
    return v->front();
}

Result<std::string> Residents::export_csv(const Operator& actor, const std::string& grid, std::int64_t now) {
    if (!grid.empty()) {
        auto g = impl_->grid_in(grid, actor.scope());
        if (!g) return fail(g.error());
    }
    auto rows = list(actor, grid, kMaxResidentRows);
    if (!rows) return fail(rows.error());
    // A spreadsheet runs a cell that starts with = + - @ as a formula: such text gets a '.
    auto cell = [](const std::string& v) {
        return !v.empty() && (v[0] == '=' || v[0] == '+' || v[0] == '-' || v[0] == '@') ? "'" + v : v;
    };
    std::string out = "id,grid,name,phone,address,pass_id,status\n";
    for (const auto& r : *rows)
        out += std::to_string(r.id) + "," + r.grid + "," + cell(r.name) + "," + r.phone + "," + cell(r.address) + "," +
               r.pass_id + "," + to_string(r.status) + "\n";
    const bool masked = std::any_of(rows->begin(), rows->end(), [](const ResidentView& v) { return v.masked; });
    CP_TRY(impl_->store.audit(audit_of(actor, now, grid.empty() ? actor.area : grid, "residents-export",
                                       grid.empty() ? actor.area : grid, std::to_string(rows->size()),
                                       masked ? "masked" : "clear")));
    return out;
}

Result<std::vector<IssuedPass>> Residents::issue(const Operator& actor, const std::string& grid,
                                                 std::optional<std::int64_t> resident, bool reissue, std::int64_t now) {
    Impl& m = *impl_;
    if (!can_issue()) return fail(ErrorKind::unavailable, reason::no_issuer, "serve without --issuer-key");
    const Scope sc = actor.scope();
    if (sc.read_only) return fail(ErrorKind::rejected, reason::read_only, "big-screen account");
    struct Todo {
        std::int64_t id;
        std::string name, grid, pass_id;
    };
    std::vector<Todo> todo;
    std::vector<IssuedPass> out;
    std::string phone_of_one;
    {
        std::lock_guard lock(m.mu);
        auto rows = m.list_locked(actor, resident ? "" : grid, resident, kMaxResidentRows);
        if (!rows) return fail(rows.error());
        if (resident && rows->empty()) return nf(reason::resident, std::to_string(*resident));
        if (!resident && !grid.empty()) CP_TRY(m.grid_in(grid, sc));
        for (const auto& r : *rows) {
            if (resident && !r.pass_id.empty() && !reissue)
                return fail(ErrorKind::rejected, reason::has_pass, std::to_string(r.id));
            if (resident && r.pass_id.empty() && reissue)
                return fail(ErrorKind::rejected, reason::no_pass, std::to_string(r.id));
            if (resident && r.pending) return fail(ErrorKind::rejected, reason::not_pending, std::to_string(r.id));
            if (!resident && (!r.pass_id.empty() || r.pending)) continue;
            todo.push_back({r.id, "", r.grid, r.pass_id});
        }
        // Clear names and phones for the pass label and the text message.
        Stmt s(m.db, "SELECT name, phone FROM residents WHERE id = ?1");
        for (auto& t : todo) {
            s.bind(1, t.id);
            auto r = s.step();
            if (!r) return fail(r.error());
            t.name = s.text(0);
            if (resident) phone_of_one = s.text(1);
            s.reset();
        }
    }
    std::map<std::string, AreaNode> grids;
    for (const auto& t : todo) {
        if (!grids.count(t.grid)) {
            auto g = m.grid_in(t.grid, sc);
            if (!g) return fail(g.error());
            grids.emplace(t.grid, *g);
        }
        std::lock_guard lock(m.mu);
        std::string ended;
        if (reissue) {
            auto old = m.end_current(actor, t.id, reason::reissued, now);
            if (!old) return fail(old.error());
            ended = *old;
        }
        auto one = m.issue_one(actor, t.id, t.name, grids.at(t.grid), now);
        if (!one) return fail(one.error());
        one->ended_pass_id = ended;
        (void)m.store.audit(audit_of(actor, now, t.grid, reissue ? "pass-reissue" : "pass-issue", one->pass_id,
                                     std::to_string(t.id), one->ended_pass_id));
        out.push_back(std::move(*one));
    }
    // The page link by text message (one resident at a time: a batch is printed).
    if (resident && m.cfg.sms && !out.empty()) {
        if (auto st = m.cfg.sms->send(phone_of_one, link_text(out.front().page_token)); !st)
            log::warn(kCat, "pass link not sent", {{"reason", st.error().reason}});
    }
    return out;
}

std::string Residents::link_text(const std::string& token) const { return "通行证 / pass: " + link(token); }

namespace {
constexpr std::int64_t kClaimValidS = 600, kClaimGapS = 60;
constexpr int kClaimTries = 5;

std::string six_digit_code() {
    char code[8];
    std::snprintf(code, sizeof code, "%06u", static_cast<unsigned>(randombytes_uniform(1000000u)));
    return code;
}
}  // namespace

Status Residents::start_claim(std::string_view id_number, std::string_view phone, std::int64_t now) {
    Impl& m = *impl_;
    if (!m.cfg.sms) return fail(ErrorKind::unavailable, reason::no_sms, "serve without a text-message backend");
    if (!valid_id_number(id_number) || !valid_phone(phone)) return {};
    std::lock_guard lock(m.mu);
    Stmt s(m.db, "SELECT r.id, coalesce(c.sent_at, 0) FROM residents r LEFT JOIN claim_codes c ON c.resident_id = r.id "
                 "WHERE r.id_hash = ?1 AND r.phone = ?2 AND r.state = 'active'");
    s.bind(1, id_hash(m.cfg.id_secret, id_number)).bind(2, phone);
    auto r = s.step();
    if (!r) return fail(r.error());
    if (!*r) return {};  // the same answer as for a registered pair
    const std::int64_t resident = s.i64(0), sent = s.i64(1);
    s.reset();
    // Too soon: silently no new code (a refusal would tell that the pair is registered).
    if (sent > now - kClaimGapS) return {};
    const std::string code = six_digit_code();
    Stmt up(m.db, "INSERT INTO claim_codes(resident_id, code_hash, sent_at, expires_at, attempts) "
                  "VALUES(?1, ?2, ?3, ?4, 0) ON CONFLICT(resident_id) DO UPDATE SET code_hash = ?2, sent_at = ?3, "
                  "expires_at = ?4, attempts = 0");
    CP_TRY(up.bind(1, resident).bind(2, token_hash(code)).bind(3, now).bind(4, now + kClaimValidS).run());
    auto sent_now = m.cfg.sms->send(std::string(phone), std::string("通行证验证码 / pass code: ") + code);
    if (!sent_now && sent_now.error().is(reason::sms_rate_limit)) return {};  // as above
    return sent_now;
}

Result<IssuedPass> Residents::finish_claim(std::string_view id_number, std::string_view phone, std::string_view code,
                                           std::int64_t now) {
    Impl& m = *impl_;
    auto wrong = [] { return fail(ErrorKind::rejected, reason::claim_code, "wrong, expired or used-up code"); };
    if (!valid_id_number(id_number) || !valid_phone(phone) || code.size() != 6) return wrong();
    Operator self;
    std::string name, grid;
    std::int64_t resident = 0;
    {
        std::lock_guard lock(m.mu);
        Stmt s(m.db, "SELECT r.id, r.name, r.grid, a.path, c.code_hash, c.expires_at, c.attempts FROM residents r "
                     "JOIN areas a ON a.code = r.grid JOIN claim_codes c ON c.resident_id = r.id "
                     "WHERE r.id_hash = ?1 AND r.phone = ?2 AND r.state = 'active'");
        s.bind(1, id_hash(m.cfg.id_secret, id_number)).bind(2, phone);
        auto r = s.step();
        if (!r) return fail(r.error());
        if (!*r) return wrong();
        resident = s.i64(0);
        name = s.text(1);
        grid = s.text(2);
        self.area_path = s.text(3);
        const bool ok = s.i64(5) > now && s.i64(6) < kClaimTries && constant_time_equal(token_hash(code), s.text(4));
        s.reset();
        Stmt u(m.db, ok ? "DELETE FROM claim_codes WHERE resident_id = ?1"
                        : "UPDATE claim_codes SET attempts = attempts + 1 WHERE resident_id = ?1");
        CP_TRY(u.bind(1, resident).run());
        if (!ok) return wrong();
    }
    // The resident acts for themself, inside their own grid only.
    self.username = "self-service";
    self.role = Role::grid;
    self.area = grid;
    auto current = [&]() -> Result<bool> {
        std::lock_guard lock(m.mu);
        Stmt q(m.db, "SELECT 1 FROM resident_passes WHERE resident_id = ?1 AND ended_at = 0");
        q.bind(1, resident);
        return q.step();
    }();
    if (!current) return fail(current.error());
    auto v = issue(self, "", resident, *current, now);
    if (!v) return fail(v.error());
    return v->front();
}

Status Residents::revoke(std::int64_t resident, const Operator& actor, std::int64_t now) {
    Impl& m = *impl_;
    auto v = get(resident, actor);
    if (!v) return fail(v.error());
    if (actor.scope().read_only) return fail(ErrorKind::rejected, reason::read_only, "big-screen account");
    std::lock_guard lock(m.mu);
    auto old = m.end_current(actor, resident, reason::revoked, now);
    if (!old) return fail(old.error());
    return m.store.audit(audit_of(actor, now, v->grid, "pass-revoke", *old, std::to_string(resident), ""));
}

Result<std::vector<Card>> Residents::cards(const Operator& actor, const std::string& grid,
                                           std::optional<std::int64_t> resident, std::int64_t now) {
    Impl& m = *impl_;
    const Scope sc = actor.scope();
    if (!resident) {
        if (grid.empty()) return nf(reason::area, "");
        CP_TRY(m.grid_in(grid, sc));
    }
    Result<std::vector<ResidentView>> rows = std::vector<ResidentView>();
    if (resident) {
        auto one = get(*resident, actor);
        if (!one) return fail(one.error());
        rows->push_back(*one);
    } else {
        rows = list(actor, grid, kMaxResidentRows);
        if (!rows) return fail(rows.error());
    }
    std::vector<Card> out;
    std::map<std::string, AreaNode> grids;
    std::lock_guard lock(m.mu);
    Stmt q(m.db, "SELECT rp.qr, r.name, rp.issued_at FROM resident_passes rp JOIN residents r ON r.id = rp.resident_id "
                 "WHERE rp.pass_id = ?1");
    for (const auto& r : *rows) {
        if (r.pass_id.empty()) continue;
        if (!grids.count(r.grid)) {
            auto g = m.store.area(r.grid, &sc);
            if (!g) return fail(g.error());
            grids.emplace(r.grid, *g);
        }
        q.bind(1, r.pass_id);
        auto got = q.step();
        if (!got) return fail(got.error());
        if (*got) out.push_back({q.text(0), mask_name(q.text(1)), r.grid, grids.at(r.grid).name_zh, q.i64(2)});
        q.reset();
    }
    if (resident && out.empty()) return fail(ErrorKind::rejected, reason::no_pass, std::to_string(*resident));
    (void)m.store.audit(audit_of(actor, now, resident ? out.front().grid : grid, "cards-print",
                                 resident ? std::to_string(*resident) : grid, std::to_string(out.size()), ""));
    return out;
}

Result<PassPage> Residents::page(std::string_view token) {
    Impl& m = *impl_;
    std::lock_guard lock(m.mu);
    auto row = m.page_row(token);
    if (!row) return fail(row.error());
    Stmt s(m.db, "SELECT rp.qr, r.name, r.grid, a.name_zh, rp.issued_at, rp.expires_at, rp.ended_at, rp.end_reason "
                 "FROM resident_passes rp JOIN residents r ON r.id = rp.resident_id JOIN areas a ON a.code = r.grid "
                 "WHERE rp.pass_id = ?1");
    s.bind(1, row->first);
    auto r = s.step();
    if (!r) return fail(r.error());
    if (!*r) return nf(reason::pass_page, "");
    PassPage p;
    p.pass_id = row->first;
    p.qr = s.text(0);
    p.label = mask_name(s.text(1));
    p.grid = s.text(2);
    p.grid_name = s.text(3);
    p.issued_at = s.i64(4);
    p.expires_at = s.i64(5);
    p.ended = s.i64(6) != 0;
    p.end_reason = s.text(7);
    if (auto st = m.store.pass(p.pass_id, Scope{row->second, true})) {
        p.status = st->status;
        p.status_reason = st->reason;
    }
    return p;
}

Result<bool> Residents::self_check(std::string_view token, const SelfCheck& check, std::int64_t now) {
    Impl& m = *impl_;
    std::lock_guard lock(m.mu);
    auto row = m.page_row(token);
    if (!row) return fail(row.error());
    return m.transaction([&]() -> Result<bool> {
        Stmt st(m.db, "SELECT rp.ended_at, r.grid FROM resident_passes rp JOIN residents r ON r.id = rp.resident_id "
                      "WHERE rp.pass_id = ?1");
        st.bind(1, row->first);
        auto r = st.step();
        if (!r) return fail(r.error());
        if (!*r || st.i64(0) != 0) return fail(ErrorKind::rejected, reason::pass_ended, "");
        const std::string grid = st.text(1);
        if (m.db->dialect() == cp::upstream::Dialect::postgresql) {
            // Replicas recording self-checks of one pass at once: one after the other.
            Stmt l(m.db, "SELECT pg_advisory_xact_lock(hashtext(?1))");
            CP_TRY(l.bind(1, "self-check:" + row->first).run());
        }
        Stmt c(m.db, "SELECT count(*) FROM self_checks WHERE pass_id = ?1 AND at > ?2");
        c.bind(1, row->first).bind(2, now - 86400);
        if (auto cr = c.step(); !cr) return fail(cr.error());
        if (c.i64(0) >= m.cfg.self_checks_per_day)
            return fail(ErrorKind::rejected, reason::self_check_rate, "per pass and day");
        Stmt ins(m.db, "INSERT INTO self_checks(pass_id, at, abnormal, answers) VALUES(?1, ?2, ?3, ?4) RETURNING id");
        auto added = ins.bind(1, row->first).bind(2, now).bind(3, std::int64_t{check.abnormal() ? 1 : 0})
                         .bind(4, check.summary()).step();
        if (!added) return fail(added.error());
        const std::int64_t check_id = ins.i64(0);
        if (!check.abnormal()) return false;
        // The grid's door-step check; the status stays what the grid worker decides.
        Stmt w(m.db, "INSERT INTO worklist(grid, kind, ref, pass_id, detail, created_at) "
                     "VALUES(?1, 'self-report', ?2, ?3, ?4, ?5)");
        CP_TRY(w.bind(1, grid).bind(2, "self-check-" + std::to_string(check_id)).bind(3, row->first)
                   .bind(4, check.summary()).bind(5, now).run());
        return true;
    });
}

// ---- self-registration -----------------------------------------------------------

Result<Residents::RegistrationGrid> Residents::start_registration(const ResidentRow& entered, std::int64_t now) {
    Impl& m = *impl_;
    if (!m.cfg.sms) return fail(ErrorKind::unavailable, reason::no_sms, "serve without a text-message backend");
    ResidentRow row = entered;
    RegistrationGrid out{row.grid, false};
    if (row.grid.empty()) {
        std::vector<AddressUnit> units;
        {
            // The grids' own units only: a pending self-registration does not make one.
            std::lock_guard lock(m.mu);
            Stmt q(m.db, "SELECT DISTINCT address, grid FROM residents WHERE state = 'active' AND address != ''");
            CP_TRY(each_row(q, [&](Stmt& s) { units.push_back({s.text(0), s.text(1)}); }));
        }
        // The city's and districts' names are no part of a unit: one address has them, another not.
        auto tree = m.store.areas(Scope{"/", true});
        if (!tree) return fail(tree.error());
        std::vector<std::string> regions;
        for (const auto& a : *tree)
            if (a.level == Level::city || a.level == Level::district) regions.push_back(a.name_zh);
        auto grid = grid_of_address(row.address, units, regions);
        if (!grid) return fail(ErrorKind::rejected, reason::address_unmatched, "choose the grid");
        row.grid = out.grid = *grid;
        out.from_address = true;
    }
    auto g = m.store.area(row.grid, nullptr);
    if (!g || g->level != Level::grid) return nf(reason::area, row.grid);
    const std::string h = id_hash(m.cfg.id_secret, row.id_number);
    const std::string code = six_digit_code();
    {
        std::lock_guard lock(m.mu);
        Stmt gone(m.db, "DELETE FROM registration_codes WHERE expires_at <= ?1");
        CP_TRY(gone.bind(1, now).run());
        Stmt s(m.db, "SELECT sent_at, grid, grid_from FROM registration_codes WHERE id_hash = ?1 AND phone = ?2");
        s.bind(1, h).bind(2, row.phone);
        auto r = s.step();
        if (!r) return fail(r.error());
        // Too soon: silently no new code, as for the claim; the registration waits where it did.
        if (*r && s.i64(0) > now - kClaimGapS) return RegistrationGrid{s.text(1), s.text(2) == "address"};
        s.reset();
        // An ID number already registered gets a code too: the answer must not tell.
        Stmt up(m.db, "INSERT INTO registration_codes(id_hash, phone, name, address, grid, code_hash, sent_at, "
                      "expires_at, attempts, grid_from) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, ?9) "
                      "ON CONFLICT(id_hash, phone) DO UPDATE SET name = ?3, address = ?4, grid = ?5, "
                      "code_hash = ?6, sent_at = ?7, expires_at = ?8, attempts = 0, grid_from = ?9");
        CP_TRY(up.bind(1, h).bind(2, row.phone).bind(3, row.name).bind(4, row.address).bind(5, row.grid)
                   .bind(6, token_hash(code)).bind(7, now).bind(8, now + kClaimValidS)
                   .bind(9, out.from_address ? "address" : "chosen").run());
    }
    auto sent = m.cfg.sms->send(row.phone, "居民登记验证码 / registration code: " + code);
    if (!sent && !sent.error().is(reason::sms_rate_limit)) return fail(sent.error());
    return out;
}

Status Residents::finish_registration(const ResidentRow& row, std::string_view code, std::int64_t now) {
    Impl& m = *impl_;
    auto wrong = [] { return fail(ErrorKind::rejected, reason::claim_code, "wrong, expired or used-up code"); };
    if (!valid_id_number(row.id_number) || !valid_phone(row.phone) || code.size() != 6) return wrong();
    const std::string h = id_hash(m.cfg.id_secret, row.id_number);
    std::string name, address, grid, grid_from;
    std::optional<std::int64_t> added;
    bool right = false;
    {
        std::lock_guard lock(m.mu);
        auto st = m.transaction([&]() -> Status {
            Stmt s(m.db, "SELECT name, address, grid, code_hash, expires_at, attempts, grid_from "
                         "FROM registration_codes WHERE id_hash = ?1 AND phone = ?2");
            s.bind(1, h).bind(2, row.phone);
            auto r = s.step();
            if (!r) return fail(r.error());
            if (!*r) return wrong();
            name = s.text(0);
            address = s.text(1);
            grid = s.text(2);
            grid_from = s.text(6);
            const bool ok =
                s.i64(4) > now && s.i64(5) < kClaimTries && constant_time_equal(token_hash(code), s.text(3));
            s.reset();
            Stmt u(m.db, ok ? "DELETE FROM registration_codes WHERE id_hash = ?1 AND phone = ?2"
                            : "UPDATE registration_codes SET attempts = attempts + 1 WHERE id_hash = ?1 AND phone = ?2");
            CP_TRY(u.bind(1, h).bind(2, row.phone).run());
            right = ok;
            if (!ok) return {};  // committed: the try counts
            // One person, one resident: a registered ID number adds nothing (same answer).
            Stmt dup(m.db, "SELECT 1 FROM residents WHERE id_hash = ?1");
            dup.bind(1, h);
            auto d = dup.step();
            if (!d) return fail(d.error());
            if (*d) return {};
            dup.reset();
            Stmt ins(m.db, "INSERT INTO residents(grid, id_hash, name, phone, address, created_at, created_by, state) "
                           "VALUES(?1, ?2, ?3, ?4, ?5, ?6, 'self-registration', 'pending')");
            CP_TRY(ins.bind(1, grid).bind(2, h).bind(3, name).bind(4, row.phone).bind(5, address).bind(6, now).run());
            Stmt id(m.db, "SELECT id FROM residents WHERE id_hash = ?1");
            id.bind(1, h);
            auto ir = id.step();
            if (!ir) return fail(ir.error());
            added = id.i64(0);
            id.reset();
            // The grid worker's check: no personal data in the item, the resident's number only.
            // A grid the resident chose (the address is no unit of it) is the street's to check.
            const bool chosen = grid_from != "address";
            std::string where = grid;
            if (chosen) {
                auto node = m.store.area(grid, nullptr);
                if (node && !node->parent.empty()) where = node->parent;
            }
            Stmt w(m.db, "INSERT INTO worklist(grid, kind, ref, pass_id, detail, created_at) "
                         "VALUES(?1, 'self-registration', ?2, '', ?3, ?4)");
            return w.bind(1, where).bind(2, "resident-" + std::to_string(*added))
                .bind(3, "resident " + std::to_string(*added) + (chosen ? " grid " + grid + " chosen" : " address"))
                .bind(4, now).run();
        });
        if (!st) return st;
    }
    if (!right) return wrong();
    if (!added) return {};  // a registered ID number: the same answer, nothing added
    Operator self;
    self.username = "self-service";
    self.role = Role::grid;
    self.area = grid;
    return m.store.audit(audit_of(self, now, grid, "self-registration", std::to_string(*added), "pending", ""));
}

namespace {
// Closes the self-registration worklist item of `resident` with `outcome`.
Status close_registration_item(SqlDb* db, std::int64_t resident, const Operator& actor, const char* outcome,
                               std::int64_t now) {
    Stmt u(db, "UPDATE worklist SET resolved_at = ?1, outcome = ?2, claimed_by = CASE WHEN claimed_by = '' THEN ?3 "
               "ELSE claimed_by END, claimed_at = CASE WHEN claimed_at = 0 THEN ?1 ELSE claimed_at END "
               "WHERE kind = 'self-registration' AND ref = ?4 AND resolved_at = 0");
    return u.bind(1, now).bind(2, outcome).bind(3, actor.username).bind(4, "resident-" + std::to_string(resident)).run();
}
}  // namespace

Result<IssuedPass> Residents::confirm_registration(std::int64_t resident, const Operator& actor, std::int64_t now) {
    Impl& m = *impl_;
    auto v = get(resident, actor);
    if (!v) return fail(v.error());
    if (actor.scope().read_only) return fail(ErrorKind::rejected, reason::read_only, "big-screen account");
    if (!v->pending) return fail(ErrorKind::rejected, reason::not_pending, std::to_string(resident));
    if (!can_issue()) return fail(ErrorKind::unavailable, reason::no_issuer, "serve without --issuer-key");
    auto set_state = [&](const char* from, const char* to) -> Status {
        std::lock_guard lock(m.mu);
        Stmt u(m.db, "UPDATE residents SET state = ?2 WHERE id = ?1 AND state = ?3");
        return u.bind(1, resident).bind(2, to).bind(3, from).run();
    };
    CP_TRY(set_state(kPending, "active"));
    auto issued = issue(actor, "", resident, false, now);
    if (!issued) {
        (void)set_state("active", kPending);  // the worker may try again
        return fail(issued.error());
    }
    {
        std::lock_guard lock(m.mu);
        CP_TRY(close_registration_item(m.db, resident, actor, "confirmed", now));
    }
    CP_TRY(m.store.audit(audit_of(actor, now, v->grid, "self-registration-confirm", std::to_string(resident), "active",
                                  issued->front().pass_id)));
    return issued->front();
}

Status Residents::reject_registration(std::int64_t resident, const Operator& actor, std::int64_t now) {
    Impl& m = *impl_;
    auto v = get(resident, actor);
    if (!v) return fail(v.error());
    if (actor.scope().read_only) return fail(ErrorKind::rejected, reason::read_only, "big-screen account");
    if (!v->pending) return fail(ErrorKind::rejected, reason::not_pending, std::to_string(resident));
    {
        std::lock_guard lock(m.mu);
        auto gone = m.transaction([&]() -> Status {
            Stmt d(m.db, "DELETE FROM residents WHERE id = ?1 AND state = 'pending'");
            CP_TRY(d.bind(1, resident).run());
            return close_registration_item(m.db, resident, actor, "rejected", now);
        });
        if (!gone) return gone;
    }
    return m.store.audit(audit_of(actor, now, v->grid, "self-registration-reject", std::to_string(resident),
                                  "rejected", ""));
}

Result<std::vector<AreaNode>> Residents::public_grids() {
    std::vector<AreaNode> out;
    auto city = impl_->store.areas(Scope{"/", true});
    if (!city) return fail(city.error());
    for (auto& a : *city)
        if (a.level == Level::grid) out.push_back(std::move(a));
    return out;
}

}  // namespace cp::upstream::console
