// ManualResolver: which YELLOW a guard's key press (allow / deny) resolves, and
// when. Pure: no I/O, no clock of its own (every call takes the monotonic time),
// so the rules are unit-tested (tests/firmware/test_manual_resolver.cpp); the
// daemon journals and acts on what it returns.
//
// Rules (docs/daemon.md):
//   - A journaled YELLOW stays open for kWindowMs; a later scan of another pass,
//     or a non-YELLOW scan, closes it (a repeat sighting of the same pass keeps it).
//   - A press resolves the open YELLOW at once only when the YELLOW's own code is
//     still in front of the camera; otherwise the press may belong to the person
//     stepping up now, so it waits up to kPendingPressMs for that person's scan.
//   - A waiting press is applied to the YELLOW that scan opens, or, when none
//     comes in time, to the YELLOW still open; else it is ignored.
//
// Thread-safety: NOT thread-safe; the decide thread owns it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace cp::daemon {

// A YELLOW scan a guard may still resolve by hand.
struct OpenYellow {
    std::int64_t seq = 0;        // journal row of the scan
    std::string pass_id, kind, text, plate, direction, name;
    std::int64_t mono_ms = 0;    // when it was decided
};

// A resolution to carry out: journal it, then act on the lane.
struct ManualAction {
    OpenYellow yellow;
    bool allow = false;
};

class ManualResolver {
public:
    static constexpr std::int64_t kWindowMs = 120'000;      // a YELLOW can be resolved by hand this long
    static constexpr std::int64_t kPendingPressMs = 3'000;  // a key press waits this long for its scan

    // Why a press came to nothing (for the log).
    enum class Ignored { none, no_yellow, not_yellow };

    struct Step {
        std::optional<ManualAction> action;  // resolve this now
        Ignored ignored = Ignored::none;     // or why a waiting press was dropped
    };

    // The open YELLOW within its window at `now_ms`, or null.
    const OpenYellow* open(std::int64_t now_ms) const;
    bool press_waiting() const { return pending_.has_value(); }

    // A guard's key press at `now_ms`. `yellow_code_in_view`: the open YELLOW's
    // text is the code the camera holds now (see open()). `during_scan`: pressed
    // while a scan was being decided (it belongs to that scan).
    std::optional<ManualAction> press(bool allow, std::int64_t now_ms, bool during_scan, bool yellow_code_in_view);

    // A scan was decided. `yellow`: set when it was a journaled YELLOW (it opens);
    // `repeat`: decide() found the pass scanned within the repeat window, and
    // `pass_id` is its id (a repeat of the open YELLOW's pass keeps it open).
    Step scanned(std::optional<OpenYellow> yellow, bool repeat, const std::string& pass_id);

    // A press that waited kPendingPressMs without a scan.
    Step expire(std::int64_t now_ms);

private:
    std::optional<ManualAction> take(bool allow);

    std::optional<OpenYellow> open_;
    struct Press {
        bool allow = false;
        std::int64_t mono_ms = 0;
    };
    std::optional<Press> pending_;
};

}  // namespace cp::daemon
