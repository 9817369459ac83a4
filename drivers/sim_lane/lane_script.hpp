// A lane script: who walks up to the scanner, what they show, how warm they are
// and what the inspector types. The camera, thermometer and input sims all read
// the same script, so a person's temperature and the inspector's keystrokes line
// up with the frames that show their pass (format: docs/drivers.md).
#pragma once

#include "src/common/result.hpp"

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

// Error reason: "lane-script" (the script cannot be read or does not parse).
namespace cp::lane::reason {
inline constexpr Reason lane_script{"lane-script"};
}  // namespace cp::lane::reason

namespace cp::lane {

enum class Medium { phone, paper };
enum class Blur { none, motion, defocus };
enum class Direction { in, out };
enum class Decision { allow, deny };

// What the thermometer sim does while this person stands in front of it.
enum class ThermoFault {
    none,
    no_device,     // every transfer NACKs (sensor unplugged)
    pec_error,     // every reply carries a corrupted PEC byte
    stuck,         // the sensor returns one frozen raw value whatever is in front
    error_flag,    // bit 15 of the object register is set (sensor-internal error)
};

// Image effects applied to the pass as the camera sees it.
struct Effects {
    double tilt_deg = 0;      // perspective tilt of the code plane, 0..60
    double rotate_deg = 0;    // in-plane rotation, -180..180
    Blur blur = Blur::none;
    double blur_px = 0;       // kernel length / radius in pixels, 0..30
    double glare = 0;         // strength of a specular spot over the code, 0..1
    double brightness = 1.0;  // phone screen brightness (or paper lighting), 0.1..1.5
    double noise = 2.0;       // sensor noise standard deviation, 0..40 (8-bit levels)
    double size = 0.42;       // code width as a fraction of the frame height, 0.1..0.9
};

struct Person {
    std::optional<std::string> qr;  // the pass text; none = a person without a pass
    std::optional<double> temperature_c;  // body temperature; none = walks past the sensor
    std::string plate;               // what the inspector types (may be empty)
    std::optional<Direction> direction;         // inspector sets lane direction first
    std::optional<Decision> decision;           // inspector's manual allow/deny
    Medium medium = Medium::phone;
    Effects effects;
    ThermoFault thermo_fault = ThermoFault::none;
    // Frames spent walking in, holding the code still, walking out.
    int arrive_frames = 8;
    int hold_frames = 30;
    int leave_frames = 8;
    int gap_frames = 15;  // empty scene after this person
};

enum class Phase { empty, arriving, holding, leaving };

struct Position {
    int person = -1;  // index into LaneScript::people, -1 when nobody is there
    Phase phase = Phase::empty;
    int frame_in_phase = 0;
    int phase_frames = 0;
};

struct LaneScript {
    int lead_frames = 10;  // empty scene before the first person
    std::vector<Person> people;

    // Frames from the first to the last of the script (lead + every person).
    std::int64_t total_frames() const;
    // Who is in front of the lane at `frame` (0-based; beyond the end: empty).
    Position at(std::int64_t frame) const;
};

// Errors: invalid_input/"lane-script" with the JSON path of the offending key
// for malformed JSON, unknown keys, wrong types and out-of-range values.
// Bounded: at most 10000 people, texts up to 4096 bytes.
Result<LaneScript> parse_lane_script(std::string_view json_text);
// Errors: io/"lane-script" when the file cannot be read, then as parse_lane_script.
Result<LaneScript> load_lane_script(const std::string& path);

// The frame the camera sim shows now, shared with the thermometer and input
// sims so they act on the person in the picture. Thread-safe (one atomic).
class LaneCursor {
public:
    void set_frame(std::int64_t frame) { frame_.store(frame, std::memory_order_release); }
    std::int64_t frame() const { return frame_.load(std::memory_order_acquire); }

private:
    std::atomic<std::int64_t> frame_{-1};  // -1: the camera has not started
};

const char* to_string(Phase p);

}  // namespace cp::lane
