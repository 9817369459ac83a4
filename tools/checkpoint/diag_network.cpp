// `checkpoint diag`: the device's identity (certificate chain) and the upstream
// (mutual TLS, HTTP answer, clock skew).
#include "tools/checkpoint/diag.hpp"

#include "src/common/time.hpp"
#include "src/crypto/crypto.hpp"
#include "src/crypto/trust_store.hpp"
#include "src/sync/https_client.hpp"
#include "src/sync/reason.hpp"

#include <curl/curl.h>
#include <mbedtls/x509_crt.h>

#include <cstdlib>
#include <filesystem>

namespace cp::cli::diag {

namespace fs = std::filesystem;

namespace {

std::string verify_device_chain(const config::Config& cfg) {
    mbedtls_x509_crt ca, crt;
    mbedtls_x509_crt_init(&ca);
    mbedtls_x509_crt_init(&crt);
    std::string why;
    if (mbedtls_x509_crt_parse_file(&ca, cfg.upstream.ca_file.c_str()) != 0) {
        why = "the fleet CA file upstream.ca_file (" + cfg.upstream.ca_file + ") is missing or not a certificate";
    } else if (mbedtls_x509_crt_parse_file(&crt, cfg.upstream.cert_file.c_str()) != 0) {
        why = "upstream.cert_file (" + cfg.upstream.cert_file + ") is not a certificate";
    } else {
        std::uint32_t flags = 0;
        if (mbedtls_x509_crt_verify(&crt, &ca, nullptr, nullptr, &flags, nullptr, nullptr) != 0) {
            if (flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED)
                why = "not signed by the fleet CA in upstream.ca_file (" + cfg.upstream.ca_file +
                      "): provision the device again with the fleet CA (tools/provision)";
            else if (flags & MBEDTLS_X509_BADCERT_FUTURE)
                why = "not valid yet by this device's clock: set the clock (date -s, or NTP)";
            else if (flags & MBEDTLS_X509_BADCERT_EXPIRED)
                why = "expired: renew it (tools/provision) and enroll the new one at the command centre";
            else
                why = "does not verify against upstream.ca_file (flags " + std::to_string(flags) + ")";
        }
    }
    mbedtls_x509_crt_free(&crt);
    mbedtls_x509_crt_free(&ca);
    return why;
}

}  // namespace

Check check_identity(const config::Config& cfg) {
    Check c("identity");
    auto store = crypto::TrustStore::load(cfg.upstream.cert_file);
    if (!store || store->size() == 0) {
        c.level = Level::fail;
        c.value = "no device certificate at upstream.cert_file (" + cfg.upstream.cert_file + "): tools/provision";
        return c;
    }
    std::error_code ec;
    if (!fs::exists(cfg.upstream.key_file, ec)) {
        c.level = Level::fail;
        c.value = "no device key at upstream.key_file (" + cfg.upstream.key_file + ")";
        return c;
    }
    const crypto::Certificate* cert = store->certificates().front().get();
    const std::int64_t now = wall_now_ms() / 1000;
    const std::int64_t left = cert->not_after() - now;
    c.data["subject"] = cert->subject();
    c.data["not_before"] = cert->not_before();
    c.data["not_after"] = cert->not_after();
    c.value = cert->subject() + ", valid until " + format_iso8601(cert->not_after());
    const std::string subject = cert->subject();
    const auto at = subject.find("CN=");
    const std::string cn = at == std::string::npos ? "" : subject.substr(at + 3, subject.find(',', at) - (at + 3));
    const std::string chain = verify_device_chain(cfg);
    if (cn != cfg.device.id) {
        c.level = Level::fail;
        c.value += ": not for device " + cfg.device.id;
    } else if (cert->not_before() > now) {
        c.level = Level::fail;
        c.value += ": " + std::string(kClockHint) + " (valid from " + format_iso8601(cert->not_before()) +
                   ", this device says " + format_iso8601(now) + ")";
    } else if (left < 0) {
        c.level = Level::fail;
        c.value += ": expired: renew it (tools/provision) and enroll the new one at the command centre";
    } else if (!chain.empty()) {
        c.level = Level::fail;
        c.value += ": " + chain;
    } else if (left < 30 * 86400) {
        c.level = Level::warn;
        c.value += ": renew it (under 30 days left)";
    }
    if (c.level == Level::ok) c.value += ", signed by the fleet CA";
    return c;
}

// With TLS 1.3 the server's verdict on our certificate comes after the
// handshake, so the client often sees only a closed connection. A request
// limited to TLS 1.2 (same files, same pinning) gets the server's alert during

namespace {

// the handshake instead. Returns libcurl's error text, or empty when it worked.
std::string tls12_probe(const config::Config& cfg, int timeout_s) {
    CURL* c = curl_easy_init();
    if (c == nullptr) return {};
    char errbuf[CURL_ERROR_SIZE] = {};
    const std::string url = cfg.upstream.url + "/v1/list";
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    // At least and at most TLS 1.2 (CURL_SSLVERSION_MAX_TLSv1_2 is TLSv1_2 << 16).
    constexpr long kTls12 = CURL_SSLVERSION_TLSv1_2;
    curl_easy_setopt(c, CURLOPT_SSLVERSION, kTls12 | (kTls12 << 16));
    curl_easy_setopt(c, CURLOPT_CAINFO, cfg.upstream.ca_file.c_str());
    curl_easy_setopt(c, CURLOPT_CAPATH, nullptr);
    curl_easy_setopt(c, CURLOPT_SSLCERT, cfg.upstream.cert_file.c_str());
    curl_easy_setopt(c, CURLOPT_SSLKEY, cfg.upstream.key_file.c_str());
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, static_cast<long>(timeout_s));
    curl_easy_setopt(c, CURLOPT_TIMEOUT, static_cast<long>(timeout_s));
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    const CURLcode rc = curl_easy_perform(c);
    curl_easy_cleanup(c);
    return rc == CURLE_OK ? std::string() : std::string(errbuf[0] ? errbuf : curl_easy_strerror(rc));
}

// A TLS failure, told by which side refused and which file is involved.
struct TlsFault {
    bool refused = false;  // a fault that will not heal by waiting
    std::string text;
};

bool has(const std::string& s, const char* word) { return s.find(word) != std::string::npos; }

TlsFault classify_transport(const Error& e, const config::Config& cfg) {
    const std::string& m = e.message;
    if (has(m, "not yet valid") || has(m, "certificate is not yet valid"))
        return {true, std::string("a certificate is not valid yet by this device's clock: ") + kClockHint};
    // The server's alert after our certificate was sent: it refused us.
    if (has(m, "alert unknown ca") || has(m, "alert bad certificate") || has(m, "alert certificate required") ||
        has(m, "alert certificate unknown") || has(m, "alert certificate revoked") ||
        has(m, "alert certificate expired") || has(m, "alert access denied") || has(m, "alert handshake failure") ||
        has(m, "alert unsupported certificate"))
        return {true, "the server refused this device's certificate (upstream.cert_file " + cfg.upstream.cert_file +
                          "): it does not trust the CA that signed it; the server's --client-ca must be the fleet "
                          "CA (" + m + ")"};
    if (has(m, "certificate has expired") || has(m, "certificate expired"))
        return {true, "the server's certificate has expired: renew it at the command centre (" + m + ")"};
    if (has(m, "self-signed") || has(m, "unable to get local issuer") || has(m, "certificate verify failed") ||
        has(m, "SSL certificate problem") || e.is(sync::reason::tls))
        return {true, "this device refused the server's certificate: it does not verify against upstream.ca_file (" +
                          cfg.upstream.ca_file + "); the server uses a certificate of another CA, or the file is "
                          "not the fleet CA (" + m + ")"};
    if (e.is(sync::reason::connect))
        return {false, "cannot connect: check the host and port in upstream.url (" + cfg.upstream.url +
                           "), that the server runs, and the network route (ip route; ping the host) (" + m + ")"};
    if (e.is(sync::reason::timeout))
        return {false, "no answer in time: check the network route and firewall to " + cfg.upstream.url + " (" + m + ")"};
    if (e.is(sync::reason::tls_files))
        return {true, "the TLS files are not all there: " + m + " (upstream.ca_file, upstream.cert_file, "
                      "upstream.key_file)"};
    return {false, m};
}

// What an HTTP answer other than 200 means for the technician, and what to do.
std::string http_hint(long status, const std::string& reason, const config::Config& cfg) {
    if (status == 403 && reason_is(reason, sync::reason::revoked))
        return "the command centre revoked this device; contact the command centre (only they can lift a "
               "revocation; re-enrolling does not)";
    if (status == 403 && reason_is(reason, sync::reason::not_enrolled))
        return "the command centre does not know device " + cfg.device.id + ": enroll it there (upstream enroll --cert " +
               cfg.upstream.cert_file + ")";
    if (status == 403 && reason_is(reason, sync::reason::certificate_not_enrolled))
        return "the command centre holds another certificate for " + cfg.device.id +
               ": enroll this one there (upstream enroll --cert " + cfg.upstream.cert_file + ")";
    if (status == 403) return "the command centre refuses this device; contact the command centre";
    if (status == 404)
        return "no such path on the server: check the path part of upstream.url (" + cfg.upstream.url +
               "; the server answers /v1/list under it)";
    if (status >= 500) return "the command centre has a fault; scans wait in the journal, try again later";
    return "the server refused the request; check upstream.url (" + cfg.upstream.url + ")";
}

}  // namespace

Check check_upstream(const config::Config& cfg, const Options& o,
                     std::optional<std::int64_t> local_version) {
    Check c("upstream");
    if (cfg.upstream.url.empty()) {
        c.level = Level::warn;
        c.value = "upstream.url not set: scans are not uploaded, the list is not updated";
        return c;
    }
    c.data["url"] = cfg.upstream.url;
    sync::HttpsConfig h;
    h.base_url = cfg.upstream.url;
    h.ca_path = cfg.upstream.ca_file;
    h.cert_path = cfg.upstream.cert_file;
    h.key_path = cfg.upstream.key_file;
    h.connect_timeout_s = o.timeout_s;
    h.transfer_timeout_s = o.timeout_s;
    h.low_speed_time_s = o.timeout_s;
    auto client = sync::HttpsClient::create(h);
    if (!client) {
        c.level = Level::fail;
        c.value = classify_transport(client.error(), cfg).text;
        return c;
    }
    const std::int64_t t0 = monotonic_now_ms();
    auto r = client->get("/v1/list");
    const std::int64_t ms = monotonic_now_ms() - t0;
    c.data["ms"] = ms;
    if (!r) {
        // Offline is a state the lane is built for; a refused handshake will not heal.
        TlsFault f = classify_transport(r.error(), cfg);
        if (!f.refused && !r.error().is(sync::reason::timeout)) {
            // Maybe connected, then closed (curl may call that "connect" too): ask
            // the server what it thinks of our certificate.
            const std::string probe = tls12_probe(cfg, o.timeout_s);
            if (has(probe, "alert")) {
                const TlsFault g = classify_transport(Error{ErrorKind::unavailable, sync::reason::tls, probe}, cfg);
                if (g.refused) f = g;
            }
        }
        c.level = f.refused ? Level::fail : Level::warn;
        c.data["reason"] = r.error().reason;
        c.value = cfg.upstream.url + (f.refused ? ": TLS refused: " : ": unreachable: ") + f.text + ", after " +
                  std::to_string(ms) + " ms" +
                  (f.refused ? "" : " (the lane works offline; scans wait in the journal)");
        return c;
    }
    c.data["status"] = r->status;
    if (r->status != 200) {
        std::string reason;
        try {
            reason = nlohmann::json::parse(r->body).value("reason", "");
        } catch (const nlohmann::json::exception&) {
        }
        c.level = r->status >= 500 ? Level::warn : Level::fail;
        c.data["reason"] = reason;
        c.value = "HTTP " + std::to_string(r->status) + (reason.empty() ? "" : " " + reason) + ": " +
                  http_hint(r->status, reason, cfg);
        return c;
    }
    c.value = "mutual TLS ok in " + std::to_string(ms) + " ms";
    try {
        const std::int64_t server = nlohmann::json::parse(r->body).at("version").get<std::int64_t>();
        c.data["server_list_version"] = server;
        c.value += ", server list version " + std::to_string(server);
        if (local_version && server > *local_version) c.value += " (this device has " + std::to_string(*local_version) + ")";
    } catch (const nlohmann::json::exception&) {
        c.level = Level::warn;
        c.value += ", but /v1/list did not answer the protocol's JSON";
    }
    if (r->date_s) {
        // Midpoint of the request against the middle of the server's second.
        const std::int64_t skew_ms = (r->sent_ms + r->received_ms) / 2 - (*r->date_s * 1000 + 500);
        c.data["skew_ms"] = skew_ms;
        if (std::llabs(skew_ms) > cfg.policy.clock_skew_s * 1000 + 1000) {
            c.level = Level::warn;
            c.value += "; device clock off by " + age_text(std::llabs(skew_ms) / 1000) + ": " + kClockHint +
                       " (a wrong clock makes the list look stale or from the future, and certificates invalid)";
        }
    }
    return c;
}

}  // namespace cp::cli::diag
