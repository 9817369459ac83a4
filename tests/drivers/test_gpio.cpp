#include "drivers/gpio/gpio.hpp"
#include "src/common/time.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <thread>

using namespace cp;
using namespace cp::gpio;

namespace {

void sleep_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

// Waits up to 2 s for `pred`, so timing tests do not flake on a loaded machine.
template <typename F>
bool eventually(F pred) {
    for (int i = 0; i < 400; ++i) {
        if (pred()) return true;
        sleep_ms(5);
    }
    return pred();
}

ActuatorConfig quick() {
    ActuatorConfig c;
    c.relay_pulse_ms = 100;
    c.buzzer_ms = 50;
    return c;
}

}  // namespace

TEST_CASE("start-up drives every line off, the relay first") {
    auto tl = std::make_shared<SimTimeline>();
    Actuators a(open_sim_gpio(tl), quick());
    auto ch = tl->changes();
    REQUIRE(ch.size() == 4);
    CHECK(ch[0].line == Line::gate_relay);
    for (const auto& c : ch) CHECK_FALSE(c.on);
    CHECK(a.safe());
    CHECK_FALSE(a.gate_open());
}

TEST_CASE("a gate pulse switches the relay on for relay_pulse_ms") {
    auto tl = std::make_shared<SimTimeline>();
    Actuators a(open_sim_gpio(tl), quick());
    tl->clear();
    REQUIRE(a.pulse_gate().ok());
    CHECK(a.gate_open());
    CHECK(tl->level(Line::gate_relay));
    REQUIRE(eventually([&] { return !tl->level(Line::gate_relay); }));
    auto relay = tl->changes(Line::gate_relay);
    REQUIRE(relay.size() == 2);
    CHECK(relay[0].on);
    CHECK_FALSE(relay[1].on);
    const auto len = relay[1].t_ms - relay[0].t_ms;
    CHECK(len >= 100);
    CHECK(len < 1000);  // generous: CI machines are shared
    CHECK_FALSE(a.gate_open());
}

TEST_CASE("a second pulse during the first extends it") {
    auto tl = std::make_shared<SimTimeline>();
    Actuators a(open_sim_gpio(tl), quick());
    tl->clear();
    const auto t0 = monotonic_now_ms();
    REQUIRE(a.pulse_gate().ok());
    sleep_ms(60);
    REQUIRE(a.pulse_gate().ok());
    REQUIRE(eventually([&] { return !tl->level(Line::gate_relay); }));
    auto relay = tl->changes(Line::gate_relay);
    CHECK(relay.back().t_ms - t0 >= 160);
}

TEST_CASE("close_gate ends a pulse at once") {
    auto tl = std::make_shared<SimTimeline>();
    ActuatorConfig c = quick();
    c.relay_pulse_ms = 5000;
    Actuators a(open_sim_gpio(tl), c);
    REQUIRE(a.pulse_gate().ok());
    REQUIRE(a.close_gate().ok());
    CHECK_FALSE(tl->level(Line::gate_relay));
    CHECK_FALSE(a.gate_open());
}

TEST_CASE("destruction during a pulse closes the gate and releases the lines") {
    auto tl = std::make_shared<SimTimeline>();
    {
        ActuatorConfig c = quick();
        c.relay_pulse_ms = 10000;
        Actuators a(open_sim_gpio(tl), c);
        REQUIRE(a.pulse_gate().ok());
        REQUIRE(a.beep(5000).ok());
        tl->clear();
    }
    auto ch = tl->changes();
    REQUIRE(ch.size() == 8);  // four explicit offs, then four releases
    CHECK(ch[0].line == Line::gate_relay);
    CHECK_FALSE(ch[0].on);
    CHECK_FALSE(ch[0].released);
    for (std::size_t i = 4; i < 8; ++i) CHECK(ch[i].released);
    CHECK_FALSE(tl->level(Line::gate_relay));
}

TEST_CASE("a pulse that cannot be ended forces the safe state") {
    auto tl = std::make_shared<SimTimeline>();
    Actuators a(open_sim_gpio(tl), quick());
    REQUIRE(a.pulse_gate().ok());
    tl->fail_next(Line::gate_relay, 100);  // the relay line stops answering
    REQUIRE(eventually([&] { return !a.safe(); }));
    auto relay = tl->changes(Line::gate_relay);
    REQUIRE_FALSE(relay.empty());
    CHECK(relay.back().released);
    CHECK_FALSE(tl->level(Line::gate_relay));
    CHECK_FALSE(a.gate_open());
    auto again = a.pulse_gate();
    REQUIRE_FALSE(again.ok());
    CHECK(again.error().is(cp::gpio::reason::gpio_faulted));
}

TEST_CASE("a relay that cannot be switched on reports an error and stays off") {
    auto tl = std::make_shared<SimTimeline>();
    Actuators a(open_sim_gpio(tl), quick());
    tl->fail_next(Line::gate_relay, 1);
    auto r = a.pulse_gate();
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().is(cp::gpio::reason::gpio));
    CHECK_FALSE(a.gate_open());
    CHECK_FALSE(tl->level(Line::gate_relay));
    CHECK(a.safe());  // the off write worked: no need to let go of the lines
}

TEST_CASE("a lamp failure during an opening closes the gate") {
    auto tl = std::make_shared<SimTimeline>();
    ActuatorConfig c = quick();
    c.relay_pulse_ms = 5000;
    Actuators a(open_sim_gpio(tl), c);
    REQUIRE(a.pulse_gate().ok());
    tl->fail_next(Line::green_lamp, 1);
    CHECK_FALSE(a.set_signal(Signal::green).ok());
    CHECK_FALSE(tl->level(Line::gate_relay));
    CHECK_FALSE(a.gate_open());
}

TEST_CASE("start-up that cannot switch a line off starts in the safe state") {
    auto tl = std::make_shared<SimTimeline>();
    tl->fail_next(Line::gate_relay, 1);
    Actuators a(open_sim_gpio(tl), quick());
    CHECK_FALSE(a.safe());
    CHECK(tl->changes().back().released);
    CHECK_FALSE(a.pulse_gate().ok());
}

TEST_CASE("lamps and a beep on the timeline") {
    auto tl = std::make_shared<SimTimeline>();
    Actuators a(open_sim_gpio(tl), quick());
    REQUIRE(a.set_signal(Signal::red).ok());
    CHECK(tl->level(Line::red_lamp));
    CHECK_FALSE(tl->level(Line::green_lamp));
    REQUIRE(a.set_signal(Signal::green).ok());
    CHECK(tl->level(Line::green_lamp));
    CHECK_FALSE(tl->level(Line::red_lamp));
    REQUIRE(a.beep(30).ok());
    CHECK(tl->level(Line::buzzer));
    REQUIRE(eventually([&] { return !tl->level(Line::buzzer); }));
    auto bz = tl->changes(Line::buzzer);
    CHECK(bz.back().t_ms - bz[bz.size() - 2].t_ms >= 30);
}

TEST_CASE("configuration errors") {
    ActuatorConfig c;
    c.relay_pulse_ms = 10;
    CHECK(validate(c).error().message.find("relay_pulse_ms") != std::string::npos);
    GpiodConfig g;
    auto r = open_gpiod(g);  // no line has a name or offset
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().kind == ErrorKind::config);
    SimTimeline bounded(3);
    for (int i = 0; i < 5; ++i) bounded.record({i, Line::buzzer, i % 2 == 0, false});
    CHECK(bounded.changes().size() == 3);
    CHECK(bounded.changes().front().t_ms == 2);
}
