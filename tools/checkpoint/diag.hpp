// `checkpoint diag`: what its parts share. The command (cmd_diag.cpp) runs the
// checks, each in the file of its concern, and prints the report
// (diag_report.cpp):
//   diag_daemon.cpp    the running checkpointd (process, systemd unit, held devices)
//   diag_devices.cpp   camera, thermometer, relay/lamps/buzzer
//   diag_storage.cpp   status list, journal backlog, disk, memory
//   diag_network.cpp   device identity (certificate chain) and the upstream (mTLS)
#pragma once

#include "src/common/result.hpp"
#include "src/config/config.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cp::lane {
struct LaneScript;
class LaneCursor;
}  // namespace cp::lane

namespace cp::cli::diag {

enum class Level { ok, skip, warn, fail };
const char* to_string(Level l);

struct Check {
    explicit Check(std::string n) : name(std::move(n)) {}
    std::string name;
    Level level = Level::ok;
    std::string value;          // one line for the technician
    nlohmann::ordered_json data = nlohmann::ordered_json::object();  // numbers for --json
};

struct Options {
    std::string config_path;  // empty: /etc/checkpoint/checkpointd.conf (under --root)
    std::string board_path;
    std::string root;
    std::string frame_path = "/tmp/checkpoint-diag-frame.png";
    std::string lane_path;
    bool json = false;
    bool click = false;
    bool camera = false;
    bool verbose = false;
    int timeout_s = 5;
};

// The running checkpointd of this configuration, if any.
struct DaemonInfo {
    std::optional<long> pid;
    std::string systemd_state;  // "active/running", ...: the unit's, when pid is its main process
    std::string unit_state;     // the unit's state whatever it runs (for "not running")
};

// Text for the technician.
std::string fmt(const char* f, double v);
std::string bytes_text(std::int64_t b);
std::string age_text(std::int64_t s);
inline constexpr const char* kClockHint = "set the clock (timedatectl set-time, or NTP), then run diag again";

// A reason word as received (from a driver's fault state or the wire) against a
// module's typed reason.
inline bool reason_is(std::string_view received, Reason r) { return received == r.view(); }

// What the sim camera shows without --lane: one person holding a test card up.
inline constexpr const char* kTestCardLane =
    R"({"version": 1, "lead_frames": 0, "people": [{"qr": "CHECKPOINT-DIAG-TEST-CARD", "temperature_c": 36.6,
        "arrive_frames": 0, "hold_frames": 60, "effects": {"noise": 1}}]})";

// diag_daemon.cpp
DaemonInfo find_daemon(const std::string& config_path);
Check check_daemon(const DaemonInfo& d);
// True when `pid` has `device` open.
bool holds_device(long pid, const std::string& device);

// diag_devices.cpp
Check check_camera(const config::Config& cfg, const Options& o, const DaemonInfo& daemon,
                   const std::shared_ptr<const lane::LaneScript>& script,
                   const std::shared_ptr<lane::LaneCursor>& cursor);
Check check_thermometer(const config::Config& cfg, const std::shared_ptr<const lane::LaneScript>& script,
                        const std::shared_ptr<lane::LaneCursor>& cursor);
Check check_gpio(const config::Config& cfg, const Options& o, const DaemonInfo& daemon);

// diag_storage.cpp; check_list() sets local_version when a list is installed.
Check check_list(const config::Config& cfg, std::optional<std::int64_t>& local_version);
Check check_journal(const config::Config& cfg);
Check check_disk(const config::Config& cfg);
Check check_memory();

// diag_network.cpp
Check check_identity(const config::Config& cfg);
Check check_upstream(const config::Config& cfg, const Options& o, std::optional<std::int64_t> local_version);

// diag_report.cpp: prints the checks (text, or one JSON object with --json) and
// returns the exit code: 0 every check ok or skipped, 1 a warn or fail.
int report(const std::vector<Check>& checks, const std::string& device_id, const std::string& config_path, bool json);

}  // namespace cp::cli::diag
