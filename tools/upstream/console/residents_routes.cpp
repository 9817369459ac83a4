#include "tools/upstream/console/residents_routes.hpp"

#include "tools/upstream/console/cards.hpp"
#include "tools/upstream/console/pass_page.hpp"

#include <charconv>
#include <map>
#include <memory>
#include <mutex>

namespace cp::upstream::console {

using nlohmann::json;

namespace {

constexpr std::size_t kMaxTrackedClients = 10000;

// Requests per client address in the current minute (bounded map).
class MinuteLimit {
public:
    explicit MinuteLimit(int per_minute) : per_minute_(per_minute) {}
    bool allow(const std::string& who, std::int64_t now) {
        std::lock_guard lock(mu_);
        const std::int64_t minute = now / 60;
        if (minute != minute_) {
            counts_.clear();
            minute_ = minute;
        }
        if (counts_.size() >= kMaxTrackedClients && !counts_.count(who)) return false;
        return ++counts_[who] <= per_minute_;
    }

private:
    int per_minute_;
    std::mutex mu_;
    std::int64_t minute_ = 0;
    std::map<std::string, int> counts_;
};

json resident_json(const ResidentView& r) {
    return {{"id", r.id}, {"grid", r.grid}, {"name", r.name}, {"phone", r.phone}, {"address", r.address},
            {"masked", r.masked}, {"pending", r.pending}, {"pass_id", r.pass_id}, {"issued_at", r.issued_at},
            {"status", to_string(r.status)}, {"status_reason", r.status_reason}};
}

std::optional<std::int64_t> id_param(const std::string& s) {
    std::int64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || v < 1) return std::nullopt;
    return v;
}

// A string member of a JSON body, or "" (a number or an object there is not an exception).
std::string field(const json& b, const char* k) {
    auto it = b.find(k);
    return it != b.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string param(const httplib::Request& q, const char* k) { return q.has_param(k) ? q.get_param_value(k) : ""; }

void send(httplib::Response& res, int status, const json& j) {
    res.status = status;
    res.set_content(j.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

}  // namespace

void install_resident_routes(httplib::Server& s, Residents& rs, const RouteKit& kit, PublicLimits limits) {
    using Q = const httplib::Request&;
    using R = httplib::Response&;
    auto issued_json = [&rs](const std::vector<IssuedPass>& v) {
        json out = json::array();
        for (const auto& p : v)
            out.push_back({{"resident_id", p.resident_id}, {"pass_id", p.pass_id}, {"link", rs.link(p.page_token)},
                           {"replaces", p.ended_pass_id}});
        return out;
    };
    auto issue_error = [kit](R r, const Error& e) {
        if (e.is(reason::no_issuer)) return send(r, 503, {{"error", "unavailable"}, {"reason", e.reason}});
        kit.send_error(r, e);
    };

    s.Get("/api/residents", kit.read([&rs, kit](Q q, R r, const Operator& op) {
        std::size_t limit = 500;
        if (auto l = id_param(param(q, "limit"))) limit = static_cast<std::size_t>(std::min<std::int64_t>(*l, 5000));
        auto v = rs.list(op, param(q, "grid"), limit);
        if (!v) return kit.send_error(r, v.error());
        json out = json::array();
        for (const auto& x : *v) out.push_back(resident_json(x));
        send(r, 200, {{"residents", out}, {"can_issue", rs.can_issue()}});
    }));
    s.Get(R"(/api/residents/(\d{1,18}))", kit.read([&rs, kit](Q q, R r, const Operator& op) {
        auto id = id_param(q.matches[1].str());
        auto v = id ? rs.get(*id, op) : Result<ResidentView>(fail(ErrorKind::not_found, reason::resident, ""));
        if (!v) return kit.send_error(r, v.error());
        send(r, 200, resident_json(*v));
    }));
    s.Post("/api/residents/import", kit.write([&rs, kit](Q q, R r, const Operator& op) {
        auto b = kit.body(q, r);
        if (!b) return;
        auto rows = parse_residents_csv(field(*b, "csv"));
        if (!rows) return kit.send_error(r, rows.error());
        auto n = rs.import(*rows, op, kit.now_s());
        if (!n) return kit.send_error(r, n.error());
        send(r, 200, {{"imported", *n}});
    }));
    s.Get("/api/residents/export", kit.read([&rs, kit](Q q, R r, const Operator& op) {
        auto csv = rs.export_csv(op, param(q, "grid"), kit.now_s());
        if (!csv) return kit.send_error(r, csv.error());
        r.set_header("Content-Disposition", "attachment; filename=\"residents.csv\"");
        r.set_content(*csv, "text/csv; charset=utf-8");
    }));
    s.Post("/api/residents/issue", kit.write([&rs, kit, issued_json, issue_error](Q q, R r, const Operator& op) {
        auto b = kit.body(q, r);
        if (!b) return;
        const std::string grid = field(*b, "grid");
        if (grid.empty()) return send(r, 400, {{"error", "invalid_input"}, {"reason", "grid"}});
        auto v = rs.issue(op, grid, std::nullopt, false, kit.now_s());
        if (!v) return issue_error(r, v.error());
        send(r, 200, {{"issued", issued_json(*v)}});
    }));
    s.Post(R"(/api/residents/(\d{1,18})/(issue|reissue|revoke|confirm|reject))",
           kit.write([&rs, kit, issued_json, issue_error](Q q, R r, const Operator& op) {
               auto b = kit.body(q, r);
               if (!b) return;
               auto id = id_param(q.matches[1].str());
               if (!id) return kit.send_error(r, Error(ErrorKind::not_found, reason::resident));
               const std::string what = q.matches[2].str();
               if (what == "confirm") {
                   auto v = rs.confirm_registration(*id, op, kit.now_s());
                   if (!v) return issue_error(r, v.error());
                   return send(r, 200, {{"issued", issued_json({*v})}});
               }
               if (what == "revoke" || what == "reject") {
                   auto st = what == "revoke" ? rs.revoke(*id, op, kit.now_s())
                                              : rs.reject_registration(*id, op, kit.now_s());
                   if (!st) return kit.send_error(r, st.error());
                   return send(r, 200, {{"ok", true}});
               }
               auto v = rs.issue(op, "", *id, what == "reissue", kit.now_s());
               if (!v) return issue_error(r, v.error());
               send(r, 200, {{"issued", issued_json(*v)}});
           }));
    s.Get("/api/residents/cards.pdf", kit.read([&rs, kit](Q q, R r, const Operator& op) {
        std::optional<std::int64_t> one;
        if (q.has_param("resident")) {
            one = id_param(param(q, "resident"));
            if (!one) return kit.send_error(r, Error(ErrorKind::not_found, reason::resident));
        }
        auto cards = rs.cards(op, param(q, "grid"), one, kit.now_s());
        if (!cards) return kit.send_error(r, cards.error());
        auto pdf = render_cards_pdf(*cards);
        if (!pdf) return kit.send_error(r, pdf.error());
        r.set_header("Content-Disposition", "attachment; filename=\"pass-cards.pdf\"");
        r.set_content(*pdf, "application/pdf");
    }));

    // ---- the residents' side: no account, the token is the key -------------------
    auto limit = std::make_shared<MinuteLimit>(limits.requests_per_minute);
    auto allowed = [limit, kit](Q q, R r) {
        if (limit->allow(q.remote_addr, kit.now_s())) return true;
        r.set_header("Retry-After", "60");
        send(r, 429, {{"error", "rejected"}, {"reason", "rate-limit"}});
        return false;
    };
    s.Get(R"(/p/([0-9a-f]{64}))", [&rs, kit, allowed](Q q, R r) {
        if (!allowed(q, r)) return;
        auto p = rs.page(q.matches[1].str());
        if (!p) return kit.send_error(r, p.error());
        auto html = render_pass_page(*p, q.matches[1].str());
        if (!html) return kit.send_error(r, html.error());
        r.set_header("Cache-Control", "no-cache");
        r.set_content(*html, "text/html; charset=utf-8");
    });
    s.Get(R"(/p/([0-9a-f]{64})/status)", [&rs, kit, allowed](Q q, R r) {
        if (!allowed(q, r)) return;
        auto p = rs.page(q.matches[1].str());
        if (!p) return kit.send_error(r, p.error());
        send(r, 200, {{"status", to_string(p->status)}, {"reason", p->status_reason}, {"ended", p->ended},
                      {"end_reason", p->end_reason}});
    });
    s.Post(R"(/p/([0-9a-f]{64})/check)", [&rs, kit, allowed](Q q, R r) {
        if (!allowed(q, r)) return;
        if (q.get_header_value("Content-Type").rfind("application/json", 0) != 0)
            return send(r, 415, {{"error", "invalid_input"}, {"reason", "content-type"}});
        auto c = parse_self_check(q.body);
        if (!c) return kit.send_error(r, c.error());
        auto abnormal = rs.self_check(q.matches[1].str(), *c, kit.now_s());
        if (!abnormal) {
            if (abnormal.error().is(reason::self_check_rate)) {
                r.set_header("Retry-After", "3600");
                return send(r, 429, {{"error", "rejected"}, {"reason", abnormal.error().reason}});
            }
            return kit.send_error(r, abnormal.error());
        }
        send(r, 200, {{"ok", true}, {"abnormal", *abnormal}});
    });
    // Self-service: a registered resident gets the pass link with a code by text message.
    auto json_body = [](Q q, R r) -> std::optional<json> {
        if (q.get_header_value("Content-Type").rfind("application/json", 0) != 0) {
            send(r, 415, {{"error", "invalid_input"}, {"reason", "content-type"}});
            return std::nullopt;
        }
        json j = json::parse(q.body, nullptr, false);
        if (j.is_discarded() || !j.is_object()) {
            send(r, 400, {{"error", "invalid_input"}, {"reason", "json"}});
            return std::nullopt;
        }
        return j;
    };
    auto claim_error = [kit](R r, const Error& e) {
        if (e.kind == ErrorKind::unavailable) return send(r, 503, {{"error", "unavailable"}, {"reason", e.reason}});
        kit.send_error(r, e);
    };
    s.Post("/r/code", [&rs, kit, allowed, json_body, claim_error](Q q, R r) {
        if (!allowed(q, r)) return;
        auto b = json_body(q, r);
        if (!b) return;
        auto st = rs.start_claim(field(*b, "id_number"), field(*b, "phone"), kit.now_s());
        if (!st) return claim_error(r, st.error());
        send(r, 200, {{"ok", true}});
    });
    s.Post("/r/pass", [&rs, kit, allowed, json_body, claim_error](Q q, R r) {
        if (!allowed(q, r)) return;
        auto b = json_body(q, r);
        if (!b) return;
        auto p = rs.finish_claim(field(*b, "id_number"), field(*b, "phone"),
                                 field(*b, "code"), kit.now_s());
        if (!p) return claim_error(r, p.error());
        send(r, 200, {{"link", "/p/" + p->page_token}});
    });
    // Self-registration: a resident not yet in the registry enters themself; the grid confirms.
    s.Get("/r/grids", [&rs, kit, allowed](Q q, R r) {
        if (!allowed(q, r)) return;
        auto g = rs.public_grids();
        if (!g) return kit.send_error(r, g.error());
        json out = json::array();
        for (const auto& a : *g) out.push_back({{"code", a.code}, {"name_zh", a.name_zh}, {"name_en", a.name_en}});
        send(r, 200, {{"grids", out}});
    });
    s.Post(R"(/r/enrol(/code)?)", [&rs, kit, allowed, json_body, claim_error](Q q, R r) {
        if (!allowed(q, r)) return;
        if (!json_body(q, r)) return;
        auto reg = parse_self_registration(q.body);
        if (!reg) return kit.send_error(r, reg.error());
        if (q.matches[1].length() > 0) {
            auto g = rs.start_registration(reg->row, kit.now_s());
            if (!g) return claim_error(r, g.error());
            return send(r, 200, {{"ok", true}, {"grid", g->grid}, {"from_address", g->from_address}});
        }
        auto st = rs.finish_registration(reg->row, reg->code, kit.now_s());
        if (!st) return claim_error(r, st.error());
        send(r, 200, {{"ok", true}});
    });
    s.Get("/register", [](Q, R r) {
        r.set_content(std::string(assets::register_html()), "text/html; charset=utf-8");
    });
    s.Get("/register.js", [](Q, R r) {
        r.set_content(std::string(assets::register_js()), "text/javascript; charset=utf-8");
    });
    s.Get("/residents.js", [](Q, R r) {
        r.set_content(std::string(assets::residents_js()), "text/javascript; charset=utf-8");
    });
    s.Get("/pass.js", [](Q, R r) { r.set_content(std::string(assets::pass_js()), "text/javascript; charset=utf-8"); });
    s.Get("/pass.css", [](Q, R r) { r.set_content(std::string(assets::pass_css()), "text/css; charset=utf-8"); });
    s.Get("/pass-sw.js", [](Q, R r) {
        r.set_header("Cache-Control", "no-cache");
        r.set_content(std::string(assets::pass_sw_js()), "text/javascript; charset=utf-8");
    });
}

}  // namespace cp::upstream::console
