// The rule table of docs/decision.md, row by row, and an exhaustive sweep that
// no combination of inputs yields GREEN unless every GREEN condition holds.
#include "src/decision/decision.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <set>
#include <string>
#include <vector>

using namespace cp::decision;
namespace pass = cp::pass;

namespace {

constexpr std::int64_t kNow = 1'800'000'000;

pass::Pass make_pass(pass::Kind kind = pass::Kind::resident) {
    pass::Pass p;
    p.issuer = "CN-HL-DQ";
    p.issued_at = kNow - 86400;
    p.expires_at = kNow + 86400 * 30;
    p.id = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
    p.kind = kind;
    if (kind == pass::Kind::driver) p.plate = "黑E12345";
    return p;
}

// All GREEN conditions hold; each table row breaks exactly what it tests.
DecisionInput green_input() {
    DecisionInput in;
    in.verified.pass = make_pass();
    in.status.list_loaded = true;
    in.status.status = ListStatus::green;
    in.status.list_created_at = kNow - 3600;
    in.temperature = {Temperature::State::ok, 36.5};
    in.now_s = kNow;
    return in;
}

struct Row {
    const char* name;
    std::function<void(DecisionInput&)> change;
    Verdict verdict;
    Reason reason;
};

}  // namespace

TEST_CASE("rule table") {
    const std::vector<Row> rows = {
        {"all green", [](DecisionInput&) {}, Verdict::green, Reason::ok},
        // RED
        {"status red", [](DecisionInput& in) { in.status.status = ListStatus::red; }, Verdict::red, Reason::status_red},
        {"status red from a stale list", [](DecisionInput& in) {
             in.status.status = ListStatus::red; in.status.list_created_at = kNow - 10 * 86400; },
         Verdict::red, Reason::status_red},
        {"bad signature", [](DecisionInput& in) { in.verified = {std::nullopt, "signature"}; }, Verdict::red, Reason::forged},
        {"wrong alg", [](DecisionInput& in) { in.verified = {std::nullopt, "alg"}; }, Verdict::red, Reason::forged},
        {"verifier: expired", [](DecisionInput& in) { in.verified = {std::nullopt, "expired"}; }, Verdict::red, Reason::expired},
        {"verifier: not yet valid", [](DecisionInput& in) { in.verified = {std::nullopt, "not-yet-valid"}; }, Verdict::red, Reason::not_yet_valid},
        {"expired pass that slipped through", [](DecisionInput& in) { in.verified.pass->expires_at = kNow - 301; }, Verdict::red, Reason::expired},
        {"expiry within skew", [](DecisionInput& in) { in.verified.pass->expires_at = kNow - 299; }, Verdict::green, Reason::ok},
        {"future pass that slipped through", [](DecisionInput& in) { in.verified.pass->issued_at = kNow + 301; }, Verdict::red, Reason::not_yet_valid},
        {"fever", [](DecisionInput& in) { in.temperature.body_c = 38.2; }, Verdict::red, Reason::fever},
        {"fever at exactly the threshold", [](DecisionInput& in) { in.temperature.body_c = 37.3; }, Verdict::red, Reason::fever},
        {"just below the threshold", [](DecisionInput& in) { in.temperature.body_c = 37.2; }, Verdict::green, Reason::ok},
        {"custom threshold", [](DecisionInput& in) { in.policy.fever_threshold_c = 37.0; in.temperature.body_c = 37.1; }, Verdict::red, Reason::fever},
        {"fever with an unreadable pass", [](DecisionInput& in) {
             in.verified = {std::nullopt, "base45"}; in.temperature.body_c = 39.0; }, Verdict::red, Reason::fever},
        {"forged beats status yellow", [](DecisionInput& in) {
             in.verified = {std::nullopt, "signature"}; in.status.status = ListStatus::yellow; }, Verdict::red, Reason::forged},
        // YELLOW
        {"not in list", [](DecisionInput& in) { in.status.status = ListStatus::not_in_list; }, Verdict::yellow, Reason::not_in_list},
        {"status yellow", [](DecisionInput& in) { in.status.status = ListStatus::yellow; }, Verdict::yellow, Reason::status_yellow},
        {"no list", [](DecisionInput& in) { in.status.list_loaded = false; }, Verdict::yellow, Reason::no_list},
        {"stale list", [](DecisionInput& in) { in.status.list_created_at = kNow - 86401; }, Verdict::yellow, Reason::stale_list},
        {"list exactly max age", [](DecisionInput& in) { in.status.list_created_at = kNow - 86400; }, Verdict::green, Reason::ok},
        {"list from the future", [](DecisionInput& in) { in.status.list_created_at = kNow + 3600; }, Verdict::yellow, Reason::clock},
        {"sensor fault", [](DecisionInput& in) { in.temperature.state = Temperature::State::fault; }, Verdict::yellow, Reason::sensor_fault},
        {"no temperature, required", [](DecisionInput& in) { in.temperature.state = Temperature::State::absent; }, Verdict::yellow, Reason::no_temperature},
        {"no temperature, not required", [](DecisionInput& in) {
             in.temperature.state = Temperature::State::absent; in.policy.temperature_required = false; }, Verdict::green, Reason::ok},
        {"fault, not required", [](DecisionInput& in) {
             in.temperature.state = Temperature::State::fault; in.policy.temperature_required = false; }, Verdict::yellow, Reason::sensor_fault},
        {"cold gate, forehead cannot rule fever out", [](DecisionInput& in) {
             in.temperature = {Temperature::State::uncalibrated, 31.0}; }, Verdict::yellow, Reason::remeasure_indoors},
        {"cold gate, no bound known", [](DecisionInput& in) {
             in.temperature = {Temperature::State::uncalibrated, std::nan("")}; in.policy.temperature_required = false; },
         Verdict::yellow, Reason::remeasure_indoors},
        {"cold gate, bare forehead already at fever", [](DecisionInput& in) {
             in.temperature = {Temperature::State::uncalibrated, 37.6}; }, Verdict::red, Reason::fever},
        {"ambient reading", [](DecisionInput& in) { in.temperature.body_c = 22.0; }, Verdict::yellow, Reason::temperature_implausible},
        {"NaN reading", [](DecisionInput& in) { in.temperature.body_c = std::nan(""); }, Verdict::yellow, Reason::temperature_implausible},
        {"hot object", [](DecisionInput& in) { in.temperature.body_c = 80.0; }, Verdict::yellow, Reason::temperature_implausible},
        {"unknown issuer key", [](DecisionInput& in) { in.verified = {std::nullopt, "unknown-key"}; }, Verdict::yellow, Reason::unknown_issuer},
        {"base45", [](DecisionInput& in) { in.verified = {std::nullopt, "base45"}; }, Verdict::yellow, Reason::unreadable},
        {"claims", [](DecisionInput& in) { in.verified = {std::nullopt, "claims"}; }, Verdict::yellow, Reason::unreadable},
        {"empty rejection", [](DecisionInput& in) { in.verified = {std::nullopt, ""}; }, Verdict::yellow, Reason::unreadable},
        {"stale list wins over not-in-list (checked first)", [](DecisionInput& in) {
             in.status.list_created_at = kNow - 2 * 86400; in.status.status = ListStatus::not_in_list; },
         Verdict::yellow, Reason::stale_list},
        // Truck lane
        {"truck: driver pass gives the plate", [](DecisionInput& in) {
             in.policy.mode = LaneMode::truck; in.verified.pass = make_pass(pass::Kind::driver); }, Verdict::green, Reason::ok},
        {"truck: typed plate", [](DecisionInput& in) { in.policy.mode = LaneMode::truck; in.typed_plate = "黑A00001"; }, Verdict::green, Reason::ok},
        {"truck: no plate", [](DecisionInput& in) { in.policy.mode = LaneMode::truck; }, Verdict::yellow, Reason::plate_missing},
        {"truck: plate mismatch", [](DecisionInput& in) {
             in.policy.mode = LaneMode::truck; in.verified.pass = make_pass(pass::Kind::driver); in.typed_plate = "黑A00001"; },
         Verdict::yellow, Reason::plate_mismatch},
        {"gate lane ignores plates", [](DecisionInput& in) { in.typed_plate = ""; }, Verdict::green, Reason::ok},
    };
    for (const auto& row : rows) {
        CAPTURE(row.name);
        DecisionInput in = green_input();
        row.change(in);
        Decision d = decide(in);
        CHECK(d.verdict == row.verdict);
        CHECK(std::string(reason_code(d.reason)) == reason_code(row.reason));
        CHECK(d.open_gate == (row.verdict == Verdict::green));
        CHECK_FALSE(d.repeat);
    }
}

TEST_CASE("truck lane carries plate and direction") {
    DecisionInput in = green_input();
    in.policy.mode = LaneMode::truck;
    in.verified.pass = make_pass(pass::Kind::driver);
    in.direction = Direction::out;
    Decision d = decide(in);
    CHECK(d.plate == "黑E12345");
    CHECK(d.direction == Direction::out);
    in.verified.pass = make_pass();
    in.typed_plate = "黑A00001";
    CHECK(decide(in).plate == "黑A00001");
}

TEST_CASE("truck lane compares plates normalised: width, case, spaces and separators") {
    CHECK(normalize_plate("黑E·12345") == "黑E12345");
    CHECK(normalize_plate("黑e12345") == "黑E12345");
    CHECK(normalize_plate(" 黑 E-123 45 ") == "黑E12345");
    CHECK(normalize_plate("黑Ｅ－１２３４５") == "黑E12345");      // full-width letters, digits, hyphen
    CHECK(normalize_plate("黑ｅ\u3000１２３４５") == "黑E12345");  // ideographic space
    CHECK(normalize_plate("黑E・12345") == "黑E12345");            // katakana middle dot
    CHECK(normalize_plate("黑E\u201012345") == "黑E12345");        // Unicode hyphen
    CHECK(normalize_plate("京A·12345") != normalize_plate("黑A·12345"));  // the province counts
    CHECK(normalize_plate("黑E12354") != normalize_plate("黑E12345"));
    CHECK(normalize_plate("\xff\xfe-a") == "\xff\xfe" "A");  // not UTF-8: bytes kept, never dropped
    CHECK(normalize_plate(" - · ").empty());

    DecisionInput in = green_input();
    in.policy.mode = LaneMode::truck;
    in.verified.pass = make_pass(pass::Kind::driver);
    in.verified.pass->plate = "黑E·12345";
    for (const char* typed : {"黑e12345", "黑E 12345", "黑Ｅ－１２３４５", "黑E-12345"}) {
        in.typed_plate = typed;
        Decision d = decide(in);
        CHECK_MESSAGE(d.reason == Reason::ok, typed);
        CHECK(d.plate == "黑E·12345");  // journaled as the pass carries it
    }
    in.typed_plate = "黑E12346";
    CHECK(decide(in).reason == Reason::plate_mismatch);
    // Only separators typed: no plate.
    in.verified.pass = make_pass();
    in.typed_plate = " · ";
    CHECK(decide(in).reason == Reason::plate_missing);
}

TEST_CASE("entry registration pass confirms arrival, other kinds do not") {
    DecisionInput in = green_input();
    in.verified.pass = make_pass(pass::Kind::entry);
    CHECK(decide(in).registers_arrival);
    in.temperature.body_c = 39.0;  // arrival is a fact even when the traveller has a fever
    CHECK(decide(in).registers_arrival);
    in.verified.pass = make_pass();
    CHECK_FALSE(decide(in).registers_arrival);
    in.verified = {std::nullopt, "signature"};
    CHECK_FALSE(decide(in).registers_arrival);
}

TEST_CASE("a driver pass from the traveller registration confirms arrival, a plain driver pass does not") {
    DecisionInput in = green_input();
    in.policy.mode = LaneMode::truck;
    in.verified.pass = make_pass(pass::Kind::driver);
    CHECK_FALSE(decide(in).registers_arrival);
    in.verified.pass->entry = pass::EntryRegistration{"哈尔滨市", kNow, "truck"};
    const Decision d = decide(in);
    CHECK(d.registers_arrival);
    CHECK(d.verdict == Verdict::green);
    CHECK(d.plate == "黑E12345");
}

TEST_CASE("repeat suppression") {
    RecentScans recent;
    DecisionInput in = green_input();
    in.recent = &recent;
    const auto id = in.verified.pass->id;

    SUBCASE("the same GREEN within the window is a repeat that does not open the gate again") {
        recent.record(id, {Reason::ok, kNow - 10}, 30);
        Decision d = decide(in);
        CHECK(d.verdict == Verdict::green);
        CHECK(d.repeat);
        CHECK_FALSE(d.open_gate);
        in.policy.repeat_opens_gate = true;
        CHECK(decide(in).open_gate);
    }
    SUBCASE("an earlier RED is shown again even if the second reading is normal") {
        recent.record(id, {Reason::fever, kNow - 10}, 30);
        Decision d = decide(in);
        CHECK(d.verdict == Verdict::red);
        CHECK(d.reason == Reason::fever);
        CHECK(d.repeat);
        CHECK_FALSE(d.open_gate);
    }
    SUBCASE("a worse verdict now beats an earlier GREEN and is counted, not a repeat") {
        recent.record(id, {Reason::ok, kNow - 10}, 30);
        in.temperature.body_c = 38.5;
        Decision d = decide(in);
        CHECK(d.verdict == Verdict::red);
        CHECK(d.reason == Reason::fever);
        CHECK_FALSE(d.repeat);  // journaled and uploaded: the fever reaches the alerts
        CHECK_FALSE(d.open_gate);
    }
    SUBCASE("a worse verdict than an earlier YELLOW is counted too") {
        recent.record(id, {Reason::status_yellow, kNow - 10}, 30);
        in.temperature.body_c = 38.5;
        Decision d = decide(in);
        CHECK(d.verdict == Verdict::red);
        CHECK_FALSE(d.repeat);
    }
    SUBCASE("outside the window it is a new scan") {
        recent.record(id, {Reason::fever, kNow - 31}, 30);
        Decision d = decide(in);
        CHECK(d.verdict == Verdict::green);
        CHECK_FALSE(d.repeat);
        CHECK(d.open_gate);
    }
    SUBCASE("another pass id is not a repeat") {
        auto other = id;
        other[0] ^= 1;
        recent.record(other, {Reason::fever, kNow - 1}, 30);
        CHECK_FALSE(decide(in).repeat);
    }
}

TEST_CASE("RecentScans stays bounded") {
    RecentScans recent(8);
    pass::PassId id{};
    for (int i = 0; i < 100; ++i) {
        id[0] = static_cast<std::uint8_t>(i);
        recent.record(id, {Reason::ok, kNow + i}, 30);
    }
    CHECK(recent.size() <= 8);
    CHECK(recent.find(id).has_value());  // the newest survives
    id[0] = 0;
    CHECK_FALSE(recent.find(id).has_value());
}

TEST_CASE("claim and list times at the int64 limits decide without overflow") {
    constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
    constexpr auto kMin = std::numeric_limits<std::int64_t>::min();
    // exp = INT64_MAX: "never expires", not a wrapped sum that reads as expired.
    auto in = green_input();
    in.verified.pass->expires_at = kMax;
    auto d = decide(in);
    CHECK(d.verdict == Verdict::green);
    CHECK(d.reason == Reason::ok);
    // iat = INT64_MAX with now near the top: not yet valid, no wrap of now + skew.
    in = green_input();
    in.now_s = kMax - 10;
    in.verified.pass->issued_at = kMax;
    in.verified.pass->expires_at = kMax;
    in.status.list_created_at = kMax - 3600;
    d = decide(in);
    CHECK(d.verdict == Verdict::green);
    in.verified.pass->issued_at = kMax;
    in.now_s = kMin + 10;
    in.verified.pass->expires_at = kMax;
    in.status.list_created_at = kMin + 10;
    d = decide(in);
    CHECK(d.reason == Reason::not_yet_valid);
    // A list created at INT64_MIN is infinitely old (stale), not "from the future".
    in = green_input();
    in.status.list_created_at = kMin;
    d = decide(in);
    CHECK(d.verdict == Verdict::yellow);
    CHECK(d.reason == Reason::stale_list);
    // Created at INT64_MAX: from the future, a clock problem.
    in.status.list_created_at = kMax;
    in.now_s = -10;
    in.verified.pass->issued_at = -100;
    d = decide(in);
    CHECK(d.reason == Reason::clock);
}

TEST_CASE("every reason has a code, key and texts, and codes are unique") {
    std::set<std::string> codes;
    for (int r = static_cast<int>(Reason::ok); r <= static_cast<int>(Reason::remeasure_indoors); ++r) {
        auto reason = static_cast<Reason>(r);
        std::string code = reason_code(reason);
        CHECK(codes.insert(code).second);
        CHECK(std::string(text_key(reason)).rfind("reason.", 0) == 0);
        CHECK(std::string(text_zh(reason)).size() > 0);
        CHECK(std::string(text_en(reason)).size() > 0);
        CHECK((severity(reason) == Verdict::green) == (reason == Reason::ok));
    }
}

// Exhaustive sweep: GREEN if and only if every GREEN condition holds, computed
// here independently of decide()'s structure.
TEST_CASE("no combination yields GREEN unless all GREEN conditions hold") {
    struct PassCase {
        std::optional<pass::Pass> pass;
        std::string rejection;
        bool authentic_valid;
    };
    std::vector<PassCase> passes;
    for (const char* w : {"signature", "alg", "expired", "not-yet-valid", "unknown-key", "base45",
                          "inflate", "cbor", "claims", "", "something-new"}) {
        passes.push_back({std::nullopt, w, false});
    }
    for (auto kind : {pass::Kind::resident, pass::Kind::driver, pass::Kind::entry, pass::Kind::visitor}) {
        passes.push_back({make_pass(kind), "", true});
        auto expired = make_pass(kind);
        expired.expires_at = kNow - 1000;
        passes.push_back({expired, "", false});
        auto future = make_pass(kind);
        future.issued_at = kNow + 1000;
        passes.push_back({future, "", false});
    }
    struct ListCase { bool loaded; ListStatus status; std::int64_t created; bool ok; };
    std::vector<ListCase> lists = {{false, ListStatus::green, kNow, false}};
    for (auto st : {ListStatus::green, ListStatus::yellow, ListStatus::red, ListStatus::not_in_list}) {
        for (std::int64_t created : {kNow - 60, kNow - 86400, kNow - 86401, kNow + 200, kNow + 400}) {
            bool fresh = created >= kNow - 86400 && created <= kNow + 300;
            lists.push_back({true, st, created, st == ListStatus::green && fresh});
        }
    }
    struct TempCase { Temperature t; bool ok_if_required; bool ok_if_optional; };
    const double nan = std::numeric_limits<double>::quiet_NaN();
    std::vector<TempCase> temps = {
        {{Temperature::State::ok, 36.6}, true, true},
        {{Temperature::State::ok, 37.29}, true, true},
        {{Temperature::State::ok, 37.3}, false, false},
        {{Temperature::State::ok, 39.0}, false, false},
        {{Temperature::State::ok, 25.0}, false, false},
        {{Temperature::State::ok, 50.0}, false, false},
        {{Temperature::State::ok, nan}, false, false},
        {{Temperature::State::ok, -std::numeric_limits<double>::infinity()}, false, false},
        {{Temperature::State::fault, 36.6}, false, false},
        {{Temperature::State::absent, 36.6}, false, true},
        {{Temperature::State::uncalibrated, 30.0}, false, false},
        {{Temperature::State::uncalibrated, 37.5}, false, false},
        {{Temperature::State::uncalibrated, nan}, false, false},
    };
    struct PriorCase { std::optional<PriorScan> prior; };
    std::vector<std::optional<PriorScan>> priors = {
        std::nullopt, PriorScan{Reason::ok, kNow - 5}, PriorScan{Reason::fever, kNow - 5},
        PriorScan{Reason::not_in_list, kNow - 5}, PriorScan{Reason::status_red, kNow - 100}};

    std::size_t combos = 0, greens = 0;
    for (const auto& pc : passes)
    for (const auto& lc : lists)
    for (const auto& tc : temps)
    for (bool required : {true, false})
    for (auto mode : {LaneMode::gate, LaneMode::truck})
    for (const char* typed : {"", "黑E12345", "黑A00001"})
    for (const auto& prior : priors) {
        DecisionInput in;
        in.verified.pass = pc.pass;
        in.verified.rejection = pc.rejection;
        in.status = {lc.loaded, lc.status, lc.created};
        in.temperature = tc.t;
        in.policy.temperature_required = required;
        in.policy.mode = mode;
        in.typed_plate = typed;
        in.now_s = kNow;
        RecentScans recent;
        if (prior && pc.pass) recent.record(pc.pass->id, *prior, in.policy.repeat_window_s);
        in.recent = &recent;

        bool plate_ok = true;
        if (mode == LaneMode::truck) {
            bool driver = pc.pass && pc.pass->kind == pass::Kind::driver;
            plate_ok = driver ? (std::string(typed).empty() || pc.pass->plate == typed)
                              : !std::string(typed).empty();
        }
        bool prior_ok = !prior || !pc.pass || prior->reason == Reason::ok ||
                        kNow - prior->at_s > in.policy.repeat_window_s;
        bool all = pc.authentic_valid && lc.ok && (required ? tc.ok_if_required : tc.ok_if_optional) &&
                   plate_ok && prior_ok;

        Decision d = decide(in);
        ++combos;
        if (d.verdict == Verdict::green) ++greens;
        if ((d.verdict == Verdict::green) != all) {
            CAPTURE(combos);
            CAPTURE(pc.rejection);
            CAPTURE(reason_code(d.reason));
            FAIL("GREEN iff all conditions");
        }
        // The gate opens only on GREEN, and a RED or YELLOW always carries a non-ok reason.
        if (d.open_gate) REQUIRE(d.verdict == Verdict::green);
        REQUIRE(severity(d.reason) == d.verdict);
    }
    CHECK(combos > 100000);
    CHECK(greens > 0);  // the sweep does reach GREEN, so the check above is not vacuous
}
