// Status list at city scale. Prints, beside a baseline measured in the same run:
//   - generation of a signed N-entry list file (streamed, two passes)
//   - import time and the importing process's peak RSS (measured in a child)
//   - lookup p50/p99 through StatusList vs a bare SQLite primary-key lookup on
//     the same file, and the peak RSS of a process that only answers lookups
// Numbers only; nothing passes or fails on timing.
#include "src/cli/args.hpp"
#include "src/status/list_format.hpp"
#include "tests/bench/list_gen.hpp"
#include "src/status/store.hpp"
#include "tests/bench/bench.hpp"

#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>

using namespace cp;
using namespace cp::status;
namespace fs = std::filesystem;

namespace {

using bench::secs_since;
using bench::splitmix;
ListEntry gen(std::uint64_t i, std::uint64_t n) { return bench::gen_entry(i, n); }

// Streams twice (hash, then write), so a 10M list never sits in memory.
void write_list(const fs::path& path, std::uint64_t n, const crypto::PrivateKey& key, const Bytes& kid) {
    ListHeader h;
    h.version = 1;
    h.created_at = 1'800'000'000;
    h.reasons = {"", "isolation", "close-contact"};
    h.entry_count = n;
    constexpr std::size_t kBatch = 65536;
    std::vector<std::uint8_t> buf(kBatch * kRecordSize);
    auto each_batch = [&](auto&& sink) {
        for (std::uint64_t i = 0; i < n;) {
            std::size_t k = 0;
            for (; k < kBatch && i < n; ++k, ++i) encode_record(gen(i, n), buf.data() + k * kRecordSize);
            sink(ByteView(buf.data(), k * kRecordSize));
        }
    };
    EntriesDigest digest;
    each_batch([&](ByteView b) { digest.update(b); });
    h.entries_sha256 = digest.finish();
    auto prefix = signed_prefix(h, key, kid);
    if (!prefix) std::abort();
    std::FILE* out = std::fopen(path.c_str(), "wb");
    if (!out) std::abort();
    std::fwrite(prefix->data(), 1, prefix->size(), out);
    each_batch([&](ByteView b) { std::fwrite(b.data(), 1, b.size(), out); });
    if (std::fclose(out) != 0) std::abort();
}

long child_maxrss_kib(pid_t pid, int* exit_code) {
    int st = 0;
    rusage ru{};
    ::wait4(pid, &st, 0, &ru);
    *exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return ru.ru_maxrss;
}

}  // namespace

int main(int argc, char** argv) {
    std::uint64_t n = 10'000'000ULL;
    CLI::App app{"status list install and lookup (docs/benchmarks.md)", "bench_status"};
    cp::cli::configure(app);
    cp::cli::add_int(&app, "N", n, 1, 1'000'000'000'000LL, "list entries")->default_str("10000000");
    if (auto rc = cp::cli::parse(app, argc, argv)) return *rc;
    fs::path dir = fs::temp_directory_path() / ("cp-bench-status-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    std::printf("status list benchmark, %llu entries, in %s\n", static_cast<unsigned long long>(n), dir.c_str());

    auto key = crypto::PrivateKey::generate_p256();
    auto der = key->self_signed_certificate("bench list signer", 1'700'000'000, 3650);
    Bytes kid = crypto::kid_of(*der);
    auto cert = crypto::Certificate::parse(*der);
    crypto::TrustStore trust;
    trust.add(std::move(cert).value());

    fs::path list = dir / "list.cpsl", db = dir / "status.db";
    auto t0 = std::chrono::steady_clock::now();
    write_list(list, n, *key, kid);
    std::printf("%-44s %8.2f s  (%.1f MB)\n", "generate signed list file", secs_since(t0),
                static_cast<double>(fs::file_size(list)) / 1e6);

    // Import in a child so its peak RSS is the import's alone.
    t0 = std::chrono::steady_clock::now();
    pid_t pid = ::fork();
    if (pid == 0) {
        auto store = open_sqlite_status_list(db.string());
        if (!store) ::_exit(2);
        auto r = (*store)->import_file(list.string(), trust);
        ::_exit(r.ok() ? 0 : 3);
    }
    int code = 0;
    long rss = child_maxrss_kib(pid, &code);
    std::printf("%-44s %8.2f s  peak RSS %.1f MiB  exit %d  db %.1f MB\n", "import (verify + build + swap)", secs_since(t0),
                static_cast<double>(rss) / 1024.0, code, static_cast<double>(fs::file_size(db)) / 1e6);
    if (code != 0) return 1;

    // Lookups in a child (a daemon-like process: nothing else in memory).
    int fds[2];
    if (::pipe(fds) != 0) return 1;
    pid = ::fork();
    if (pid == 0) {
        ::close(fds[0]);
        std::FILE* out = ::fdopen(fds[1], "w");
        auto store = open_sqlite_status_list(db.string());
        if (!store) ::_exit(2);
        std::mt19937_64 rng(42);
        const std::size_t runs = 200'000;
        auto present = bench::measure(runs, 20'000, [&] {
            auto e = (*store)->lookup(gen(rng() % n, n).id);
            if (!e.ok() || !e->has_value()) std::abort();
        });
        auto absent = bench::measure(runs / 4, 1000, [&] {
            auto id = gen(rng() % n, n).id;
            id[15] ^= 0x5a;
            auto e = (*store)->lookup(id);
            if (!e.ok()) std::abort();
        });
        // Baseline: the same query on the same file with bare SQLite, no wrapper.
        sqlite3* h = nullptr;
        sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr);
        sqlite3_exec(h, "PRAGMA cache_size=-4096; PRAGMA mmap_size=0;", nullptr, nullptr, nullptr);
        sqlite3_stmt* s = nullptr;
        sqlite3_prepare_v2(h, "SELECT status, reason, since FROM entries WHERE id = ?", -1, &s, nullptr);
        auto bare = bench::measure(runs, 20'000, [&] {
            auto id = gen(rng() % n, n).id;
            sqlite3_bind_blob(s, 1, id.data(), 16, SQLITE_STATIC);
            if (sqlite3_step(s) != SQLITE_ROW) std::abort();
            sqlite3_reset(s);
        });
        sqlite3_finalize(s);
        sqlite3_close(h);
        // The generator costs too: measure it alone so it can be subtracted.
        auto genonly = bench::measure(runs, 1000, [&] {
            volatile auto b = gen(rng() % n, n).id[0];
            (void)b;
        });
        std::fprintf(out, "%.3f %.3f %.3f %.3f %.3f %.3f %.3f %.3f\n", present.median_us, present.p99_us,
                     absent.median_us, absent.p99_us, bare.median_us, bare.p99_us, genonly.median_us, genonly.p99_us);
        std::fclose(out);
        ::_exit(0);
    }
    ::close(fds[1]);
    double v[8] = {};
    std::FILE* in = ::fdopen(fds[0], "r");
    int got = std::fscanf(in, "%lf %lf %lf %lf %lf %lf %lf %lf", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
    std::fclose(in);
    rss = child_maxrss_kib(pid, &code);
    if (got == 8) {
        std::printf("%-44s median %7.2f us  p99 %7.2f us\n", "StatusList::lookup, id present", v[0], v[1]);
        std::printf("%-44s median %7.2f us  p99 %7.2f us\n", "StatusList::lookup, id absent", v[2], v[3]);
        std::printf("%-44s median %7.2f us  p99 %7.2f us\n", "baseline: bare SQLite PK lookup", v[4], v[5]);
        std::printf("%-44s median %7.2f us  p99 %7.2f us  (included above)\n", "id generation alone", v[6], v[7]);
        std::printf("%-44s peak RSS %.1f MiB\n", "lookup process", static_cast<double>(rss) / 1024.0);
    }
    fs::remove_all(dir);
    return code;
}
