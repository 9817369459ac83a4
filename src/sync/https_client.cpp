#include "src/sync/https_client.hpp"
#include "src/sync/reason.hpp"

#include "src/common/time.hpp"
#include "src/zlib/zlib.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <filesystem>
#include <mutex>
#include <string_view>

namespace cp::sync {

namespace {

void global_init_once() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::size_t on_body(char* data, std::size_t size, std::size_t n, void* user) {
    auto* sink = static_cast<HttpsClient::BodySink*>(user);
    // A server answer over kMaxAnswerBytes is not one of ours; a resumed download
    // counts the parts it already holds (BodySink::limit is what is left).
    if (size * n > sink->limit - std::min(sink->limit, sink->out->size())) {
        sink->over = true;
        return 0;
    }
    sink->out->append(data, size * n);
    return size * n;
}

std::size_t on_header(char* data, std::size_t size, std::size_t n, void* user) {
    auto* res = static_cast<HttpResponse*>(user);
    std::string line(data, size * n);
    if (line.rfind("HTTP/", 0) == 0) res->headers.clear();  // a new response (e.g. after 100)
    auto colon = line.find(':');
    if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        std::transform(name.begin(), name.end(), name.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        std::string value = line.substr(colon + 1);
        auto b = value.find_first_not_of(" \t");
        auto e = value.find_last_not_of(" \t\r\n");
        value = b == std::string::npos ? "" : value.substr(b, e - b + 1);
        res->headers.emplace_back(std::move(name), std::move(value));
    }
    return size * n;
}

// libcurl calls this at least once a second while a transfer runs (also while it
// connects); a non-zero return abandons the transfer.
int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    const auto* flag = static_cast<const std::atomic<bool>*>(user);
    return flag && flag->load(std::memory_order_relaxed) ? 1 : 0;
}

Failure curl_failure(CURLcode rc, const char* errbuf) {
    std::string msg = errbuf && *errbuf ? errbuf : curl_easy_strerror(rc);
    switch (rc) {
        case CURLE_COULDNT_CONNECT:
        case CURLE_COULDNT_RESOLVE_HOST:
            return fail(ErrorKind::unavailable, reason::connect, msg);
        case CURLE_OPERATION_TIMEDOUT:
            return fail(ErrorKind::unavailable, reason::timeout, msg);
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CIPHER:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_ISSUER_ERROR:
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        case CURLE_SSL_CLIENTCERT:
            return fail(ErrorKind::unavailable, reason::tls, msg);
        case CURLE_ABORTED_BY_CALLBACK:
            return fail(ErrorKind::unavailable, reason::aborted, "stopping");
        case CURLE_UNSUPPORTED_PROTOCOL:
            return fail(ErrorKind::config, reason::url, msg);
        default:
            return fail(ErrorKind::unavailable, reason::network, msg);
    }
}

}  // namespace

Status check_request_path(const std::string& path) {
    auto bad = [&](const char* why) {
        return fail(ErrorKind::invalid_input, reason::url_path,
                    std::string(why) + ": '" + path.substr(0, 80) + "'");
    };
    if (path.empty() || path.front() != '/') return bad("not an absolute path");
    if (path.size() > kMaxPathBytes) return bad("path longer than 512 bytes");
    if (path.size() > 1 && path[1] == '/') return bad("a host, not a path");
    for (char c : path) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                        c == '/' || c == '-' || c == '_' || c == '.' || c == '~' || c == '?' ||
                        c == '=' || c == '&' || c == '%';
        if (!ok) return bad("character outside the path alphabet");
    }
    const std::string_view p = std::string_view(path).substr(0, path.find('?'));
    for (std::size_t i = 0; i < p.size();) {
        std::size_t j = p.find('/', i + 1);
        if (j == std::string_view::npos) j = p.size();
        const std::string_view seg = p.substr(i + 1, j - i - 1);
        if (seg == ".." || seg == "." || (seg.empty() && j < p.size())) return bad("dot or empty segment");
        i = j;
    }
    if (p.find("%2") != std::string_view::npos || p.find("%5") != std::string_view::npos)
        return bad("encoded separator in the path");
    return {};
}

std::string HttpResponse::header(const std::string& lower_name) const {
    for (const auto& [k, v] : headers)
        if (k == lower_name) return v;
    return {};
}

std::optional<std::int64_t> parse_http_date(const std::string& text) {
    std::tm tm{};
    const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!end || *end != '\0') return std::nullopt;
    return static_cast<std::int64_t>(timegm(&tm));
}

std::optional<std::int64_t> parse_retry_after(const std::string& value, std::int64_t reference_s) {
    if (value.empty()) return std::nullopt;
    if (value.find_first_not_of("0123456789") == std::string::npos) {
        if (value.size() > 9) return std::nullopt;  // > 31 years: not a wait anyone means
        return std::stoll(value) * 1000;
    }
    auto at = parse_http_date(value);
    if (!at) return std::nullopt;
    return std::max<std::int64_t>(0, *at - reference_s) * 1000;
}

std::string gzip_compress(const std::string& data) {
    auto z = zlib::deflate(std::string_view(data), zlib::Wrapper::gzip, 6);
    return z ? std::move(*z) : std::string();
}

HttpsClient::HttpsClient(HttpsConfig cfg) : cfg_(std::move(cfg)) {}
HttpsClient::HttpsClient(HttpsClient&& o) noexcept
    : cfg_(std::move(o.cfg_)), curl_(std::exchange(o.curl_, nullptr)), abort_(o.abort_) {}
HttpsClient& HttpsClient::operator=(HttpsClient&& o) noexcept {
    if (this != &o) {
        if (curl_) curl_easy_cleanup(static_cast<CURL*>(curl_));
        cfg_ = std::move(o.cfg_);
        curl_ = std::exchange(o.curl_, nullptr);
        abort_ = o.abort_;
    }
    return *this;
}
HttpsClient::~HttpsClient() {
    if (curl_) curl_easy_cleanup(static_cast<CURL*>(curl_));
}

Result<HttpsClient> HttpsClient::create(HttpsConfig cfg) {
    const bool plain_ok = cfg.signed_documents_only && cfg.base_url.rfind("http://", 0) == 0;
    if (cfg.base_url.rfind("https://", 0) != 0 && !plain_ok)
        return fail(ErrorKind::config, reason::url,
                    cfg.signed_documents_only ? "the list mirror URL must start with https:// or http://"
                                              : "the upstream URL must start with https://");
    for (const auto* p : {&cfg.ca_path, &cfg.cert_path, &cfg.key_path}) {
        std::error_code ec;
        if (p->empty() || !std::filesystem::is_regular_file(*p, ec))
            return fail(ErrorKind::config, reason::tls_files, "missing: " + *p);
    }
    global_init_once();
    HttpsClient c(std::move(cfg));
    c.curl_ = curl_easy_init();
    if (!c.curl_) return fail(ErrorKind::internal, reason::curl, "curl_easy_init failed");
    return c;
}

Result<HttpResponse> HttpsClient::get(const std::string& path,
                                      const std::vector<std::string>& headers) {
    return perform(path, nullptr, false, headers);
}

Result<HttpResponse> HttpsClient::post_json(const std::string& path, const std::string& json,
                                            bool gzip) {
    if (gzip) {
        std::string z = gzip_compress(json);
        if (z.empty()) return fail(ErrorKind::internal, reason::zlib, "gzip failed");
        return perform(path, &z, true, {"Content-Type: application/json"});
    }
    return perform(path, &json, false, {"Content-Type: application/json"});
}

Result<HttpResponse> HttpsClient::perform(const std::string& path, const std::string* body,
                                          bool gzip, const std::vector<std::string>& headers) {
    CP_TRY(check_request_path(path));
    HttpResponse res;
    char errbuf[CURL_ERROR_SIZE] = {};
    BodySink sink{&res.body, cfg_.max_answer_bytes};
    const int rc = run(path, body, gzip, headers, res, sink, errbuf);
    if (sink.over) return fail(ErrorKind::invalid_input, reason::too_large, path + ": answer over the size limit");
    if (rc != CURLE_OK) return curl_failure(static_cast<CURLcode>(rc), errbuf);
    return res;
}

Result<HttpResponse> HttpsClient::download(const std::string& path, Download& d) {
    CP_TRY(check_request_path(path));
    if (d.path != path || d.etag.empty() || d.body.size() >= cfg_.max_answer_bytes) d = Download{path, {}, {}};
    const std::size_t have = d.body.size();
    std::vector<std::string> headers;
    if (have > 0) headers.push_back("Range: bytes=" + std::to_string(have) + "-");
    HttpResponse res;
    std::string fresh;
    char errbuf[CURL_ERROR_SIZE] = {};
    // The whole entity, all parts together, stays under the limit.
    BodySink sink{&fresh, cfg_.max_answer_bytes - have};
    const int rc = run(path, nullptr, false, headers, res, sink, errbuf);
    if (sink.over) {
        d = Download{path, {}, {}};
        return fail(ErrorKind::invalid_input, reason::too_large, path + ": download over the size limit");
    }
    const std::string etag = res.header("etag");
    if (have > 0 && res.status == 206 && !etag.empty() && etag == d.etag &&
        res.header("content-range").rfind("bytes " + std::to_string(have) + "-", 0) == 0) {
        d.body += fresh;  // the rest of the same entity
    } else if (res.status == 200) {
        d = Download{path, etag, std::move(fresh)};  // the entity from its start
    } else {
        d = Download{path, {}, {}};  // an error answer, or parts that do not fit together
    }
    if (rc != CURLE_OK) return curl_failure(static_cast<CURLcode>(rc), errbuf);  // d keeps what arrived
    if (res.status != 200 && res.status != 206) {
        res.body = std::move(fresh);
        return res;
    }
    const std::string total = res.header("x-total-length");
    if (!total.empty() && total != std::to_string(d.body.size())) {
        d = Download{path, {}, {}};
        return fail(ErrorKind::invalid_input, reason::download_size, path + ": parts do not add up to X-Total-Length " + total);
    }
    res.status = 200;
    res.body = std::move(d.body);
    d = Download{};
    return res;
}

int HttpsClient::run(const std::string& path, const std::string* body, bool gzip,
                     const std::vector<std::string>& headers, HttpResponse& res, BodySink& sink, char* errbuf) {
    CURL* c = static_cast<CURL*>(curl_);
    curl_easy_reset(c);
    const std::string url = cfg_.base_url + path;
    curl_slist* hdrs = nullptr;
    for (const auto& h : headers) hdrs = curl_slist_append(hdrs, h.c_str());
    if (gzip) hdrs = curl_slist_append(hdrs, "Content-Encoding: gzip");
    hdrs = curl_slist_append(hdrs, "Expect:");  // no 100-continue round trip

    // The security settings: every one of them is set on every request.
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    // Plain http only for a list mirror (signed documents only; see HttpsConfig).
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, cfg_.signed_documents_only ? "https,http" : "https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(c, CURLOPT_SSLVERSION, CURL_SSLVERSION_TLSv1_2);
    curl_easy_setopt(c, CURLOPT_CAINFO, cfg_.ca_path.c_str());
    curl_easy_setopt(c, CURLOPT_CAPATH, nullptr);  // the pinned fleet CA only
    curl_easy_setopt(c, CURLOPT_SSLCERT, cfg_.cert_path.c_str());
    curl_easy_setopt(c, CURLOPT_SSLKEY, cfg_.key_path.c_str());
    if (!cfg_.local_address.empty())
        curl_easy_setopt(c, CURLOPT_INTERFACE, ("host!" + cfg_.local_address).c_str());
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, cfg_.connect_timeout_s);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, cfg_.transfer_timeout_s);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, cfg_.low_speed_bytes_s);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, cfg_.low_speed_time_s);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    if (abort_) {
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, abort_);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &res);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body->data());
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body->size()));
    }
    res.sent_ms = wall_now_ms();
    CURLcode rc = curl_easy_perform(c);
    res.received_ms = wall_now_ms();
    curl_slist_free_all(hdrs);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, nullptr);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &res.status);  // also of a cut answer
    res.date_s = parse_http_date(res.header("date"));
    return static_cast<int>(rc);
}

}  // namespace cp::sync
