#include "src/decision/decision.hpp"

#include <cmath>
#include <cstring>
#include <limits>

namespace cp::decision {
namespace {

struct ReasonInfo {
    Reason reason;
    Verdict verdict;
    const char* code;
    const char* key;
    const char* zh;
    const char* en;
};

// One table so that code, severity and texts cannot drift apart.
constexpr ReasonInfo kReasons[] = {
    {Reason::ok, Verdict::green, "ok", "reason.ok", "通行", "Pass"},
    {Reason::forged, Verdict::red, "forged", "reason.forged", "通行码无效（签名错误）", "Invalid pass (bad signature)"},
    {Reason::expired, Verdict::red, "expired", "reason.expired", "通行码已过期", "Pass expired"},
    {Reason::not_yet_valid, Verdict::red, "not-yet-valid", "reason.not_yet_valid", "通行码尚未生效", "Pass not yet valid"},
    {Reason::status_red, Verdict::red, "status-red", "reason.status_red", "红码：请配合工作人员", "Red status: please see the staff"},
    {Reason::fever, Verdict::red, "fever", "reason.fever", "体温异常", "Fever"},
    {Reason::unreadable, Verdict::yellow, "unreadable", "reason.unreadable", "无法识别通行码", "Pass unreadable"},
    {Reason::unknown_issuer, Verdict::yellow, "unknown-issuer", "reason.unknown_issuer", "未知签发机构，请人工核验", "Unknown issuer: manual check"},
    {Reason::no_list, Verdict::yellow, "no-list", "reason.no_list", "无状态名单，请人工核验", "No status list: manual check"},
    {Reason::stale_list, Verdict::yellow, "stale-list", "reason.stale_list", "状态名单过期，请人工核验", "Status list too old: manual check"},
    {Reason::clock, Verdict::yellow, "clock", "reason.clock", "设备时钟异常，请人工核验", "Device clock wrong: manual check"},
    {Reason::not_in_list, Verdict::yellow, "not-in-list", "reason.not_in_list", "名单中无此码，请人工核验", "Not in status list: manual check"},
    {Reason::status_yellow, Verdict::yellow, "status-yellow", "reason.status_yellow", "黄码：请人工核验", "Yellow status: manual check"},
    {Reason::sensor_fault, Verdict::yellow, "sensor-fault", "reason.sensor_fault", "测温故障，请人工测温", "Thermometer fault: measure manually"},
    {Reason::temperature_implausible, Verdict::yellow, "temperature-implausible", "reason.temperature_implausible", "测温无效，请重新测温", "Temperature not valid: measure again"},
    {Reason::no_temperature, Verdict::yellow, "no-temperature", "reason.no_temperature", "请测量体温", "Please measure temperature"},
    {Reason::plate_missing, Verdict::yellow, "plate-missing", "reason.plate_missing", "请录入车牌", "Enter the plate"},
    {Reason::plate_mismatch, Verdict::yellow, "plate-mismatch", "reason.plate_mismatch", "车牌不符，请人工核验", "Plate mismatch: manual check"},
    {Reason::remeasure_indoors, Verdict::yellow, "remeasure-indoors", "reason.remeasure_indoors", "气温超出测温范围，请到室内复测", "Too cold or hot to measure here: measure again indoors"},
};

const ReasonInfo& info(Reason r) noexcept {
    for (const auto& i : kReasons) {
        if (i.reason == r) return i;
    }
    return kReasons[6];  // unreachable: every enumerator is in the table (tested)
}

// Accumulates the most severe finding; among equals, the first one found wins,
// so the order of checks in decide() is the reason precedence of docs/decision.md.
struct Finding {
    Reason reason = Reason::ok;
    void add(Reason r) noexcept {
        if (severity(r) > severity(reason)) reason = r;
    }
};

// The verifier's reason word (pass::reason) as this module's Reason.
Reason rejection_reason(std::string_view word) noexcept {
    const auto is = [word](cp::Reason r) { return word == r.view(); };
    // A known key did not sign exactly this message (or claimed another alg):
    // someone altered or forged it.
    if (is(pass::reason::signature) || is(pass::reason::alg)) return Reason::forged;
    if (is(pass::reason::expired)) return Reason::expired;
    if (is(pass::reason::not_yet_valid)) return Reason::not_yet_valid;
    // A key we do not know: most often a trust store behind a key rotation, not
    // a forgery; a person checks it (YELLOW never opens the gate).
    if (is(pass::reason::unknown_key)) return Reason::unknown_issuer;
    // Everything else (prefix, base45, inflate, too-large, cbor, cose, claims,
    // or a word this module has not heard of) is a pass we could not read.
    return Reason::unreadable;
}

}  // namespace

const char* reason_code(Reason r) noexcept { return info(r).code; }
const char* text_key(Reason r) noexcept { return info(r).key; }
const char* text_zh(Reason r) noexcept { return info(r).zh; }
const char* text_en(Reason r) noexcept { return info(r).en; }
Verdict severity(Reason r) noexcept { return info(r).verdict; }

const char* to_string(Verdict v) noexcept {
    switch (v) {
    case Verdict::green: return "GREEN";
    case Verdict::yellow: return "YELLOW";
    case Verdict::red: return "RED";
    }
    return "YELLOW";
}

std::size_t RecentScans::Hash::operator()(const pass::PassId& id) const noexcept {
    // Pass ids are random: the first 8 bytes are already a good hash.
    std::size_t h = 0;
    std::memcpy(&h, id.data(), sizeof h < id.size() ? sizeof h : id.size());
    return h;
}

std::optional<PriorScan> RecentScans::find(const pass::PassId& id) const {
    auto it = map_.find(id);
    if (it == map_.end()) return std::nullopt;
    return it->second;
}

void RecentScans::record(const pass::PassId& id, PriorScan scan, std::int64_t window_s) {
    map_[id] = scan;
    if (map_.size() <= capacity_) return;
    // Over capacity: drop what is outside the window; if still too many, the oldest.
    for (auto it = map_.begin(); it != map_.end();) {
        if (scan.at_s - it->second.at_s > window_s) it = map_.erase(it);
        else ++it;
    }
    while (map_.size() > capacity_) {
        auto oldest = map_.begin();
        for (auto it = map_.begin(); it != map_.end(); ++it) {
            if (it->second.at_s < oldest->second.at_s) oldest = it;
        }
        map_.erase(oldest);
    }
}

std::string normalize_plate(std::string_view plate) {
    std::string out;
    out.reserve(plate.size());
    std::size_t i = 0;
    while (i < plate.size()) {
        const auto b0 = static_cast<unsigned char>(plate[i]);
        // Decode one UTF-8 sequence of up to 3 bytes (plates use no more).
        char32_t cp = b0;
        std::size_t len = 1;
        if (b0 >= 0xC2 && b0 <= 0xDF && i + 1 < plate.size() && (static_cast<unsigned char>(plate[i + 1]) & 0xC0) == 0x80) {
            cp = (char32_t{b0} & 0x1Fu) << 6 | (static_cast<unsigned char>(plate[i + 1]) & 0x3Fu);
            len = 2;
        } else if (b0 >= 0xE0 && b0 <= 0xEF && i + 2 < plate.size() &&
                   (static_cast<unsigned char>(plate[i + 1]) & 0xC0) == 0x80 &&
                   (static_cast<unsigned char>(plate[i + 2]) & 0xC0) == 0x80) {
            cp = (char32_t{b0} & 0x0Fu) << 12 | (static_cast<unsigned char>(plate[i + 1]) & 0x3Fu) << 6 |
                 (static_cast<unsigned char>(plate[i + 2]) & 0x3Fu);
            len = 3;
        }
        if (cp >= 0xFF01 && cp <= 0xFF5E) cp -= 0xFEE0;  // full-width ASCII forms
        const bool separator = cp == U' ' || cp == U'\t' || cp == U'-' || cp == U'.' || cp == U'_' || cp == 0x3000 ||
                               cp == 0x00B7 || cp == 0x30FB || cp == 0x2022 || cp == 0x2027 || cp == 0x2219 ||
                               (cp >= 0x2010 && cp <= 0x2015);
        if (!separator) {
            if (cp < 0x80) {
                out += static_cast<char>(cp >= U'a' && cp <= U'z' ? cp - 0x20 : cp);
            } else {
                out.append(plate.substr(i, len));
            }
        }
        i += len;
    }
    return out;
}

namespace {
// a + b and a - b clamped to the int64 range instead of overflowing (undefined).
std::int64_t sat_add(std::int64_t a, std::int64_t b) noexcept {
    std::int64_t r;
    if (!__builtin_add_overflow(a, b, &r)) return r;
    return b > 0 ? std::numeric_limits<std::int64_t>::max() : std::numeric_limits<std::int64_t>::min();
}
std::int64_t sat_sub(std::int64_t a, std::int64_t b) noexcept {
    std::int64_t r;
    if (!__builtin_sub_overflow(a, b, &r)) return r;
    return b < 0 ? std::numeric_limits<std::int64_t>::max() : std::numeric_limits<std::int64_t>::min();
}
}  // namespace

Decision decide(const DecisionInput& in) noexcept {
    const LanePolicy& pol = in.policy;
    Decision d;
    d.direction = in.direction;
    Finding f;

    const pass::Pass* p = in.verified.pass ? &*in.verified.pass : nullptr;

    // 1. The pass itself.
    if (!p) {
        f.add(rejection_reason(in.verified.rejection));
    } else {
        // Defence in depth: the verifier checked validity, but a GREEN must not
        // depend on one module alone.
        // Claim values are attacker-chosen (exp = INT64_MAX is a valid CBOR
        // integer): saturating sums, never a wrap.
        if (in.now_s >= sat_add(p->expires_at, pol.clock_skew_s)) f.add(Reason::expired);
        if (p->issued_at > sat_add(in.now_s, pol.clock_skew_s)) f.add(Reason::not_yet_valid);
    }

    // 2. The status list (only meaningful for an authentic pass).
    if (p) {
        if (!in.status.list_loaded) {
            f.add(Reason::no_list);
        } else {
            // A red entry is acted on even from an old list: showing RED brings a
            // person to check, the safe side.
            if (in.status.status == ListStatus::red) f.add(Reason::status_red);
            const std::int64_t age = sat_sub(in.now_s, in.status.list_created_at);
            if (age < sat_sub(0, pol.clock_skew_s)) f.add(Reason::clock);
            else if (age > pol.max_list_age_s) f.add(Reason::stale_list);
            if (in.status.status == ListStatus::not_in_list) f.add(Reason::not_in_list);
            if (in.status.status == ListStatus::yellow) f.add(Reason::status_yellow);
        }
    }

    // 3. Temperature (taken for every scan, readable pass or not: fever is RED
    //    for the person standing there).
    switch (in.temperature.state) {
    case Temperature::State::ok: {
        const double t = in.temperature.body_c;
        if (!std::isfinite(t) || t < pol.min_plausible_c || t > pol.max_plausible_c) {
            f.add(Reason::temperature_implausible);
        } else if (!(t < pol.fever_threshold_c)) {
            f.add(Reason::fever);
        }
        break;
    }
    case Temperature::State::fault:
        f.add(Reason::sensor_fault);
        break;
    case Temperature::State::absent:
        if (pol.temperature_required) f.add(Reason::no_temperature);
        break;
    case Temperature::State::uncalibrated: {
        // Only a lower bound at or above the threshold is proof of fever; anything
        // else cannot rule fever out here, so the person is measured again indoors.
        const double t = in.temperature.body_c;
        if (std::isfinite(t) && t <= pol.max_plausible_c && !(t < pol.fever_threshold_c)) f.add(Reason::fever);
        else f.add(Reason::remeasure_indoors);
        break;
    }
    }

    // 4. Truck lane: the plate goes into the journal, so it must be known and consistent.
    if (pol.mode == LaneMode::truck) {
        const bool driver = p && p->kind == pass::Kind::driver && !p->plate.empty();
        // Typed plates are compared normalised: "黑e 12345" is the pass's "黑E·12345".
        const std::string typed = normalize_plate(in.typed_plate);
        if (driver) {
            d.plate = p->plate;
            if (!typed.empty() && typed != normalize_plate(p->plate)) f.add(Reason::plate_mismatch);
        } else {
            d.plate = typed.empty() ? std::string() : in.typed_plate;
            if (typed.empty()) f.add(Reason::plate_missing);
        }
    }

    d.reason = f.reason;
    d.verdict = severity(f.reason);
    // A pass from the traveller registration: kind E, and a driver's kind D that
    // the registration page issued (it carries the registration's "e" claim).
    d.registers_arrival = p && (p->kind == pass::Kind::entry || (p->kind == pass::Kind::driver && p->entry));

    // 5. Repeat: the same pass within the window shows the earlier verdict, unless
    //    today's is worse. Never better: re-scanning until the thermometer reads
    //    low must not turn a RED into a GREEN. A worse verdict is news (a fever
    //    on the second scan): not a repeat, so it is counted and journaled.
    if (p && in.recent) {
        if (auto prior = in.recent->find(p->id)) {
            const std::int64_t since = in.now_s - prior->at_s;
            if (since >= 0 && since <= pol.repeat_window_s && severity(prior->reason) >= d.verdict) {
                d.repeat = true;
                d.verdict = severity(prior->reason);
                d.reason = prior->reason;
            }
        }
    }

    d.open_gate = d.verdict == Verdict::green && (!d.repeat || pol.repeat_opens_gate);
    return d;
}

}  // namespace cp::decision
