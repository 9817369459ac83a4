// A whole lane through checkpointd: every person gets exactly the expected
// verdict, nobody who should not pass gets GREEN, the gate relay pulses once per
// GREEN, the journal holds one row per counted decision (plus the guard's manual
// rows) and never a name.
#include "tests/e2e/lane_fixture.hpp"

#include <algorithm>
#include <set>

using namespace cp;
using namespace cp::lanetest;

TEST_CASE("a gate lane: every person gets the expected verdict, journaled once, no names") {
    testing::TempDir tmp;
    World w(tmp.path());

    std::vector<Person> people;
    std::vector<std::pair<pass::PassId, status::Op>> list;
    auto add = [&](std::string label, std::string name, pass::Kind kind, std::optional<status::Op> op,
                   std::string verdict, std::string reason) -> Person& {
        pass::Pass p = w.make_pass(kind, name);
        Person x;
        x.label = std::move(label);
        x.masked_name = name;
        x.qr = w.issue(p, w.issuer);
        x.id = p.id;
        x.verdict = std::move(verdict);
        x.reason = std::move(reason);
        if (op) list.emplace_back(p.id, *op);
        people.push_back(x);
        return people.back();
    };
    add("green resident", "张*明", pass::Kind::resident, status::Op::green, "GREEN", "ok");
    add("red (isolated)", "李*华", pass::Kind::resident, status::Op::red, "RED", "status-red");
    {
        Person& y = add("yellow status, guard allows", "王*芳", pass::Kind::resident, status::Op::yellow, "YELLOW",
                        "status-yellow");
        y.extra["decision"] = "allow";
        y.manual = "GREEN";
    }
    add("unknown (not in list)", "赵*强", pass::Kind::resident, std::nullopt, "YELLOW", "not-in-list");
    {
        pass::Pass p = w.make_pass(pass::Kind::resident, "陈*伟");
        list.emplace_back(p.id, status::Op::green);
        people.push_back(person("rogue issuer key", "陈*伟", w.issue(p, w.rogue), std::nullopt, "YELLOW",
                                "unknown-issuer"));
    }
    {
        pass::Pass p = w.make_pass(pass::Kind::resident, "钱*峰");
        list.emplace_back(p.id, status::Op::green);
        people.push_back(person("forged with the trusted kid", "钱*峰", w.forge_with_trusted_kid(p), std::nullopt,
                                "RED", "forged"));
    }
    {
        pass::Pass p = w.make_pass(pass::Kind::resident, "刘*洋", -400 * 86400, -2 * 86400);
        list.emplace_back(p.id, status::Op::green);
        people.push_back(person("expired", "刘*洋", w.issue(p, w.issuer), p.id, "RED", "expired"));
    }
    add("feverish", "杨*静", pass::Kind::resident, status::Op::green, "RED", "fever").temperature_c = 38.4;
    add("entry registration", "周*杰", pass::Kind::entry, status::Op::green, "GREEN", "ok");
    add("thermometer fault", "吴*丽", pass::Kind::resident, status::Op::green, "YELLOW", "sensor-fault")
        .extra["thermometer"] = "no-device";
    {
        // The green resident again, within the repeat window: shown, not counted.
        Person again = people.front();
        again.label = "green resident again";
        again.repeat = true;
        again.extra["gap_frames"] = 40;  // out of view past the hold-off: the next scan is a new one
        people.push_back(again);
        // Once more, now with a fever: worse than the GREEN shown, so not a repeat;
        // counted and journaled (it must reach the command centre's alerts).
        Person fever = people.front();
        fever.label = "green resident again, now feverish";
        fever.temperature_c = 38.5;
        fever.verdict = "RED";
        fever.reason = "fever";
        people.push_back(fever);
    }
    w.install_list(list, w.now_s - 600);

    testing::write_file(tmp / "lane.json", lane_script(people).dump());
    testing::write_file(tmp / "checkpointd.conf", config_text(tmp.path(), "gate",
                                                                  // a slow (emulated, loaded) run still repeats within it
                                                                  "[policy]\nrepeat_window_s = 3600\n"));
    Process d({"--config", (tmp / "checkpointd.conf").string(), "--board", board_file().string(), "--lane",
               (tmp / "lane.json").string(), "--json", "--exit-when-done"},
              tmp / "checkpointd.log");
    auto rc = d.wait(under_emulator() ? 900'000 : 240'000);
    INFO("daemon log:\n" << testing::read_file(tmp / "checkpointd.log"));
    REQUIRE(rc.has_value());
    CHECK(*rc == 0);
    d.read_all(2000);
    auto lines = parse_lines(d.lines());
    for (const auto& l : lines) MESSAGE(l.dump());

    // Each person's scan line, found by pass id (or by reason for passes that are not authentic).
    std::set<std::size_t> used;
    int expected_journaled = 0, expected_gate = 0;
    for (const auto& p : people) {
        CAPTURE(p.label);
        std::optional<std::size_t> found;
        for (std::size_t i = 0; i < lines.size(); ++i) {
            const auto& l = lines[i];
            if (used.count(i) || l["type"] != "scan") continue;
            const bool id_match = p.id ? l["pass_id"] == pass::id_hex(*p.id) : l["pass_id"].is_null() && l["reason"] == p.reason;
            if (id_match && l["repeat"].get<bool>() == p.repeat) {
                found = i;
                break;
            }
        }
        REQUIRE_MESSAGE(found.has_value(), "no scan line for " << p.label);
        used.insert(*found);
        const auto& l = lines[*found];
        CHECK(l["verdict"] == p.verdict);
        CHECK(l["reason"] == p.reason);
        CHECK(l["journaled"].get<bool>() == !p.repeat);
        if (!p.repeat) ++expected_journaled;
        if (p.verdict == "GREEN" && !p.repeat) ++expected_gate;
        if (!p.manual.empty()) {
            bool manual_found = false;
            for (const auto& m : lines) {
                if (m["type"] == "manual" && m["ref_seq"] == l["seq"]) {
                    manual_found = true;
                    CHECK(m["verdict"] == p.manual);
                    CHECK(m["journaled"].get<bool>());
                }
            }
            CHECK_MESSAGE(manual_found, "no manual line for " << p.label);
            ++expected_journaled;
            if (p.manual == "GREEN") ++expected_gate;
        }
    }
    // Nothing else was decided: one scan per person, the manual rows, no extras.
    const auto scans = std::count_if(lines.begin(), lines.end(), [](const auto& l) { return l["type"] == "scan"; });
    CHECK(static_cast<std::size_t>(scans) == people.size());

    // Zero GREEN for anyone who should not pass.
    std::set<std::string> may_pass;
    for (const auto& p : people) {
        if ((p.verdict == "GREEN" || p.manual == "GREEN") && p.id) may_pass.insert(pass::id_hex(*p.id));
    }
    for (const auto& l : lines) {
        if (l["verdict"] == "GREEN") {
            CHECK_MESSAGE(may_pass.count(l["pass_id"].is_string() ? l["pass_id"].get<std::string>() : "") == 1,
                          "GREEN for " << l.dump());
        }
    }

    // The relay pulsed once per counted GREEN (the repeat opens nothing).
    CHECK(count_relay_pulses(tmp / "data" / "gpio-sim.log") == expected_gate);

    // The journal: exactly one row per journaled line, with the same content.
    auto rows = journal_rows(tmp / "data" / "journal.db");
    CHECK(static_cast<int>(rows.size()) == expected_journaled);
    for (const auto& l : lines) {
        if (!l["journaled"].get<bool>()) continue;
        auto it = std::find_if(rows.begin(), rows.end(), [&](const auto& r) { return r.seq == l["seq"].get<std::int64_t>(); });
        REQUIRE(it != rows.end());
        CHECK(it->verdict == l["verdict"].get<std::string>());
        CHECK(it->reason == l["reason"].get<std::string>());
        CHECK(it->pass_id == (l["pass_id"].is_null() ? std::string() : l["pass_id"].get<std::string>()));
        CHECK(it->type == (l["type"] == "manual" ? journal::RowType::manual : journal::RowType::scan));
    }

    // No names in the journal's bytes (database, WAL, anything beside it).
    std::string bytes;
    for (const auto& e : fs::directory_iterator(tmp / "data")) {
        if (e.path().filename().string().rfind("journal.db", 0) == 0) bytes += testing::read_file(e.path());
    }
    REQUIRE(!bytes.empty());
    for (const auto& p : people) {
        CAPTURE(p.masked_name);
        CHECK(bytes.find(p.masked_name) == std::string::npos);
    }
}
