// `checkpoint diag [--config FILE] [--board FILE] [--root DIR] [--json] [--click] [--camera]
//                  [--frame PATH.png] [--lane FILE] [--timeout S] [--verbose]`
// A technician's check of one device, read from the daemon's own configuration:
// configuration, identity, camera (a frame saved, a code read), thermometer,
// relay/lamps/buzzer (only with --click), status list, journal backlog,
// upstream (mTLS), disk, memory and the running checkpointd. Each check is ok,
// warn, fail or skip with a value (docs/diagnostics.md).
//
// It never disturbs a running daemon: databases are opened read-only, the camera
// is not grabbed while checkpointd holds it (unless --camera), the GPIO lines are
// only touched with --click.
// Exit 0 every check ok (or skipped), 1 a warn or fail, 2 usage or configuration error.
#include "src/config/config_request.hpp"
#include "drivers/factory/devices.hpp"
#include "src/common/log.hpp"
#include "tools/checkpoint/commands.hpp"
#include "tools/checkpoint/diag.hpp"

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace cp::cli {
namespace {

using namespace diag;
namespace fs = std::filesystem;

int run_diag(Options o) {
    log::set_level(o.verbose ? log::Level::debug : log::Level::off);
    const config::ConfigRequest req{o.config_path, o.board_path, o.root};
    o.config_path = config::config_path_of(req);
    auto cfg = config::load_config(req);
    if (!cfg) {
        std::fprintf(stderr, "checkpoint diag: configuration rejected: %s\n", cfg.error().message.c_str());
        return 2;
    }
    std::shared_ptr<const lane::LaneScript> script;
    std::shared_ptr<lane::LaneCursor> cursor;
    if (cfg->camera.backend == "sim" || cfg->thermometer.backend == "sim") {
        auto s = o.lane_path.empty() ? lane::parse_lane_script(kTestCardLane) : lane::load_lane_script(o.lane_path);
        if (!s) {
            std::fprintf(stderr, "checkpoint diag: %s\n", s.error().describe().c_str());
            return 2;
        }
        script = std::make_shared<const lane::LaneScript>(std::move(*s));
        cursor = std::make_shared<lane::LaneCursor>();
    }
    const DaemonInfo daemon = find_daemon(o.config_path);

    std::vector<Check> checks;
    Check conf("config");
    conf.value = o.config_path + ": device " + cfg->device.id + ", site " + cfg->device.site + ", " +
                 (cfg->device.lane == decision::LaneMode::gate ? "gate" : "truck") + " lane, board " +
                 (cfg->board_name.empty() ? "(unnamed)" : cfg->board_name);
    checks.push_back(conf);
    checks.push_back(check_identity(*cfg));
    checks.push_back(check_camera(*cfg, o, daemon, script, cursor));
    checks.push_back(check_thermometer(*cfg, script, cursor));
    checks.push_back(check_gpio(*cfg, o, daemon));
    std::optional<std::int64_t> local_version;
    checks.push_back(check_list(*cfg, local_version));
    checks.push_back(check_journal(*cfg));
    checks.push_back(check_upstream(*cfg, o, local_version));
    checks.push_back(check_disk(*cfg));
    checks.push_back(check_memory());
    checks.push_back(check_daemon(daemon));
    return report(checks, cfg->device.id, o.config_path, o.json);
}

}  // namespace

void add_diag(CLI::App& app, Action& action) {
    auto o = std::make_shared<Options>();
    CLI::App* c = app.add_subcommand(
        "diag",
        "technician's device check, read from the daemon's own configuration: configuration, identity, camera, "
        "thermometer, gpio (only with --click), list, journal backlog, upstream (mTLS), disk, memory and the "
        "running checkpointd; each ok, warn, fail or skip (docs/diagnostics.md). Exit 0 all ok, 1 a warning or "
        "failure, 2 usage or configuration error");
    c->add_option("--config", o->config_path, "checkpointd.conf (default /etc/checkpoint/checkpointd.conf)")
        ->type_name("FILE");
    c->add_option("--board", o->board_path, "board file instead of the one device.board names (relative: from here)")
        ->type_name("FILE");
    c->add_option("--root", o->root, "bench: a tools/provision tree, the device's paths mapped into DIR (as "
                                     "checkpointd --root)")
        ->type_name("DIR");
    c->add_flag("--json", o->json, "one JSON object instead of text");
    c->add_flag("--click", o->click, "click test: pulse the gate relay, green and red lamp, buzzer (OPENS THE GATE; "
                                     "stop checkpointd first on a gpiod board)");
    c->add_flag("--camera", o->camera, "grab the camera even while checkpointd holds it");
    c->add_option("--frame", o->frame_path, "where the camera frame is saved (.png)")
        ->type_name("PATH")
        ->capture_default_str()
        ->check(CLI::Validator(
            [](std::string& v) { return fs::path(v).extension() == ".png" ? std::string() : "needs a .png path"; },
            "PATH.png"));
    c->add_option("--lane", o->lane_path, "lane script for the sim camera and thermometer (default: a test card)")
        ->type_name("FILE");
    cli::add_int(c, "--timeout", o->timeout_s, 1, 60, "upstream connect and request timeout, seconds")
        ->type_name("S")
        ->default_str("5");
    c->add_flag("--verbose", o->verbose, "log at debug level on stderr");
    c->callback([o, &action] { action = [o] { return run_diag(*o); }; });
}

}  // namespace cp::cli
