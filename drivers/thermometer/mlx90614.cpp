#include "drivers/thermometer/thermometer.hpp"
#include "drivers/thermometer/reason.hpp"

#include "src/common/bytes.hpp"
#include "src/common/log.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>

namespace cp::thermo {
namespace {
std::string to_hex_byte(std::uint8_t b) { return to_hex(ByteView(&b, 1)); }
}  // namespace

const char* to_string(MeasureStatus s) {
    switch (s) {
    case MeasureStatus::ok: return "ok";
    case MeasureStatus::no_reading: return "no-reading";
    case MeasureStatus::sensor_fault: return "sensor-fault";
    case MeasureStatus::out_of_range: return "out-of-range";
    }
    return "sensor-fault";
}

std::uint8_t smbus_pec(std::span<const std::uint8_t> bytes) {
    std::uint8_t crc = 0;
    for (std::uint8_t b : bytes) {
        crc ^= b;
        for (int i = 0; i < 8; ++i)
            crc = static_cast<std::uint8_t>((crc & 0x80) ? (crc << 1) ^ 0x07 : crc << 1);
    }
    return crc;
}

Result<std::uint16_t> mlx_read_word(SmbusBus& bus, std::uint8_t address7, std::uint8_t command) {
    const std::uint8_t out[1] = {command};
    std::uint8_t in[3] = {};
    CP_TRY(bus.write_read(address7, out, in));
    // The PEC covers the whole transaction as it appeared on the wire,
    // including both address bytes (SMBus 2.0, MLX90614 datasheet 8.4.3).
    const auto addr_w = static_cast<std::uint8_t>(address7 << 1);
    const std::uint8_t covered[5] = {addr_w, command, static_cast<std::uint8_t>(addr_w | 1), in[0],
                                     in[1]};
    if (smbus_pec(covered) != in[2])
        return fail(ErrorKind::io, reason::pec, "command 0x" + to_hex_byte(command));
    return static_cast<std::uint16_t>(in[0] | (in[1] << 8));
}

Result<double> mlx_raw_to_celsius(std::uint16_t raw) {
    if (raw & 0x8000) return fail(ErrorKind::io, reason::error_flag, "temperature word has bit 15 set");
    return raw * 0.02 - 273.15;
}

Status validate(const MeasureConfig& c) {
    auto bad = [](const char* field, const char* why) {
        return fail(ErrorKind::config, reason::thermometer, std::string(field) + ": " + why);
    };
    if (c.samples < 1 || c.samples > 50) return bad("samples", "must be 1..50");
    if (c.min_valid < 1 || c.min_valid > c.samples) return bad("min_valid", "must be 1..samples");
    if (c.sample_interval_ms < 0 || c.sample_interval_ms > 1000)
        return bad("sample_interval_ms", "must be 0..1000");
    if (c.retries < 0 || c.retries > 10) return bad("retries", "must be 0..10");
    if (!(c.object_min_c >= 20 && c.object_min_c < c.object_max_c && c.object_max_c <= 50))
        return bad("object_min_c/object_max_c", "must satisfy 20 <= min < max <= 50");
    if (!(c.presence_delta_c >= 0 && c.presence_delta_c <= 10))
        return bad("presence_delta_c", "must be 0..10");
    if (!(c.gain >= 0.5 && c.gain <= 2.0)) return bad("gain", "must be 0.5..2.0");
    if (!(c.offset_c >= -5 && c.offset_c <= 10)) return bad("offset_c", "must be -5..10");
    if (!(c.ambient_min_c >= -40 && c.ambient_max_c <= 85 && c.ambient_min_c < c.ambient_max_c))
        return bad("ambient_min_c", "ambient range must lie in -40..85 with min < max");
    if (c.stuck_after < 2 || c.stuck_after > 1000) return bad("stuck_after", "must be 2..1000");
    if (c.stuck_window_ms < 0 || c.stuck_window_ms > 2000) return bad("stuck_window_ms", "must be 0..2000");
    if (c.address7 < 0x03 || c.address7 > 0x77) return bad("address7", "must be 0x03..0x77");
    return {};
}

Mlx90614Thermometer::Mlx90614Thermometer(std::unique_ptr<SmbusBus> bus, MeasureConfig config,
                                         std::string name, Sleep sleep)
    : bus_(std::move(bus)), config_(config), name_(std::move(name)), sleep_(std::move(sleep)) {
    if (!sleep_)
        sleep_ = [](int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); };
}

std::string Mlx90614Thermometer::describe() const {
    return name_ + " addr=0x" + to_hex_byte(config_.address7);
}

namespace {

// Transient bus noise (a PEC error, a NACK while the chip is busy) is retried;
// a persistent one becomes the measurement's fault.
Result<std::uint16_t> read_retrying(SmbusBus& bus, std::uint8_t addr, std::uint8_t cmd,
                                    int retries) {
    Result<std::uint16_t> r = mlx_read_word(bus, addr, cmd);
    for (int i = 0; i < retries && !r.ok(); ++i) r = mlx_read_word(bus, addr, cmd);
    return r;
}

template <typename T>
T median(std::vector<T> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

// The sensor resolves 0.02 K; what leaves the driver is rounded to 0.01 °C, so
// the journal and the screen never see 36.51000000000003.
double centi(double c) { return std::round(c * 100.0) / 100.0; }

bool all_equal(const std::vector<std::uint16_t>& v) {
    return std::all_of(v.begin(), v.end(), [&](auto x) { return x == v.front(); });
}

std::string fault_name(const Error& e) {
    if (e.is(reason::nack)) return "no-device";
    return e.reason;  // "pec", "error-flag", "i2c"
}

}  // namespace

Measurement Mlx90614Thermometer::measure() {
    Measurement m;
    if (!emissivity_) {
        auto e = read_retrying(*bus_, config_.address7, kMlxEepromEmissivity, config_.retries);
        if (e.ok()) {
            emissivity_ = *e / 65535.0;
            log::info("thermometer", "emissivity", {{"sensor", name_},
                                                    {"value", std::to_string(*emissivity_)}});
        }
    }
    std::vector<std::uint16_t> raw_obj, raw_amb;
    std::optional<Error> last_error;
    // One read of both words; false when it failed (last_error says why).
    auto read_pair = [&]() -> bool {
        auto ta = read_retrying(*bus_, config_.address7, kMlxRamAmbient, config_.retries);
        if (!ta.ok()) { last_error = ta.error(); return false; }
        auto to = read_retrying(*bus_, config_.address7, kMlxRamObject1, config_.retries);
        if (!to.ok()) { last_error = to.error(); return false; }
        auto ta_c = mlx_raw_to_celsius(*ta);
        auto to_c = mlx_raw_to_celsius(*to);
        if (!ta_c.ok()) { last_error = ta_c.error(); return false; }
        if (!to_c.ok()) { last_error = to_c.error(); return false; }
        raw_amb.push_back(*ta);
        raw_obj.push_back(*to);
        return true;
    };
    for (int i = 0; i < config_.samples; ++i) {
        if (i > 0 && config_.sample_interval_ms > 0) sleep_(config_.sample_interval_ms);
        read_pair();
    }
    // Every read the same words: reads 30 ms apart may fall within one refresh
    // of the chip, so read on until they span stuck_window_ms. A live sensor
    // changes its object word within a few refreshes (noise ~1-2 LSB); a frozen
    // chip or bus does not, and is caught in this measurement.
    bool frozen = false;
    // (A single read shows nothing: with samples = 1 only the rule across measurements applies.)
    if (raw_obj.size() >= 2 && static_cast<int>(raw_obj.size()) >= config_.min_valid && all_equal(raw_obj) &&
        all_equal(raw_amb)) {
        const int step = std::max(config_.sample_interval_ms, 10);
        int span = (config_.samples - 1) * std::max(config_.sample_interval_ms, 0);
        frozen = true;
        for (int extra = 0; frozen && span < config_.stuck_window_ms && extra < 50; ++extra) {
            sleep_(step);
            span += step;
            if (!read_pair()) { frozen = false; break; }  // a failing bus is not a frozen one
            frozen = raw_obj.back() == raw_obj.front() && raw_amb.back() == raw_amb.front();
        }
    }
    m.samples = static_cast<int>(raw_obj.size());
    if (m.samples < config_.min_valid) {
        m.status = MeasureStatus::sensor_fault;
        m.fault_reason = last_error ? fault_name(*last_error) : "unstable";
        same_raw_count_ = 0;
        last_raw_pair_.reset();
        log::warn("thermometer", "sensor fault",
                  {{"sensor", name_}, {"reason", m.fault_reason},
                   {"valid", std::to_string(m.samples)}});
        return m;
    }
    const std::uint16_t obj = median(raw_obj), amb = median(raw_amb);
    m.object_c = centi(obj * 0.02 - 273.15);
    m.ambient_c = centi(amb * 0.02 - 273.15);

    // A live sensor jitters by a few LSB (0.02 K) between reads; identical words
    // over the stuck window, or in consecutive measurements, mean the chip or bus is frozen.
    const bool all_same = all_equal(raw_obj) && all_equal(raw_amb);
    const std::uint32_t pair = (std::uint32_t{raw_obj[0]} << 16) | raw_amb[0];
    if (all_same && last_raw_pair_ && *last_raw_pair_ == pair)
        ++same_raw_count_;
    else
        same_raw_count_ = all_same ? 1 : 0;
    last_raw_pair_ = all_same ? std::optional<std::uint32_t>(pair) : std::nullopt;
    if (frozen || same_raw_count_ >= config_.stuck_after) {
        m.status = MeasureStatus::sensor_fault;
        m.fault_reason = "stuck";
        log::warn("thermometer", "sensor fault", {{"sensor", name_}, {"reason", "stuck"}});
        return m;
    }
    if (*m.ambient_c < -40 || *m.ambient_c > 85) {  // outside the chip's rated range
        m.status = MeasureStatus::sensor_fault;
        m.fault_reason = "ambient-implausible";
        return m;
    }
    const double o = *m.object_c;
    const bool present = !(o < config_.object_min_c && o - *m.ambient_c < config_.presence_delta_c);
    if (present && (*m.ambient_c < config_.ambient_min_c || *m.ambient_c > config_.ambient_max_c)) {
        // The conversion was not measured in this air: report the forehead only.
        m.status = MeasureStatus::out_of_range;
        m.outside_ambient_range = true;
        if (*m.ambient_c < config_.ambient_min_c) m.body_at_least_c = o;
        return m;
    }
    if (o >= config_.object_min_c && o <= config_.object_max_c) {
        m.status = MeasureStatus::ok;
        m.body_c = centi(o * config_.gain + config_.offset_c);
    } else if (o < config_.object_min_c && o - *m.ambient_c < config_.presence_delta_c) {
        m.status = MeasureStatus::no_reading;
    } else {
        m.status = MeasureStatus::out_of_range;
    }
    return m;
}

Result<std::unique_ptr<Thermometer>> open_mlx90614(const I2cThermometerConfig& config) {
    CP_TRY(validate(config.measure));
    auto bus = open_i2c_dev(config.bus);
    CP_TRY(bus);
    return std::unique_ptr<Thermometer>(new Mlx90614Thermometer(
        std::move(*bus), config.measure, "mlx90614:" + config.bus));
}

}  // namespace cp::thermo
