// checkpointd's link to the command centre (docs/daemon.md, "Upstream sync"): the
// SyncWorker thread (src/sync) configured from [upstream], the network health the
// status bar shows, and the pass issuers the lane trusts (the image's folder plus
// the issuers the sync thread installs).
//
// Thread-safety: UpstreamLink::start/stop from the daemon's main thread; health(),
// status() and wake() from any thread. IssuerTrust::prepare from any thread,
// take_pending from the decide thread only (the one that uses the verifier).
#pragma once

#include "drivers/display/display.hpp"
#include "src/common/result.hpp"
#include "src/config/config.hpp"
#include "src/crypto/trust_store.hpp"
#include "src/journal/journal.hpp"
#include "src/status/store.hpp"
#include "src/sync/sync_worker.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace cp::daemon {

// How long a link that worked keeps showing "degraded" (not "down") while its
// rounds fail: a short outage is not yet worth alarming the guard.
constexpr std::int64_t kNetworkDegradedMs = 300'000;

// The status bar's network health from a sync snapshot at device time `now_ms`:
//   unknown   no answer yet either way (first round in progress);
//   ok        the last round succeeded and the clock agrees with the command centre;
//   degraded  the last round succeeded but the clock is skewed, or rounds fail
//             but one succeeded within kNetworkDegradedMs;
//   fault     ("down") the command centre refused the device (revoked, not
//             enrolled), or nothing has succeeded for longer than that.
display::Health network_health(const sync::SyncStatus& s, std::int64_t now_ms);
// "ok", "degraded", "down", "unknown": the words of logs and STATUS= lines.
const char* network_label(display::Health h);

// The pass issuers: every certificate of `image_dir` (paths.trust_dir, from the
// image) and of `synced_dir` (upstream.trust_dir, installed by the sync thread;
// may be empty or absent). Errors: io/"trust-store" when neither yields a
// certificate; a folder that does not load is logged and skipped.
Result<crypto::TrustStore> load_issuers(const std::string& image_dir, const std::string& synced_dir);

// A trust store swap handed from the sync thread to the decide thread: the new
// store is loaded on the sync thread (certificate parsing stays off the lane) and
// moved into the live store between two scans, so a verification never sees the
// store change under it.
class IssuerTrust {
public:
    void prepare(crypto::TrustStore next);
    // Moves a prepared store into `live`; false when none is waiting.
    bool take_pending(crypto::TrustStore& live);

private:
    std::atomic<bool> waiting_{false};
    std::mutex mu_;
    std::optional<crypto::TrustStore> next_;
};

// The device key file the sync client reads. Under systemd the unit hands the key
// to the daemon as a credential named like the file of upstream.key_file
// (LoadCredential=device.key:..., firmware/systemd/checkpointd.service), so the
// key on disk stays readable by root only: when `credentials_dir`
// ($CREDENTIALS_DIRECTORY; null or empty outside systemd) holds a file of that
// name with anything but white space in it, that file; otherwise `key_file`. A
// blank credential is the unit's stand-in when there is no key on disk.
std::string device_key_path(const std::string& key_file, const char* credentials_dir);

struct UpstreamHooks {
    std::string firmware = "0";                  // heartbeat: the daemon's version
    std::function<std::string()> sensors_json;   // heartbeat: sensor health (sync thread)
    std::function<void()> on_trust_installed;    // after a newer trust list is installed (sync thread)
};

class UpstreamLink {
public:
    // Errors: [io] "list-signer" when paths.list_signer does not load; SyncWorker::create's
    // ([config] "url"/"tls-files", [io] "trust-dir"). `journal` and `list` must outlive the link.
    static Result<std::unique_ptr<UpstreamLink>> create(const config::Config& cfg, journal::ScanJournal& journal,
                                                        status::StatusList& list, UpstreamHooks hooks);
    ~UpstreamLink();  // stop()
    UpstreamLink(const UpstreamLink&) = delete;
    UpstreamLink& operator=(const UpstreamLink&) = delete;

    Status start();
    void stop();     // wakes and joins the sync thread; idempotent
    void wake();     // e.g. after a RED, so the command centre sees it without the idle wait
    sync::SyncStatus status() const;
    // network_health() of the current status; logs each change once.
    display::Health health();

private:
    UpstreamLink() = default;
    crypto::TrustStore signers_;               // outlives worker_ (declared first)
    std::unique_ptr<sync::SyncWorker> worker_;
    std::mutex health_mu_;
    display::Health last_health_ = display::Health::unknown;
};

}  // namespace cp::daemon
