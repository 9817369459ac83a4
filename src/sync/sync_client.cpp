#include "src/sync/sync_client.hpp"
#include "src/sync/reason.hpp"

#include "src/common/log.hpp"
#include "src/common/time.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace cp::sync {

using nlohmann::json;

namespace {
constexpr const char* kCat = "sync";

// Typed reading of the server's answers: every field is checked before it is
// read, so an answer of the wrong shape is an [invalid_input] "response" error on
// the sync thread, never a thrown nlohmann::type_error.
Failure bad_answer(const std::string& what) { return fail(ErrorKind::invalid_input, reason::response, what); }

Result<json> parse_object(const std::string& body, const char* what) {
    json j = json::parse(body, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return bad_answer(std::string(what) + ": not a JSON object");
    return j;
}

// A required integer field.
Result<std::int64_t> int_field(const json& o, const char* key, const char* what) {
    auto it = o.find(key);
    if (it == o.end() || !it->is_number_integer())
        return bad_answer(std::string(what) + ": '" + key + "' missing or not an integer");
    return it->get<std::int64_t>();
}
// An optional integer field (`dflt` when absent or null).
Result<std::int64_t> opt_int_field(const json& o, const char* key, std::int64_t dflt, const char* what) {
    auto it = o.find(key);
    if (it == o.end() || it->is_null()) return dflt;
    if (!it->is_number_integer()) return bad_answer(std::string(what) + ": '" + key + "' is not an integer");
    return it->get<std::int64_t>();
}
Result<bool> opt_bool_field(const json& o, const char* key, bool dflt, const char* what) {
    auto it = o.find(key);
    if (it == o.end() || it->is_null()) return dflt;
    if (!it->is_boolean()) return bad_answer(std::string(what) + ": '" + key + "' is not a boolean");
    return it->get<bool>();
}
Result<std::string> str_field(const json& o, const char* key, const char* what) {
    auto it = o.find(key);
    if (it == o.end() || !it->is_string()) return bad_answer(std::string(what) + ": '" + key + "' missing or not a string");
    return it->get<std::string>();
}

// A path the server hands us to fetch next: a path under /v1/list/ on the same
// host (check_request_path), never a URL of its own.
Result<std::string> server_path(const json& o, const char* key, const char* what) {
    auto p = str_field(o, key, what);
    if (!p) return fail(p.error());
    if (p->rfind("/v1/list/", 0) != 0)
        return fail(ErrorKind::invalid_input, reason::url_path, std::string(what) + ": not a /v1/list/ path");
    CP_TRY(check_request_path(*p));
    return p;
}

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
    : cfg_(std::move(cfg)), journal_(journal), list_(list), signers_(list_signers) {
    upstreams_.push_back(std::move(http));
}

void SyncClient::set_abort_flag(const std::atomic<bool>* flag) {
    for (auto& u : upstreams_) u.set_abort_flag(flag);
    if (mirror_) mirror_->set_abort_flag(flag);
    abort_ = flag;
}

void SyncClient::add_upstream(HttpsClient http) {
    http.set_abort_flag(abort_);
    upstreams_.push_back(std::move(http));
}

void SyncClient::fail_over() {
    if (upstreams_.size() < 2) return;
    current_ = (current_ + 1) % upstreams_.size();
    snapshot_ = Download{};  // a part of another server's entity is not resumed here
}

void SyncClient::set_list_mirror(HttpsClient mirror) {
    mirror.set_abort_flag(abort_);
    mirror_.emplace(std::move(mirror));
}

Result<HttpResponse> SyncClient::get_document(const std::string& path, bool* mirror_used) {
    if (mirror_used) *mirror_used = false;
    if (mirror_) {
        // The mirror's clock is not the command centre's: its Date is not observed.
        auto r = mirror_->get(path);
        if (r && r->status == 200) {
            if (mirror_used) *mirror_used = true;
            mirror_failed_ = false;
            return r;
        }
        if (!mirror_failed_)
            log::warn(kCat, "list mirror failed; fetching from the command centre",
                      {{"mirror", mirror_->base_url()},
                       {"error", r ? "HTTP " + std::to_string(r->status) : r.error().describe()}});
        mirror_failed_ = true;
    }
    auto r = http().get(path);
    if (!r) return fail(r.error());
    observe(*r);
    return r;
}

Failure SyncClient::refused(const HttpResponse& r) {
    retry_after_ms_.reset();
    if (r.status == 429 || r.status == 503)
        retry_after_ms_ = parse_retry_after(r.header("retry-after"), r.date_s.value_or(wall_now_ms() / 1000));
    json j = json::parse(r.body, nullptr, false);
    std::string reason;
    if (!j.is_discarded() && j.is_object()) {
        auto it = j.find("reason");
        if (it != j.end() && it->is_string()) reason = it->get<std::string>().substr(0, 200);
    }
    return fail(ErrorKind::rejected, std::string(kHttpReasonPrefix) + std::to_string(r.status), reason);
}

int http_status(const Error& e) {
    const std::string_view r = e.reason;
    if (e.kind != ErrorKind::rejected || r.substr(0, kHttpReasonPrefix.size()) != kHttpReasonPrefix) return 0;
    const std::string_view digits = r.substr(kHttpReasonPrefix.size());
    int status = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), status);
    if (ec != std::errc() || end != digits.data() + digits.size() || status < 100 || status > 599) return 0;
    return status;
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
    auto r = get_document(path);
    if (!r) return fail(r.error());
    if (r->status != 200) return refused(*r);
    return r;
}

Result<HttpResponse> SyncClient::get_resumable(const std::string& path) {
    if (mirror_) {
        auto m = mirror_->download(path, mirror_snapshot_);
        if (m && m->status == 200) return m;
        // A cut transfer keeps its part in mirror_snapshot_ for the next pull.
    }
    auto r = http().download(path, snapshot_);
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
    // A batch is of one epoch (next_batch()); the answer acknowledges that epoch.
    const std::int64_t epoch = rows->front().epoch;
    const bool carried = epoch != journal_.epoch();
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
        if (r.epoch != 0) s["epoch"] = r.epoch;  // epoch 0: the old form, understood by every upstream
        scans.push_back(std::move(s));
    }
    json body = {{"device_id", cfg_.device_id}, {"scans", std::move(scans)}};
    auto r = http().post_json("/v1/scans", body.dump(), cfg_.gzip);
    if (!r) return fail(r.error());
    observe(*r);
    if (r->status != 200) return refused(*r);
    auto ans = parse_scans_answer(r->body);
    if (!ans) return fail(ans.error());
    // An upstream that does not echo the epoch keys rows by seq alone: rows of a
    // later epoch would be taken for duplicates of the first and never stored.
    if (ans->epoch != epoch)
        return bad_answer("scans answer: epoch " + std::to_string(ans->epoch) + " for a batch of epoch " +
                          std::to_string(epoch) + " (the command centre does not know journal epochs)");
    rep.sent = rows->size();
    rep.acked_seq = ans->acked_seq;
    rep.conflicts = ans->conflicts;
    if (rep.conflicts > 0)
        log::error(kCat, "the command centre holds other content under some of these scan ids",
                   {{"epoch", std::to_string(epoch)}, {"conflicts", std::to_string(rep.conflicts)}});
    if (carried) {
        // Rows of a journal moved aside may have gaps (unreadable rows): the
        // contiguous acknowledgement cannot cover them. The batch is one server
        // transaction: when every row is accounted for, every row is stored.
        if (ans->stored < 0 || ans->duplicates < 0 ||
            ans->stored + ans->duplicates + rep.conflicts != static_cast<std::int64_t>(rows->size()))
            return bad_answer("scans answer: stored + duplicates + conflicts is not the rows sent");
        std::vector<std::int64_t> seqs;
        for (const auto& row : *rows) seqs.push_back(row.seq);
        auto m = journal_.mark_carried_uploaded(epoch, seqs);
        if (!m) return fail(m.error());
        rep.marked = *m;
        rep.acked_seq = 0;  // not this journal's sequence
        return rep;
    }
    // Only what the server has acknowledged, and never beyond what we sent.
    const std::int64_t up_to = std::min(rep.acked_seq, rows->back().seq);
    if (up_to > 0) {
        auto m = journal_.mark_uploaded_through(up_to);
        if (!m) return fail(m.error());
        rep.marked = *m;
    }
    return rep;
}

Result<DeltaPlan> parse_delta_plan(const std::string& body, std::int64_t from_version) {
    auto pj = parse_object(body, "delta plan");
    if (!pj) return fail(pj.error());
    const json& p = *pj;
    DeltaPlan plan;
    auto latest = int_field(p, "latest", "delta plan");
    if (!latest) return fail(latest.error());
    plan.latest = *latest;
    if (plan.latest <= from_version) return plan;  // nothing to fetch
    auto snapshot_required = opt_bool_field(p, "snapshot_required", false, "delta plan");
    if (!snapshot_required) return fail(snapshot_required.error());
    if (*snapshot_required) {
        auto url = server_path(p, "snapshot", "delta plan");
        if (!url) return fail(url.error());
        plan.snapshot = std::move(*url);
        return plan;
    }
    auto deltas = p.find("deltas");
    if (deltas == p.end() || !deltas->is_array()) return bad_answer("delta plan: 'deltas' missing or not an array");
    // Every entry is checked before the first is fetched. A plan with `since` was
    // made for this device: its deltas are fetched as named (the status module
    // refuses one that does not apply). A static plan (no `since`: a list mirror,
    // `upstream publish --export`) names the last deltas of a window for any
    // device: entries the device already holds are skipped, and when the chain
    // does not start at its version it takes the snapshot the plan names.
    const bool static_plan = p.find("since") == p.end();
    std::int64_t expect_base = from_version;
    bool chain_ok = true;
    for (const auto& d : *deltas) {
        if (!d.is_object()) return bad_answer("delta plan: an entry is not an object");
        auto url = server_path(d, "url", "delta entry");
        if (!url) return fail(url.error());
        auto version = opt_int_field(d, "version", 0, "delta entry");
        auto base = opt_int_field(d, "base_version", 0, "delta entry");
        if (!version) return fail(version.error());
        if (!base) return fail(base.error());
        if (!static_plan || *version == 0) {  // made for this device, or without versions
            plan.deltas.push_back(std::move(*url));
            continue;
        }
        if (*version <= from_version) continue;
        if (*base != expect_base || *version != *base + 1) chain_ok = false;
        expect_base = *version;
        plan.deltas.push_back(std::move(*url));
    }
    if (!static_plan || (chain_ok && !plan.deltas.empty())) return plan;
    if (chain_ok && plan.deltas.empty() && p.find("snapshot") == p.end())
        return bad_answer("delta plan: no delta and no snapshot up to 'latest'");
    auto snap = server_path(p, "snapshot", "delta plan");
    if (!snap) return fail(snap.error());
    plan.deltas.clear();
    plan.snapshot = std::move(*snap);
    return plan;
}

Result<ScansAnswer> parse_scans_answer(const std::string& body) {
    auto j = parse_object(body, "scans answer");
    if (!j) return fail(j.error());
    auto acked = int_field(*j, "acked_seq", "scans answer");
    auto epoch = opt_int_field(*j, "epoch", 0, "scans answer");
    auto stored = opt_int_field(*j, "stored", -1, "scans answer");
    auto duplicates = opt_int_field(*j, "duplicates", -1, "scans answer");
    auto conflicts = opt_int_field(*j, "conflicts", 0, "scans answer");
    for (const auto* f : {&acked, &epoch, &stored, &duplicates, &conflicts})
        if (!*f) return fail(f->error());
    return ScansAnswer{*acked, *epoch, *stored, *duplicates, std::max<std::int64_t>(0, *conflicts)};
}

Result<PublishedVersions> parse_heartbeat_answer(const std::string& body) {
    auto a = parse_object(body, "heartbeat answer");
    if (!a) return fail(a.error());
    auto list_version = opt_int_field(*a, "list_version", 0, "heartbeat answer");
    auto trust_version = opt_int_field(*a, "trust_version", 0, "heartbeat answer");
    if (!list_version) return fail(list_version.error());
    if (!trust_version) return fail(trust_version.error());
    return PublishedVersions{*list_version, *trust_version};
}

Result<ListReport> SyncClient::pull_list_once() {
    ListReport rep;
    auto info = list_.info();
    rep.from_version = info ? info->version : 0;
    rep.to_version = rep.from_version;
    const std::string plan_path = "/v1/list/deltas?since=" + std::to_string(rep.from_version);
    bool from_mirror = false;
    auto plan = get_document(plan_path, &from_mirror);
    if (!plan) return fail(plan.error());
    if (plan->status != 200) return refused(*plan);
    auto p = parse_delta_plan(plan->body, rep.from_version);
    if (from_mirror && (!p || p->latest < published_.list_version)) {
        // A mirror behind what the command centre announced (or serving nonsense)
        // does not hold the device back: ask the command centre itself.
        auto direct = http().get(plan_path);
        if (!direct) return fail(direct.error());
        observe(*direct);
        if (direct->status != 200) return refused(*direct);
        p = parse_delta_plan(direct->body, rep.from_version);
    }
    if (!p) return fail(p.error());
    if (p->latest <= rep.from_version) return rep;
    if (!p->snapshot.empty()) {
        // Snapshots are large (~45 MiB for 2M entries): a cut transfer resumes where it stopped.
        auto snap = get_resumable(p->snapshot);
        if (!snap) return fail(snap.error());
        auto st = list_.import_bytes(as_bytes(snap->body), signers_);
        if (!st) return fail(st.error());
        rep.snapshot = true;
        rep.to_version = st->version;
        return rep;
    }
    for (const auto& url : p->deltas) {
        auto body = get_ok(url);
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
    auto bad = [](const char* what) { return fail(ErrorKind::invalid_input, reason::trust_format, what); };
    json env = json::parse(envelope, nullptr, false);
    if (env.is_discarded() || !env.is_object()) return bad("not a signed envelope");
    auto alg = str_field(env, "alg", "trust list");
    auto kid_hex = str_field(env, "kid", "trust list");
    auto payload_r = str_field(env, "payload", "trust list");
    auto sig_hex = str_field(env, "sig", "trust list");
    if (!alg || !kid_hex || !payload_r || !sig_hex || *alg != "ES256") return bad("not a signed envelope");
    auto kid = from_hex(*kid_hex);
    auto sig = from_hex(*sig_hex);
    if (!kid || !sig) return bad("kid or sig is not hex");
    const std::string payload = std::move(*payload_r);
    auto candidates = list_signers.find(*kid);
    if (candidates.empty()) return fail(ErrorKind::rejected, reason::unknown_key, "trust list signer");
    bool verified = false;
    for (const auto* cert : candidates)
        if (cert->verify_es256(as_bytes(payload), *sig).ok()) verified = true;
    if (!verified) return fail(ErrorKind::rejected, reason::signature, "trust list");
    // Only now is the payload trusted enough to parse.
    json p = json::parse(payload, nullptr, false);
    if (p.is_discarded() || !p.is_object()) return bad("payload");
    auto type = str_field(p, "type", "trust list");
    auto version = int_field(p, "version", "trust list");
    auto issued_at = opt_int_field(p, "issued_at", 0, "trust list");
    auto issuers = p.find("issuers");
    if (!type || *type != "cp-trust-list" || !version || !issued_at || issuers == p.end() || !issuers->is_array())
        return bad("payload");
    TrustList t;
    t.version = *version;
    t.issued_at = *issued_at;
    for (const auto& h : *issuers) {
        if (!h.is_string()) return bad("issuer");
        auto der = from_hex(h.get<std::string>());
        if (!der || der->empty()) return bad("issuer");
        t.issuers.push_back(std::move(*der));
    }
    t.envelope = envelope;
    return t;
}

Result<std::optional<TrustList>> SyncClient::pull_trust_once(std::int64_t current_version) {
    auto r = get_document("/v1/trust");
    if (!r) return fail(r.error());
    if (r->status == 404) return std::optional<TrustList>();
    if (r->status != 200) return refused(*r);
    auto t = verify_trust_list(r->body, signers_);
    if (!t) return fail(t.error());
    if (t->version < current_version)
        return fail(ErrorKind::rejected, reason::trust_version, "older than the installed trust list");
    if (t->version == current_version) return std::optional<TrustList>();
    return std::optional<TrustList>(std::move(*t));
}

Result<ClockSkew> SyncClient::heartbeat_once(const std::string& sensors_json, std::uint64_t sync_faults) {
    auto stats = journal_.stats();
    if (!stats) return fail(stats.error());
    auto losses = journal_.losses();
    if (!losses) return fail(losses.error());
    auto info = list_.info();
    json sensors = json::parse(sensors_json, nullptr, false);
    if (sensors.is_discarded() || !sensors.is_object()) sensors = json::object();
    json body = {{"firmware", cfg_.firmware},
                 {"list_version", info ? info->version : 0},
                 {"backlog", stats->pending},
                 {"wall_time_ms", wall_now_ms()},
                 {"sensors", std::move(sensors)},
                 {"journal_epoch", journal_.epoch()},
                 {"journal_lost_rows", losses->rows},
                 {"journal_lost_journals", losses->journals},
                 {"sync_faults", sync_faults}};
    auto r = http().post_json("/v1/heartbeat", body.dump(), false);
    if (!r) return fail(r.error());
    observe(*r);
    if (r->status != 200) return refused(*r);
    auto pub = parse_heartbeat_answer(r->body);
    if (!pub) return fail(pub.error());
    published_ = *pub;
    if (!skew_) return fail(ErrorKind::invalid_input, reason::response, "no Date header");
    return *skew_;
}

}  // namespace cp::sync
