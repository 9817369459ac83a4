// The handheld's trigger: an evdev key read through a pipe (records as the
// kernel writes them, split across reads), a device that goes away, the sim's
// presses, and a GPIO chip that is not there.
#include "drivers/trigger/trigger.hpp"
#include "src/common/time.hpp"
#include "tests/testing.hpp"

#include <doctest/doctest.h>
#include <linux/input.h>
#include <unistd.h>

#include <cstring>

using namespace cp;
using namespace cp::trigger;

namespace {

void key(int fd, std::uint16_t code, std::int32_t value) {
    input_event ev{};
    ev.type = EV_KEY;
    ev.code = code;
    ev.value = value;
    input_event syn{};
    syn.type = EV_SYN;
    REQUIRE(::write(fd, &ev, sizeof ev) == static_cast<ssize_t>(sizeof ev));
    REQUIRE(::write(fd, &syn, sizeof syn) == static_cast<ssize_t>(sizeof syn));
}

}  // namespace

TEST_CASE("evdev trigger: only its key's press counts; an unplugged device is trigger-lost") {
    int p[2];
    REQUIRE(::pipe(p) == 0);
    auto t = open_evdev_trigger_fd(p[0], KEY_CAMERA, "pipe");
    CHECK(t->wait(0).value() == false);
    key(p[1], KEY_ENTER, 1);  // another key
    CHECK(t->wait(100).value() == false);
    key(p[1], KEY_CAMERA, 0);  // a release
    CHECK(t->wait(100).value() == false);
    key(p[1], KEY_CAMERA, 1);
    CHECK(t->wait(100).value() == true);
    ::close(p[1]);
    auto lost = t->wait(100);
    REQUIRE_FALSE(lost.ok());
    CHECK(lost.error().is(cp::trigger::reason::trigger_lost));
    CHECK(open_evdev_trigger("/dev/input/no-such-event", KEY_CAMERA).error().is(cp::trigger::reason::trigger));
}

TEST_CASE("sim trigger: a press every interval, and one on demand") {
    SimTrigger t(150, 0);
    CHECK(t.wait(10).value() == true);  // the first at once
    CHECK(t.wait(10).value() == false);
    const std::int64_t start = monotonic_now_ms();
    bool pressed = false;
    for (int i = 0; i < 50 && !pressed; ++i) pressed = t.wait(50).value();
    CHECK(pressed);
    CHECK(monotonic_now_ms() - start >= 100);
    t.press();
    CHECK(t.wait(0).value() == true);
}

TEST_CASE("gpio trigger: a missing chip is a typed error") {
    auto g = open_gpio_trigger("gpiochip-does-not-exist", "TRIGGER");
    REQUIRE_FALSE(g.ok());
    CHECK(g.error().kind == ErrorKind::unavailable);
    CHECK(g.error().is(cp::trigger::reason::trigger));
}
