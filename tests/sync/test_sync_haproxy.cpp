// The example load balancer config (tools/deploy/haproxy.cfg) as it is: HAProxy in
// TCP mode in front of two `upstream serve` replicas on one database; a device's
// sync thread gets through with mutual TLS (the replicas check its certificate),
// and keeps uploading when one replica is killed (SIGKILL): every scan once.
#include "tests/sync/process_fixture.hpp"
#include "tests/sync/sync_fixture.hpp"

#include <doctest/doctest.h>

#include <cstdlib>

using namespace cp;
using namespace cp::sync;
using namespace cp::sync::testing;
using namespace std::chrono_literals;

TEST_CASE("haproxy (tools/deploy/haproxy.cfg) in TCP mode before two replicas: mutual TLS passes, a replica dies") {
    const std::string haproxy = "/usr/sbin/haproxy";
    REQUIRE_MESSAGE(::access(haproxy.c_str(), X_OK) == 0, "haproxy is not installed (tools/dev.d/packages)");
    cp::testing::TempDir tmp;
    const auto pki = tmp / "pki";
    cp::upstream::testing::make_pki(pki);
    const auto db = tmp / "cc.db";
    {
        auto store = upstream::open_sqlite_store(db.string());
        REQUIRE(store.ok());
        for (const std::string id : {"gate-01", "gate-02"}) {
            auto ident = upstream::certificate_identity(cp::testing::read_file(pki / ("device-" + id + ".crt")));
            REQUIRE(ident.ok());
            REQUIRE((*store)->enroll_device(ident->cn, ident->fingerprint, 1).ok());
        }
    }
    int port1 = 0, port2 = 0;
    auto r1 = start_replica(pki, db, 0, tmp / "r1.log", &port1);
    auto r2 = start_replica(pki, db, 0, tmp / "r2.log", &port2);
    const int lb_port = free_port();
    ::setenv("CP_LB_BIND", ("127.0.0.1:" + std::to_string(lb_port)).c_str(), 1);
    ::setenv("CP_REPLICA_1", ("127.0.0.1:" + std::to_string(port1)).c_str(), 1);
    ::setenv("CP_REPLICA_2", ("127.0.0.1:" + std::to_string(port2)).c_str(), 1);
    const auto cfg = cp::upstream::testing::source_dir() / "tools" / "deploy" / "haproxy.cfg";
    Child lb({haproxy, "-db", "-f", cfg.string()}, tmp / "haproxy.log");

    auto device = [&](const std::string& id) {
        HttpsConfig h;
        h.base_url = "https://localhost:" + std::to_string(lb_port);
        h.ca_path = (pki / "fleet-ca.crt").string();
        h.cert_path = (pki / ("device-" + id + ".crt")).string();
        h.key_path = (pki / ("device-" + id + ".key")).string();
        h.connect_timeout_s = 2;
        h.transfer_timeout_s = 10;
        return h;
    };
    // The balancer is up when a request goes through it.
    {
        auto probe = HttpsClient::create(device("gate-01"));
        REQUIRE(probe.ok());
        REQUIRE_MESSAGE(eventually([&] {
            auto r = probe->get("/v1/list");
            return r.ok() && r->status == 200;
        }, 20s), lb.output());
        // A client certificate of another CA is refused by the replica behind it.
        HttpsConfig wrong = device("gate-01");
        wrong.cert_path = (pki / "server-wrong-ca.crt").string();
        wrong.key_path = (pki / "server-wrong-ca.key").string();
        auto other = HttpsClient::create(wrong);
        REQUIRE(other.ok());
        auto refused = other->get("/v1/list");
        CHECK((!refused.ok() || refused->status != 200));
    }

    FastDir dir;
    journal::JournalOptions jo;
    jo.device_id = "gate-01";
    jo.disk_floor_bytes = 0;
    auto journal = journal::ScanJournal::open((dir / "journal.db").string(), jo);
    REQUIRE(journal.ok());
    auto list = status::open_sqlite_status_list((dir / "status.db").string());
    REQUIRE(list.ok());
    crypto::TrustStore signers;
    REQUIRE(signers.add_pem_or_der(as_bytes(cp::testing::read_file(pki / "list-signer.crt"))).ok());
    SyncWorkerConfig c;
    c.https = device("gate-01");
    c.sync.device_id = "gate-01";
    c.sync.batch_rows = 20;
    c.poll_interval_ms = 20;
    c.heartbeat_interval_ms = 500;
    c.list_interval_ms = 60'000;
    c.backoff_initial_ms = 50;
    c.backoff_cap_ms = 500;
    auto w = SyncWorker::create(c, **journal, **list, signers);
    REQUIRE(w.ok());
    for (int i = 0; i < 100; ++i) REQUIRE((*journal)->append(Device::record(i)).ok());
    REQUIRE((*w)->start().ok());
    REQUIRE(eventually([&] { return (*w)->status().acked_seq == 100; }, 60s));
    r1->kill(SIGKILL);
    for (int i = 100; i < 250; ++i) REQUIRE((*journal)->append(Device::record(i)).ok());
    (*w)->wake();
    const bool done = eventually([&] {
        auto s = (*w)->status();
        return s.acked_seq == 250 && s.backlog == 0;
    }, 60s);
    INFO((*w)->status().last_error);
    CHECK(done);
    (*w)->stop();
    lb.kill(SIGTERM);
    r2->kill(SIGTERM);
    auto store = upstream::open_sqlite_store(db.string());
    REQUIRE(store.ok());
    CHECK((*store)->scan_count().value() == 250);
}
