// The --json output: one JSON object per line on stdout for every decision the
// lane shows, written after the journal commit (docs/daemon.md, "--json").
#pragma once

#include "firmware/checkpointd/scan_pipeline.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace cp::daemon {

struct LaneLabel {
    std::string lane;        // "gate" | "truck"
    std::string device_id;
};

// A scan decision.
std::string scan_json(const ScanResult& r, const LaneLabel& lane);

// A guard's manual decision on a YELLOW scan (`ref_seq`).
struct ManualLine {
    std::int64_t wall_ms = 0;
    std::int64_t ref_seq = 0;
    std::string pass_id;
    std::string kind;
    bool allow = false;
    bool journaled = false;
    std::int64_t seq = 0;
    std::string scan_id;
    std::string reason;      // "manual-allow" | "manual-deny" | "journal-<reason>"
    std::string verdict;     // "GREEN" | "RED" | "YELLOW" (journal failure)
    std::string plate, direction;
};
std::string manual_json(const ManualLine& m, const LaneLabel& lane);

// "2026-11-28T14:32:10.123Z"
std::string iso8601_ms(std::int64_t wall_ms);

}  // namespace cp::daemon
