// Thermometer: body temperature from an MLX90614 infrared sensor aimed at the
// forehead. Protocol and compensation: docs/drivers.md.
//
// A faulty sensor yields a Measurement with a fault status — never a made-up
// value; the daemon then shows YELLOW "check by hand".
//
// Thread-safety: a Thermometer is NOT thread-safe (one thread measures).
// SimMlx90614's scripting calls are thread-safe, so a test or the lane cursor
// may change what the sensor sees while another thread measures.
#pragma once

#include "drivers/thermometer/reason.hpp"
#include "drivers/sim_lane/lane_script.hpp"
#include "src/common/result.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace cp::thermo {

enum class MeasureStatus {
    ok,            // body_c is valid
    no_reading,    // nobody in front (object close to ambient)
    sensor_fault,  // fault_reason says why: "no-device", "pec", "error-flag", "stuck", ...
    out_of_range,  // something is in front but not a plausible forehead
};
const char* to_string(MeasureStatus s);

struct Measurement {
    MeasureStatus status = MeasureStatus::no_reading;
    std::optional<double> body_c;     // only with status ok; rounded to 0.01 °C
    std::optional<double> object_c;   // median forehead reading, when one was read
    std::optional<double> ambient_c;  // sensor die / ambient, when read
    std::string fault_reason;         // set with sensor_fault
    int samples = 0;                  // valid samples behind the median
    // Someone is in front, but the ambient lies outside [ambient_min_c,
    // ambient_max_c], where the forehead → body conversion does not hold (cold
    // gate, docs/drivers.md "Cold weather"): status out_of_range, no body_c;
    // object_c is the forehead reading alone.
    bool outside_ambient_range = false;
    // Outside the range on the cold side: the bare forehead, which cold air only
    // lowers, is a lower bound of body temperature (at or above the fever
    // threshold it proves a fever). Not set on the warm side (sun, hot air).
    std::optional<double> body_at_least_c;
};

class Thermometer {
public:
    virtual ~Thermometer() = default;
    // Runs the measuring protocol (several reads, median, plausibility). Takes
    // about samples * sample_interval_ms. Never fails: faults are a status.
    virtual Measurement measure() = 0;
    virtual std::string describe() const = 0;
};

// ---- bus ------------------------------------------------------------------

// An SMBus as the MLX90614 needs it: one write of `out` then, after a repeated
// start, a read of `in.size()` bytes (Linux: one I2C_RDWR with two messages).
class SmbusBus {
public:
    virtual ~SmbusBus() = default;
    // Errors: unavailable/"nack" when the device does not acknowledge,
    //         io/"i2c" for other bus failures.
    virtual Status write_read(std::uint8_t address7, std::span<const std::uint8_t> out,
                              std::span<std::uint8_t> in) = 0;
};

// /dev/i2c-N through ioctl(I2C_RDWR). Errors: unavailable/"no-bus" when the
// node cannot be opened (missing, no permission).
Result<std::unique_ptr<SmbusBus>> open_i2c_dev(const std::string& path);

// SMBus Packet Error Code: CRC-8, polynomial x^8+x^2+x+1 (0x07), init 0, no reflection.
std::uint8_t smbus_pec(std::span<const std::uint8_t> bytes);

// ---- MLX90614 register access -------------------------------------------

inline constexpr std::uint8_t kMlxAddress = 0x5a;
inline constexpr std::uint8_t kMlxRamAmbient = 0x06;  // Ta
inline constexpr std::uint8_t kMlxRamObject1 = 0x07;  // Tobj1
inline constexpr std::uint8_t kMlxEepromEmissivity = 0x24;  // EEPROM 0x04 via opcode 0x20

// Reads one word with its PEC checked.
// Errors: as SmbusBus, plus io/"pec" when the PEC byte does not match.
Result<std::uint16_t> mlx_read_word(SmbusBus& bus, std::uint8_t address7, std::uint8_t command);
// Raw RAM temperature word to °C: raw * 0.02 - 273.15.
// Errors: io/"error-flag" when bit 15 (the sensor's error flag) is set.
Result<double> mlx_raw_to_celsius(std::uint16_t raw);

// ---- measuring protocol ---------------------------------------------------

struct MeasureConfig {
    int samples = 5;                // reads per measurement, 1..50
    int min_valid = 3;              // fewer valid reads than this: sensor_fault "unstable"
    int sample_interval_ms = 30;    // pause between reads (the sensor refreshes ~ every 20-100 ms)
    int retries = 2;                // extra tries of one register read after a PEC error/NACK
    double object_min_c = 30.0;     // plausible forehead, °C
    double object_max_c = 43.0;
    double presence_delta_c = 1.5;  // object within this of ambient and below min: nobody there
    // Forehead-to-body compensation: body = object * gain + offset_c.
    double gain = 1.0;
    double offset_c = 2.3;          // per-device, calibrated at installation against a reference
    // The conversion is applied only while the sensor's ambient lies in this range
    // (°C): the range forehead-to-core conversions were measured in (Chen et al.
    // 2022, 14-32 °C). Outside it a forehead reading is `outside_ambient_range`.
    double ambient_min_c = 14.0;
    double ambient_max_c = 32.0;
    // Stuck sensor (docs/drivers.md): when every read of a measurement returned
    // the same object and ambient words, reading goes on until the reads span
    // stuck_window_ms (several of the chip's 20-100 ms refreshes); still the
    // same words → "stuck" in this very measurement.
    int stuck_window_ms = 300;
    int stuck_after = 2;            // or: identical all-same words in this many consecutive measurements
    std::uint8_t address7 = kMlxAddress;
};
// Errors: config/"thermometer" naming the field.
Status validate(const MeasureConfig& c);

// The protocol on top of any SmbusBus. The constructor reads nothing; the first
// measure() reads the emissivity from EEPROM (for logs and emissivity()).
class Mlx90614Thermometer final : public Thermometer {
public:
    using Sleep = std::function<void(int ms)>;
    Mlx90614Thermometer(std::unique_ptr<SmbusBus> bus, MeasureConfig config,
                        std::string name = "mlx90614", Sleep sleep = {});
    Measurement measure() override;
    std::string describe() const override;
    // Emissivity read from EEPROM (0..1), when it could be read.
    std::optional<double> emissivity() const { return emissivity_; }

private:
    std::unique_ptr<SmbusBus> bus_;
    MeasureConfig config_;
    std::string name_;
    Sleep sleep_;
    std::optional<double> emissivity_;
    std::optional<std::uint32_t> last_raw_pair_;
    int same_raw_count_ = 0;
};

struct I2cThermometerConfig {
    std::string bus = "/dev/i2c-1";
    MeasureConfig measure;
};
// Errors: config/"thermometer"; unavailable/"no-bus" when the bus node is absent.
Result<std::unique_ptr<Thermometer>> open_mlx90614(const I2cThermometerConfig& config);

// ---- simulation -----------------------------------------------------------

// A simulated MLX90614 on a simulated SMBus, at byte level: it answers the RAM
// and EEPROM commands with LSB, MSB, PEC as the chip does, and can be told to
// misbehave. What it "sees" is either set directly or follows a lane cursor.
class SimMlx90614 final : public SmbusBus {
public:
    struct Scene {
        std::optional<double> object_c;  // none: nobody in front (object reads ambient); as set, not cooled
        double ambient_c = 23.0;
        lane::ThermoFault fault = lane::ThermoFault::none;
    };
    explicit SimMlx90614(std::uint32_t seed = 1);

    Status write_read(std::uint8_t address7, std::span<const std::uint8_t> out,
                      std::span<std::uint8_t> in) override;

    void set_scene(const Scene& scene);
    // Follow the person the camera sim shows while they hold their code up.
    // Inside 14-32 °C ambient the forehead reads what the compensation (body =
    // object * gain + offset_c) turns back into the scripted body temperature;
    // outside it the skin follows the air (forehead_shift_c).
    void follow(std::shared_ptr<const lane::LaneScript> script,
                std::shared_ptr<const lane::LaneCursor> cursor, double gain, double offset_c);
    // Corrupt the PEC of the next n replies (transient bus noise).
    void corrupt_next_pec(int n);
    void set_noise_c(double sd);       // read noise, °C standard deviation (default 0.03)
    void set_emissivity(double e);     // what EEPROM 0x24 holds (default 1.0)
    int transfers() const;             // write_read calls seen
    void set_ambient_c(double ambient_c);  // the air around the sensor (default 23)

    // The sim's model of a forehead in cold or hot air, for tests: inside the
    // 14-32 °C range the calibrated conversion is taken to hold (shift 0); below
    // it the skin cools by 0.25 °C per °C of air, above it warms by 0.15 °C per
    // °C. A plain linear stand-in that makes the range rule testable, not a
    // measured physiological curve.
    static double forehead_shift_c(double ambient_c);

private:
    Scene current_scene_locked() const;
    double gaussian_locked();
    mutable std::mutex mutex_;
    Scene scene_;
    std::shared_ptr<const lane::LaneScript> script_;
    std::shared_ptr<const lane::LaneCursor> cursor_;
    double gain_ = 1.0;
    double offset_c_ = 0;
    int corrupt_pec_ = 0;
    double noise_sd_ = 0.03;
    double emissivity_ = 1.0;
    std::uint64_t rng_;
    std::optional<std::uint16_t> stuck_ambient_, stuck_object_;  // frozen words while stuck
    int transfers_ = 0;
};

struct SimThermometerConfig {
    MeasureConfig measure;
    // When set, the sensor sees the lane's people (their temperature_c and thermo_fault).
    std::shared_ptr<const lane::LaneScript> script;
    std::shared_ptr<const lane::LaneCursor> cursor;
    double ambient_c = 23.0;
    std::uint32_t seed = 1;
    bool real_time = true;  // false: skip the pauses between reads (tests, fast lanes)
};
// The real protocol driver over a SimMlx90614. `device`, when given, receives a
// pointer to the simulated chip for scripting (owned by the returned object).
Result<std::unique_ptr<Thermometer>> open_sim_thermometer(const SimThermometerConfig& config,
                                                          SimMlx90614** device = nullptr);

}  // namespace cp::thermo
