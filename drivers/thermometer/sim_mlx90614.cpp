// A byte-level MLX90614 on a simulated SMBus: the protocol driver above it runs
// unchanged, so the sim exercises PEC checks, retries and fault handling.
#include "drivers/thermometer/thermometer.hpp"
#include "drivers/thermometer/reason.hpp"

#include <algorithm>
#include <cmath>

namespace cp::thermo {
namespace {

std::uint16_t to_raw(double celsius) {
    const double raw = std::round((celsius + 273.15) / 0.02);
    return static_cast<std::uint16_t>(std::clamp(raw, 0.0, 32767.0));
}

}  // namespace

SimMlx90614::SimMlx90614(std::uint32_t seed) : rng_(seed * 2654435761u + 1) {}

void SimMlx90614::set_scene(const Scene& scene) {
    std::lock_guard lock(mutex_);
    scene_ = scene;
}

void SimMlx90614::follow(std::shared_ptr<const lane::LaneScript> script,
                         std::shared_ptr<const lane::LaneCursor> cursor, double gain,
                         double offset_c) {
    std::lock_guard lock(mutex_);
    script_ = std::move(script);
    cursor_ = std::move(cursor);
    gain_ = gain;
    offset_c_ = offset_c;
}

void SimMlx90614::corrupt_next_pec(int n) {
    std::lock_guard lock(mutex_);
    corrupt_pec_ = std::max(0, n);
}
void SimMlx90614::set_noise_c(double sd) {
    std::lock_guard lock(mutex_);
    noise_sd_ = std::max(0.0, sd);
}
void SimMlx90614::set_emissivity(double e) {
    std::lock_guard lock(mutex_);
    emissivity_ = std::clamp(e, 0.1, 1.0);
}
void SimMlx90614::set_ambient_c(double ambient_c) {
    std::lock_guard lock(mutex_);
    scene_.ambient_c = ambient_c;
}

double SimMlx90614::forehead_shift_c(double ambient_c) {
    constexpr double kLow = 14.0, kHigh = 32.0;
    if (ambient_c < kLow) return -0.25 * (kLow - ambient_c);
    if (ambient_c > kHigh) return 0.15 * (ambient_c - kHigh);
    return 0.0;
}

int SimMlx90614::transfers() const {
    std::lock_guard lock(mutex_);
    return transfers_;
}

SimMlx90614::Scene SimMlx90614::current_scene_locked() const {
    if (!script_ || !cursor_) return scene_;
    Scene s;
    s.ambient_c = scene_.ambient_c;
    const lane::Position pos = script_->at(cursor_->frame());
    if (pos.person < 0) return s;
    const lane::Person& p = script_->people[static_cast<std::size_t>(pos.person)];
    // The sensor points where people stand while showing their code.
    if (pos.phase != lane::Phase::holding) return s;
    s.fault = p.thermo_fault;
    if (p.temperature_c) s.object_c = (*p.temperature_c - offset_c_) / gain_ + forehead_shift_c(s.ambient_c);
    return s;
}

double SimMlx90614::gaussian_locked() {
    // xorshift64 + Box-Muller: reproducible per seed, no global state.
    auto next = [this] {
        rng_ ^= rng_ << 13;
        rng_ ^= rng_ >> 7;
        rng_ ^= rng_ << 17;
        return (static_cast<double>(rng_ >> 11) + 0.5) / 9007199254740992.0;
    };
    const double u1 = next(), u2 = next();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

Status SimMlx90614::write_read(std::uint8_t address7, std::span<const std::uint8_t> out,
                               std::span<std::uint8_t> in) {
    std::lock_guard lock(mutex_);
    ++transfers_;
    const Scene scene = current_scene_locked();
    if (scene.fault == lane::ThermoFault::no_device || address7 != kMlxAddress)
        return fail(ErrorKind::unavailable, reason::nack, "sim: no ACK from 0x" +
                                                        std::to_string(address7));
    if (out.size() != 1 || in.size() != 3)
        return fail(ErrorKind::io, reason::i2c, "sim: only read-word transactions are supported");
    const std::uint8_t cmd = out[0];
    std::uint16_t word = 0;
    if (scene.fault != lane::ThermoFault::stuck) {
        stuck_ambient_.reset();
        stuck_object_.reset();
    }
    switch (cmd) {
    case kMlxRamAmbient:
        word = to_raw(scene.ambient_c + noise_sd_ * 0.3 * gaussian_locked());
        if (scene.fault == lane::ThermoFault::stuck) {
            if (!stuck_ambient_) stuck_ambient_ = word;
            word = *stuck_ambient_;
        }
        break;
    case kMlxRamObject1: {
        // Nobody in front: the sensor sees the far wall, close to ambient.
        const double t = scene.object_c ? *scene.object_c : scene.ambient_c - 0.4;
        word = to_raw(t + noise_sd_ * gaussian_locked());
        if (scene.fault == lane::ThermoFault::stuck) {
            if (!stuck_object_) stuck_object_ = word;
            word = *stuck_object_;
        }
        if (scene.fault == lane::ThermoFault::error_flag) word |= 0x8000;
        break;
    }
    case kMlxEepromEmissivity:
        word = static_cast<std::uint16_t>(std::lround(emissivity_ * 65535.0));
        break;
    default:
        return fail(ErrorKind::unavailable, reason::nack, "sim: command not modelled");
    }
    in[0] = static_cast<std::uint8_t>(word & 0xff);
    in[1] = static_cast<std::uint8_t>(word >> 8);
    const auto aw = static_cast<std::uint8_t>(address7 << 1);
    const std::uint8_t covered[5] = {aw, cmd, static_cast<std::uint8_t>(aw | 1), in[0], in[1]};
    in[2] = smbus_pec(covered);
    if (scene.fault == lane::ThermoFault::pec_error || corrupt_pec_ > 0) {
        if (corrupt_pec_ > 0) --corrupt_pec_;
        in[2] = static_cast<std::uint8_t>(in[2] ^ 0x21);
    }
    return {};
}

Result<std::unique_ptr<Thermometer>> open_sim_thermometer(const SimThermometerConfig& config,
                                                          SimMlx90614** device) {
    CP_TRY(validate(config.measure));
    if (config.measure.address7 != kMlxAddress)
        return fail(ErrorKind::config, reason::thermometer, "address7: the sim answers at 0x5a only");
    auto sim = std::make_unique<SimMlx90614>(config.seed);
    SimMlx90614::Scene scene;
    scene.ambient_c = config.ambient_c;
    sim->set_scene(scene);
    if (config.script && config.cursor)
        sim->follow(config.script, config.cursor, config.measure.gain, config.measure.offset_c);
    if (device) *device = sim.get();
    Mlx90614Thermometer::Sleep sleep;
    if (!config.real_time) sleep = [](int) {};
    return std::unique_ptr<Thermometer>(
        new Mlx90614Thermometer(std::move(sim), config.measure, "sim-mlx90614", sleep));
}

}  // namespace cp::thermo
