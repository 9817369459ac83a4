// Shared set-up for the upstream tests: a TEST-ONLY PKI made by tools/test-pki in a
// temporary directory, a SQLite store, and the real server on 127.0.0.1 (any port).
#pragma once

#include "tests/testing.hpp"
#include "tools/upstream/lists.hpp"
#include "tools/upstream/server.hpp"
#include "tools/upstream/store.hpp"

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

namespace cp::upstream::testing {

inline std::filesystem::path source_dir() {
    if (const char* env = std::getenv("CHECKPOINT_SOURCE"); env && *env) return env;
    return CHECKPOINT_SOURCE_DIR;
}

// Runs tools/test-pki once per process into `dir`; skips the test binary without openssl.
inline void make_pki(const std::filesystem::path& dir) {
    if (std::system("command -v openssl >/dev/null 2>&1") != 0) {
        std::fprintf(stderr, "SKIP: the openssl command line tool is not installed\n");
        std::exit(cp::testing::kSkip);
    }
    std::string cmd = "'" + (source_dir() / "tools" / "test-pki").string() + "' '" +
                      dir.string() + "' gate-01 gate-02 gate-03 gate-04 2>/dev/null";
    if (std::system(cmd.c_str()) != 0) {
        std::fprintf(stderr, "tools/test-pki failed\n");
        std::exit(1);
    }
}

struct Upstream {
    cp::testing::TempDir tmp;
    std::filesystem::path pki = tmp / "pki";
    std::unique_ptr<UpstreamStore> store;
    std::unique_ptr<UpstreamServer> server;
    std::atomic<std::int64_t> clock_offset_ms{0};

    // `server_cert`: "server", or "server-expired" / "server-wrong-ca" for refusal tests.
    // `production_timeouts`: keep the server's default timeouts (tests of them).
    explicit Upstream(const std::string& server_cert = "server",
                      bool production_timeouts = false) {
        make_pki(pki);
        auto s = open_sqlite_store((tmp / "upstream.db").string());
        if (!s) throw std::runtime_error(s.error().describe());
        store = std::move(*s);
        ServerConfig cfg;
        cfg.cert_path = (pki / (server_cert + ".crt")).string();
        cfg.key_path = (pki / (server_cert + ".key")).string();
        cfg.client_ca_path = (pki / "fleet-ca.crt").string();
        if (!production_timeouts) cfg.read_timeout_s = 5;
        cfg.clock_ms = [this] {
            return std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count() +
                   clock_offset_ms.load();
        };
        auto srv = UpstreamServer::create(cfg, *store);
        if (!srv) throw std::runtime_error(srv.error().describe());
        server = std::move(*srv);
        auto st = server->start();
        if (!st) throw std::runtime_error(st.error().describe());
    }
    ~Upstream() { server->stop(); }

    std::string path(const std::string& name) const { return (pki / name).string(); }

    void enroll(const std::string& id) {
        auto pem = cp::testing::read_file(pki / ("device-" + id + ".crt"));
        auto ident = certificate_identity(pem);
        if (!ident) throw std::runtime_error(ident.error().describe());
        auto st = store->enroll_device(ident->cn, ident->fingerprint, 1);
        if (!st) throw std::runtime_error(st.error().describe());
    }

    // A device client over mutual TLS that verifies the server against the fleet CA.
    std::unique_ptr<httplib::SSLClient> device(const std::string& id) const {
        auto c = std::make_unique<httplib::SSLClient>("localhost", server->port(),
                                                      path("device-" + id + ".crt"),
                                                      path("device-" + id + ".key"));
        c->set_ca_cert_path(path("fleet-ca.crt").c_str());
        c->enable_server_certificate_verification(true);
        c->set_connection_timeout(5, 0);
        c->set_read_timeout(5, 0);
        return c;
    }
};

}  // namespace cp::upstream::testing
