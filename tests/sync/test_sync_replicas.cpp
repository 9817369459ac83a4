// End to end: two `upstream serve` processes on one database, four devices' sync
// threads uploading to them with both URLs configured; one replica is SIGKILLed
// while batches are in flight and restarted. Every scan is stored exactly once and
// no device is left stuck. Run on one SQLite file (WAL) and, on the host, on one
// throw-away PostgreSQL cluster (the city layout of docs/deployment.md).
#include "tests/sync/process_fixture.hpp"
#include "tests/sync/sync_fixture.hpp"
#ifdef CHECKPOINT_TEST_POSTGRESQL
#include "tests/upstream/pg_cluster.hpp"
#endif

#include <doctest/doctest.h>

#include <set>

using namespace cp;
using namespace cp::sync;
using namespace cp::sync::testing;
using namespace std::chrono_literals;

namespace {

// `db` is what `upstream serve --db` takes: a SQLite file or a postgresql:// URL.
void replicas_killed_mid_batch(const cp::testing::TempDir& tmp, const std::string& db) {
    const auto pki = tmp / "pki";
    cp::upstream::testing::make_pki(pki);
    const std::vector<std::string> ids = {"gate-01", "gate-02", "gate-03", "gate-04"};
    {
        auto store = upstream::open_store(db);
        REQUIRE(store.ok());
        for (const auto& id : ids) {
            auto ident = upstream::certificate_identity(cp::testing::read_file(pki / ("device-" + id + ".crt")));
            REQUIRE(ident.ok());
            REQUIRE((*store)->enroll_device(ident->cn, ident->fingerprint, 1).ok());
        }
    }
    int port_a = 0, port_b = 0;
    auto a = start_replica(pki, db, 0, tmp / "a.log", &port_a);
    auto b = start_replica(pki, db, 0, tmp / "b.log", &port_b);
    const std::string url_a = "https://localhost:" + std::to_string(port_a);
    const std::string url_b = "https://localhost:" + std::to_string(port_b);

    // A fixture Upstream is not started here: the devices only need its PKI layout.
    constexpr int kScans = 300;
    struct Dev {
        std::unique_ptr<FastDir> dir;
        std::unique_ptr<journal::ScanJournal> journal;
        std::unique_ptr<status::StatusList> list;
        crypto::TrustStore signers;
        std::unique_ptr<SyncWorker> worker;
    };
    std::vector<Dev> devs(ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i) {
        Dev& d = devs[i];
        d.dir = std::make_unique<FastDir>();
        journal::JournalOptions jo;
        jo.device_id = ids[i];
        jo.disk_floor_bytes = 0;
        auto j = journal::ScanJournal::open((*d.dir / "journal.db").string(), jo);
        REQUIRE(j.ok());
        d.journal = std::move(*j);
        auto l = status::open_sqlite_status_list((*d.dir / "status.db").string());
        REQUIRE(l.ok());
        d.list = std::move(*l);
        REQUIRE(d.signers.add_pem_or_der(as_bytes(cp::testing::read_file(pki / "list-signer.crt"))).ok());
        SyncWorkerConfig c;
        c.https.base_url = i % 2 ? url_b : url_a;  // half the devices start on each replica
        c.fallback_urls = {i % 2 ? url_a : url_b};
        c.https.ca_path = (pki / "fleet-ca.crt").string();
        c.https.cert_path = (pki / ("device-" + ids[i] + ".crt")).string();
        c.https.key_path = (pki / ("device-" + ids[i] + ".key")).string();
        c.https.connect_timeout_s = 2;
        c.https.transfer_timeout_s = 10;
        c.sync.device_id = ids[i];
        c.sync.batch_rows = 10;  // many small batches: the kill lands in one
        c.poll_interval_ms = 20;
        c.heartbeat_interval_ms = 500;
        c.list_interval_ms = 60'000;
        c.backoff_initial_ms = 50;
        c.backoff_cap_ms = 500;
        c.backoff_seed = 100 + i;
        auto w = SyncWorker::create(c, *d.journal, *d.list, d.signers);
        REQUIRE_MESSAGE(w.ok(), w.error().describe());
        d.worker = std::move(*w);
        REQUIRE(d.worker->start().ok());
    }

    // Scans keep arriving on every lane while replica A is killed and restarted.
    std::atomic<bool> feeding{true};
    std::thread feeder([&] {
        for (int n = 0; n < kScans && feeding; ++n) {
            for (auto& d : devs) {
                auto r = d.journal->append(Device::record(n));
                if (!r) return;
                d.worker->wake();
            }
            std::this_thread::sleep_for(5ms);
        }
    });
    // Kill A once uploads are under way (some acknowledged, not all).
    REQUIRE(eventually([&] {
        for (auto& d : devs)
            if (d.worker->status().acked_seq < 20) return false;
        return true;
    }, 60s));
    a->kill(SIGKILL);
    std::this_thread::sleep_for(700ms);
    a = start_replica(pki, db, port_a, tmp / "a2.log", &port_a);
    feeder.join();

    const bool all_done = eventually([&] {
        for (auto& d : devs) {
            auto s = d.worker->status();
            if (s.backlog != 0 || s.acked_seq != kScans) return false;
        }
        return true;
    }, 90s);
    for (std::size_t i = 0; i < devs.size(); ++i) {
        auto s = devs[i].worker->status();
        INFO(ids[i] << " acked " << s.acked_seq << " backlog " << s.backlog << " failovers " << s.failovers
                    << " error " << s.last_error);
        CHECK(s.acked_seq == kScans);
        CHECK(s.backlog == 0);
    }
    REQUIRE(all_done);
    // Devices that were on A moved to B.
    CHECK((devs[0].worker->status().failovers + devs[2].worker->status().failovers) >= 1);
    for (auto& d : devs) d.worker->stop();
    a->kill(SIGTERM);
    b->kill(SIGTERM);

    auto store = upstream::open_store(db);
    REQUIRE(store.ok());
    CHECK((*store)->scan_count().value() == static_cast<std::int64_t>(kScans * ids.size()));
    for (const auto& id : ids) {
        auto rows = (*store)->scans(kScans * 2, 0, false, id);
        REQUIRE(rows.ok());
        std::set<std::int64_t> seqs;
        for (const auto& r : *rows) seqs.insert(r.scan.seq);
        CHECK(rows->size() == static_cast<std::size_t>(kScans));
        CHECK(seqs.size() == static_cast<std::size_t>(kScans));
        CHECK(*seqs.begin() == 1);
        CHECK(*seqs.rbegin() == kScans);
        auto dev = (*store)->find_device(id);
        REQUIRE(dev.ok());
        CHECK((*dev)->conflicts == 0);
    }
    CHECK(no_thread_named("sync"));
}

}  // namespace

TEST_CASE("two replicas on one SQLite database, one SIGKILLed mid-batch and restarted: every scan once, no device stuck") {
    cp::testing::TempDir tmp;
    replicas_killed_mid_batch(tmp, (tmp / "cc.db").string());
}

#ifdef CHECKPOINT_TEST_POSTGRESQL
TEST_CASE("two replicas on one PostgreSQL, one SIGKILLed mid-batch and restarted: every scan once, no device stuck") {
    cp::testing::TempDir tmp;
    cp::upstream::testing::PgCluster pg;
    replicas_killed_mid_batch(tmp, pg.new_database());
}
#endif
