#include "src/journal/journal.hpp"
#include "tests/status/cli_run.hpp"
#include "tests/testing.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <sstream>

using namespace cp::journal;
using cp::testing::run_checkpoint;
using cp::testing::shell_quote;
using cp::testing::TempDir;

TEST_CASE("journal tail prints the last rows as JSON lines, oldest first") {
    TempDir dir;
    auto path = dir / "journal.db";
    std::int64_t epoch = 0;
    {
        JournalOptions o;
        o.device_id = "gate-3";
        o.disk_floor_bytes = 0;
        auto j = ScanJournal::open(path.string(), o);
        REQUIRE(j.ok());
        epoch = (*j)->epoch();
        for (int i = 0; i < 5; ++i) {
            ScanRecord r;
            r.pass_id = "00112233445566778899aabbccddeeff";
            r.verdict = i == 4 ? "RED" : "GREEN";
            r.reason = i == 4 ? "fever" : "ok";
            r.temperature_c = 36.0 + i;
            r.device_id = "gate-3";
            REQUIRE((*j)->append(r).ok());
        }
    }
    auto run = run_checkpoint("journal tail -n 2 --db " + shell_quote(path.string()));
    REQUIRE(run.code == 0);
    std::istringstream lines(run.out);
    std::string line;
    std::vector<nlohmann::json> rows;
    while (std::getline(lines, line)) rows.push_back(nlohmann::json::parse(line));
    REQUIRE(rows.size() == 2);
    CHECK(rows[0]["seq"] == 4);
    CHECK(rows[1]["seq"] == 5);
    CHECK(rows[1]["verdict"] == "RED");
    CHECK(rows[1]["scan_id"] == "gate-3-" + std::to_string(epoch) + "-5");

    CHECK(run_checkpoint("journal tail --db " + shell_quote((dir / "none.db").string())).code == 2);
    CHECK_FALSE(std::filesystem::exists(dir / "none.db"));  // tail never creates a journal
    CHECK(run_checkpoint("journal tail -n zero --db " + shell_quote(path.string())).code == 2);
    CHECK(run_checkpoint("journal").code == 2);
}
