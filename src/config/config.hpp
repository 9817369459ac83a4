// checkpointd configuration (architecture principle 4): one struct with in-class
// defaults and units in comments. Loaded from checkpointd.conf plus the board
// file it names (board/<board>/board.conf); both use the format of ini.hpp and
// docs/configuration.md. The board file selects backends and device nodes; the
// config file overrides anything the board file sets.
#pragma once

#include "src/config/reason.hpp"
#include "src/common/result.hpp"
#include "src/config/ini.hpp"
#include "src/decision/decision.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cp::config {

struct DeviceConfig {
    std::string id = "cp-0000";           // device id, journaled with every scan
    std::string site = "unassigned";      // checkpoint site name/code
    decision::LaneMode lane = decision::LaneMode::gate;  // "gate" | "truck"
    decision::Direction direction = decision::Direction::in;  // truck lane default: "in" | "out"
    std::string board;                    // path of the board file; relative to the config file's folder
};

struct PolicyConfig {
    double fever_threshold_c = 37.3;      // °C, 35.0..40.0
    std::int64_t max_list_age_s = 86400;  // s, 60..30 days
    std::int64_t repeat_window_s = 30;    // s, 0..3600
    bool temperature_required = true;
    std::int64_t clock_skew_s = 300;      // s, 0..3600
    bool repeat_opens_gate = false;
};

struct GateConfig {
    int relay_pulse_ms = 800;             // ms, 50..10000
};

struct PathsConfig {
    std::string data_dir = "/var/lib/checkpoint";
    std::string journal = "/var/lib/checkpoint/journal.db";
    std::string status_db = "/var/lib/checkpoint/status.db";
    std::string trust_dir = "/etc/checkpoint/trust";
    std::string screen_dir = "/run/checkpoint/screen";  // PNG snapshots of the guard screen
    // The command centre's list-signing certificate (PEM or DER): status lists and
    // trust lists pulled from upstream must verify against it.
    std::string list_signer = "/etc/checkpoint/list-signer.crt";
};

struct JournalConfig {
    std::int64_t max_rows = 1'000'000;             // rows, 1000..100M; uploaded rows pruned beyond
    std::int64_t max_bytes = 512LL * 1024 * 1024;  // bytes, 1 MiB..64 GiB
    std::int64_t disk_floor_bytes = 64LL * 1024 * 1024;  // bytes free below which appends fail "disk-full"
};

struct CameraConfig {
    std::string backend = "sim";          // "v4l2" | "file" | "sim"
    std::string device = "/dev/video0";
    int width = 1280;                     // px, 160..4096
    int height = 720;                     // px, 120..4096
    int fps = 30;                         // frames/s, 1..120
    std::string format = "MJPG";          // fourcc: "MJPG" | "YUYV" | "GREY"
    bool faces_person = true;             // the camera looks at the person: the viewfinder is mirrored
    bool motion_gate = true;              // the decoder idles while the picture does not change
};

struct ThermometerConfig {
    std::string backend = "sim";          // "mlx90614" | "sim" | "none"
    std::string bus = "/dev/i2c-1";
    int address = 0x5a;                   // 7-bit I2C address, 0x03..0x77
    double offset_c = 0.0;                // °C added to readings (calibration), -5..5
    double gain = 1.0;                    // forehead → body: body = object * gain + offset (0.5..2.0)
    // The conversion holds only in this ambient range (°C; Chen et al. 2022 measured
    // 14-32 °C); outside it a reading that cannot rule out fever is YELLOW remeasure-indoors.
    double ambient_min_c = 14.0;          // -40..85
    double ambient_max_c = 32.0;          // -40..85, above ambient_min_c
    double sim_ambient_c = 23.0;          // sim backend: the air around the sensor, -40..85
};

struct GpioConfig {
    std::string backend = "sim";          // "gpiod" | "sim"
    std::string chip = "gpiochip0";
    std::string relay = "GPIO17";         // line name or offset
    std::string green = "GPIO27";
    std::string red = "GPIO22";
    std::string buzzer = "GPIO23";
    bool active_low = false;
};

struct DisplayConfig {
    std::string backend = "sim";          // "fbdev" | "png" | "sim"
    std::string device = "/dev/fb0";
    int width = 800;                      // px, 160..4096
    int height = 480;                     // px, 120..4096
    int preview_fps = 10;                 // viewfinder frames/s while idle, 0 (off)..10
};

struct InputConfig {
    std::string backend = "sim";          // "evdev" | "stdin" | "sim"
    std::string device = "/dev/input/event0";
};

// Spoken prompts (drivers/audio/audio.hpp, docs/daemon.md "Voice").
struct AudioConfig {
    std::string backend = "none";         // "alsa" | "sim" | "none"
    std::string device = "default";       // ALSA PCM name
    std::string clip_dir = "/usr/share/checkpoint/voice";  // <clip_dir>/<language>/<key>.wav
    std::string language = "zh";          // "zh" (Mandarin) | "en"
    int volume = 80;                      // percent, 0..100
    std::string quiet_hours;              // "HH:MM-HH:MM" local time (may wrap midnight); empty: none
    int quiet_volume = 0;                 // percent during quiet hours, 0 (silent)..100
};

// Handheld mode (truck-lane inspectors, docs/daemon.md "Handheld"): a trigger
// opens a scan window; between windows the camera and the decoder rest.
struct HandheldConfig {
    std::string trigger = "none";         // "evdev" | "gpio" | "sim" | "none" (not a handheld)
    std::string device = "/dev/input/event1";  // evdev node, or the GPIO chip ("gpiochip0")
    std::string line;                     // GPIO line name or offset
    int key = 212;                        // evdev key code, 1..767 (212 KEY_CAMERA)
    int window_ms = 4000;                 // ms a press keeps the camera and decoder on, 1000..30000
    int sim_interval_ms = 3000;           // sim trigger: one press this often, 100..600000 ms
};

struct SimConfig {
    // JSON lane script (docs/drivers.md) the sim camera, thermometer and input
    // play; empty: none. checkpointd's --lane FILE overrides it.
    std::string lane_script;
};

// The command centre (docs/sync-protocol.md). Empty url: no sync thread at all.
struct UpstreamConfig {
    std::string url;                      // "https://host[:port]"; https only; empty: no sync
    // Further replicas after `url` (upstream.urls = a, b, ...): the sync thread fails
    // over to the next after a failed round (docs/sync-protocol.md).
    std::vector<std::string> fallback_urls;
    std::string list_url;                 // list mirror, http(s)://; empty: lists from the command centre
    std::string ca_file = "/etc/checkpoint/fleet-ca.crt";    // fleet CA (PEM): the only trust anchor
    std::string cert_file = "/etc/checkpoint/device.crt";    // this device's certificate (PEM)
    std::string key_file = "/etc/checkpoint/device.key";     // this device's private key (PEM)
    std::string trust_dir = "/var/lib/checkpoint/trust";     // synced issuer certificates land here
    std::int64_t heartbeat_interval_s = 30;   // s, 5..86400 (a newer list version in its answer starts a pull)
    std::int64_t list_interval_s = 300;       // s, 5..86400: status-list pull
    std::int64_t trust_interval_s = 3600;     // s, 5..7 days: trust-list pull
    std::int64_t upload_batch = 1000;         // journal rows per upload, 1..1000 (the server's maximum)
    std::int64_t backoff_cap_s = 300;         // s, 1..3600: longest wait between failed attempts
};

struct LogConfig {
    std::string level = "info";           // "debug" | "info" | "warn" | "error"
};

struct Config {
    DeviceConfig device;
    PolicyConfig policy;
    GateConfig gate;
    PathsConfig paths;
    JournalConfig journal;
    CameraConfig camera;
    ThermometerConfig thermometer;
    GpioConfig gpio;
    DisplayConfig display;
    InputConfig input;
    AudioConfig audio;
    HandheldConfig handheld;
    SimConfig sim;
    UpstreamConfig upstream;
    LogConfig log;
    std::string board_name;               // [board] name, informative

    // The lane policy for decision::decide().
    decision::LanePolicy lane_policy() const;
};

// Which keys a file may set: a board file describes hardware only.
enum class Scope { board, full };

// Applies entries over `cfg` in order. Errors [config] "config" with a message
// starting with the key: an unknown key, a key not allowed in `scope`, a value
// that does not parse or is out of range. `cfg` may be partly updated on error;
// callers discard it (load() does).
Status apply(Config& cfg, const std::vector<IniEntry>& entries, Scope scope, std::string_view origin);

// Defaults, then board text (may be empty), then config text.
Result<Config> parse(std::string_view config_text, std::string_view board_text = {});

// Reads `config_path`, then the board file it names in device.board (relative
// paths resolve against the config file's folder); `board_override` replaces
// that name when not empty. Errors: [io] "config-read" when a file cannot be
// read; [config] "config" as apply().
Result<Config> load(const std::string& config_path, const std::string& board_override = {});

// The effective configuration as config text (round-trips through parse()).
std::string to_text(const Config& cfg);

}  // namespace cp::config
