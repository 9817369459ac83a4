// Lifecycle of the device listener: create, start, stop. The parts by concern are
// in server_tls.cpp, server_limits.cpp and server_routes.cpp (server_parts.hpp).
#include "tools/upstream/server.hpp"
#include "tools/upstream/server_parts.hpp"

#include "src/common/log.hpp"
#include "tools/upstream/http_reply.hpp"

#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <thread>
#include <utility>

namespace cp::upstream {

using namespace detail;

struct UpstreamServer::Impl {
    ServerConfig cfg;
    UpstreamStore& store;
    DeviceRoutes routes{cfg, store};
    // Declared before `tls`: the SSL_CTX holds a pointer to it until `tls` is gone.
    std::shared_ptr<ConnectionCap> cap;
    std::unique_ptr<httplib::SSLServer> tls;
    std::thread tls_thread;
    int port = -1;

    Impl(ServerConfig c, UpstreamStore& s) : cfg(std::move(c)), store(s) {}

    void install_routes() {
        install_common(*tls, cfg, [this] { return routes.now_ms(); });
        routes.install(*tls);
    }
};

UpstreamServer::UpstreamServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

UpstreamServer::~UpstreamServer() { stop(); }

Result<std::unique_ptr<UpstreamServer>> UpstreamServer::create(ServerConfig cfg,
                                                               UpstreamStore& store) {
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
    widen_listen_backlog(m.port);
    m.tls_thread = std::thread([&m] { m.tls->listen_after_bind(); });
    // stop() before the accept loop runs would be lost and join() would wait forever.
    for (int i = 0; i < 2000; ++i) {
        if (m.tls->is_running()) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    log::info(kCat, "listening", {{"host", m.cfg.host}, {"port", std::to_string(m.port)}});
    return {};
}

void UpstreamServer::stop() {
    if (!impl_) return;
    Impl& m = *impl_;
    if (m.tls) m.tls->stop();
    if (m.tls_thread.joinable()) m.tls_thread.join();
}

int UpstreamServer::port() const { return impl_->port; }

}  // namespace cp::upstream
