// The device factory: opens the lane's devices from the configuration: the board file picks the
// backends (v4l2/file/sim camera, mlx90614/sim/none thermometer, gpiod/sim
// GPIO, fbdev/png/sim screen, evdev/stdin/sim input).
//
// The sim backends follow one lane script (checkpointd --lane FILE): the camera
// shows its people, the thermometer reads their temperature, the input types
// what the inspector types. With the sim GPIO backend every line change is also
// appended to <data_dir>/gpio-sim.log ("<mono_ms> <line> on|off|released"), so a
// test in another process can check what the relay did.
#pragma once

#include "src/common/result.hpp"
#include "src/config/config.hpp"
#include "drivers/camera/camera.hpp"
#include "drivers/display/display.hpp"
#include "drivers/gpio/gpio.hpp"
#include "drivers/input/input.hpp"
#include "drivers/sim_lane/lane_script.hpp"
#include "drivers/thermometer/thermometer.hpp"

#include <memory>
#include <string>

namespace cp::devices {

struct SimOptions {
    std::string lane_script;   // JSON lane script for the sim camera/thermometer/input
    int png_keep = 500;        // PNG screen sink: newest files kept
};

struct Devices {
    std::shared_ptr<const lane::LaneScript> script;  // sim backends only
    std::shared_ptr<lane::LaneCursor> cursor;
    std::unique_ptr<camera::Camera> camera;
    std::unique_ptr<thermo::Thermometer> thermometer;  // null: backend "none"
    std::unique_ptr<gpio::Actuators> actuators;
    std::unique_ptr<display::GuardDisplay> display;    // null: backend "sim" (no output)
    std::unique_ptr<input::InputSource> input;
};

// Errors: config/"lane-script" (lane::reason::lane_script) when a sim backend
// has no --lane script; the
// backends' own open errors (with the device named in the message).
Result<Devices> open_devices(const config::Config& cfg, const SimOptions& sim);

// One device class each, the way open_devices() opens it (also for `checkpoint
// diag`). The sim camera and thermometer follow `script`/`cursor` when given; the
// sim camera needs a script. open_thermometer() gives null for backend "none" and
// the backend's error otherwise (open_devices() logs a missing MLX90614 and goes
// on without it). open_gpio()'s sim backend appends to <data_dir>/gpio-sim.log.
Result<std::unique_ptr<camera::Camera>> open_camera(const config::Config& cfg,
                                                    std::shared_ptr<const lane::LaneScript> script,
                                                    std::shared_ptr<lane::LaneCursor> cursor);
Result<std::unique_ptr<thermo::Thermometer>> open_thermometer(const config::Config& cfg,
                                                              std::shared_ptr<const lane::LaneScript> script,
                                                              std::shared_ptr<const lane::LaneCursor> cursor);
Result<std::unique_ptr<gpio::GpioBackend>> open_gpio(const config::Config& cfg);

}  // namespace cp::devices
