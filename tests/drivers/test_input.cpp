#include "drivers/input/input.hpp"

#include <doctest/doctest.h>

#include <cstring>
#include <fcntl.h>
#include <linux/input.h>
#include <unistd.h>

using namespace cp;
using namespace cp::input;

namespace {

Bytes key_event(std::uint16_t code, std::int32_t value, std::uint16_t type = EV_KEY) {
    input_event ev{};
    ev.type = type;
    ev.code = code;
    ev.value = value;
    Bytes b(sizeof ev);
    std::memcpy(b.data(), &ev, sizeof ev);
    return b;
}

// A key as a keyboard sends it: press, SYN, release, SYN.
Bytes stroke(std::uint16_t code) {
    Bytes out;
    for (const Bytes& b : {key_event(code, 1), key_event(SYN_REPORT, 0, EV_SYN),
                           key_event(code, 0), key_event(SYN_REPORT, 0, EV_SYN)})
        out.insert(out.end(), b.begin(), b.end());
    return out;
}

void write_all(int fd, const Bytes& b) {
    REQUIRE(::write(fd, b.data(), b.size()) == static_cast<ssize_t>(b.size()));
}

}  // namespace

TEST_CASE("key codes map to plate characters and commands") {
    CHECK(map_key(KEY_1)->ch == '1');
    CHECK(map_key(KEY_0)->ch == '0');
    CHECK(map_key(KEY_KP7)->ch == '7');
    CHECK(map_key(KEY_Q)->ch == 'Q');
    CHECK(map_key(KEY_Z)->ch == 'Z');
    CHECK(map_key(KEY_ENTER)->kind == Key::Kind::enter);
    CHECK(map_key(KEY_KPENTER)->kind == Key::Kind::enter);
    CHECK(map_key(KEY_BACKSPACE)->kind == Key::Kind::backspace);
    CHECK(map_key(KEY_F1)->kind == Key::Kind::allow);
    CHECK(map_key(KEY_KPMINUS)->kind == Key::Kind::deny);
    CHECK(map_key(KEY_F4)->kind == Key::Kind::dir_out);
    CHECK_FALSE(map_key(KEY_LEFTSHIFT).has_value());
    CHECK_FALSE(map_key(KEY_VOLUMEUP).has_value());
}

TEST_CASE("the line editor builds, edits and submits a plate") {
    LineEditor ed;
    using K = Key::Kind;
    CHECK_FALSE(ed.feed({K::enter, 0}).has_value());  // nothing typed: nothing submitted
    for (char c : std::string("AB12X")) CHECK_FALSE(ed.feed({K::character, c}).has_value());
    ed.feed({K::backspace, 0});
    CHECK(ed.line() == "AB12");
    auto e = ed.feed({K::enter, 0});
    REQUIRE(e.has_value());
    CHECK(std::get<PlateEntered>(*e).text == "AB12");
    CHECK(ed.line().empty());
    for (int i = 0; i < 40; ++i) ed.feed({K::character, '9'});
    CHECK(ed.line().size() == kMaxPlate);  // bounded
    ed.feed({K::clear, 0});
    CHECK(ed.line().empty());
    auto allow = ed.feed({K::allow, 0});
    CHECK(std::get<ManualDecision>(*allow).decision == lane::Decision::allow);
    auto dir = ed.feed({K::dir_out, 0});
    CHECK(std::get<DirectionSet>(*dir).direction == lane::Direction::out);
}

TEST_CASE("the evdev parser keeps partial records and ignores releases") {
    EvdevParser p;
    Bytes all = stroke(KEY_A);
    Bytes rep = key_event(KEY_A, 2);  // autorepeat types again
    all.insert(all.end(), rep.begin(), rep.end());
    std::vector<std::uint16_t> codes;
    // Feed in awkward chunks: 5 bytes at a time.
    for (std::size_t i = 0; i < all.size(); i += 5) {
        const std::size_t n = std::min<std::size_t>(5, all.size() - i);
        auto got = p.feed(ByteView(all.data() + i, n));
        codes.insert(codes.end(), got.begin(), got.end());
    }
    CHECK(codes == std::vector<std::uint16_t>{KEY_A, KEY_A});
}

TEST_CASE("evdev through a pipe: plate, decision, direction, then device lost") {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    auto src = open_evdev_fd(fds[0], "pipe");
    Bytes typed;
    for (int k : {KEY_F3, KEY_B, KEY_J, KEY_1, KEY_2, KEY_3, KEY_BACKSPACE, KEY_4, KEY_ENTER,
                  KEY_KPPLUS}) {
        Bytes s = stroke(static_cast<std::uint16_t>(k));
        typed.insert(typed.end(), s.begin(), s.end());
    }
    // Split mid-record to prove reassembly across reads.
    const std::size_t cut = typed.size() / 2 + 3;
    write_all(fds[1], Bytes(typed.begin(), typed.begin() + static_cast<std::ptrdiff_t>(cut)));
    std::vector<InputEvent> got;
    for (int i = 0; i < 20 && got.size() < 1; ++i)
        if (auto e = src->poll(50); e.ok() && e->has_value()) got.push_back(**e);
    write_all(fds[1], Bytes(typed.begin() + static_cast<std::ptrdiff_t>(cut), typed.end()));
    for (int i = 0; i < 20 && got.size() < 3; ++i)
        if (auto e = src->poll(50); e.ok() && e->has_value()) got.push_back(**e);
    REQUIRE(got.size() == 3);
    CHECK(std::get<DirectionSet>(got[0]).direction == lane::Direction::in);
    CHECK(std::get<PlateEntered>(got[1]).text == "BJ124");
    CHECK(std::get<ManualDecision>(got[2]).decision == lane::Decision::allow);
    auto idle = src->poll(10);
    REQUIRE(idle.ok());
    CHECK_FALSE(idle->has_value());
    ::close(fds[1]);
    auto lost = src->poll(100);
    REQUIRE_FALSE(lost.ok());
    CHECK(lost.error().reason == "input-lost");
}

TEST_CASE("open_evdev on a missing node is a typed error") {
    auto r = open_evdev("/dev/input/event-does-not-exist");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().kind == ErrorKind::unavailable);
}

TEST_CASE("sim input: pushed events come out in order") {
    SimInput sim;
    sim.push(ManualDecision{lane::Decision::deny});
    sim.push_key({Key::Kind::character, 'Z'});
    sim.push_key({Key::Kind::enter, 0});
    auto a = sim.poll(0);
    REQUIRE(a.ok());
    REQUIRE(a->has_value());
    CHECK(std::holds_alternative<ManualDecision>(**a));
    auto b = sim.poll(0);
    REQUIRE(b->has_value());
    CHECK(std::get<PlateEntered>(**b).text == "Z");
    auto none = sim.poll(20);
    REQUIRE(none.ok());
    CHECK_FALSE(none->has_value());
}

TEST_CASE("sim input follows the lane: keystrokes when the person holds their code") {
    auto script = std::make_shared<lane::LaneScript>();
    script->lead_frames = 1;
    lane::Person p;
    p.plate = "CD-9";
    p.direction = lane::Direction::out;
    p.decision = lane::Decision::deny;
    p.arrive_frames = 1;
    p.hold_frames = 2;
    p.leave_frames = 1;
    p.gap_frames = 1;
    script->people = {p};
    auto cursor = std::make_shared<lane::LaneCursor>();
    SimInput sim(script, cursor);
    cursor->set_frame(1);  // arriving: the inspector waits
    CHECK_FALSE(sim.poll(0)->has_value());
    cursor->set_frame(2);  // holding
    std::vector<InputEvent> got;
    for (int i = 0; i < 5; ++i)
        if (auto e = sim.poll(0); e.ok() && e->has_value()) got.push_back(**e);
    REQUIRE(got.size() == 3);
    CHECK(std::get<DirectionSet>(got[0]).direction == lane::Direction::out);
    CHECK(std::get<PlateEntered>(got[1]).text == "CD-9");
    CHECK(std::get<ManualDecision>(got[2]).decision == lane::Decision::deny);
    cursor->set_frame(3);  // still the same person: typed once only
    CHECK_FALSE(sim.poll(0)->has_value());
}
