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
}  // namespace

std::string scan_json(const ScanResult& r, const LaneLabel& lane) {
    nlohmann::json j;
    j["time"] = iso8601_ms(r.wall_ms);
    j["wall_ms"] = r.wall_ms;
    j["type"] = "scan";
    j["pass_id"] = or_null(r.pass_id);
    j["kind"] = or_null(r.kind);
    j["verdict"] = decision::to_string(r.verdict);
    j["reason"] = r.reason;
    j["temperature"] = r.temperature_c ? nlohmann::json(*r.temperature_c) : nlohmann::json(nullptr);
    j["lane"] = lane.lane;
    j["device"] = lane.device_id;
    j["plate"] = or_null(r.decision.plate);
    j["direction"] = r.decision.direction == decision::Direction::out ? "out" : "in";
    j["manual"] = false;
    j["repeat"] = r.decision.repeat;
    j["journaled"] = r.journaled;
    j["journal_error"] = r.journal_error ? nlohmann::json(r.journal_error->reason) : nlohmann::json(nullptr);
    j["seq"] = r.journaled ? nlohmann::json(r.seq) : nlohmann::json(nullptr);
    j["scan_id"] = or_null(r.scan_id);
    j["gate"] = r.open_gate;
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string manual_json(const ManualLine& m, const LaneLabel& lane) {
    nlohmann::json j;
    j["time"] = iso8601_ms(m.wall_ms);
    j["wall_ms"] = m.wall_ms;
    j["type"] = "manual";
    j["pass_id"] = or_null(m.pass_id);
    j["kind"] = or_null(m.kind);
    j["verdict"] = m.verdict;
    j["reason"] = m.reason;
    j["temperature"] = nullptr;
    j["lane"] = lane.lane;
    j["device"] = lane.device_id;
    j["plate"] = or_null(m.plate);
    j["direction"] = or_null(m.direction);
    j["manual"] = true;
    j["repeat"] = false;
    j["journaled"] = m.journaled;
    j["seq"] = m.journaled ? nlohmann::json(m.seq) : nlohmann::json(nullptr);
    j["scan_id"] = or_null(m.scan_id);
    j["ref_seq"] = m.ref_seq;
    j["gate"] = m.allow && m.journaled;
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace cp::daemon
