#include "tools/upstream/server.hpp"
#include "tools/upstream/tls_log.hpp"

#include "src/common/device_id.hpp"
#include "src/common/log.hpp"
#include "src/common/time.hpp"
#include "tools/upstream/dashboard.hpp"
#include "tools/upstream/lists.hpp"
#include "tools/upstream/requests.hpp"

#include <httplib.h>
#include <nlohmann/json.hpp>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <ctime>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

namespace cp::upstream {

using nlohmann::json;

namespace {

constexpr const char* kCat = "upstream";
// Request header that carries the client's Content-Encoding past httplib, which would
// otherwise inflate gzip bodies itself without a size cap (a zip bomb would pass).
constexpr const char* kDeferredEncoding = "X-Checkpoint-Deferred-Encoding";
// A heartbeat is a few hundred bytes; its body cap, compressed or not.
constexpr std::size_t kMaxHeartbeatBytes = 64u << 10;
// The only routes that take a body; a body sent to any other is refused unread.
constexpr const char* kScansPath = "/v1/scans";
constexpr const char* kHeartbeatPath = "/v1/heartbeat";

std::string http_date(std::int64_t epoch_s) {
    std::time_t t = static_cast<std::time_t>(epoch_s);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    return buf;
}

void send_json(httplib::Response& res, int status, const json& body) {
    res.status = status;
    res.set_content(body.dump(), "application/json");
}

void send_error(httplib::Response& res, int status, const Error& e) {
    send_json(res, status,
              {{"error", to_string(e.kind)}, {"reason", e.reason}, {"message", e.message}});
}

int http_status_of(const Error& e) {
    switch (e.kind) {
        case ErrorKind::invalid_input: return 400;
        case ErrorKind::rejected: return e.reason == "too-large" ? 413 : 409;
        case ErrorKind::not_found: return 404;
        case ErrorKind::unavailable: return 503;
        default: return 500;
    }
}

std::optional<std::int64_t> to_i64(std::string_view s) {
    std::int64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
    return v;
}

// Subject CN and SHA-256 fingerprint of the TLS peer's certificate.
struct PeerIdentity {
    std::string cn;
    std::string fingerprint;
};

std::optional<PeerIdentity> identity_of(X509* cert) {
    PeerIdentity id;
    X509_NAME* name = X509_get_subject_name(cert);
    int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
    // Exactly one CN: two would make the identity ambiguous.
    if (idx >= 0 && X509_NAME_get_index_by_NID(name, NID_commonName, idx) < 0) {
        ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
        unsigned char* utf8 = nullptr;
        int n = ASN1_STRING_to_UTF8(&utf8, data);
        if (n > 0) id.cn.assign(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(n));
        OPENSSL_free(utf8);
    }
    unsigned char* der = nullptr;
    int len = i2d_X509(cert, &der);
    if (len > 0) id.fingerprint = fingerprint(ByteView(der, static_cast<std::size_t>(len)));
    OPENSSL_free(der);
    if (id.cn.empty() || id.fingerprint.empty()) return std::nullopt;
    return id;
}

std::optional<PeerIdentity> peer_identity(const SSL* ssl) {
    if (!ssl) return std::nullopt;
    X509* cert = SSL_get1_peer_certificate(ssl);
    if (!cert) return std::nullopt;
    auto id = identity_of(cert);
    X509_free(cert);
    return id;
}

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

// Open TLS connections per peer address, counted from the first byte of the
// handshake (OpenSSL's SSL_CB_HANDSHAKE_START, on the worker thread) until the
// connection's SSL object is freed. A connection over the cap is shut down before
// it can hold a worker for the handshake timeout.
class ConnectionCap {
public:
    explicit ConnectionCap(std::size_t max_per_address) : max_(max_per_address) {}

    bool acquire(const std::string& addr) {
        std::lock_guard<std::mutex> lock(mu_);
        std::size_t& n = open_[addr];
        if (n >= max_) {
            ++refused_;
            return false;
        }
        ++n;
        return true;
    }
    void release(const std::string& addr) {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = open_.find(addr);
        if (it == open_.end()) return;
        if (--it->second == 0) open_.erase(it);
    }
    // Refusals since the last call, for a rate-limited log line.
    std::size_t take_refused() {
        std::lock_guard<std::mutex> lock(mu_);
        return std::exchange(refused_, 0);
    }
    std::size_t max() const { return max_; }
    std::size_t max_unanswered = 0;  // see ConnectionToken

private:
    std::mutex mu_;
    std::map<std::string, std::size_t> open_;
    std::size_t refused_ = 0;
    const std::size_t max_;
};

struct ConnectionToken {
    std::shared_ptr<ConnectionCap> cap;
    std::string addr;
    // TLS record bytes received since the server last sent one: a request line,
    // headers and body. httplib 0.11 holds a request line or header of any length
    // in memory, so the connection is cut past this budget.
    std::size_t unanswered = 0;
    std::size_t max_unanswered = 0;
    ~ConnectionToken() { cap->release(addr); }
};

void free_connection_token(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
    delete static_cast<ConnectionToken*>(ptr);
}

int ssl_token_index() {
    static const int idx = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, free_connection_token);
    return idx;
}

int ctx_cap_index() {
    static const int idx = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return idx;
}

std::optional<std::string> peer_address(int fd) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return std::nullopt;
    char buf[INET6_ADDRSTRLEN] = {};
    const void* a = ss.ss_family == AF_INET6
                        ? static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(&ss)->sin6_addr)
                        : static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(&ss)->sin_addr);
    if (!inet_ntop(ss.ss_family, a, buf, sizeof buf)) return std::nullopt;
    return std::string(buf);
}

// httplib 0.11 listens with a backlog of 5 (a compiled-in constant): a burst of
// connections, such as a fleet reconnecting after an outage, overflows the accept
// queue and the kernel drops SYNs (retried after 1 s, 3 s, ...). listen() again on
// the bound socket sets a larger backlog; the socket is found by its port.
void widen_listen_backlog(int port) {
    constexpr int kBacklog = 256;
    constexpr int kMaxFd = 4096;
    for (int fd = 0; fd < kMaxFd; ++fd) {
        int listening = 0;
        socklen_t len = sizeof listening;
        if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening)
            continue;
        sockaddr_storage ss{};
        socklen_t sl = sizeof ss;
        if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &sl) != 0) continue;
        const int p = ss.ss_family == AF_INET6
                          ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port)
                          : ss.ss_family == AF_INET ? ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port)
                                                    : -1;
        if (p == port) (void)::listen(fd, kBacklog);
    }
}

void on_tls_info(const SSL* ssl, int where, int ret) {
    log_tls_alert(ssl, where, ret);
    if (!(where & SSL_CB_HANDSHAKE_START)) return;
    SSL* s = const_cast<SSL*>(ssl);  // OpenSSL passes const; ex_data needs the object
    if (SSL_get_ex_data(s, ssl_token_index())) return;  // counted already
    auto* holder = static_cast<std::shared_ptr<ConnectionCap>*>(
        SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ctx_cap_index()));
    if (!holder) return;
    const int fd = SSL_get_fd(ssl);
    auto addr = fd >= 0 ? peer_address(fd) : std::nullopt;
    if (!addr) return;
    if (!(*holder)->acquire(*addr)) {
        // The handshake's next read sees end of stream and httplib closes the socket.
        ::shutdown(fd, SHUT_RDWR);
        static std::atomic<std::int64_t> last_log_ms{0};
        const std::int64_t now = monotonic_now_ms();
        std::int64_t last = last_log_ms.load();
        if (now - last >= 10'000 && last_log_ms.compare_exchange_strong(last, now))
            log::warn(kCat, "connections over the per-address cap closed",
                      {{"address", *addr},
                       {"max_per_address", std::to_string((*holder)->max())},
                       {"closed", std::to_string((*holder)->take_refused())}});
        return;
    }
    SSL_set_ex_data(s, ssl_token_index(),
                    new ConnectionToken{*holder, *addr, 0, (*holder)->max_unanswered});
}

// Every TLS record header, read or written (OpenSSL's message callback).
void on_tls_record(int write_p, int, int content_type, const void* buf, std::size_t len,
                   SSL* ssl, void*) {
    if (content_type != SSL3_RT_HEADER || len < SSL3_RT_HEADER_LENGTH) return;
    auto* token = static_cast<ConnectionToken*>(SSL_get_ex_data(ssl, ssl_token_index()));
    if (!token) return;
    if (write_p) {
        token->unanswered = 0;
        return;
    }
    const auto* h = static_cast<const unsigned char*>(buf);
    token->unanswered += (static_cast<std::size_t>(h[3]) << 8) | h[4];
    if (token->unanswered > token->max_unanswered) {
        const int fd = SSL_get_fd(ssl);
        if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
    }
}

}  // namespace

Result<CertificateIdentity> certificate_identity(const std::string& pem) {
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    if (!bio) return fail(ErrorKind::internal, "openssl");
    X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    if (!cert) return fail(ErrorKind::invalid_input, "certificate", "not a PEM certificate");
    auto id = identity_of(cert);
    X509_free(cert);
    if (!id) return fail(ErrorKind::invalid_input, "subject", "certificate needs exactly one CN");
    // The device's own configuration refuses any other id (src/common/device_id.hpp).
    if (!is_device_id(id->cn))
        return fail(ErrorKind::invalid_input, "subject",
                    std::string("the CN is not a device id (") + kDeviceIdRule + ")");
    return CertificateIdentity{id->cn, id->fingerprint};
}

struct UpstreamServer::Impl {
    ServerConfig cfg;
    UpstreamStore& store;
    // Declared before `tls`: the SSL_CTX holds a pointer to it until `tls` is gone.
    std::shared_ptr<ConnectionCap> cap;
    std::unique_ptr<httplib::SSLServer> tls;
    std::unique_ptr<httplib::Server> web;
    std::thread tls_thread;
    std::thread web_thread;
    int port = -1;
    int web_port = -1;

    Impl(ServerConfig c, UpstreamStore& s) : cfg(std::move(c)), store(s) {}

    std::int64_t now_ms() const { return cfg.clock_ms ? cfg.clock_ms() : wall_now_ms(); }

    // Resolves and checks the device behind a request; on refusal fills `res`.
    std::optional<Device> authenticate(const httplib::Request& req, httplib::Response& res) {
        auto peer = peer_identity(req.ssl);
        if (!peer) {
            send_json(res, 401, {{"error", "rejected"}, {"reason", "no-client-certificate"}});
            return std::nullopt;
        }
        auto dev = store.find_device(peer->cn);
        if (!dev) {
            log::error(kCat, "device lookup failed", {{"reason", dev.error().reason}});
            send_error(res, 500, dev.error());
            return std::nullopt;
        }
        const char* refusal = nullptr;
        if (!*dev)
            refusal = "not-enrolled";
        else if ((*dev)->revoked)
            refusal = "revoked";
        else if ((*dev)->fingerprint != peer->fingerprint)
            refusal = "certificate-not-enrolled";
        if (refusal) {
            log::warn(kCat, "device refused", {{"device", peer->cn}, {"reason", refusal}});
            send_json(res, 403, {{"error", "rejected"}, {"reason", refusal}});
            return std::nullopt;
        }
        (void)store.touch_device((*dev)->id, now_ms() / 1000);
        return **dev;
    }

    // The body of a refused request stays unread: the connection cannot carry another
    // request, so it is closed after this answer.
    static void close_unread(httplib::Response& res) { res.set_header("Connection", "close"); }

    // Reads the body of an authenticated request through httplib's content reader,
    // stopping at the route's limit: nothing of the body is read before the device is
    // known, and no more than `limits.max_body_bytes` are held, chunked or not.
    // Then inflates (capped) and returns the text. Fills `res` on error.
    std::optional<std::string> read_body(const httplib::Request& req, httplib::Response& res,
                                         const httplib::ContentReader& reader,
                                         const BodyLimits& limits) {
        auto refuse = [&](const Error& e) {
            send_error(res, http_status_of(e), e);
            close_unread(res);
        };
        const std::string declared = req.get_header_value("Content-Length");
        if (!declared.empty()) {
            auto n = to_i64(declared);
            if (!n || *n < 0 || static_cast<std::uint64_t>(*n) > limits.max_body_bytes) {
                refuse(Error{ErrorKind::rejected, reason::kTooLarge, "body over the limit"});
                return std::nullopt;
            }
        }
        std::string body;
        bool over = false;
        const bool complete = reader([&](const char* data, std::size_t n) {
            if (n > limits.max_body_bytes - body.size()) {
                over = true;
                return false;  // stops httplib reading the socket
            }
            body.append(data, n);
            return true;
        });
        if (over) {
            refuse(Error{ErrorKind::rejected, reason::kTooLarge, "body over the limit"});
            return std::nullopt;
        }
        if (!complete) {
            refuse(Error{ErrorKind::invalid_input, "body", "incomplete request body"});
            return std::nullopt;
        }
        auto text = decode_body(body, req.get_header_value(kDeferredEncoding), limits);
        if (!text) {
            send_error(res, text.error().reason == reason::kEncoding ? 415
                                                                    : http_status_of(text.error()),
                       text.error());
            return std::nullopt;
        }
        return std::move(*text);
    }

    BodyLimits scan_limits() const { return {cfg.max_body_bytes, cfg.max_inflated_bytes}; }
    BodyLimits heartbeat_limits() const {
        return {std::min(cfg.max_body_bytes, kMaxHeartbeatBytes),
                std::min(cfg.max_inflated_bytes, kMaxHeartbeatBytes)};
    }

    void handle_scans(const httplib::Request& req, httplib::Response& res,
                      const httplib::ContentReader& reader) {
        auto dev = authenticate(req, res);
        if (!dev) return close_unread(res);
        auto text = read_body(req, res, reader, scan_limits());
        if (!text) return;
        std::size_t index = 0;
        auto scans = parse_scan_upload(*text, dev->id, now_ms() / 1000, cfg.max_batch, &index);
        if (!scans) {
            const Error& e = scans.error();
            if (e.reason == reason::kScan || e.reason == reason::kEpoch)
                return send_json(res, 400, {{"error", "invalid_input"}, {"reason", e.reason},
                                            {"message", e.message}, {"index", index}});
            if (e.reason == reason::kDeviceMismatch)
                return send_json(res, 403, {{"error", "rejected"}, {"reason", e.reason}});
            if (e.reason == reason::kBatch)
                return send_json(res, 413, {{"error", "rejected"}, {"reason", e.reason},
                                            {"max_batch", cfg.max_batch}});
            return send_error(res, http_status_of(e), e);
        }
        auto r = store.ingest_scans(dev->id, *scans);
        if (!r) {
            log::error(kCat, "ingest failed", {{"device", dev->id}, {"reason", r.error().reason}});
            send_error(res, 500, r.error());
            return;
        }
        if (r->conflicts > 0)
            log::error(kCat, "scan id reused with other content: kept apart and counted",
                       {{"device", dev->id}, {"epoch", std::to_string(r->epoch)},
                        {"conflicts", std::to_string(r->conflicts)}});
        send_json(res, 200, {{"acked_seq", r->acked_seq}, {"epoch", r->epoch}, {"stored", r->stored},
                             {"duplicates", r->duplicates}, {"conflicts", r->conflicts}});
    }

    void handle_heartbeat(const httplib::Request& req, httplib::Response& res,
                          const httplib::ContentReader& reader) {
        auto dev = authenticate(req, res);
        if (!dev) return close_unread(res);
        auto text = read_body(req, res, reader, heartbeat_limits());
        if (!text) return;
        auto hb = parse_heartbeat(*text, dev->id, now_ms());
        if (!hb) return send_error(res, http_status_of(hb.error()), hb.error());
        if (hb->lost_rows > 0 || hb->lost_journals > 0)
            log::error(kCat, "device reports journal rows lost",
                       {{"device", dev->id}, {"lost_rows", std::to_string(hb->lost_rows)},
                        {"lost_journals", std::to_string(hb->lost_journals)}});
        auto st = store.record_heartbeat(*hb);
        if (!st) {
            send_error(res, 500, st.error());
            return;
        }
        auto latest = store.latest_list_version();
        auto trust = store.latest_trust();
        const std::int64_t skew = hb->device_time_ms - hb->server_time_ms;
        send_json(res, 200,
                  {{"server_time_ms", hb->server_time_ms},
                   {"skew_ms", skew},
                   {"acked_seq", dev->acked_seq},
                   {"list_version", latest ? *latest : 0},
                   {"trust_version", (trust && *trust) ? (*trust)->version : 0}});
    }

    // Serves `data` with an ETag; honours `offset`/`length` query parameters (Range
    // headers are answered by httplib from the same body).
    void send_blob(const httplib::Request& req, httplib::Response& res, const Bytes& data,
                   const std::string& etag) {
        res.set_header("ETag", "\"" + etag + "\"");
        res.set_header("Accept-Ranges", "bytes");
        res.set_header("Cache-Control", "no-store");
        if (req.has_param("offset") || req.has_param("length")) {
            auto off = to_i64(req.has_param("offset") ? req.get_param_value("offset") : "0");
            auto len = req.has_param("length") ? to_i64(req.get_param_value("length"))
                                               : std::optional<std::int64_t>(
                                                     static_cast<std::int64_t>(data.size()));
            if (!off || !len || *off < 0 || *len < 0 ||
                static_cast<std::size_t>(*off) > data.size()) {
                send_json(res, 416, {{"error", "invalid_input"}, {"reason", "range"},
                                     {"size", data.size()}});
                return;
            }
            auto o = static_cast<std::size_t>(*off);
            auto n = std::min(static_cast<std::size_t>(*len), data.size() - o);
            res.set_header("X-Total-Length", std::to_string(data.size()));
            res.set_content(std::string(as_chars(ByteView(data).subspan(o, n))),
                            "application/octet-stream");
            return;
        }
        res.set_header("X-Total-Length", std::to_string(data.size()));
        res.set_content(std::string(as_chars(data)), "application/octet-stream");
    }

    void handle_list_info(const httplib::Request& req, httplib::Response& res) {
        if (!authenticate(req, res)) return;
        auto latest = store.latest_list_version();
        if (!latest) return send_error(res, 500, latest.error());
        json out = {{"version", *latest}};
        if (*latest > 0) {
            auto v = store.list_version(*latest);
            if (!v || !*v) return send_json(res, 500, {{"error", "internal"}});
            out["published_at"] = (*v)->published_at;
            out["entries"] = (*v)->entries;
            out["snapshot_size"] = (*v)->snapshot.size();
        }
        send_json(res, 200, out);
    }

    void handle_list_blob(const httplib::Request& req, httplib::Response& res, bool snapshot) {
        if (!authenticate(req, res)) return;
        auto version = to_i64(req.matches[1].str());
        if (!version) return send_json(res, 400, {{"error", "invalid_input"}, {"reason", "version"}});
        auto v = store.list_version(*version);
        if (!v) return send_error(res, 500, v.error());
        if (!*v) return send_json(res, 404, {{"error", "not_found"}, {"reason", "version"}});
        const Bytes& data = snapshot ? (*v)->snapshot : (*v)->delta;
        if (data.empty())  // version 1 has no delta
            return send_json(res, 404, {{"error", "not_found"}, {"reason", "no-delta"}});
        res.set_header("X-List-Version", std::to_string(*version));
        send_blob(req, res, data,
                  (snapshot ? "snapshot-" : "delta-") + std::to_string(*version));
    }

    void handle_deltas(const httplib::Request& req, httplib::Response& res) {
        if (!authenticate(req, res)) return;
        auto since = to_i64(req.has_param("since") ? req.get_param_value("since") : "");
        if (!since || *since < 0)
            return send_json(res, 400, {{"error", "invalid_input"}, {"reason", "since"}});
        auto latest = store.latest_list_version();
        if (!latest) return send_error(res, 500, latest.error());
        json out = {{"latest", *latest}, {"since", *since}};
        // A device ahead of the server (a restored server database) or far behind
        // takes the snapshot: fewer round trips than a long chain of deltas.
        constexpr std::int64_t kMaxChain = 50;
        if (*since > *latest || *latest - *since > kMaxChain || *since == 0) {
            out["snapshot_required"] = *latest > 0;
            out["deltas"] = json::array();
            if (*latest > 0) out["snapshot"] = "/v1/list/snapshot/" + std::to_string(*latest);
            return send_json(res, 200, out);
        }
        json arr = json::array();
        for (std::int64_t v = *since + 1; v <= *latest; ++v) {
            auto lv = store.list_version(v);
            if (!lv) return send_json(res, 500, {{"error", "internal"}});
            if (!*lv) {  // pruned (UpstreamStore::prune_list_versions): the snapshot instead
                out["snapshot_required"] = true;
                out["deltas"] = json::array();
                out["snapshot"] = "/v1/list/snapshot/" + std::to_string(*latest);
                return send_json(res, 200, out);
            }
            arr.push_back({{"version", v}, {"base_version", v - 1},
                           {"size", (*lv)->delta.size()},
                           {"url", "/v1/list/delta/" + std::to_string(v)}});
        }
        out["snapshot_required"] = false;
        out["deltas"] = std::move(arr);
        send_json(res, 200, out);
    }

    void handle_trust(const httplib::Request& req, httplib::Response& res) {
        if (!authenticate(req, res)) return;
        auto t = store.latest_trust();
        if (!t) return send_error(res, 500, t.error());
        if (!*t) return send_json(res, 404, {{"error", "not_found"}, {"reason", "trust-list"}});
        res.set_header("X-Trust-Version", std::to_string((*t)->version));
        send_blob(req, res, (*t)->signed_list, "trust-" + std::to_string((*t)->version));
    }

    void handle_dashboard(const httplib::Request& req, httplib::Response& res) {
        const std::int64_t now_s = now_ms() / 1000;
        auto devs = store.devices();
        auto hours = store.scans_per_hour(now_s - 24 * 3600);
        auto after = to_i64(req.has_param("after") ? req.get_param_value("after") : "0");
        auto alerts = store.scans(50, after.value_or(0), true, "");
        auto total = store.scan_count();
        auto latest = store.latest_list_version();
        if (!devs || !hours || !alerts || !total || !latest)
            return send_json(res, 500, {{"error", "internal"}});
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

    void install_common(httplib::Server& srv) {
        const std::size_t n = std::max<std::size_t>(cfg.worker_threads, 2);
        srv.new_task_queue = [n] { return new httplib::ThreadPool(n); };
        srv.set_read_timeout(cfg.read_timeout_s, 0);
        srv.set_write_timeout(cfg.write_timeout_s, 0);
        srv.set_keep_alive_timeout(cfg.keep_alive_timeout_s);
        // httplib 0.11 applies this to a declared Content-Length only (a chunked body
        // would be read whole); read_body() caps both, after authentication.
        srv.set_payload_max_length(cfg.max_body_bytes);
        srv.set_post_routing_handler([this](const httplib::Request&, httplib::Response& res) {
            res.set_header("Date", http_date(now_ms() / 1000));
            res.set_header("X-Content-Type-Options", "nosniff");
        });
        srv.set_exception_handler(
            [](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
                // A handler bug must not leak details or crash the server.
                send_json(res, 500, {{"error", "internal"}});
            });
    }

    void install_routes() {
        httplib::Server& s = *tls;
        install_common(s);
        s.set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
            // A body is read only by the two content-reader routes, after they have
            // authenticated the device; a request with a body anywhere else is
            // answered here, before httplib would read that body without a limit.
            const bool post_route =
                req.method == "POST" && (req.path == kScansPath || req.path == kHeartbeatPath);
            if (!post_route && req.method != "GET" && req.method != "HEAD") {
                send_json(res, 405, {{"error", "http"}, {"status", 405}});
                close_unread(res);
                return httplib::Server::HandlerResponse::Handled;
            }
            // Move Content-Encoding aside so that read_body() inflates it with a cap
            // (httplib would inflate without one). The Request object is not const.
            auto& r = const_cast<httplib::Request&>(req);
            r.headers.erase(kDeferredEncoding);
            if (r.headers.count("Content-Encoding") > 1) {
                send_json(res, 415, {{"error", "invalid_input"}, {"reason", reason::kEncoding}});
                close_unread(res);
                return httplib::Server::HandlerResponse::Handled;
            }
            auto enc = r.headers.find("Content-Encoding");
            if (enc != r.headers.end()) {
                std::string v = enc->second;
                r.headers.erase(enc);
                r.headers.emplace(kDeferredEncoding, v);
            }
            return httplib::Server::HandlerResponse::Unhandled;
        });
        // Content-reader handlers: httplib reads nothing of the body before the
        // handler has authenticated the device and asks for it.
        s.Post(kScansPath, [this](const httplib::Request& q, httplib::Response& r,
                                  const httplib::ContentReader& c) { handle_scans(q, r, c); });
        s.Post(kHeartbeatPath, [this](const httplib::Request& q, httplib::Response& r,
                                      const httplib::ContentReader& c) {
            handle_heartbeat(q, r, c);
        });
        s.Get("/v1/list", [this](const auto& q, auto& r) { handle_list_info(q, r); });
        s.Get("/v1/list/deltas", [this](const auto& q, auto& r) { handle_deltas(q, r); });
        s.Get(R"(/v1/list/snapshot/(\d{1,18}))",
              [this](const auto& q, auto& r) { handle_list_blob(q, r, true); });
        s.Get(R"(/v1/list/delta/(\d{1,18}))",
              [this](const auto& q, auto& r) { handle_list_blob(q, r, false); });
        s.Get("/v1/trust", [this](const auto& q, auto& r) { handle_trust(q, r); });
        s.set_error_handler([](const httplib::Request&, httplib::Response& res) {
            if (res.body.empty())
                send_json(res, res.status, {{"error", "http"}, {"status", res.status}});
        });

        if (web) {
            httplib::Server& w = *web;
            install_common(w);
            w.set_pre_routing_handler([this](const httplib::Request& req,
                                             httplib::Response& res) {
                // Read-only, and only for pages loaded from this listener's own
                // address: a page of another site whose name resolves to loopback
                // (DNS rebinding) sends its own name as Host and is refused.
                if (req.method != "GET" && req.method != "HEAD") {
                    send_json(res, 405, {{"error", "http"}, {"status", 405}});
                    close_unread(res);
                    return httplib::Server::HandlerResponse::Handled;
                }
                if (!dashboard::host_header_allowed(req.get_header_value("Host"), cfg.web_host,
                                                    web_port)) {
                    send_json(res, 403, {{"error", "rejected"}, {"reason", "host"}});
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
        return fail(ErrorKind::config, "web-host",
                    "the dashboard listens on a numeric loopback address only "
                    "(127.0.0.0/8 or ::1)");
    auto impl = std::make_unique<Impl>(std::move(cfg), store);
    const ServerConfig& c = impl->cfg;
    std::string cert = c.cert_path, key = c.key_path, ca = c.client_ca_path;
    std::shared_ptr<ConnectionCap>& cap = impl->cap;
    cap = std::make_shared<ConnectionCap>(std::max<std::size_t>(c.max_connections_per_address, 1));
    // The largest body, its TLS record overhead, and 1 MiB of request line and headers.
    cap->max_unanswered = c.max_body_bytes + c.max_body_bytes / 8 + (1u << 20);
    bool setup_ok = false;
    impl->tls = std::make_unique<httplib::SSLServer>([&](SSL_CTX& ctx) {
        // TLS 1.2+ only; the fleet CA is the only client trust anchor; a client
        // without a certificate fails the handshake.
        if (SSL_CTX_set_min_proto_version(&ctx, TLS1_2_VERSION) != 1) return false;
        if (SSL_CTX_use_certificate_chain_file(&ctx, cert.c_str()) != 1) return false;
        if (SSL_CTX_use_PrivateKey_file(&ctx, key.c_str(), SSL_FILETYPE_PEM) != 1) return false;
        if (SSL_CTX_check_private_key(&ctx) != 1) return false;
        if (SSL_CTX_load_verify_locations(&ctx, ca.c_str(), nullptr) != 1) return false;
        STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(ca.c_str());
        if (!names) return false;
        SSL_CTX_set_client_CA_list(&ctx, names);
        SSL_CTX_set_verify(&ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
        SSL_CTX_set_options(&ctx, SSL_OP_NO_RENEGOTIATION);
        if (SSL_CTX_set_ex_data(&ctx, ctx_cap_index(), &cap) != 1) return false;
        SSL_CTX_set_info_callback(&ctx, on_tls_info);  // also logs refused handshakes
        SSL_CTX_set_msg_callback(&ctx, on_tls_record);
        // Without a session id context OpenSSL aborts every resumed session of a
        // verified client ("internal error" alert): libcurl resumes on reconnect.
        static const unsigned char kSessionContext[] = "checkpoint-upstream";
        if (SSL_CTX_set_session_id_context(&ctx, kSessionContext,
                                           sizeof kSessionContext - 1) != 1)
            return false;
        setup_ok = true;
        return true;
    });
    if (!setup_ok || !impl->tls->is_valid())
        return fail(ErrorKind::config, "tls",
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
        return fail(ErrorKind::unavailable, "bind",
                    m.cfg.host + ":" + std::to_string(m.cfg.port));
    if (m.web) {
        if (m.cfg.web_port == 0)
            m.web_port = m.web->bind_to_any_port(m.cfg.web_host);
        else
            m.web_port = m.web->bind_to_port(m.cfg.web_host, m.cfg.web_port) ? m.cfg.web_port : -1;
        if (m.web_port <= 0)
            return fail(ErrorKind::unavailable, "bind",
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
