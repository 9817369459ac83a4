// `checkpoint diag`: the lane devices (camera, thermometer, relay/lamps/buzzer).
#include "tools/checkpoint/diag.hpp"

#include "drivers/camera/reason.hpp"
#include "drivers/thermometer/reason.hpp"
#include "drivers/factory/devices.hpp"
#include "src/common/time.hpp"
#include "src/decode/decoder.hpp"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include <chrono>
#include <cstdio>
#include <thread>

namespace cp::cli::diag {

Check check_camera(const config::Config& cfg, const Options& o, const DaemonInfo& daemon,
                   const std::shared_ptr<const lane::LaneScript>& script,
                   const std::shared_ptr<lane::LaneCursor>& cursor) {
    Check c("camera");
    if (cfg.camera.backend == "v4l2" && daemon.pid && !o.camera && holds_device(*daemon.pid, cfg.camera.device)) {
        c.level = Level::skip;
        c.value = "not grabbed: checkpointd (pid " + std::to_string(*daemon.pid) + ") holds " + cfg.camera.device +
                  "; --camera to grab it anyway";
        return c;
    }
    auto cam = devices::open_camera(cfg, script, cursor);
    if (!cam) {
        c.level = Level::fail;
        c.value = cfg.camera.backend + ": " + cam.error().describe();
        return c;
    }
    c.data["source"] = (*cam)->describe();
    decode::DecoderOptions dopts;
    dopts.stop_at_first = true;
    dopts.budget_ms = 250;
    decode::QrDecoder decoder(dopts);
    // A few frames: a real camera's first frames are often dark while it adjusts,
    // and the technician holds the card up.
    const std::int64_t deadline = monotonic_now_ms() + 10'000;
    std::optional<camera::Frame> last;
    std::optional<std::string> code;
    std::string error;
    int frames = 0;
    while (frames < 30 && monotonic_now_ms() < deadline && !code) {
        auto f = (*cam)->next_frame(2000);
        if (!f) {
            error = f.error().describe();
            // Not yet there, or one corrupt camera frame: the next may be fine.
            if (f.error().kind == ErrorKind::unavailable || f.error().is(camera::reason::frame)) continue;
            break;
        }
        ++frames;
        auto codes = decoder.decode_video_frame(f->view());
        if (codes && !codes->empty()) code = codes->front().text;
        last = std::move(*f);
    }
    c.data["frames"] = frames;
    if (!last) {
        c.level = Level::fail;
        c.value = (*cam)->describe() + ": no frame" + (error.empty() ? "" : ": " + error);
        return c;
    }
    // Camera frames are BGR8 or gray8 (camera.hpp), what imwrite takes.
    const int type = last->format == decode::PixelFormat::gray8 ? CV_8UC1 : CV_8UC3;
    cv::Mat m(last->height, last->width, type, last->pixels.data(), static_cast<std::size_t>(last->stride));
    bool saved = false;
    try {
        saved = cv::imwrite(o.frame_path, m);
    } catch (const cv::Exception&) {
        saved = false;
    }
    c.data["width"] = last->width;
    c.data["height"] = last->height;
    std::string what = std::to_string(last->width) + "x" + std::to_string(last->height) + " frame";
    if (saved) {
        c.data["frame"] = o.frame_path;
        what += " saved to " + o.frame_path;
    } else {
        c.level = Level::warn;
        what += " NOT saved (cannot write " + o.frame_path + ")";
    }
    if (code) {
        c.data["code_length"] = code->size();
        // The start only: enough to recognise the card, no whole pass in a log.
        c.value = what + "; code read: \"" + code->substr(0, 16) + (code->size() > 16 ? "...\"" : "\"");
    } else {
        c.level = Level::warn;
        c.value = what + "; no code read in " + std::to_string(frames) + " frames (hold a pass in front of the camera)";
    }
    return c;
}


namespace {

// What the thermometer's fault words mean at the lane (drivers/thermometer).
std::string thermometer_hint(const std::string& reason, const config::Config& cfg) {
    char addr[8];
    std::snprintf(addr, sizeof addr, "0x%02x", cfg.thermometer.address);
    if (reason_is(reason, thermo::reason::no_bus))
        return "no I2C bus " + cfg.thermometer.bus + ": is I2C enabled on the board (Raspberry Pi: dtparam=i2c_arm=on "
               "in config.txt) and the bus number right (ls /dev/i2c-*)?";
    if (reason_is(reason, thermo::reason::no_device) || reason_is(reason, thermo::reason::nack))
        return std::string("nothing answers at ") + addr + " on " + cfg.thermometer.bus + ": check the wiring and power, "
               "and look for the sensor with i2cdetect -y " + cfg.thermometer.bus.substr(cfg.thermometer.bus.rfind('-') + 1);
    if (reason_is(reason, thermo::reason::pec)) return "garbled answers: check the wiring, its length and the pull-up resistors";
    if (reason_is(reason, thermo::reason::stuck)) return "the sensor repeats one value: power-cycle it; replace it if it stays";
    return "check the sensor, its wiring and thermometer.* in the configuration";
}

}  // namespace

Check check_thermometer(const config::Config& cfg, const std::shared_ptr<const lane::LaneScript>& script,
                        const std::shared_ptr<lane::LaneCursor>& cursor) {
    Check c("thermometer");
    if (cfg.thermometer.backend == "none") {
        c.level = Level::warn;
        c.value = "none configured: every scan asks for a manual measurement";
        return c;
    }
    // The sim sensor measures the lane's first person, as while they hold their pass up.
    if (script && !script->people.empty() && cursor) {
        cursor->set_frame(script->lead_frames + script->people.front().arrive_frames);
    }
    auto t = devices::open_thermometer(cfg, script, cursor);
    if (!t) {
        c.level = Level::fail;
        c.data["fault"] = t.error().reason;
        c.value = cfg.thermometer.bus + ": " + t.error().describe() + ": " + thermometer_hint(t.error().reason, cfg);
        return c;
    }
    const thermo::Measurement m = (*t)->measure();
    c.data["status"] = thermo::to_string(m.status);
    c.data["samples"] = m.samples;
    if (m.body_c) c.data["body_c"] = *m.body_c;
    if (m.object_c) c.data["object_c"] = *m.object_c;
    if (m.ambient_c) c.data["ambient_c"] = *m.ambient_c;
    const std::string ambient = m.ambient_c ? fmt("ambient %.1f °C", *m.ambient_c) : "no ambient reading";
    switch (m.status) {
    case thermo::MeasureStatus::ok:
        c.value = fmt("body %.1f °C", *m.body_c) + fmt(" (forehead %.1f °C, ", m.object_c.value_or(0)) + ambient + ")";
        break;
    case thermo::MeasureStatus::no_reading:
        c.value = "sensor answers, nobody in front (" + ambient + ")";
        break;
    case thermo::MeasureStatus::out_of_range:
        c.level = Level::warn;
        c.value = "reading out of the forehead range (" + ambient + ")";
        break;
    case thermo::MeasureStatus::sensor_fault:
        c.level = Level::fail;
        c.value = "sensor fault: " + m.fault_reason + " (" + (*t)->describe() + "): " +
                  thermometer_hint(m.fault_reason, cfg);
        c.data["fault"] = m.fault_reason;
        break;
    }
    return c;
}

Check check_gpio(const config::Config& cfg, const Options& o, const DaemonInfo& daemon) {
    Check c("gpio");
    if (!o.click) {
        c.level = Level::skip;
        c.value = "click test not run (--click pulses the gate relay, lamps and buzzer)";
        return c;
    }
    auto backend = devices::open_gpio(cfg);
    if (!backend) {
        c.level = Level::fail;
        c.value = backend.error().describe();
        if (daemon.pid) c.value += " (checkpointd, pid " + std::to_string(*daemon.pid) + ", may hold the lines: stop it first)";
        return c;
    }
    gpio::ActuatorConfig ac;
    ac.relay_pulse_ms = cfg.gate.relay_pulse_ms;
    gpio::Actuators act(std::move(*backend), ac);
    auto pause = [](int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); };
    std::vector<std::string> failed;
    if (!act.set_signal(gpio::Signal::green)) failed.push_back("green lamp");
    pause(400);
    if (!act.set_signal(gpio::Signal::red)) failed.push_back("red lamp");
    pause(400);
    if (!act.set_signal(gpio::Signal::off)) failed.push_back("lamps off");
    if (!act.beep(200)) failed.push_back("buzzer");
    pause(300);
    if (!act.pulse_gate()) failed.push_back("gate relay");
    pause(cfg.gate.relay_pulse_ms + 200);
    if (act.gate_open() && !act.close_gate()) failed.push_back("gate relay off");
    if (!act.safe()) failed.push_back("safe state");
    if (!failed.empty()) {
        c.level = Level::fail;
        std::string list;
        for (const auto& f : failed) list += (list.empty() ? "" : ", ") + f;
        c.value = "could not switch: " + list;
        return c;
    }
    c.value = "green, red, buzzer 200 ms, gate relay " + std::to_string(cfg.gate.relay_pulse_ms) +
              " ms switched (check that each clicked/lit)";
    return c;
}

}  // namespace cp::cli::diag
