// HTTP routes of the traveller registration (public) and of the operators'
// traveller views, posters and arrival counts. Installed on the console listener.
#include "tools/upstream/console/travellers.hpp"

#include "src/common/log.hpp"
#include "tools/upstream/console/auth.hpp"
#include "tools/upstream/console/identity.hpp"
#include "tools/upstream/console/posters.hpp"

#include <httplib.h>
#include <nlohmann/json.hpp>

namespace cp::upstream::console {

namespace assets {
std::string_view traveller_html();
std::string_view traveller_js();
std::string_view traveller_css();
std::string_view poster_css();
}  // namespace assets

namespace {

using nlohmann::json;

void send(httplib::Response& res, int status, const json& body) {
    res.status = status;
    res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

void send_failure(httplib::Response& res, const Error& e) {
    if (e.kind == ErrorKind::invalid_input) return send(res, 400, {{"error", "invalid_input"}, {"reason", e.reason}, {"field", e.message}});
    if (e.kind == ErrorKind::not_found) return send(res, 404, {{"error", "not_found"}, {"reason", "not-found"}});
    if (e.is(ErrorKind::rejected, traveller_reason::kRateLimit)) {
        res.set_header("Retry-After", "3600");
        return send(res, 429, {{"error", "rejected"}, {"reason", e.reason}});
    }
    log::error("travellers", "request failed", {{"reason", e.reason}});
    send(res, 500, {{"error", "internal"}, {"reason", "internal"}});
}

json pass_view(const Registration& r, const std::string& token) {
    json j = {{"pass_id", r.pass_id}, {"kind", r.kind}, {"label", r.label}, {"grid", r.grid},
              {"transport", r.transport}, {"plate", r.plate}, {"expected_arrival", r.expected_arrival},
              {"expires_at", r.expires_at}, {"status", to_string(r.status)}, {"qr", r.qr}, {"token", token}};
    if (auto q = qr_svg(r.qr)) j["qr_svg"] = {{"size", q->size}, {"path", q->path}};
    return j;
}

// Operators see full details of their grids' travellers; the big-screen role masked ones.
json registration_json(const Registration& r, bool masked) {
    return {{"id", r.id}, {"pass_id", r.pass_id}, {"kind", r.kind}, {"label", r.label},
            {"name", masked ? r.label : r.name}, {"phone", masked ? mask_phone(r.phone) : r.phone},
            {"origin", r.origin}, {"address", masked ? std::string() : r.address}, {"plate", r.plate},
            {"grid", r.grid}, {"transport", r.transport}, {"expected_arrival", r.expected_arrival},
            {"site", r.site}, {"status", to_string(r.status)}, {"created_at", r.created_at},
            {"expires_at", r.expires_at}, {"arrived_at", r.arrived_at}, {"arrival_site", r.arrival_site},
            {"arrival_device", r.arrival_device}, {"purged", r.purged_at != 0}};
}

std::string base_url(const Travellers& t, const httplib::Request& req) {
    if (!t.config().public_url.empty()) return t.config().public_url;
    return "https://" + req.get_header_value("Host");
}

}  // namespace

std::string arrivals_json(Travellers& t, const Scope& scope, std::int64_t now) {
    auto rows = t.store().arrivals_per_entry(scope, now - 86400);
    json out = json::array();
    if (rows)
        for (const auto& e : *rows)
            out.push_back({{"site", e.site}, {"name", e.name}, {"arrivals", e.arrivals}, {"expected", e.expected}});
    return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

void install_traveller_routes(httplib::Server& s, Travellers& t, OperatorAuth auth,
                              std::function<std::int64_t()> now_s) {
    using Q = const httplib::Request&;
    using R = httplib::Response&;
    auto page = [](std::string_view body, const char* type) {
        return [body, type](Q, R r) { r.set_content(std::string(body), type); };
    };
    s.Get("/r/", page(assets::traveller_html(), "text/html; charset=utf-8"));
    s.Get("/r/reg.js", page(assets::traveller_js(), "text/javascript; charset=utf-8"));
    s.Get("/r/reg.css", page(assets::traveller_css(), "text/css; charset=utf-8"));
    s.Get("/r/poster.css", page(assets::poster_css(), "text/css; charset=utf-8"));

    s.Get("/r/api/choices", [&t](Q, R res) {
        auto sites = t.store().entry_points(nullptr);
        auto grids = t.store().grids();
        if (!sites) return send_failure(res, sites.error());
        if (!grids) return send_failure(res, grids.error());
        json js = json::array(), jg = json::array();
        for (const auto& x : *sites) js.push_back({{"code", x.code}, {"name", x.name}, {"kind", x.kind}});
        for (const auto& g : *grids) jg.push_back({{"code", g.code}, {"name_zh", g.name_zh}, {"name_en", g.name_en}});
        send(res, 200, {{"sites", js}, {"grids", jg}});
    });
    s.Post("/r/api/register", [&t, now_s](Q req, R res) {
        // JSON only: a cross-site form cannot post it without a preflight nobody answers.
        if (req.get_header_value("Content-Type").rfind("application/json", 0) != 0)
            return send(res, 415, {{"error", "invalid_input"}, {"reason", "content-type"}});
        const std::int64_t now = now_s();
        auto body = parse_registration(req.body, now);
        if (!body) return send_failure(res, body.error());
        auto issued = t.register_traveller(*body, req.remote_addr, now);
        if (!issued) return send_failure(res, issued.error());
        json j = pass_view(issued->reg, issued->token);
        j["sms_sent"] = issued->sms_sent;
        send(res, 200, j);
    });
    s.Get(R"(/r/api/pass/([0-9a-f]{64}))", [&t](Q req, R res) {
        auto r = t.store().by_token(token_hash(req.matches[1].str()));
        if (!r) return send_failure(res, r.error());
        send(res, 200, pass_view(*r, req.matches[1].str()));
    });

    s.Get("/api/travellers", [&t, auth](Q req, R res) {
        auto op = auth(req, res, false);
        if (!op) return;
        auto rows = t.store().list(op->scope(), 500);
        if (!rows) return send_failure(res, rows.error());
        json out = json::array();
        for (const auto& r : *rows) out.push_back(registration_json(r, op->role == Role::bigscreen));
        send(res, 200, {{"travellers", out}});
    });
    s.Get("/api/arrivals", [&t, auth, now_s](Q req, R res) {
        auto op = auth(req, res, false);
        if (!op) return;
        res.status = 200;
        res.set_content("{\"arrivals\":" + arrivals_json(t, op->scope(), now_s()) + "}", "application/json");
    });
    s.Get("/api/posters", [&t, auth](Q req, R res) {
        auto op = auth(req, res, false);
        if (!op) return;
        const Scope sc = op->scope();
        auto sites = t.store().entry_points(&sc);
        if (!sites) return send_failure(res, sites.error());
        json out = json::array();
        const std::string base = base_url(t, req);
        for (const auto& x : *sites) {
            out.push_back({{"code", x.code}, {"name", x.name}, {"kind", x.kind}, {"area", x.area},
                           {"url", base + "/r/?site=" + x.code}, {"poster", "/posters/" + x.code},
                           {"poster_pdf", "/posters/" + x.code + ".pdf"}});
        }
        send(res, 200, {{"posters", out}});
    });
    // The poster of an entry point in the operator's scope: HTML, or PDF with ".pdf".
    s.Get(R"(/posters/([0-9A-Za-z-]{1,32})(\.pdf)?)", [&t, auth](Q req, R res) {
        auto op = auth(req, res, false);
        if (!op) return;
        const Scope sc = op->scope();
        auto site = t.store().entry_point(req.matches[1].str(), &sc);
        if (!site) return send_failure(res, site.error());
        const std::string url = base_url(t, req) + "/r/?site=" + site->code;
        const bool pdf = req.matches[2].length() > 0;
        auto body = pdf ? poster_pdf(*site, url) : poster_html(*site, url);
        if (!body) return send_failure(res, body.error());
        if (pdf) res.set_header("Content-Disposition", "inline; filename=\"poster-" + site->code + ".pdf\"");
        res.set_content(*body, pdf ? "application/pdf" : "text/html; charset=utf-8");
    });
}

}  // namespace cp::upstream::console
