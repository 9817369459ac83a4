// The decision: one pure function from (verified pass, status lookup, temperature,
// lane policy, recent scans) to GREEN / YELLOW / RED. No I/O, no clock reads, no
// logging: everything it needs is in DecisionInput, so it is exhaustively testable.
// The rule table is in docs/decision.md; the test mirrors it row by row.
#pragma once

#include "src/pass/pass.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace cp::decision {

enum class Verdict { green = 0, yellow = 1, red = 2 };  // ordered by severity

// Why; each has a stable code (journal, upstream) and screen texts (zh, en).
enum class Reason {
    ok,                       // GREEN
    // RED
    forged,                   // signature or alg rejected: a known key did not sign this
    expired,
    not_yet_valid,
    status_red,               // isolated per the status list
    fever,
    // YELLOW
    unreadable,               // not a pass we can parse (base45, zlib, cbor, claims, ...)
    unknown_issuer,           // well-formed but signed by a key not in the trust store
    no_list,                  // no status list installed
    stale_list,               // list older than the lane's max age
    clock,                    // list created in the future: the device clock is wrong
    not_in_list,              // pass id absent from the list
    status_yellow,
    sensor_fault,             // thermometer reported a fault
    temperature_implausible,  // reading outside the range of a human body
    no_temperature,           // lane requires a temperature and none was taken
    plate_missing,            // truck lane: no plate from a driver pass nor typed
    plate_mismatch,           // truck lane: typed plate differs from the driver pass
    remeasure_indoors,        // forehead read in air outside the conversion's range, fever not ruled out
};

// "ok", "forged", "status-red", ... (stable: journal rows and upstream use it)
const char* reason_code(Reason r) noexcept;
// "reason.status_red" ...: key into the screen's text table
const char* text_key(Reason r) noexcept;
const char* text_zh(Reason r) noexcept;
const char* text_en(Reason r) noexcept;
// "GREEN", "YELLOW", "RED"
const char* to_string(Verdict v) noexcept;
// Severity for a reason (RED reasons, YELLOW reasons, ok → GREEN).
Verdict severity(Reason r) noexcept;

// The verifier's outcome, kept small so this module does not depend on the
// verifier's own type: either an authentic pass or a rejection reason word
// from the pass spec ("signature", "expired", "unknown-key", "base45", ...).
struct VerifiedPass {
    std::optional<pass::Pass> pass;  // set iff the verifier accepted the pass
    std::string rejection;           // spec reason word when `pass` is empty
};

enum class ListStatus { green, yellow, red, not_in_list };

struct StatusLookup {
    bool list_loaded = false;          // false: no list installed
    ListStatus status = ListStatus::not_in_list;
    std::int64_t list_created_at = 0;  // s since epoch, from the signed list header
};

struct Temperature {
    // uncalibrated: a forehead was read, but in air outside the range where the
    // forehead → body conversion holds (docs/decision.md, "Cold weather"); body_c
    // is then a lower bound of body temperature when one is known (the bare
    // forehead in cold air, which never reads above the core), else NaN.
    enum class State { ok, fault, absent, uncalibrated };
    State state = State::absent;
    double body_c = 0.0;  // °C, meaningful when state == ok (or a lower bound when uncalibrated)
};

enum class LaneMode { gate, truck };
enum class Direction { in, out };

struct LanePolicy {
    LaneMode mode = LaneMode::gate;
    double fever_threshold_c = 37.3;        // °C; body >= threshold is fever
    std::int64_t max_list_age_s = 86400;     // s; older list → YELLOW stale-list
    bool temperature_required = true;        // absent reading → YELLOW
    std::int64_t repeat_window_s = 30;       // s; same pass within → repeat
    std::int64_t clock_skew_s = 300;         // s; tolerance for pass iat/exp and list time
    bool repeat_opens_gate = false;          // anti-passback: a repeat GREEN does not pulse again
    double min_plausible_c = 30.0;           // °C; below: reading not from a body
    double max_plausible_c = 45.0;           // °C; above: reading not from a body
};

// What was shown for a pass recently (for repeat suppression).
// The verdict is severity(reason): storing only the reason keeps the two consistent.
struct PriorScan {
    Reason reason = Reason::unreadable;
    std::int64_t at_s = 0;  // wall time of that scan, s
};

// Bounded map pass id → last decision, owned by the caller (the decide thread).
// Not thread-safe. Oldest entries are dropped beyond `capacity`.
class RecentScans {
public:
    explicit RecentScans(std::size_t capacity = 4096) : capacity_(capacity) {}
    std::optional<PriorScan> find(const pass::PassId& id) const;
    // Records a decision that was counted (not a repeat); evicts expired/oldest.
    void record(const pass::PassId& id, PriorScan scan, std::int64_t window_s);
    std::size_t size() const { return map_.size(); }

private:
    struct Hash {
        std::size_t operator()(const pass::PassId& id) const noexcept;
    };
    std::size_t capacity_;
    std::unordered_map<pass::PassId, PriorScan, Hash> map_;
};

struct DecisionInput {
    VerifiedPass verified;
    StatusLookup status;
    Temperature temperature;
    LanePolicy policy;
    std::int64_t now_s = 0;                 // wall time, s since epoch
    const RecentScans* recent = nullptr;    // may be null: no repeat suppression
    std::string typed_plate;                // truck lane: typed by the inspector
    Direction direction = Direction::in;    // truck lane
};

struct Decision {
    Verdict verdict = Verdict::yellow;
    Reason reason = Reason::unreadable;
    bool open_gate = false;          // true only for a GREEN that is not a suppressed repeat
    bool repeat = false;             // same pass within the repeat window: not counted again
    bool registers_arrival = false;  // authentic kind E, or kind D with a registration: confirms the arrival
    std::string plate;               // truck lane: from the driver pass, else typed
    Direction direction = Direction::in;
};

// A plate as compared in the truck lane (docs/decision.md): full-width forms
// (Ａ-Ｚ, ０-９, ａ-ｚ) become ASCII, letters upper case, and spaces and
// separators (space, U+3000, '·' U+00B7, '・' U+30FB, '•' U+2022, '‧' U+2027,
// '-', U+2010-U+2015, '－' U+FF0D, '.', '_') are dropped; Chinese characters
// are kept. "黑E·12345", "黑e 12345" and "黑Ｅ－１２３４５" all give "黑E12345".
// Bytes that are not valid UTF-8 are kept as they are.
std::string normalize_plate(std::string_view plate);

// The rules of docs/decision.md. Total: every input yields a Decision; GREEN
// only when every GREEN condition holds. Never throws.
Decision decide(const DecisionInput& in) noexcept;

}  // namespace cp::decision
