// `checkpoint diag [--config FILE] [--board FILE] [--json] [--click] [--camera]
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
#include "firmware/checkpointd/devices.hpp"
#include "src/common/log.hpp"
#include "src/common/time.hpp"
#include "src/config/config.hpp"
#include "src/crypto/crypto.hpp"
#include "src/crypto/trust_store.hpp"
#include "src/decode/decoder.hpp"
#include "src/journal/journal.hpp"
#include "src/status/store.hpp"
#include "src/sync/https_client.hpp"
#include "tools/checkpoint/commands.hpp"

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
    std::string config_path = "/etc/checkpoint/checkpointd.conf";
    std::string board_path;
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
                 "usage: checkpoint diag [--config FILE] [--board FILE] [--json] [--click] [--camera]\n"
                 "                       [--frame PATH.png] [--lane FILE] [--timeout S] [--verbose]\n"
                 "  --config FILE   checkpointd.conf (default /etc/checkpoint/checkpointd.conf)\n"
                 "  --board FILE    board file instead of the one device.board names\n"
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

// A process whose command line runs checkpointd (possibly under an emulator) with
// --config naming the same file as ours.
std::optional<long> find_daemon_pid(const std::string& config_path) {
    const std::string want = canonical_or(fs::absolute(config_path));
    std::error_code ec;
    for (const auto& e : fs::directory_iterator("/proc", ec)) {
        const std::string name = e.path().filename().string();
        long pid = 0;
        auto [p, perr] = std::from_chars(name.data(), name.data() + name.size(), pid);
        if (perr != std::errc() || p != name.data() + name.size() || pid == ::getpid()) continue;
        std::ifstream in(e.path() / "cmdline", std::ios::binary);
        std::vector<std::string> argv;
        for (std::string a; std::getline(in, a, '\0');) argv.push_back(a);
        bool is_daemon = false;
        for (std::size_t i = 0; i < argv.size(); ++i) {
            if (fs::path(argv[i]).filename() == "checkpointd") is_daemon = true;
            if (!is_daemon || argv[i] != "--config" || i + 1 >= argv.size()) continue;
            fs::path cfg = argv[i + 1];
            if (cfg.is_relative()) {
                std::error_code cwd_ec;
                cfg = fs::read_symlink(e.path() / "cwd", cwd_ec) / cfg;
            }
            if (canonical_or(cfg) == want) return pid;
        }
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
    auto cam = daemon::open_camera(cfg, script, cursor);
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
    auto t = daemon::open_thermometer(cfg, script, cursor);
    if (!t) {
        c.level = Level::fail;
        c.value = cfg.thermometer.bus + ": " + t.error().describe();
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
        c.value = "sensor fault: " + m.fault_reason + " (" + (*t)->describe() + ")";
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
    auto backend = daemon::open_gpio(cfg);
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
        c.value += "made " + age_text(-age) + " in the future: check the clock";
    } else if (age > cfg.policy.max_list_age_s) {
        c.level = Level::fail;
        c.value += age_text(age) + " old, over the limit of " + age_text(cfg.policy.max_list_age_s) +
                   ": passes are YELLOW until a newer list arrives";
    } else {
        c.value += age_text(std::max<std::int64_t>(age, 0)) + " old (limit " + age_text(cfg.policy.max_list_age_s) + ")";
    }
    return c;
}

Check check_journal(const config::Config& cfg) {
    Check c("journal");
    auto b = journal::read_backlog(cfg.paths.journal);
    if (!b) {
        c.level = b.error().kind == ErrorKind::not_found ? Level::warn : Level::fail;
        c.value = b.error().kind == ErrorKind::not_found ? "no journal yet at " + cfg.paths.journal + " (no scan so far)"
                                                         : b.error().describe();
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
    return c;
}

Check check_identity(const config::Config& cfg) {
    Check c("identity");
    auto store = crypto::TrustStore::load(cfg.upstream.cert_file);
    if (!store || store->size() == 0) {
        c.level = Level::fail;
        c.value = "no device certificate at " + cfg.upstream.cert_file + " (tools/provision)";
        return c;
    }
    std::error_code ec;
    if (!fs::exists(cfg.upstream.key_file, ec)) {
        c.level = Level::fail;
        c.value = "no device key at " + cfg.upstream.key_file;
        return c;
    }
    const crypto::Certificate* cert = store->certificates().front().get();
    const std::int64_t left = cert->not_after() - wall_now_ms() / 1000;
    c.data["subject"] = cert->subject();
    c.data["not_after"] = cert->not_after();
    c.value = cert->subject() + ", valid until " + format_iso8601(cert->not_after());
    const std::string subject = cert->subject();
    const auto at = subject.find("CN=");
    const std::string cn = at == std::string::npos ? "" : subject.substr(at + 3, subject.find(',', at) - (at + 3));
    if (cn != cfg.device.id) {
        c.level = Level::fail;
        c.value += ": not for device " + cfg.device.id;
    } else if (left < 0) {
        c.level = Level::fail;
        c.value += ": expired";
    } else if (left < 30 * 86400) {
        c.level = Level::warn;
        c.value += ": renew it (under 30 days left)";
    }
    return c;
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
        c.value = client.error().describe();
        return c;
    }
    const std::int64_t t0 = monotonic_now_ms();
    auto r = client->get("/v1/list");
    const std::int64_t ms = monotonic_now_ms() - t0;
    c.data["ms"] = ms;
    if (!r) {
        const auto& e = r.error();
        // Offline is a state the lane is built for; a refused handshake will not heal.
        c.level = e.reason == "tls" ? Level::fail : Level::warn;
        c.value = cfg.upstream.url + " " + (e.reason == "tls" ? "refused the TLS handshake: " : "unreachable: ") +
                  e.describe() + " after " + std::to_string(ms) + " ms" +
                  (e.reason == "tls" ? "" : " (the lane works offline; scans wait in the journal)");
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
        c.value = "HTTP " + std::to_string(r->status) + (reason.empty() ? "" : " " + reason) +
                  (r->status == 403 ? ": the command centre refuses this device (upstream enroll --cert device.crt)" : "");
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
            c.value += "; device clock off by " + age_text(std::llabs(skew_ms) / 1000);
        }
    }
    return c;
}

// ---- system -----------------------------------------------------------------------

Check check_disk(const config::Config& cfg) {
    Check c("disk");
    fs::path p = cfg.paths.data_dir;
    std::error_code ec;
    while (!fs::exists(p, ec) && p.has_parent_path() && p != p.parent_path()) p = p.parent_path();
    struct statvfs st{};
    if (::statvfs(p.c_str(), &st) != 0) {
        c.level = Level::fail;
        c.value = "cannot stat " + p.string();
        return c;
    }
    const auto free_b = static_cast<std::int64_t>(st.f_bavail) * static_cast<std::int64_t>(st.f_frsize);
    const auto total_b = static_cast<std::int64_t>(st.f_blocks) * static_cast<std::int64_t>(st.f_frsize);
    const std::int64_t floor = cfg.journal.disk_floor_bytes;
    c.data["path"] = p.string();
    c.data["free_bytes"] = free_b;
    c.data["total_bytes"] = total_b;
    c.value = p.string() + ": " + bytes_text(free_b) + " free of " + bytes_text(total_b);
    if (free_b < floor) {
        c.level = Level::fail;
        c.value += ", below the journal floor of " + bytes_text(floor) + ": scans are refused (YELLOW)";
    } else if (free_b < 2 * floor) {
        c.level = Level::warn;
        c.value += ", close to the journal floor of " + bytes_text(floor);
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
    const Options o = *parsed;
    log::set_level(o.verbose ? log::Level::debug : log::Level::off);
    auto cfg = config::load(o.config_path, o.board_path);
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
