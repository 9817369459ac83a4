// loadgen: simulated devices against one or more `upstream serve` replicas, for the
// city-scale benchmark (docs/benchmarks.md, "Many devices"). Loopback only, bounded
// in device count and duration. Each simulated device has its own client
// certificate (tools/test-pki), uploads its scans at a rate in batches the way the
// sync thread does (POST /v1/scans with seq/epoch, gzip), sends heartbeats, and
// fails over to the next URL when a request fails. Reports acknowledged scans/s
// and the ack latency (scan made -> acknowledged) p50/p99, beside a baseline
// measured in the same run: the same rows ingested straight into a store (no TLS,
// no HTTP).
//
//   loadgen setup --pki DIR --db cc.db --devices N      certificates + enrollment
//   loadgen run --pki DIR --urls https://127.0.0.1:P[,https://...] --devices N
//               [--rate 1] [--duration-s 30] [--threads 8] [--batch-ms 1000]
//               [--heartbeat-s 30] [--baseline-db FILE] [--baseline-pg URL]
#include "src/common/time.hpp"
#include "src/sync/https_client.hpp"
#include "tools/upstream/server.hpp"
#include "tools/upstream/store.hpp"
#ifdef CP_LOADGEN_PG
#include "tools/loadgen/pg_baseline.hpp"
#endif

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace cp;
using nlohmann::json;

constexpr int kMaxDevices = 5000;
constexpr int kMaxDurationS = 600;
constexpr int kMaxThreads = 64;

const char* kUsage = R"(usage:
  loadgen setup --pki DIR --db FILE|postgresql://... --devices N
      makes device certificates lg-00001.. with tools/test-pki (TEST ONLY keys) in
      DIR (unless DIR holds them already) and enrolls them in the store (a SQLite
      file or a PostgreSQL URL)
  loadgen run --pki DIR --urls URL[,URL...] --devices N [--rate 1] [--duration-s 30]
      [--threads 8] [--batch-ms 1000] [--heartbeat-s 30] [--baseline-db FILE]
      [--baseline-pg postgresql://...]
      N devices (<= 5000) for at most 600 s against https:// URLs on loopback;
      baseline: the acknowledged rows into a fresh SQLite store (--baseline-db) or
      bare COPY / INSERT into a table of the scans shape on PostgreSQL (--baseline-pg)
)";

std::string device_name(int i) {
    char b[16];
    std::snprintf(b, sizeof b, "lg-%05d", i + 1);
    return b;
}

struct Options {
    std::map<std::string, std::string> v;
    std::string get(const std::string& k, const std::string& d = {}) const {
        auto it = v.find(k);
        return it == v.end() ? d : it->second;
    }
    long num(const std::string& k, long d, long lo, long hi) const {
        auto it = v.find(k);
        if (it == v.end()) return d;
        char* end = nullptr;
        long x = std::strtol(it->second.c_str(), &end, 10);
        if (!end || *end || x < lo || x > hi) {
            std::fprintf(stderr, "loadgen: --%s must be %ld..%ld\n", k.c_str(), lo, hi);
            std::exit(2);
        }
        return x;
    }
};

bool loopback(const std::string& url) {
    for (const char* p : {"https://127.", "https://localhost:", "https://localhost/", "https://[::1]"})
        if (url.rfind(p, 0) == 0) return true;
    return false;
}

int setup(const Options& o) {
    const std::string pki = o.get("pki"), db = o.get("db");
    const int n = static_cast<int>(o.num("devices", 0, 1, kMaxDevices));
    if (pki.empty() || db.empty()) return std::fprintf(stderr, "%s", kUsage), 2;
    std::string cmd = "'" + std::string(CHECKPOINT_SOURCE_DIR) + "/tools/test-pki' '" + pki + "'";
    for (int i = 0; i < n; ++i) cmd += " " + device_name(i);
    cmd += " >/dev/null";
    // A folder that already holds the certificates (an earlier run's) is used as it is.
    const bool have = std::filesystem::exists(pki + "/fleet-ca.crt") &&
                      std::filesystem::exists(pki + "/device-" + device_name(n - 1) + ".crt");
    if (!have && std::system(cmd.c_str()) != 0) return std::fprintf(stderr, "loadgen: tools/test-pki failed\n"), 1;
    auto store = upstream::open_store(db);
    if (!store) return std::fprintf(stderr, "loadgen: %s\n", store.error().describe().c_str()), 1;
    for (int i = 0; i < n; ++i) {
        std::FILE* f = std::fopen((pki + "/device-" + device_name(i) + ".crt").c_str(), "rb");
        if (!f) return std::fprintf(stderr, "loadgen: no certificate for %s\n", device_name(i).c_str()), 1;
        std::string pem;
        char buf[4096];
        std::size_t k;
        while ((k = std::fread(buf, 1, sizeof buf, f)) > 0) pem.append(buf, k);
        std::fclose(f);
        auto id = upstream::certificate_identity(pem);
        if (!id) return std::fprintf(stderr, "loadgen: %s\n", id.error().describe().c_str()), 1;
        auto st = (*store)->enroll_device(id->cn, id->fingerprint, wall_now_ms() / 1000);
        if (!st) return std::fprintf(stderr, "loadgen: %s\n", st.error().describe().c_str()), 1;
    }
    std::printf("%d devices in %s, enrolled\n", n, pki.c_str());
    return 0;
}

struct SimDevice {
    std::string id;
    std::vector<sync::HttpsClient> clients;  // one per URL
    std::size_t current = 0;
    std::int64_t epoch = 0;
    std::int64_t next_seq = 1;              // next scan to make
    std::int64_t acked = 0;                 // highest acknowledged seq
    std::vector<std::int64_t> made_ms;      // monotonic time each pending scan was made (seq acked+1..)
    std::int64_t next_upload_ms = 0, next_heartbeat_ms = 0;
    double scan_credit = 0;
};

struct Totals {
    std::mutex mu;
    std::vector<double> latency_ms;
    std::atomic<std::int64_t> acked{0}, errors{0}, failovers{0}, heartbeats{0}, requests{0}, uploads{0};
    std::map<std::string, std::int64_t> error_kinds;  // guarded by mu
    void error(const Result<sync::HttpResponse>& r) {
        ++errors;
        std::string k = r ? "HTTP " + std::to_string(r->status) + " " + r->body.substr(0, 80) : r.error().describe();
        std::lock_guard lk(mu);
        ++error_kinds[k];
    }
};

json scan_json(const SimDevice& d, std::int64_t seq, std::int64_t now_s) {
    return {{"seq", seq},       {"scan_id", d.id + "-" + std::to_string(d.epoch) + "-" + std::to_string(seq)},
            {"verdict", "green"}, {"reason", "ok"},
            {"time", now_s},    {"lane", "gate"},
            {"epoch", d.epoch}};
}

void drive(std::vector<SimDevice*> devs, const Options& o, std::int64_t end_ms, Totals& t) {
    const double rate = static_cast<double>(o.num("rate", 1, 1, 1000));
    const std::int64_t batch_ms = o.num("batch-ms", 1000, 10, 60'000);
    const std::int64_t hb_ms = o.num("heartbeat-s", 30, 1, 3600) * 1000;
    std::vector<double> lat;
    std::int64_t last_ms = monotonic_now_ms();
    // Bounded: ends at end_ms (every pass over the devices checks the clock).
    while (monotonic_now_ms() < end_ms) {
        const std::int64_t now = monotonic_now_ms();
        const double dt = static_cast<double>(now - last_ms) / 1000.0;
        last_ms = now;
        std::int64_t next_due = now + batch_ms;
        for (SimDevice* d : devs) {
            d->scan_credit += dt * rate;
            while (d->scan_credit >= 1.0) {  // scans happen at the lane at `rate`
                d->scan_credit -= 1.0;
                d->made_ms.push_back(now);
                ++d->next_seq;
            }
            auto& http = d->clients[d->current];
            if (now >= d->next_heartbeat_ms) {
                json hb = {{"firmware", "loadgen"}, {"list_version", 0},
                           {"backlog", static_cast<std::int64_t>(d->made_ms.size())},
                           {"wall_time_ms", wall_now_ms()}, {"sensors", json::object()},
                           {"journal_epoch", d->epoch}};
                ++t.requests;
                auto r = http.post_json("/v1/heartbeat", hb.dump(), false);
                if (r && r->status == 200) {
                    ++t.heartbeats;
                    d->next_heartbeat_ms = now + hb_ms;
                } else {
                    t.error(r);
                    d->current = (d->current + 1) % d->clients.size();
                    if (d->clients.size() > 1) ++t.failovers;
                    continue;
                }
            }
            if (now >= d->next_upload_ms && !d->made_ms.empty()) {
                const std::int64_t first = d->acked + 1;
                const std::size_t n = std::min<std::size_t>(d->made_ms.size(), 1000);
                json scans = json::array();
                const std::int64_t now_s = wall_now_ms() / 1000;
                for (std::size_t i = 0; i < n; ++i) scans.push_back(scan_json(*d, first + static_cast<std::int64_t>(i), now_s));
                json body = {{"device_id", d->id}, {"scans", std::move(scans)}};
                ++t.requests;
                auto r = http.post_json("/v1/scans", body.dump(), true);
                const std::int64_t done = monotonic_now_ms();
                std::int64_t acked = -1;
                if (r && r->status == 200) {
                    json a = json::parse(r->body, nullptr, false);
                    if (a.is_object() && a.contains("acked_seq") && a["acked_seq"].is_number_integer())
                        acked = a["acked_seq"].get<std::int64_t>();
                }
                if (acked < 0) {
                    t.error(r);
                    d->current = (d->current + 1) % d->clients.size();
                    if (d->clients.size() > 1) ++t.failovers;
                    d->next_upload_ms = now + batch_ms;  // then retry the same rows elsewhere
                    continue;
                }
                const std::int64_t newly = std::clamp<std::int64_t>(acked - d->acked, 0, static_cast<std::int64_t>(n));
                for (std::int64_t i = 0; i < newly; ++i)
                    lat.push_back(static_cast<double>(done - d->made_ms[static_cast<std::size_t>(i)]));
                d->made_ms.erase(d->made_ms.begin(), d->made_ms.begin() + newly);
                d->acked += newly;
                t.acked += newly;
                ++t.uploads;
                d->next_upload_ms = now + batch_ms;
            }
            next_due = std::min({next_due, d->next_upload_ms, d->next_heartbeat_ms});
        }
        const std::int64_t wait = std::min<std::int64_t>(next_due, end_ms) - monotonic_now_ms();
        if (wait > 0) std::this_thread::sleep_for(std::chrono::milliseconds(std::min<std::int64_t>(wait, 50)));
    }
    std::lock_guard lk(t.mu);
    t.latency_ms.insert(t.latency_ms.end(), lat.begin(), lat.end());
}

double quantile(std::vector<double>& v, double q) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v[static_cast<std::size_t>(q * static_cast<double>(v.size() - 1))];
}

// The same rows, straight into a fresh SQLite store in batches of `batch`.
void baseline(const std::string& path, int devices, std::int64_t rows, std::size_t batch) {
    std::error_code ec;
    std::filesystem::remove(path, ec);
    std::filesystem::remove(path + "-wal", ec);
    std::filesystem::remove(path + "-shm", ec);
    auto store = upstream::open_sqlite_store(path);
    if (!store) {
        std::fprintf(stderr, "loadgen: baseline: %s\n", store.error().describe().c_str());
        return;
    }
    for (int i = 0; i < devices; ++i) (void)(*store)->enroll_device(device_name(i), std::string(64, '0'), 1);
    const std::int64_t per = std::max<std::int64_t>(1, rows / devices);
    const auto t0 = std::chrono::steady_clock::now();
    std::int64_t done = 0;
    for (int i = 0; i < devices; ++i) {
        for (std::int64_t seq = 1; seq <= per;) {
            std::vector<upstream::Scan> b;
            for (std::size_t k = 0; k < batch && seq <= per; ++k, ++seq) {
                upstream::Scan s;
                s.device_id = device_name(i);
                s.seq = seq;
                s.epoch = 1;
                s.scan_id = s.device_id + "-1-" + std::to_string(seq);
                s.verdict = "green";
                s.reason = "ok";
                s.lane = "gate";
                s.time = 1;
                b.push_back(std::move(s));
            }
            auto r = (*store)->ingest_scans(device_name(i), b);
            if (!r) {
                std::fprintf(stderr, "loadgen: baseline: %s\n", r.error().describe().c_str());
                return;
            }
            done += static_cast<std::int64_t>(r->stored);
        }
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("baseline: %lld rows ingested straight into SQLite (batches of %zu, no TLS/HTTP) in %.2f s: "
                "%.0f rows/s\n",
                static_cast<long long>(done), batch, s, static_cast<double>(done) / s);
}

int run(const Options& o) {
    const std::string pki = o.get("pki");
    const int n = static_cast<int>(o.num("devices", 0, 1, kMaxDevices));
    const int duration = static_cast<int>(o.num("duration-s", 30, 1, kMaxDurationS));
    const int threads = static_cast<int>(o.num("threads", 8, 1, kMaxThreads));
    std::vector<std::string> urls;
    const std::string list = o.get("urls");
    for (std::size_t at = 0; at < list.size();) {
        std::size_t c = list.find(',', at);
        if (c == std::string::npos) c = list.size();
        urls.push_back(list.substr(at, c - at));
        at = c + 1;
    }
    if (pki.empty() || urls.empty()) return std::fprintf(stderr, "%s", kUsage), 2;
    for (const auto& u : urls)
        if (!loopback(u)) return std::fprintf(stderr, "loadgen: loopback URLs only: %s\n", u.c_str()), 2;

    const std::int64_t epoch = wall_now_ms() / 1000;  // a fresh journal epoch per run: no duplicates
    std::vector<SimDevice> devs(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
        SimDevice& d = devs[static_cast<std::size_t>(i)];
        d.id = device_name(i);
        d.epoch = epoch;
        d.current = static_cast<std::size_t>(i) % urls.size();  // spread over the replicas
        for (const auto& u : urls) {
            sync::HttpsConfig h;
            h.base_url = u;
            h.ca_path = pki + "/fleet-ca.crt";
            h.cert_path = pki + "/device-" + d.id + ".crt";
            h.key_path = pki + "/device-" + d.id + ".key";
            h.connect_timeout_s = 5;
            h.transfer_timeout_s = 30;
            // Its own loopback source address: the server limits connections per address.
            h.local_address = "127.1." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1);
            auto c = sync::HttpsClient::create(h);
            if (!c) return std::fprintf(stderr, "loadgen: %s: %s\n", d.id.c_str(), c.error().describe().c_str()), 1;
            d.clients.push_back(std::move(*c));
        }
        // Spread the first uploads and heartbeats over the first second / interval.
        d.next_upload_ms = monotonic_now_ms() + (i * 1000L) / n;
        d.next_heartbeat_ms = monotonic_now_ms() + (i * 1000L) / n;
    }
    Totals t;
    const std::int64_t start = monotonic_now_ms();
    const std::int64_t end = start + duration * 1000L;
    std::vector<std::thread> pool;
    for (int k = 0; k < threads; ++k) {
        std::vector<SimDevice*> mine;
        for (int i = k; i < n; i += threads) mine.push_back(&devs[static_cast<std::size_t>(i)]);
        pool.emplace_back([mine, &o, end, &t] { drive(mine, o, end, t); });
    }
    for (auto& th : pool) th.join();
    const double secs = static_cast<double>(monotonic_now_ms() - start) / 1000.0;
    std::int64_t made = 0;
    for (const auto& d : devs) made += d.next_seq - 1;
    std::printf("loadgen: %d devices, %zu URL(s), %d s, rate %ld scans/s each, batch every %ld ms\n", n, urls.size(),
                duration, o.num("rate", 1, 1, 1000), o.num("batch-ms", 1000, 10, 60'000));
    std::printf("scans made %lld, acknowledged %lld (%.0f scans/s), requests %lld (uploads acknowledged %lld), "
                "heartbeats %lld, errors %lld, failovers %lld\n",
                static_cast<long long>(made), static_cast<long long>(t.acked.load()),
                static_cast<double>(t.acked.load()) / secs, static_cast<long long>(t.requests.load()),
                static_cast<long long>(t.uploads.load()),
                static_cast<long long>(t.heartbeats.load()), static_cast<long long>(t.errors.load()),
                static_cast<long long>(t.failovers.load()));
    for (const auto& [k, c] : t.error_kinds)
        std::printf("  error x%lld: %s\n", static_cast<long long>(c), k.c_str());
    std::printf("ack latency (scan made -> acknowledged): p50 %.0f ms, p99 %.0f ms (n=%zu)\n",
                quantile(t.latency_ms, 0.5), quantile(t.latency_ms, 0.99), t.latency_ms.size());
    if (!o.get("baseline-db").empty()) baseline(o.get("baseline-db"), n, t.acked.load(), 1000);
    if (!o.get("baseline-pg").empty()) {
#ifdef CP_LOADGEN_PG
        const std::int64_t uploads = std::max<std::int64_t>(1, t.uploads.load());
        cp::loadgen::pg_baseline(o.get("baseline-pg"), n, t.acked.load(), 1000,
                                 (t.acked.load() + uploads / 2) / uploads, static_cast<int>(urls.size()));
#else
        std::fprintf(stderr, "loadgen: built without libpq: no --baseline-pg\n");
        return 2;
#endif
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) return std::fprintf(stderr, "%s", kUsage), 2;
    const std::string cmd = argv[1];
    Options o;
    for (int i = 2; i < argc; ++i) {
        std::string a = argv[i];
        if (a.rfind("--", 0) != 0 || i + 1 >= argc) return std::fprintf(stderr, "%s", kUsage), 2;
        o.v[a.substr(2)] = argv[++i];
    }
    if (cmd == "setup") return setup(o);
    if (cmd == "run") return run(o);
    std::fprintf(stderr, "%s", kUsage);
    return 2;
}
