// `checkpoint diag` as a technician runs it, on the host-sim board: against a
// running checkpointd and the reference upstream over mutual TLS (TEST-ONLY PKI),
// and with a thermometer fault, no list, an unreachable or refusing upstream.
#include "tests/e2e/lane_fixture.hpp"
#include "tests/status/cli_run.hpp"
#include "tests/sync/sync_fixture.hpp"
#include "tests/testing.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

namespace {

namespace fs = std::filesystem;
using cp::testing::run_checkpoint;
using cp::testing::shell_quote;
using cp::upstream::testing::Upstream;

// A device folder: checkpointd.conf with its identity beside it (the layout of
// tools/provision), data/ and trust/ as the lane fixture makes them.
struct Site {
    cp::testing::TempDir tmp;
    cp::lanetest::World world{tmp.path()};
    fs::path conf = tmp / "checkpointd.conf";

    Site(const Upstream* up, const std::string& url) {
        if (up != nullptr) {
            for (const auto& [from, to] : std::map<std::string, std::string>{
                     {"device-gate-01.crt", "device.crt"}, {"device-gate-01.key", "device.key"},
                     {"fleet-ca.crt", "fleet-ca.crt"}}) {
                fs::copy_file(up->pki / from, tmp / to);
            }
        }
        const fs::path data = tmp / "data";
        std::ostringstream c;
        c << "[device]\nid = gate-01\nsite = test\nlane = gate\n"
          << "[paths]\ndata_dir = " << data.string() << "\njournal = " << (data / "journal.db").string()
          << "\nstatus_db = " << (data / "status.db").string() << "\ntrust_dir = " << (tmp / "trust").string()
          << "\nscreen_dir = " << (tmp / "screens").string() << "\n"
          << "[journal]\ndisk_floor_bytes = 1048576\n"
          << "[display]\nbackend = sim\n[input]\nbackend = sim\n"
          // Small, slow frames: the daemon beside the test should cost little CPU.
          << "[camera]\nfps = 5\nwidth = 960\nheight = 540\n"
          << "[upstream]\nurl = " << url << "\nca_file = " << (tmp / "fleet-ca.crt").string()
          << "\ncert_file = " << (tmp / "device.crt").string() << "\nkey_file = " << (tmp / "device.key").string()
          << "\n";
        cp::testing::write_file(conf, c.str());
    }

    std::string args(const std::string& more = "") const {
        return "diag --json --config " + shell_quote(conf.string()) + " --board " +
               shell_quote(cp::lanetest::board_file().string()) + " --frame " +
               shell_quote((tmp / "frame.png").string()) + " " + more;
    }
};

struct Diag {
    int code = -1;
    nlohmann::json j;
    std::map<std::string, nlohmann::json> checks;
    std::string status(const std::string& name) const { return checks.at(name).at("status").get<std::string>(); }
    std::string value(const std::string& name) const { return checks.at(name).at("value").get<std::string>(); }
};

Diag diag(const std::string& args) {
    auto r = run_checkpoint(args);
    Diag d;
    d.code = r.code;
    INFO("output: " << r.out);
    REQUIRE_NOTHROW(d.j = nlohmann::json::parse(r.out));  // one JSON object, nothing else
    for (const auto& c : d.j.at("checks")) d.checks[c.at("name").get<std::string>()] = c;
    for (const char* name : {"config", "identity", "camera", "thermometer", "gpio", "list", "journal", "upstream",
                             "disk", "memory", "checkpointd"}) {
        REQUIRE_MESSAGE(d.checks.count(name) == 1, "no check " << name);
    }
    return d;
}

std::string lane_file(const fs::path& dir, const nlohmann::json& person) {
    nlohmann::json s;
    s["version"] = 1;
    s["lead_frames"] = 0;
    s["people"] = nlohmann::json::array({person});
    cp::testing::write_file(dir / "lane.json", s.dump());
    return (dir / "lane.json").string();
}

}  // namespace

// Its waits are sized for native speed: under qemu-user the daemon beside it
// starts several times slower than this case waits, so it is skipped there.
TEST_CASE("diag on the sim board beside a running checkpointd, enrolled upstream: every check ok" *
          doctest::skip(cp::testing::emulated())) {
    Upstream up;
    up.enroll("gate-01");
    Site site(&up, "https://localhost:" + std::to_string(up.server->port()));
    site.world.install_list({}, site.world.now_s - 60);
    // The daemon's lane: nobody comes, so it idles, holding the journal open.
    nlohmann::json lane = {{"version", 1}, {"lead_frames", 100000}, {"people", nlohmann::json::array()}};
    cp::testing::write_file(site.tmp / "idle.json", lane.dump());
    cp::lanetest::Process daemon({"--config", site.conf.string(), "--board", cp::lanetest::board_file().string(),
                                  "--lane", (site.tmp / "idle.json").string()},
                                 site.tmp / "checkpointd.log");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(cp::testing::emulated() ? 120 : 30);
    while (std::chrono::steady_clock::now() < deadline &&
           cp::testing::read_file(site.tmp / "checkpointd.log").find("running") == std::string::npos) {
        REQUIRE_FALSE(daemon.wait(50).has_value());
    }
    INFO("daemon log:\n" << cp::testing::read_file(site.tmp / "checkpointd.log"));
    REQUIRE(fs::exists(site.tmp / "data" / "journal.db"));
    const std::string status_before = cp::testing::read_file(site.tmp / "data" / "status.db");

    Diag d = diag(site.args());
    INFO(d.j.dump(2));
    CHECK(d.code == 0);
    CHECK(d.j["result"] == "ok");
    CHECK(d.j["device"] == "gate-01");
    for (const auto& [name, c] : d.checks) {
        if (name == "gpio") CHECK(c["status"] == "skip");  // no --click: the relay stays shut
        else CHECK_MESSAGE(c["status"] == "ok", name);
    }
    CHECK(d.checks["checkpointd"]["data"]["pid"] == daemon.pid());
    CHECK(d.checks["camera"]["data"]["frames"].get<int>() >= 1);
    CHECK(d.value("camera").find("code read: \"CHECKPOINT-DIAG-") != std::string::npos);
    CHECK(d.checks["thermometer"]["data"]["body_c"].get<double>() == doctest::Approx(36.6).epsilon(0.01));
    CHECK(d.checks["list"]["data"]["version"] == 1);
    CHECK(d.checks["list"]["data"]["age_s"].get<std::int64_t>() >= 60);
    CHECK(d.checks["journal"]["data"]["backlog"] == 0);
    CHECK(d.checks["upstream"]["data"]["status"] == 200);
    CHECK(d.checks["upstream"]["data"]["server_list_version"] == 0);  // nothing published upstream
    CHECK(d.checks["memory"]["data"]["available_bytes"].get<std::int64_t>() > 0);

    // The saved frame is a real picture of the code: the decode command reads it back.
    auto read_back = run_checkpoint("decode " + shell_quote((site.tmp / "frame.png").string()));
    CHECK(read_back.out.find("CHECKPOINT-DIAG-TEST-CARD") != std::string::npos);

    // Nothing disturbed: the daemon runs on, the list file is unchanged, and it
    // still stops cleanly.
    CHECK_FALSE(daemon.wait(0).has_value());
    CHECK(cp::testing::read_file(site.tmp / "data" / "status.db") == status_before);
    daemon.signal(SIGTERM);
    auto rc = daemon.wait(cp::testing::emulated() ? 60'000 : 15'000);
    REQUIRE(rc.has_value());
    CHECK(*rc == 0);
    CHECK(cp::lanetest::integrity_check(site.tmp / "data" / "journal.db") == "ok");

    // Text output: one line per check and the result.
    auto text = run_checkpoint(site.args().replace(0, std::string("diag --json").size(), "diag"));
    CHECK(text.out.find("ok    upstream") != std::string::npos);
    CHECK(text.out.find("warn  checkpointd  not running") != std::string::npos);  // stopped now
    CHECK(text.out.find("result: warn (1 warn, 0 fail)") != std::string::npos);
    CHECK(text.code == 1);
}

TEST_CASE("diag: a thermometer fault in the sim is a failure, a fever reading is not") {
    Site site(nullptr, "");
    site.world.install_list({}, site.world.now_s - 60);
    const std::string faulty = lane_file(site.tmp.path(), {{"qr", "CARD"}, {"temperature_c", 36.6},
                                                           {"thermometer", "no-device"}, {"arrive_frames", 0}});
    Diag d = diag(site.args("--lane " + shell_quote(faulty)));
    CHECK(d.code == 1);
    CHECK(d.j["result"] == "fail");
    CHECK(d.status("thermometer") == "fail");
    CHECK(d.checks["thermometer"]["data"]["fault"] == "no-device");
    CHECK(d.value("thermometer").find("sensor fault: no-device") != std::string::npos);
    CHECK(d.status("camera") == "ok");  // the same lane's code is read
    CHECK(d.status("upstream") == "warn");  // none configured
    CHECK(d.status("identity") == "fail");  // no certificate beside the config

    const std::string hot = lane_file(site.tmp.path(), {{"qr", "CARD"}, {"temperature_c", 38.4}, {"arrive_frames", 0}});
    Diag h = diag(site.args("--lane " + shell_quote(hot)));
    CHECK(h.status("thermometer") == "ok");
    CHECK(h.checks["thermometer"]["data"]["body_c"].get<double>() == doctest::Approx(38.4).epsilon(0.01));
}

TEST_CASE("diag: no status list fails with a clear message; a stale one fails too") {
    Site site(nullptr, "");
    Diag d = diag(site.args());
    CHECK(d.code == 1);
    CHECK(d.status("list") == "fail");
    CHECK(d.value("list").find("no status list in") != std::string::npos);
    CHECK(d.value("list").find("every pass is YELLOW") != std::string::npos);
    CHECK_FALSE(fs::exists(site.tmp / "data" / "status.db"));  // diag creates nothing
    CHECK(d.status("journal") == "warn");                      // no scan so far
    CHECK_FALSE(fs::exists(site.tmp / "data" / "journal.db"));

    site.world.install_list({}, site.world.now_s - 2 * 86400);
    Diag old = diag(site.args());
    CHECK(old.status("list") == "fail");
    CHECK(old.value("list").find("over the limit") != std::string::npos);
}

TEST_CASE("diag: journal backlog is read without writing the journal") {
    Site site(nullptr, "");
    {
        cp::journal::JournalOptions o;
        o.device_id = "gate-01";
        o.disk_floor_bytes = 0;
        auto j = cp::journal::ScanJournal::open((site.tmp / "data" / "journal.db").string(), o);
        REQUIRE(j.ok());
        for (int i = 0; i < 5; ++i) REQUIRE((*j)->append(cp::sync::testing::Device::record(i)).ok());
        REQUIRE((*j)->mark_uploaded_through(2).ok());
    }
    const std::string before = cp::testing::read_file(site.tmp / "data" / "journal.db");
    Diag d = diag(site.args());
    CHECK(d.status("journal") == "ok");
    CHECK(d.checks["journal"]["data"]["backlog"] == 3);
    CHECK(d.checks["journal"]["data"]["rows"] == 5);
    CHECK(d.value("journal").find("3 of 5 rows not uploaded") != std::string::npos);
    CHECK(cp::testing::read_file(site.tmp / "data" / "journal.db") == before);

    auto missing = cp::journal::read_backlog((site.tmp / "none.db").string());
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error().reason == "journal-missing");
    CHECK_FALSE(fs::exists(site.tmp / "none.db"));
}

TEST_CASE("diag: an unreachable upstream is a warning within the timeout; a refusing one fails") {
    // A listener that never accepts: TCP connects, TLS never answers.
    int port = 0;
    const int fd = cp::sync::testing::listen_loopback(&port);
    {
        Upstream up;  // only for its PKI: the device has an identity
        Site site(&up, "https://127.0.0.1:" + std::to_string(port));
        const auto t0 = std::chrono::steady_clock::now();
        Diag d = diag(site.args("--timeout 2"));
        const auto took = std::chrono::steady_clock::now() - t0;
        CHECK(d.code == 1);
        CHECK(d.status("upstream") == "warn");
        CHECK(d.value("upstream").find("unreachable") != std::string::npos);
        CHECK(d.checks["upstream"]["data"]["ms"].get<std::int64_t>() < 2000 + 1500);
        CHECK(d.checks["upstream"]["data"]["ms"].get<std::int64_t>() >= 1500);  // it did wait for the answer
        if (!cp::testing::emulated()) CHECK(took < std::chrono::seconds(15));

        // Not enrolled: the server answers 403, which will not heal by waiting.
        Site refused(&up, "https://localhost:" + std::to_string(up.server->port()));
        Diag r = diag(refused.args());
        CHECK(r.status("upstream") == "fail");
        CHECK(r.checks["upstream"]["data"]["status"] == 403);
        CHECK(r.value("upstream").find("not-enrolled") != std::string::npos);
    }
    ::close(fd);
}

TEST_CASE("diag --click drives the gate relay, lamps and buzzer of the sim board") {
    Site site(nullptr, "");
    Diag d = diag(site.args("--click"));
    CHECK(d.status("gpio") == "ok");
    const std::string log = cp::testing::read_file(site.tmp / "data" / "gpio-sim.log");
    const auto on = log.find("gate-relay on");
    REQUIRE(on != std::string::npos);
    CHECK(log.find("gate-relay off", on) != std::string::npos);  // and shut again
    for (const char* line : {"green-lamp on", "red-lamp on", "buzzer on"}) CHECK(log.find(line) != std::string::npos);
}

TEST_CASE("diag: usage and configuration errors exit 2") {
    Site site(nullptr, "");
    CHECK(run_checkpoint(site.args("--timeout 0")).code == 2);
    CHECK(run_checkpoint(site.args("--frame out.jpg")).code == 2);
    CHECK(run_checkpoint(site.args("--bogus")).code == 2);
    CHECK(run_checkpoint("diag --config " + shell_quote((site.tmp / "none.conf").string())).code == 2);
    cp::testing::write_file(site.tmp / "bad.conf", "[device]\nlane = bus\n");
    CHECK(run_checkpoint("diag --config " + shell_quote((site.tmp / "bad.conf").string())).code == 2);
}
