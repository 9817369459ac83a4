// A journal that cannot take the row (disk below the configured floor): the
// lane shows the decision (a RED stays RED) with the journal failure beside it,
// and the gate relay never moves.
#include "tests/e2e/lane_fixture.hpp"

#include <sys/statvfs.h>

#include <cstdio>

using namespace cp;
using namespace cp::lanetest;

namespace {
constexpr std::int64_t kFloor = 64LL << 30;  // the largest floor the config accepts

std::int64_t free_bytes(const fs::path& p) {
    struct statvfs v {};
    if (::statvfs(p.c_str(), &v) != 0) return -1;
    return static_cast<std::int64_t>(v.f_bavail) * static_cast<std::int64_t>(v.f_frsize);
}
}  // namespace

TEST_CASE("disk full: the verdict stays the decision, the failure is shown beside it, no gate pulse, no row") {
    // "Disk full" is the journal's free-space floor: a file system with less
    // free space than the floor is full as far as the journal is concerned.
    testing::TempDir tmp;
    fs::path dir = tmp.path();
    std::optional<fs::path> shm;
    if (free_bytes(dir) < 0 || free_bytes(dir) >= kFloor) {
        char templ[] = "/dev/shm/cp-test-XXXXXX";
        if (free_bytes("/dev/shm") > 0 && free_bytes("/dev/shm") < kFloor && ::mkdtemp(templ) != nullptr) {
            shm = fs::path(templ);
            dir = *shm;
        } else {
            std::printf("skip: no file system here with less than 64 GiB free\n");
            std::exit(testing::kSkip);
        }
    }
    struct Cleanup {
        std::optional<fs::path> p;
        ~Cleanup() {
            std::error_code ec;
            if (p) fs::remove_all(*p, ec);
        }
    } cleanup{shm};

    World w(dir);
    std::vector<Person> people;
    std::vector<std::pair<pass::PassId, status::Op>> list;
    for (int i = 0; i < 2; ++i) {
        pass::Pass p = w.make_pass(pass::Kind::resident, "张*明");
        list.emplace_back(p.id, status::Op::green);
        Person x = person("green " + std::to_string(i), p.name, w.issue(p, w.issuer), p.id, "GREEN", "ok");
        if (i == 1) x.extra["decision"] = "allow";  // a guard's allow cannot open it either
        people.push_back(x);
    }
    {
        // Isolated: RED must stay RED when the journal cannot record it.
        pass::Pass p = w.make_pass(pass::Kind::resident, "李*华");
        list.emplace_back(p.id, status::Op::red);
        people.push_back(person("red", p.name, w.issue(p, w.issuer), p.id, "RED", "status-red"));
    }
    w.install_list(list, w.now_s - 60);
    testing::write_file(dir / "lane.json", lane_script(people).dump());
    testing::write_file(dir / "checkpointd.conf",
                        config_text(dir, "gate",
                                    // the floor must stay below 4 x max_bytes
                                    "[journal]\nmax_bytes = " + std::to_string(kFloor / 2) +
                                        "\ndisk_floor_bytes = " + std::to_string(kFloor) + "\n"));
    Process d({"--config", (dir / "checkpointd.conf").string(), "--board", board_file().string(), "--lane",
               (dir / "lane.json").string(), "--json", "--exit-when-done"},
              dir / "checkpointd.log");
    auto rc = d.wait(under_emulator() ? 600'000 : 180'000);
    INFO("daemon log:\n" << testing::read_file(dir / "checkpointd.log"));
    REQUIRE(rc.has_value());
    CHECK(*rc == 0);
    d.read_all(2000);
    auto lines = parse_lines(d.lines());
    REQUIRE(lines.size() == people.size());
    for (std::size_t i = 0; i < lines.size(); ++i) {
        const auto& l = lines[i];
        CAPTURE(l.dump());
        CHECK(l["type"] == "scan");
        CHECK(l["verdict"] == people[i].verdict);
        CHECK(l["reason"] == people[i].reason);
        CHECK(l["journal_error"] == "disk-full");
        CHECK(l["journaled"] == false);
        CHECK(l["gate"] == false);
    }
    CHECK(count_relay_pulses(dir / "data" / "gpio-sim.log") == 0);
    CHECK(journal_rows(dir / "data" / "journal.db").empty());
    const std::string log = testing::read_file(dir / "checkpointd.log");
    CHECK(log.find("scan not journaled") != std::string::npos);
    CHECK(log.find("disk-full") != std::string::npos);
    CHECK(log.find("verdict=RED") != std::string::npos);
}
