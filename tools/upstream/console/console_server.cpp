#include "tools/upstream/console/console_server.hpp"

#include "src/common/log.hpp"
#include "src/common/time.hpp"
#include "tools/upstream/console/auth.hpp"
#include "tools/upstream/console/import.hpp"
#include "tools/upstream/http_reply.hpp"
#include "tools/upstream/loopback.hpp"
#include "tools/upstream/reasons.hpp"
#include "tools/upstream/console/residents_routes.hpp"
#include "tools/upstream/console/travellers.hpp"
#include "tools/upstream/server.hpp"

#include <httplib.h>
#include <nlohmann/json.hpp>
#include <openssl/ssl.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace cp::upstream::console {

using nlohmann::json;

namespace {

constexpr const char* kCat = "console";
// __Host- prefix: the browser keeps it only with Secure, Path=/ and no Domain.
constexpr const char* kCookie = "__Host-cc_session";
constexpr const char* kCsrfHeader = "X-CSRF-Token";
constexpr std::int64_t kOfflineAfterS = 600;

void refuse(httplib::Response& res, int status, ErrorKind kind, Reason r) {
    upstream::send_error(res, status, kind, r);
}

void send_error(httplib::Response& res, const Error& e) {
    switch (e.kind) {
        // Outside the scope and missing look the same: no detail that would tell.
        case ErrorKind::not_found: return refuse(res, 404, ErrorKind::not_found, reason::not_found);
        case ErrorKind::invalid_input: return upstream::send_error(res, 400, e);
        case ErrorKind::rejected:
            if (e.is(reason::read_only)) return refuse(res, 403, ErrorKind::rejected, reason::read_only);
            return upstream::send_error(res, 409, Error{e.kind, e.reason});
        case ErrorKind::unavailable: return upstream::send_error(res, 503, Error{e.kind, e.reason});
        default:
            log::error(kCat, "request failed", {{"reason", e.reason}});
            return refuse(res, 500, ErrorKind::internal, reason::internal);
    }
}

std::size_t limit_param(const httplib::Request& req, std::size_t def, std::size_t max) {
    if (!req.has_param("limit")) return def;
    auto v = to_i64(req.get_param_value("limit"));
    if (!v || *v < 1) return def;
    return static_cast<std::size_t>(std::min<std::int64_t>(*v, static_cast<std::int64_t>(max)));
}

std::string cookie_value(const httplib::Request& req, std::string_view name) {
    const std::string all = req.get_header_value("Cookie");
    std::size_t pos = 0;
    while (pos < all.size()) {
        std::size_t end = all.find(';', pos);
        if (end == std::string::npos) end = all.size();
        std::string_view part(all.data() + pos, end - pos);
        while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
        if (part.size() > name.size() && part.substr(0, name.size()) == name && part[name.size()] == '=')
            return std::string(part.substr(name.size() + 1));
        pos = end + 1;
    }
    return {};
}

json operator_json(const Operator& o, const std::optional<AreaNode>& a) {
    json j = {{"id", o.id}, {"username", o.username}, {"role", to_string(o.role)}, {"area", o.area},
              {"read_only", o.role == Role::bigscreen}};
    if (a) {
        j["area_zh"] = a->name_zh;
        j["area_en"] = a->name_en;
        j["level"] = to_string(a->level);
    }
    return j;
}

json pass_json(const PassRecord& p) {
    return {{"pass_id", p.pass_id}, {"grid", p.grid}, {"label", p.label},
            {"status", to_string(p.status)}, {"reason", p.reason}, {"until", p.until}, {"since", p.since}};
}

json scan_json(const UpstreamStore::ScanRow& r) {
    const Scan& s = r.scan;
    return {{"id", r.rowid}, {"device_id", s.device_id}, {"seq", s.seq}, {"pass_id", s.pass_id},
            {"verdict", s.verdict}, {"reason", s.reason},
            {"temperature_c", s.temperature_c ? json(*s.temperature_c) : json(nullptr)},
            {"time", s.time}, {"lane", s.lane}, {"type", s.manual ? "manual" : "scan"}};
}

json audit_json(const AuditEntry& e) {
    return {{"id", e.id}, {"at", e.at}, {"actor", e.actor}, {"role", e.role}, {"area", e.area},
            {"action", e.action}, {"object", e.object}, {"from", e.from}, {"to", e.to}, {"reason", e.reason}};
}

json work_json(const WorkItem& w) {
    return {{"id", w.id}, {"grid", w.grid}, {"kind", w.kind}, {"pass_id", w.pass_id}, {"detail", w.detail},
            {"created_at", w.created_at}, {"claimed_by", w.claimed_by}, {"claimed_at", w.claimed_at},
            {"resolved_at", w.resolved_at}, {"outcome", w.outcome}, {"note", w.note}};
}

json site_json(const Site& s) {
    return {{"id", s.id}, {"code", s.code}, {"area", s.area}, {"name", s.name}, {"kind", s.kind}};
}

std::string str_field(const json& b, const char* k) {
    return b.contains(k) && b[k].is_string() ? b[k].get<std::string>() : std::string();
}

struct Ctx {
    Operator op;
    Session session;
};

}  // namespace

struct ConsoleServer::Impl {
    ConsoleConfig cfg;
    UpstreamStore& upstream;
    ConsoleStore& store;
    const ListSigner* signer;
    std::unique_ptr<httplib::SSLServer> srv;   // null with port -1
    std::thread listen_thread;
    std::unique_ptr<httplib::Server> wall;     // the loopback big screen, or null
    std::thread wall_thread;
    int wall_port = -1;
    std::thread jobs_thread;
    std::mutex mu;
    std::condition_variable cv;
    bool stopping = false;
    int port = -1;
    std::mutex publish_mu;

    Impl(ConsoleConfig c, UpstreamStore& u, ConsoleStore& s, const ListSigner* sg)
        : cfg(std::move(c)), upstream(u), store(s), signer(sg) {}

    std::int64_t now_ms() const { return cfg.clock_ms ? cfg.clock_ms() : wall_now_ms(); }
    std::int64_t now_s() const { return now_ms() / 1000; }

    // ---- sessions ------------------------------------------------------------
    std::optional<Ctx> authenticate(const httplib::Request& req, httplib::Response& res, bool write) {
        const std::string token = cookie_value(req, kCookie);
        if (token.size() != 64) {
            refuse(res, 401, ErrorKind::rejected, reason::login);
            return std::nullopt;
        }
        const std::string th = token_hash(token);
        auto s = store.session(th);
        if (!s) {
            send_error(res, s.error());
            return std::nullopt;
        }
        const std::int64_t now = now_s();
        if (!*s || now - (*s)->last_seen > cfg.idle_timeout_s ||
            now - (*s)->created_at > cfg.absolute_timeout_s) {
            if (*s) (void)store.delete_session(th);
            refuse(res, 401, ErrorKind::rejected, *s ? reason::session_expired : reason::login);
            return std::nullopt;
        }
        auto op = store.operator_by_id((*s)->operator_id);
        if (!op || !*op || (*op)->disabled) {
            refuse(res, 401, ErrorKind::rejected, reason::login);
            return std::nullopt;
        }
        if (write && !constant_time_equal(req.get_header_value(kCsrfHeader), (*s)->csrf)) {
            refuse(res, 403, ErrorKind::rejected, reason::csrf);
            return std::nullopt;
        }
        (void)store.touch_session(th, now);
        return Ctx{**op, **s};
    }

    // JSON bodies only: a cross-site form cannot send application/json without a
    // CORS preflight, which this server never answers.
    std::optional<json> body(const httplib::Request& req, httplib::Response& res) {
        if (req.get_header_value("Content-Type").rfind("application/json", 0) != 0) {
            refuse(res, 415, ErrorKind::invalid_input, reason::content_type);
            return std::nullopt;
        }
        json j = json::parse(req.body, nullptr, false);
        if (j.is_discarded() || !j.is_object()) {
            refuse(res, 400, ErrorKind::invalid_input, reason::json);
            return std::nullopt;
        }
        return j;
    }

    using Handler = std::function<void(const httplib::Request&, httplib::Response&, Ctx&)>;
    httplib::Server::Handler read(Handler h) {
        return [this, h](const httplib::Request& q, httplib::Response& r) {
            if (auto c = authenticate(q, r, false)) h(q, r, *c);
        };
    }
    httplib::Server::Handler write(Handler h) {
        return [this, h](const httplib::Request& q, httplib::Response& r) {
            if (auto c = authenticate(q, r, true)) {
                if (c->op.role == Role::bigscreen) return refuse(r, 403, ErrorKind::rejected, reason::read_only);
                h(q, r, *c);
            }
        };
    }

    std::string set_cookie(const std::string& token, std::int64_t max_age) const {
        return std::string(kCookie) + "=" + token + "; Path=/; Max-Age=" + std::to_string(max_age) +
               "; HttpOnly; Secure; SameSite=Strict";
    }

    void login(const httplib::Request& req, httplib::Response& res) {
        auto b = body(req, res);
        if (!b) return;
        const std::string user = str_field(*b, "username"), pw = str_field(*b, "password");
        const std::int64_t now = now_s(), since = now - cfg.failure_window_s;
        const std::string ip_key = "ip:" + req.remote_addr, user_key = "user:" + user.substr(0, 64);
        auto ip_fails = store.login_failures(ip_key, since);
        auto user_fails = store.login_failures(user_key, since);
        if (!ip_fails || !user_fails) return send_error(res, ip_fails ? user_fails.error() : ip_fails.error());
        if (*ip_fails >= cfg.max_ip_failures) {
            res.set_header("Retry-After", std::to_string(cfg.failure_window_s));
            return refuse(res, 429, ErrorKind::rejected, reason::rate_limit);
        }
        if (*user_fails >= cfg.max_user_failures) {
            // Locked whether or not the name exists: the answer does not tell.
            (void)store.add_login_failure(ip_key, now);
            res.set_header("Retry-After", std::to_string(cfg.failure_window_s));
            return refuse(res, 429, ErrorKind::rejected, reason::locked);
        }
        auto op = valid_username(user) ? store.find_operator(user) : Result<std::optional<Operator>>(std::nullopt);
        if (!op) return send_error(res, op.error());
        bool ok = false;
        if (*op && !(*op)->disabled)
            ok = verify_password((*op)->pw_hash, pw);
        else
            burn_password_check(pw);
        if (!ok) {
            (void)store.add_login_failure(ip_key, now);
            (void)store.add_login_failure(user_key, now);
            if (*op)
                (void)store.audit({0, now, (*op)->username, to_string((*op)->role), (*op)->area,
                                   "login-failed", req.remote_addr, "", "", ""});
            return refuse(res, 401, ErrorKind::rejected, reason::credentials);
        }
        (void)store.clear_login_failures(user_key);
        const std::string token = random_token();
        Session s{token_hash(token), (*op)->id, random_token(), now, now};
        if (auto st = store.add_session(s); !st) return send_error(res, st.error());
        (void)store.audit({0, now, (*op)->username, to_string((*op)->role), (*op)->area, "login",
                           req.remote_addr, "", "", ""});
        res.set_header("Set-Cookie", set_cookie(token, cfg.absolute_timeout_s));
        auto area = store.area((*op)->area, nullptr);
        send_json(res, 200, {{"csrf", s.csrf},
                             {"operator", operator_json(**op, area ? std::optional<AreaNode>(*area) : std::nullopt)}});
    }

    void logout(const httplib::Request&, httplib::Response& res, Ctx& c) {
        (void)store.delete_session(c.session.token_hash);
        (void)store.audit({0, now_s(), c.op.username, to_string(c.op.role), c.op.area, "logout", "", "", "", ""});
        res.set_header("Set-Cookie", set_cookie("", 0));
        send_json(res, 200, {{"ok", true}});
    }

    void me(const httplib::Request&, httplib::Response& res, Ctx& c) {
        auto area = store.area(c.op.area, nullptr);
        send_json(res, 200, {{"csrf", c.session.csrf},
                             {"operator", operator_json(c.op, area ? std::optional<AreaNode>(*area) : std::nullopt)},
                             {"idle_timeout_s", cfg.idle_timeout_s},
                             {"publish_interval_s", cfg.publish_interval_s},
                             {"auto_publish", signer != nullptr}});
    }

    void change_password(const httplib::Request& req, httplib::Response& res, Ctx& c) {
        auto b = body(req, res);
        if (!b) return;
        const std::string old_pw = str_field(*b, "old"), new_pw = str_field(*b, "new");
        if (!verify_password(c.op.pw_hash, old_pw)) return refuse(res, 403, ErrorKind::rejected, reason::credentials);
        if (new_pw == old_pw) return refuse(res, 400, ErrorKind::invalid_input, reason::password_unchanged);
        auto h = hash_password(new_pw);
        if (!h) return send_error(res, h.error());
        const std::int64_t now = now_s();
        if (auto st = store.set_password(c.op.id, *h, now); !st) return send_error(res, st.error());
        // Every session of the account ends, this one too: log in with the new password.
        (void)store.delete_sessions_of(c.op.id);
        (void)store.audit({0, now, c.op.username, to_string(c.op.role), c.op.area, "password", c.op.username,
                           "", "", ""});
        res.set_header("Set-Cookie", set_cookie("", 0));
        send_json(res, 200, {{"ok", true}});
    }

    // ---- areas -----------------------------------------------------------------
    void areas(const httplib::Request&, httplib::Response& res, Ctx& c) {
        const Scope sc = c.op.scope();
        auto nodes = store.areas(sc);
        auto counts = store.area_counts(sc, now_s());
        if (!nodes) return send_error(res, nodes.error());
        if (!counts) return send_error(res, counts.error());
        send_json(res, 200, {{"areas", areas_json(*nodes, *counts)}});
    }

    static json areas_json(const std::vector<AreaNode>& nodes, const std::vector<AreaCounts>& counts) {
        json out = json::array();
        for (const auto& n : nodes) {
            json j = {{"code", n.code}, {"parent", n.parent}, {"level", to_string(n.level)},
                      {"name_zh", n.name_zh}, {"name_en", n.name_en}};
            auto it = std::find_if(counts.begin(), counts.end(), [&](const AreaCounts& x) { return x.code == n.code; });
            if (it != counts.end())
                j.update({{"passes", it->passes}, {"red", it->red}, {"yellow", it->yellow},
                          {"alerts_24h", it->alerts_24h}, {"fevers_24h", it->fevers_24h},
                          {"open_work", it->open_work}});
            out.push_back(std::move(j));
        }
        return out;
    }

    void add_area(const httplib::Request& req, httplib::Response& res, Ctx& c) {
        auto b = body(req, res);
        if (!b) return;
        AreaNode n{str_field(*b, "code"), str_field(*b, "parent"), Level::city, str_field(*b, "name_zh"),
                   str_field(*b, "name_en"), ""};
        if (n.parent.empty()) return refuse(res, 404, ErrorKind::not_found, reason::not_found);
        const Scope sc = c.op.scope();
        if (auto st = store.add_area(n, &sc); !st) return send_error(res, st.error());
        (void)store.audit({0, now_s(), c.op.username, to_string(c.op.role), n.code, "area-add", n.code, "",
                           n.name_zh, ""});
        send_json(res, 200, {{"ok", true}});
    }

    void rename_area(const httplib::Request& req, httplib::Response& res, Ctx& c) {
        auto b = body(req, res);
        if (!b) return;
        const std::string code = req.matches[1].str();
        const Scope sc = c.op.scope();
        auto before = store.area(code, &sc);
        if (!before) return send_error(res, before.error());
        const std::string zh = str_field(*b, "name_zh"), en = str_field(*b, "name_en");
        if (auto st = store.rename_area(code, zh, en, sc); !st) return send_error(res, st.error());
        (void)store.audit({0, now_s(), c.op.username, to_string(c.op.role), code, "area-rename", code,
                           before->name_zh, zh, ""});
        send_json(res, 200, {{"ok", true}});
    }

    void import_areas(const httplib::Request& req, httplib::Response& res, Ctx& c) {
        auto b = body(req, res);
        if (!b) return;
        auto nodes = b->contains("json") ? parse_areas_json(str_field(*b, "json")) : parse_areas_csv(str_field(*b, "csv"));
        if (!nodes) return send_error(res, nodes.error());
        const Scope sc = c.op.scope();
        for (const auto& n : *nodes)
            if (n.parent.empty()) return refuse(res, 404, ErrorKind::not_found, reason::not_found);
        if (auto st = store.add_areas(*nodes, &sc); !st) return send_error(res, st.error());
        (void)store.audit({0, now_s(), c.op.username, to_string(c.op.role), c.op.area, "areas-import",
                           std::to_string(nodes->size()), "", "", ""});
        send_json(res, 200, {{"imported", nodes->size()}});
    }

    // ---- passes and statuses ---------------------------------------------------
    void list_passes(const httplib::Request& req, httplib::Response& res, Ctx& c) {
        const std::string grid = req.has_param("grid") ? req.get_param_value("grid") : "";
        auto ps = store.passes(c.op.scope(), grid, limit_param(req, 500, 5000));
        if (!ps) return send_error(res, ps.error());
        json out = json::array();
        for (const auto& p : *ps) out.push_back(pass_json(p));
        send_json(res, 200, {{"passes", out}});
    }

    // The pass as the operator may see it (404 outside the scope).
    void send_pass(httplib::Response& res, const std::string& pass_id, const Ctx& c) {
        auto p = store.pass(pass_id, c.op.scope());
        if (!p) return send_error(res, p.error());
        send_json(res, 200, pass_json(*p));
    }

    void get_pass(const httplib::Request& req, httplib::Response& res, Ctx& c) {
        send_pass(res, req.matches[1].str(), c);
    }

    void set_status(const httplib::Request& req, httplib::Response& res, Ctx& c) {
        auto b = body(req, res);
        if (!b) return;
        auto st = parse_pass_status(str_field(*b, "status"));
        auto until = parse_end_date(str_field(*b, "until"));
        if (!st) return refuse(res, 400, ErrorKind::invalid_input, reason::status);
        if (!until) return refuse(res, 400, ErrorKind::invalid_input, reason::until);
        StatusChange ch{req.matches[1].str(), *st, str_field(*b, "reason"), *until};
        if (auto r = store.change_statuses({ch}, c.op.scope(), c.op, now_s()); !r) return send_error(res, r.error());
        send_pass(res, ch.pass_id, c);
    }

    void import_statuses(const httplib::Request& req, httplib::Response& res, Ctx& c) {
        auto b = body(req, res);
        if (!b) return;
        auto rows = parse_statuses_csv(str_field(*b, "csv"));
        if (!rows) return send_error(res, rows.error());
        if (auto r = store.change_statuses(*rows, c.op.scope(), c.op, now_s()); !r) return send_error(res, r.error());
        send_json(res, 200, {{"imported", rows->size()}});
    }

    void import_passes(const httplib::Request& req, httplib::Response& res, Ctx& c) {
        auto b = body(req, res);
        if (!b) return;
        auto rows = parse_passes_csv(str_field(*b, "csv"));
        if (!rows) return send_error(res, rows.error());
        const Scope sc = c.op.scope();
        if (auto r = store.add_passes(*rows, &sc, c.op.username, now_s()); !r) return send_error(res, r.error());
        send_json(res, 200, {{"imported", rows->size()}});
    }

    // ---- scans, audit, worklist --------------------------------------------------
    void scans(const httplib::Request& req, httplib::Response& res, Ctx& c) {
        auto rows = store.scans(c.op.scope(), limit_param(req, 100, 1000),
                                req.has_param("alerts") && req.get_param_value("alerts") == "1");
        if (!rows) return send_error(res, rows.error());
        json out = json::array();
        for (const auto& r : *rows) out.push_back(scan_json(r));
        send_json(res, 200, {{"scans", out}});
    }

    void audit_log(const httplib::Request& req, httplib::Response& res, Ctx& c) {
        auto rows = store.audit_log(c.op.scope(), limit_param(req, 200, 2000));
        if (!rows) return send_error(res, rows.error());
        json out = json::array();
        for (const auto& e : *rows) out.push_back(audit_json(e));
        send_json(res, 200, {{"audit", out}});
    }

    void worklist(const httplib::Request& req, httplib::Response& res, Ctx& c) {
        const bool open_only = !(req.has_param("all") && req.get_param_value("all") == "1");
        auto rows = store.worklist(c.op.scope(), open_only, limit_param(req, 200, 2000));
        if (!rows) return send_error(res, rows.error());
        json out = json::array();
        for (const auto& w : *rows) out.push_back(work_json(w));
        send_json(res, 200, {{"worklist", out}});
    }

    void work_action(const httplib::Request& req, httplib::Response& res, Ctx& c, bool resolve) {
        auto id = to_i64(req.matches[1].str());
        if (!id) return refuse(res, 404, ErrorKind::not_found, reason::not_found);
        auto b = body(req, res);
        if (!b) return;
        Status st = resolve ? store.resolve_work(*id, str_field(*b, "outcome"), str_field(*b, "note"), c.op, now_s())
                            : store.claim_work(*id, c.op, now_s());
        if (!st) return send_error(res, st.error());
        send_json(res, 200, {{"ok", true}});
    }

    // ---- fleet -----------------------------------------------------------------
    json device_json(const DeviceView& v, std::int64_t latest, std::int64_t now) const {
        const auto& d = v.state.device;
        json j = {{"id", d.id}, {"revoked", d.revoked}, {"last_seen", v.state.last_seen},
                  {"online", !d.revoked && v.state.last_seen > 0 && now - v.state.last_seen <= kOfflineAfterS},
                  {"acked_seq", d.acked_seq}, {"fingerprint", d.fingerprint.substr(0, 16)},
                  {"scan_conflicts", d.conflicts}};
        j["site"] = v.site ? site_json(*v.site) : json(nullptr);
        if (const auto& hb = v.state.last_heartbeat) {
            j["firmware"] = hb->firmware;
            j["list_version"] = hb->list_version;
            j["list_lag"] = std::max<std::int64_t>(0, latest - hb->list_version);
            j["backlog"] = hb->backlog;
            j["skew_ms"] = hb->device_time_ms - hb->server_time_ms;
            j["journal_lost_rows"] = hb->lost_rows;
            j["journal_lost_journals"] = hb->lost_journals;
            j["sync_faults"] = hb->sync_faults;
            json sensors = json::parse(hb->sensors_json, nullptr, false);
            j["sensors"] = sensors.is_object() ? sensors : json::object();
        }
        return j;
    }

    void devices(const httplib::Request&, httplib::Response& res, Ctx& c) {
        auto devs = store.devices(c.op.scope());
        auto latest = upstream.latest_list_version();
        if (!devs) return send_error(res, devs.error());
        if (!latest) return send_error(res, latest.error());
        const std::int64_t now = now_s();
        json out = json::array();
        for (const auto& d : *devs) out.push_back(device_json(d, *latest, now));
        send_json(res, 200, {{"devices", out}, {"list_version", *latest}, {"server_time", now}});
    }

    void device(const httplib::Request& req, httplib::Response& res, Ctx& c) {
        auto d = store.device(req.matches[1].str(), c.op.scope());
        auto latest = upstream.latest_list_version();
        if (!d) return send_error(res, d.error());
        if (!latest) return send_error(res, latest.error());
        send_json(res, 200, device_json(*d, *latest, now_s()));
    }

    void revoke_device(const httplib::Request& req, httplib::Response& res, Ctx& c) {
        const std::string id = req.matches[1].str();
        auto d = store.device(id, c.op.scope());
        if (!d) return send_error(res, d.error());
        if (c.op.role != Role::city) return refuse(res, 403, ErrorKind::rejected, reason::role);
        if (auto st = upstream.revoke_device(id, now_s()); !st) return send_error(res, st.error());
        (void)store.audit({0, now_s(), c.op.username, to_string(c.op.role), d->site ? d->site->area : c.op.area,
                           "device-revoke", id, "enrolled", "revoked", ""});
        send_json(res, 200, {{"ok", true}});
    }

    void enroll_device(const httplib::Request& req, httplib::Response& res, Ctx& c) {
        if (c.op.role != Role::city) return refuse(res, 403, ErrorKind::rejected, reason::role);
        auto b = body(req, res);
        if (!b) return;
        auto id = certificate_identity(str_field(*b, "certificate"));
        if (!id) return send_error(res, id.error());
        if (!valid_area_code(id->cn)) return refuse(res, 400, ErrorKind::invalid_input, reason::device_id);
        if (auto st = upstream.enroll_device(id->cn, id->fingerprint, now_s()); !st) return send_error(res, st.error());
        const std::string site = str_field(*b, "site");
        if (!site.empty()) {
            const Scope sc = c.op.scope();
            if (auto st = store.assign_device(id->cn, site, &sc); !st) return send_error(res, st.error());
        }
        (void)store.audit({0, now_s(), c.op.username, to_string(c.op.role), c.op.area, "device-enroll", id->cn,
                           "", id->fingerprint.substr(0, 16), site});
        send_json(res, 200, {{"id", id->cn}, {"fingerprint", id->fingerprint}});
    }

    void assign_device(const httplib::Request& req, httplib::Response& res, Ctx& c) {
        auto b = body(req, res);
        if (!b) return;
        const std::string id = req.matches[1].str(), site = str_field(*b, "site");
        const Scope sc = c.op.scope();
        if (auto st = store.assign_device(id, site, &sc); !st) return send_error(res, st.error());
        (void)store.audit({0, now_s(), c.op.username, to_string(c.op.role), c.op.area, "device-assign", id, "",
                           site, ""});
        send_json(res, 200, {{"ok", true}});
    }

    void sites(const httplib::Request&, httplib::Response& res, Ctx& c) {
        auto s = store.sites(c.op.scope());
        if (!s) return send_error(res, s.error());
        json out = json::array();
        for (const auto& x : *s) out.push_back(site_json(x));
        send_json(res, 200, {{"sites", out}});
    }

    void add_site(const httplib::Request& req, httplib::Response& res, Ctx& c) {
        auto b = body(req, res);
        if (!b) return;
        Site s{0, str_field(*b, "code"), str_field(*b, "area"), str_field(*b, "name"), str_field(*b, "kind")};
        const Scope sc = c.op.scope();
        auto id = store.add_site(s, &sc);
        if (!id) return send_error(res, id.error());
        (void)store.audit({0, now_s(), c.op.username, to_string(c.op.role), s.area, "site-add", s.code, "",
                           s.name, s.kind});
        send_json(res, 200, {{"id", *id}});
    }

    // ---- operators ---------------------------------------------------------------
    void operators(const httplib::Request&, httplib::Response& res, Ctx& c) {
        auto ops = store.operators(c.op.scope());
        if (!ops) return send_error(res, ops.error());
        json out = json::array();
        for (const auto& o : *ops) out.push_back(operator_json(o, std::nullopt));
        send_json(res, 200, {{"operators", out}});
    }

    void add_operator(const httplib::Request& req, httplib::Response& res, Ctx& c) {
        auto b = body(req, res);
        if (!b) return;
        auto role = parse_role(str_field(*b, "role"));
        if (!role) return refuse(res, 400, ErrorKind::invalid_input, reason::role);
        if (!valid_username(str_field(*b, "username"))) return refuse(res, 400, ErrorKind::invalid_input, reason::username);
        auto h = hash_password(str_field(*b, "password"));
        if (!h) return send_error(res, h.error());
        Operator o;
        o.username = str_field(*b, "username");
        o.role = *role;
        o.area = str_field(*b, "area");
        o.pw_hash = *h;
        auto id = store.add_operator(o, &c.op, now_s());
        if (!id) return send_error(res, id.error());
        send_json(res, 200, {{"id", *id}});
    }

    // ---- big screen and publishing -------------------------------------------------
    void bigscreen(const httplib::Request&, httplib::Response& res, Ctx& c) {
        const Scope sc = c.op.scope();
        const std::int64_t now = now_s();
        auto nodes = store.areas(sc);
        auto counts = store.area_counts(sc, now);
        auto hours = store.scans_per_hour(sc, (now / 3600 - 23) * 3600);
        auto days = store.scans_per_day(sc, (now / 86400 - 13) * 86400);
        auto devs = store.devices(sc);
        auto alerts = store.scans(sc, 20, true);
        auto latest = upstream.latest_list_version();
        if (!nodes || !counts || !hours || !days || !devs || !alerts || !latest)
            return refuse(res, 500, ErrorKind::internal, reason::internal);
        json h = json::array(), d = json::array(), a = json::array(), offline = json::array();
        for (const auto& x : *hours) h.push_back({{"t", x.hour}, {"n", x.scans}});
        for (const auto& x : *days) d.push_back({{"t", x.day}, {"n", x.scans}});
        for (const auto& r : *alerts) a.push_back(scan_json(r));
        std::int64_t online = 0;
        for (const auto& v : *devs) {
            json j = device_json(v, *latest, now);
            if (j["online"].get<bool>())
                ++online;
            else if (!v.state.device.revoked)
                offline.push_back({{"id", v.state.device.id}, {"site", j["site"]}, {"last_seen", v.state.last_seen}});
        }
        send_json(res, 200, {{"server_time", now}, {"list_version", *latest}, {"areas", areas_json(*nodes, *counts)},
                             {"scans_per_hour", h}, {"scans_per_day", d}, {"alerts", a},
                             {"devices_total", devs->size()}, {"devices_online", online},
                             {"offline", offline}});
    }

    // Publishes when the working statuses differ from the published ones.
    Result<std::optional<ListVersion>> publish_now() {
        if (!signer) return fail(ErrorKind::unavailable, reason::signer, "serve without --signing-key");
        std::lock_guard lock(publish_mu);
        auto v = publish_list(upstream, *signer, now_s(), false, kDefaultKeepDeltas);
        if (!v) {
            if (v.error().is(reason::unchanged)) return std::optional<ListVersion>();
            return fail(v.error());
        }
        log::info(kCat, "list published", {{"version", std::to_string(v->version)},
                                           {"changes", std::to_string(v->changes)}});
        return std::optional<ListVersion>(std::move(*v));
    }

    void publish(const httplib::Request&, httplib::Response& res, Ctx& c) {
        if (c.op.role != Role::city) return refuse(res, 403, ErrorKind::rejected, reason::role);
        auto v = publish_now();
        if (!v) return send_error(res, v.error());
        if (!*v) return refuse(res, 409, ErrorKind::rejected, reason::unchanged);
        (void)store.audit({0, now_s(), c.op.username, to_string(c.op.role), c.op.area, "publish",
                           std::to_string((*v)->version), "", std::to_string((*v)->changes), ""});
        send_json(res, 200, {{"version", (*v)->version}, {"changes", (*v)->changes}});
    }

    void run_jobs() {
        const std::int64_t now = now_s();
        if (auto r = store.expire_statuses(now); !r)
            log::warn(kCat, "status expiry failed", {{"reason", r.error().reason}});
        if (auto r = store.refresh_worklist(now); !r)
            log::warn(kCat, "worklist refresh failed", {{"reason", r.error().reason}});
        (void)store.prune_sessions(now - cfg.idle_timeout_s, now - cfg.absolute_timeout_s);
        if (cfg.travellers) cfg.travellers->run_jobs(now);
        // The schedule is a store row: of several replicas, one publishes per interval.
        if (!signer) return;
        auto due = store.claim_publish_run(now_ms(), cfg.publish_interval_s * 1000);
        if (!due) {
            log::warn(kCat, "publish schedule unreadable", {{"reason", due.error().reason}});
        } else if (*due) {
            if (auto v = publish_now(); !v)
                log::warn(kCat, "automatic publish failed", {{"reason", v.error().reason}});
        }
    }

    void page(httplib::Response& res, std::string_view body, const char* type) {
        res.set_content(std::string(body), type);
    }

    // Worker pool, timeouts, security headers, error bodies and the page: the same on
    // the operators' listener and the wall view.
    void install_common(httplib::Server& s, std::size_t workers) {
        const std::size_t n = std::max<std::size_t>(workers, 2);
        s.new_task_queue = [n] { return new httplib::ThreadPool(n); };
        // A browser's idle keep-alive connection holds a worker: let it go soon.
        s.set_keep_alive_timeout(3);
        s.set_keep_alive_max_count(100);
        s.set_read_timeout(10, 0);
        s.set_write_timeout(10, 0);
        s.set_payload_max_length(cfg.max_body_bytes);
        s.set_post_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
            res.set_header("Content-Security-Policy",
                           "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                           "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'");
            res.set_header("X-Content-Type-Options", "nosniff");
            res.set_header("X-Frame-Options", "DENY");
            res.set_header("Referrer-Policy", "no-referrer");
            res.set_header("Strict-Transport-Security", "max-age=31536000");
            res.set_header("Cross-Origin-Opener-Policy", "same-origin");
            res.set_header("Cross-Origin-Resource-Policy", "same-origin");
            res.set_header("Permissions-Policy", "camera=(), microphone=(), geolocation=()");
            if (req.path.rfind("/api/", 0) == 0) res.set_header("Cache-Control", "no-store");
            (void)this;
        });
        s.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
            refuse(res, 500, ErrorKind::internal, reason::internal);
        });
        s.set_error_handler([](const httplib::Request&, httplib::Response& res) {
            if (res.body.empty()) send_http_status(res, res.status);
        });
        s.Get("/", [this](const auto&, auto& r) { page(r, assets::index_html(), "text/html; charset=utf-8"); });
        s.Get("/app.js", [this](const auto&, auto& r) { page(r, assets::app_js(), "text/javascript; charset=utf-8"); });
        s.Get("/app.css", [this](const auto&, auto& r) { page(r, assets::app_css(), "text/css; charset=utf-8"); });
    }

    // The wall view: GET only, only for pages loaded from its own address (a page of
    // another site whose name resolves to loopback sends its own name as Host and is
    // refused), the data of a big-screen account at the top of the tree. Whoever
    // reaches loopback on the upstream host can read its database file anyway.
    void install_wall_routes() {
        httplib::Server& w = *wall;
        install_common(w, 4);
        w.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
            if (req.method != "GET" && req.method != "HEAD") {
                refuse(res, 405, ErrorKind::rejected, reason::method);
                res.set_header("Connection", "close");
                return httplib::Server::HandlerResponse::Handled;
            }
            if (!loopback::host_header_allowed(req.get_header_value("Host"), cfg.wall_host, wall_port)) {
                refuse(res, 403, ErrorKind::rejected, reason::host);
                return httplib::Server::HandlerResponse::Handled;
            }
            return httplib::Server::HandlerResponse::Unhandled;
        });
        w.Get("/api/me", [this](const httplib::Request&, httplib::Response& r) {
            send_json(r, 200, {{"csrf", ""}, {"wall", true},
                               {"operator", {{"username", ""}, {"role", to_string(Role::bigscreen)}, {"area", ""},
                                             {"read_only", true}}},
                               {"publish_interval_s", cfg.publish_interval_s}, {"auto_publish", signer != nullptr}});
        });
        w.Get("/api/areas", [this](const httplib::Request& q, httplib::Response& r) {
            Ctx c = wall_ctx();
            areas(q, r, c);
        });
        w.Get("/api/bigscreen", [this](const httplib::Request& q, httplib::Response& r) {
            Ctx c = wall_ctx();
            bigscreen(q, r, c);
        });
    }

    static Ctx wall_ctx() {
        Ctx c;
        c.op.role = Role::bigscreen;
        c.op.area_path = "/";  // the whole tree, read-only
        return c;
    }

    void install_routes() {
        httplib::SSLServer& s = *srv;
        install_common(s, cfg.worker_threads);

        using Q = const httplib::Request&;
        using R = httplib::Response&;
#define CC_R(fn) read([this](Q q, R r, Ctx& c) { fn(q, r, c); })
#define CC_W(fn) write([this](Q q, R r, Ctx& c) { fn(q, r, c); })
        s.Post("/api/login", [this](Q q, R r) { login(q, r); });
        // Logout and password change need the CSRF token too (any session may log out).
        s.Post("/api/logout", [this](Q q, R r) {
            if (auto c = authenticate(q, r, true)) logout(q, r, *c);
        });
        s.Post("/api/password", [this](Q q, R r) {
            if (auto c = authenticate(q, r, true)) change_password(q, r, *c);
        });
        s.Get("/api/me", CC_R(me));
        s.Get("/api/areas", CC_R(areas));
        s.Post("/api/areas", CC_W(add_area));
        s.Post("/api/areas/import", CC_W(import_areas));
        s.Post(R"(/api/areas/([0-9A-Za-z-]{1,32}))", CC_W(rename_area));
        s.Get("/api/passes", CC_R(list_passes));
        s.Post("/api/passes/import", CC_W(import_passes));
        s.Get(R"(/api/passes/([0-9a-f]{32}))", CC_R(get_pass));
        s.Post(R"(/api/passes/([0-9a-f]{32})/status)", CC_W(set_status));
        s.Post("/api/statuses/import", CC_W(import_statuses));
        s.Get("/api/scans", CC_R(scans));
        s.Get("/api/audit", CC_R(audit_log));
        s.Get("/api/worklist", CC_R(worklist));
        s.Post(R"(/api/worklist/(\d{1,18})/claim)", write([this](Q q, R r, Ctx& c) { work_action(q, r, c, false); }));
        s.Post(R"(/api/worklist/(\d{1,18})/resolve)", write([this](Q q, R r, Ctx& c) { work_action(q, r, c, true); }));
        s.Get("/api/devices", CC_R(devices));
        s.Post("/api/devices/enroll", CC_W(enroll_device));
        s.Get(R"(/api/devices/([0-9A-Za-z._:-]{1,64}))", CC_R(device));
        s.Post(R"(/api/devices/([0-9A-Za-z._:-]{1,64})/revoke)", CC_W(revoke_device));
        s.Post(R"(/api/devices/([0-9A-Za-z._:-]{1,64})/site)", CC_W(assign_device));
        s.Get("/api/sites", CC_R(sites));
        s.Post("/api/sites", CC_W(add_site));
        s.Get("/api/operators", CC_R(operators));
        s.Post("/api/operators", CC_W(add_operator));
        s.Get("/api/bigscreen", CC_R(bigscreen));
        s.Post("/api/publish", CC_W(publish));
        if (cfg.travellers)
            install_traveller_routes(
                s, *cfg.travellers,
                [this](Q q, R r, bool w) -> std::optional<Operator> {
                    auto c = authenticate(q, r, w);
                    return c ? std::optional<Operator>(c->op) : std::nullopt;
                },
                [this] { return now_s(); });
#undef CC_R
#undef CC_W
        if (cfg.residents) install_resident_routes(s, *cfg.residents, route_kit());
    }

    // The session checks, body reader and error answers for routes added beside these.
    RouteKit route_kit() {
        auto wrap = [](RouteKit::Handler h) { return [h](const httplib::Request& q, httplib::Response& r, Ctx& c) { h(q, r, c.op); }; };
        return {[this, wrap](RouteKit::Handler h) { return read(wrap(std::move(h))); },
                [this, wrap](RouteKit::Handler h) { return write(wrap(std::move(h))); },
                [this](const httplib::Request& q, httplib::Response& r) { return body(q, r); },
                [](httplib::Response& r, const Error& e) { send_error(r, e); }, [this] { return now_s(); }};
    }
};

ConsoleServer::ConsoleServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ConsoleServer::~ConsoleServer() { stop(); }

Result<std::unique_ptr<ConsoleServer>> ConsoleServer::create(ConsoleConfig cfg, UpstreamStore& upstream,
                                                             ConsoleStore& store, const ListSigner* signer) {
    if (cfg.wall_port >= 0 && !loopback::is_loopback_address(cfg.wall_host))
        return fail(ErrorKind::config, reason::web_host,
                    "the big-screen view listens on a numeric loopback address only (127.0.0.0/8 or ::1)");
    auto impl = std::make_unique<Impl>(std::move(cfg), upstream, store, signer);
    if (impl->cfg.wall_port >= 0) {
        impl->wall = std::make_unique<httplib::Server>();
        impl->install_wall_routes();
    }
    if (impl->cfg.port < 0) return std::unique_ptr<ConsoleServer>(new ConsoleServer(std::move(impl)));
    const std::string cert = impl->cfg.cert_path, key = impl->cfg.key_path;
    bool setup_ok = false;
    impl->srv = std::make_unique<httplib::SSLServer>([&](SSL_CTX& ctx) {
        // TLS 1.2+; no client certificate is asked for (operators use passwords).
        if (SSL_CTX_set_min_proto_version(&ctx, TLS1_2_VERSION) != 1) return false;
        if (SSL_CTX_use_certificate_chain_file(&ctx, cert.c_str()) != 1) return false;
        if (SSL_CTX_use_PrivateKey_file(&ctx, key.c_str(), SSL_FILETYPE_PEM) != 1) return false;
        if (SSL_CTX_check_private_key(&ctx) != 1) return false;
        SSL_CTX_set_options(&ctx, SSL_OP_NO_RENEGOTIATION);
        setup_ok = true;
        return true;
    });
    if (!setup_ok || !impl->srv->is_valid())
        return fail(ErrorKind::config, reason::tls, "cannot load the console certificate or key");
    impl->install_routes();
    return std::unique_ptr<ConsoleServer>(new ConsoleServer(std::move(impl)));
}

Status ConsoleServer::start() {
    Impl& m = *impl_;
    if (m.jobs_thread.joinable()) return {};
    if (m.srv) {
        m.port = m.cfg.port == 0 ? m.srv->bind_to_any_port(m.cfg.host)
                                 : (m.srv->bind_to_port(m.cfg.host, m.cfg.port) ? m.cfg.port : -1);
        if (m.port <= 0)
            return fail(ErrorKind::unavailable, reason::bind, "console " + m.cfg.host + ":" + std::to_string(m.cfg.port));
    }
    if (m.wall) {
        m.wall_port = m.cfg.wall_port == 0 ? m.wall->bind_to_any_port(m.cfg.wall_host)
                                           : (m.wall->bind_to_port(m.cfg.wall_host, m.cfg.wall_port) ? m.cfg.wall_port : -1);
        if (m.wall_port <= 0)
            return fail(ErrorKind::unavailable, reason::bind,
                        "big screen " + m.cfg.wall_host + ":" + std::to_string(m.cfg.wall_port));
    }
    if (m.srv) m.listen_thread = std::thread([&m] { m.srv->listen_after_bind(); });
    if (m.wall) m.wall_thread = std::thread([&m] { m.wall->listen_after_bind(); });
    m.jobs_thread = std::thread([&m] {
        std::unique_lock lock(m.mu);
        while (!m.stopping) {
            lock.unlock();
            m.run_jobs();
            lock.lock();
            m.cv.wait_for(lock, std::chrono::milliseconds(m.cfg.tick_ms), [&m] { return m.stopping; });
        }
    });
    // stop() before an accept loop runs would be lost and join() would wait forever.
    for (int i = 0; i < 2000 && ((m.srv && !m.srv->is_running()) || (m.wall && !m.wall->is_running())); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    log::info(kCat, "listening", {{"host", m.cfg.host}, {"port", std::to_string(m.port)},
                                  {"wall_port", std::to_string(m.wall_port)}});
    return {};
}

void ConsoleServer::stop() {
    if (!impl_) return;
    Impl& m = *impl_;
    {
        std::lock_guard lock(m.mu);
        m.stopping = true;
    }
    m.cv.notify_all();
    if (m.srv) m.srv->stop();
    if (m.wall) m.wall->stop();
    if (m.listen_thread.joinable()) m.listen_thread.join();
    if (m.wall_thread.joinable()) m.wall_thread.join();
    if (m.jobs_thread.joinable()) m.jobs_thread.join();
}

int ConsoleServer::port() const { return impl_->port; }
int ConsoleServer::wall_port() const { return impl_->wall_port; }
void ConsoleServer::run_jobs_once() { impl_->run_jobs(); }

}  // namespace cp::upstream::console
