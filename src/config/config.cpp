#include "src/config/config.hpp"
#include "src/common/device_id.hpp"
#include "src/config/reason.hpp"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <sstream>

namespace cp::config {
namespace {

Failure bad(std::string_view origin, const IniEntry& e, const std::string& what) {
    return fail(ErrorKind::config, reason::config,
                e.key + ": " + what + " (" + std::string(origin) + ":" + std::to_string(e.line) + ")");
}

// Parsers return nullopt-like failure through an error string; empty means ok.
bool parse_int64(const std::string& v, std::int64_t& out) {
    if (v.empty()) return false;
    int base = 10;
    std::string_view s = v;
    bool neg = false;
    if (s.front() == '-') { neg = true; s.remove_prefix(1); }
    if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) { base = 16; s.remove_prefix(2); }
    std::uint64_t u = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), u, base);
    if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return false;
    if (u > static_cast<std::uint64_t>(INT64_MAX)) return false;
    out = neg ? -static_cast<std::int64_t>(u) : static_cast<std::int64_t>(u);
    return true;
}

bool parse_double(const std::string& v, double& out) {
    if (v.empty() || v.size() > 64) return false;
    // strtod accepts "inf"/"nan" and hex floats; only plain decimals are meant here.
    for (char c : v) {
        if (!((c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+')) return false;
    }
    char* end = nullptr;
    errno = 0;
    out = std::strtod(v.c_str(), &end);
    return errno == 0 && end == v.c_str() + v.size() && std::isfinite(out);
}

struct Field {
    const char* key;
    bool board;  // may a board file set it?
    std::function<std::string(Config&, const std::string&)> set;  // returns "" or why not
    std::function<std::string(const Config&)> get;
};

template <typename Acc>
Field int_field(const char* key, bool board, Acc acc, std::int64_t lo, std::int64_t hi) {
    return {key, board,
            [acc, lo, hi](Config& c, const std::string& v) -> std::string {
                std::int64_t n = 0;
                if (!parse_int64(v, n)) return "not an integer: '" + v + "'";
                if (n < lo || n > hi)
                    return "out of range " + std::to_string(lo) + ".." + std::to_string(hi) + ": " + v;
                auto& ref = acc(c);
                ref = static_cast<std::remove_reference_t<decltype(ref)>>(n);
                return {};
            },
            [acc](const Config& c) { return std::to_string(acc(const_cast<Config&>(c))); }};
}

template <typename Acc>
Field double_field(const char* key, bool board, Acc acc, double lo, double hi) {
    return {key, board,
            [acc, lo, hi](Config& c, const std::string& v) -> std::string {
                double d = 0;
                if (!parse_double(v, d)) return "not a number: '" + v + "'";
                if (d < lo || d > hi) return "out of range: " + v;
                acc(c) = d;
                return {};
            },
            [acc](const Config& c) {
                char buf[32];
                std::snprintf(buf, sizeof buf, "%g", acc(const_cast<Config&>(c)));
                return std::string(buf);
            }};
}

template <typename Acc>
Field bool_field(const char* key, bool board, Acc acc) {
    return {key, board,
            [acc](Config& c, const std::string& v) -> std::string {
                if (v == "true" || v == "yes" || v == "1") acc(c) = true;
                else if (v == "false" || v == "no" || v == "0") acc(c) = false;
                else return "not a boolean (true/false): '" + v + "'";
                return {};
            },
            [acc](const Config& c) { return std::string(acc(const_cast<Config&>(c)) ? "true" : "false"); }};
}

// A string, optionally one of `choices`, optionally an absolute path.
template <typename Acc>
Field str_field(const char* key, bool board, Acc acc, std::initializer_list<const char*> choices = {},
                bool path = false, bool may_be_empty = false) {
    std::vector<std::string> ch(choices.begin(), choices.end());
    return {key, board,
            [acc, ch, path, may_be_empty](Config& c, const std::string& v) -> std::string {
                if (v.empty() && !may_be_empty) return "empty value";
                if (v.size() > 1024) return "value longer than 1024 bytes";
                for (char x : v) {
                    if (static_cast<unsigned char>(x) < 0x20) return "control character in value";
                }
                if (!ch.empty()) {
                    bool found = false;
                    std::string list;
                    for (const auto& s : ch) {
                        found = found || s == v;
                        list += (list.empty() ? "" : "|") + s;
                    }
                    if (!found) return "must be one of " + list + ": '" + v + "'";
                }
                if (path && !v.empty() && v.front() != '/') return "must be an absolute path: '" + v + "'";
                acc(c) = v;
                return {};
            },
            [acc](const Config& c) { return acc(const_cast<Config&>(c)); }};
}

// "" or why `v` is not a usable command-centre URL. The sync client speaks https
// only (src/sync/https_client.hpp): a plain http:// URL is refused here, at
// start-up, rather than by every request later. A comma is refused because
// upstream.urls is a comma-separated list: one URL must never read as two.
std::string check_upstream_url(const std::string& v) {
    if (v.empty()) return {};  // no sync
    if (v.size() > 1024) return "value longer than 1024 bytes";
    if (v.rfind("http://", 0) == 0)
        return "plain http:// is refused: the command centre is reached over https:// only: '" + v + "'";
    if (v.rfind("https://", 0) != 0) return "must start with https://: '" + v + "'";
    const std::string rest = v.substr(8);
    if (rest.empty() || rest.front() == '/' || rest.front() == ':') return "no host after https://: '" + v + "'";
    if (rest.back() == '/') return "no trailing '/' (the API paths start with one): '" + v + "'";
    for (char x : rest) {
        const auto u = static_cast<unsigned char>(x);
        if (u <= 0x20 || u >= 0x7f || x == '?' || x == '#' || x == '@' || x == ',')
            return "host[:port] only, no spaces, commas, user, query or fragment: '" + v + "'";
    }
    return {};
}

// "" or why `v` is not a usable list-mirror URL: as check_upstream_url, but plain
// http:// is allowed (a mirror serves signed documents only).
std::string check_list_url(const std::string& v) {
    if (v.rfind("http://", 0) == 0) return check_upstream_url("https://" + v.substr(7));
    return check_upstream_url(v);
}

constexpr std::size_t kMaxUpstreamUrls = 8;

// "a, b, c" -> url a, fallback_urls b and c. "" or why not.
std::string set_upstream_urls(UpstreamConfig& u, const std::string& v) {
    std::vector<std::string> urls;
    std::size_t at = 0;
    while (at <= v.size() && !v.empty()) {
        std::size_t comma = v.find(',', at);
        if (comma == std::string::npos) comma = v.size();
        std::string one = v.substr(at, comma - at);
        const auto b = one.find_first_not_of(" \t");
        const auto e = one.find_last_not_of(" \t");
        one = b == std::string::npos ? "" : one.substr(b, e - b + 1);
        if (one.empty()) return "an empty URL in the list: '" + v.substr(0, 200) + "'";
        if (auto why = check_upstream_url(one); !why.empty()) return why;
        urls.push_back(std::move(one));
        if (urls.size() > kMaxUpstreamUrls) return "more than 8 URLs";
        at = comma + 1;
    }
    u.url = urls.empty() ? std::string() : urls.front();
    u.fallback_urls.assign(urls.empty() ? urls.end() : urls.begin() + 1, urls.end());
    return {};
}

std::string upstream_urls_text(const UpstreamConfig& u) {
    std::string out = u.url;
    for (const auto& f : u.fallback_urls) out += ", " + f;
    return out;
}

#define ACC(member) [](Config& c) -> auto& { return c.member; }

const std::vector<Field>& fields() {
    static const std::vector<Field> table = [] {
        std::vector<Field> t;
        t.push_back(str_field("board.name", true, ACC(board_name)));
        t.push_back({"device.id", false,
                     [](Config& c, const std::string& v) -> std::string {
                         // The command centre's rule (src/common/device_id.hpp): an id it
                         // would refuse makes every upload of the device fail.
                         if (!is_device_id(v))
                             return std::string("must be ") + kDeviceIdRule + ": '" + v.substr(0, 80) + "'";
                         c.device.id = v;
                         return {};
                     },
                     [](const Config& c) { return c.device.id; }});
        t.push_back(str_field("device.site", false, ACC(device.site)));
        t.push_back({"device.lane", false,
                     [](Config& c, const std::string& v) -> std::string {
                         if (v == "gate") c.device.lane = decision::LaneMode::gate;
                         else if (v == "truck") c.device.lane = decision::LaneMode::truck;
                         else return "must be one of gate|truck: '" + v + "'";
                         return {};
                     },
                     [](const Config& c) {
                         return std::string(c.device.lane == decision::LaneMode::truck ? "truck" : "gate");
                     }});
        t.push_back({"device.direction", false,
                     [](Config& c, const std::string& v) -> std::string {
                         if (v == "in") c.device.direction = decision::Direction::in;
                         else if (v == "out") c.device.direction = decision::Direction::out;
                         else return "must be one of in|out: '" + v + "'";
                         return {};
                     },
                     [](const Config& c) {
                         return std::string(c.device.direction == decision::Direction::out ? "out" : "in");
                     }});
        t.push_back(str_field("device.board", false, ACC(device.board), {}, false, true));
        t.push_back(double_field("policy.fever_threshold_c", false, ACC(policy.fever_threshold_c), 35.0, 40.0));
        t.push_back(int_field("policy.max_list_age_s", false, ACC(policy.max_list_age_s), 60, 30 * 86400));
        t.push_back(int_field("policy.repeat_window_s", false, ACC(policy.repeat_window_s), 0, 3600));
        t.push_back(bool_field("policy.temperature_required", false, ACC(policy.temperature_required)));
        t.push_back(int_field("policy.clock_skew_s", false, ACC(policy.clock_skew_s), 0, 3600));
        t.push_back(bool_field("policy.repeat_opens_gate", false, ACC(policy.repeat_opens_gate)));
        t.push_back(int_field("gate.relay_pulse_ms", true, ACC(gate.relay_pulse_ms), 50, 10000));
        t.push_back(str_field("paths.data_dir", false, ACC(paths.data_dir), {}, true));
        t.push_back(str_field("paths.journal", false, ACC(paths.journal), {}, true));
        t.push_back(str_field("paths.status_db", false, ACC(paths.status_db), {}, true));
        t.push_back(str_field("paths.trust_dir", false, ACC(paths.trust_dir), {}, true));
        t.push_back(str_field("paths.screen_dir", false, ACC(paths.screen_dir), {}, true));
        t.push_back(str_field("paths.list_signer", false, ACC(paths.list_signer), {}, true));
        t.push_back(int_field("journal.max_rows", false, ACC(journal.max_rows), 1000, 100'000'000));
        t.push_back(int_field("journal.max_bytes", false, ACC(journal.max_bytes), 1LL << 20, 64LL << 30));
        t.push_back(int_field("journal.disk_floor_bytes", false, ACC(journal.disk_floor_bytes), 0, 64LL << 30));
        t.push_back(str_field("camera.backend", true, ACC(camera.backend), {"v4l2", "file", "sim"}));
        t.push_back(str_field("camera.device", true, ACC(camera.device)));
        t.push_back(int_field("camera.width", true, ACC(camera.width), 160, 4096));
        t.push_back(int_field("camera.height", true, ACC(camera.height), 120, 4096));
        t.push_back(int_field("camera.fps", true, ACC(camera.fps), 1, 120));
        t.push_back(str_field("camera.format", true, ACC(camera.format), {"MJPG", "YUYV", "GREY"}));
        t.push_back(bool_field("camera.faces_person", true, ACC(camera.faces_person)));
        t.push_back(bool_field("camera.motion_gate", true, ACC(camera.motion_gate)));
        t.push_back(str_field("thermometer.backend", true, ACC(thermometer.backend), {"mlx90614", "sim", "none"}));
        t.push_back(str_field("thermometer.bus", true, ACC(thermometer.bus), {}, true));
        t.push_back(int_field("thermometer.address", true, ACC(thermometer.address), 0x03, 0x77));
        t.push_back(double_field("thermometer.offset_c", true, ACC(thermometer.offset_c), -5.0, 5.0));
        t.push_back(double_field("thermometer.gain", true, ACC(thermometer.gain), 0.5, 2.0));
        t.push_back(double_field("thermometer.ambient_min_c", true, ACC(thermometer.ambient_min_c), -40.0, 85.0));
        t.push_back(double_field("thermometer.ambient_max_c", true, ACC(thermometer.ambient_max_c), -40.0, 85.0));
        t.push_back(double_field("thermometer.sim_ambient_c", true, ACC(thermometer.sim_ambient_c), -40.0, 85.0));
        t.push_back(str_field("gpio.backend", true, ACC(gpio.backend), {"gpiod", "sim"}));
        t.push_back(str_field("gpio.chip", true, ACC(gpio.chip)));
        t.push_back(str_field("gpio.relay", true, ACC(gpio.relay)));
        t.push_back(str_field("gpio.green", true, ACC(gpio.green)));
        t.push_back(str_field("gpio.red", true, ACC(gpio.red)));
        t.push_back(str_field("gpio.buzzer", true, ACC(gpio.buzzer)));
        t.push_back(bool_field("gpio.active_low", true, ACC(gpio.active_low)));
        t.push_back(str_field("display.backend", true, ACC(display.backend), {"fbdev", "png", "sim"}));
        t.push_back(str_field("display.device", true, ACC(display.device)));
        t.push_back(int_field("display.width", true, ACC(display.width), 160, 4096));
        t.push_back(int_field("display.height", true, ACC(display.height), 120, 4096));
        t.push_back(int_field("display.preview_fps", true, ACC(display.preview_fps), 0, 10));
        t.push_back(str_field("input.backend", true, ACC(input.backend), {"evdev", "stdin", "sim"}));
        t.push_back(str_field("input.device", true, ACC(input.device)));
        t.push_back(str_field("audio.backend", true, ACC(audio.backend), {"alsa", "sim", "none"}));
        t.push_back(str_field("audio.device", true, ACC(audio.device)));
        t.push_back(str_field("audio.clip_dir", false, ACC(audio.clip_dir), {}, true));
        t.push_back(str_field("audio.language", false, ACC(audio.language), {"zh", "en"}));
        t.push_back(int_field("audio.volume", false, ACC(audio.volume), 0, 100));
        t.push_back({"audio.quiet_hours", false,
                     [](Config& c, const std::string& v) -> std::string {
                         auto hhmm = [](const std::string& x, std::size_t at) {
                             auto d = [&](std::size_t i) { return x[at + i] >= '0' && x[at + i] <= '9'; };
                             return d(0) && d(1) && x[at + 2] == ':' && d(3) && d(4) &&
                                    (x[at] - '0') * 10 + (x[at + 1] - '0') < 24 && x[at + 3] < '6';
                         };
                         if (!v.empty() && (v.size() != 11 || v[5] != '-' || !hhmm(v, 0) || !hhmm(v, 6)))
                             return "must be HH:MM-HH:MM (or empty): '" + v + "'";
                         c.audio.quiet_hours = v;
                         return {};
                     },
                     [](const Config& c) { return c.audio.quiet_hours; }});
        t.push_back(int_field("audio.quiet_volume", false, ACC(audio.quiet_volume), 0, 100));
        t.push_back(str_field("handheld.trigger", true, ACC(handheld.trigger), {"evdev", "gpio", "sim", "none"}));
        t.push_back(str_field("handheld.device", true, ACC(handheld.device)));
        t.push_back(str_field("handheld.line", true, ACC(handheld.line), {}, false, true));
        t.push_back(int_field("handheld.key", true, ACC(handheld.key), 1, 767));
        t.push_back(int_field("handheld.window_ms", false, ACC(handheld.window_ms), 1000, 30000));
        t.push_back(int_field("handheld.sim_interval_ms", false, ACC(handheld.sim_interval_ms), 100, 600000));
        t.push_back(str_field("sim.lane_script", true, ACC(sim.lane_script), {}, true, true));
        t.push_back({"upstream.url", false,
                     [](Config& c, const std::string& v) -> std::string {
                         if (auto why = check_upstream_url(v); !why.empty()) return why;
                         c.upstream.url = v;
                         if (v.empty()) c.upstream.fallback_urls.clear();  // no sync: no replicas either
                         return {};
                     },
                     [](const Config& c) { return c.upstream.url; }});
        t.push_back({"upstream.urls", false,
                     [](Config& c, const std::string& v) { return set_upstream_urls(c.upstream, v); },
                     [](const Config& c) { return upstream_urls_text(c.upstream); }});
        t.push_back({"upstream.list_url", false,
                     [](Config& c, const std::string& v) -> std::string {
                         if (auto why = check_list_url(v); !why.empty()) return why;
                         c.upstream.list_url = v;
                         return {};
                     },
                     [](const Config& c) { return c.upstream.list_url; }});
        t.push_back(str_field("upstream.ca_file", false, ACC(upstream.ca_file), {}, true));
        t.push_back(str_field("upstream.cert_file", false, ACC(upstream.cert_file), {}, true));
        t.push_back(str_field("upstream.key_file", false, ACC(upstream.key_file), {}, true));
        t.push_back(str_field("upstream.trust_dir", false, ACC(upstream.trust_dir), {}, true));
        t.push_back(int_field("upstream.heartbeat_interval_s", false, ACC(upstream.heartbeat_interval_s), 5, 86400));
        t.push_back(int_field("upstream.list_interval_s", false, ACC(upstream.list_interval_s), 5, 86400));
        t.push_back(int_field("upstream.trust_interval_s", false, ACC(upstream.trust_interval_s), 5, 7 * 86400));
        t.push_back(int_field("upstream.upload_batch", false, ACC(upstream.upload_batch), 1, 1000));
        t.push_back(int_field("upstream.backoff_cap_s", false, ACC(upstream.backoff_cap_s), 1, 3600));
        t.push_back(str_field("log.level", false, ACC(log.level), {"debug", "info", "warn", "error"}));
        return t;
    }();
    return table;
}

#undef ACC

Result<std::string> read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return fail(ErrorKind::io, reason::config_read, "cannot read " + path);
    std::string s;
    char buf[4096];
    while (in.read(buf, sizeof buf) || in.gcount() > 0) {
        s.append(buf, static_cast<std::size_t>(in.gcount()));
        if (s.size() > kMaxFileBytes) break;  // parse_ini reports the size
    }
    return s;
}

}  // namespace

decision::LanePolicy Config::lane_policy() const {
    decision::LanePolicy p;
    p.mode = device.lane;
    p.fever_threshold_c = policy.fever_threshold_c;
    p.max_list_age_s = policy.max_list_age_s;
    p.temperature_required = policy.temperature_required;
    p.repeat_window_s = policy.repeat_window_s;
    p.clock_skew_s = policy.clock_skew_s;
    p.repeat_opens_gate = policy.repeat_opens_gate;
    return p;
}

Status apply(Config& cfg, const std::vector<IniEntry>& entries, Scope scope, std::string_view origin) {
    for (const auto& e : entries) {
        const Field* f = nullptr;
        for (const auto& x : fields()) {
            if (e.key == x.key) { f = &x; break; }
        }
        if (!f) return bad(origin, e, "unknown key");
        if (scope == Scope::board && !f->board) return bad(origin, e, "not allowed in a board file");
        if (scope == Scope::full && e.key == "board.name") return bad(origin, e, "only allowed in a board file");
        std::string why = f->set(cfg, e.value);
        if (!why.empty()) return bad(origin, e, why);
    }
    // Cross-field rules.
    if (!(cfg.thermometer.ambient_min_c < cfg.thermometer.ambient_max_c)) {
        return fail(ErrorKind::config, reason::config, "thermometer.ambient_min_c: must be below thermometer.ambient_max_c");
    }
    if (cfg.journal.disk_floor_bytes >= cfg.journal.max_bytes * 4 && cfg.journal.disk_floor_bytes > (1LL << 30)) {
        return fail(ErrorKind::config, reason::config, "journal.disk_floor_bytes: larger than 4 x journal.max_bytes and 1 GiB");
    }
    return {};
}

Result<Config> parse(std::string_view config_text, std::string_view board_text) {
    Config cfg;
    auto board = parse_ini(board_text, "board");
    if (!board) return fail(board.error());
    CP_TRY(apply(cfg, *board, Scope::board, "board"));
    auto conf = parse_ini(config_text, "config");
    if (!conf) return fail(conf.error());
    CP_TRY(apply(cfg, *conf, Scope::full, "config"));
    return cfg;
}

Result<Config> load(const std::string& config_path, const std::string& board_override) {
    auto text = read_text(config_path);
    if (!text) return fail(text.error());
    auto conf = parse_ini(*text, config_path);
    if (!conf) return fail(conf.error());

    std::string board_path = board_override;
    if (board_path.empty()) {
        for (const auto& e : *conf) {
            if (e.key == "device.board") board_path = e.value;
        }
    }
    Config cfg;
    if (!board_path.empty()) {
        std::filesystem::path bp(board_path);
        if (bp.is_relative()) bp = std::filesystem::path(config_path).parent_path() / bp;
        auto btext = read_text(bp.string());
        if (!btext) return fail(btext.error());
        auto board = parse_ini(*btext, bp.string());
        if (!board) return fail(board.error());
        CP_TRY(apply(cfg, *board, Scope::board, bp.string()));
    }
    CP_TRY(apply(cfg, *conf, Scope::full, config_path));
    if (!board_override.empty()) cfg.device.board = board_override;
    return cfg;
}

std::string to_text(const Config& cfg) {
    std::string out;
    std::string section;
    for (const auto& f : fields()) {
        std::string key = f.key;
        auto dot = key.find('.');
        std::string sec = key.substr(0, dot);
        if (sec == "board") continue;  // board files only
        if (sec != section) {
            out += (out.empty() ? "[" : "\n[") + sec + "]\n";
            section = sec;
        }
        out += key.substr(dot + 1) + " = \"" + f.get(cfg) + "\"\n";
    }
    return out;
}

}  // namespace cp::config
