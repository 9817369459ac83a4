// A 24-hour outage of the command centre, compressed in time: the device journals
// CP_SYNC_OUTAGE_SCANS scans (default 100,000; wall times spread over the past 24 h)
// while the server is down and the SyncWorker backs off (cap 200 ms here); then the
// server comes back on the same port with the same store, and while the catch-up
// runs a scanner thread keeps journaling. Every row arrives, none twice, in
// per-device order.
//
// The journal lives on /dev/shm when available (tests/sync/sync_fixture.hpp
// FastDir): it fsyncs every append, which on a disk-backed $TMPDIR would make
// 100,000 appends take minutes.
#include "tests/sync/sync_fixture.hpp"

#include "src/common/time.hpp"

#include <doctest/doctest.h>

#include <algorithm>

using namespace cp;
using namespace cp::sync;
using namespace cp::sync::testing;
using namespace std::chrono_literals;

namespace {
long env_long(const char* name, long dflt) {
    const char* v = std::getenv(name);
    return v && *v ? std::strtol(v, nullptr, 10) : dflt;
}
}  // namespace

TEST_CASE("24-hour outage: every scan arrives once, in order, while scanning goes on") {
    const long outage_scans = env_long("CP_SYNC_OUTAGE_SCANS", cp::testing::emulated() ? 10'000 : 100'000);
    const long live_scans = std::max(100L, outage_scans / 50);
    MESSAGE("outage scans: " << outage_scans << ", during catch-up: " << live_scans);

    Upstream up;
    up.enroll("gate-01");
    const int port = up.server->port();
    up.server->stop();  // the command centre goes down
    Device dev(up);

    SyncWorkerConfig cfg;
    cfg.https = https_for(up, port);
    cfg.sync.device_id = "gate-01";
    cfg.sync.batch_rows = 1000;  // the server's maximum per batch
    cfg.poll_interval_ms = 20;
    cfg.heartbeat_interval_ms = 1000;
    cfg.list_interval_ms = 60'000;
    cfg.backoff_initial_ms = 10;
    cfg.backoff_cap_ms = 200;
    auto w = SyncWorker::create(cfg, *dev.journal, *dev.list, dev.signers);
    REQUIRE_MESSAGE(w.ok(), w.error().describe());
    REQUIRE((*w)->start().ok());

    // 24 hours of scans, journaled while the upstream is unreachable.
    const std::int64_t now = wall_now_ms();
    const std::int64_t day = 24LL * 3600 * 1000;
    for (long i = 0; i < outage_scans; ++i) {
        auto a = dev.journal->append(Device::record(i, now - day + day * i / outage_scans));
        REQUIRE_MESSAGE(a.ok(), a.error().describe());
    }
    auto down = (*w)->status();
    CHECK_FALSE(down.network_ok);
    CHECK(down.consecutive_failures >= 1);
    CHECK(down.next_attempt_in_ms <= 200);  // the capped backoff
    CHECK(dev.journal->stats()->pending == outage_scans);
    CHECK(up.store->scan_count().value() == 0);

    // The command centre comes back; scanning goes on during the catch-up.
    up.server = start_server(up, port);
    std::atomic<long> appended{0};
    std::atomic<bool> scan_error{false};
    std::thread scanner([&] {
        for (long i = 0; i < live_scans; ++i) {
            if (!dev.journal->append(Device::record(outage_scans + i)).ok()) {
                scan_error = true;
                return;
            }
            ++appended;
            if (i % 10 == 0) std::this_thread::sleep_for(1ms);
        }
    });
    // Check that the catch-up really overlaps the scanning: rows were acknowledged
    // while the scanner was still appending (or the scanner finished first on a very
    // fast machine, which the counts below still cover).
    const long total = outage_scans + live_scans;
    const auto deadline = cp::testing::emulated() ? 900s : 100s;
    bool drained = eventually([&] {
        auto st = dev.journal->stats();
        auto ws = (*w)->status();
        return appended == live_scans && st && st->pending == 0 && ws.backlog == 0 && ws.network_ok;
    }, std::chrono::duration_cast<std::chrono::milliseconds>(deadline));
    scanner.join();
    REQUIRE_FALSE(scan_error);
    REQUIRE_MESSAGE(drained, "pending: " << dev.journal->stats()->pending);
    auto s = (*w)->status();
    CHECK(s.network_ok);
    CHECK(s.acked_seq == total);
    (*w)->stop();
    CHECK(no_thread_named("sync"));

    // Server side: seq 1..total each exactly once, stored in sequence order.
    auto rows = up.store->scans(static_cast<std::size_t>(total) + 10, 0, false, "gate-01");
    REQUIRE(rows.ok());
    REQUIRE(rows->size() == static_cast<std::size_t>(total));
    std::sort(rows->begin(), rows->end(), [](const auto& a, const auto& b) { return a.rowid < b.rowid; });
    bool in_order = true;
    for (std::size_t i = 0; i < rows->size(); ++i) {
        if ((*rows)[i].scan.seq != static_cast<std::int64_t>(i) + 1) {
            in_order = false;
            MESSAGE("row " << i << " has seq " << (*rows)[i].scan.seq);
            break;
        }
    }
    CHECK(in_order);
    CHECK((*rows)[0].scan.time * 1000 <= now - day + 1000);  // the outage's first scan kept its time
    auto devs = up.store->devices();
    REQUIRE(devs.ok());
    CHECK((*devs)[0].device.acked_seq == total);
}
