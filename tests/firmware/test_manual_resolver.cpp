// ManualResolver: which YELLOW a guard's allow/deny key resolves, and when, with
// the clock passed in (no daemon, no devices).
#include "firmware/checkpointd/manual_resolver.hpp"

#include <doctest/doctest.h>

#include <optional>
#include <string>

using namespace cp::daemon;

namespace {

OpenYellow yellow(std::int64_t seq, const std::string& pass_id, std::int64_t mono_ms) {
    OpenYellow y;
    y.seq = seq;
    y.pass_id = pass_id;
    y.text = "CP1:" + pass_id;
    y.mono_ms = mono_ms;
    return y;
}

constexpr std::int64_t kWindow = ManualResolver::kWindowMs;
constexpr std::int64_t kWait = ManualResolver::kPendingPressMs;

}  // namespace

TEST_CASE("a press while the YELLOW's code is in view resolves it at once") {
    ManualResolver m;
    CHECK_FALSE(m.scanned(yellow(7, "aa", 1000), false, "aa").action);
    REQUIRE(m.open(1500) != nullptr);
    auto a = m.press(true, 1500, false, true);
    REQUIRE(a);
    CHECK(a->allow);
    CHECK(a->yellow.seq == 7);
    CHECK(m.open(1500) == nullptr);  // resolved once
    CHECK_FALSE(m.press_waiting());
}

TEST_CASE("a press with the code out of view waits for the next scan") {
    ManualResolver m;
    (void)m.scanned(yellow(7, "aa", 1000), false, "aa");
    CHECK_FALSE(m.press(false, 2000, false, false));
    CHECK(m.press_waiting());
    // The person stepping up scans YELLOW too: the press is theirs.
    auto step = m.scanned(yellow(8, "bb", 2500), false, "bb");
    REQUIRE(step.action);
    CHECK_FALSE(step.action->allow);
    CHECK(step.action->yellow.seq == 8);
    CHECK_FALSE(m.press_waiting());
}

TEST_CASE("a press during a scan belongs to that scan, even with the old code in view") {
    ManualResolver m;
    (void)m.scanned(yellow(7, "aa", 1000), false, "aa");
    CHECK_FALSE(m.press(true, 1200, true, true));
    auto step = m.scanned(yellow(9, "cc", 1300), false, "cc");
    REQUIRE(step.action);
    CHECK(step.action->yellow.seq == 9);
}

TEST_CASE("a waiting press after a GREEN or RED scan is ignored, and the YELLOW closes") {
    ManualResolver m;
    (void)m.scanned(yellow(7, "aa", 1000), false, "aa");
    (void)m.press(true, 2000, false, false);
    auto step = m.scanned(std::nullopt, false, "bb");
    CHECK_FALSE(step.action);
    CHECK(step.ignored == ManualResolver::Ignored::not_yellow);
    CHECK(m.open(2100) == nullptr);
}

TEST_CASE("a repeat sighting of the open YELLOW's pass keeps it open") {
    ManualResolver m;
    (void)m.scanned(yellow(7, "aa", 1000), false, "aa");
    (void)m.scanned(std::nullopt, true, "aa");
    REQUIRE(m.open(1500) != nullptr);
    CHECK(m.open(1500)->seq == 7);
    // A repeat of another pass does not.
    (void)m.scanned(std::nullopt, true, "bb");
    CHECK(m.open(1500) == nullptr);
}

TEST_CASE("a waiting press without a scan resolves the open YELLOW after the wait") {
    ManualResolver m;
    (void)m.scanned(yellow(7, "aa", 1000), false, "aa");
    (void)m.press(true, 2000, false, false);
    CHECK_FALSE(m.expire(2000 + kWait - 1).action);  // still waiting
    CHECK(m.press_waiting());
    auto step = m.expire(2000 + kWait);
    REQUIRE(step.action);
    CHECK(step.action->allow);
    CHECK(step.action->yellow.seq == 7);
}

TEST_CASE("a YELLOW older than the window is not resolved") {
    ManualResolver m;
    (void)m.scanned(yellow(7, "aa", 1000), false, "aa");
    CHECK(m.open(1000 + kWindow) != nullptr);
    CHECK(m.open(1000 + kWindow + 1) == nullptr);
    // In view but too old: the press waits, then finds nothing to resolve.
    CHECK_FALSE(m.press(true, 1000 + kWindow + 1, false, true));
    auto step = m.expire(1000 + kWindow + 1 + kWait);
    CHECK_FALSE(step.action);
    CHECK(step.ignored == ManualResolver::Ignored::no_yellow);
}

TEST_CASE("a press with no YELLOW at all is dropped after the wait") {
    ManualResolver m;
    CHECK_FALSE(m.press(false, 500, false, false));
    auto step = m.expire(500 + kWait);
    CHECK_FALSE(step.action);
    CHECK(step.ignored == ManualResolver::Ignored::no_yellow);
    CHECK_FALSE(m.press_waiting());
    // Nothing waiting: expiry is a no-op.
    CHECK(m.expire(10'000'000).ignored == ManualResolver::Ignored::none);
}

TEST_CASE("a later press replaces a waiting one") {
    ManualResolver m;
    (void)m.scanned(yellow(7, "aa", 1000), false, "aa");
    (void)m.press(true, 2000, false, false);
    (void)m.press(false, 2500, false, false);
    CHECK_FALSE(m.expire(2000 + kWait).action);  // the wait restarted at 2500
    auto step = m.expire(2500 + kWait);
    REQUIRE(step.action);
    CHECK_FALSE(step.action->allow);
}
