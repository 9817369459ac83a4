#include "firmware/checkpointd/upstream_link.hpp"
#include "firmware/checkpointd/reason.hpp"

#include "src/common/log.hpp"
#include "src/common/time.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace cp::daemon {

display::Health network_health(const sync::SyncStatus& s, std::int64_t now_ms) {
    if (s.network_ok) return s.skewed ? display::Health::degraded : display::Health::ok;
    if (s.refused) return display::Health::fault;
    if (s.consecutive_failures == 0) return display::Health::unknown;  // nothing answered yet
    if (s.last_success_ms > 0 && now_ms - s.last_success_ms <= kNetworkDegradedMs) return display::Health::degraded;
    return display::Health::fault;
}

const char* network_label(display::Health h) {
    switch (h) {
    case display::Health::ok: return "ok";
    case display::Health::degraded: return "degraded";
    case display::Health::fault: return "down";
    case display::Health::unknown: break;
    }
    return "unknown";
}

Result<crypto::TrustStore> load_issuers(const std::string& image_dir, const std::string& synced_dir) {
    crypto::TrustStore all;
    std::string why;
    for (const std::string& dir : {image_dir, synced_dir}) {
        if (dir.empty()) continue;
        auto part = crypto::TrustStore::load(dir);
        if (!part) {
            // The synced folder is empty until the first trust list arrives.
            if (dir == image_dir || std::filesystem::exists(dir)) {
                log::warn("trust", "issuer folder not loaded", {{"path", dir}, {"reason", part.error().reason},
                                                                {"detail", part.error().message}});
            }
            why += (why.empty() ? "" : "; ") + part.error().message;
            continue;
        }
        for (const auto& cert : part->certificates()) {
            if (auto s = all.add_pem_or_der(cert->der()); !s) return fail(s.error());
        }
    }
    if (all.size() == 0) return fail(ErrorKind::io, reason::trust_store, "no issuer certificate: " + why);
    return all;
}

void IssuerTrust::prepare(crypto::TrustStore next) {
    std::lock_guard lk(mu_);
    next_ = std::move(next);
    waiting_ = true;
}

bool IssuerTrust::take_pending(crypto::TrustStore& live) {
    if (!waiting_.load()) return false;  // the decide thread's per-frame cost: one atomic load
    std::lock_guard lk(mu_);
    if (!next_) return false;
    live = std::move(*next_);
    next_.reset();
    waiting_ = false;
    return true;
}

std::string device_key_path(const std::string& key_file, const char* credentials_dir) {
    if (credentials_dir == nullptr || *credentials_dir == '\0') return key_file;
    const std::filesystem::path name = std::filesystem::path(key_file).filename();
    if (name.empty()) return key_file;
    const std::filesystem::path credential = std::filesystem::path(credentials_dir) / name;
    std::ifstream in(credential, std::ios::binary);
    // A PEM key shows a non-blank byte at once; a blank stand-in is a few bytes.
    constexpr int kLookAhead = 4096;
    char c = 0;
    for (int i = 0; i < kLookAhead && in.get(c); ++i) {
        if (!std::isspace(static_cast<unsigned char>(c))) return credential.string();
    }
    return key_file;
}

// ---- UpstreamLink -------------------------------------------------------------

Result<std::unique_ptr<UpstreamLink>> UpstreamLink::create(const config::Config& cfg, journal::ScanJournal& journal,
                                                           status::StatusList& list, UpstreamHooks hooks) {
    std::unique_ptr<UpstreamLink> link(new UpstreamLink());
    auto signers = crypto::TrustStore::load(cfg.paths.list_signer);
    if (!signers) return fail(ErrorKind::io, reason::list_signer, cfg.paths.list_signer + ": " + signers.error().message);
    link->signers_ = std::move(*signers);
    const config::UpstreamConfig& u = cfg.upstream;
    sync::SyncWorkerConfig w;
    w.https.base_url = u.url;
    w.fallback_urls = u.fallback_urls;
    w.list_url = u.list_url;
    w.https.ca_path = u.ca_file;
    w.https.cert_path = u.cert_file;
    w.https.key_path = device_key_path(u.key_file, std::getenv("CREDENTIALS_DIRECTORY"));
    if (w.https.key_path != u.key_file) {
        log::info("sync", "device key from the service credential", {{"path", w.https.key_path}});
    }
    w.sync.device_id = cfg.device.id;
    w.sync.firmware = hooks.firmware;
    w.sync.batch_rows = static_cast<std::size_t>(u.upload_batch);
    w.sync.max_skew_ms = cfg.policy.clock_skew_s * 1000;
    w.trust_dir = u.trust_dir;
    w.heartbeat_interval_ms = u.heartbeat_interval_s * 1000;
    w.list_interval_ms = u.list_interval_s * 1000;
    w.trust_interval_ms = u.trust_interval_s * 1000;
    w.backoff_cap_ms = u.backoff_cap_s * 1000;
    w.backoff_initial_ms = std::min<std::int64_t>(w.backoff_initial_ms, w.backoff_cap_ms);
    w.sensors_json = std::move(hooks.sensors_json);
    if (hooks.on_trust_installed) {
        w.on_trust_installed = [f = std::move(hooks.on_trust_installed)](const sync::TrustList&) { f(); };
    }
    auto worker = sync::SyncWorker::create(std::move(w), journal, list, link->signers_);
    if (!worker) return fail(worker.error());
    link->worker_ = std::move(*worker);
    return link;
}

UpstreamLink::~UpstreamLink() { stop(); }

Status UpstreamLink::start() { return worker_->start(); }

void UpstreamLink::stop() {
    if (worker_) worker_->stop();
}

void UpstreamLink::wake() { worker_->wake(); }

sync::SyncStatus UpstreamLink::status() const { return worker_->status(); }

display::Health UpstreamLink::health() {
    const sync::SyncStatus s = worker_->status();
    const display::Health h = network_health(s, wall_now_ms());
    std::lock_guard lk(health_mu_);
    if (h != last_health_) {
        log::info("sync", "network health", {{"from", network_label(last_health_)}, {"to", network_label(h)},
                                             {"backlog", std::to_string(s.backlog)},
                                             {"list_version", std::to_string(s.list_version)},
                                             {"error", s.last_error.empty() ? "-" : s.last_error}});
        last_health_ = h;
    }
    return h;
}

}  // namespace cp::daemon
