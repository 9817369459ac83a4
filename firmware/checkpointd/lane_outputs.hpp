// The lane's outputs for a decision, once the journal has answered: the guard
// screen's model, the relay, lamps and buzzer, and the --json line writer. The
// decide thread calls them in this order: actuators, screen, voice, JSON line.
#pragma once

#include "drivers/display/display.hpp"
#include "drivers/gpio/gpio.hpp"
#include "firmware/checkpointd/json_line.hpp"
#include "firmware/checkpointd/manual_resolver.hpp"
#include "firmware/checkpointd/scan_pipeline.hpp"
#include "src/journal/journal.hpp"

#include <cstdint>
#include <mutex>
#include <string>

namespace cp::daemon {

display::Verdict screen_verdict(decision::Verdict v);
// "Resident pass", "Driver pass", ...; empty for an unknown kind letter.
std::string kind_label(const std::string& kind);

// The verdict screen of a scan. `truck`: the decided plate is shown beside the
// reason. A journal failure is shown beside the verdict, never instead of it.
display::ScreenModel scan_screen(const ScanResult& r, bool truck);
// Pulses the gate when r.open_gate, sets the lamps (GREEN, RED, both for YELLOW)
// and beeps for anything but GREEN. Failures are logged (the gate fails closed).
void act_on_scan(gpio::Actuators& act, const ScanResult& r);

// A guard's resolution of a YELLOW, after the journal's answer `row` (the manual
// row, or why it was not written: then the gate stays closed and the lane YELLOW).
ManualLine manual_line(const ManualAction& a, const Result<journal::ScanRecord>& row, std::int64_t wall_ms);
display::ScreenModel manual_screen(const ManualAction& a, const Result<journal::ScanRecord>& row);
// Journaled resolutions only: the gate (allow) and the lamps.
void act_on_manual(gpio::Actuators& act, bool allow);

// The --json lines on stdout, one writer at a time. Thread-safe.
class JsonOut {
public:
    explicit JsonOut(bool enabled) : enabled_(enabled) {}
    void emit(const std::string& line);

private:
    const bool enabled_;
    std::mutex mu_;
};

}  // namespace cp::daemon
