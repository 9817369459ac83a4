// Lifecycle of the device listener (and the loopback dashboard): create, start,
// stop. The parts by concern are in server_tls.cpp, server_limits.cpp and
// server_routes.cpp (server_parts.hpp).
#include "tools/upstream/server.hpp"
#include "tools/upstream/server_parts.hpp"

#include "src/common/log.hpp"
#include "tools/upstream/dashboard.hpp"
#include "tools/upstream/http_reply.hpp"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <thread>
#include <utility>

namespace cp::upstream {

using nlohmann::json;
using namespace detail;

namespace {

json scan_json(const UpstreamStore::ScanRow& r) {
    const Scan& s = r.scan;
    return {{"id", r.rowid},
            {"device_id", s.device_id},
            {"seq", s.seq},
            {"pass_id", s.pass_id},
            {"verdict", s.verdict},
            {"reason", s.reason},
            {"temperature_c", s.temperature_c ? json(*s.temperature_c) : json(nullptr)},
            {"time", s.time},
            {"lane", s.lane},
            {"type", s.manual ? "manual" : "scan"}};
}

}  // namespace

struct UpstreamServer::Impl {
    ServerConfig cfg;
    UpstreamStore& store;
    DeviceRoutes routes{cfg, store};
    // Declared before `tls`: the SSL_CTX holds a pointer to it until `tls` is gone.
    std::shared_ptr<ConnectionCap> cap;
    std::unique_ptr<httplib::SSLServer> tls;
    std::unique_ptr<httplib::Server> web;
    std::thread tls_thread;
    std::thread web_thread;
    int port = -1;
    int web_port = -1;

    Impl(ServerConfig c, UpstreamStore& s) : cfg(std::move(c)), store(s) {}

    std::int64_t now_ms() const { return routes.now_ms(); }


    void handle_dashboard(const httplib::Request& req, httplib::Response& res) {
        const std::int64_t now_s = now_ms() / 1000;
        auto devs = store.devices();
        auto hours = store.scans_per_hour(now_s - 24 * 3600);
        auto after = to_i64(req.has_param("after") ? req.get_param_value("after") : "0");
        auto alerts = store.scans(50, after.value_or(0), true, "");
        auto total = store.scan_count();
        auto latest = store.latest_list_version();
        if (!devs || !hours || !alerts || !total || !latest)
            return send_error(res, 500, ErrorKind::internal, reason::internal);
        json d = json::array();
        for (const auto& st : *devs) {
            json row = {{"id", st.device.id}, {"revoked", st.device.revoked},
                        {"last_seen", st.last_seen}, {"acked_seq", st.device.acked_seq},
                        {"scan_conflicts", st.device.conflicts}};
            if (st.last_heartbeat) {
                row["list_version"] = st.last_heartbeat->list_version;
                row["backlog"] = st.last_heartbeat->backlog;
                row["firmware"] = st.last_heartbeat->firmware;
                row["skew_ms"] = st.last_heartbeat->device_time_ms -
                                 st.last_heartbeat->server_time_ms;
                row["journal_lost_rows"] = st.last_heartbeat->lost_rows;
                row["journal_lost_journals"] = st.last_heartbeat->lost_journals;
                row["sync_faults"] = st.last_heartbeat->sync_faults;
                auto sensors = parse_json_object(st.last_heartbeat->sensors_json);
                row["sensors"] = sensors ? std::move(*sensors) : json::object();
            }
            d.push_back(std::move(row));
        }
        json h = json::array();
        for (const auto& hc : *hours) h.push_back({{"hour", hc.hour}, {"scans", hc.scans}});
        json a = json::array();
        for (const auto& r : *alerts) a.push_back(scan_json(r));
        res.set_header("Cache-Control", "no-store");
        send_json(res, 200,
                  {{"server_time", now_s}, {"list_version", *latest}, {"scans_total", *total},
                   {"devices", d}, {"scans_per_hour", h}, {"alerts", a}});
    }

    void install_routes() {
        install_common(*tls, cfg, [this] { return now_ms(); });
        routes.install(*tls);

        if (web) {
            httplib::Server& w = *web;
            install_common(w, cfg, [this] { return now_ms(); });
            w.set_pre_routing_handler([this](const httplib::Request& req,
                                             httplib::Response& res) {
                // Read-only, and only for pages loaded from this listener's own
                // address: a page of another site whose name resolves to loopback
                // (DNS rebinding) sends its own name as Host and is refused.
                if (req.method != "GET" && req.method != "HEAD") {
                    send_error(res, 405, ErrorKind::rejected, reason::method);
                    close_unread(res);
                    return httplib::Server::HandlerResponse::Handled;
                }
                if (!dashboard::host_header_allowed(req.get_header_value("Host"), cfg.web_host,
                                                    web_port)) {
                    send_error(res, 403, ErrorKind::rejected, reason::host);
                    return httplib::Server::HandlerResponse::Handled;
                }
                return httplib::Server::HandlerResponse::Unhandled;
            });
            auto page = [](httplib::Response& res, std::string_view body, const char* type) {
                res.set_header("Content-Security-Policy",
                               "default-src 'none'; script-src 'self'; style-src 'self'; "
                               "connect-src 'self'; img-src 'self'; base-uri 'none'; "
                               "frame-ancestors 'none'");
                res.set_header("Referrer-Policy", "no-referrer");
                res.set_content(std::string(body), type);
            };
            w.Get("/", [page](const auto&, auto& r) {
                page(r, dashboard::index_html(), "text/html; charset=utf-8");
            });
            w.Get("/app.js", [page](const auto&, auto& r) {
                page(r, dashboard::app_js(), "text/javascript; charset=utf-8");
            });
            w.Get("/app.css", [page](const auto&, auto& r) {
                page(r, dashboard::app_css(), "text/css; charset=utf-8");
            });
            w.Get("/api/dashboard", [this](const auto& q, auto& r) { handle_dashboard(q, r); });
            // Read-only: every other method is refused above, before any body is read.
        }
    }
};

UpstreamServer::UpstreamServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

UpstreamServer::~UpstreamServer() { stop(); }

Result<std::unique_ptr<UpstreamServer>> UpstreamServer::create(ServerConfig cfg,
                                                               UpstreamStore& store) {
    if (cfg.web_port >= 0 && !dashboard::is_loopback_address(cfg.web_host))
        return fail(ErrorKind::config, reason::web_host,
                    "the dashboard listens on a numeric loopback address only "
                    "(127.0.0.0/8 or ::1)");
    auto impl = std::make_unique<Impl>(std::move(cfg), store);
    const ServerConfig& c = impl->cfg;
    std::shared_ptr<ConnectionCap>& cap = impl->cap;
    cap = std::make_shared<ConnectionCap>(std::max<std::size_t>(c.max_connections_per_address, 1));
    // The largest body, its TLS record overhead, and 1 MiB of request line and headers.
    cap->max_unanswered = c.max_body_bytes + c.max_body_bytes / 8 + (1u << 20);
    bool setup_ok = false;
    impl->tls = std::make_unique<httplib::SSLServer>([&](SSL_CTX& ctx) {
        setup_ok = configure_device_tls(ctx, c, &cap);
        return setup_ok;
    });
    if (!setup_ok || !impl->tls->is_valid())
        return fail(ErrorKind::config, reason::tls,
                    "cannot load the server certificate, key or client CA");
    if (impl->cfg.web_port >= 0) impl->web = std::make_unique<httplib::Server>();
    impl->install_routes();
    return std::unique_ptr<UpstreamServer>(new UpstreamServer(std::move(impl)));
}

Status UpstreamServer::start() {
    Impl& m = *impl_;
    if (m.tls_thread.joinable()) return {};
    if (m.cfg.port == 0)
        m.port = m.tls->bind_to_any_port(m.cfg.host);
    else
        m.port = m.tls->bind_to_port(m.cfg.host, m.cfg.port) ? m.cfg.port : -1;
    if (m.port <= 0)
        return fail(ErrorKind::unavailable, reason::bind,
                    m.cfg.host + ":" + std::to_string(m.cfg.port));
    if (m.web) {
        if (m.cfg.web_port == 0)
            m.web_port = m.web->bind_to_any_port(m.cfg.web_host);
        else
            m.web_port = m.web->bind_to_port(m.cfg.web_host, m.cfg.web_port) ? m.cfg.web_port : -1;
        if (m.web_port <= 0)
            return fail(ErrorKind::unavailable, reason::bind,
                        "dashboard " + m.cfg.web_host + ":" + std::to_string(m.cfg.web_port));
    }
    widen_listen_backlog(m.port);
    if (m.web) widen_listen_backlog(m.web_port);
    m.tls_thread = std::thread([&m] { m.tls->listen_after_bind(); });
    if (m.web) m.web_thread = std::thread([&m] { m.web->listen_after_bind(); });
    // stop() before the accept loop runs would be lost and join() would wait forever.
    for (int i = 0; i < 2000; ++i) {
        if (m.tls->is_running() && (!m.web || m.web->is_running())) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    log::info(kCat, "listening",
              {{"host", m.cfg.host}, {"port", std::to_string(m.port)},
               {"web_port", std::to_string(m.web_port)}});
    return {};
}

void UpstreamServer::stop() {
    if (!impl_) return;
    Impl& m = *impl_;
    if (m.tls) m.tls->stop();
    if (m.web) m.web->stop();
    if (m.tls_thread.joinable()) m.tls_thread.join();
    if (m.web_thread.joinable()) m.web_thread.join();
}

int UpstreamServer::port() const { return impl_->port; }
int UpstreamServer::web_port() const { return impl_->web_port; }

}  // namespace cp::upstream
