// The device side of docs/sync-protocol.md: pull status-list deltas and apply them
// through the status module, upload journal rows and mark them uploaded only up to
// the server's acknowledgement, send heartbeats, and measure clock skew from the
// server's Date header. One step per call; the sync thread loops over them with
// SyncBackoff between failures.
//
// Thread-safety: a SyncClient belongs to the sync thread. The journal and status
// list it uses are thread-safe themselves.
#pragma once

#include "src/sync/reason.hpp"
#include "src/common/result.hpp"
#include "src/crypto/trust_store.hpp"
#include "src/journal/journal.hpp"
#include "src/status/store.hpp"
#include "src/sync/https_client.hpp"

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace cp::sync {

// Exponential backoff with full jitter, capped: the k-th consecutive failure waits
// a uniformly random time in [0, min(cap, initial * 2^k)]; success resets.
class SyncBackoff {
public:
    SyncBackoff(std::int64_t initial_ms = 1000, std::int64_t cap_ms = 300'000,
                std::uint64_t seed = std::random_device{}());
    std::int64_t next_delay_ms();   // after a failure
    void reset();                   // after a success
    int failures() const { return failures_; }
    std::int64_t ceiling_ms() const;  // the upper bound the next delay is drawn under

private:
    std::int64_t initial_ms_, cap_ms_;
    int failures_ = 0;
    std::mt19937_64 rng_;
};

struct SyncConfig {
    std::string device_id;
    std::string firmware = "0";
    // Journal rows per upload: the server's maximum. Per-batch costs (a TLS round
    // trip, one server transaction, one journal mark) dominate small batches:
    // ~4,800 scans/s at 200 vs ~15,000 at 1000 on loopback (docs/benchmarks.md).
    std::size_t batch_rows = 1000;
    bool gzip = true;
    std::int64_t max_skew_ms = 300'000;    // beyond this the clock is reported as skewed
};

struct UploadReport {
    std::size_t sent = 0;
    std::int64_t acked_seq = 0;  // of this journal's epoch (0 for a batch of carried rows)
    std::int64_t marked = 0;     // journal rows newly marked uploaded
    std::int64_t conflicts = 0;  // rows the server holds with other content under the same id
};

// reason::response: an answer that is not the protocol's (wrong type, missing field).

// The HTTP status of a request the server refused ([rejected] "http-<status>", from
// SyncClient), or 0 for any other error.
int http_status(const Error& e);

struct ListReport {
    std::int64_t from_version = 0;
    std::int64_t to_version = 0;
    bool snapshot = false;       // a full list was imported (no usable delta chain)
    std::size_t deltas = 0;
};

struct TrustList {
    std::int64_t version = 0;
    std::int64_t issued_at = 0;
    std::vector<Bytes> issuers;  // DER certificates of the pass issuers
    std::string envelope;        // the signed document as served (kept beside the installed list)
};

// Verifies a signed trust-list envelope against `list_signers` before parsing its
// payload. Errors: [invalid_input] "trust-format", [rejected] "unknown-key",
// "signature".
Result<TrustList> verify_trust_list(const std::string& envelope,
                                    const crypto::TrustStore& list_signers);

// What a heartbeat answer says the command centre has published (0: not said).
struct PublishedVersions {
    std::int64_t list_version = 0;
    std::int64_t trust_version = 0;
};

// The server's answers, read with a type check on every field (a wrong type, a
// missing required field, not a JSON object: [invalid_input] "response"; a path
// outside /v1/list/ or check_request_path: [invalid_input] "url-path").
struct ScansAnswer {
    std::int64_t acked_seq = 0;
    std::int64_t epoch = 0;        // 0 when absent
    std::int64_t stored = -1;      // -1 when absent
    std::int64_t duplicates = -1;  // -1 when absent
    std::int64_t conflicts = 0;
};
Result<ScansAnswer> parse_scans_answer(const std::string& body);
struct DeltaPlan {
    std::int64_t latest = 0;
    std::string snapshot;             // non-empty: fetch this snapshot (deltas empty)
    std::vector<std::string> deltas;  // delta paths, in order
};
// Nothing past `latest` is read when latest <= from_version (nothing to fetch).
Result<DeltaPlan> parse_delta_plan(const std::string& body, std::int64_t from_version);
Result<PublishedVersions> parse_heartbeat_answer(const std::string& body);

struct ClockSkew {
    std::int64_t skew_ms = 0;    // device − server, corrected by half the round trip
    bool skewed = false;         // |skew| > max_skew_ms
};

class SyncClient {
public:
    SyncClient(SyncConfig cfg, HttpsClient http, journal::ScanJournal& journal,
               status::StatusList& list, const crypto::TrustStore& list_signers);

    // Uploads one batch of pending journal rows, all of one epoch (nothing to do:
    // sent == 0). Rows of this journal are marked up to the server's contiguous
    // acknowledgement; carried rows of a journal moved aside when the answer
    // accounts for every row sent. Errors: HttpsClient's; [rejected] "http-<status>"
    // for a refusal (403, 400, ...); [invalid_input] "response" for an answer that
    // is not the protocol's (also one that does not echo the batch's epoch).
    Result<UploadReport> upload_once();
    // Brings the status list to the server's latest version: deltas in order when
    // the server offers a chain from our version, else the snapshot. Each step is
    // verified and applied atomically by the status module; on error the list
    // stays at the last good version.
    Result<ListReport> pull_list_once();
    // Fetches the signed trust list (issuer certificates) and verifies it against
    // the list signers. Returns nullopt when the server has none or it is not newer
    // than `current_version`. Errors: [invalid_input] "trust-format", [rejected]
    // "unknown-key" (no signer with that kid), "signature", "trust-version" (older).
    Result<std::optional<TrustList>> pull_trust_once(std::int64_t current_version);
    // Sends a heartbeat (with the journal's epoch and loss counters and the sync
    // thread's fault count); returns the skew measured from the server's Date header.
    Result<ClockSkew> heartbeat_once(const std::string& sensors_json = "{}", std::uint64_t sync_faults = 0);

    std::optional<ClockSkew> last_skew() const { return skew_; }
    // The versions the last good heartbeat answer announced: the sync thread pulls
    // early when they are newer than what the device holds. Every field of every
    // answer is type-checked: a wrong type is [invalid_input] "response".
    PublishedVersions last_published() const { return published_; }
    // The wait the last refused answer asked for with Retry-After when it was a 429
    // or 503; nullopt otherwise. The sync thread waits at least this long.
    std::optional<std::int64_t> retry_after_ms() const { return retry_after_ms_; }
    // Abandons a transfer in progress when *flag becomes true (HttpsClient::set_abort_flag).
    void set_abort_flag(const std::atomic<bool>* flag);

    // Failover (docs/sync-protocol.md, "Several upstream URLs"): further replicas of
    // the command centre, tried in the order added after the first. Every step talks
    // to the current one; fail_over() moves to the next (round robin). Replicas
    // share one store, so an upload resent to another replica is stored once.
    void add_upstream(HttpsClient http);
    void fail_over();
    std::size_t upstream_count() const { return upstreams_.size(); }
    const std::string& upstream_url() const { return upstreams_[current_].base_url(); }
    // A list mirror (HttpsConfig::signed_documents_only): status-list plans,
    // snapshots, deltas and the trust list are fetched from it first; when it fails,
    // or serves a list older than the last heartbeat announced, from the current
    // upstream. What it serves is verified like anything else.
    void set_list_mirror(HttpsClient mirror);

private:
    HttpsClient& http() { return upstreams_[current_]; }
    // GET of a signed document: from the mirror when there is one and it answers
    // 200, else from the current upstream. `mirror_used` tells which answered.
    Result<HttpResponse> get_document(const std::string& path, bool* mirror_used = nullptr);
    Result<HttpResponse> get_ok(const std::string& path);
    void observe(const HttpResponse& r);
    Failure refused(const HttpResponse& r);  // [rejected] "http-<status>"; notes Retry-After
    Result<HttpResponse> get_resumable(const std::string& path);
    SyncConfig cfg_;
    std::vector<HttpsClient> upstreams_;  // never empty
    std::size_t current_ = 0;
    std::optional<HttpsClient> mirror_;
    journal::ScanJournal& journal_;
    status::StatusList& list_;
    const crypto::TrustStore& signers_;
    std::optional<ClockSkew> skew_;
    std::optional<std::int64_t> retry_after_ms_;
    PublishedVersions published_;
    Download snapshot_;  // a snapshot download cut short, resumed by the next pull
    Download mirror_snapshot_;  // the same, from the list mirror
    const std::atomic<bool>* abort_ = nullptr;
    bool mirror_failed_ = false;  // logged once per run of failures
};

}  // namespace cp::sync
