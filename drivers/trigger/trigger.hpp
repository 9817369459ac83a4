// The handheld's trigger: a button that opens a scan window (docs/daemon.md,
// "Handheld"). Backends: an evdev key (a handheld's side button usually reports
// KEY_CAMERA or a vendor key), a GPIO line (falling edge, button to ground with a
// pull-up), and a sim that presses at a fixed interval.
//
// Thread-safety: a Trigger is NOT thread-safe; the decide thread owns it.
#pragma once

#include "src/common/result.hpp"

#include <cstdint>
#include <memory>
#include <string>

// Error reasons: "trigger" (the line cannot be opened), "trigger-lost" (it went away).
namespace cp::trigger::reason {
inline constexpr Reason trigger{"trigger"};
inline constexpr Reason trigger_lost{"trigger-lost"};
}  // namespace cp::trigger::reason

namespace cp::trigger {

class Trigger {
public:
    virtual ~Trigger() = default;
    // Waits up to timeout_ms; true when the trigger was pressed (presses while
    // nobody waited count once). Errors: unavailable/"trigger-lost" when the
    // device went away.
    virtual Result<bool> wait(int timeout_ms) = 0;
    virtual std::string describe() const = 0;
};

// An input device (/dev/input/eventN) and the key code that is the trigger
// (linux/input-event-codes.h, e.g. 212 KEY_CAMERA). The device is not grabbed:
// the keypad's other keys stay with the input backend. Errors:
// unavailable/"trigger" when the node cannot be opened.
Result<std::unique_ptr<Trigger>> open_evdev_trigger(const std::string& path, std::uint16_t key_code);
// The same on an open descriptor (tests: a pipe); takes ownership of fd.
std::unique_ptr<Trigger> open_evdev_trigger_fd(int fd, std::uint16_t key_code, std::string name);

// A GPIO line by name or offset on `chip` (libgpiod), pressed on the falling
// edge. Errors: unavailable/"trigger" (no chip, no line, line busy, or built
// without libgpiod).
Result<std::unique_ptr<Trigger>> open_gpio_trigger(const std::string& chip, const std::string& line);

// Presses every interval_ms, the first after first_ms (a bench inspector who
// keeps pressing). press() adds one at once (tests).
class SimTrigger final : public Trigger {
public:
    SimTrigger(int interval_ms, int first_ms);
    Result<bool> wait(int timeout_ms) override;
    std::string describe() const override;
    void press() { pending_ = true; }

private:
    int interval_ms_;
    std::int64_t next_ms_;
    bool pending_ = false;
};

}  // namespace cp::trigger
