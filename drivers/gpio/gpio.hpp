// GPIO: gate relay, green lamp, red lamp, buzzer.
//
// Fail-closed: the gate relay is off after construction, after any error and
// after destruction. A relay pulse that cannot be ended puts the outputs in the
// shutdown-safe state (every line released to its pulled-down default, which the
// wiring makes "gate closed") and Actuators refuses further gate openings.
//
// Thread-safety: Actuators is thread-safe (one mutex); it owns one timer thread
// that ends pulses, joined in the destructor. GpioBackend implementations are
// NOT thread-safe on their own: Actuators serialises every call. SimTimeline is
// thread-safe.
#pragma once

#include "drivers/gpio/reason.hpp"
#include "src/common/result.hpp"

#include <array>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace cp::gpio {

enum class Line { gate_relay = 0, green_lamp = 1, red_lamp = 2, buzzer = 3 };
inline constexpr int kLineCount = 4;
const char* to_string(Line l);

class GpioBackend {
public:
    virtual ~GpioBackend() = default;
    // Drives one output. Errors: io/"gpio" naming the line.
    virtual Status set(Line line, bool on) = 0;
    // Lets go of every line (they fall back to their pulled-down default).
    // Used when a line can no longer be driven; must not fail.
    virtual void release_all() noexcept = 0;
    virtual std::string describe() const = 0;
};

// Where a line is: by name (gpio-line-names from the device tree) or by offset.
struct LineSpec {
    std::string name;          // preferred when set
    int offset = -1;           // used when name is empty
    bool active_low = false;   // true when "on" is a low level on the pin
};
struct GpiodConfig {
    std::string chip = "gpiochip0";  // name, /dev path or number
    std::array<LineSpec, kLineCount> lines;  // indexed by Line
    std::string consumer = "checkpointd";
};
// Requests all four lines as outputs, initially off. Errors: config/"gpio" for a
// line with neither name nor offset; unavailable/"gpio-chip" when the chip cannot
// be opened; not_found/"gpio-line" when a line does not exist; io/"gpio" when the
// kernel refuses the request (line busy); unavailable/"gpiod-disabled" when built
// without CHECKPOINT_WITH_GPIOD.
Result<std::unique_ptr<GpioBackend>> open_gpiod(const GpiodConfig& config);

// ---- simulation -----------------------------------------------------------

struct LineChange {
    std::int64_t t_ms = 0;  // CLOCK_MONOTONIC
    Line line = Line::gate_relay;
    bool on = false;         // for a release: false (the pulled-down level)
    bool released = false;   // true when release_all() let the line go
};

// What the simulated pins did, for tests and the sim daemon's log. Bounded: the
// oldest changes are dropped beyond `capacity`.
class SimTimeline {
public:
    explicit SimTimeline(std::size_t capacity = 10000) : capacity_(capacity) {}
    void record(const LineChange& c);
    std::vector<LineChange> changes() const;
    std::vector<LineChange> changes(Line line) const;
    bool level(Line line) const;  // the level now
    void clear();

    // Fault injection: the next `count` set() calls on `line` fail.
    void fail_next(Line line, int count);
    bool take_failure(Line line);

private:
    mutable std::mutex mutex_;
    std::size_t capacity_;
    std::vector<LineChange> changes_;
    std::array<bool, kLineCount> level_{};
    std::array<int, kLineCount> fail_{};
};

// A backend that records every change to a shared timeline.
std::unique_ptr<GpioBackend> open_sim_gpio(std::shared_ptr<SimTimeline> timeline);

// ---- actuators --------------------------------------------------------------

struct ActuatorConfig {
    int relay_pulse_ms = 1500;   // gate relay on-time per opening, 50..30000
    int buzzer_ms = 300;         // buzzer beep length, 10..5000
};
// Errors: config/"gpio" naming the field.
Status validate(const ActuatorConfig& c);

enum class Signal { off, green, red, both };

class Actuators {
public:
    // Drives every line off first; when that fails the backend is released and
    // the object starts faulted (safe(): false).
    Actuators(std::unique_ptr<GpioBackend> backend, ActuatorConfig config);
    ~Actuators();  // relay off, lamps and buzzer off, timer thread joined
    Actuators(const Actuators&) = delete;
    Actuators& operator=(const Actuators&) = delete;

    // Opens the gate for relay_pulse_ms; a new call during a pulse extends it.
    // Errors: unavailable/"gpio-faulted" after a failure forced the safe state;
    //         io/"gpio" when the relay could not be switched on (relay driven off).
    Status pulse_gate();
    // Ends any pulse now. Errors: io/"gpio" (then the safe state is forced).
    Status close_gate();
    // Lamps. Errors: io/"gpio"; the relay is driven off on any failure.
    Status set_signal(Signal s);
    // One beep of buzzer_ms (or `ms`). Errors: io/"gpio".
    Status beep(std::optional<int> ms = std::nullopt);
    // False once a line could not be driven off and the backend was released.
    bool safe() const;
    bool gate_open() const;

private:
    void timer_loop();
    Status set_locked(Line line, bool on);
    void fail_safe_locked(const Error& why);

    std::unique_ptr<GpioBackend> backend_;
    ActuatorConfig config_;
    mutable std::mutex mutex_;
    std::condition_variable cv_;
    bool stop_ = false;
    bool faulted_ = false;
    bool gate_open_ = false;
    std::optional<std::int64_t> relay_off_at_ms_;
    std::optional<std::int64_t> buzzer_off_at_ms_;
    std::thread timer_;
};

}  // namespace cp::gpio
