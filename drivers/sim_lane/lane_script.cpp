#include "drivers/sim_lane/lane_script.hpp"

#include <nlohmann/json.hpp>

#include <fstream>
#include <initializer_list>
#include <sstream>

namespace cp::lane {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxPeople = 10000;
constexpr std::size_t kMaxText = 4096;
constexpr int kMaxFrames = 100000;  // per phase: bounds total_frames() well inside int64

Failure bad(const std::string& where, const std::string& what) {
    return fail(ErrorKind::invalid_input, reason::lane_script, where + ": " + what);
}

// Rejects keys the format does not know, so a typo does not silently do nothing.
Status only_keys(const json& obj, const std::string& where,
                 std::initializer_list<const char*> allowed) {
    for (auto it = obj.begin(); it != obj.end(); ++it) {
        bool known = false;
        for (const char* k : allowed) known = known || it.key() == k;
        if (!known) return bad(where + "." + it.key(), "unknown key");
    }
    return {};
}

Result<double> number(const json& obj, const char* key, const std::string& where, double lo,
                      double hi, double dflt) {
    auto it = obj.find(key);
    if (it == obj.end()) return dflt;
    if (!it->is_number()) return bad(where + "." + key, "must be a number");
    double v = it->get<double>();
    if (!(v >= lo && v <= hi))
        return bad(where + "." + key,
                   "out of range " + std::to_string(lo) + ".." + std::to_string(hi));
    return v;
}

// `field` = obj[key] when present (lo..hi), else left as it is (its default).
template <typename T>
Status set_field(Result<T> (*read)(const json&, const char*, const std::string&, T, T, T), const json& obj,
                 const char* key, const std::string& where, T lo, T hi, T& field) {
    auto v = read(obj, key, where, lo, hi, field);
    CP_TRY(v);
    field = *v;
    return {};
}
Status set_number(const json& obj, const char* key, const std::string& where, double lo, double hi,
                  double& field) {
    return set_field<double>(number, obj, key, where, lo, hi, field);
}

Result<int> integer(const json& obj, const char* key, const std::string& where, int lo, int hi,
                    int dflt) {
    auto it = obj.find(key);
    if (it == obj.end()) return dflt;
    if (!it->is_number_integer()) return bad(where + "." + key, "must be an integer");
    auto v = it->get<std::int64_t>();
    if (v < lo || v > hi)
        return bad(where + "." + key,
                   "out of range " + std::to_string(lo) + ".." + std::to_string(hi));
    return static_cast<int>(v);
}

Status set_integer(const json& obj, const char* key, const std::string& where, int lo, int hi, int& field) {
    return set_field<int>(integer, obj, key, where, lo, hi, field);
}

Result<std::optional<std::string>> text(const json& obj, const char* key,
                                        const std::string& where) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return std::optional<std::string>{};
    if (!it->is_string()) return bad(where + "." + key, "must be a string or null");
    auto s = it->get<std::string>();
    if (s.size() > kMaxText) return bad(where + "." + key, "longer than 4096 bytes");
    return std::optional<std::string>{std::move(s)};
}

template <typename E>
Result<std::optional<E>> choice(const json& obj, const char* key, const std::string& where,
                                std::initializer_list<std::pair<const char*, E>> names) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return std::optional<E>{};
    if (it->is_string()) {
        auto s = it->get<std::string>();
        for (const auto& [n, e] : names)
            if (s == n) return std::optional<E>{e};
    }
    std::string allowed;
    for (const auto& [n, e] : names) allowed += std::string(allowed.empty() ? "" : "|") + n;
    return bad(where + "." + key, "must be one of " + allowed);
}

Result<Effects> parse_effects(const json& j, const std::string& where) {
    Effects e;
    if (!j.is_object()) return bad(where, "must be an object");
    CP_TRY(only_keys(j, where,
                     {"tilt_deg", "rotate_deg", "blur", "blur_px", "glare", "brightness", "noise",
                      "size"}));
    CP_TRY(set_number(j, "tilt_deg", where, 0, 60, e.tilt_deg));
    CP_TRY(set_number(j, "rotate_deg", where, -180, 180, e.rotate_deg));
    auto blur = choice<Blur>(j, "blur", where,
                             {{"none", Blur::none}, {"motion", Blur::motion},
                              {"defocus", Blur::defocus}});
    CP_TRY(blur);
    if (*blur) e.blur = **blur;
    CP_TRY(set_number(j, "blur_px", where, 0, 30, e.blur_px));
    CP_TRY(set_number(j, "glare", where, 0, 1, e.glare));
    CP_TRY(set_number(j, "brightness", where, 0.1, 1.5, e.brightness));
    CP_TRY(set_number(j, "noise", where, 0, 40, e.noise));
    CP_TRY(set_number(j, "size", where, 0.1, 0.9, e.size));
    return e;
}

Result<Person> parse_person(const json& j, const std::string& where) {
    Person p;
    if (!j.is_object()) return bad(where, "must be an object");
    CP_TRY(only_keys(j, where,
                     {"qr", "temperature_c", "plate", "direction", "decision", "medium", "effects",
                      "thermometer", "arrive_frames", "hold_frames", "leave_frames",
                      "gap_frames"}));
    auto qr = text(j, "qr", where);
    CP_TRY(qr);
    p.qr = std::move(*qr);
    if (auto it = j.find("temperature_c"); it != j.end() && !it->is_null()) {
        auto t = number(j, "temperature_c", where, 20, 45, 0);
        CP_TRY(t);
        p.temperature_c = *t;
    }
    auto plate = text(j, "plate", where);
    CP_TRY(plate);
    if (*plate) {
        if ((*plate)->size() > 16) return bad(where + ".plate", "longer than 16 characters");
        for (char c : **plate) {
            bool ok = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || c == '-';
            if (!ok) return bad(where + ".plate", "only 0-9, A-Z and '-' can be typed");
        }
        p.plate = **plate;
    }
    auto dir = choice<Direction>(j, "direction", where,
                                 {{"in", Direction::in}, {"out", Direction::out}});
    CP_TRY(dir);
    p.direction = *dir;
    auto dec = choice<Decision>(j, "decision", where,
                                {{"allow", Decision::allow}, {"deny", Decision::deny}});
    CP_TRY(dec);
    p.decision = *dec;
    auto medium = choice<Medium>(j, "medium", where,
                                 {{"phone", Medium::phone}, {"paper", Medium::paper}});
    CP_TRY(medium);
    if (*medium) p.medium = **medium;
    if (auto it = j.find("effects"); it != j.end()) {
        auto e = parse_effects(*it, where + ".effects");
        CP_TRY(e);
        p.effects = *e;
    }
    auto fault = choice<ThermoFault>(j, "thermometer", where,
                                     {{"ok", ThermoFault::none},
                                      {"no-device", ThermoFault::no_device},
                                      {"pec-error", ThermoFault::pec_error},
                                      {"stuck", ThermoFault::stuck},
                                      {"error-flag", ThermoFault::error_flag}});
    CP_TRY(fault);
    if (*fault) p.thermo_fault = **fault;
    CP_TRY(set_integer(j, "arrive_frames", where, 0, kMaxFrames, p.arrive_frames));
    CP_TRY(set_integer(j, "hold_frames", where, 1, kMaxFrames, p.hold_frames));
    CP_TRY(set_integer(j, "leave_frames", where, 0, kMaxFrames, p.leave_frames));
    CP_TRY(set_integer(j, "gap_frames", where, 0, kMaxFrames, p.gap_frames));
    return p;
}

std::int64_t person_frames(const Person& p) {
    return std::int64_t{p.arrive_frames} + p.hold_frames + p.leave_frames + p.gap_frames;
}

}  // namespace

std::int64_t LaneScript::total_frames() const {
    std::int64_t n = lead_frames;
    for (const auto& p : people) n += person_frames(p);
    return n;
}

Position LaneScript::at(std::int64_t frame) const {
    Position pos;
    if (frame < lead_frames) {
        pos.frame_in_phase = static_cast<int>(frame < 0 ? 0 : frame);
        pos.phase_frames = lead_frames;
        return pos;
    }
    std::int64_t f = frame - lead_frames;
    for (std::size_t i = 0; i < people.size(); ++i) {
        const Person& p = people[i];
        const int lengths[4] = {p.arrive_frames, p.hold_frames, p.leave_frames, p.gap_frames};
        const Phase phases[4] = {Phase::arriving, Phase::holding, Phase::leaving, Phase::empty};
        for (int k = 0; k < 4; ++k) {
            if (f < lengths[k]) {
                pos.person = k == 3 ? -1 : static_cast<int>(i);
                pos.phase = phases[k];
                pos.frame_in_phase = static_cast<int>(f);
                pos.phase_frames = lengths[k];
                return pos;
            }
            f -= lengths[k];
        }
    }
    return pos;  // past the end: an empty scene
}

Result<LaneScript> parse_lane_script(std::string_view json_text) {
    // No exceptions: parse errors come back as a discarded value.
    json root = json::parse(json_text.begin(), json_text.end(), nullptr, false);
    if (root.is_discarded()) return bad("$", "not valid JSON");
    if (!root.is_object()) return bad("$", "must be an object");
    CP_TRY(only_keys(root, "$", {"version", "lead_frames", "people"}));
    auto version = integer(root, "version", "$", 1, 1, 1);
    CP_TRY(version);
    LaneScript script;
    auto lead = integer(root, "lead_frames", "$", 0, kMaxFrames, script.lead_frames);
    CP_TRY(lead);
    script.lead_frames = *lead;
    auto it = root.find("people");
    if (it == root.end()) return bad("$.people", "missing");
    if (!it->is_array()) return bad("$.people", "must be an array");
    if (it->size() > kMaxPeople) return bad("$.people", "more than 10000 people");
    script.people.reserve(it->size());
    for (std::size_t i = 0; i < it->size(); ++i) {
        auto p = parse_person((*it)[i], "$.people[" + std::to_string(i) + "]");
        CP_TRY(p);
        script.people.push_back(std::move(*p));
    }
    return script;
}

Result<LaneScript> load_lane_script(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return fail(ErrorKind::io, reason::lane_script, "cannot open " + path);
    std::ostringstream ss;
    ss << in.rdbuf();
    if (ss.str().size() > 64u * 1024 * 1024)
        return fail(ErrorKind::invalid_input, reason::lane_script, path + ": larger than 64 MiB");
    auto r = parse_lane_script(ss.str());
    if (!r) return fail(r.error().with_context(path));
    return r;
}

const char* to_string(Phase p) {
    switch (p) {
    case Phase::empty: return "empty";
    case Phase::arriving: return "arriving";
    case Phase::holding: return "holding";
    case Phase::leaving: return "leaving";
    }
    return "empty";
}

}  // namespace cp::lane
