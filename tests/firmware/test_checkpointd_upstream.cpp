// checkpointd with upstream sync: the real daemon (sim board) against the real
// command-centre server (tools/upstream) on loopback, with the TEST-ONLY PKI made
// by tools/test-pki. The server is down while the lane starts; scans journaled
// meanwhile reach it exactly once after it comes back; a pass set RED on the
// server reaches the lane (the next scan of it is RED); an issuer published in the
// trust list is trusted by the lane without a restart; network health goes from
// down to ok in the log; SIGTERM stops everything with exit 0.
#include "tests/e2e/lane_fixture.hpp"
#include "tests/sync/sync_fixture.hpp"

#include "tools/upstream/lists.hpp"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <set>

using namespace cp;
using namespace cp::lanetest;
using cp::sync::testing::eventually;
using cp::upstream::testing::Upstream;

namespace {

std::string upstream_config(const Upstream& up, int port, const fs::path& dir) {
    std::ostringstream c;
    c << "[policy]\nrepeat_window_s = 0\n"  // the same pass again is decided again
      << "[paths]\nlist_signer = " << up.path("list-signer.crt") << "\n"
      << "[upstream]\nurl = https://localhost:" << port << "\n"
      << "ca_file = " << up.path("fleet-ca.crt") << "\n"
      << "cert_file = " << up.path("device-gate-01.crt") << "\n"
      << "key_file = " << up.path("device-gate-01.key") << "\n"
      << "trust_dir = " << (dir / "data" / "synced-trust").string() << "\n"
      << "heartbeat_interval_s = 5\nlist_interval_s = 5\ntrust_interval_s = 5\n"
      // Retries at most 2 s apart, so the test does not wait out a long backoff.
      << "backoff_cap_s = 2\n";
    return c.str();
}

std::vector<upstream::Scan> stored_scans(Upstream& up) {
    auto rows = up.store->scans(1000, 0, false, "gate-01");
    REQUIRE_MESSAGE(rows.ok(), rows.error().describe());
    std::vector<upstream::Scan> out;
    for (const auto& r : *rows) out.push_back(r.scan);
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.seq < b.seq; });
    return out;
}

bool log_has(const fs::path& log, const std::string& text) {
    return testing::read_file(log).find(text) != std::string::npos;
}

}  // namespace

TEST_CASE("checkpointd and the command centre: outage backlog once, a RED reaches the lane, new issuers, SIGTERM") {
    if (cp::testing::emulated()) {
        // Its waits are sized for native speed: under qemu-user the TLS rounds
        // take several times longer than the lane script leaves (docs/ci.md).
        MESSAGE("skipped under emulation: timing sized for native speed");
        std::exit(cp::testing::kSkip);
    }
    Upstream up;
    up.enroll("gate-01");
    const int port = up.server->port();
    auto signer = upstream::ListSigner::load(up.path("list-signer.key"), up.path("list-signer.crt"));
    REQUIRE_MESSAGE(signer.ok(), signer.error().describe());

    testing::TempDir tmp;
    World w(tmp.path());
    const Issuer second = make_issuer("second issuer");  // known to the command centre only
    const pass::Pass p1 = w.make_pass(pass::Kind::resident, "张*明");
    const pass::Pass p2 = w.make_pass(pass::Kind::resident, "李*华");
    const pass::Pass p3 = w.make_pass(pass::Kind::resident, "王*芳");
    const std::int64_t now = wall_now_ms() / 1000;

    // List v1, every pass green, is on the device already (an earlier sync).
    REQUIRE(up.store->set_statuses({{pass::id_hex(p1.id), upstream::PassStatus::green, "", now},
                                    {pass::id_hex(p2.id), upstream::PassStatus::green, "", now},
                                    {pass::id_hex(p3.id), upstream::PassStatus::green, "", now}},
                                   now)
                .ok());
    auto v1 = upstream::publish_list(*up.store, *signer, now);
    REQUIRE_MESSAGE(v1.ok(), v1.error().describe());
    {
        crypto::TrustStore list_signers;
        REQUIRE(list_signers.add_pem_or_der(as_bytes(testing::read_file(up.pki / "list-signer.crt"))).ok());
        auto list = must(status::open_sqlite_status_list((tmp / "data" / "status.db").string()), "status open");
        REQUIRE(list->import_bytes(up.store->list_version(v1->version).value()->snapshot, list_signers).ok());
    }

    // The command centre is down when the lane starts.
    up.server->stop();

    const int fps = under_emulator() ? 5 : 20;
    std::vector<Person> people = {
        person("p1 during the outage", p1.name, w.issue(p1, w.issuer), p1.id, "GREEN", "ok"),
        person("p2 during the outage", p2.name, w.issue(p2, w.issuer), p2.id, "GREEN", "ok"),
        person("p2 after the server set it red", p2.name, w.issue(p2, w.issuer), p2.id, "RED", "status-red"),
        person("p3 from an issuer only the trust list names", p3.name, w.issue(p3, second), p3.id, "GREEN", "ok"),
    };
    // Time for the test to bring the server back and for the device to sync.
    people[1].extra["gap_frames"] = 8 * fps;
    testing::write_file(tmp / "lane.json", lane_script(people).dump());
    testing::write_file(tmp / "checkpointd.conf",
                        config_text(tmp.path(), "gate", upstream_config(up, port, tmp.path()), "gate-01"));
    const fs::path log = tmp / "checkpointd.log";
    Process d({"--config", (tmp / "checkpointd.conf").string(), "--board", board_file().string(), "--lane",
               (tmp / "lane.json").string(), "--json"},
              log);
    INFO("daemon log:\n" << testing::read_file(log));
    const int slow = under_emulator() ? 5 : 1;
    auto wait_lines = [&](std::size_t n, int seconds) {
        const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds * slow);
        while (d.lines().size() < n && std::chrono::steady_clock::now() < end) d.read_for(100);
        return d.lines().size() >= n;
    };

    // Two scans while the command centre is unreachable: decided offline, journaled.
    REQUIRE(wait_lines(2, 90));
    REQUIRE(eventually([&] { return log_has(log, "to=down"); }, std::chrono::seconds(10 * slow)));
    CHECK(stored_scans(up).empty());

    // The command centre sets p2 red, adds the second issuer, and comes back.
    REQUIRE(up.store->set_statuses({{pass::id_hex(p2.id), upstream::PassStatus::red, "isolation", now + 1}}, now + 1)
                .ok());
    REQUIRE(upstream::publish_list(*up.store, *signer, wall_now_ms() / 1000).ok());
    REQUIRE(up.store->add_issuer(upstream::fingerprint(second.cert_der), second.cert_der, now).ok());
    REQUIRE(upstream::publish_trust(*up.store, *signer, now).ok());
    up.server = cp::sync::testing::start_server(up, port);

    // The backlog arrives, the list moves to v2 and the new issuers are taken, all
    // before the lane script brings p2 back.
    CHECK(eventually([&] { return stored_scans(up).size() == 2; }, std::chrono::seconds(15 * slow)));
    CHECK(eventually([&] { return log_has(log, "to=2") && log_has(log, "verifier uses the new issuers"); },
                     std::chrono::seconds(15 * slow)));
    CHECK(eventually([&] { return log_has(log, "to=ok"); }, std::chrono::seconds(5 * slow)));  // the next status bar
    d.read_for(10);
    CHECK_MESSAGE(d.lines().size() == 2, "the lane gap was too short for the sync to finish first");

    REQUIRE(wait_lines(4, 90));
    const auto lines = parse_lines(d.lines());
    for (std::size_t i = 0; i < people.size(); ++i) {
        CAPTURE(people[i].label);
        CHECK(lines[i]["verdict"] == people[i].verdict);
        CHECK(lines[i]["reason"] == people[i].reason);
    }

    // Every scan is on the server exactly once, in the device's order.
    REQUIRE(eventually([&] { return stored_scans(up).size() >= 4; }, std::chrono::seconds(20 * slow)));
    const auto scans = stored_scans(up);
    REQUIRE(scans.size() == 4);
    std::set<std::string> ids;
    for (std::size_t i = 0; i < scans.size(); ++i) {
        CAPTURE(i);
        CHECK(scans[i].seq == static_cast<std::int64_t>(i + 1));
        CHECK(scans[i].scan_id == lines[i]["scan_id"].get<std::string>());
        CHECK(scans[i].pass_id == lines[i]["pass_id"].get<std::string>());
        std::string verdict = lines[i]["verdict"].get<std::string>();
        std::transform(verdict.begin(), verdict.end(), verdict.begin(), [](unsigned char c) { return std::tolower(c); });
        CHECK(scans[i].verdict == verdict);
        ids.insert(scans[i].scan_id);
    }
    CHECK(ids.size() == 4);
    // Heartbeats carry the daemon's version, its list version, its backlog and
    // its sensors: after the catch-up, list 2 and nothing pending.
    std::optional<upstream::Heartbeat> hb;
    CHECK(eventually(
        [&] {
            auto devices = up.store->devices();
            if (!devices || devices->size() != 1 || !(*devices)[0].last_heartbeat) return false;
            hb = (*devices)[0].last_heartbeat;
            return hb->list_version == 2 && hb->backlog == 0;
        },
        std::chrono::seconds(20 * slow)));
    REQUIRE(hb.has_value());
    CHECK(hb->firmware == CHECKPOINT_VERSION);
    const auto sensors = nlohmann::json::parse(hb->sensors_json, nullptr, false);
    CHECK(sensors.value("thermometer", "") == "ok");
    CHECK(sensors.value("camera", "") == "ok");

    // SIGTERM: the sync thread is joined with the others; exit 0.
    d.signal(SIGTERM);
    auto rc = d.wait(under_emulator() ? 60'000 : 10'000);
    REQUIRE_MESSAGE(rc.has_value(), "still running 10 s after SIGTERM");
    CHECK(*rc == 0);
    CHECK_FALSE(fs::exists("/proc/" + std::to_string(d.pid())));
    CHECK(log_has(log, "why=SIGTERM"));
    CHECK(integrity_check(tmp / "data" / "journal.db") == "ok");
}

namespace {

std::int64_t sql_int(const fs::path& db, const std::string& sql) {
    sqlite3* h = nullptr;
    REQUIRE(sqlite3_open(db.string().c_str(), &h) == SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(h, sql.c_str(), -1, &st, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(st) == SQLITE_ROW);
    const std::int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return v;
}

}  // namespace

TEST_CASE("after a journal reset, a RED and a fever scan reach the command centre, and the old pending row too") {
    if (cp::testing::emulated()) {
        MESSAGE("skipped under emulation: timing sized for native speed");
        std::exit(cp::testing::kSkip);
    }
    Upstream up;
    up.enroll("gate-01");
    const int port = up.server->port();
    auto signer = upstream::ListSigner::load(up.path("list-signer.key"), up.path("list-signer.crt"));
    REQUIRE_MESSAGE(signer.ok(), signer.error().describe());

    testing::TempDir tmp;
    World w(tmp.path());
    const pass::Pass green = w.make_pass(pass::Kind::resident, "张*明");
    const pass::Pass isolated = w.make_pass(pass::Kind::resident, "李*华");
    const pass::Pass feverish = w.make_pass(pass::Kind::resident, "王*芳");
    const std::int64_t now = wall_now_ms() / 1000;
    REQUIRE(up.store->set_statuses({{pass::id_hex(green.id), upstream::PassStatus::green, "", now},
                                    {pass::id_hex(isolated.id), upstream::PassStatus::red, "isolation", now},
                                    {pass::id_hex(feverish.id), upstream::PassStatus::green, "", now}},
                                   now)
                .ok());
    auto v1 = upstream::publish_list(*up.store, *signer, now);
    REQUIRE_MESSAGE(v1.ok(), v1.error().describe());
    {
        crypto::TrustStore list_signers;
        REQUIRE(list_signers.add_pem_or_der(as_bytes(testing::read_file(up.pki / "list-signer.crt"))).ok());
        auto list = must(status::open_sqlite_status_list((tmp / "data" / "status.db").string()), "status open");
        REQUIRE(list->import_bytes(up.store->list_version(v1->version).value()->snapshot, list_signers).ok());
    }
    testing::write_file(tmp / "checkpointd.conf",
                        config_text(tmp.path(), "gate", upstream_config(up, port, tmp.path()), "gate-01"));
    const int slow = under_emulator() ? 5 : 1;
    const fs::path journal_db = tmp / "data" / "journal.db";

    // Runs the daemon over `people` until every scan is on the server, then SIGTERM.
    auto run = [&](const std::vector<Person>& people, std::size_t stored_after, const fs::path& log) {
        testing::write_file(tmp / "lane.json", lane_script(people).dump());
        Process d({"--config", (tmp / "checkpointd.conf").string(), "--board", board_file().string(), "--lane",
                   (tmp / "lane.json").string(), "--json"},
                  log);
        INFO("daemon log:\n" << testing::read_file(log));
        const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(90 * slow);
        while (d.lines().size() < people.size() && std::chrono::steady_clock::now() < end) d.read_for(100);
        REQUIRE(d.lines().size() == people.size());
        const auto lines = parse_lines(d.lines());
        for (std::size_t i = 0; i < people.size(); ++i) {
            CAPTURE(people[i].label);
            CHECK(lines[i]["verdict"] == people[i].verdict);
            CHECK(lines[i]["reason"] == people[i].reason);
        }
        CHECK(eventually([&] { return stored_scans(up).size() >= stored_after; }, std::chrono::seconds(20 * slow)));
        d.signal(SIGTERM);
        auto rc = d.wait(10'000 * slow);
        REQUIRE(rc.has_value());
        CHECK(*rc == 0);
        return lines;
    };

    // First life of the journal: two scans, both uploaded.
    const auto first = run({person("green", green.name, w.issue(green, w.issuer), green.id, "GREEN", "ok"),
                            person("green again", green.name, w.issue(green, w.issuer), green.id, "GREEN", "ok")},
                           2, tmp / "run1.log");
    REQUIRE(stored_scans(up).size() == 2);
    // A row journaled just before the power went: not uploaded yet.
    std::int64_t first_epoch = 0;
    {
        journal::JournalOptions jo;
        jo.device_id = "gate-01";
        jo.disk_floor_bytes = 0;
        auto j = must(journal::ScanJournal::open(journal_db.string(), jo), "journal");
        first_epoch = j->epoch();
        journal::ScanRecord r;
        r.pass_id = pass::id_hex(green.id);
        r.verdict = "GREEN";
        r.reason = "ok";
        r.lane = "gate";
        r.device_id = "gate-01";
        REQUIRE(j->append(r).ok());
    }
    // The journal is damaged (its pending index): checkpointd moves it aside and starts again at seq 1.
    const std::int64_t root = sql_int(journal_db, "SELECT rootpage FROM sqlite_master WHERE name = 'scans_pending'");
    {
        std::fstream f(journal_db, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp((root - 1) * 4096);
        const std::string junk(4096, '\xa5');
        f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
    }
    REQUIRE(integrity_check(journal_db) != "ok");

    Person fever = person("fever", feverish.name, w.issue(feverish, w.issuer), feverish.id, "RED", "fever");
    fever.temperature_c = 38.6;
    const auto second = run({person("isolated", isolated.name, w.issue(isolated, w.issuer), isolated.id, "RED",
                                    "status-red"),
                             fever},
                            5, tmp / "run2.log");
    CHECK(log_has(tmp / "run2.log", "moved aside"));
    CHECK(second[0]["seq"] == 1);  // the new journal starts again at 1 ...

    const auto scans = stored_scans(up);
    CHECK(scans.size() == 5);  // ... and nothing is taken for a duplicate of the first journal's rows
    std::set<std::string> ids;
    int red_status = 0, red_fever = 0, carried = 0;
    for (const auto& s : scans) {
        ids.insert(s.scan_id);
        if (s.epoch == first_epoch && s.seq == 3) ++carried;  // the pending row of the old journal
        if (s.epoch != first_epoch && s.verdict == "red" && s.reason == "status-red") ++red_status;
        if (s.epoch != first_epoch && s.verdict == "red" && s.reason == "fever") ++red_fever;
    }
    CHECK(ids.size() == 5);
    CHECK(red_status == 1);
    CHECK(red_fever == 1);
    CHECK(carried == 1);
    CHECK(scans.size() == first.size() + 1 + second.size());
    auto devices = up.store->devices();
    REQUIRE(devices.ok());
    CHECK((*devices)[0].device.conflicts == 0);
}
