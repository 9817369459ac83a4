// Upstream ingest benchmark: N devices (default 200) at once, each on its own
// mutual-TLS connection to the real server on 127.0.0.1, uploading B batches of S
// scans. Bounded by count and by a wall-clock deadline. Baseline in the same run:
// the same rows inserted into a bare SQLite table, one transaction per batch.
//
// Usage: bench_upstream_ingest [devices=200] [batches=10] [scans_per_batch=50] [deadline_s=120]
#include "tests/bench/bench.hpp"
#include "tools/upstream/server.hpp"
#include "tools/upstream/store.hpp"

#include <httplib.h>
#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace cp;
using namespace cp::upstream;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

std::string read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::string out;
    char buf[4096];
    while (in.read(buf, sizeof buf) || in.gcount() > 0)
        out.append(buf, static_cast<std::size_t>(in.gcount()));
    return out;
}

// A temporary directory removed at exit (tests/testing.hpp's TempDir lives in a library
// that carries the doctest main).
struct TempDir {
    std::filesystem::path path;
    TempDir() {
        char tmpl[] = "/tmp/cp-bench-XXXXXX";
        const char* p = mkdtemp(tmpl);
        path = p ? p : "/tmp/cp-bench-fallback";
        std::filesystem::create_directories(path);
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    std::filesystem::path operator/(const std::string& n) const { return path / n; }
};

int arg(int argc, char** argv, int i, int def) {
    return argc > i ? std::max(1, std::atoi(argv[i])) : def;
}

std::string scan_batch(const std::string& dev, int first_seq, int n) {
    json scans = json::array();
    for (int i = 0; i < n; ++i) {
        int seq = first_seq + i;
        char pid[33];
        std::snprintf(pid, sizeof pid, "%032x", seq * 7919);
        scans.push_back({{"seq", seq}, {"scan_id", dev + "-" + std::to_string(seq)}, {"pass_id", pid},
                         {"verdict", seq % 20 == 0 ? "red" : "green"},
                         {"reason", seq % 20 == 0 ? "status-red" : "ok"}, {"temperature_c", 36.5},
                         {"time", 1764338000 + seq}, {"lane", "in-1"}});
    }
    return json{{"scans", scans}}.dump();
}

double sqlite_baseline(const std::string& path, int devices, int batches, int per_batch) {
    sqlite3* db = nullptr;
    sqlite3_open(path.c_str(), &db);
    sqlite3_exec(db,
                 "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                 "CREATE TABLE scans(device_id TEXT, seq INTEGER, scan_id TEXT, pass_id TEXT,"
                 " verdict TEXT, reason TEXT, temperature_c REAL, time INTEGER, lane TEXT,"
                 " PRIMARY KEY(device_id, seq));",
                 nullptr, nullptr, nullptr);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, "INSERT INTO scans VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9)", -1, &st, nullptr);
    auto t0 = Clock::now();
    for (int d = 0; d < devices; ++d) {
        std::string dev = "gate-" + std::to_string(d);
        for (int b = 0; b < batches; ++b) {
            sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
            for (int i = 0; i < per_batch; ++i) {
                int seq = b * per_batch + i + 1;
                std::string sid = dev + "-" + std::to_string(seq);
                char pid[33];
                std::snprintf(pid, sizeof pid, "%032x", seq * 7919);
                sqlite3_bind_text(st, 1, dev.c_str(), -1, SQLITE_TRANSIENT);
                sqlite3_bind_int64(st, 2, seq);
                sqlite3_bind_text(st, 3, sid.c_str(), -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(st, 4, pid, -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(st, 5, "green", -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 6, "ok", -1, SQLITE_STATIC);
                sqlite3_bind_double(st, 7, 36.5);
                sqlite3_bind_int64(st, 8, 1764338000 + seq);
                sqlite3_bind_text(st, 9, "in-1", -1, SQLITE_STATIC);
                sqlite3_step(st);
                sqlite3_reset(st);
            }
            sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
        }
    }
    double s = std::chrono::duration<double>(Clock::now() - t0).count();
    sqlite3_finalize(st);
    sqlite3_close(db);
    return s;
}

}  // namespace

int main(int argc, char** argv) {
    const int devices = arg(argc, argv, 1, 200);
    const int batches = arg(argc, argv, 2, 10);
    const int per_batch = arg(argc, argv, 3, 50);
    const int deadline_s = arg(argc, argv, 4, 120);

    TempDir tmp;
    const auto pki = tmp / "pki";
    std::string cmd = std::string("'") + CHECKPOINT_SOURCE_DIR + "/tools/test-pki' '" + pki.string() + "'";
    for (int d = 0; d < devices; ++d) cmd += " gate-" + std::to_string(d);
    cmd += " 2>/dev/null";
    if (std::system(cmd.c_str()) != 0) {
        std::fprintf(stderr, "SKIP: tools/test-pki failed (openssl CLI missing?)\n");
        return 77;
    }
    auto store = open_sqlite_store((tmp / "upstream.db").string());
    if (!store) return 1;
    for (int d = 0; d < devices; ++d) {
        auto id = certificate_identity(
            read_file(pki / ("device-gate-" + std::to_string(d) + ".crt")));
        if (!id || !(*store)->enroll_device(id->cn, id->fingerprint, 1)) return 1;
    }
    ServerConfig cfg;
    cfg.cert_path = (pki / "server.crt").string();
    cfg.key_path = (pki / "server.key").string();
    cfg.client_ca_path = (pki / "fleet-ca.crt").string();
    cfg.worker_threads = 64;
    cfg.max_connections_per_address = 256;  // the 200 simulated devices share 127.0.0.1
    auto server = UpstreamServer::create(cfg, **store);
    if (!server || !(*server)->start()) return 1;
    const int port = (*server)->port();

    std::atomic<long> acked{0}, failures{0};
    std::mutex lat_mu;
    std::vector<double> latencies_us;
    const auto deadline = Clock::now() + std::chrono::seconds(deadline_s);
    auto t0 = Clock::now();
    std::vector<std::thread> threads;
    for (int d = 0; d < devices; ++d) {
        threads.emplace_back([&, d] {
            const std::string dev = "gate-" + std::to_string(d);
            httplib::SSLClient c("localhost", port, (pki / ("device-" + dev + ".crt")).string(),
                                 (pki / ("device-" + dev + ".key")).string());
            c.set_ca_cert_path((pki / "fleet-ca.crt").string().c_str());
            c.enable_server_certificate_verification(true);
            c.set_connection_timeout(10, 0);
            c.set_read_timeout(30, 0);
            std::vector<double> mine;
            int b = 0, tries = 0;
            while (b < batches && tries < batches * 3 && Clock::now() < deadline) {
                ++tries;
                std::string body = scan_batch(dev, b * per_batch + 1, per_batch);
                auto s = Clock::now();
                auto r = c.Post("/v1/scans", body, "application/json");
                mine.push_back(std::chrono::duration<double, std::micro>(Clock::now() - s).count());
                if (!r || r->status != 200) {
                    ++failures;
                    continue;
                }
                auto j = json::parse(r->body, nullptr, false);
                if (!j.is_discarded() && j["acked_seq"] == (b + 1) * per_batch) acked += per_batch;
                ++b;
            }
            std::lock_guard lock(lat_mu);
            latencies_us.insert(latencies_us.end(), mine.begin(), mine.end());
        });
    }
    for (auto& t : threads) t.join();
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    (*server)->stop();
    auto stored = (*store)->scan_count();
    const long expected = static_cast<long>(devices) * batches * per_batch;

    const double base_s = sqlite_baseline((tmp / "baseline.db").string(), devices, batches, per_batch);
    std::printf("upstream ingest: %d devices x %d batches x %d scans, mTLS on 127.0.0.1, 2 cores\n",
                devices, batches, per_batch);
    std::printf("%-44s %10.0f scans/s  (%ld/%ld acked, %lld stored, %ld failed requests, %.2f s)\n",
                ("upstream POST /v1/scans (" + std::to_string(devices) + " devices at once)").c_str(), static_cast<double>(acked.load()) / secs,
                acked.load(), expected, stored ? static_cast<long long>(*stored) : -1LL,
                failures.load(), secs);
    cp::bench::print_row("  per-batch request latency", cp::bench::summarize(latencies_us));
    std::printf("%-44s %10.0f scans/s  (%.2f s)\n", "baseline: bare SQLite insert, txn per batch",
                static_cast<double>(expected) / base_s, base_s);
    return acked.load() == expected ? 0 : 1;
}
