// Several console replicas on one database (SQLite file, or PostgreSQL with
// CHECKPOINT_TEST_STORE=postgresql): what limits or schedules them lives in the
// store, so a second process sees it. The per-phone SMS quota, concurrent senders
// at the last free slot, the travellers' abuse counters under concurrent
// registrations, a pass's daily self-checks, and the automatic publish schedule (one publish per interval, not
// one per replica). Sessions and login failures: test_console_api.cpp.
#include "tests/upstream/console/console_fixture.hpp"

#include "tools/upstream/console/identity.hpp"
#include "tools/upstream/console/rate_limits.hpp"
#include "tools/upstream/console/residents.hpp"
#include "tools/upstream/console/sms.hpp"
#include "tools/upstream/console/travellers_store.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <thread>
#include <vector>

using namespace cp;
using namespace cp::upstream;
using namespace cp::upstream::console;
using namespace cp::upstream::console::testing;

namespace {

std::shared_ptr<RateLimits> limits_of(const std::string& db) {
    auto l = RateLimits::open(db);
    REQUIRE(l.ok());
    return *l;
}

// One replica's sender: its own connection to the store, its own outbox.
std::unique_ptr<SmsSender> replica_sender(const City& city, const std::string& name, int per_hour,
                                          std::function<std::int64_t()> clock = {}) {
    SmsConfig c;
    c.outbox_dir = (city.tmp / name).string();
    c.per_phone_per_hour = per_hour;
    c.limits = limits_of(city.db);
    c.clock_s = std::move(clock);
    return make_sms_sender(c);
}

// A console replica that is never started: its own connections, run_jobs_once only.
struct Replica {
    std::unique_ptr<UpstreamStore> up;
    std::unique_ptr<ConsoleStore> store;
    std::unique_ptr<ConsoleServer> server;

    Replica(City& city, const ListSigner& signer, std::int64_t interval_s) {
        auto u = open_store(city.db);
        REQUIRE(u.ok());
        up = std::move(*u);
        auto s = open_console_store(city.db);
        REQUIRE(s.ok());
        store = std::move(*s);
        ConsoleConfig cfg;
        cfg.cert_path = (city.pki / "server.crt").string();
        cfg.key_path = (city.pki / "server.key").string();
        cfg.publish_interval_s = interval_s;
        cfg.clock_ms = [&city] { return wall_now_ms() + city.offset_ms.load(); };
        auto srv = ConsoleServer::create(cfg, *up, *store, &signer);
        REQUIRE(srv.ok());
        server = std::move(*srv);
    }
};

void set_red(City& city, const char* pass, const std::string& reason) {
    must(city.up->set_statuses({{pass, PassStatus::red, reason, city.now_s()}}, city.now_s()));
}

}  // namespace

TEST_CASE("two replicas share the per-phone SMS quota, and a restart keeps it") {
    City city;
    std::atomic<std::int64_t> now{city.now_s()};
    auto clock = [&] { return now.load(); };
    auto a = replica_sender(city, "outbox-a", 3, clock);
    auto b = replica_sender(city, "outbox-b", 3, clock);
    REQUIRE(a->send("13812345678", "one").ok());
    REQUIRE(b->send("13812345678", "two").ok());
    REQUIRE(a->send("13812345678", "three").ok());
    auto over = b->send("13812345678", "four");
    REQUIRE_FALSE(over.ok());
    CHECK(over.error().is(ErrorKind::rejected, console::reason::sms_rate_limit));
    CHECK(b->send("13900000000", "another phone").ok());
    // A replica started afterwards (a restart) sees the same counts.
    auto c = replica_sender(city, "outbox-c", 3, clock);
    CHECK(c->send("13812345678", "five").error().is(console::reason::sms_rate_limit));
    now += 3601;
    CHECK(c->send("13812345678", "an hour later").ok());
    // The store keeps a hash of the phone, never the number.
    auto raw = on_postgresql() ? open_pg_db(city.db) : open_sqlite_db(city.db, false);
    REQUIRE(raw.ok());
    Stmt q(raw->get(), "SELECT count(*) FROM rate_events WHERE key LIKE '%13812345678%'");
    CHECK(scalar_i64(q).value() == 0);
}

TEST_CASE("replicas sending to one phone at once never pass the quota together") {
    City city;
    constexpr int kReplicas = 6, kPerHour = 2;
    std::vector<std::unique_ptr<SmsSender>> senders;
    for (int i = 0; i < kReplicas; ++i) senders.push_back(replica_sender(city, "outbox-" + std::to_string(i), kPerHour));
    std::atomic<int> sent{0}, limited{0}, other{0};
    std::vector<std::thread> ts;
    for (int i = 0; i < kReplicas; ++i)
        ts.emplace_back([&, i] {
            for (int k = 0; k < 3; ++k) {
                auto r = senders[static_cast<std::size_t>(i)]->send("13812345678", "race");
                if (r.ok())
                    ++sent;
                else if (r.error().is(console::reason::sms_rate_limit))
                    ++limited;
                else
                    ++other;
            }
        });
    for (auto& t : ts) t.join();
    CHECK(other.load() == 0);
    CHECK(sent.load() == kPerHour);
    CHECK(limited.load() == kReplicas * 3 - kPerHour);
}

TEST_CASE("two replicas publish once per interval, not once each") {
    City city;
    auto sg = ListSigner::load((city.pki / "list-signer.key").string(), (city.pki / "list-signer.crt").string());
    REQUIRE(sg.ok());
    Replica r1(city, *sg, 60), r2(city, *sg, 60);
    auto version = [&] { return city.up->latest_list_version().value(); };
    const std::int64_t v0 = version();

    r1.server->run_jobs_once();  // a new database: the first run only sets the schedule
    set_red(city, kPassA, "home-isolation");
    r2.server->run_jobs_once();
    r1.server->run_jobs_once();
    CHECK(version() == v0);  // not due yet for either replica

    city.offset_ms += 61'000;
    r2.server->run_jobs_once();  // due: replica 2 takes this interval's run
    CHECK(version() == v0 + 1);
    set_red(city, kPassB, "contact");
    r1.server->run_jobs_once();  // the same interval: replica 1 leaves it
    r2.server->run_jobs_once();
    CHECK(version() == v0 + 1);

    city.offset_ms += 61'000;
    r1.server->run_jobs_once();  // next interval: whichever replica comes first publishes
    r2.server->run_jobs_once();
    CHECK(version() == v0 + 2);
}

TEST_CASE("replicas admitting traveller registrations at once never pass an abuse limit together") {
    City city;
    constexpr int kReplicas = 6;
    std::vector<std::unique_ptr<TravellerStore>> stores;
    for (int i = 0; i < kReplicas; ++i) {
        auto t = open_traveller_store(city.db);
        REQUIRE(t.ok());
        stores.push_back(std::move(*t));
    }
    const std::int64_t now = city.now_s();
    const std::vector<TravellerStore::Limit> limits = {{"phone:race", 2, 86400}, {"addr:127.0.0.1", 100, 3600}};
    std::atomic<int> admitted{0}, refused{0}, failed{0};
    std::vector<std::thread> ts;
    for (int i = 0; i < kReplicas; ++i)
        ts.emplace_back([&, i] {
            for (int k = 0; k < 3; ++k) {
                auto r = stores[static_cast<std::size_t>(i)]->admit(limits, now);
                if (!r)
                    ++failed;
                else if (*r)
                    ++admitted;
                else
                    ++refused;
            }
        });
    for (auto& t : ts) t.join();
    CHECK(failed.load() == 0);
    CHECK(admitted.load() == 2);
    CHECK(refused.load() == kReplicas * 3 - 2);
}

TEST_CASE("replicas recording self-checks of one pass at once keep the daily limit") {
    City city;
    cp::testing::TempDir dir;
    const std::string secret = (dir / "id.key").string();
    must(create_id_secret(secret));
    const std::map<std::string, std::string> opts = {{"id-secret", secret},
                                                     {"issuer-key", (city.pki / "issuer.key").string()},
                                                     {"issuer-cert", (city.pki / "issuer.crt").string()}};
    constexpr int kReplicas = 4;
    std::vector<std::shared_ptr<Residents>> replicas;
    for (int i = 0; i < kReplicas; ++i) {
        auto r = residents_from_options(opts, city.db, *city.store);
        REQUIRE(r.ok());
        replicas.push_back(*r);
    }
    auto chief = city.store->find_operator("chief");
    REQUIRE(chief.ok());
    REQUIRE(chief->has_value());
    const std::int64_t now = city.now_s();
    REQUIRE(replicas[0]->import({{"张三", "11010519491231002X", "13812345678", "3号楼", "ga"}}, **chief, now).ok());
    auto issued = replicas[0]->issue(**chief, "ga", std::nullopt, false, now);
    REQUIRE(issued.ok());
    REQUIRE(issued->size() == 1);
    const std::string token = issued->front().page_token;
    std::atomic<int> recorded{0}, limited{0}, other{0};
    std::vector<std::thread> ts;
    for (int i = 0; i < kReplicas; ++i)
        ts.emplace_back([&, i] {
            for (int k = 0; k < 4; ++k) {
                auto r = replicas[static_cast<std::size_t>(i)]->self_check(token, SelfCheck{}, now);
                if (r.ok())
                    ++recorded;
                else if (r.error().is(console::reason::self_check_rate))
                    ++limited;
                else
                    ++other;
            }
        });
    for (auto& t : ts) t.join();
    CHECK(other.load() == 0);
    CHECK(recorded.load() == 6);  // ResidentsConfig::self_checks_per_day
    CHECK(limited.load() == kReplicas * 4 - 6);
}
