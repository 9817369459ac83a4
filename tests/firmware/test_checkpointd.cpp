// checkpointd as a process: configuration errors name the key, SIGTERM is a
// clean shutdown with systemd notifications, a stale list and a faulty
// thermometer give YELLOW with the gate closed, the V4L2 camera loads no
// OpenCV videoio.
#include "tests/e2e/lane_fixture.hpp"

#include <sqlite3.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstddef>
#include <set>

using namespace cp;
using namespace cp::lanetest;

namespace {

struct Exit {
    int code = -1;
    std::string err;
};

Exit run_config(const testing::TempDir& tmp, const std::string& conf, const std::string& board = {}) {
    testing::write_file(tmp / "c.conf", conf);
    std::vector<std::string> args{"--config", (tmp / "c.conf").string()};
    if (!board.empty()) {
        testing::write_file(tmp / "b.conf", board);
        args.insert(args.end(), {"--board", (tmp / "b.conf").string()});
    }
    std::filesystem::remove(tmp / "err.log");
    Process d(args, tmp / "err.log");
    auto rc = d.wait(under_emulator() ? 60'000 : 15'000);
    REQUIRE(rc.has_value());
    return Exit{*rc, testing::read_file(tmp / "err.log")};
}


// A one-lane run to the end of the script; returns the decision lines.
// With lane_from_config the script is named by the sim.lane_script key, not --lane.
std::vector<nlohmann::json> run_lane(const testing::TempDir& tmp, const std::vector<Person>& people,
                                     const std::string& more_config = {}, bool lane_from_config = false) {
    testing::write_file(tmp / "lane.json", lane_script(people).dump());
    const std::string sim_key = "\n[sim]\nlane_script = " + (tmp / "lane.json").string() + "\n";
    testing::write_file(tmp / "checkpointd.conf",
                        config_text(tmp.path(), "gate", more_config + (lane_from_config ? sim_key : "")));
    std::vector<std::string> args{"--config", (tmp / "checkpointd.conf").string(), "--board", board_file().string(),
                                  "--json", "--exit-when-done"};
    if (!lane_from_config) args.insert(args.end(), {"--lane", (tmp / "lane.json").string()});
    Process d(args, tmp / "checkpointd.log");
    auto rc = d.wait(under_emulator() ? 600'000 : 180'000);
    INFO("daemon log:\n" << testing::read_file(tmp / "checkpointd.log"));
    REQUIRE(rc.has_value());
    CHECK(*rc == 0);
    d.read_all(2000);
    return parse_lines(d.lines());
}

}  // namespace

TEST_CASE("configuration errors: exit 2 and the key's name on stderr") {
    testing::TempDir tmp;
    SUBCASE("unknown key") {
        auto e = run_config(tmp, "[policy]\nfever_threshold = 37.0\n");
        CHECK(e.code == 2);
        CHECK(e.err.find("policy.fever_threshold") != std::string::npos);
    }
    SUBCASE("value out of range") {
        auto e = run_config(tmp, "[policy]\nfever_threshold_c = 99\n");
        CHECK(e.code == 2);
        CHECK(e.err.find("policy.fever_threshold_c") != std::string::npos);
    }
    SUBCASE("value that does not parse") {
        auto e = run_config(tmp, "[gate]\nrelay_pulse_ms = long\n");
        CHECK(e.code == 2);
        CHECK(e.err.find("gate.relay_pulse_ms") != std::string::npos);
    }
    SUBCASE("bad backend in the board file") {
        auto e = run_config(tmp, "[device]\nid = x\n", "[board]\nname = b\n[camera]\nbackend = usb\n");
        CHECK(e.code == 2);
        CHECK(e.err.find("camera.backend") != std::string::npos);
    }
    SUBCASE("missing config file") {
        Process d({"--config", (tmp / "absent.conf").string()}, tmp / "err.log");
        auto rc = d.wait(under_emulator() ? 60'000 : 15'000);
        REQUIRE(rc.has_value());
        CHECK(*rc == 2);
    }
    SUBCASE("usage") {
        Process d({"--bogus"}, tmp / "err.log");
        auto rc = d.wait(under_emulator() ? 60'000 : 15'000);
        REQUIRE(rc.has_value());
        CHECK(*rc == 2);
    }
}

TEST_CASE("SIGTERM: clean exit 0, every thread joined, READY/WATCHDOG/STOPPING sent") {
    testing::TempDir tmp;
    World w(tmp.path());
    std::vector<Person> people;
    std::vector<std::pair<pass::PassId, status::Op>> list;
    for (int i = 0; i < 3; ++i) {
        pass::Pass p = w.make_pass(pass::Kind::resident, "张*明");
        list.emplace_back(p.id, status::Op::green);
        people.push_back(person("green " + std::to_string(i), p.name, w.issue(p, w.issuer), p.id, "GREEN", "ok"));
    }
    w.install_list(list, w.now_s - 60);
    testing::write_file(tmp / "lane.json", lane_script(people).dump());
    testing::write_file(tmp / "checkpointd.conf", config_text(tmp.path()));

    // systemd's side: an abstract-namespace datagram socket.
    const std::string name = "cp-test-sd-" + std::to_string(::getpid());
    int sd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::memcpy(a.sun_path + 1, name.data(), name.size());
    REQUIRE(::bind(sd, reinterpret_cast<sockaddr*>(&a),
                   static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size())) == 0);
    timeval tv{0, 200'000};
    ::setsockopt(sd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);

    // No --exit-when-done: the daemon keeps running after the lane until told to stop.
    Process d({"--config", (tmp / "checkpointd.conf").string(), "--board", board_file().string(), "--lane",
               (tmp / "lane.json").string(), "--json"},
              tmp / "checkpointd.log", {"NOTIFY_SOCKET=@" + name, "WATCHDOG_USEC=1000000"});
    std::vector<std::string> msgs;
    auto has = [&](const std::string& m) {
        for (const auto& x : msgs) {
            if (x.find(m) != std::string::npos) return true;
        }
        return false;
    };
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(under_emulator() ? 300 : 90);
    while (std::chrono::steady_clock::now() < deadline && !(has("READY=1") && has("WATCHDOG=1") && !d.lines().empty())) {
        char buf[512];
        ssize_t n = ::recv(sd, buf, sizeof buf, 0);
        if (n > 0) msgs.emplace_back(buf, static_cast<std::size_t>(n));
        d.read_for(10);
    }
    INFO("daemon log:\n" << testing::read_file(tmp / "checkpointd.log"));
    REQUIRE(has("READY=1"));
    CHECK(has("WATCHDOG=1"));
    REQUIRE_FALSE(d.lines().empty());  // it was working when the signal came

    if (!under_emulator()) {
        // The threads are named (qemu-user keeps its own names).
        std::set<std::string> names;
        for (const auto& t : fs::directory_iterator("/proc/" + std::to_string(d.pid()) + "/task")) {
            std::string comm = testing::read_file(t.path() / "comm");
            while (!comm.empty() && comm.back() == '\n') comm.pop_back();
            names.insert(comm);
        }
        CHECK(names.count("capture") == 1);
        CHECK(names.count("decide") == 1);
        CHECK(names.count("housekeeping") == 1);
    }

    const auto t0 = std::chrono::steady_clock::now();
    d.signal(SIGTERM);
    auto rc = d.wait(under_emulator() ? 60'000 : 10'000);
    REQUIRE_MESSAGE(rc.has_value(), "still running 10 s after SIGTERM");
    CHECK(*rc == 0);
    MESSAGE("exit after SIGTERM took "
            << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count()
            << " ms");
    // The process is reaped: no thread of it is left anywhere.
    CHECK_FALSE(fs::exists("/proc/" + std::to_string(d.pid())));
    for (;;) {
        char buf[512];
        ssize_t n = ::recv(sd, buf, sizeof buf, 0);
        if (n <= 0) break;
        msgs.emplace_back(buf, static_cast<std::size_t>(n));
    }
    ::close(sd);
    CHECK(has("STOPPING=1"));
    CHECK(testing::read_file(tmp / "checkpointd.log").find("why=SIGTERM") != std::string::npos);

    // The journal is consistent and holds every decision shown.
    CHECK(integrity_check(tmp / "data" / "journal.db") == "ok");
    auto rows = journal_rows(tmp / "data" / "journal.db");
    int journaled = 0;
    for (const auto& l : parse_lines(d.lines())) journaled += l["journaled"].get<bool>() ? 1 : 0;
    CHECK(static_cast<int>(rows.size()) == journaled);
    // The relay is off at the end (fail-closed).
    const std::string gpio = testing::read_file(tmp / "data" / "gpio-sim.log");
    const auto last_relay = gpio.rfind("gate-relay");
    REQUIRE(last_relay != std::string::npos);
    CHECK(gpio.compare(last_relay, 14, "gate-relay off") == 0);
}

#ifdef CHECKPOINT_WITH_V4L2
TEST_CASE("camera.backend = v4l2: an absent node is device-lost, the daemon runs on, no OpenCV videoio mapped") {
    testing::TempDir tmp;
    World w(tmp.path());
    testing::write_file(tmp / "checkpointd.conf",
                        config_text(tmp.path(), "gate",
                                    "backend = v4l2\ndevice = " + (tmp / "video-absent").string() +
                                        "\nformat = MJPG\n[thermometer]\nbackend = none\n"
                                        "[policy]\ntemperature_required = false\n"));
    Process d({"--config", (tmp / "checkpointd.conf").string(), "--board", board_file().string()},
              tmp / "checkpointd.log");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(under_emulator() ? 120 : 20);
    std::string log;
    while (std::chrono::steady_clock::now() < deadline && log.find("device-lost") == std::string::npos) {
        d.read_for(100);
        log = testing::read_file(tmp / "checkpointd.log");
    }
    INFO("daemon log:\n" << log);
    REQUIRE(log.find("reason=device-lost") != std::string::npos);
    CHECK(log.find("v4l2:" + (tmp / "video-absent").string() + " 960x540 MJPG") != std::string::npos);
    REQUIRE(fs::exists("/proc/" + std::to_string(d.pid())));
    if (!under_emulator()) {
        // qemu-user maps the guest's libraries its own way; the host run is the check.
        const std::string maps = testing::read_file("/proc/" + std::to_string(d.pid()) + "/maps");
        CHECK(maps.find("libcp_camera_videoio") == std::string::npos);
        CHECK(maps.find("libopencv_videoio") == std::string::npos);
        CHECK(maps.find("libgstreamer") == std::string::npos);
        CHECK(maps.find("libjpeg") != std::string::npos);  // what the V4L2 camera needs
    }
    d.signal(SIGTERM);
    auto rc = d.wait(under_emulator() ? 60'000 : 10'000);
    REQUIRE(rc.has_value());
    CHECK(*rc == 0);
}
#endif

TEST_CASE("a stale list gives YELLOW and the gate stays closed") {
    testing::TempDir tmp;
    World w(tmp.path());
    pass::Pass p = w.make_pass(pass::Kind::resident, "张*明");
    w.install_list({{p.id, status::Op::green}}, w.now_s - 3 * 86400);  // max age is one day
    auto lines = run_lane(tmp, {person("green, old list", p.name, w.issue(p, w.issuer), p.id, "YELLOW", "stale-list")});
    REQUIRE(lines.size() == 1);
    CHECK(lines[0]["verdict"] == "YELLOW");
    CHECK(lines[0]["reason"] == "stale-list");
    CHECK(lines[0]["gate"] == false);
    CHECK(count_relay_pulses(tmp / "data" / "gpio-sim.log") == 0);
}

TEST_CASE("the sim board plays the lane script named by sim.lane_script") {
    testing::TempDir tmp;
    World w(tmp.path());
    pass::Pass p = w.make_pass(pass::Kind::resident, "张*明");
    w.install_list({{p.id, status::Op::green}}, w.now_s - 60);
    auto lines = run_lane(tmp, {person("green", p.name, w.issue(p, w.issuer), p.id, "GREEN", "ok")}, {}, true);
    REQUIRE(lines.size() == 1);
    CHECK(lines[0]["verdict"] == "GREEN");
    CHECK(lines[0]["pass_id"] == pass::id_hex(p.id));
}

TEST_CASE("no status list installed gives YELLOW") {
    testing::TempDir tmp;
    World w(tmp.path());
    pass::Pass p = w.make_pass(pass::Kind::resident, "张*明");
    auto lines = run_lane(tmp, {person("green, no list", p.name, w.issue(p, w.issuer), p.id, "YELLOW", "no-list")});
    REQUIRE(lines.size() == 1);
    CHECK(lines[0]["verdict"] == "YELLOW");
    CHECK(lines[0]["reason"] == "no-list");
    CHECK(count_relay_pulses(tmp / "data" / "gpio-sim.log") == 0);
}

TEST_CASE("a faulty thermometer gives YELLOW: measure by hand") {
    testing::TempDir tmp;
    World w(tmp.path());
    std::vector<Person> people;
    std::vector<std::pair<pass::PassId, status::Op>> list;
    for (const char* fault : {"pec-error", "no-device", "error-flag"}) {
        pass::Pass p = w.make_pass(pass::Kind::resident, "张*明");
        list.emplace_back(p.id, status::Op::green);
        Person x = person(std::string("thermometer ") + fault, p.name, w.issue(p, w.issuer), p.id, "YELLOW", "sensor-fault");
        x.extra["thermometer"] = fault;
        people.push_back(x);
    }
    w.install_list(list, w.now_s - 60);
    auto lines = run_lane(tmp, people);
    REQUIRE(lines.size() == people.size());
    for (const auto& l : lines) {
        CAPTURE(l.dump());
        CHECK(l["verdict"] == "YELLOW");
        CHECK(l["gate"] == false);
    }
    for (const auto& l : lines) CHECK(l["reason"] == "sensor-fault");
    CHECK(count_relay_pulses(tmp / "data" / "gpio-sim.log") == 0);
}
