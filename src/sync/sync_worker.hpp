// SyncWorker: the device's sync thread. One named thread ("sync") loops over the
// steps of SyncClient (docs/sync-protocol.md, "Device client"):
//
//   heartbeat (when due) → upload journal batches until the backlog is empty →
//   pull list deltas (when due) → pull and install the trust list (when due)
//
// then sleeps `poll_interval_ms` (or until wake()/stop()). A failed step ends the
// round and the thread waits a SyncBackoff delay (exponential, full jitter,
// capped). An exception out of a round (a bug, bad_alloc, a throwing hook) never
// leaves the thread: it is logged, counted in SyncStatus::faults (sent in the
// heartbeat as "sync_faults") and treated as a failed round. A refusal (HTTP 4xx other than 408/429: revoked, not enrolled, bad
// request) is not retried blindly: it is logged once per distinct reason and the
// thread waits `refused_backoff_ms` before trying again. 408/429, 5xx and network
// or TLS errors use the normal backoff.
//
// The status list is applied atomically by StatusList (verified first; on error
// the active list stays byte-identical). A trust list is verified against the list
// signers, then installed with write-temp + fsync + rename + fsync(dir) as
// `<trust_dir>/upstream-issuers.pem` (what crypto::TrustStore::load reads), with the
// signed envelope beside it as `<trust_dir>/upstream-trust.json` (not a certificate
// extension, so TrustStore::load ignores it) from which the installed version is
// read back and re-verified at start-up.
//
// Thread-safety: start(), stop(), wake() and status() may be called from any
// thread (status() is cheap: a mutex-guarded copy, fine for a status bar at 10 Hz).
// start()/stop() must not race each other (the daemon's main thread owns them).
// The journal and status list given to the worker are thread-safe themselves and
// must outlive it; the list-signer trust store is read-only after construction.
// The destructor stops the thread: no thread is left behind.
#pragma once

#include "src/common/result.hpp"
#include "src/crypto/trust_store.hpp"
#include "src/journal/journal.hpp"
#include "src/status/store.hpp"
#include "src/sync/sync_client.hpp"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace cp::sync {

// A round ended by an exception: [internal] reason::sync_fault ("sync-fault").

struct SyncWorkerConfig {
    HttpsConfig https;           // upstream URL, fleet CA, device cert/key, timeouts
    // Further replicas of the command centre (same CA, certificate and timeouts as
    // `https`): after a round fails on the network, a 5xx, 408 or 429, the next
    // round (after the usual backoff delay) goes to the next URL, round robin.
    std::vector<std::string> fallback_urls;
    // A list mirror (HttpsConfig::signed_documents_only): https:// or http://;
    // empty: lists come from the command centre. See SyncClient::set_list_mirror.
    std::string list_url;
    SyncConfig sync;             // device id, firmware, batch size, gzip, max skew
    // Where pulled trust lists are installed (a directory; created if missing).
    // Empty: trust lists are not pulled.
    std::string trust_dir;
    std::int64_t poll_interval_ms = 5'000;        // idle wait between rounds (journal check)
    std::int64_t heartbeat_interval_ms = 60'000;
    std::int64_t list_interval_ms = 300'000;
    std::int64_t trust_interval_ms = 3'600'000;
    std::int64_t backoff_initial_ms = 1'000;
    std::int64_t backoff_cap_ms = 300'000;
    std::int64_t refused_backoff_ms = 900'000;    // after a 4xx other than 408/429
    std::size_t max_batches_per_round = 100'000;  // bound on one catch-up round
    std::uint64_t backoff_seed = 0;               // 0: random
    // Sensor health for the heartbeat, a JSON object (called on the sync thread).
    std::function<std::string()> sensors_json;
    // Called on the sync thread after a newer trust list is installed (e.g. to
    // reload the pass verifier's trust store).
    std::function<void(const TrustList&)> on_trust_installed;
};

struct SyncStatus {
    bool running = false;
    bool network_ok = false;              // the last round succeeded
    std::int64_t last_success_ms = 0;     // device wall clock of the last good round (0: never)
    std::int64_t last_attempt_ms = 0;
    std::int64_t backlog = 0;             // journal rows not yet acknowledged
    std::int64_t acked_seq = 0;           // the server's last acknowledgement
    std::optional<std::int64_t> skew_ms;  // device − command centre, from Date
    bool skewed = false;
    std::int64_t list_version = 0;
    std::int64_t trust_version = 0;
    bool refused = false;                 // the last error was a 4xx refusal
    int consecutive_failures = 0;
    std::int64_t next_attempt_in_ms = 0;  // while backing off
    std::string last_error;               // "<kind>/<reason>: message", empty after success
    std::string upstream_url;             // the replica the next round talks to
    std::uint64_t failovers = 0;          // moves to another replica since start
    std::uint64_t rounds = 0;
    std::uint64_t uploaded_rows = 0;      // rows acknowledged since start
    std::uint64_t faults = 0;             // rounds ended by an exception (logged, retried; in the heartbeat)
    std::uint64_t conflicts = 0;          // rows the server reported stored with other content
};

class SyncWorker {
public:
    // Errors: HttpsClient::create's ([config] "url", "tls-files") for any of the
    // URLs; [io] "trust-dir" when trust_dir cannot be created.
    static Result<std::unique_ptr<SyncWorker>> create(SyncWorkerConfig cfg,
                                                      journal::ScanJournal& journal,
                                                      status::StatusList& list,
                                                      const crypto::TrustStore& list_signers);
    ~SyncWorker();  // stop()
    SyncWorker(const SyncWorker&) = delete;
    SyncWorker& operator=(const SyncWorker&) = delete;

    // Starts the thread (no-op when running). Errors: [internal] "thread".
    Status start();
    // Wakes the thread (also out of a backoff wait or a transfer: the transfer is
    // abandoned within about a second) and joins it. Idempotent.
    void stop();
    // Ends the idle wait early (e.g. the daemon journaled a RED). Not the backoff.
    void wake();
    SyncStatus status() const;

    // Installs a verified trust list into `dir` (temp file + fsync + rename + fsync
    // of the folder), after raising the trust version floor `<dir>/upstream-trust.floor`.
    // Errors: [io] "trust-write", [rejected] "trust-version" (below the floor),
    // [invalid_input] "trust-format" (version outside 1..2^53-1), [io] "version-floor".
    static Status install_trust_list(const std::string& dir, const TrustList& t);
    // The version of the trust list installed in `dir`, re-verified against
    // `list_signers`; 0 when none or when it does not verify.
    static std::int64_t installed_trust_version(const std::string& dir,
                                                const crypto::TrustStore& list_signers);

private:
    SyncWorker(SyncWorkerConfig cfg, SyncClient client, journal::ScanJournal& journal,
               status::StatusList& list, const crypto::TrustStore& signers);
    void run();
    Status round(std::int64_t now_mono);
    Status guarded_round(std::int64_t now_mono);  // round() with every exception caught
    void fail_round(const Error& e);
    // Waits up to `ms` or until stop (and wake when `wakeable`); false when stopping.
    bool wait_ms(std::int64_t ms, bool wakeable);
    void refresh_backlog();

    SyncWorkerConfig cfg_;
    SyncClient client_;
    journal::ScanJournal& journal_;
    status::StatusList& list_;
    const crypto::TrustStore& signers_;
    SyncBackoff backoff_;

    std::atomic<bool> stop_{false};
    bool woken_ = false;                 // guarded by mu_
    mutable std::mutex mu_;
    std::condition_variable cv_;
    SyncStatus st_;                      // guarded by mu_
    std::thread thread_;

    // Sync-thread state.
    std::int64_t next_heartbeat_ = 0, next_list_ = 0, next_trust_ = 0;  // monotonic ms
    std::string last_logged_refusal_;
    std::string last_failure_reason_;
};

}  // namespace cp::sync
