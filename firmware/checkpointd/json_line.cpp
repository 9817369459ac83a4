#include "firmware/checkpointd/json_line.hpp"

#include "src/common/time.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>

namespace cp::daemon {

std::string iso8601_ms(std::int64_t wall_ms) {
    std::string s = format_iso8601(wall_ms / 1000);  // "...:SSZ"
    char frac[8];
    std::snprintf(frac, sizeof frac, ".%03lld", static_cast<long long>(wall_ms % 1000));
    if (!s.empty() && s.back() == 'Z') s.insert(s.size() - 1, frac);
    return s;
}

namespace {
nlohmann::json or_null(const std::string& s) { return s.empty() ? nlohmann::json(nullptr) : nlohmann::json(s); }

// The fields every line has (scan and manual alike).
struct Common {
    std::int64_t wall_ms = 0;
    const char* type = "scan";
    const std::string& pass_id;
    const std::string& kind;
    std::string verdict;
    const std::string& reason;
    const std::string& plate;
    bool journaled = false;
    std::int64_t seq = 0;
    const std::string& scan_id;
    bool gate = false;
};

nlohmann::json line(const Common& c, const LaneLabel& lane) {
    nlohmann::json j;
    j["time"] = iso8601_ms(c.wall_ms);
    j["wall_ms"] = c.wall_ms;
    j["type"] = c.type;
    j["pass_id"] = or_null(c.pass_id);
    j["kind"] = or_null(c.kind);
    j["verdict"] = c.verdict;
    j["reason"] = c.reason;
    j["lane"] = lane.lane;
    j["device"] = lane.device_id;
    j["plate"] = or_null(c.plate);
    j["journaled"] = c.journaled;
    j["seq"] = c.journaled ? nlohmann::json(c.seq) : nlohmann::json(nullptr);
    j["scan_id"] = or_null(c.scan_id);
    j["gate"] = c.gate;
    return j;
}

std::string dump(const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }
}  // namespace

std::string scan_json(const ScanResult& r, const LaneLabel& lane) {
    nlohmann::json j = line({r.wall_ms, "scan", r.pass_id, r.kind, decision::to_string(r.verdict), r.reason,
                             r.decision.plate, r.journaled, r.seq, r.scan_id, r.open_gate},
                            lane);
    j["temperature"] = r.temperature_c ? nlohmann::json(*r.temperature_c) : nlohmann::json(nullptr);
    j["direction"] = r.decision.direction == decision::Direction::out ? "out" : "in";
    j["manual"] = false;
    j["repeat"] = r.decision.repeat;
    j["journal_error"] = r.journal_error ? nlohmann::json(r.journal_error->reason) : nlohmann::json(nullptr);
    return dump(j);
}

std::string manual_json(const ManualLine& m, const LaneLabel& lane) {
    nlohmann::json j = line({m.wall_ms, "manual", m.pass_id, m.kind, m.verdict, m.reason, m.plate, m.journaled,
                             m.seq, m.scan_id, m.allow && m.journaled},
                            lane);
    j["temperature"] = nullptr;
    j["direction"] = or_null(m.direction);
    j["manual"] = true;
    j["repeat"] = false;
    j["ref_seq"] = m.ref_seq;
    return dump(j);
}

}  // namespace cp::daemon
