// Delta-serving benchmark: a signed delta of C changes (default 100,000) to a list of
// B entries (default 1,000,000) published by the real `publish_list`, then D devices
// (default 2,000), each with its own client certificate (tools/test-pki) and its own
// loopback source address, fetch it through the real UpstreamServer on 127.0.0.1 as
// a device's sync thread does: a new mutual-TLS connection, GET
// /v1/list/deltas?since=1, then GET of each delta it names (product HttpsClient,
// libcurl). T client threads (default 32) take the devices in turn. Every body is
// compared with the published delta.
// Baseline in the same run: the same files, written by `upstream publish --export`
// (export_lists), served to the same clients in the same way by a bare static file
// server (cpp-httplib's mount point, the upstream's own HTTP and TLS stack, mutual
// TLS against the same fleet CA, as many workers): what serving the bytes costs
// without the store read and the device check.
//
// Usage: bench_upstream_delta [devices=2000] [changes=100000] [base=1000000] [threads=32] [deadline_s=600]
// Bounded: devices <= 5000, base <= 10,000,000, each phase ends at the deadline.
#include "src/sync/https_client.hpp"
#include "tools/upstream/lists.hpp"
#include "tools/upstream/lists_export.hpp"
#include "tools/upstream/server.hpp"
#include "tools/upstream/store.hpp"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace cp;
using namespace cp::upstream;
using nlohmann::json;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

namespace {

std::string device_name(int i) {
    char b[16];
    std::snprintf(b, sizeof b, "dv-%05d", i + 1);
    return b;
}

std::string pass_id(long long i) {
    char id[33];
    std::snprintf(id, sizeof id, "%016llx%016llx", 0xde17aULL, static_cast<unsigned long long>(i) * 2654435761ULL);
    return id;
}

long arg(int argc, char** argv, int i, long def, long lo, long hi) {
    if (argc <= i) return def;
    const long v = std::atol(argv[i]);
    if (v < lo || v > hi) {
        std::fprintf(stderr, "argument %d must be %ld..%ld\n", i, lo, hi);
        std::exit(2);
    }
    return v;
}

struct Phase {
    double seconds = 0;
    long fetched = 0, failed = 0, bytes = 0;
    std::vector<double> ms;  // per device: both requests, handshake included
    std::string first_error;
};

// D devices fetch the plan and the deltas it names from `base_url`; bounded by `deadline`.
Phase fetch_all(const std::string& base_url, const fs::path& pki, int devices, int threads, const Bytes& expected,
                Clock::time_point deadline) {
    Phase p;
    std::mutex mu;
    std::atomic<int> next{0};
    std::atomic<long> fetched{0}, failed{0}, bytes{0};
    const auto t0 = Clock::now();
    std::vector<std::thread> pool;
    for (int k = 0; k < threads; ++k) {
        pool.emplace_back([&] {
            std::vector<double> mine;
            std::string err;
            for (int i = next++; i < devices && Clock::now() < deadline; i = next++) {
                const std::string dev = device_name(i);
                sync::HttpsConfig h;
                h.base_url = base_url;
                h.ca_path = (pki / "fleet-ca.crt").string();
                h.cert_path = (pki / ("device-" + dev + ".crt")).string();
                h.key_path = (pki / ("device-" + dev + ".key")).string();
                h.connect_timeout_s = 10;
                h.transfer_timeout_s = 60;
                h.local_address = "127.2." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1);
                const auto s = Clock::now();
                auto fail = [&](const std::string& why) {
                    ++failed;
                    if (err.empty()) err = dev + ": " + why;
                };
                auto c = sync::HttpsClient::create(h);
                if (!c) {
                    fail(c.error().describe());
                    continue;
                }
                auto plan = c->get("/v1/list/deltas?since=1");
                if (!plan || plan->status != 200) {
                    fail(plan ? "plan HTTP " + std::to_string(plan->status) : plan.error().describe());
                    continue;
                }
                json j = json::parse(plan->body, nullptr, false);
                long got = 0;
                bool ok = j.is_object() && j.contains("deltas") && j["deltas"].is_array() && !j["deltas"].empty();
                for (const auto& d : ok ? j["deltas"] : json::array()) {
                    if (!d.is_object() || d.value("version", 0) <= 1) continue;
                    auto r = c->get(d.value("url", ""));
                    if (!r || r->status != 200 || r->body.size() != expected.size() ||
                        !std::equal(r->body.begin(), r->body.end(), expected.begin(),
                                    [](char a, std::uint8_t b) { return static_cast<std::uint8_t>(a) == b; })) {
                        ok = false;
                        fail(r ? "delta HTTP " + std::to_string(r->status) + ", " + std::to_string(r->body.size()) +
                                     " bytes"
                               : r.error().describe());
                        break;
                    }
                    got += static_cast<long>(r->body.size() + plan->body.size());
                }
                if (!ok || got == 0) {
                    if (ok) fail("no delta in the plan: " + plan->body.substr(0, 200));
                    continue;
                }
                mine.push_back(std::chrono::duration<double, std::milli>(Clock::now() - s).count());
                ++fetched;
                bytes += got;
            }
            std::lock_guard lk(mu);
            p.ms.insert(p.ms.end(), mine.begin(), mine.end());
            if (p.first_error.empty()) p.first_error = err;
        });
    }
    for (auto& t : pool) t.join();
    p.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    p.fetched = fetched;
    p.failed = failed;
    p.bytes = bytes;
    return p;
}

double quantile(std::vector<double> v, double q) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v[static_cast<std::size_t>(q * static_cast<double>(v.size() - 1))];
}

void print(const char* name, const Phase& p) {
    std::printf("%-46s %7.2f s  %7.0f deltas/s  %7.1f MB/s  p50 %7.1f ms  p99 %7.1f ms  (%ld fetched, %ld failed)\n",
                name, p.seconds, static_cast<double>(p.fetched) / p.seconds,
                static_cast<double>(p.bytes) / p.seconds / 1e6, quantile(p.ms, 0.5), quantile(p.ms, 0.99), p.fetched,
                p.failed);
    if (!p.first_error.empty()) std::printf("  first error: %s\n", p.first_error.c_str());
    std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
    const int devices = static_cast<int>(arg(argc, argv, 1, 2000, 1, 5000));
    const long changes = arg(argc, argv, 2, 100'000, 1, 10'000'000);
    const long base = arg(argc, argv, 3, 1'000'000, 1, 10'000'000);
    const int threads = static_cast<int>(arg(argc, argv, 4, 32, 1, 256));
    const long deadline_s = arg(argc, argv, 5, 600, 1, 3600);
    if (changes > base) return std::fprintf(stderr, "changes must not exceed base\n"), 2;

    char tmpl[] = "/tmp/cp-bench-delta-XXXXXX";
    if (!mkdtemp(tmpl)) return 1;
    const fs::path dir = tmpl;
    struct Cleanup {
        fs::path d;
        ~Cleanup() {
            std::error_code ec;
            fs::remove_all(d, ec);
        }
    } cleanup{dir};
    const fs::path pki = dir / "pki";

    auto t0 = Clock::now();
    std::string cmd = "'" + std::string(CHECKPOINT_SOURCE_DIR) + "/tools/test-pki' '" + pki.string() + "'";
    for (int i = 0; i < devices; ++i) cmd += " " + device_name(i);
    cmd += " >/dev/null 2>&1";
    if (std::system(cmd.c_str()) != 0) return std::fprintf(stderr, "tools/test-pki failed\n"), 1;
    std::printf("%d device certificates made in %.1f s (not measured below)\n", devices,
                std::chrono::duration<double>(Clock::now() - t0).count());

    auto signer = ListSigner::load((pki / "list-signer.key").string(), (pki / "list-signer.crt").string());
    if (!signer) return std::fprintf(stderr, "%s\n", signer.error().describe().c_str()), 1;
    auto store = open_sqlite_store((dir / "cc.db").string());
    if (!store) return std::fprintf(stderr, "%s\n", store.error().describe().c_str()), 1;
    for (int i = 0; i < devices; ++i) {
        auto pem = read_text_file((pki / ("device-" + device_name(i) + ".crt")).string());
        if (!pem) return 1;
        auto id = certificate_identity(*pem);
        if (!id || !(*store)->enroll_device(id->cn, id->fingerprint, 1)) return 1;
    }

    // Version 1: the base list; version 2: `changes` of its passes changed.
    std::vector<StatusEntry> chunk;
    for (long i = 0; i < base; ++i) {
        chunk.push_back({pass_id(i), i % 50 == 0 ? PassStatus::red : PassStatus::green, i % 50 == 0 ? "isolation" : "",
                         1});
        if (chunk.size() == 100'000 || i + 1 == base) {
            if (!(*store)->set_statuses(chunk, 1)) return 1;
            chunk.clear();
        }
    }
    if (auto v = publish_list(**store, *signer, 100); !v) return std::fprintf(stderr, "%s\n", v.error().describe().c_str()), 1;
    const long stride = base / changes;
    for (long k = 0; k < changes; ++k) {
        const long i = k * stride;
        chunk.push_back({pass_id(i), i % 50 == 0 ? PassStatus::green : PassStatus::red, i % 50 == 0 ? "" : "isolation",
                         2});
        if (chunk.size() == 100'000 || k + 1 == changes) {
            if (!(*store)->set_statuses(chunk, 2)) return 1;
            chunk.clear();
        }
    }
    auto v2 = publish_list(**store, *signer, 200);
    if (!v2) return std::fprintf(stderr, "%s\n", v2.error().describe().c_str()), 1;
    auto lv = (*store)->list_version(2);
    if (!lv || !*lv) return 1;
    const Bytes expected = (*lv)->delta;
    std::printf("delta v1 -> v2: %lld changes to %ld entries, %zu bytes\n", static_cast<long long>(v2->changes), base,
                expected.size());
    if (auto e = export_lists(**store, (dir / "export").string(), 50); !e) return 1;

    // The real upstream: as many workers as client threads (plus a margin for lingering
    // connections); each device has its own source address, so the per-address limit holds.
    ServerConfig cfg;
    cfg.cert_path = (pki / "server.crt").string();
    cfg.key_path = (pki / "server.key").string();
    cfg.client_ca_path = (pki / "fleet-ca.crt").string();
    cfg.worker_threads = static_cast<std::size_t>(threads) * 2;
    auto server = UpstreamServer::create(cfg, **store);
    if (!server || !(*server)->start()) return std::fprintf(stderr, "upstream did not start\n"), 1;

    // The baseline: a bare static file server over the exported files, same TLS rules.
    httplib::SSLServer plain(cfg.cert_path.c_str(), cfg.key_path.c_str(), cfg.client_ca_path.c_str());
    if (!plain.is_valid()) return std::fprintf(stderr, "static server: TLS setup failed\n"), 1;
    const std::size_t workers = cfg.worker_threads;
    plain.new_task_queue = [workers] { return new httplib::ThreadPool(workers); };
    plain.set_keep_alive_timeout(2);
    if (!plain.set_mount_point("/", (dir / "export").string())) return 1;
    const int plain_port = plain.bind_to_any_port("127.0.0.1");
    if (plain_port <= 0) return 1;
    std::thread plain_thread([&] { plain.listen_after_bind(); });
    for (int i = 0; i < 500 && !plain.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));

    std::printf("%d devices, %d client threads, a new mutual-TLS connection per device, 127.0.0.1, %u cores\n",
                devices, threads, std::thread::hardware_concurrency());
    const auto deadline = Clock::now() + std::chrono::seconds(deadline_s);
    const std::string upstream_url = "https://localhost:" + std::to_string((*server)->port());
    const std::string plain_url = "https://localhost:" + std::to_string(plain_port);
    // Interleaved (upstream, static, upstream, static) so both see the same load.
    Phase up1 = fetch_all(upstream_url, pki, devices, threads, expected, deadline);
    print("upstream GET /v1/list/deltas + delta", up1);
    Phase st1 = fetch_all(plain_url, pki, devices, threads, expected, deadline);
    print("baseline: static files (httplib mount point)", st1);
    Phase up2 = fetch_all(upstream_url, pki, devices, threads, expected, deadline);
    print("upstream, second round", up2);
    Phase st2 = fetch_all(plain_url, pki, devices, threads, expected, deadline);
    print("baseline, second round", st2);

    plain.stop();
    plain_thread.join();
    (*server)->stop();
    const bool all = up1.fetched == devices && up2.fetched == devices && st1.fetched == devices &&
                     st2.fetched == devices;
    return all ? 0 : 1;
}
