// The device routes of the upstream (docs/sync-protocol.md): scan upload,
// heartbeat, list versions and deltas, the trust list. Every route authenticates
// the device by its certificate before anything else.
#include "tools/upstream/http_reply.hpp"
#include "tools/upstream/server_parts.hpp"

#include "src/common/log.hpp"
#include "src/common/time.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace cp::upstream::detail {

using nlohmann::json;

std::int64_t DeviceRoutes::now_ms() const { return cfg_.clock_ms ? cfg_.clock_ms() : wall_now_ms(); }

namespace {

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
            send_error(res, 416, ErrorKind::invalid_input, reason::range, {{"size", data.size()}});
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

}  // namespace

// Resolves and checks the device behind a request; on refusal fills `res`.
std::optional<Device> DeviceRoutes::authenticate(const httplib::Request& req, httplib::Response& res) {
    auto peer = peer_identity(req.ssl);
    if (!peer) {
        send_error(res, 401, ErrorKind::rejected, reason::no_client_certificate);
        return std::nullopt;
    }
    auto dev = store_.find_device(peer->cn);
    if (!dev) {
        log::error(kCat, "device lookup failed", {{"reason", dev.error().reason}});
        send_error(res, 500, dev.error());
        return std::nullopt;
    }
    std::optional<Reason> refusal;
    if (!*dev)
        refusal = reason::not_enrolled;
    else if ((*dev)->revoked)
        refusal = reason::revoked;
    else if ((*dev)->fingerprint != peer->fingerprint)
        refusal = reason::certificate_not_enrolled;
    if (refusal) {
        log::warn(kCat, "device refused", {{"device", peer->cn}, {"reason", refusal->code}});
        send_error(res, 403, ErrorKind::rejected, *refusal);
        return std::nullopt;
    }
    (void)store_.touch_device((*dev)->id, now_ms() / 1000);
    return **dev;
}

void DeviceRoutes::handle_scans(const httplib::Request& req, httplib::Response& res,
                                const httplib::ContentReader& reader) {
    auto dev = authenticate(req, res);
    if (!dev) return close_unread(res);
    auto text = read_body(req, res, reader, scan_limits(cfg_));
    if (!text) return;
    std::size_t index = 0;
    auto scans = parse_scan_upload(*text, dev->id, now_ms() / 1000, cfg_.max_batch, &index);
    if (!scans) {
        const Error& e = scans.error();
        if (e.is(reason::scan) || e.is(reason::epoch)) return send_error(res, 400, e, {{"index", index}});
        if (e.is(reason::device_mismatch))
            return send_error(res, 403, ErrorKind::rejected, reason::device_mismatch);
        if (e.is(reason::batch_too_large))
            return send_error(res, 413, ErrorKind::rejected, reason::batch_too_large,
                              {{"max_batch", cfg_.max_batch}});
        return send_error(res, http_status_of(e), e);
    }
    auto r = store_.ingest_scans(dev->id, *scans);
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

void DeviceRoutes::handle_heartbeat(const httplib::Request& req, httplib::Response& res,
                                    const httplib::ContentReader& reader) {
    auto dev = authenticate(req, res);
    if (!dev) return close_unread(res);
    auto text = read_body(req, res, reader, heartbeat_limits(cfg_));
    if (!text) return;
    auto hb = parse_heartbeat(*text, dev->id, now_ms());
    if (!hb) return send_error(res, http_status_of(hb.error()), hb.error());
    if (hb->lost_rows > 0 || hb->lost_journals > 0)
        log::error(kCat, "device reports journal rows lost",
                   {{"device", dev->id}, {"lost_rows", std::to_string(hb->lost_rows)},
                    {"lost_journals", std::to_string(hb->lost_journals)}});
    auto st = store_.record_heartbeat(*hb);
    if (!st) {
        send_error(res, 500, st.error());
        return;
    }
    auto latest = store_.latest_list_version();
    auto trust = store_.latest_trust();
    const std::int64_t skew = hb->device_time_ms - hb->server_time_ms;
    send_json(res, 200,
              {{"server_time_ms", hb->server_time_ms},
               {"skew_ms", skew},
               {"acked_seq", dev->acked_seq},
               {"list_version", latest ? *latest : 0},
               {"trust_version", (trust && *trust) ? (*trust)->version : 0}});
}

void DeviceRoutes::handle_list_info(const httplib::Request& req, httplib::Response& res) {
    if (!authenticate(req, res)) return;
    auto latest = store_.latest_list_version();
    if (!latest) return send_error(res, 500, latest.error());
    json out = {{"version", *latest}};
    if (*latest > 0) {
        auto v = store_.list_version(*latest);
        if (!v || !*v) return send_error(res, 500, ErrorKind::internal, reason::internal);
        out["published_at"] = (*v)->published_at;
        out["entries"] = (*v)->entries;
        out["snapshot_size"] = (*v)->snapshot.size();
    }
    send_json(res, 200, out);
}

void DeviceRoutes::handle_list_blob(const httplib::Request& req, httplib::Response& res, bool snapshot) {
    if (!authenticate(req, res)) return;
    auto version = to_i64(req.matches[1].str());
    if (!version) return send_error(res, 400, ErrorKind::invalid_input, reason::version);
    auto v = store_.list_file(*version, snapshot ? ListFile::snapshot : ListFile::delta);
    if (!v) return send_error(res, 500, v.error());
    if (!*v) return send_error(res, 404, ErrorKind::not_found, reason::version);
    const Bytes& data = **v;
    if (data.empty())  // version 1 has no delta
        return send_error(res, 404, ErrorKind::not_found, reason::no_delta);
    res.set_header("X-List-Version", std::to_string(*version));
    send_blob(req, res, data,
              (snapshot ? "snapshot-" : "delta-") + std::to_string(*version));
}

void DeviceRoutes::handle_deltas(const httplib::Request& req, httplib::Response& res) {
    if (!authenticate(req, res)) return;
    auto since = to_i64(req.has_param("since") ? req.get_param_value("since") : "");
    if (!since || *since < 0)
        return send_error(res, 400, ErrorKind::invalid_input, reason::since);
    auto latest = store_.latest_list_version();
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
        auto lv = store_.list_file(v, ListFile::delta);
        if (!lv) return send_error(res, 500, lv.error());
        if (!*lv) {  // pruned (UpstreamStore::prune_list_versions): the snapshot instead
            out["snapshot_required"] = true;
            out["deltas"] = json::array();
            out["snapshot"] = "/v1/list/snapshot/" + std::to_string(*latest);
            return send_json(res, 200, out);
        }
        arr.push_back({{"version", v}, {"base_version", v - 1},
                       {"size", (*lv)->size()},
                       {"url", "/v1/list/delta/" + std::to_string(v)}});
    }
    out["snapshot_required"] = false;
    out["deltas"] = std::move(arr);
    send_json(res, 200, out);
}

void DeviceRoutes::handle_trust(const httplib::Request& req, httplib::Response& res) {
    if (!authenticate(req, res)) return;
    auto t = store_.latest_trust();
    if (!t) return send_error(res, 500, t.error());
    if (!*t) return send_error(res, 404, ErrorKind::not_found, reason::trust_list);
    res.set_header("X-Trust-Version", std::to_string((*t)->version));
    send_blob(req, res, (*t)->signed_list, "trust-" + std::to_string((*t)->version));
}

void DeviceRoutes::install(httplib::Server& s) {
    install_device_request_limits(s);
    // Content-reader handlers: httplib reads nothing of the body before the
    // handler has authenticated the device and asks for it.
    s.Post(kScansPath, [this](const httplib::Request& q, httplib::Response& r,
                              const httplib::ContentReader& c) { handle_scans(q, r, c); });
    s.Post(kHeartbeatPath, [this](const httplib::Request& q, httplib::Response& r,
                                  const httplib::ContentReader& c) { handle_heartbeat(q, r, c); });
    s.Get("/v1/list", [this](const auto& q, auto& r) { handle_list_info(q, r); });
    s.Get("/v1/list/deltas", [this](const auto& q, auto& r) { handle_deltas(q, r); });
    s.Get(R"(/v1/list/snapshot/(\d{1,18}))",
          [this](const auto& q, auto& r) { handle_list_blob(q, r, true); });
    s.Get(R"(/v1/list/delta/(\d{1,18}))",
          [this](const auto& q, auto& r) { handle_list_blob(q, r, false); });
    s.Get("/v1/trust", [this](const auto& q, auto& r) { handle_trust(q, r); });
    s.set_error_handler([](const httplib::Request&, httplib::Response& res) {
        if (res.body.empty()) send_http_status(res, res.status);
    });
}

}  // namespace cp::upstream::detail
