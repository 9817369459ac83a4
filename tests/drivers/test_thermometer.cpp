#include "drivers/thermometer/thermometer.hpp"
#include "src/common/time.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <deque>
#include <string>

using namespace cp;
using namespace cp::thermo;

namespace {

// A bus that answers from a queue of raw replies and records each transaction.
class ScriptedBus final : public SmbusBus {
public:
    struct Reply {
        bool nack = false;
        std::vector<std::uint8_t> bytes;
    };
    std::deque<Reply> replies;
    std::vector<std::pair<std::uint8_t, std::vector<std::uint8_t>>> seen;  // addr, written
    std::vector<std::size_t> read_sizes;

    Status write_read(std::uint8_t a, std::span<const std::uint8_t> out,
                      std::span<std::uint8_t> in) override {
        seen.push_back({a, {out.begin(), out.end()}});
        read_sizes.push_back(in.size());
        if (replies.empty()) return fail(ErrorKind::unavailable, "nack");
        Reply r = replies.front();
        replies.pop_front();
        if (r.nack) return fail(ErrorKind::unavailable, "nack");
        for (std::size_t i = 0; i < in.size() && i < r.bytes.size(); ++i) in[i] = r.bytes[i];
        return {};
    }
};

std::uint8_t pec_for(std::uint8_t cmd, std::uint8_t lsb, std::uint8_t msb) {
    const std::uint8_t b[5] = {0xb4, cmd, 0xb5, lsb, msb};
    return smbus_pec(b);
}

SimThermometerConfig fast_sim() {
    SimThermometerConfig c;
    c.real_time = false;
    return c;
}

}  // namespace

TEST_CASE("SMBus PEC: CRC-8 known vectors") {
    const std::string check = "123456789";
    CHECK(smbus_pec({reinterpret_cast<const std::uint8_t*>(check.data()), check.size()}) == 0xf4);
    // MLX90614 datasheet example: read of RAM 0x07 from 0x5a answering 0x3ad2.
    const std::uint8_t mlx[5] = {0xb4, 0x07, 0xb5, 0xd2, 0x3a};
    CHECK(smbus_pec(mlx) == 0x30);
    CHECK(smbus_pec({}) == 0x00);
}

TEST_CASE("a word read: one write of the command, a 3-byte read, PEC checked") {
    ScriptedBus bus;
    bus.replies.push_back({false, {0xd2, 0x3a, 0x30}});
    auto w = mlx_read_word(bus, 0x5a, 0x07);
    REQUIRE(w.ok());
    CHECK(*w == 0x3ad2);
    REQUIRE(bus.seen.size() == 1);
    CHECK(bus.seen[0].first == 0x5a);
    CHECK(bus.seen[0].second == std::vector<std::uint8_t>{0x07});
    CHECK(bus.read_sizes[0] == 3);
    CHECK(mlx_raw_to_celsius(*w).value() == doctest::Approx(15058 * 0.02 - 273.15));
}

TEST_CASE("a bad PEC and a NACK are typed errors") {
    ScriptedBus bus;
    bus.replies.push_back({false, {0xd2, 0x3a, 0x31}});
    auto bad = mlx_read_word(bus, 0x5a, 0x07);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().is(cp::thermo::reason::pec));
    // A PEC computed without the address bytes is wrong too.
    const std::uint8_t partial[3] = {0x07, 0xd2, 0x3a};
    bus.replies.push_back({false, {0xd2, 0x3a, smbus_pec(partial)}});
    CHECK(mlx_read_word(bus, 0x5a, 0x07).error().is(cp::thermo::reason::pec));
    bus.replies.push_back({true, {}});
    auto nack = mlx_read_word(bus, 0x5a, 0x07);
    REQUIRE_FALSE(nack.ok());
    CHECK(nack.error().kind == ErrorKind::unavailable);
    CHECK(nack.error().is(cp::thermo::reason::nack));
}

TEST_CASE("the error flag (bit 15) is never turned into a temperature") {
    auto r = mlx_raw_to_celsius(0x8000 | 15058);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().is(cp::thermo::reason::error_flag));
    CHECK(mlx_raw_to_celsius(0).value() == doctest::Approx(-273.15));
}

TEST_CASE("the protocol retries a transient PEC error over the byte-level bus") {
    ScriptedBus* raw = nullptr;
    auto bus = std::make_unique<ScriptedBus>();
    raw = bus.get();
    const std::uint16_t ta = 14823, to = 15525;  // 23.31 °C, 37.35 °C
    auto word = [](std::uint8_t cmd, std::uint16_t v, bool good) {
        auto lsb = static_cast<std::uint8_t>(v & 0xff), msb = static_cast<std::uint8_t>(v >> 8);
        std::uint8_t p = pec_for(cmd, lsb, msb);
        return ScriptedBus::Reply{false, {lsb, msb, static_cast<std::uint8_t>(good ? p : p ^ 1)}};
    };
    raw->replies.push_back(word(0x24, 0xffff, true));  // emissivity 1.0
    raw->replies.push_back(word(0x06, ta, true));
    raw->replies.push_back(word(0x07, to, false));     // bad PEC, retried
    raw->replies.push_back(word(0x07, to, true));
    MeasureConfig mc;
    mc.samples = 1;
    mc.min_valid = 1;
    mc.offset_c = 1.5;
    Mlx90614Thermometer t(std::move(bus), mc, "test", [](int) {});
    Measurement m = t.measure();
    REQUIRE(m.status == MeasureStatus::ok);
    CHECK(m.object_c.value() == doctest::Approx(to * 0.02 - 273.15));
    CHECK(m.ambient_c.value() == doctest::Approx(ta * 0.02 - 273.15));
    CHECK(m.body_c.value() == doctest::Approx(to * 0.02 - 273.15 + 1.5));
    CHECK(t.emissivity().value() == doctest::Approx(1.0));
    CHECK(raw->seen.size() == 4);
}

TEST_CASE("sim: a person at 36.8 °C reads as 36.8 after compensation") {
    auto c = fast_sim();
    SimMlx90614* dev = nullptr;
    auto t = open_sim_thermometer(c, &dev);
    REQUIRE(t.ok());
    dev->set_scene({36.8 - c.measure.offset_c, 22.0, lane::ThermoFault::none});
    Measurement m = (*t)->measure();
    REQUIRE(m.status == MeasureStatus::ok);
    CHECK(m.body_c.value() == doctest::Approx(36.8).epsilon(0.005));
    CHECK(m.ambient_c.value() == doctest::Approx(22.0).epsilon(0.01));
    CHECK(m.samples == c.measure.samples);
}

TEST_CASE("sim: nobody in front is no-reading; implausible objects are out-of-range") {
    SimMlx90614* dev = nullptr;
    auto t = open_sim_thermometer(fast_sim(), &dev).value();
    dev->set_scene({std::nullopt, 23.0, lane::ThermoFault::none});
    Measurement empty = t->measure();
    CHECK(empty.status == MeasureStatus::no_reading);
    CHECK_FALSE(empty.body_c.has_value());
    dev->set_scene({48.0, 23.0, lane::ThermoFault::none});  // a hot drink, not a forehead
    Measurement hot = t->measure();
    CHECK(hot.status == MeasureStatus::out_of_range);
    CHECK_FALSE(hot.body_c.has_value());
    CHECK(hot.object_c.value() == doctest::Approx(48.0).epsilon(0.01));
    dev->set_scene({27.0, 23.0, lane::ThermoFault::none});  // warmer than the room, too cold for skin
    CHECK(t->measure().status == MeasureStatus::out_of_range);
}

TEST_CASE("sim faults become sensor-fault statuses, never values") {
    struct Case {
        lane::ThermoFault fault;
        const char* reason;
    };
    for (Case k : {Case{lane::ThermoFault::no_device, "no-device"},
                   Case{lane::ThermoFault::pec_error, "pec"},
                   Case{lane::ThermoFault::error_flag, "error-flag"}}) {
        SimMlx90614* dev = nullptr;
        auto t = open_sim_thermometer(fast_sim(), &dev).value();
        dev->set_scene({34.5, 23.0, k.fault});
        Measurement m = t->measure();
        CHECK(m.status == MeasureStatus::sensor_fault);
        CHECK(m.fault_reason == k.reason);
        CHECK_FALSE(m.body_c.has_value());
    }
}

TEST_CASE("sim: a stuck sensor is caught in its first measurement, never reported as a value") {
    SimMlx90614* dev = nullptr;
    auto t = open_sim_thermometer(fast_sim(), &dev).value();
    dev->set_scene({34.5, 23.0, lane::ThermoFault::stuck});
    const int before = dev->transfers();
    Measurement m = t->measure();
    CHECK(m.status == MeasureStatus::sensor_fault);
    CHECK(m.fault_reason == "stuck");
    CHECK_FALSE(m.body_c.has_value());
    // 5 reads span 120 ms; reading on to the 300 ms window takes 6 more (2 words each, + EEPROM).
    CHECK(dev->transfers() - before == 1 + 2 * 11);
    CHECK(t->measure().fault_reason == "stuck");
    // A live sensor with the same person never trips it, in many measurements.
    dev->set_scene({34.5, 23.0, lane::ThermoFault::none});
    for (int i = 0; i < 300; ++i) REQUIRE(t->measure().status == MeasureStatus::ok);
}

TEST_CASE("stuck rule over the byte-level bus: words that change after the first reads are live") {
    // Five identical reads (one refresh of the chip), then the object word moves: live.
    auto word = [](std::uint8_t cmd, std::uint16_t w) {
        const auto lsb = static_cast<std::uint8_t>(w & 0xff), msb = static_cast<std::uint8_t>(w >> 8);
        return ScriptedBus::Reply{false, {lsb, msb, pec_for(cmd, lsb, msb)}};
    };
    const std::uint16_t amb = 14830, obj = 15380, obj2 = 15381;  // 23.45 °C, 34.45 / 34.47 °C
    auto run = [&](int same_reads, int total_reads) {
        auto bus = std::make_unique<ScriptedBus>();
        bus->replies.push_back(word(0x24, 0xffff));  // emissivity 1.0
        for (int i = 0; i < total_reads; ++i) {
            bus->replies.push_back(word(kMlxRamAmbient, amb));
            bus->replies.push_back(word(kMlxRamObject1, i < same_reads ? obj : obj2));
        }
        MeasureConfig c;
        Mlx90614Thermometer t(std::move(bus), c, "scripted", [](int) {});
        return t.measure();
    };
    Measurement live = run(7, 11);
    CHECK(live.status == MeasureStatus::ok);
    REQUIRE(live.body_c.has_value());
    CHECK(*live.body_c == 36.75);  // 34.45 + 2.3, rounded to 0.01 °C
    Measurement frozen = run(11, 11);
    CHECK(frozen.status == MeasureStatus::sensor_fault);
    CHECK(frozen.fault_reason == "stuck");
}

TEST_CASE("temperatures leave the driver rounded to 0.01 °C") {
    SimMlx90614* dev = nullptr;
    auto t = open_sim_thermometer(fast_sim(), &dev).value();
    for (double body : {36.51, 36.6, 37.29, 38.05}) {
        dev->set_scene({body - 2.3, 23.0, lane::ThermoFault::none});
        Measurement m = t->measure();
        REQUIRE(m.body_c.has_value());
        CHECK(*m.body_c == std::round(*m.body_c * 100) / 100);
        CHECK(*m.object_c == std::round(*m.object_c * 100) / 100);
        CHECK(*m.ambient_c == std::round(*m.ambient_c * 100) / 100);
        CHECK(std::fabs(*m.body_c - body) < 0.1);
    }
}

TEST_CASE("sim: transient PEC errors are absorbed by retries") {
    SimMlx90614* dev = nullptr;
    auto t = open_sim_thermometer(fast_sim(), &dev).value();
    dev->set_scene({34.5, 23.0, lane::ThermoFault::none});
    dev->corrupt_next_pec(2);
    CHECK(t->measure().status == MeasureStatus::ok);
}

TEST_CASE("sim: a measurement takes samples x interval in real time") {
    auto c = fast_sim();
    c.real_time = true;
    c.measure.samples = 5;
    c.measure.sample_interval_ms = 30;
    SimMlx90614* dev = nullptr;
    auto t = open_sim_thermometer(c, &dev).value();
    dev->set_scene({34.5, 23.0, lane::ThermoFault::none});
    const auto t0 = monotonic_now_ms();
    CHECK(t->measure().status == MeasureStatus::ok);
    CHECK(monotonic_now_ms() - t0 >= 120);
}

TEST_CASE("sim follows the lane: the person holding their code is measured") {
    auto script = std::make_shared<lane::LaneScript>();
    script->lead_frames = 2;
    lane::Person feverish;
    feverish.temperature_c = 38.6;
    feverish.arrive_frames = 1;
    feverish.hold_frames = 3;
    feverish.leave_frames = 1;
    feverish.gap_frames = 1;
    lane::Person broken = feverish;
    broken.temperature_c = 36.5;
    broken.thermo_fault = lane::ThermoFault::no_device;
    script->people = {feverish, broken};
    auto cursor = std::make_shared<lane::LaneCursor>();
    auto c = fast_sim();
    c.script = script;
    c.cursor = cursor;
    auto t = open_sim_thermometer(c).value();
    cursor->set_frame(0);
    CHECK(t->measure().status == MeasureStatus::no_reading);
    cursor->set_frame(3);  // person 0 holding
    Measurement m = t->measure();
    REQUIRE(m.status == MeasureStatus::ok);
    CHECK(m.body_c.value() == doctest::Approx(38.6).epsilon(0.005));
    cursor->set_frame(6);  // person 0 leaving: out of the sensor's spot
    CHECK(t->measure().status == MeasureStatus::no_reading);
    cursor->set_frame(9);  // person 1 holding, sensor unplugged
    Measurement f = t->measure();
    CHECK(f.status == MeasureStatus::sensor_fault);
    CHECK(f.fault_reason == "no-device");
}

TEST_CASE("measure config is validated") {
    MeasureConfig c;
    CHECK(validate(c).ok());
    c.samples = 0;
    CHECK(validate(c).error().message.find("samples") != std::string::npos);
    c = {};
    c.min_valid = 9;
    CHECK_FALSE(validate(c).ok());
    c = {};
    c.object_min_c = 44;
    CHECK_FALSE(validate(c).ok());
    SimThermometerConfig s;
    s.measure.gain = 7;
    CHECK(open_sim_thermometer(s).error().kind == ErrorKind::config);
    I2cThermometerConfig i;
    i.bus = "/dev/i2c-does-not-exist";
    auto r = open_mlx90614(i);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().is(cp::thermo::reason::no_bus));
}

TEST_CASE("cold weather: the conversion is used only inside its ambient range, -25 to +35 °C") {
    // A person at 36.6 °C and one at 38.6 °C, measured in air from -25 to +35 °C.
    for (double body : {36.6, 38.6}) {
        for (double air : {-25.0, -20.0, -10.0, 0.0, 10.0, 13.5, 14.5, 20.0, 23.0, 31.5, 32.5, 35.0}) {
            CAPTURE(body);
            CAPTURE(air);
            auto script = std::make_shared<lane::LaneScript>();
            script->lead_frames = 1;
            lane::Person p;
            p.temperature_c = body;
            script->people = {p};
            auto cursor = std::make_shared<lane::LaneCursor>();
            auto c = fast_sim();
            c.script = script;
            c.cursor = cursor;
            c.ambient_c = air;
            auto t = open_sim_thermometer(c).value();
            cursor->set_frame(0);  // nobody there: the wall reads the air
            // (In air near skin temperature an IR sensor cannot tell a wall from a
            // forehead; there the range rule makes any reading remeasure-indoors.)
            if (air <= 28) CHECK(t->measure().status == MeasureStatus::no_reading);
            cursor->set_frame(1 + p.arrive_frames + 1);  // holding
            const Measurement m = t->measure();
            REQUIRE(m.ambient_c);
            CHECK(*m.ambient_c == doctest::Approx(air).epsilon(0.01));
            if (air >= 14 && air <= 32) {
                REQUIRE(m.status == MeasureStatus::ok);
                CHECK_FALSE(m.outside_ambient_range);
                CHECK(m.body_c.value() == doctest::Approx(body).epsilon(0.005));
            } else {
                // Never a body temperature made up from a forehead in the wrong air.
                CHECK(m.status == MeasureStatus::out_of_range);
                CHECK(m.outside_ambient_range);
                CHECK_FALSE(m.body_c);
                REQUIRE(m.object_c);
                if (air < 14) {
                    // Cold only lowers the forehead: a lower bound, never above the body.
                    REQUIRE(m.body_at_least_c);
                    CHECK(*m.body_at_least_c <= body);
                } else {
                    CHECK_FALSE(m.body_at_least_c);
                }
            }
        }
    }
}

TEST_CASE("cold weather: the ambient range is configuration and is validated") {
    auto c = fast_sim();
    c.ambient_c = -20;
    c.measure.ambient_min_c = -30;  // a site that calibrated its own curve down to -30 °C
    SimMlx90614* dev = nullptr;
    auto t = open_sim_thermometer(c, &dev).value();
    dev->set_scene({36.6 - 2.3, -20.0, lane::ThermoFault::none});
    const Measurement m = t->measure();
    CHECK(m.status == MeasureStatus::ok);
    CHECK(m.body_c.value() == doctest::Approx(36.6).epsilon(0.005));
    c.measure.ambient_min_c = 40;
    c.measure.ambient_max_c = 30;
    CHECK(open_sim_thermometer(c).error().kind == ErrorKind::config);
}
