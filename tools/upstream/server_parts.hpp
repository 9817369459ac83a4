// Internal to the device listener (UpstreamServer): its parts by concern, one file
// each. Not for use outside tools/upstream/server*.cpp.
//   server_tls.cpp     mutual TLS, device identity, per-address connection cap
//   server_limits.cpp  listener settings, methods and bodies allowed, body reading
//   server_routes.cpp  the device routes (/v1/scans, /v1/heartbeat, lists, trust)
//   server.cpp         create, start, stop
#pragma once

#include "src/common/result.hpp"
#include "tools/upstream/requests.hpp"
#include "tools/upstream/server.hpp"
#include "tools/upstream/store.hpp"

#include <httplib.h>
#include <openssl/ssl.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace cp::upstream::detail {

inline constexpr const char* kCat = "upstream";
// The only routes that take a body; a body sent to any other is refused unread.
inline constexpr const char* kScansPath = "/v1/scans";
inline constexpr const char* kHeartbeatPath = "/v1/heartbeat";

// ---- server_tls.cpp -------------------------------------------------------------

// Subject CN and SHA-256 fingerprint of the TLS peer's certificate.
struct PeerIdentity {
    std::string cn;
    std::string fingerprint;
};
std::optional<PeerIdentity> peer_identity(const SSL* ssl);

// Open TLS connections per peer address, counted from the first byte of the
// handshake (OpenSSL's SSL_CB_HANDSHAKE_START, on the worker thread) until the
// connection's SSL object is freed. A connection over the cap is shut down before
// it can hold a worker for the handshake timeout.
class ConnectionCap {
public:
    explicit ConnectionCap(std::size_t max_per_address) : max_(max_per_address) {}

    bool acquire(const std::string& addr);
    void release(const std::string& addr);
    // Refusals since the last call, for a rate-limited log line.
    std::size_t take_refused();
    std::size_t max() const { return max_; }
    // TLS record bytes a connection may send before the server answers (a request
    // line, headers and body): httplib 0.11 holds a request line or header of any
    // length in memory, so the connection is cut past this budget.
    std::size_t max_unanswered = 0;

private:
    std::mutex mu_;
    std::map<std::string, std::size_t> open_;
    std::size_t refused_ = 0;
    const std::size_t max_;
};

// The device listener's TLS context: TLS 1.2+, the server certificate and key, the
// fleet CA as the only client trust anchor (a client without a certificate fails
// the handshake), the connection cap and the refused-handshake log. `cap` must
// outlive the context. False when a file cannot be loaded.
bool configure_device_tls(SSL_CTX& ctx, const ServerConfig& cfg, std::shared_ptr<ConnectionCap>* cap);

// httplib 0.11 listens with a backlog of 5: a larger one for the socket bound to `port`.
void widen_listen_backlog(int port);

// ---- server_limits.cpp ----------------------------------------------------------

// Worker pool, timeouts, Date and nosniff headers, a bare 500 for a handler bug.
void install_common(httplib::Server& srv, const ServerConfig& cfg,
                    std::function<std::int64_t()> now_ms);
// Refuses, unread, a body sent anywhere but the two POST routes and any method but
// GET/HEAD elsewhere; moves Content-Encoding aside for read_body().
void install_device_request_limits(httplib::Server& srv);

// The body of a refused request stays unread: the connection cannot carry another
// request, so it is closed after this answer.
void close_unread(httplib::Response& res);

// Reads the body of an authenticated request through httplib's content reader,
// stopping at the route's limit, then inflates (capped). Fills `res` on error.
std::optional<std::string> read_body(const httplib::Request& req, httplib::Response& res,
                                     const httplib::ContentReader& reader, const BodyLimits& limits);

BodyLimits scan_limits(const ServerConfig& cfg);
BodyLimits heartbeat_limits(const ServerConfig& cfg);

// HTTP status of an error from the store or request validation.
int http_status_of(const Error& e);

// ---- server_routes.cpp ----------------------------------------------------------

// The device routes; every one authenticates the device by its certificate first.
class DeviceRoutes {
public:
    DeviceRoutes(const ServerConfig& cfg, UpstreamStore& store) : cfg_(cfg), store_(store) {}
    void install(httplib::Server& srv);
    std::int64_t now_ms() const;

private:
    std::optional<Device> authenticate(const httplib::Request& req, httplib::Response& res);
    void handle_scans(const httplib::Request& req, httplib::Response& res,
                      const httplib::ContentReader& reader);
    void handle_heartbeat(const httplib::Request& req, httplib::Response& res,
                          const httplib::ContentReader& reader);
    void handle_list_info(const httplib::Request& req, httplib::Response& res);
    void handle_list_blob(const httplib::Request& req, httplib::Response& res, bool snapshot);
    void handle_deltas(const httplib::Request& req, httplib::Response& res);
    void handle_trust(const httplib::Request& req, httplib::Response& res);

    const ServerConfig& cfg_;
    UpstreamStore& store_;
};

}  // namespace cp::upstream::detail
