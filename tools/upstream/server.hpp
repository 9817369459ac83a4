// The reference upstream (command centre) HTTPS server: mutual TLS with a fleet CA,
// device identity = certificate subject CN + SHA-256 fingerprint registered at
// enrollment, checked on every request. Routes in docs/sync-protocol.md.
// The read-only loopback view (`--web-port`) is the console's big screen
// (console/console_server.hpp, ConsoleConfig::wall_port).
//
// Thread-safety: start()/stop() from one thread; handlers run on httplib's pool
// and use the store, which is thread-safe.
#pragma once

#include "src/common/result.hpp"
#include "tools/upstream/requests.hpp"  // gunzip, request limits
#include "tools/upstream/store.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace cp::upstream {

struct ServerConfig {
    std::string host = "127.0.0.1";
    int port = 0;                      // 0: any free port (tests)
    std::string cert_path;             // server certificate chain, PEM
    std::string key_path;              // server private key, PEM
    std::string client_ca_path;        // fleet CA, PEM: devices' certificates chain to it
    std::size_t max_body_bytes = 4u << 20;      // compressed request body limit
    std::size_t max_inflated_bytes = 16u << 20; // after gunzip
    std::size_t max_batch = 1000;      // scans per upload
    std::size_t worker_threads = 32;   // a connection holds a worker while open
    // Also the TLS handshake timeout (httplib waits this long for each handshake read):
    // a connection that sends nothing holds a worker this long at most.
    int read_timeout_s = 5;
    int write_timeout_s = 5;
    int keep_alive_timeout_s = 2;      // idle time between requests on one connection
    // Open TLS connections from one peer address; more are closed at their first
    // handshake byte, so one host cannot hold every worker.
    std::size_t max_connections_per_address = 8;
    // Server wall clock in ms (tests inject a skewed one).
    std::function<std::int64_t()> clock_ms;
};

class UpstreamServer {
public:
    // Errors: config "tls" when the certificate, key or CA cannot be loaded.
    static Result<std::unique_ptr<UpstreamServer>> create(ServerConfig cfg, UpstreamStore& store);
    ~UpstreamServer();
    UpstreamServer(const UpstreamServer&) = delete;
    UpstreamServer& operator=(const UpstreamServer&) = delete;

    // Binds and starts serving on background threads. Errors: unavailable "bind".
    Status start();
    // Stops the listener and joins its thread. Idempotent.
    void stop();
    int port() const;

private:
    struct Impl;
    explicit UpstreamServer(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// Subject CN and SHA-256 fingerprint (64 hex) of a PEM certificate, as the server
// derives them from a TLS peer. Errors: invalid_input "certificate", "subject".
struct CertificateIdentity {
    std::string cn;
    std::string fingerprint;
};
Result<CertificateIdentity> certificate_identity(const std::string& pem);

}  // namespace cp::upstream
