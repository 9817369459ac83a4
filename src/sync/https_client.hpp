// HTTPS to the command centre, on libcurl, with the fleet's rules built in and not
// configurable away: https only (no plain HTTP, no redirects to it), the server
// verified against the pinned fleet CA (no system CA store) and its host name,
// the device's own client certificate, TLS 1.2+, connect and transfer timeouts.
//
// Error reasons: [config] "url" (not https://), [config] "tls-files" (a CA, cert or
// key file is missing); [unavailable] "connect" (refused, unreachable, timeout),
// "tls" (handshake failed: wrong CA, expired or mismatched server certificate,
// client certificate refused), "timeout", "network", "aborted" (the abort flag was
// raised: the sync thread is stopping); [internal] "curl"; [invalid_input]
// "url-path" (a request path outside check_request_path's rule: nothing is sent),
// "too-large" (an answer, or a resumed download's parts together, over
// max_answer_bytes: 64 MiB).
//
// Thread-safety: one HttpsClient per thread (the sync thread owns it).
#pragma once

#include "src/sync/reason.hpp"

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace cp::sync {

// Largest answer body kept (a status-list snapshot of 2M entries is ~45 MiB); a
// resumed download counts every part.
constexpr std::size_t kMaxAnswerBytes = std::size_t{64} << 20;
constexpr std::size_t kMaxPathBytes = 512;

// A request path is appended to the configured base URL, so it must stay a path on
// that host: it starts with one "/", is at most kMaxPathBytes, uses only
// [A-Za-z0-9-._~/?=&%] (no scheme, host, user, fragment, backslash or space), has
// no "." / ".." / empty segment and no percent-encoded separator.
// Errors: [invalid_input] "url-path".
Status check_request_path(const std::string& path);

struct HttpsConfig {
    std::string base_url;          // "https://host:port", no trailing slash
    std::string ca_path;           // fleet CA, PEM: the only trust anchor
    std::string cert_path;         // this device's certificate, PEM
    std::string key_path;          // this device's private key, PEM
    long connect_timeout_s = 10;
    long transfer_timeout_s = 60;  // whole request, including the body
    long low_speed_bytes_s = 100;  // abort when slower than this ...
    long low_speed_time_s = 20;    // ... for this long
    std::size_t max_answer_bytes = kMaxAnswerBytes;  // per answer; a resumed download: all parts together
    // A list mirror (a static server or CDN holding `upstream publish --export`
    // files): it only ever serves signed documents, which the device verifies
    // against its list signers, so plain http:// is accepted as well. An https://
    // mirror is still verified against the pinned fleet CA. Never set for the
    // command centre itself (scans and heartbeats are not signed documents).
    bool signed_documents_only = false;
    // Source address of the connection (empty: the system's choice). The load
    // generator (tools/loadgen) gives each simulated device its own 127.x.y.z, as
    // devices in the field have their own addresses.
    std::string local_address;
};

struct HttpResponse {
    long status = 0;
    std::string body;
    std::optional<std::int64_t> date_s;  // the server's Date header, s since epoch
    std::vector<std::pair<std::string, std::string>> headers;  // lower-case names
    std::int64_t sent_ms = 0;      // device wall clock before the request
    std::int64_t received_ms = 0;  // device wall clock after the response
    std::string header(const std::string& lower_name) const;
};

// A download that survives cut connections (HttpsClient::download): the bytes of
// one entity received so far, with the path and ETag they belong to. Bounded by
// kMaxAnswerBytes over all parts; kept in memory (a restart downloads again).
struct Download {
    std::string path;
    std::string etag;   // as the server sent it, quotes included
    std::string body;   // the first body.size() bytes of the entity
};

class HttpsClient {
public:
    // Errors: [config] "url" (not https://, or not http(s):// for a list mirror),
    // [config] "tls-files".
    static Result<HttpsClient> create(HttpsConfig cfg);
    const std::string& base_url() const { return cfg_.base_url; }
    HttpsClient(HttpsClient&&) noexcept;
    HttpsClient& operator=(HttpsClient&&) noexcept;
    ~HttpsClient();

    // `path` starts with "/". Extra headers as "Name: value".
    Result<HttpResponse> get(const std::string& path, const std::vector<std::string>& headers = {});
    // GETs `path` into `d`. When `d` holds the first bytes of the same path with an
    // ETag, asks only for the rest (`Range: bytes=N-`) and appends a 206 answer with
    // the same ETag starting at N; any other 200 replaces what was there. After a
    // failed transfer `d` keeps what arrived, for the next call. On success the
    // whole entity is returned as the body (status 200 also when it was assembled
    // from 206 parts) and `d` is emptied. Errors: get()'s; [invalid_input]
    // "download-size" when the whole does not match X-Total-Length (`d` is emptied).
    Result<HttpResponse> download(const std::string& path, Download& d);
    // POSTs JSON; gzip-compresses the body when `gzip` (Content-Encoding: gzip).
    Result<HttpResponse> post_json(const std::string& path, const std::string& json, bool gzip);

    // When set, a transfer in progress (connect, TLS handshake, body) is abandoned
    // within about a second after `*flag` becomes true ([unavailable] "aborted").
    // The flag must outlive the client. Lets stop() interrupt a 60 s transfer.
    void set_abort_flag(const std::atomic<bool>* flag) { abort_ = flag; }

    // Where libcurl writes an answer body: at most `limit` bytes in *out.
    struct BodySink {
        std::string* out;
        std::size_t limit;
        bool over = false;  // the answer was longer: the transfer was cut
    };

private:
    explicit HttpsClient(HttpsConfig cfg);
    Result<HttpResponse> perform(const std::string& path, const std::string* body, bool gzip,
                                 const std::vector<std::string>& headers);
    // One request; the body goes to `sink`; `res` holds status and headers even when
    // the transfer failed. Returns libcurl's code (as int) with `errbuf` filled.
    int run(const std::string& path, const std::string* body, bool gzip, const std::vector<std::string>& headers,
            HttpResponse& res, BodySink& sink, char* errbuf);
    HttpsConfig cfg_;
    void* curl_ = nullptr;  // CURL*, reused so connections are kept alive
    const std::atomic<bool>* abort_ = nullptr;
};

// gzip (RFC 1952) of `data`.
std::string gzip_compress(const std::string& data);
// RFC 7231 IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") → s since epoch.
std::optional<std::int64_t> parse_http_date(const std::string& text);
// Retry-After (RFC 9110 §10.2.3): delay-seconds ("120") or an IMF-fixdate, as a wait
// in ms; a date counts from `reference_s` (the answer's own Date, so the device's
// clock does not matter) and one in the past is 0. nullopt when empty or malformed.
std::optional<std::int64_t> parse_retry_after(const std::string& value, std::int64_t reference_s);

}  // namespace cp::sync
