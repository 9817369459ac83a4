// Backup and restore of a city's PostgreSQL database (docs/deployment.md "How to
// restore"): a populated upstream (statuses, published lists, devices, scans,
// residents with passes, operators, audit) is dumped with pg_dump (custom format),
// restored with pg_restore into a second throw-away cluster, and the upstream started
// on the restored database carries on: a device's list version continues, its scans
// are acknowledged exactly once across the restore, operators log in, residents'
// pass pages still open. And the physical copy (pg_basebackup) a standby starts from.
// Always on PostgreSQL (two clusters of tests/upstream/pg_cluster.hpp).
#include "tests/upstream/console/console_fixture.hpp"

#include "tools/upstream/console/identity.hpp"
#include "tools/upstream/console/residents.hpp"
#include "tools/upstream/server.hpp"

#include <doctest/doctest.h>

#include <cstdlib>

using namespace cp;
using namespace cp::upstream;
using namespace cp::upstream::console;
using namespace cp::upstream::console::testing;
using cp::upstream::testing::PgCluster;

namespace {

// The city of console_fixture.hpp lives on PostgreSQL whatever the environment says.
const bool kOnPostgresql = [] { return ::setenv("CHECKPOINT_TEST_STORE", "postgresql", 1) == 0; }();

// The device API of `store` over mutual TLS (as `upstream serve` runs it).
std::unique_ptr<UpstreamServer> device_api(UpstreamStore& store, const std::filesystem::path& pki) {
    ServerConfig cfg;
    cfg.cert_path = (pki / "server.crt").string();
    cfg.key_path = (pki / "server.key").string();
    cfg.client_ca_path = (pki / "fleet-ca.crt").string();
    cfg.read_timeout_s = 5;
    auto srv = UpstreamServer::create(cfg, store);
    REQUIRE(srv.ok());
    REQUIRE((*srv)->start().ok());
    return std::move(*srv);
}

std::unique_ptr<httplib::SSLClient> device(const std::filesystem::path& pki, int port, const std::string& id) {
    auto c = std::make_unique<httplib::SSLClient>("localhost", port, (pki / ("device-" + id + ".crt")).string(),
                                                  (pki / ("device-" + id + ".key")).string());
    c->set_ca_cert_path((pki / "fleet-ca.crt").string().c_str());
    c->enable_server_certificate_verification(true);
    c->set_connection_timeout(5, 0);
    c->set_read_timeout(10, 0);
    return c;
}

json upload(httplib::SSLClient& c, std::int64_t first, std::int64_t last, std::int64_t now) {
    json scans = json::array();
    for (std::int64_t seq = first; seq <= last; ++seq)
        scans.push_back({{"seq", seq}, {"scan_id", "g1-" + std::to_string(seq)}, {"pass_id", kPassA},
                         {"verdict", "green"}, {"reason", "ok"}, {"time", now}, {"lane", "in-1"}});
    auto r = c.Post("/v1/scans", json{{"scans", scans}}.dump(), "application/json");
    REQUIRE(r);
    REQUIRE(r->status == 200);
    return json::parse(r->body);
}

std::int64_t list_version_seen(httplib::SSLClient& c) {
    auto r = c.Get("/v1/list");
    REQUIRE(r);
    REQUIRE(r->status == 200);
    return json::parse(r->body)["version"].get<std::int64_t>();
}

void run(const std::string& cmd) {
    INFO(cmd);
    REQUIRE(std::system(cmd.c_str()) == 0);
}

std::int64_t count_of(const std::string& url, const std::string& sql) {
    auto db = open_pg_db(url);
    REQUIRE(db.ok());
    Stmt q(db->get(), sql);
    auto n = scalar_i64(q);
    REQUIRE(n.ok());
    return *n;
}

}  // namespace

TEST_CASE("pg_dump, pg_restore into another cluster: devices sync on, scans acked once, operators log in") {
    REQUIRE(kOnPostgresql);
    City city(/*with_signer=*/true, /*publish_interval_s=*/3600);
    REQUIRE(is_pg_url(city.db));
    const std::int64_t now = city.now_s();

    // Residents with passes (and their pass pages).
    const std::string secret = (city.tmp / "id.key").string();
    REQUIRE(create_id_secret(secret).ok());
    const std::map<std::string, std::string> opts = {{"id-secret", secret},
                                                     {"issuer-key", (city.pki / "issuer.key").string()},
                                                     {"issuer-cert", (city.pki / "issuer.crt").string()},
                                                     {"public-url", "https://cc.example"}};
    auto residents = residents_from_options(opts, city.db, *city.store);
    REQUIRE(residents.ok());
    auto chief = city.store->find_operator("chief");
    REQUIRE(chief.ok());
    REQUIRE(chief->has_value());
    REQUIRE((*residents)->import({{"张三", "11010519491231002X", "13812345678", "3号楼", "ga"},
                                  {"李四", "110101198001010054", "13900000000", "5号楼", "ga"}},
                                 **chief, now)
                .ok());
    auto issued = (*residents)->issue(**chief, "ga", std::nullopt, false, now);
    REQUIRE(issued.ok());
    REQUIRE(issued->size() == 2);
    const std::string page_token = issued->front().page_token;

    // Two published list versions; a device that has fetched the latest and uploaded scans 1..3.
    must(city.up->set_statuses({{kPassA, PassStatus::red, "home-isolation", now}}, now));
    REQUIRE(publish_list(*city.up, *city.signer, now, false, kDefaultKeepDeltas).ok());
    must(city.up->set_statuses({{kPassB, PassStatus::yellow, "contact", now}}, now));
    auto v2 = publish_list(*city.up, *city.signer, now, false, kDefaultKeepDeltas);
    REQUIRE(v2.ok());
    {
        auto api = device_api(*city.up, city.pki);
        auto g1 = device(city.pki, api->port(), "gate-01");
        CHECK(list_version_seen(*g1) == v2->version);
        CHECK(upload(*g1, 1, 3, now)["acked_seq"] == 3);
        api->stop();
    }
    const std::int64_t scans_before = count_of(city.db, "SELECT count(*) FROM scans");
    const std::int64_t audit_before = count_of(city.db, "SELECT count(*) FROM audit");
    REQUIRE(scans_before == 3);
    REQUIRE(audit_before > 0);

    // The backup (custom format) and the restore into a second, empty cluster.
    const std::string bin = PgCluster::kBin;
    const std::string dump = (city.tmp / "city.dump").string();
    run(bin + "/pg_dump --format=custom --file='" + dump + "' --dbname='" + city.db + "'");
    PgCluster standby;
    const std::string restored = standby.new_database();
    run(bin + "/pg_restore --no-owner --exit-on-error --dbname='" + restored + "' '" + dump + "'");

    // The upstream on the restored database (the old one stays down).
    auto up = open_store(restored);
    REQUIRE(up.ok());
    auto store = open_console_store(restored);
    REQUIRE(store.ok());
    CHECK(count_of(restored, "SELECT count(*) FROM scans") == scans_before);
    CHECK(count_of(restored, "SELECT count(*) FROM audit") == audit_before);
    {
        auto api = device_api(**up, city.pki);
        auto g1 = device(city.pki, api->port(), "gate-01");
        // The device's list version is there, and the next one continues from it.
        CHECK(list_version_seen(*g1) == v2->version);
        must((*up)->set_statuses({{kPassA, PassStatus::green, "released", now + 1}}, now + 1));
        auto v3 = publish_list(**up, *city.signer, now + 1, false, kDefaultKeepDeltas);
        REQUIRE(v3.ok());
        CHECK(v3->version == v2->version + 1);
        CHECK(list_version_seen(*g1) == v2->version + 1);
        auto delta = g1->Get("/v1/list/delta/" + std::to_string(v3->version));
        REQUIRE(delta);
        CHECK(delta->status == 200);
        // Its backlog re-sent from 2 (the acknowledgement it lost): 2..3 are duplicates,
        // 4..5 new; every scan stored once.
        auto ack = upload(*g1, 2, 5, now);
        CHECK(ack["acked_seq"] == 5);
        CHECK(ack["stored"] == 2);
        CHECK(ack["duplicates"] == 2);
        CHECK(count_of(restored, "SELECT count(*) FROM scans WHERE device_id = 'gate-01'") == 5);
        CHECK(count_of(restored, "SELECT count(DISTINCT seq) FROM scans WHERE device_id = 'gate-01'") == 5);
        api->stop();
    }

    // Operators log in on the restored console; the resident registry and pass pages are there.
    ConsoleConfig cfg;
    cfg.cert_path = (city.pki / "server.crt").string();
    cfg.key_path = (city.pki / "server.key").string();
    auto rs = residents_from_options(opts, restored, **store);
    REQUIRE(rs.ok());
    cfg.residents = *rs;
    auto console = ConsoleServer::create(cfg, **up, **store, nullptr);
    REQUIRE(console.ok());
    REQUIRE((*console)->start().ok());
    Client chief_c((*console)->port(), city.pki / "fleet-ca.crt"), worker((*console)->port(), city.pki / "fleet-ca.crt");
    CHECK(chief_c.login("chief").status == 200);
    CHECK(chief_c.login("chief", "wrong password!").status == 401);
    REQUIRE(worker.login("worker-a").status == 200);
    auto people = worker.get("/api/residents?grid=ga");
    CHECK(people.status == 200);
    CHECK(people.body["residents"].size() == 2);
    CHECK(people.body.dump().find("张三") != std::string::npos);  // the grid's own worker reads names
    auto page = (*rs)->page(page_token);
    CHECK(page.ok());
    // The audit stays append-only after a restore (its triggers came along).
    auto raw = open_pg_db(restored);
    REQUIRE(raw.ok());
    CHECK_FALSE((*raw)->exec("DELETE FROM audit").ok());
    (*console)->stop();
}

TEST_CASE("pg_basebackup: the physical copy a standby starts from serves the same city") {
    REQUIRE(kOnPostgresql);
    City city(/*with_signer=*/true, /*publish_interval_s=*/3600);
    const std::int64_t now = city.now_s();
    must(city.up->set_statuses({{kPassA, PassStatus::red, "home-isolation", now}}, now));
    auto v1 = publish_list(*city.up, *city.signer, now, false, kDefaultKeepDeltas);
    REQUIRE(v1.ok());
    {
        auto api = device_api(*city.up, city.pki);
        auto g1 = device(city.pki, api->port(), "gate-01");
        CHECK(upload(*g1, 1, 3, now)["acked_seq"] == 3);
        api->stop();
    }

    // Taken while the primary serves; the same database name on the copy.
    auto copy = PgCluster::base_backup_of(PgCluster::shared());
    const std::string prefix = "postgresql:///";
    const std::string name = city.db.substr(prefix.size(), city.db.find('?') - prefix.size());
    const std::string copied = copy->url(name);
    REQUIRE(copied != city.db);

    auto up = open_store(copied);
    REQUIRE(up.ok());
    auto store = open_console_store(copied);
    REQUIRE(store.ok());
    auto api = device_api(**up, city.pki);
    auto g1 = device(city.pki, api->port(), "gate-01");
    CHECK(list_version_seen(*g1) == v1->version);
    auto ack = upload(*g1, 3, 4, now);
    CHECK(ack["acked_seq"] == 4);
    CHECK(ack["duplicates"] == 1);
    CHECK(count_of(copied, "SELECT count(*) FROM scans WHERE device_id = 'gate-01'") == 4);
    CHECK(count_of(city.db, "SELECT count(*) FROM scans WHERE device_id = 'gate-01'") == 3);  // a copy, not a follower
    auto op = (*store)->find_operator("chief");
    REQUIRE(op.ok());
    REQUIRE(op->has_value());
    CHECK(verify_password((*op)->pw_hash, kPassword));
    api->stop();
}
