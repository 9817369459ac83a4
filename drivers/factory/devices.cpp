#include "drivers/factory/devices.hpp"

#include "src/common/log.hpp"
#include "src/common/time.hpp"

#include <cstdio>
#include <filesystem>
#include <mutex>
#include <unistd.h>

namespace cp::devices {
namespace {

// The sim GPIO backend, plus a line per change in a file another process can read.
class LoggedSimGpio final : public gpio::GpioBackend {
public:
    LoggedSimGpio(std::unique_ptr<gpio::GpioBackend> inner, std::FILE* out)
        : inner_(std::move(inner)), out_(out) {}
    ~LoggedSimGpio() override {
        if (out_ != nullptr) std::fclose(out_);
    }
    Status set(gpio::Line line, bool on) override {
        Status s = inner_->set(line, on);
        if (s.ok()) record(gpio::to_string(line), on ? "on" : "off");
        return s;
    }
    void release_all() noexcept override {
        inner_->release_all();
        record("all", "released");
    }
    std::string describe() const override { return inner_->describe() + " (logged)"; }

private:
    void record(const char* line, const char* what) noexcept {
        std::lock_guard lock(mu_);
        // Bounded: a sim run never needs more, and a stuck loop must not fill the disk.
        if (out_ == nullptr || lines_ >= 100000) return;
        ++lines_;
        std::fprintf(out_, "%lld %s %s\n", static_cast<long long>(monotonic_now_ms()), line, what);
        std::fflush(out_);
    }
    std::unique_ptr<gpio::GpioBackend> inner_;
    std::FILE* out_;
    std::mutex mu_;
    int lines_ = 0;
};

gpio::LineSpec line_spec(const std::string& text, bool active_low) {
    gpio::LineSpec s;
    s.active_low = active_low;
    bool digits = !text.empty();
    for (char c : text) digits = digits && c >= '0' && c <= '9';
    if (digits) s.offset = std::stoi(text);
    else s.name = text;
    return s;
}

}  // namespace

Result<std::unique_ptr<camera::Camera>> open_camera(const config::Config& cfg,
                                                    std::shared_ptr<const lane::LaneScript> script,
                                                    std::shared_ptr<lane::LaneCursor> cursor) {
    if (cfg.camera.backend == "sim") {
        if (!script)
            return fail(ErrorKind::config, lane::reason::lane_script, "camera.backend = sim needs a lane script (--lane FILE or sim.lane_script)");
        // Built in one piece: copy-assigning the script into a default config
        // trips GCC 12's -Wnull-dereference on aarch64 (a false positive).
        const camera::SimCameraConfig c{.script = *script,
                                        .fps = static_cast<double>(cfg.camera.fps),
                                        .width = cfg.camera.width,
                                        .height = cfg.camera.height,
                                        .cursor = std::move(cursor)};
        return camera::open_sim(c);
    }
    if (cfg.camera.backend == "file") {
        camera::FileSourceConfig c;
        c.path = cfg.camera.device;
        c.fps = cfg.camera.fps;
        auto cam = camera::open_file_source(c);
        if (!cam) return fail(cam.error().with_context("camera.device"));
        return cam;
    }
    camera::V4l2Config c;
    c.device = cfg.camera.device;
    c.width = cfg.camera.width;
    c.height = cfg.camera.height;
    c.fourcc = cfg.camera.format;
    c.fps = cfg.camera.fps;
    return camera::open_v4l2(c);
}

Result<std::unique_ptr<thermo::Thermometer>> open_thermometer(const config::Config& cfg,
                                                              std::shared_ptr<const lane::LaneScript> script,
                                                              std::shared_ptr<const lane::LaneCursor> cursor) {
    thermo::MeasureConfig mc;
    mc.address7 = static_cast<std::uint8_t>(cfg.thermometer.address);
    mc.offset_c += cfg.thermometer.offset_c;  // installation calibration on top of the compensation
    mc.gain = cfg.thermometer.gain;
    mc.ambient_min_c = cfg.thermometer.ambient_min_c;
    mc.ambient_max_c = cfg.thermometer.ambient_max_c;
    if (cfg.thermometer.backend == "sim") {
        thermo::SimThermometerConfig c;
        c.measure = mc;
        c.measure.address7 = thermo::kMlxAddress;
        c.ambient_c = cfg.thermometer.sim_ambient_c;
        if (script) {
            c.script = std::move(script);
            c.cursor = std::move(cursor);
        }
        return thermo::open_sim_thermometer(c);
    }
    if (cfg.thermometer.backend == "mlx90614") {
        thermo::I2cThermometerConfig c;
        c.bus = cfg.thermometer.bus;
        c.measure = mc;
        return thermo::open_mlx90614(c);
    }
    return std::unique_ptr<thermo::Thermometer>();  // "none"
}

Result<std::unique_ptr<gpio::GpioBackend>> open_gpio(const config::Config& cfg) {
    if (cfg.gpio.backend == "sim") {
        std::error_code ec;
        std::filesystem::create_directories(cfg.paths.data_dir, ec);
        std::FILE* log_file = std::fopen((std::filesystem::path(cfg.paths.data_dir) / "gpio-sim.log").c_str(), "ae");
        return std::unique_ptr<gpio::GpioBackend>(std::make_unique<LoggedSimGpio>(gpio::open_sim_gpio(nullptr), log_file));
    }
    gpio::GpiodConfig c;
    c.chip = cfg.gpio.chip;
    c.lines[static_cast<int>(gpio::Line::gate_relay)] = line_spec(cfg.gpio.relay, cfg.gpio.active_low);
    c.lines[static_cast<int>(gpio::Line::green_lamp)] = line_spec(cfg.gpio.green, cfg.gpio.active_low);
    c.lines[static_cast<int>(gpio::Line::red_lamp)] = line_spec(cfg.gpio.red, cfg.gpio.active_low);
    c.lines[static_cast<int>(gpio::Line::buzzer)] = line_spec(cfg.gpio.buzzer, cfg.gpio.active_low);
    return gpio::open_gpiod(c);
}

Result<Devices> open_devices(const config::Config& cfg, const SimOptions& sim) {
    Devices d;
    const bool any_sim = cfg.camera.backend == "sim" || cfg.thermometer.backend == "sim" || cfg.input.backend == "sim";
    // --lane FILE, else the sim.lane_script key.
    const std::string& script_path = sim.lane_script.empty() ? cfg.sim.lane_script : sim.lane_script;
    if (any_sim && !script_path.empty()) {
        auto script = lane::load_lane_script(script_path);
        if (!script) return fail(script.error());
        d.script = std::make_shared<const lane::LaneScript>(std::move(*script));
        d.cursor = std::make_shared<lane::LaneCursor>();
    }

    auto cam = open_camera(cfg, d.script, d.cursor);
    if (!cam) return fail(cam.error());
    d.camera = std::move(*cam);

    auto t = open_thermometer(cfg, d.script, d.cursor);
    if (t) {
        d.thermometer = std::move(*t);
    } else if (cfg.thermometer.backend == "sim") {
        return fail(t.error());
    } else {
        // A missing sensor is a lane fault, not a reason to stay down: scans go
        // YELLOW "measure by hand" until it is fixed.
        log::error("thermometer", "sensor unavailable", {{"bus", cfg.thermometer.bus}, {"reason", t.error().reason}});
    }

    auto backend = open_gpio(cfg);
    if (!backend) return fail(backend.error());
    gpio::ActuatorConfig ac;
    ac.relay_pulse_ms = cfg.gate.relay_pulse_ms;
    d.actuators = std::make_unique<gpio::Actuators>(std::move(*backend), ac);

    // Screen.
    if (cfg.display.backend == "png" || cfg.display.backend == "fbdev") {
        display::ScreenConfig sc;
        sc.width = cfg.display.width;
        sc.height = cfg.display.height;
        auto screen = display::GuardScreen::create(sc);
        if (!screen) return fail(screen.error());
        auto sink = cfg.display.backend == "png" ? display::open_png_folder(cfg.paths.screen_dir, sim.png_keep)
                                                 : display::open_framebuffer(cfg.display.device);
        if (!sink) return fail(sink.error());
        d.display = std::make_unique<display::GuardDisplay>(std::move(*screen), std::move(*sink));
    }  // "sim": no screen; the verdicts are in the log and the --json lines

    // Inspector input.
    if (cfg.input.backend == "sim") {
        if (d.script) d.input = std::make_unique<input::SimInput>(d.script, d.cursor);
        else d.input = std::make_unique<input::SimInput>();
    } else if (cfg.input.backend == "stdin") {
        d.input = input::open_line_input(STDIN_FILENO, "stdin");
    } else {
        auto in = input::open_evdev(cfg.input.device);
        if (!in) {
            log::error("input", "keypad unavailable", {{"device", cfg.input.device}, {"reason", in.error().reason}});
        } else {
            d.input = std::move(*in);
        }
    }
    return d;
}

}  // namespace cp::devices
