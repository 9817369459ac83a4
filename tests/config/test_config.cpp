#include "src/config/config.hpp"
#include "tests/testing.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace cp::config;

namespace {
// The key named at the start of a config error message.
bool names_key(const cp::Error& e, const std::string& key) {
    return e.kind == cp::ErrorKind::config && e.reason == "config" && e.message.rfind(key + ":", 0) == 0;
}
}  // namespace

TEST_CASE("defaults: an empty file is a valid configuration") {
    auto c = parse("");
    REQUIRE(c.ok());
    CHECK(c->policy.fever_threshold_c == doctest::Approx(37.3));
    CHECK(c->device.lane == cp::decision::LaneMode::gate);
    CHECK(c->camera.backend == "sim");
}

TEST_CASE("values are parsed and reach the lane policy") {
    auto c = parse(R"(
# a comment
[device]
id = gate-07
site = "Ranghulu North"   
lane = truck
direction = out
[policy]
fever_threshold_c = 37.0
max_list_age_s = 7200   # two hours
repeat_window_s = 10
temperature_required = false
[journal]
max_rows = 5000
[thermometer]
address = 0x5b
[upstream]
url = https://cc.example/api
)");
    REQUIRE_MESSAGE(c.ok(), (c.ok() ? "" : c.error().describe()));
    CHECK(c->device.id == "gate-07");
    CHECK(c->device.site == "Ranghulu North");
    CHECK(c->thermometer.address == 0x5b);
    CHECK(c->journal.max_rows == 5000);
    auto p = c->lane_policy();
    CHECK(p.mode == cp::decision::LaneMode::truck);
    CHECK(p.fever_threshold_c == doctest::Approx(37.0));
    CHECK(p.max_list_age_s == 7200);
    CHECK(p.repeat_window_s == 10);
    CHECK_FALSE(p.temperature_required);
    CHECK(c->device.direction == cp::decision::Direction::out);
}

TEST_CASE("bad keys and values are rejected by name") {
    struct Case { const char* text; const char* key; };
    const Case cases[] = {
        {"[device]\nnope = 1\n", "device.nope"},
        {"[policy]\nfever_threshold_c = 42\n", "policy.fever_threshold_c"},
        {"[policy]\nfever_threshold_c = hot\n", "policy.fever_threshold_c"},
        {"[policy]\nfever_threshold_c = nan\n", "policy.fever_threshold_c"},
        {"[policy]\nmax_list_age_s = -5\n", "policy.max_list_age_s"},
        {"[policy]\nmax_list_age_s = 99999999999999999999999\n", "policy.max_list_age_s"},
        {"[policy]\ntemperature_required = maybe\n", "policy.temperature_required"},
        {"[gate]\nrelay_pulse_ms = 5\n", "gate.relay_pulse_ms"},
        {"[device]\nlane = bicycle\n", "device.lane"},
        {"[camera]\nfps = 0\n", "camera.fps"},
        {"[camera]\nbackend = usb\n", "camera.backend"},
        {"[thermometer]\naddress = 0x80\n", "thermometer.address"},
        {"[paths]\njournal = relative/journal.db\n", "paths.journal"},
        {"[upstream]\nurl = ftp://x\n", "upstream.url"},
        {"[upstream]\nurl = https://\n", "upstream.url"},
        {"[upstream]\nurl = https://cc.example/\n", "upstream.url"},
        {"[upstream]\nurl = \"https://cc example\"\n", "upstream.url"},
        {"[upstream]\nca_file = fleet-ca.crt\n", "upstream.ca_file"},
        {"[upstream]\ntrust_dir = trust\n", "upstream.trust_dir"},
        {"[upstream]\nlist_interval_s = 1\n", "upstream.list_interval_s"},
        {"[upstream]\ntrust_interval_s = 0\n", "upstream.trust_interval_s"},
        {"[upstream]\nheartbeat_interval_s = 100000\n", "upstream.heartbeat_interval_s"},
        {"[upstream]\nupload_batch = 1001\n", "upstream.upload_batch"},
        {"[upstream]\nbackoff_cap_s = 0\n", "upstream.backoff_cap_s"},
        {"[upstream]\ninterval_s = 60\n", "upstream.interval_s"},
        {"[paths]\nlist_signer = list-signer.crt\n", "paths.list_signer"},
        {"[log]\nlevel = loud\n", "log.level"},
        {"[device]\nid =\n", "device.id"},
        {"[board]\nname = x\n", "board.name"},
        {"[nosuch]\nkey = 1\n", "nosuch.key"},
        {"[sim]\nlane_script = lanes/a.json\n", "sim.lane_script"},
    };
    for (const auto& tc : cases) {
        CAPTURE(tc.text);
        auto c = parse(tc.text);
        REQUIRE_FALSE(c.ok());
        CHECK_MESSAGE(names_key(c.error(), tc.key), c.error().describe());
    }
}

TEST_CASE("sim.lane_script: an absolute path, empty by default, allowed in board files") {
    CHECK(parse("").value().sim.lane_script.empty());
    CHECK(parse("[sim]\nlane_script = /srv/lanes/a.json\n").value().sim.lane_script == "/srv/lanes/a.json");
    CHECK(parse("", "[sim]\nlane_script = /srv/lanes/b.json\n").value().sim.lane_script == "/srv/lanes/b.json");
    CHECK(parse("[sim]\nlane_script =\n").value().sim.lane_script.empty());
}

TEST_CASE("syntax errors are typed config errors with the line") {
    for (const char* text : {"[device\nid = x\n", "id = x\n", "[device]\njust words\n", "[device]\nid = a\nid = b\n",
                             "[Dev ice]\n", "[device]\nI D = x\n"}) {
        CAPTURE(text);
        auto c = parse(text);
        REQUIRE_FALSE(c.ok());
        CHECK(c.error().kind == cp::ErrorKind::config);
        CHECK(c.error().message.find("config:") == 0);
    }
    CHECK_FALSE(parse(std::string("[device]\nid = a\0b\n", 18)).ok());
    CHECK_FALSE(parse("[device]\nid = " + std::string(5000, 'x') + "\n").ok());
}

TEST_CASE("a dotted key outside a section says keys live in [section]s and shows the form") {
    auto c = parse("device.id = gate-01\n");
    REQUIRE_FALSE(c.ok());
    CHECK(c.error().kind == cp::ErrorKind::config);
    const std::string& m = c.error().message;
    INFO(m);
    CHECK(m.rfind("config:1:", 0) == 0);
    CHECK(m.find("[section]") != std::string::npos);
    CHECK(m.find("[device]") != std::string::npos);
    CHECK(m.find("id = ") != std::string::npos);
    CHECK(m.find("gate-01") == std::string::npos);  // values are not echoed
    // Inside a section too: "[device]" then "camera.fps = 5".
    auto in_section = parse("[device]\ncamera.fps = 5\n");
    REQUIRE_FALSE(in_section.ok());
    CHECK(in_section.error().message.find("[camera]") != std::string::npos);
    CHECK(in_section.error().message.find("fps = ") != std::string::npos);
    // A plain key outside any section is told the same.
    auto plain = parse("id = gate-01\n");
    REQUIRE_FALSE(plain.ok());
    CHECK(plain.error().message.find("[section]") != std::string::npos);
    CHECK(plain.error().message.find("[device]") != std::string::npos);
}

TEST_CASE("board files set hardware only, and the config file overrides them") {
    const char* board = "[board]\nname = test\n[camera]\nbackend = v4l2\nfps = 15\n[gpio]\nrelay = GPIO5\n";
    auto c = parse("[camera]\nfps = 25\n", board);
    REQUIRE(c.ok());
    CHECK(c->board_name == "test");
    CHECK(c->camera.backend == "v4l2");
    CHECK(c->camera.fps == 25);
    CHECK(c->gpio.relay == "GPIO5");
    auto bad = parse("", "[policy]\nfever_threshold_c = 36\n");
    REQUIRE_FALSE(bad.ok());
    CHECK(names_key(bad.error(), "policy.fever_threshold_c"));
}

TEST_CASE("load() reads the board file named by the config, relative to it") {
    cp::testing::TempDir dir;
    std::filesystem::create_directories(dir / "board");
    cp::testing::write_file(dir / "board" / "b.conf", "[thermometer]\nbackend = mlx90614\naddress = 0x5a\n");
    cp::testing::write_file(dir / "c.conf", "[device]\nid = d1\nboard = board/b.conf\n");
    auto c = load((dir / "c.conf").string());
    REQUIRE_MESSAGE(c.ok(), (c.ok() ? "" : c.error().describe()));
    CHECK(c->thermometer.backend == "mlx90614");
    CHECK(c->device.id == "d1");

    auto missing = load((dir / "nope.conf").string());
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error().is(cp::config::reason::config_read));
    cp::testing::write_file(dir / "c2.conf", "[device]\nboard = board/absent.conf\n");
    CHECK_FALSE(load((dir / "c2.conf").string()).ok());
}

TEST_CASE("the repository's board files parse") {
    const std::filesystem::path src = CHECKPOINT_SOURCE_DIR;
    for (const char* b : {"host-sim", "rpi4"}) {
        CAPTURE(b);
        auto text = cp::testing::read_file(src / "board" / b / "board.conf");
        auto c = parse("", text);
        REQUIRE_MESSAGE(c.ok(), (c.ok() ? "" : c.error().describe()));
        CHECK(c->board_name == b);
    }
    auto rpi = parse("", cp::testing::read_file(src / "board" / "rpi4" / "board.conf"));
    REQUIRE(rpi.ok());
    CHECK(rpi->camera.backend == "v4l2");
    CHECK(rpi->camera.device == "/dev/video0");
    CHECK(rpi->camera.width == 1280);
    CHECK(rpi->camera.height == 720);
    CHECK(rpi->camera.format == "MJPG");
    CHECK(rpi->thermometer.backend == "mlx90614");
    CHECK(rpi->thermometer.address == 0x5a);
    CHECK(rpi->thermometer.bus == "/dev/i2c-1");
    CHECK(rpi->gpio.relay == "GPIO17");
}

TEST_CASE("to_text round-trips") {
    auto c = parse("[device]\nid = x\nlane = truck\n[policy]\nfever_threshold_c = 37.1\n");
    REQUIRE(c.ok());
    auto again = parse(to_text(*c));
    REQUIRE_MESSAGE(again.ok(), (again.ok() ? "" : again.error().describe()));
    CHECK(to_text(*again) == to_text(*c));
    CHECK(again->device.lane == cp::decision::LaneMode::truck);
}

TEST_CASE("upstream: https only, with its files, intervals and batch size") {
    // Plain HTTP is refused at start-up with a message that says why, not later by
    // every request of the sync client.
    auto http = parse("[upstream]\nurl = http://cc.example:8443\n");
    REQUIRE_FALSE(http.ok());
    CHECK(names_key(http.error(), "upstream.url"));
    CHECK(http.error().message.find("plain http:// is refused") != std::string::npos);

    auto none = parse("");
    REQUIRE(none.ok());
    CHECK(none->upstream.url.empty());  // no sync by default
    CHECK(none->upstream.upload_batch == 1000);

    auto c = parse(R"(
[paths]
list_signer = /etc/cp/list-signer.crt
[upstream]
url = https://127.0.0.1:8443
ca_file = /etc/cp/fleet-ca.crt
cert_file = /etc/cp/gate-01.crt
key_file = /etc/cp/gate-01.key
trust_dir = /var/lib/cp/trust
heartbeat_interval_s = 30
list_interval_s = 120
trust_interval_s = 600
upload_batch = 500
backoff_cap_s = 60
)");
    REQUIRE_MESSAGE(c.ok(), (c.ok() ? "" : c.error().describe()));
    CHECK(c->upstream.url == "https://127.0.0.1:8443");
    CHECK(c->upstream.ca_file == "/etc/cp/fleet-ca.crt");
    CHECK(c->upstream.cert_file == "/etc/cp/gate-01.crt");
    CHECK(c->upstream.key_file == "/etc/cp/gate-01.key");
    CHECK(c->upstream.trust_dir == "/var/lib/cp/trust");
    CHECK(c->upstream.heartbeat_interval_s == 30);
    CHECK(c->upstream.list_interval_s == 120);
    CHECK(c->upstream.trust_interval_s == 600);
    CHECK(c->upstream.upload_batch == 500);
    CHECK(c->upstream.backoff_cap_s == 60);
    CHECK(c->paths.list_signer == "/etc/cp/list-signer.crt");
    // And back through to_text (what the fuzz target checks for any input).
    auto again = parse(to_text(*c));
    REQUIRE(again.ok());
    CHECK(to_text(*again) == to_text(*c));
    // Upstream settings are the device's, not the hardware's.
    auto board = parse("", "[upstream]\nurl = https://x\n");
    REQUIRE_FALSE(board.ok());
    CHECK(names_key(board.error(), "upstream.url"));
}

TEST_CASE("device.id follows the command centre's rule: 1 to 64 token characters") {
    // The command centre enrols only such ids (src/common/device_id.hpp); any other
    // would have every upload refused, so the device refuses it at start-up.
    for (const std::string& bad : {std::string("\"gate 01\""), std::string("gate/01"), std::string("gate#1"),
                                  std::string("网关"), std::string(65, 'a'), std::string(1024, 'a')}) {
        CAPTURE(bad);
        auto c = parse("[device]\nid = " + bad + "\n");
        REQUIRE_FALSE(c.ok());
        CHECK_MESSAGE(names_key(c.error(), "device.id"), c.error().describe());
        CHECK(c.error().message.find("64") != std::string::npos);
    }
    for (const std::string& good : {std::string("gate-01"), std::string("site.a:lane_2"), std::string(64, 'a')}) {
        CAPTURE(good);
        auto c = parse("[device]\nid = " + good + "\n");
        REQUIRE_MESSAGE(c.ok(), c.error().describe());
        CHECK(c->device.id == good);
    }
}

TEST_CASE("upstream.urls: several replicas (https only), the single url key still works; list_url may be http") {
    auto c = parse("[upstream]\nurls = https://cc-a.example:8443, https://cc-b.example:8443,https://cc-c.example\n"
                   "list_url = http://lists.example\n");
    REQUIRE_MESSAGE(c.ok(), (c.ok() ? "" : c.error().describe()));
    CHECK(c->upstream.url == "https://cc-a.example:8443");
    CHECK(c->upstream.fallback_urls == std::vector<std::string>{"https://cc-b.example:8443", "https://cc-c.example"});
    CHECK(c->upstream.list_url == "http://lists.example");
    auto again = parse(to_text(*c));
    REQUIRE_MESSAGE(again.ok(), (again.ok() ? "" : again.error().describe()));
    CHECK(to_text(*again) == to_text(*c));
    CHECK(again->upstream.fallback_urls.size() == 2);

    // An empty url after urls turns sync off, replicas included (and round-trips).
    auto off = parse("[upstream]\nurls = https://a.example, https://b.example\nurl = \"\"\n");
    REQUIRE_MESSAGE(off.ok(), (off.ok() ? "" : off.error().describe()));
    CHECK(off->upstream.url.empty());
    CHECK(off->upstream.fallback_urls.empty());
    auto off2 = parse(to_text(*off));
    REQUIRE_MESSAGE(off2.ok(), (off2.ok() ? "" : off2.error().describe()));

    auto one = parse("[upstream]\nurl = https://cc.example\n");
    REQUIRE(one.ok());
    CHECK(one->upstream.url == "https://cc.example");
    CHECK(one->upstream.fallback_urls.empty());
    CHECK(one->upstream.list_url.empty());

    struct Case { const char* text; const char* key; };
    const Case bad[] = {
        {"[upstream]\nurls = https://a.example, http://b.example\n", "upstream.urls"},  // a replica: https only
        {"[upstream]\nurls = https://a.example,,https://b.example\n", "upstream.urls"},
        {"[upstream]\nurls = https://a.example,\n", "upstream.urls"},
        {"[upstream]\nurls = https://1,https://2,https://3,https://4,https://5,https://6,https://7,https://8,https://9\n",
         "upstream.urls"},
        // A comma would make the single url read back as two replicas (found by fuzz_config).
        {"[upstream]\nurl = https://cc.example/lib/check,point\n", "upstream.url"},
        {"[upstream]\nlist_url = http://lists.example/a,b\n", "upstream.list_url"},
        {"[upstream]\nlist_url = ftp://lists.example\n", "upstream.list_url"},
        {"[upstream]\nlist_url = http://lists.example/\n", "upstream.list_url"},
    };
    for (const auto& k : bad) {
        auto r = parse(k.text);
        REQUIRE_FALSE(r.ok());
        CHECK_MESSAGE(names_key(r.error(), k.key), k.text);
    }
}
