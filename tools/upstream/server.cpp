#include "tools/upstream/server.hpp"
#include "tools/upstream/tls_log.hpp"

#include "src/common/device_id.hpp"
#include "src/common/log.hpp"
#include "src/common/time.hpp"
#include "tools/upstream/dashboard.hpp"
#include "tools/upstream/lists.hpp"

#include <httplib.h>
#include <nlohmann/json.hpp>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <zlib.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <ctime>
#include <thread>

namespace cp::upstream {

using nlohmann::json;

Result<std::string> gunzip(std::string_view data, std::size_t max_out) {
    z_stream zs{};
    // 16 + MAX_WBITS: gzip wrapper only.
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) return fail(ErrorKind::internal, "zlib");
    std::string out;
    char buf[16384];
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    zs.avail_in = static_cast<uInt>(data.size());
    int rc = Z_OK;
    while (rc != Z_STREAM_END) {
        zs.next_out = reinterpret_cast<Bytef*>(buf);
        zs.avail_out = sizeof buf;
        rc = inflate(&zs, Z_NO_FLUSH);
        if (rc != Z_OK && rc != Z_STREAM_END) {
            inflateEnd(&zs);
            return fail(ErrorKind::invalid_input, "gzip", "body does not inflate");
        }
        out.append(buf, sizeof buf - zs.avail_out);
        if (out.size() > max_out) {
            inflateEnd(&zs);
            return fail(ErrorKind::rejected, "too-large", "inflated body over the limit");
        }
        if (rc == Z_OK && zs.avail_in == 0 && zs.avail_out != 0) {
            inflateEnd(&zs);
            return fail(ErrorKind::invalid_input, "gzip", "truncated gzip body");
        }
    }
    inflateEnd(&zs);
    return out;
}

namespace {

constexpr const char* kCat = "upstream";
// Request header that carries the client's Content-Encoding past httplib, which would
// otherwise inflate gzip bodies itself without a size cap (a zip bomb would pass).
constexpr const char* kDeferredEncoding = "X-Checkpoint-Deferred-Encoding";

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

bool is_hex_lower(std::string_view s) {
    return std::all_of(s.begin(), s.end(),
                       [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool is_token(std::string_view s, std::size_t max) {
    if (s.empty() || s.size() > max) return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               c == '-' || c == '_' || c == '.' || c == ':';
    });
}

std::optional<std::int64_t> to_i64(std::string_view s) {
    std::int64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
    return v;
}

// Parses one uploaded scan; the reason names the offending field.
// Largest journal epoch a device draws (src/journal: 2^53 - 1, exact in JSON).
constexpr std::int64_t kMaxJournalEpoch = (std::int64_t{1} << 53) - 1;

Result<Scan> parse_scan(const json& j, const std::string& device_id, std::int64_t now_s) {
    auto bad = [](const char* field) {
        return fail(ErrorKind::invalid_input, "scan", std::string("bad field '") + field + "'");
    };
    if (!j.is_object()) return bad("scan");
    Scan s;
    s.device_id = device_id;
    s.received_at = now_s;
    if (!j.contains("seq") || !j["seq"].is_number_integer()) return bad("seq");
    s.seq = j["seq"].get<std::int64_t>();
    if (s.seq < 1) return bad("seq");
    if (!j.contains("scan_id") || !j["scan_id"].is_string()) return bad("scan_id");
    s.scan_id = j["scan_id"].get<std::string>();
    // "<device>-<epoch>-<seq>": a 64-character device id, a 16-digit epoch, a seq.
    if (!is_token(s.scan_id, 128)) return bad("scan_id");
    // The device journal's generation; absent (0) from devices made before epochs.
    if (j.contains("epoch") && !j["epoch"].is_null()) {
        if (!j["epoch"].is_number_integer()) return bad("epoch");
        s.epoch = j["epoch"].get<std::int64_t>();
        if (s.epoch < 0 || s.epoch > kMaxJournalEpoch) return bad("epoch");
    }
    if (j.contains("pass_id") && !j["pass_id"].is_null()) {
        if (!j["pass_id"].is_string()) return bad("pass_id");
        s.pass_id = j["pass_id"].get<std::string>();
        if (s.pass_id.size() != 32 || !is_hex_lower(s.pass_id)) return bad("pass_id");
    }
    if (!j.contains("verdict") || !j["verdict"].is_string()) return bad("verdict");
    s.verdict = j["verdict"].get<std::string>();
    if (s.verdict != "green" && s.verdict != "yellow" && s.verdict != "red" &&
        s.verdict != "reject")
        return bad("verdict");
    if (j.contains("reason") && !j["reason"].is_null()) {
        if (!j["reason"].is_string()) return bad("reason");
        s.reason = j["reason"].get<std::string>();
        if (!s.reason.empty() && !is_token(s.reason, 64)) return bad("reason");
    }
    if (j.contains("temperature_c") && !j["temperature_c"].is_null()) {
        if (!j["temperature_c"].is_number()) return bad("temperature_c");
        double t = j["temperature_c"].get<double>();
        if (!(t >= 20.0 && t <= 50.0)) return bad("temperature_c");
        s.temperature_c = t;
    }
    if (!j.contains("time") || !j["time"].is_number_integer()) return bad("time");
    s.time = j["time"].get<std::int64_t>();
    if (s.time < 0) return bad("time");
    if (j.contains("type") && !j["type"].is_null()) {
        if (!j["type"].is_string()) return bad("type");
        const std::string type = j["type"].get<std::string>();
        if (type != "scan" && type != "manual") return bad("type");
        s.manual = type == "manual";
    }
    if (s.manual) {
        if (!j.contains("ref_seq") || !j["ref_seq"].is_number_integer()) return bad("ref_seq");
        s.ref_seq = j["ref_seq"].get<std::int64_t>();
        if (s.ref_seq < 1 || s.ref_seq >= s.seq) return bad("ref_seq");
    }
    if (j.contains("lane") && !j["lane"].is_null()) {
        if (!j["lane"].is_string()) return bad("lane");
        s.lane = j["lane"].get<std::string>();
        if (!s.lane.empty() && !is_token(s.lane, 32)) return bad("lane");
    }
    return s;
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

bool is_loopback(const std::string& host) {
    return host == "127.0.0.1" || host == "::1" || host == "localhost" ||
           host.rfind("127.", 0) == 0;
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

    // The request body, inflated when it came gzip-encoded. Fills `res` on error.
    std::optional<json> json_body(const httplib::Request& req, httplib::Response& res) {
        std::string body;
        const std::string enc = req.get_header_value(kDeferredEncoding);
        if (enc.empty() || enc == "identity") {
            body = req.body;
        } else if (enc == "gzip") {
            auto r = gunzip(req.body, cfg.max_inflated_bytes);
            if (!r) {
                send_error(res, http_status_of(r.error()), r.error());
                return std::nullopt;
            }
            body = std::move(*r);
        } else {
            send_json(res, 415, {{"error", "invalid_input"}, {"reason", "content-encoding"}});
            return std::nullopt;
        }
        json j = json::parse(body, nullptr, false);
        if (j.is_discarded() || !j.is_object()) {
            send_json(res, 400, {{"error", "invalid_input"}, {"reason", "json"}});
            return std::nullopt;
        }
        return j;
    }

    void handle_scans(const httplib::Request& req, httplib::Response& res) {
        auto dev = authenticate(req, res);
        if (!dev) return;
        auto body = json_body(req, res);
        if (!body) return;
        if (body->contains("device_id") &&
            (!(*body)["device_id"].is_string() ||
             (*body)["device_id"].get<std::string>() != dev->id)) {
            send_json(res, 403, {{"error", "rejected"}, {"reason", "device-mismatch"}});
            return;
        }
        if (!body->contains("scans") || !(*body)["scans"].is_array()) {
            send_json(res, 400, {{"error", "invalid_input"}, {"reason", "scans"}});
            return;
        }
        const json& arr = (*body)["scans"];
        if (arr.size() > cfg.max_batch) {
            send_json(res, 413, {{"error", "rejected"}, {"reason", "batch-too-large"},
                                 {"max_batch", cfg.max_batch}});
            return;
        }
        const std::int64_t now_s = now_ms() / 1000;
        std::vector<Scan> scans;
        scans.reserve(arr.size());
        for (std::size_t i = 0; i < arr.size(); ++i) {
            auto s = parse_scan(arr[i], dev->id, now_s);
            if (!s) {
                send_json(res, 400, {{"error", "invalid_input"}, {"reason", s.error().reason},
                                     {"message", s.error().message}, {"index", i}});
                return;
            }
            if (!scans.empty() && s->epoch != scans.front().epoch) {
                send_json(res, 400, {{"error", "invalid_input"}, {"reason", "epoch"},
                                     {"message", "one journal epoch per batch"}, {"index", i}});
                return;
            }
            scans.push_back(std::move(*s));
        }
        auto r = store.ingest_scans(dev->id, scans);
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

    void handle_heartbeat(const httplib::Request& req, httplib::Response& res) {
        auto dev = authenticate(req, res);
        if (!dev) return;
        auto body = json_body(req, res);
        if (!body) return;
        const json& b = *body;
        Heartbeat hb;
        hb.device_id = dev->id;
        hb.server_time_ms = now_ms();
        auto bad = [&](const char* field) {
            send_json(res, 400, {{"error", "invalid_input"}, {"reason", "heartbeat"},
                                 {"message", std::string("bad field '") + field + "'"}});
        };
        if (!b.contains("firmware") || !b["firmware"].is_string() ||
            !is_token(b["firmware"].get<std::string>(), 64))
            return bad("firmware");
        hb.firmware = b["firmware"].get<std::string>();
        if (!b.contains("list_version") || !b["list_version"].is_number_integer())
            return bad("list_version");
        hb.list_version = b["list_version"].get<std::int64_t>();
        if (!b.contains("backlog") || !b["backlog"].is_number_integer() ||
            b["backlog"].get<std::int64_t>() < 0)
            return bad("backlog");
        hb.backlog = b["backlog"].get<std::int64_t>();
        if (!b.contains("wall_time_ms") || !b["wall_time_ms"].is_number_integer())
            return bad("wall_time_ms");
        hb.device_time_ms = b["wall_time_ms"].get<std::int64_t>();
        if (b.contains("sensors")) {
            if (!b["sensors"].is_object()) return bad("sensors");
            hb.sensors_json = b["sensors"].dump();
            if (hb.sensors_json.size() > 4096) return bad("sensors");
        } else {
            hb.sensors_json = "{}";
        }
        // Journal health: optional (devices from before these fields send none).
        for (auto [key, field] : {std::pair<const char*, std::int64_t*>{"journal_epoch", &hb.journal_epoch},
                                  {"journal_lost_rows", &hb.lost_rows},
                                  {"journal_lost_journals", &hb.lost_journals},
                                  {"sync_faults", &hb.sync_faults}}) {
            if (!b.contains(key)) continue;
            if (!b[key].is_number_integer() || b[key].get<std::int64_t>() < 0) return bad(key);
            *field = b[key].get<std::int64_t>();
        }
        if (hb.lost_rows > 0 || hb.lost_journals > 0)
            log::error(kCat, "device reports journal rows lost",
                       {{"device", dev->id}, {"lost_rows", std::to_string(hb.lost_rows)},
                        {"lost_journals", std::to_string(hb.lost_journals)}});
        auto st = store.record_heartbeat(hb);
        if (!st) {
            send_error(res, 500, st.error());
            return;
        }
        auto latest = store.latest_list_version();
        auto trust = store.latest_trust();
        const std::int64_t skew = hb.device_time_ms - hb.server_time_ms;
        send_json(res, 200,
                  {{"server_time_ms", hb.server_time_ms},
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
            if (!lv || !*lv) return send_json(res, 500, {{"error", "internal"}});
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
                json sensors = json::parse(st.last_heartbeat->sensors_json, nullptr, false);
                row["sensors"] = sensors.is_discarded() ? json::object() : sensors;
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
        s.set_pre_routing_handler([](const httplib::Request& req, httplib::Response&) {
            // httplib is about to read the body; move Content-Encoding aside so that
            // json_body() inflates it with a cap. The Request object is not const.
            auto& r = const_cast<httplib::Request&>(req);
            auto it = r.headers.find(kDeferredEncoding);
            while (it != r.headers.end()) {
                r.headers.erase(it);
                it = r.headers.find(kDeferredEncoding);
            }
            auto enc = r.headers.find("Content-Encoding");
            if (enc != r.headers.end()) {
                std::string v = enc->second;
                r.headers.erase(enc);
                r.headers.emplace(kDeferredEncoding, v);
            }
            return httplib::Server::HandlerResponse::Unhandled;
        });
        s.Post("/v1/scans", [this](const auto& q, auto& r) { handle_scans(q, r); });
        s.Post("/v1/heartbeat", [this](const auto& q, auto& r) { handle_heartbeat(q, r); });
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
            // Read-only: every other method is refused by httplib with 404/405.
        }
    }
};

UpstreamServer::UpstreamServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

UpstreamServer::~UpstreamServer() { stop(); }

Result<std::unique_ptr<UpstreamServer>> UpstreamServer::create(ServerConfig cfg,
                                                               UpstreamStore& store) {
    if (cfg.web_port >= 0 && !is_loopback(cfg.web_host))
        return fail(ErrorKind::config, "web-host",
                    "the dashboard listens on a loopback address only");
    auto impl = std::make_unique<Impl>(std::move(cfg), store);
    const ServerConfig& c = impl->cfg;
    std::string cert = c.cert_path, key = c.key_path, ca = c.client_ca_path;
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
        log_refused_handshakes(ctx);
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
