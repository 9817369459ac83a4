#include "src/sync/sync_worker.hpp"
#include "src/sync/reason.hpp"

#include "src/common/file_io.hpp"
#include "src/common/log.hpp"
#include "src/common/time.hpp"
#include "src/status/version_floor.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

namespace cp::sync {

namespace {
constexpr const char* kCat = "sync";
constexpr const char* kIssuersFile = "upstream-issuers.pem";
constexpr const char* kEnvelopeFile = "upstream-trust.json";

// 4xx other than 408 (timeout) and 429 (too many requests): the server refused
// this request on its merits; the same request will be refused again.
bool is_refusal(const Error& e) {
    const int status = http_status(e);
    return status >= 400 && status < 500 && status != 408 && status != 429;
}

// A failure another replica may not have: the network, a 5xx, 408 or 429.
bool is_replica_failure(const Error& e) {
    if (e.kind == ErrorKind::unavailable) return !e.is(reason::aborted);
    if (e.kind != ErrorKind::rejected) return false;
    const int status = http_status(e);
    return (status >= 500 && status < 600) || status == 408 || status == 429;
}

// Longest Retry-After honoured: a larger value is taken as this (a misconfigured
// server must not silence a device for days).
constexpr std::int64_t kMaxRetryAfterMs = 3'600'000;

std::string pem_of(const Bytes& der) {
    static const char* tbl = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string b64;
    std::size_t i = 0;
    for (; i + 2 < der.size(); i += 3) {
        const unsigned v = (unsigned{der[i]} << 16) | (unsigned{der[i + 1]} << 8) | unsigned{der[i + 2]};
        b64 += tbl[(v >> 18) & 63];
        b64 += tbl[(v >> 12) & 63];
        b64 += tbl[(v >> 6) & 63];
        b64 += tbl[v & 63];
    }
    if (i + 1 == der.size()) {
        const unsigned v = unsigned{der[i]} << 16;
        b64 += tbl[(v >> 18) & 63];
        b64 += tbl[(v >> 12) & 63];
        b64 += "==";
    } else if (i + 2 == der.size()) {
        const unsigned v = (unsigned{der[i]} << 16) | (unsigned{der[i + 1]} << 8);
        b64 += tbl[(v >> 18) & 63];
        b64 += tbl[(v >> 12) & 63];
        b64 += tbl[(v >> 6) & 63];
        b64 += '=';
    }
    std::string out = "-----BEGIN CERTIFICATE-----\n";
    for (std::size_t p = 0; p < b64.size(); p += 64) out += b64.substr(p, 64) + "\n";
    out += "-----END CERTIFICATE-----\n";
    return out;
}

Status write_trust_file(const std::filesystem::path& dir, const std::string& name, const std::string& data) {
    // A dot-name without a certificate extension: TrustStore::load never reads it.
    return cp::write_file_atomically(dir / name, data, dir / ("." + name + ".tmp"), reason::trust_write);
}

}  // namespace

Status SyncWorker::install_trust_list(const std::string& dir, const TrustList& t) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return fail(ErrorKind::io, reason::trust_write, "create " + dir + ": " + ec.message());
    // The trust version floor outlives the envelope: deleting upstream-trust.json
    // does not let an older trust list in (src/status/version_floor.hpp).
    if (auto s = status::admit_version(status::trust_floor_path(dir), t.version, reason::trust_version, reason::trust_format); !s)
        return s;
    std::string pem;
    for (const auto& der : t.issuers) pem += pem_of(der);
    // Certificates first, then the envelope that records the version: after a power
    // loss between the two renames the device holds new issuers under the old
    // version number and simply installs the same list again.
    if (pem.empty()) {
        // No issuers: an empty .pem would make TrustStore::load refuse the whole
        // folder, so the file goes away instead.
        const auto f = std::filesystem::path(dir) / kIssuersFile;
        if (::unlink(f.c_str()) != 0 && errno != ENOENT)
            return fail(ErrorKind::io, reason::trust_write, "unlink " + f.string() + ": " + std::strerror(errno));
    } else if (auto s = write_trust_file(dir, kIssuersFile, pem); !s) {
        return s;
    }
    return write_trust_file(dir, kEnvelopeFile, t.envelope);
}

std::int64_t SyncWorker::installed_trust_version(const std::string& dir,
                                                 const crypto::TrustStore& list_signers) {
    std::ifstream in(std::filesystem::path(dir) / kEnvelopeFile, std::ios::binary);
    if (!in) return 0;
    std::stringstream ss;
    ss << in.rdbuf();
    auto t = verify_trust_list(ss.str(), list_signers);
    return t ? t->version : 0;
}

Result<std::unique_ptr<SyncWorker>> SyncWorker::create(SyncWorkerConfig cfg,
                                                       journal::ScanJournal& journal,
                                                       status::StatusList& list,
                                                       const crypto::TrustStore& list_signers) {
    auto http = HttpsClient::create(cfg.https);
    if (!http) return fail(http.error());
    if (!cfg.trust_dir.empty()) {
        std::error_code ec;
        std::filesystem::create_directories(cfg.trust_dir, ec);
        if (ec) return fail(ErrorKind::io, reason::trust_dir, cfg.trust_dir + ": " + ec.message());
    }
    SyncClient client(cfg.sync, std::move(*http), journal, list, list_signers);
    for (const auto& url : cfg.fallback_urls) {
        HttpsConfig h = cfg.https;
        h.base_url = url;
        auto more = HttpsClient::create(std::move(h));
        if (!more) return fail(more.error());
        client.add_upstream(std::move(*more));
    }
    if (!cfg.list_url.empty()) {
        HttpsConfig h = cfg.https;
        h.base_url = cfg.list_url;
        h.signed_documents_only = true;
        auto mirror = HttpsClient::create(std::move(h));
        if (!mirror) return fail(mirror.error());
        client.set_list_mirror(std::move(*mirror));
    }
    return std::unique_ptr<SyncWorker>(
        new SyncWorker(std::move(cfg), std::move(client), journal, list, list_signers));
}

SyncWorker::SyncWorker(SyncWorkerConfig cfg, SyncClient client, journal::ScanJournal& journal,
                       status::StatusList& list, const crypto::TrustStore& signers)
    : cfg_(std::move(cfg)),
      client_(std::move(client)),
      journal_(journal),
      list_(list),
      signers_(signers),
      backoff_(cfg_.backoff_initial_ms, cfg_.backoff_cap_ms,
               cfg_.backoff_seed ? cfg_.backoff_seed : std::random_device{}()) {
    client_.set_abort_flag(&stop_);
    if (auto info = list_.info()) st_.list_version = info->version;
    if (!cfg_.trust_dir.empty())
        st_.trust_version = installed_trust_version(cfg_.trust_dir, signers_);
    st_.upstream_url = client_.upstream_url();
    if (auto s = journal_.stats()) st_.backlog = s->pending;
}

SyncWorker::~SyncWorker() { stop(); }

Status SyncWorker::start() {
    if (thread_.joinable()) return {};
    stop_.store(false);
    {
        std::lock_guard lk(mu_);
        woken_ = false;
        st_.running = true;
    }
    try {
        thread_ = std::thread([this] { run(); });
    } catch (const std::system_error& e) {
        std::lock_guard lk(mu_);
        st_.running = false;
        return fail(ErrorKind::internal, reason::thread, e.what());
    }
    return {};
}

void SyncWorker::stop() {
    {
        std::lock_guard lk(mu_);
        stop_.store(true);
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    std::lock_guard lk(mu_);
    st_.running = false;
}

void SyncWorker::wake() {
    {
        std::lock_guard lk(mu_);
        woken_ = true;
    }
    cv_.notify_all();
}

SyncStatus SyncWorker::status() const {
    std::lock_guard lk(mu_);
    return st_;
}

bool SyncWorker::wait_ms(std::int64_t ms, bool wakeable) {
    std::unique_lock lk(mu_);
    cv_.wait_for(lk, std::chrono::milliseconds(std::max<std::int64_t>(0, ms)),
                 [&] { return stop_.load() || (wakeable && woken_); });
    if (wakeable) woken_ = false;
    return !stop_.load();
}

void SyncWorker::refresh_backlog() {
    auto s = journal_.stats();
    if (!s) return;
    std::lock_guard lk(mu_);
    st_.backlog = s->pending;
}

void SyncWorker::fail_round(const Error& e) {
    const bool refused = is_refusal(e);
    std::int64_t delay = refused ? cfg_.refused_backoff_ms : backoff_.next_delay_ms();
    // 429/503 with Retry-After: the server said when to come back; not sooner.
    if (const int status = http_status(e); status == 429 || status == 503) {
        if (auto ra = client_.retry_after_ms()) delay = std::max(delay, std::min(*ra, kMaxRetryAfterMs));
    }
    if (refused) {
        // Counted as a failure too, so the next ordinary error backs off further.
        (void)backoff_.next_delay_ms();
        const std::string key = e.reason + "/" + e.message;
        if (key != last_logged_refusal_) {
            log::error(kCat, "the command centre refused the device; not retrying blindly",
                       {{"reason", e.reason}, {"detail", e.message},
                        {"retry_in_ms", std::to_string(delay)}});
            last_logged_refusal_ = key;
        }
    } else if (!e.is(reason::aborted) && (backoff_.failures() == 1 || e.reason != last_failure_reason_)) {
        // Once per outage (and when the cause changes), not on every retry.
        log::warn(kCat, "sync failed; backing off",
                  {{"error", e.describe()}, {"retry_in_ms", std::to_string(delay)}});
    }
    last_failure_reason_ = e.reason;
    // The next attempt goes to the next replica, after the same backoff delay.
    const bool moved = client_.upstream_count() > 1 && is_replica_failure(e);
    if (moved) {
        client_.fail_over();
        log::info(kCat, "failing over to another upstream",
                  {{"url", client_.upstream_url()}, {"after", e.reason}});
    }
    std::lock_guard lk(mu_);
    if (moved) {
        ++st_.failovers;
        st_.upstream_url = client_.upstream_url();
    }
    st_.network_ok = false;
    st_.refused = refused;
    st_.consecutive_failures = backoff_.failures();
    st_.next_attempt_in_ms = delay;
    st_.last_error = e.describe();
}

Status SyncWorker::round(std::int64_t now) {
    // Heartbeat first: cheap, and it tells the command centre we are alive even
    // when the upload below fails on a bad row.
    if (now >= next_heartbeat_) {
        std::string sensors = cfg_.sensors_json ? cfg_.sensors_json() : std::string("{}");
        std::uint64_t faults;
        {
            std::lock_guard lk(mu_);
            faults = st_.faults;
        }
        auto hb = client_.heartbeat_once(sensors, faults);
        if (!hb) return fail(hb.error());
        next_heartbeat_ = now + cfg_.heartbeat_interval_ms;
        std::lock_guard lk(mu_);
        st_.skew_ms = hb->skew_ms;
        st_.skewed = hb->skewed;
        // The answer names the published versions: a newer one is pulled in this
        // round rather than at the end of its interval.
        const PublishedVersions pub = client_.last_published();
        if (pub.list_version > st_.list_version) next_list_ = now;
        if (pub.trust_version > st_.trust_version) next_trust_ = now;
    }
    // Upload until the backlog is empty (rows journaled meanwhile are picked up too).
    for (std::size_t i = 0; i < cfg_.max_batches_per_round && !stop_.load(); ++i) {
        auto up = client_.upload_once();
        if (!up) {
            refresh_backlog();
            return fail(up.error());
        }
        {
            std::lock_guard lk(mu_);
            st_.acked_seq = std::max(st_.acked_seq, up->acked_seq);
            st_.uploaded_rows += static_cast<std::uint64_t>(up->marked);
            st_.conflicts += static_cast<std::uint64_t>(up->conflicts);
        }
        if (up->sent == 0) break;
    }
    refresh_backlog();
    if (stop_.load()) return {};
    if (now >= next_list_) {
        auto l = client_.pull_list_once();
        if (!l) return fail(l.error());
        next_list_ = now + cfg_.list_interval_ms;
        if (l->to_version != l->from_version)
            log::info(kCat, "status list updated",
                      {{"from", std::to_string(l->from_version)},
                       {"to", std::to_string(l->to_version)},
                       {"snapshot", l->snapshot ? "yes" : "no"},
                       {"deltas", std::to_string(l->deltas)}});
        std::lock_guard lk(mu_);
        st_.list_version = l->to_version;
    }
    if (stop_.load()) return {};
    if (!cfg_.trust_dir.empty() && now >= next_trust_) {
        std::int64_t current;
        {
            std::lock_guard lk(mu_);
            current = st_.trust_version;
        }
        auto t = client_.pull_trust_once(current);
        if (!t) return fail(t.error());
        if (t->has_value()) {
            if (auto s = install_trust_list(cfg_.trust_dir, **t); !s) return s;
            log::info(kCat, "trust list installed",
                      {{"version", std::to_string((*t)->version)},
                       {"issuers", std::to_string((*t)->issuers.size())}});
            {
                std::lock_guard lk(mu_);
                st_.trust_version = (*t)->version;
            }
            if (cfg_.on_trust_installed) cfg_.on_trust_installed(**t);
        }
        next_trust_ = now + cfg_.trust_interval_ms;
    }
    return {};
}

Status SyncWorker::guarded_round(std::int64_t now) {
    // Nothing thrown on this thread may reach std::terminate: a fault in a round
    // (a bug, an allocation failure, a throwing hook) is logged, counted and
    // retried with the ordinary backoff, and the lane keeps working.
    const char* what = nullptr;
    std::string detail;
    try {
        return round(now);
    } catch (const std::exception& e) {
        what = "exception";
        detail = e.what();
    } catch (...) {
        what = "exception";
        detail = "unknown exception";
    }
    std::uint64_t n;
    {
        std::lock_guard lk(mu_);
        n = ++st_.faults;
    }
    log::error(kCat, "fault in a sync round; retrying with backoff",
               {{"detail", detail.substr(0, 200)}, {"faults", std::to_string(n)}});
    return fail(ErrorKind::internal, reason::sync_fault, std::string(what) + ": " + detail.substr(0, 200));
}

void SyncWorker::run() {
    pthread_setname_np(pthread_self(), "sync");
    // Bounded: every iteration waits (idle or backoff) unless stopping, and stop_
    // ends it; there is no other exit.
    while (!stop_.load()) {
        const std::int64_t now = monotonic_now_ms();
        {
            std::lock_guard lk(mu_);
            st_.last_attempt_ms = wall_now_ms();
            ++st_.rounds;
        }
        auto r = guarded_round(now);
        if (stop_.load()) break;
        if (!r) {
            fail_round(r.error());
            std::int64_t delay;
            {
                std::lock_guard lk(mu_);
                delay = st_.next_attempt_in_ms;
            }
            if (!wait_ms(delay, false)) break;
            continue;
        }
        if (backoff_.failures() > 0)
            log::info(kCat, "sync restored", {{"failed_attempts", std::to_string(backoff_.failures())}});
        backoff_.reset();
        last_logged_refusal_.clear();
        last_failure_reason_.clear();
        {
            std::lock_guard lk(mu_);
            st_.network_ok = true;
            st_.refused = false;
            st_.last_success_ms = wall_now_ms();
            st_.consecutive_failures = 0;
            st_.next_attempt_in_ms = 0;
            st_.last_error.clear();
        }
        if (!wait_ms(cfg_.poll_interval_ms, true)) break;
    }
}

}  // namespace cp::sync
