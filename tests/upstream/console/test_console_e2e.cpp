// From a grid worker's click to RED at the gate: the real checkpointd (sim board, the
// same resident scanned about once a second) syncing with the real upstream, whose
// console publishes changed statuses automatically. The worker sets the resident
// red through the console API; the test measures the time until the lane's first
// RED verdict for that pass and prints it (docs/benchmarks.md quotes it). The time
// is not asserted: only that RED arrives within a generous bound.
//
// CONSOLE_E2E_INTERVAL_S sets the publish interval (default 5 s).
#include "tests/e2e/lane_fixture.hpp"
#include "tests/upstream/console/console_fixture.hpp"

#include "tools/upstream/lists.hpp"

#include <cstdio>

using namespace cp;
using namespace cp::lanetest;
using cp::upstream::testing::Upstream;
namespace con = cp::upstream::console;

TEST_CASE("a worker's RED in the console reaches the lane's screen") {
    if (cp::testing::emulated()) {
        MESSAGE("skipped under emulation: timing sized for native speed");
        std::exit(cp::testing::kSkip);
    }
    std::int64_t interval_s = 5;
    if (const char* e = std::getenv("CONSOLE_E2E_INTERVAL_S"); e && *e) interval_s = std::atoll(e);
    // CONSOLE_E2E_DEVICE_DEFAULTS=1: the device keeps its default heartbeat and list
    // intervals (the list arrives through the heartbeat's newer-version hint).
    const char* dd = std::getenv("CONSOLE_E2E_DEVICE_DEFAULTS");
    const bool device_defaults = dd != nullptr && std::string(dd) == "1";
    REQUIRE(interval_s >= 1);

    Upstream up;
    up.enroll("gate-01");
    auto signer = upstream::ListSigner::load(up.path("list-signer.key"), up.path("list-signer.crt"));
    REQUIRE_MESSAGE(signer.ok(), signer.error().describe());

    testing::TempDir tmp;
    World w(tmp.path());
    const pass::Pass p = w.make_pass(pass::Kind::resident, "张*明");
    const std::string pid = pass::id_hex(p.id);
    const std::int64_t now = wall_now_ms() / 1000;

    // The console on the same database: the resident belongs to grid A.
    auto cs = con::open_sqlite_console_store((up.tmp / "upstream.db").string());
    REQUIRE_MESSAGE(cs.ok(), cs.error().describe());
    con::ConsoleStore& store = **cs;
    REQUIRE(store.add_areas({{"hg", "", con::Level::city, "鹤岗市", "", ""},
                             {"d1", "hg", con::Level::city, "向阳区", "", ""},
                             {"s1", "d1", con::Level::city, "红军街道", "", ""},
                             {"ga", "s1", con::Level::city, "网格A", "", ""}},
                            nullptr)
                .ok());
    {
        auto h = con::hash_password(con::testing::kPassword);
        REQUIRE(h.ok());
        con::Operator o;
        o.username = "worker-a";
        o.role = con::Role::grid;
        o.area = "ga";
        o.pw_hash = *h;
        REQUIRE(store.add_operator(o, nullptr, now).ok());
    }
    REQUIRE(store.add_passes({{pid, "ga", "张*", upstream::PassStatus::green, "", 0, 0}}, nullptr, "host", now).ok());

    // List v1 (the resident green) is on the device already.
    REQUIRE(up.store->set_statuses({{pid, upstream::PassStatus::green, "", now}}, now).ok());
    auto v1 = upstream::publish_list(*up.store, *signer, now);
    REQUIRE_MESSAGE(v1.ok(), v1.error().describe());
    {
        crypto::TrustStore list_signers;
        REQUIRE(list_signers.add_pem_or_der(as_bytes(testing::read_file(up.pki / "list-signer.crt"))).ok());
        auto list = must(status::open_sqlite_status_list((tmp / "data" / "status.db").string()), "status open");
        REQUIRE(list->import_bytes(up.store->list_version(v1->version).value()->snapshot, list_signers).ok());
    }

    con::ConsoleConfig cfg;
    cfg.cert_path = up.path("server.crt");
    cfg.key_path = up.path("server.key");
    cfg.publish_interval_s = interval_s;  // tick stays at its default (1 s), as in production
    auto console = con::ConsoleServer::create(cfg, *up.store, store, &*signer);
    REQUIRE_MESSAGE(console.ok(), console.error().describe());
    REQUIRE((*console)->start().ok());

    // The same resident at the gate about once a second, for long enough.
    const int fps = 20;
    const int people_count = static_cast<int>(40 + 2 * interval_s);
    std::vector<Person> people;
    for (int i = 0; i < people_count; ++i) {
        Person x = person("resident " + std::to_string(i), p.name, w.issue(p, w.issuer), p.id, "", "");
        x.extra["gap_frames"] = 2;
        x.extra["arrive_frames"] = 2;
        x.extra["leave_frames"] = 2;
        people.push_back(x);
    }
    testing::write_file(tmp / "lane.json", lane_script(people, /*hold_frames=*/12).dump());
    std::ostringstream more;
    more << "[policy]\nrepeat_window_s = 0\n"
         << "[paths]\nlist_signer = " << up.path("list-signer.crt") << "\n"
         << "[upstream]\nurl = https://localhost:" << up.server->port() << "\n"
         << "ca_file = " << up.path("fleet-ca.crt") << "\n"
         << "cert_file = " << up.path("device-gate-01.crt") << "\n"
         << "key_file = " << up.path("device-gate-01.key") << "\n"
         << "trust_dir = " << (tmp / "data" / "synced-trust").string() << "\n"
         << (device_defaults ? std::string("backoff_cap_s = 2\n")
                             : std::string("heartbeat_interval_s = 5\nlist_interval_s = 5\ntrust_interval_s = 60\n"
                                           "backoff_cap_s = 2\n"));
    testing::write_file(tmp / "checkpointd.conf", config_text(tmp.path(), "gate", more.str(), "gate-01"));
    const fs::path log = tmp / "checkpointd.log";
    Process d({"--config", (tmp / "checkpointd.conf").string(), "--board", board_file().string(), "--lane",
               (tmp / "lane.json").string(), "--json"},
              log);
    INFO("daemon log:\n" << testing::read_file(log));
    (void)fps;

    // The lane runs and shows the resident GREEN.
    auto wait_lines = [&](std::size_t n, int seconds) {
        const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
        while (d.lines().size() < n && std::chrono::steady_clock::now() < end) d.read_for(50);
        return d.lines().size() >= n;
    };
    REQUIRE(wait_lines(2, 120));
    CHECK(parse_lines(d.lines()).back()["verdict"] == "GREEN");

    // The worker logs in (not timed) and sets the resident red (timed from here).
    con::testing::Client worker((*console)->port(), up.pki / "fleet-ca.crt");
    REQUIRE(worker.login("worker-a").status == 200);
    const std::size_t before = d.lines().size();
    const auto t0 = std::chrono::steady_clock::now();
    auto r = worker.post("/api/passes/" + pid + "/status", {{"status", "red"}, {"reason", "home-isolation"}});
    REQUIRE(r.status == 200);
    const auto t_click = std::chrono::steady_clock::now();

    std::optional<std::chrono::steady_clock::time_point> t_red;
    std::size_t greens_after = 0;
    const auto end = t0 + std::chrono::seconds(60 + 3 * interval_s);
    std::size_t seen = before;
    while (!t_red && std::chrono::steady_clock::now() < end && d.lines().size() < static_cast<std::size_t>(people_count)) {
        d.read_for(20);
        for (; seen < d.lines().size(); ++seen) {
            auto j = nlohmann::json::parse(d.lines()[seen], nullptr, false);
            if (j.is_discarded()) continue;
            if (j.value("verdict", "") == "RED") {
                t_red = std::chrono::steady_clock::now();
                CHECK(j.value("reason", "") == "status-red");
                break;
            }
            ++greens_after;
        }
    }
    REQUIRE_MESSAGE(t_red.has_value(), "no RED at the lane within the bound");
    using ms = std::chrono::milliseconds;
    const auto total = std::chrono::duration_cast<ms>(*t_red - t0).count();
    const auto click = std::chrono::duration_cast<ms>(t_click - t0).count();
    std::printf("console-to-red: publish interval %lld s, click answered in %lld ms, RED on the lane screen "
                "after %lld ms (%zu GREEN scans of the resident in between, about 1 per second)\n",
                static_cast<long long>(interval_s), static_cast<long long>(click), static_cast<long long>(total),
                greens_after);
    std::fflush(stdout);
    // The audit has the worker's change.
    auto audit = worker.get("/api/audit");
    CHECK(audit.body.dump().find(pid) != std::string::npos);

    d.signal(SIGTERM);
    auto rc = d.wait(15'000);
    REQUIRE_MESSAGE(rc.has_value(), "still running 15 s after SIGTERM");
    CHECK(*rc == 0);
    (*console)->stop();
}
