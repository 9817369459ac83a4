// The upstream store's contract, run on both backends: SQLite (a temporary file) and
// PostgreSQL (a throw-away cluster, tests/upstream/pg_cluster.hpp). PostgreSQL-only
// cases: scan partitions and their retention, the publish lock between replicas.
#include "tests/testing.hpp"
#include "tests/upstream/pg_cluster.hpp"
#include "tools/upstream/pg_store.hpp"
#include "tools/upstream/sql_migrations.hpp"
#include "tools/upstream/store.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <thread>

using namespace cp::upstream;
using cp::upstream::testing::PgCluster;

namespace {

constexpr std::int64_t kNow = 1'780'000'000;  // 2026-05-28

struct Backend {
    const char* name;
    bool pg;
};
const Backend kBackends[] = {{"sqlite", false}, {"postgresql", true}};

// A fresh, empty store of one backend; `url` opens it again.
struct Fresh {
    cp::testing::TempDir tmp;
    std::string url;
    std::unique_ptr<UpstreamStore> store;
    explicit Fresh(bool pg, StoreOptions opts = {}) {
        url = pg ? PgCluster::shared().new_database() : (tmp / "cc.db").string();
        auto s = open_store(url, opts);
        REQUIRE_MESSAGE(s.ok(), s.error().describe());
        store = std::move(*s);
    }
};

Scan scan(const std::string& dev, std::int64_t seq, const std::string& verdict = "green",
          std::int64_t received = kNow) {
    Scan s;
    s.device_id = dev;
    s.seq = seq;
    s.scan_id = dev + "-" + std::to_string(seq);
    s.pass_id = "0123456789abcdef0123456789abcdef";
    s.verdict = verdict;
    s.reason = verdict == "red" ? "status-red" : "ok";
    s.temperature_c = seq % 2 ? std::optional<double>(36.6) : std::nullopt;
    s.time = received - 5;
    s.lane = "in";
    s.received_at = received;
    s.epoch = 3;
    return s;
}

}  // namespace

TEST_CASE("store contract on both backends: devices, idempotent ingest, conflicts, heartbeats") {
    for (const auto& b : kBackends) {
        CAPTURE(b.name);
        Fresh f(b.pg);
        auto& st = *f.store;
        REQUIRE(st.enroll_device("gate-01", std::string(64, 'a'), kNow).ok());
        CHECK(st.revoke_device("nobody", kNow).error().reason == "device");
        CHECK(st.ingest_scans("nobody", {scan("nobody", 1)}).error().kind == cp::ErrorKind::not_found);

        // 1, 2, 4 stored: acked 2; then 3 arrives with a re-send of 1: acked 4.
        auto r = st.ingest_scans("gate-01", {scan("gate-01", 1), scan("gate-01", 2, "red"), scan("gate-01", 4)});
        REQUIRE_MESSAGE(r.ok(), r.error().describe());
        CHECK(r->stored == 3);
        CHECK(r->acked_seq == 2);
        r = st.ingest_scans("gate-01", {scan("gate-01", 3), scan("gate-01", 1)});
        REQUIRE(r.ok());
        CHECK(r->stored == 1);
        CHECK(r->duplicates == 1);
        CHECK(r->acked_seq == 4);
        // Other content under a stored sequence: kept aside, counted, never replacing.
        auto other = scan("gate-01", 2, "green");
        r = st.ingest_scans("gate-01", {other});
        REQUIRE(r.ok());
        CHECK(r->conflicts == 1);
        CHECK((*st.find_device("gate-01"))->conflicts == 1);
        auto mixed = scan("gate-01", 9);
        mixed.epoch = 4;
        CHECK(st.ingest_scans("gate-01", {scan("gate-01", 8), mixed}).error().reason == "epoch");
        CHECK(*st.scan_count() == 4);  // the refused batch stored nothing

        auto rows = st.scans(10, 0, false, "");
        REQUIRE(rows.ok());
        REQUIRE(rows->size() == 4);
        CHECK(rows->front().rowid > rows->back().rowid);  // newest first
        CHECK(rows->front().scan.seq == 3);
        CHECK(rows->back().scan.temperature_c == std::optional<double>(36.6));
        auto alerts = st.scans(10, 0, true, "gate-01");
        REQUIRE(alerts.ok());
        REQUIRE(alerts->size() == 1);
        CHECK(alerts->front().scan.verdict == "red");
        CHECK(st.scans(10, rows->front().rowid, false, "")->empty());
        auto hours = st.scans_per_hour(kNow - 7200);
        REQUIRE(hours.ok());
        REQUIRE(hours->size() == 1);
        CHECK(hours->front().scans == 4);

        Heartbeat hb;
        hb.device_id = "gate-01";
        hb.firmware = "1.0";
        hb.sensors_json = "{}";
        hb.backlog = 3;
        REQUIRE(st.record_heartbeat(hb).ok());
        hb.backlog = 0;
        hb.firmware = "1.1";
        REQUIRE(st.record_heartbeat(hb).ok());
        REQUIRE(st.touch_device("gate-01", kNow + 5).ok());
        auto devs = st.devices();
        REQUIRE(devs.ok());
        REQUIRE(devs->size() == 1);
        CHECK(devs->front().last_heartbeat->firmware == "1.1");
        CHECK(devs->front().last_heartbeat->backlog == 0);
        CHECK(devs->front().last_seen == kNow + 5);
        CHECK(devs->front().device.acked_seq == 4);

        REQUIRE(st.revoke_device("gate-01", kNow).ok());
        REQUIRE(st.enroll_device("gate-01", std::string(64, 'b'), kNow).ok());
        CHECK((*st.find_device("gate-01"))->revoked);  // re-enrolling does not lift a revocation
        REQUIRE(st.unrevoke_device("gate-01", kNow).ok());
        CHECK_FALSE((*st.find_device("gate-01"))->revoked);
    }
}

TEST_CASE("store contract on both backends: statuses, list versions, issuers, reopening") {
    for (const auto& b : kBackends) {
        CAPTURE(b.name);
        Fresh f(b.pg);
        auto& st = *f.store;
        const std::string p1(32, '1'), p2(32, '2');
        REQUIRE(st.set_statuses({{p1, PassStatus::red, "fever", 0}, {p2, PassStatus::yellow, "", 0}}, kNow).ok());
        REQUIRE(st.set_statuses({{p2, PassStatus::green, "", 0}}, kNow + 1).ok());
        auto working = st.statuses();
        REQUIRE(working.ok());
        REQUIRE(working->size() == 2);
        CHECK(working->at(1).status == PassStatus::green);
        CHECK(working->at(1).since == kNow + 1);

        CHECK(*st.latest_list_version() == 0);
        ListVersion v{1, kNow, 2, 2, {1, 2, 3}, {}};
        REQUIRE(st.publish_list(v, *working).ok());
        CHECK(st.publish_list(v, *working).error().reason == "version");
        auto got = st.list_version(1);
        REQUIRE(got.ok());
        REQUIRE(got->has_value());
        CHECK((*got)->snapshot == cp::Bytes{1, 2, 3});
        CHECK((*got)->delta.empty());
        CHECK(st.published_entries()->size() == 2);
        CHECK_FALSE(st.list_version(2)->has_value());

        REQUIRE(st.add_issuer("fp1", cp::Bytes{9, 9}, kNow).ok());
        REQUIRE(st.add_issuer("fp1", cp::Bytes{8}, kNow).ok());
        CHECK(*st.issuers() == std::vector<cp::Bytes>{cp::Bytes{8}});
        CHECK(st.remove_issuer("fp2").error().kind == cp::ErrorKind::not_found);
        REQUIRE(st.add_trust_version({1, kNow, cp::Bytes{7}}).ok());
        CHECK((*st.latest_trust())->signed_list == cp::Bytes{7});

        // Opening again applies no step twice and keeps the data.
        f.store.reset();
        auto again = open_store(f.url);
        REQUIRE_MESSAGE(again.ok(), again.error().describe());
        CHECK(*(*again)->latest_list_version() == 1);
        CHECK((*again)->statuses()->size() == 2);
    }
}

TEST_CASE("a bad store URL or an unreachable PostgreSQL is a typed error") {
    auto r = open_store("postgresql:///nodb?host=/nonexistent-dir&connect_timeout=2");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().reason == "postgresql-open");
    CHECK(r.error().message.find("/nonexistent-dir") != std::string::npos);
    auto missing = open_store("postgresql:///no_such_database?host=" + PgCluster::shared().dir() + "&user=cp_test");
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error().reason == "postgresql-open");
}

TEST_CASE("postgresql: scans land in daily partitions made ahead; the retention drops old days") {
    StoreOptions opts;
    opts.partitions_ahead_days = 2;
    opts.scan_retention_days = 3;
    Fresh f(true, opts);
    auto& st = *f.store;
    REQUIRE(st.enroll_device("gate-01", std::string(64, 'a'), kNow).ok());
    auto db = open_pg_db(f.url);
    REQUIRE(db.ok());
    auto parts = pg_scan_partitions(**db);
    REQUIRE(parts.ok());
    // Opening made today's partition and two ahead (of the real clock).
    CHECK(parts->size() == 3);

    // Scans received on five consecutive days (a device's clock is not the server's:
    // received_at decides the partition).
    const std::int64_t day0 = kNow / 86400 * 86400;
    for (int d = 0; d < 5; ++d) {
        auto r = st.ingest_scans("gate-01", {scan("gate-01", d + 1, "green", day0 + d * 86400 + 60)});
        REQUIRE_MESSAGE(r.ok(), r.error().describe());
    }
    // The ingest on day0 + 4 ran the day's upkeep: day0 is past the 3-day retention.
    CHECK(*st.scan_count() == 4);
    Stmt where(db->get(), "SELECT tableoid::regclass::text FROM scans WHERE seq = 5");
    REQUIRE(*where.step());
    CHECK(where.text(0) == "scans_20260601");  // day0 + 4 = 2026-06-01

    // At day0 + 6 with a 3-day retention, days 0..2 go (their partitions dropped),
    // days 3 and 4 stay.
    REQUIRE(pg_maintain_scan_partitions(**db, day0 + 6 * 86400 + 10, opts).ok());
    CHECK(*st.scan_count() == 2);
    auto left = pg_scan_partitions(**db);
    REQUIRE(left.ok());
    CHECK(left->front() == "scans_20260531");
    // A day whose rows sit in the default partition gets no partition (no failure).
    Stmt dflt(db->get(), "SELECT count(*) FROM scans_default");
    REQUIRE(*dflt.step());
    CHECK(dflt.i64(0) == 0);
}

TEST_CASE("postgresql: two replicas publishing at once make exactly one new version") {
    Fresh f(true);
    auto second = open_store(f.url);
    REQUIRE(second.ok());
    UpstreamStore* replicas[2] = {f.store.get(), second->get()};
    const std::vector<StatusEntry> entries{{std::string(32, '1'), PassStatus::red, "x", 0}};
    for (std::int64_t round = 1; round <= 10; ++round) {
        std::atomic<int> ok{0}, busy{0}, late{0}, read{0};
        std::atomic<bool> go{false};
        std::vector<std::thread> threads;
        for (auto* r : replicas) {
            threads.emplace_back([&, r] {
                while (!go.load()) std::this_thread::yield();
                // Both replicas decide to publish the same next version (the schedule
                // fired on both), then race to store it.
                auto latest = r->latest_list_version();
                ++read;
                for (int spin = 0; read.load() < 2 && spin < 5'000'000; ++spin) std::this_thread::yield();
                if (!latest) return;
                ListVersion v{*latest + 1, kNow, 1, 1, cp::Bytes{static_cast<std::uint8_t>(round)}, {}};
                auto s = r->publish_list(v, entries);
                if (s.ok()) ++ok;
                else if (s.error().reason == "publish-busy") ++busy;
                else if (s.error().reason == "version") ++late;
            });
        }
        go = true;
        for (auto& t : threads) t.join();
        CAPTURE(round);
        CHECK(ok.load() == 1);
        CHECK(ok + busy + late == 2);
        CHECK(*f.store->latest_list_version() == round);
    }
}

TEST_CASE("postgresql: a store outlives a database restart") {
    // A cluster of its own: the restart cuts every connection.
    PgCluster cluster;
    const std::string url = cluster.new_database();
    auto s = open_store(url);
    REQUIRE_MESSAGE(s.ok(), s.error().describe());
    auto& st = **s;
    REQUIRE(st.enroll_device("gate-01", std::string(64, 'a'), kNow).ok());
    cluster.restart();
    // The statement that finds the connection cut fails (typed); the next one
    // connects again and sees the data.
    int failures = 0;
    std::optional<std::int64_t> count;
    for (int i = 0; i < 3 && !count; ++i) {
        auto r = st.ingest_scans("gate-01", {scan("gate-01", 1)});
        if (r.ok()) count = r->acked_seq;
        else {
            CHECK(r.error().reason == "postgresql");
            ++failures;
        }
    }
    CHECK(failures <= 1);
    REQUIRE(count.has_value());
    CHECK(*count == 1);
    CHECK((*st.find_device("gate-01"))->acked_seq == 1);
}

TEST_CASE("migrations: the PostgreSQL column types of a SQLite step") {
    CHECK(pg_ddl("CREATE TABLE t(id INTEGER PRIMARY KEY, n INTEGER NOT NULL, b BLOB, r REAL, "
                 "note TEXT DEFAULT 'INTEGER')") ==
          "CREATE TABLE t(id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, n BIGINT NOT NULL, b BYTEA, "
          "r DOUBLE PRECISION, note TEXT DEFAULT 'INTEGER')");
    CHECK(pg_ddl("CREATE TABLE a(x INTEGER PRIMARY KEY AUTOINCREMENT, INTEGERS TEXT)") ==
          "CREATE TABLE a(x BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, INTEGERS TEXT)");
    // SQLite's triggers are left out (a step gives PostgreSQL's in pg_extra).
    CHECK(pg_ddl("CREATE TABLE a(x INTEGER);\nCREATE TRIGGER a_no BEFORE DELETE ON a BEGIN SELECT RAISE(ABORT, 'no'); "
                 "END;\nCREATE INDEX a_x ON a(x);") == "CREATE TABLE a(x BIGINT);\nCREATE INDEX a_x ON a(x);");
}
