#include "src/sync/sync_client.hpp"

#include "src/common/log.hpp"
#include "src/common/time.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>

namespace cp::sync {

using nlohmann::json;

namespace {
constexpr const char* kCat = "sync";

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}
}  // namespace

SyncBackoff::SyncBackoff(std::int64_t initial_ms, std::int64_t cap_ms, std::uint64_t seed)
    : initial_ms_(std::max<std::int64_t>(1, initial_ms)),
      cap_ms_(std::max(cap_ms, initial_ms_)),
      rng_(seed) {}

std::int64_t SyncBackoff::ceiling_ms() const {
    std::int64_t c = initial_ms_;
    for (int i = 0; i < failures_ && c < cap_ms_; ++i) c *= 2;
    return std::min(c, cap_ms_);
}

std::int64_t SyncBackoff::next_delay_ms() {
    const std::int64_t ceiling = ceiling_ms();
    if (failures_ < 64) ++failures_;
    std::uniform_int_distribution<std::int64_t> d(0, ceiling);
    return d(rng_);
}

void SyncBackoff::reset() { failures_ = 0; }

SyncClient::SyncClient(SyncConfig cfg, HttpsClient http, journal::ScanJournal& journal,
                       status::StatusList& list, const crypto::TrustStore& list_signers)
    : cfg_(std::move(cfg)), http_(std::move(http)), journal_(journal), list_(list),
      signers_(list_signers) {}

Failure SyncClient::refused(const HttpResponse& r) {
    retry_after_ms_.reset();
    if (r.status == 429 || r.status == 503)
        retry_after_ms_ = parse_retry_after(r.header("retry-after"), r.date_s.value_or(wall_now_ms() / 1000));
    json j = json::parse(r.body, nullptr, false);
    std::string reason = (!j.is_discarded() && j.is_object() && j.contains("reason") &&
                          j["reason"].is_string())
                             ? j["reason"].get<std::string>()
                             : std::string();
    return fail(ErrorKind::rejected, "http-" + std::to_string(r.status), reason);
}

void SyncClient::observe(const HttpResponse& r) {
    if (!r.date_s) return;
    // Date has one-second resolution: compare the middle of our request with the
    // middle of the server's second.
    const std::int64_t device_mid = (r.sent_ms + r.received_ms) / 2;
    const std::int64_t server_mid = *r.date_s * 1000 + 500;
    ClockSkew s;
    s.skew_ms = device_mid - server_mid;
    s.skewed = std::llabs(s.skew_ms) > cfg_.max_skew_ms + 1000;
    if (s.skewed && (!skew_ || !skew_->skewed))
        log::warn(kCat, "device clock differs from the command centre",
                  {{"skew_ms", std::to_string(s.skew_ms)}});
    skew_ = s;
}

Result<HttpResponse> SyncClient::get_ok(const std::string& path) {
    auto r = http_.get(path);
    if (!r) return fail(r.error());
    observe(*r);
    if (r->status != 200) return refused(*r);
    return r;
}

Result<HttpResponse> SyncClient::get_resumable(const std::string& path) {
    auto r = http_.download(path, snapshot_);
    if (!r) return fail(r.error());
    observe(*r);
    if (r->status != 200) return refused(*r);
    return r;
}

Result<UploadReport> SyncClient::upload_once() {
    UploadReport rep;
    auto rows = journal_.next_batch(cfg_.batch_rows);
    if (!rows) return fail(rows.error());
    if (rows->empty()) return rep;
    json scans = json::array();
    for (const auto& r : *rows) {
        json s = {{"seq", r.seq},
                  {"scan_id", r.scan_id},
                  {"verdict", lower(r.verdict)},
                  {"reason", r.reason},
                  {"time", r.wall_ms / 1000},
                  {"lane", r.lane}};
        if (r.type == journal::RowType::manual) {
            s["type"] = "manual";
            s["ref_seq"] = r.ref_seq.value_or(0);
        }
        if (!r.pass_id.empty()) s["pass_id"] = r.pass_id;
        if (r.temperature_c) s["temperature_c"] = *r.temperature_c;
        scans.push_back(std::move(s));
    }
    json body = {{"device_id", cfg_.device_id}, {"scans", std::move(scans)}};
    auto r = http_.post_json("/v1/scans", body.dump(), cfg_.gzip);
    if (!r) return fail(r.error());
    observe(*r);
    if (r->status != 200) return refused(*r);
    json j = json::parse(r->body, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("acked_seq") ||
        !j["acked_seq"].is_number_integer())
        return fail(ErrorKind::invalid_input, "response", "no acked_seq in the answer");
    rep.sent = rows->size();
    rep.acked_seq = j["acked_seq"].get<std::int64_t>();
    // Only what the server has acknowledged, and never beyond what we sent.
    const std::int64_t up_to = std::min(rep.acked_seq, rows->back().seq);
    if (up_to > 0) {
        auto m = journal_.mark_uploaded_through(up_to);
        if (!m) return fail(m.error());
        rep.marked = *m;
    }
    return rep;
}

Result<ListReport> SyncClient::pull_list_once() {
    ListReport rep;
    auto info = list_.info();
    rep.from_version = info ? info->version : 0;
    rep.to_version = rep.from_version;
    auto plan = get_ok("/v1/list/deltas?since=" + std::to_string(rep.from_version));
    if (!plan) return fail(plan.error());
    json p = json::parse(plan->body, nullptr, false);
    if (p.is_discarded() || !p.is_object() || !p.contains("latest") || !p["latest"].is_number_integer())
        return fail(ErrorKind::invalid_input, "response", "bad delta plan");
    const std::int64_t latest = p["latest"].get<std::int64_t>();
    if (latest <= rep.from_version) return rep;
    if (p.value("snapshot_required", false)) {
        if (!p.contains("snapshot") || !p["snapshot"].is_string())
            return fail(ErrorKind::invalid_input, "response", "no snapshot url");
        // Snapshots are large (~45 MiB for 2M entries): a cut transfer resumes where it stopped.
        auto snap = get_resumable(p["snapshot"].get<std::string>());
        if (!snap) return fail(snap.error());
        auto st = list_.import_bytes(as_bytes(snap->body), signers_);
        if (!st) return fail(st.error());
        rep.snapshot = true;
        rep.to_version = st->version;
        return rep;
    }
    if (!p.contains("deltas") || !p["deltas"].is_array())
        return fail(ErrorKind::invalid_input, "response", "no deltas");
    for (const auto& d : p["deltas"]) {
        if (!d.is_object() || !d.contains("url") || !d["url"].is_string())
            return fail(ErrorKind::invalid_input, "response", "bad delta entry");
        auto body = get_ok(d["url"].get<std::string>());
        if (!body) return fail(body.error());
        auto st = list_.apply_delta(as_bytes(body->body), signers_);
        if (!st) return fail(st.error());
        rep.to_version = st->version;
        ++rep.deltas;
    }
    return rep;
}

Result<TrustList> verify_trust_list(const std::string& envelope,
                                    const crypto::TrustStore& list_signers) {
    auto bad = [](const char* what) { return fail(ErrorKind::invalid_input, "trust-format", what); };
    json env = json::parse(envelope, nullptr, false);
    if (env.is_discarded() || !env.is_object() || env.value("alg", "") != "ES256" ||
        !env.contains("kid") || !env["kid"].is_string() || !env.contains("payload") ||
        !env["payload"].is_string() || !env.contains("sig") || !env["sig"].is_string())
        return bad("not a signed envelope");
    auto kid = from_hex(env["kid"].get<std::string>());
    auto sig = from_hex(env["sig"].get<std::string>());
    if (!kid || !sig) return bad("kid or sig is not hex");
    const std::string payload = env["payload"].get<std::string>();
    auto candidates = list_signers.find(*kid);
    if (candidates.empty()) return fail(ErrorKind::rejected, "unknown-key", "trust list signer");
    bool verified = false;
    for (const auto* cert : candidates)
        if (cert->verify_es256(as_bytes(payload), *sig).ok()) verified = true;
    if (!verified) return fail(ErrorKind::rejected, "signature", "trust list");
    // Only now is the payload trusted enough to parse.
    json p = json::parse(payload, nullptr, false);
    if (p.is_discarded() || !p.is_object() || p.value("type", "") != "cp-trust-list" ||
        !p.contains("version") || !p["version"].is_number_integer() || !p.contains("issuers") ||
        !p["issuers"].is_array())
        return bad("payload");
    TrustList t;
    t.version = p["version"].get<std::int64_t>();
    if (p.contains("issued_at") && p["issued_at"].is_number_integer())
        t.issued_at = p["issued_at"].get<std::int64_t>();
    for (const auto& h : p["issuers"]) {
        if (!h.is_string()) return bad("issuer");
        auto der = from_hex(h.get<std::string>());
        if (!der || der->empty()) return bad("issuer");
        t.issuers.push_back(std::move(*der));
    }
    t.envelope = envelope;
    return t;
}

Result<std::optional<TrustList>> SyncClient::pull_trust_once(std::int64_t current_version) {
    auto r = http_.get("/v1/trust");
    if (!r) return fail(r.error());
    observe(*r);
    if (r->status == 404) return std::optional<TrustList>();
    if (r->status != 200) return refused(*r);
    auto t = verify_trust_list(r->body, signers_);
    if (!t) return fail(t.error());
    if (t->version < current_version)
        return fail(ErrorKind::rejected, "trust-version", "older than the installed trust list");
    if (t->version == current_version) return std::optional<TrustList>();
    return std::optional<TrustList>(std::move(*t));
}

Result<ClockSkew> SyncClient::heartbeat_once(const std::string& sensors_json) {
    auto stats = journal_.stats();
    if (!stats) return fail(stats.error());
    auto info = list_.info();
    json sensors = json::parse(sensors_json, nullptr, false);
    if (sensors.is_discarded() || !sensors.is_object()) sensors = json::object();
    json body = {{"firmware", cfg_.firmware},
                 {"list_version", info ? info->version : 0},
                 {"backlog", stats->pending},
                 {"wall_time_ms", wall_now_ms()},
                 {"sensors", std::move(sensors)}};
    auto r = http_.post_json("/v1/heartbeat", body.dump(), false);
    if (!r) return fail(r.error());
    observe(*r);
    if (r->status != 200) return refused(*r);
    json a = json::parse(r->body, nullptr, false);
    if (!a.is_discarded() && a.is_object()) {
        if (a.contains("list_version") && a["list_version"].is_number_integer())
            published_.list_version = a["list_version"].get<std::int64_t>();
        if (a.contains("trust_version") && a["trust_version"].is_number_integer())
            published_.trust_version = a["trust_version"].get<std::int64_t>();
    }
    if (!skew_) return fail(ErrorKind::invalid_input, "response", "no Date header");
    return *skew_;
}

}  // namespace cp::sync
