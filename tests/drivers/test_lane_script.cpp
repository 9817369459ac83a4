#include "drivers/sim_lane/lane_script.hpp"
#include "tests/testing.hpp"

#include <doctest/doctest.h>

#include <cstdlib>

using namespace cp;
using namespace cp::lane;

namespace {
const char* kScript = R"({
  "version": 1,
  "lead_frames": 5,
  "people": [
    {"qr": "CP1:ABC", "temperature_c": 36.7, "plate": "AB-123", "direction": "in",
     "decision": "allow", "medium": "paper",
     "effects": {"tilt_deg": 20, "blur": "motion", "blur_px": 4, "glare": 0.5},
     "arrive_frames": 2, "hold_frames": 3, "leave_frames": 2, "gap_frames": 1},
    {"qr": null, "temperature_c": null, "thermometer": "stuck"}
  ]
})";
}

TEST_CASE("a lane script parses with its defaults") {
    auto r = parse_lane_script(kScript);
    REQUIRE(r.ok());
    const LaneScript& s = *r;
    CHECK(s.lead_frames == 5);
    REQUIRE(s.people.size() == 2);
    const Person& a = s.people[0];
    CHECK(a.qr.value() == "CP1:ABC");
    CHECK(a.temperature_c.value() == doctest::Approx(36.7));
    CHECK(a.plate == "AB-123");
    CHECK(a.direction == Direction::in);
    CHECK(a.decision == Decision::allow);
    CHECK(a.medium == Medium::paper);
    CHECK(a.effects.blur == Blur::motion);
    CHECK(a.effects.tilt_deg == doctest::Approx(20));
    CHECK(a.effects.brightness == doctest::Approx(1.0));  // default kept
    const Person& b = s.people[1];
    CHECK_FALSE(b.qr.has_value());
    CHECK_FALSE(b.temperature_c.has_value());
    CHECK(b.thermo_fault == ThermoFault::stuck);
    CHECK(b.medium == Medium::phone);
    CHECK(s.total_frames() == 5 + 8 + (8 + 30 + 8 + 15));
}

TEST_CASE("positions along the lane follow the phases") {
    auto s = parse_lane_script(kScript).value();
    CHECK(s.at(0).person == -1);
    CHECK(s.at(4).phase == Phase::empty);
    CHECK(s.at(5).person == 0);
    CHECK(s.at(5).phase == Phase::arriving);
    CHECK(s.at(7).phase == Phase::holding);
    CHECK(s.at(7).frame_in_phase == 0);
    CHECK(s.at(9).phase == Phase::holding);
    CHECK(s.at(9).frame_in_phase == 2);
    CHECK(s.at(10).phase == Phase::leaving);
    CHECK(s.at(12).person == -1);  // the gap after person 0
    CHECK(s.at(13).person == 1);
    CHECK(s.at(1000000).person == -1);
    CHECK(s.at(-3).person == -1);
}

TEST_CASE("bad scripts are typed errors naming the key") {
    auto expect = [](const char* text, const char* where) {
        auto r = parse_lane_script(text);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().kind == ErrorKind::invalid_input);
        CHECK(r.error().reason == "lane-script");
        CHECK_MESSAGE(r.error().message.find(where) != std::string::npos, r.error().message);
    };
    expect("{", "$");
    expect("[]", "$");
    expect(R"({"people": 3})", "$.people");
    expect(R"({"peple": []})", "$.peple");
    expect(R"({"people": [{"colour": "red"}]})", "$.people[0].colour");
    expect(R"({"people": [{"temperature_c": 80}]})", "$.people[0].temperature_c");
    expect(R"({"people": [{"temperature_c": "hot"}]})", "$.people[0].temperature_c");
    expect(R"({"people": [{"medium": "tablet"}]})", "$.people[0].medium");
    expect(R"({"people": [{"plate": "ab12"}]})", "$.people[0].plate");
    expect(R"({"people": [{"hold_frames": 0}]})", "$.people[0].hold_frames");
    expect(R"({"people": [{"hold_frames": 2.5}]})", "$.people[0].hold_frames");
    expect(R"({"people": [{"effects": {"glare": 2}}]})", "$.people[0].effects.glare");
    expect(R"({"people": [{"effects": {"sparkle": 1}}]})", "$.people[0].effects.sparkle");
    expect(R"({"version": 2, "people": []})", "$.version");
}

TEST_CASE("load_lane_script reads a file and reports a missing one") {
    testing::TempDir dir;
    testing::write_file(dir / "lane.json", kScript);
    auto ok = load_lane_script((dir / "lane.json").string());
    REQUIRE(ok.ok());
    CHECK(ok->people.size() == 2);
    auto missing = load_lane_script((dir / "none.json").string());
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error().kind == ErrorKind::io);
    testing::write_file(dir / "bad.json", R"({"people": [{"x": 1}]})");
    auto bad = load_lane_script((dir / "bad.json").string());
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().message.find("bad.json") != std::string::npos);
}

TEST_CASE("the lane cursor is shared state") {
    LaneCursor c;
    CHECK(c.frame() == -1);
    c.set_frame(42);
    CHECK(c.frame() == 42);
}

TEST_CASE("the documented example lane script parses") {
    const char* src = std::getenv("CHECKPOINT_SOURCE");
    std::string root = src ? src : ".";
    auto r = load_lane_script(root + "/drivers/sim_lane/examples/demo-lane.json");
    REQUIRE_MESSAGE(r.ok(), r.error().describe());
    REQUIRE(r->people.size() == 4);
    CHECK(r->people[1].temperature_c.value() > 38.0);
    CHECK(r->people[2].thermo_fault == ThermoFault::no_device);
    CHECK_FALSE(r->people[3].qr.has_value());
}
