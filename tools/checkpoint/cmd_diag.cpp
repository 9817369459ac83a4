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
#include "drivers/factory/devices.hpp"
#include "src/common/log.hpp"
#include "src/common/time.hpp"
#include "src/config/config.hpp"
#include "src/config/config_request.hpp"
#include "src/crypto/crypto.hpp"
#include "src/crypto/trust_store.hpp"
#include "src/decode/decoder.hpp"
#include "src/journal/journal.hpp"
#include "src/status/store.hpp"
#include "src/sync/https_client.hpp"
#include "tools/checkpoint/commands.hpp"

#include <curl/curl.h>
#include <mbedtls/x509_crt.h>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include <sys/statvfs.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace cp::cli {
namespace {

namespace fs = std::filesystem;

enum class Level { ok, skip, warn, fail };
const char* to_string(Level l) {
    switch (l) {
    case Level::ok: return "ok";
    case Level::skip: return "skip";
    case Level::warn: return "warn";
    case Level::fail: return "fail";
    }
    return "?";
}

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

int usage() {
    std::fprintf(stderr,
                 "usage: checkpoint diag [--config FILE] [--board FILE] [--root DIR] [--json] [--click]\n"
                 "                       [--camera] [--frame PATH.png] [--lane FILE] [--timeout S] [--verbose]\n"
                 "  --config FILE   checkpointd.conf (default /etc/checkpoint/checkpointd.conf)\n"
                 "  --board FILE    board file instead of the one device.board names (relative: from here)\n"
                 "  --root DIR      bench: a tools/provision tree, the device's paths mapped into DIR\n"
                 "                  (as checkpointd --root)\n"
                 "  --json          one JSON object instead of text\n"
                 "  --click         click test: pulse the gate relay, green and red lamp, buzzer\n"
                 "                  (OPENS THE GATE; stop checkpointd first on a gpiod board)\n"
                 "  --camera        grab the camera even while checkpointd holds it\n"
                 "  --frame PATH    where the camera frame is saved (.png; default /tmp/checkpoint-diag-frame.png)\n"
                 "  --lane FILE     lane script for the sim camera and thermometer (default: a test card)\n"
                 "  --timeout S     upstream connect and request timeout, 1..60 s (default 5)\n"
                 "exit: 0 all ok, 1 a warning or failure, 2 usage or configuration error\n");
    return 2;
}

std::string fmt(const char* f, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, f, v);
    return buf;
}

std::string bytes_text(std::int64_t b) {
    const double mib = static_cast<double>(b) / (1024.0 * 1024.0);
    return mib >= 1024 ? fmt("%.1f GiB", mib / 1024) : fmt("%.0f MiB", mib);
}

std::string age_text(std::int64_t s) {
    if (s < 120) return std::to_string(s) + " s";
    if (s < 2 * 3600) return std::to_string(s / 60) + " min";
    if (s < 2 * 86400) return std::to_string(s / 3600) + " h";
    return std::to_string(s / 86400) + " d";
}

// What a technician reads with a fault: its effect, and what to do.
constexpr const char* kJournalRefusing =
    "the journal cannot record: scans are shown but not recorded, the gate stays shut";
constexpr const char* kClockHint = "set the clock (timedatectl set-time, or NTP), then run diag again";
constexpr const char* kDiskHint =
    "Free space: old logs (journalctl --vacuum-size=50M), *.corrupt-* journals set aside in the data folder "
    "once copied off, files left in /tmp; or lower journal.disk_floor_bytes";

// ---- the running daemon -------------------------------------------------------

struct DaemonInfo {
    std::optional<long> pid;
    std::string systemd_state;  // "active/running", ...: the unit's, when pid is its main process
    std::string unit_state;     // the unit's state whatever it runs (for "not running")
};

std::string canonical_or(const fs::path& p) {
    std::error_code ec;
    auto c = fs::weakly_canonical(p, ec);
    return ec ? p.string() : c.string();
}

long parent_of(const fs::path& proc_dir) {
    std::ifstream in(proc_dir / "stat");
    std::string stat;
    std::getline(in, stat);
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
    const auto close = stat.rfind(')');
    if (close == std::string::npos) return 0;
    char state = 0;
    long ppid = 0;
    if (std::sscanf(stat.c_str() + close + 1, " %c %ld", &state, &ppid) != 2) return 0;
    return ppid;
}

// A process whose command line runs checkpointd (possibly under an emulator) with
// --config (or --root) naming the same file as ours. A wrapper (`timeout 600
// checkpointd ...`, a shell that did not exec) has the same words in its command
// line: of a parent and its child that both match, the child is the daemon.
std::optional<long> find_daemon_pid(const std::string& config_path) {
    const std::string want = canonical_or(fs::absolute(config_path));
    std::error_code ec;
    std::vector<std::pair<long, long>> found;  // pid, parent
    for (const auto& e : fs::directory_iterator("/proc", ec)) {
        const std::string name = e.path().filename().string();
        long pid = 0;
        auto [p, perr] = std::from_chars(name.data(), name.data() + name.size(), pid);
        if (perr != std::errc() || p != name.data() + name.size() || pid == ::getpid()) continue;
        std::ifstream in(e.path() / "cmdline", std::ios::binary);
        std::vector<std::string> argv;
        for (std::string a; std::getline(in, a, '\0');) argv.push_back(a);
        bool is_daemon = false;
        std::optional<std::string> cfg_arg, root_arg;
        for (std::size_t i = 0; i < argv.size(); ++i) {
            if (fs::path(argv[i]).filename() == "checkpointd") is_daemon = true;
            if (!is_daemon || i + 1 >= argv.size()) continue;
            if (argv[i] == "--config") cfg_arg = argv[i + 1];
            if (argv[i] == "--root") root_arg = argv[i + 1];
        }
        if (!is_daemon || (!cfg_arg && !root_arg)) continue;
        std::error_code cwd_ec;
        const fs::path cwd = fs::read_symlink(e.path() / "cwd", cwd_ec);
        fs::path cfg = cfg_arg ? fs::path(*cfg_arg)
                               : fs::path(*root_arg) / fs::path(config::config_path_of({"", "", "/"})).relative_path();
        if (cfg.is_relative()) cfg = cwd / cfg;
        if (canonical_or(cfg) == want) found.emplace_back(pid, parent_of(e.path()));
    }
    for (const auto& [pid, parent] : found) {
        bool has_child = false;
        for (const auto& other : found) has_child = has_child || other.second == pid;
        if (!has_child) return pid;
    }
    return std::nullopt;
}

std::string run_text(const std::string& cmd) {
    std::string out;
    if (std::FILE* p = ::popen(cmd.c_str(), "r")) {
        char buf[256];
        std::size_t n;
        while ((n = std::fread(buf, 1, sizeof buf, p)) > 0 && out.size() < 4096) out.append(buf, n);
        ::pclose(p);
    }
    return out;
}

DaemonInfo find_daemon(const std::string& config_path) {
    DaemonInfo d;
    std::error_code ec;
    if (fs::exists("/run/systemd/system", ec)) {
        // Type=notify: "active" means checkpointd sent READY=1.
        std::istringstream out(run_text(
            "systemctl show checkpointd.service -p ActiveState -p SubState -p MainPID 2>/dev/null"));
        std::string active, sub;
        long main_pid = 0;
        for (std::string line; std::getline(out, line);) {
            auto eq = line.find('=');
            if (eq == std::string::npos) continue;
            std::string k = line.substr(0, eq), v = line.substr(eq + 1);
            if (k == "ActiveState") active = v;
            else if (k == "SubState") sub = v;
            else if (k == "MainPID") main_pid = std::atol(v.c_str());
        }
        if (!active.empty()) d.unit_state = active + "/" + sub;
        if (main_pid > 0) {
            d.pid = main_pid;
            d.systemd_state = d.unit_state;
        }
    }
    // Outside the unit (by hand, in tests): readiness is not known.
    if (!d.pid) d.pid = find_daemon_pid(config_path);
    return d;
}

// True when `pid` has `device` open (a V4L2 node is exclusive in practice). When
// its file descriptors cannot be read (another user, ProtectProc), assume it does.
bool holds_device(long pid, const std::string& device) {
    const std::string want = canonical_or(device);
    std::error_code ec;
    fs::directory_iterator it(fs::path("/proc") / std::to_string(pid) / "fd", ec);
    if (ec) return true;
    for (const auto& e : it) {
        std::error_code lec;
        if (fs::read_symlink(e.path(), lec).string() == want) return true;
    }
    return false;
}

Check check_daemon(const DaemonInfo& d) {
    Check c("checkpointd");
    if (!d.pid) {
        c.level = Level::warn;
        c.value = "not running" + (d.unit_state.empty() ? std::string() : " (systemd: " + d.unit_state + ")") +
                  ": the lane is down";
        return c;
    }
    c.data["pid"] = *d.pid;
    c.value = "pid " + std::to_string(*d.pid);
    if (d.systemd_state.empty()) {
        c.value += ", readiness not known (not a systemd service)";
    } else if (d.systemd_state.rfind("active/", 0) == 0) {
        c.value += ", ready (systemd: " + d.systemd_state + ")";
        c.data["ready"] = true;
    } else {
        c.level = Level::warn;
        c.value += ", not ready (systemd: " + d.systemd_state + ")";
        c.data["ready"] = false;
    }
    return c;
}

// ---- devices --------------------------------------------------------------------

// What the sim camera shows without --lane: one person holding a test card up.
constexpr const char* kTestCardLane =
    R"({"version": 1, "lead_frames": 0, "people": [{"qr": "CHECKPOINT-DIAG-TEST-CARD", "temperature_c": 36.6,
        "arrive_frames": 0, "hold_frames": 60, "effects": {"noise": 1}}]})";

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
            if (f.error().kind == ErrorKind::unavailable || f.error().reason == "frame") continue;
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

// What the thermometer's fault words mean at the lane (drivers/thermometer).
std::string thermometer_hint(const std::string& reason, const config::Config& cfg) {
    char addr[8];
    std::snprintf(addr, sizeof addr, "0x%02x", cfg.thermometer.address);
    if (reason == "no-bus")
        return "no I2C bus " + cfg.thermometer.bus + ": is I2C enabled on the board (Raspberry Pi: dtparam=i2c_arm=on "
               "in config.txt) and the bus number right (ls /dev/i2c-*)?";
    if (reason == "no-device" || reason == "nack")
        return std::string("nothing answers at ") + addr + " on " + cfg.thermometer.bus + ": check the wiring and power, "
               "and look for the sensor with i2cdetect -y " + cfg.thermometer.bus.substr(cfg.thermometer.bus.rfind('-') + 1);
    if (reason == "pec") return "garbled answers: check the wiring, its length and the pull-up resistors";
    if (reason == "stuck") return "the sensor repeats one value: power-cycle it; replace it if it stays";
    return "check the sensor, its wiring and thermometer.* in the configuration";
}

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

// ---- data -------------------------------------------------------------------------

Check check_list(const config::Config& cfg, std::optional<std::int64_t>& local_version) {
    Check c("list");
    status::StoreOptions so;
    so.create = false;
    so.cache_kib = 256;
    auto store = status::open_sqlite_status_list(cfg.paths.status_db, so);
    std::optional<status::ListInfo> info;
    if (store) info = (*store)->info();
    if (!info) {
        c.level = Level::fail;
        c.value = "no status list in " + cfg.paths.status_db +
                  ": every pass is YELLOW; import one (checkpoint list import) or let sync pull it";
        return c;
    }
    local_version = info->version;
    const std::int64_t now = wall_now_ms() / 1000;
    const std::int64_t age = now - info->created_at;
    c.data["version"] = info->version;
    c.data["created_at"] = info->created_at;
    c.data["age_s"] = age;
    c.data["entries"] = info->entries;
    c.value = "version " + std::to_string(info->version) + ", " + std::to_string(info->entries) + " entries, ";
    if (age < -cfg.policy.clock_skew_s) {
        c.level = Level::warn;
        c.value += "made " + age_text(-age) + " in the future by this device's clock: " + kClockHint;
    } else if (age > cfg.policy.max_list_age_s) {
        c.level = Level::fail;
        c.value += age_text(age) + " old, over the limit of " + age_text(cfg.policy.max_list_age_s) +
                   ": passes are YELLOW until a newer list arrives";
    } else {
        c.value += age_text(std::max<std::int64_t>(age, 0)) + " old (limit " + age_text(cfg.policy.max_list_age_s) + ")";
    }
    return c;
}

struct DiskSpace {
    fs::path path;  // data_dir, or its nearest existing parent
    std::int64_t free_b = 0, total_b = 0;
};

std::optional<DiskSpace> disk_space(const config::Config& cfg) {
    DiskSpace d;
    d.path = cfg.paths.data_dir;
    std::error_code ec;
    while (!fs::exists(d.path, ec) && d.path.has_parent_path() && d.path != d.path.parent_path()) d.path = d.path.parent_path();
    struct statvfs st{};
    if (::statvfs(d.path.c_str(), &st) != 0) return std::nullopt;
    d.free_b = static_cast<std::int64_t>(st.f_bavail) * static_cast<std::int64_t>(st.f_frsize);
    d.total_b = static_cast<std::int64_t>(st.f_blocks) * static_cast<std::int64_t>(st.f_frsize);
    return d;
}

Check check_journal(const config::Config& cfg) {
    Check c("journal");
    // Below the floor the journal refuses every row: scans are shown, not recorded.
    const auto disk = disk_space(cfg);
    const bool refusing = disk && disk->free_b < cfg.journal.disk_floor_bytes;
    auto b = journal::read_backlog(cfg.paths.journal);
    if (!b) {
        c.level = b.error().kind == ErrorKind::not_found ? Level::warn : Level::fail;
        c.value = b.error().kind == ErrorKind::not_found ? "no journal yet at " + cfg.paths.journal + " (no scan so far)"
                                                         : b.error().describe();
        if (refusing) {
            c.level = Level::fail;
            c.value += "; " + std::string(kJournalRefusing);
        }
        return c;
    }
    c.data["rows"] = b->rows;
    c.data["backlog"] = b->pending;
    c.data["last_seq"] = b->last_seq;
    c.value = std::to_string(b->pending) + " of " + std::to_string(b->rows) + " rows not uploaded";
    if (b->oldest_pending_wall_ms) {
        const std::int64_t age = (wall_now_ms() - *b->oldest_pending_wall_ms) / 1000;
        c.data["oldest_pending_age_s"] = age;
        c.value += ", oldest " + age_text(std::max<std::int64_t>(age, 0));
        // Sync uploads every heartbeat; an hour of backlog means it does not.
        if (age > 3600 + cfg.upstream.heartbeat_interval_s) {
            c.level = Level::warn;
            c.value += ": not uploading";
        }
    }
    if (refusing) {
        c.level = Level::fail;
        c.value += "; " + std::string(kJournalRefusing);
    }
    return c;
}

// The device certificate against the fleet CA file the daemon pins (chain and
// validity dates), the way the command centre will check it. Returns empty when
// it verifies, else what is wrong.
std::string verify_device_chain(const config::Config& cfg) {
    mbedtls_x509_crt ca, crt;
    mbedtls_x509_crt_init(&ca);
    mbedtls_x509_crt_init(&crt);
    std::string why;
    if (mbedtls_x509_crt_parse_file(&ca, cfg.upstream.ca_file.c_str()) != 0) {
        why = "the fleet CA file upstream.ca_file (" + cfg.upstream.ca_file + ") is missing or not a certificate";
    } else if (mbedtls_x509_crt_parse_file(&crt, cfg.upstream.cert_file.c_str()) != 0) {
        why = "upstream.cert_file (" + cfg.upstream.cert_file + ") is not a certificate";
    } else {
        std::uint32_t flags = 0;
        if (mbedtls_x509_crt_verify(&crt, &ca, nullptr, nullptr, &flags, nullptr, nullptr) != 0) {
            if (flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED)
                why = "not signed by the fleet CA in upstream.ca_file (" + cfg.upstream.ca_file +
                      "): provision the device again with the fleet CA (tools/provision)";
            else if (flags & MBEDTLS_X509_BADCERT_FUTURE)
                why = "not valid yet by this device's clock: set the clock (date -s, or NTP)";
            else if (flags & MBEDTLS_X509_BADCERT_EXPIRED)
                why = "expired: renew it (tools/provision) and enroll the new one at the command centre";
            else
                why = "does not verify against upstream.ca_file (flags " + std::to_string(flags) + ")";
        }
    }
    mbedtls_x509_crt_free(&crt);
    mbedtls_x509_crt_free(&ca);
    return why;
}

Check check_identity(const config::Config& cfg) {
    Check c("identity");
    auto store = crypto::TrustStore::load(cfg.upstream.cert_file);
    if (!store || store->size() == 0) {
        c.level = Level::fail;
        c.value = "no device certificate at upstream.cert_file (" + cfg.upstream.cert_file + "): tools/provision";
        return c;
    }
    std::error_code ec;
    if (!fs::exists(cfg.upstream.key_file, ec)) {
        c.level = Level::fail;
        c.value = "no device key at upstream.key_file (" + cfg.upstream.key_file + ")";
        return c;
    }
    const crypto::Certificate* cert = store->certificates().front().get();
    const std::int64_t now = wall_now_ms() / 1000;
    const std::int64_t left = cert->not_after() - now;
    c.data["subject"] = cert->subject();
    c.data["not_before"] = cert->not_before();
    c.data["not_after"] = cert->not_after();
    c.value = cert->subject() + ", valid until " + format_iso8601(cert->not_after());
    const std::string subject = cert->subject();
    const auto at = subject.find("CN=");
    const std::string cn = at == std::string::npos ? "" : subject.substr(at + 3, subject.find(',', at) - (at + 3));
    const std::string chain = verify_device_chain(cfg);
    if (cn != cfg.device.id) {
        c.level = Level::fail;
        c.value += ": not for device " + cfg.device.id;
    } else if (cert->not_before() > now) {
        c.level = Level::fail;
        c.value += ": " + std::string(kClockHint) + " (valid from " + format_iso8601(cert->not_before()) +
                   ", this device says " + format_iso8601(now) + ")";
    } else if (left < 0) {
        c.level = Level::fail;
        c.value += ": expired: renew it (tools/provision) and enroll the new one at the command centre";
    } else if (!chain.empty()) {
        c.level = Level::fail;
        c.value += ": " + chain;
    } else if (left < 30 * 86400) {
        c.level = Level::warn;
        c.value += ": renew it (under 30 days left)";
    }
    if (c.level == Level::ok) c.value += ", signed by the fleet CA";
    return c;
}

// With TLS 1.3 the server's verdict on our certificate comes after the
// handshake, so the client often sees only a closed connection. A request
// limited to TLS 1.2 (same files, same pinning) gets the server's alert during
// the handshake instead. Returns libcurl's error text, or empty when it worked.
std::string tls12_probe(const config::Config& cfg, int timeout_s) {
    CURL* c = curl_easy_init();
    if (c == nullptr) return {};
    char errbuf[CURL_ERROR_SIZE] = {};
    const std::string url = cfg.upstream.url + "/v1/list";
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    // At least and at most TLS 1.2 (CURL_SSLVERSION_MAX_TLSv1_2 is TLSv1_2 << 16).
    constexpr long kTls12 = CURL_SSLVERSION_TLSv1_2;
    curl_easy_setopt(c, CURLOPT_SSLVERSION, kTls12 | (kTls12 << 16));
    curl_easy_setopt(c, CURLOPT_CAINFO, cfg.upstream.ca_file.c_str());
    curl_easy_setopt(c, CURLOPT_CAPATH, nullptr);
    curl_easy_setopt(c, CURLOPT_SSLCERT, cfg.upstream.cert_file.c_str());
    curl_easy_setopt(c, CURLOPT_SSLKEY, cfg.upstream.key_file.c_str());
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, static_cast<long>(timeout_s));
    curl_easy_setopt(c, CURLOPT_TIMEOUT, static_cast<long>(timeout_s));
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    const CURLcode rc = curl_easy_perform(c);
    curl_easy_cleanup(c);
    return rc == CURLE_OK ? std::string() : std::string(errbuf[0] ? errbuf : curl_easy_strerror(rc));
}

// A TLS failure, told by which side refused and which file is involved.
struct TlsFault {
    bool refused = false;  // a fault that will not heal by waiting
    std::string text;
};

bool has(const std::string& s, const char* word) { return s.find(word) != std::string::npos; }

TlsFault classify_transport(const Error& e, const config::Config& cfg) {
    const std::string& m = e.message;
    if (has(m, "not yet valid") || has(m, "certificate is not yet valid"))
        return {true, std::string("a certificate is not valid yet by this device's clock: ") + kClockHint};
    // The server's alert after our certificate was sent: it refused us.
    if (has(m, "alert unknown ca") || has(m, "alert bad certificate") || has(m, "alert certificate required") ||
        has(m, "alert certificate unknown") || has(m, "alert certificate revoked") ||
        has(m, "alert certificate expired") || has(m, "alert access denied") || has(m, "alert handshake failure") ||
        has(m, "alert unsupported certificate"))
        return {true, "the server refused this device's certificate (upstream.cert_file " + cfg.upstream.cert_file +
                          "): it does not trust the CA that signed it; the server's --client-ca must be the fleet "
                          "CA (" + m + ")"};
    if (has(m, "certificate has expired") || has(m, "certificate expired"))
        return {true, "the server's certificate has expired: renew it at the command centre (" + m + ")"};
    if (has(m, "self-signed") || has(m, "unable to get local issuer") || has(m, "certificate verify failed") ||
        has(m, "SSL certificate problem") || e.reason == "tls")
        return {true, "this device refused the server's certificate: it does not verify against upstream.ca_file (" +
                          cfg.upstream.ca_file + "); the server uses a certificate of another CA, or the file is "
                          "not the fleet CA (" + m + ")"};
    if (e.reason == "connect")
        return {false, "cannot connect: check the host and port in upstream.url (" + cfg.upstream.url +
                           "), that the server runs, and the network route (ip route; ping the host) (" + m + ")"};
    if (e.reason == "timeout")
        return {false, "no answer in time: check the network route and firewall to " + cfg.upstream.url + " (" + m + ")"};
    if (e.reason == "tls-files")
        return {true, "the TLS files are not all there: " + m + " (upstream.ca_file, upstream.cert_file, "
                      "upstream.key_file)"};
    return {false, m};
}

// What an HTTP answer other than 200 means for the technician, and what to do.
std::string http_hint(long status, const std::string& reason, const config::Config& cfg) {
    if (status == 403 && reason == "revoked")
        return "the command centre revoked this device; contact the command centre (only they can lift a "
               "revocation; re-enrolling does not)";
    if (status == 403 && reason == "not-enrolled")
        return "the command centre does not know device " + cfg.device.id + ": enroll it there (upstream enroll --cert " +
               cfg.upstream.cert_file + ")";
    if (status == 403 && reason == "certificate-not-enrolled")
        return "the command centre holds another certificate for " + cfg.device.id +
               ": enroll this one there (upstream enroll --cert " + cfg.upstream.cert_file + ")";
    if (status == 403) return "the command centre refuses this device; contact the command centre";
    if (status == 404)
        return "no such path on the server: check the path part of upstream.url (" + cfg.upstream.url +
               "; the server answers /v1/list under it)";
    if (status >= 500) return "the command centre has a fault; scans wait in the journal, try again later";
    return "the server refused the request; check upstream.url (" + cfg.upstream.url + ")";
}

Check check_upstream(const config::Config& cfg, const Options& o,
                     std::optional<std::int64_t> local_version) {
    Check c("upstream");
    if (cfg.upstream.url.empty()) {
        c.level = Level::warn;
        c.value = "upstream.url not set: scans are not uploaded, the list is not updated";
        return c;
    }
    c.data["url"] = cfg.upstream.url;
    sync::HttpsConfig h;
    h.base_url = cfg.upstream.url;
    h.ca_path = cfg.upstream.ca_file;
    h.cert_path = cfg.upstream.cert_file;
    h.key_path = cfg.upstream.key_file;
    h.connect_timeout_s = o.timeout_s;
    h.transfer_timeout_s = o.timeout_s;
    h.low_speed_time_s = o.timeout_s;
    auto client = sync::HttpsClient::create(h);
    if (!client) {
        c.level = Level::fail;
        c.value = classify_transport(client.error(), cfg).text;
        return c;
    }
    const std::int64_t t0 = monotonic_now_ms();
    auto r = client->get("/v1/list");
    const std::int64_t ms = monotonic_now_ms() - t0;
    c.data["ms"] = ms;
    if (!r) {
        // Offline is a state the lane is built for; a refused handshake will not heal.
        TlsFault f = classify_transport(r.error(), cfg);
        if (!f.refused && r.error().reason != "timeout") {
            // Maybe connected, then closed (curl may call that "connect" too): ask
            // the server what it thinks of our certificate.
            const std::string probe = tls12_probe(cfg, o.timeout_s);
            if (has(probe, "alert")) {
                const TlsFault g = classify_transport(Error{ErrorKind::unavailable, "tls", probe}, cfg);
                if (g.refused) f = g;
            }
        }
        c.level = f.refused ? Level::fail : Level::warn;
        c.data["reason"] = r.error().reason;
        c.value = cfg.upstream.url + (f.refused ? ": TLS refused: " : ": unreachable: ") + f.text + ", after " +
                  std::to_string(ms) + " ms" +
                  (f.refused ? "" : " (the lane works offline; scans wait in the journal)");
        return c;
    }
    c.data["status"] = r->status;
    if (r->status != 200) {
        std::string reason;
        try {
            reason = nlohmann::json::parse(r->body).value("reason", "");
        } catch (const nlohmann::json::exception&) {
        }
        c.level = r->status >= 500 ? Level::warn : Level::fail;
        c.data["reason"] = reason;
        c.value = "HTTP " + std::to_string(r->status) + (reason.empty() ? "" : " " + reason) + ": " +
                  http_hint(r->status, reason, cfg);
        return c;
    }
    c.value = "mutual TLS ok in " + std::to_string(ms) + " ms";
    try {
        const std::int64_t server = nlohmann::json::parse(r->body).at("version").get<std::int64_t>();
        c.data["server_list_version"] = server;
        c.value += ", server list version " + std::to_string(server);
        if (local_version && server > *local_version) c.value += " (this device has " + std::to_string(*local_version) + ")";
    } catch (const nlohmann::json::exception&) {
        c.level = Level::warn;
        c.value += ", but /v1/list did not answer the protocol's JSON";
    }
    if (r->date_s) {
        // Midpoint of the request against the middle of the server's second.
        const std::int64_t skew_ms = (r->sent_ms + r->received_ms) / 2 - (*r->date_s * 1000 + 500);
        c.data["skew_ms"] = skew_ms;
        if (std::llabs(skew_ms) > cfg.policy.clock_skew_s * 1000 + 1000) {
            c.level = Level::warn;
            c.value += "; device clock off by " + age_text(std::llabs(skew_ms) / 1000) + ": " + kClockHint +
                       " (a wrong clock makes the list look stale or from the future, and certificates invalid)";
        }
    }
    return c;
}

// ---- system -----------------------------------------------------------------------

Check check_disk(const config::Config& cfg) {
    Check c("disk");
    const auto disk = disk_space(cfg);
    if (!disk) {
        c.level = Level::fail;
        c.value = "cannot stat " + cfg.paths.data_dir;
        return c;
    }
    const fs::path& p = disk->path;
    const std::int64_t free_b = disk->free_b, total_b = disk->total_b;
    const std::int64_t floor = cfg.journal.disk_floor_bytes;
    c.data["path"] = p.string();
    c.data["free_bytes"] = free_b;
    c.data["total_bytes"] = total_b;
    c.value = p.string() + ": " + bytes_text(free_b) + " free of " + bytes_text(total_b);
    if (free_b < floor) {
        c.level = Level::fail;
        c.value += ", below the journal floor of " + bytes_text(floor) + ": " + kJournalRefusing + ". " + kDiskHint;
    } else if (free_b < 2 * floor) {
        c.level = Level::warn;
        c.value += ", close to the journal floor of " + bytes_text(floor) + ". " + kDiskHint;
    }
    return c;
}

Check check_memory() {
    Check c("memory");
    std::ifstream in("/proc/meminfo");
    std::optional<std::int64_t> avail_kib, total_kib;
    for (std::string line; std::getline(in, line);) {
        long long v = 0;
        if (std::sscanf(line.c_str(), "MemAvailable: %lld kB", &v) == 1) avail_kib = v;
        if (std::sscanf(line.c_str(), "MemTotal: %lld kB", &v) == 1) total_kib = v;
    }
    if (!avail_kib || !total_kib) {
        c.level = Level::fail;
        c.value = "no MemAvailable in /proc/meminfo";
        return c;
    }
    const std::int64_t avail = *avail_kib * 1024;
    c.data["available_bytes"] = avail;
    c.data["total_bytes"] = *total_kib * 1024;
    c.value = bytes_text(avail) + " available of " + bytes_text(*total_kib * 1024);
    // checkpointd is capped at 256 MiB (MemoryMax); it needs well under that.
    if (avail < 32LL << 20) c.level = Level::fail;
    else if (avail < 96LL << 20) c.level = Level::warn;
    return c;
}

Result<Options> parse_args(const Args& args) {
    Options o;
    auto bad = [](const std::string& m) { return fail(ErrorKind::invalid_input, "usage", m); };
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        auto value = [&](std::string& out) {
            if (i + 1 >= args.size()) return false;
            out = args[++i];
            return true;
        };
        std::string v;
        if (a == "--config") { if (!value(o.config_path)) return bad("--config needs a file"); }
        else if (a == "--board") { if (!value(o.board_path)) return bad("--board needs a file"); }
        else if (a == "--root") { if (!value(o.root)) return bad("--root needs a folder"); }
        else if (a == "--frame") {
            if (!value(o.frame_path) || fs::path(o.frame_path).extension() != ".png") return bad("--frame needs a .png path");
        }
        else if (a == "--lane") { if (!value(o.lane_path)) return bad("--lane needs a file"); }
        else if (a == "--timeout") {
            if (!value(v)) return bad("--timeout needs seconds");
            auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), o.timeout_s);
            if (ec != std::errc() || p != v.data() + v.size() || o.timeout_s < 1 || o.timeout_s > 60)
                return bad("--timeout must be 1..60 seconds");
        }
        else if (a == "--json") o.json = true;
        else if (a == "--click") o.click = true;
        else if (a == "--camera") o.camera = true;
        else if (a == "--verbose") o.verbose = true;
        else return bad("unknown argument '" + a + "'");
    }
    return o;
}

}  // namespace

int run_diag(const Args& args) {
    auto parsed = parse_args(args);
    if (!parsed) {
        std::fprintf(stderr, "checkpoint diag: %s\n", parsed.error().message.c_str());
        return usage();
    }
    Options o = *parsed;
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

    Level worst = Level::ok;
    int warns = 0, fails = 0;
    for (const auto& c : checks) {
        worst = std::max(worst, c.level);
        warns += c.level == Level::warn;
        fails += c.level == Level::fail;
    }
    const char* result = worst == Level::fail ? "fail" : worst == Level::warn ? "warn" : "ok";
    if (o.json) {
        nlohmann::ordered_json j;
        j["device"] = cfg->device.id;
        j["config"] = o.config_path;
        j["result"] = result;
        j["checks"] = nlohmann::ordered_json::array();
        for (const auto& c : checks) {
            nlohmann::ordered_json e;
            e["name"] = c.name;
            e["status"] = to_string(c.level);
            e["value"] = c.value;
            if (!c.data.empty()) e["data"] = c.data;
            j["checks"].push_back(std::move(e));
        }
        std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    } else {
        for (const auto& c : checks) std::printf("%-5s %-12s %s\n", to_string(c.level), c.name.c_str(), c.value.c_str());
        std::printf("result: %s (%d warn, %d fail)\n", result, warns, fails);
    }
    return worst >= Level::warn ? 1 : 0;
}

}  // namespace cp::cli
