// Power loss, approximated by SIGKILL: checkpointd is killed at random moments
// while scans go on, ten times over one journal. After each kill every verdict
// it showed (a --json line is printed only after the journal commit) is in the
// journal, the database passes PRAGMA integrity_check, and the next start works.
#include "tests/e2e/lane_fixture.hpp"

#include <sqlite3.h>

#include <map>
#include <random>

using namespace cp;
using namespace cp::lanetest;

TEST_CASE("kill -9 at random moments: every verdict shown is journaled, the journal stays intact") {
    testing::TempDir tmp;
    World w(tmp.path());
    std::vector<Person> people;
    std::vector<std::pair<pass::PassId, status::Op>> list;
    const status::Op ops[] = {status::Op::green, status::Op::red, status::Op::yellow};
    for (int i = 0; i < 12; ++i) {
        pass::Pass p = w.make_pass(pass::Kind::resident, "张*明");
        list.emplace_back(p.id, ops[i % 3]);
        Person x = person("p" + std::to_string(i), p.name, w.issue(p, w.issuer), p.id, "", "");
        people.push_back(x);
    }
    w.install_list(list, w.now_s - 60);
    // Short appearances so that scans come quickly; a new person every ~15 frames.
    nlohmann::json script = lane_script(people, 8);
    for (auto& p : script["people"]) {
        p["arrive_frames"] = 0;
        p["leave_frames"] = 0;
        p["gap_frames"] = 4;
    }
    testing::write_file(tmp / "lane.json", script.dump());
    testing::write_file(tmp / "checkpointd.conf", config_text(tmp.path()));
    const fs::path db = tmp / "data" / "journal.db";

    std::mt19937 rng(std::random_device{}());
    const int kills = 10;
    const int scale = under_emulator() ? 5 : 1;
    std::uniform_int_distribution<int> delay_ms(1000 * scale, 7000 * scale);
    std::map<std::int64_t, nlohmann::json> shown;  // seq -> the line printed
    const auto started = std::chrono::steady_clock::now();
    for (int k = 0; k < kills; ++k) {
        CAPTURE(k);
        {
            Process d({"--config", (tmp / "checkpointd.conf").string(), "--board", board_file().string(), "--lane",
                       (tmp / "lane.json").string(), "--json"},
                      tmp / "checkpointd.log");
            d.read_for(delay_ms(rng));
            d.signal(SIGKILL);
            auto rc = d.wait(30'000 * scale);
            REQUIRE(rc.has_value());
            CHECK(*rc == 128 + SIGKILL);
            d.read_all(1000);  // what was printed before the kill is still in the pipe
            for (const auto& l : parse_lines(d.lines())) {
                if (l["journaled"].get<bool>()) shown[l["seq"].get<std::int64_t>()] = l;
            }
        }
        // After the "power loss": intact, and every verdict that was shown is there.
        INFO("daemon log:\n" << testing::read_file(tmp / "checkpointd.log"));
        if (!fs::exists(db)) {
            // Killed during start-up, before the journal was created: nothing can have been shown.
            CHECK(shown.empty());
            continue;
        }
        REQUIRE(integrity_check(db) == "ok");
        auto rows = journal_rows(db);
        std::map<std::int64_t, journal::ScanRecord> by_seq;
        for (auto& r : rows) by_seq[r.seq] = r;
        for (const auto& [seq, l] : shown) {
            CAPTURE(l.dump());
            auto it = by_seq.find(seq);
            REQUIRE(it != by_seq.end());
            CHECK(it->second.verdict == l["verdict"].get<std::string>());
            CHECK(it->second.pass_id == l["pass_id"].get<std::string>());
        }
        // Sequence numbers are never reused across restarts.
        std::int64_t prev = 0;
        for (const auto& r : rows) {
            CHECK(r.seq > prev);
            prev = r.seq;
        }
    }
    MESSAGE(shown.size() << " verdicts shown across " << kills << " kills in "
                         << std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started).count()
                         << " s");
    // Otherwise the test proved nothing.
    CHECK(shown.size() >= 3);
}
