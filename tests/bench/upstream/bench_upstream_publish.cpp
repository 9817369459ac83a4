// Publish benchmark: N statuses (default 10,000,000) in the SQLite store, then
// `publish_list` of version 1 (snapshot) and of version 2 after 1% changed
// (snapshot + delta), each in a child process whose peak RSS is read with wait4.
// Baseline in the same run: the in-memory builder (status::build_list over a
// vector of every entry, as publishing worked before streaming), also in a child.
//
// Usage: bench_upstream_publish [statuses=10000000]
// Bounded: N <= 50,000,000; the store and temporary files live under $TMPDIR.
#include "src/status/list_format.hpp"
#include "tools/upstream/lists.hpp"
#include "tools/upstream/store.hpp"

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

using namespace cp;
using namespace cp::upstream;
namespace fs = std::filesystem;

namespace {

std::string hex_id(std::uint64_t i) {
    char id[33];
    std::snprintf(id, sizeof id, "%016llx%016llx", 0x5eedULL, static_cast<unsigned long long>(i * 2654435761ULL));
    return id;
}

// Runs `body` in a child; prints seconds and the child's peak RSS.
void in_child(const char* name, const std::function<bool()>& body) {
    const auto t0 = std::chrono::steady_clock::now();
    pid_t pid = fork();
    if (pid == 0) _exit(body() ? 0 : 1);
    int st = 0;
    rusage ru{};
    wait4(pid, &st, 0, &ru);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%-52s %8.1f s   peak RSS %7.1f MiB   %s\n", name, s, static_cast<double>(ru.ru_maxrss) / 1024.0,
                WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "ok" : "FAILED");
    std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
    const long long n = argc > 1 ? std::atoll(argv[1]) : 10'000'000LL;
    if (n < 1 || n > 50'000'000LL) return std::fprintf(stderr, "statuses must be 1..50000000\n"), 2;
    char tmpl[] = "/tmp/cp-bench-publish-XXXXXX";
    if (!mkdtemp(tmpl)) return 1;
    const fs::path dir = tmpl;
    const std::string pki = (dir / "pki").string();
    if (std::system(("'" + std::string(CHECKPOINT_SOURCE_DIR) + "/tools/test-pki' '" + pki + "' >/dev/null 2>&1").c_str()) != 0)
        return std::fprintf(stderr, "tools/test-pki failed\n"), 1;
    auto signer = ListSigner::load(pki + "/list-signer.key", pki + "/list-signer.crt");
    if (!signer) return std::fprintf(stderr, "%s\n", signer.error().describe().c_str()), 1;
    const std::string db = (dir / "cc.db").string();
    {
        auto store = open_sqlite_store(db);
        if (!store) return 1;
        const auto t0 = std::chrono::steady_clock::now();
        std::vector<StatusEntry> chunk;
        for (long long i = 0; i < n; ++i) {
            chunk.push_back({hex_id(static_cast<std::uint64_t>(i)), i % 50 == 0 ? PassStatus::red : PassStatus::green,
                             i % 50 == 0 ? "isolation" : "", 1});
            if (chunk.size() == 100'000 || i + 1 == n) {
                if (!(*store)->set_statuses(chunk, 1)) return 1;
                chunk.clear();
            }
        }
        std::printf("%lld statuses written to the store in %.1f s\n", n,
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    in_child("baseline: in-memory build_list of every entry", [&] {
        auto store = open_sqlite_store(db);
        if (!store) return false;
        auto all = (*store)->statuses();
        if (!all) return false;
        std::vector<status::ListEntry> e;
        e.reserve(all->size());
        for (const auto& s : *all) {
            status::ListEntry le;
            auto id = from_hex(s.pass_id);
            std::copy(id->begin(), id->end(), le.id.begin());
            le.op = s.status == PassStatus::red ? status::Op::red : status::Op::green;
            le.reason = s.status == PassStatus::red ? 1 : 0;
            e.push_back(le);
        }
        status::ListHeader h;
        h.version = 1;
        h.created_at = 1;
        h.reasons = {"", "isolation"};
        auto b = status::build_list(h, std::move(e), signer->list_key(), signer->kid());
        return b.ok();
    });
    in_child("publish_list v1 (streamed snapshot)", [&] {
        auto store = open_sqlite_store(db);
        return store && publish_list(**store, *signer, 100).ok();
    });
    {
        auto store = open_sqlite_store(db);
        if (!store) return 1;
        std::vector<StatusEntry> changed;
        for (long long i = 0; i < n; i += 100)
            changed.push_back({hex_id(static_cast<std::uint64_t>(i)), PassStatus::yellow, "check", 2});
        if (!(*store)->set_statuses(changed, 2)) return 1;
    }
    in_child("publish_list v2 (streamed snapshot + 1% delta)", [&] {
        auto store = open_sqlite_store(db);
        return store && publish_list(**store, *signer, 200).ok();
    });
    std::error_code ec;
    fs::remove_all(dir, ec);
    return 0;
}
