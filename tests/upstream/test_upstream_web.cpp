// The live page in headless Chromium: the test takes a screenshot of the real page
// served by the real server, with data uploaded over mutual TLS. Skips (77) when
// Chromium is not installed.
#include "tests/upstream/upstream_fixture.hpp"

#include "src/common/time.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <fstream>

using nlohmann::json;
using namespace cp;
using namespace cp::upstream;

namespace {

std::string find_chromium() {
    for (const char* p : {"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"})
        if (std::filesystem::exists(p)) return p;
    return {};
}

}  // namespace

TEST_CASE("dashboard renders in headless Chromium") {
    const std::string chromium = find_chromium();
    if (chromium.empty()) {
        std::fprintf(stderr, "SKIP: chromium not installed (apt-get install chromium; tools/dev deps)\n");
        std::exit(cp::testing::kSkip);
    }
    cp::upstream::testing::Upstream up(/*web=*/true);
    for (const char* id : {"gate-01", "gate-02", "gate-03"}) up.enroll(id);
    REQUIRE(up.store->revoke_device("gate-03", 1).ok());
    const std::int64_t now = wall_now_ms() / 1000;
    std::int64_t seq = 0;
    for (const char* id : {"gate-01", "gate-02"}) {
        auto c = up.device(id);
        json scans = json::array();
        for (int i = 0; i < 40; ++i) {
            ++seq;
            std::string verdict = i % 13 == 0 ? "red" : "green";
            std::string reason = i % 13 == 0 ? "status-red" : (i % 17 == 5 ? "fever" : "ok");
            char pid[33];
            std::snprintf(pid, sizeof pid, "%032llx", static_cast<unsigned long long>(seq * 7919));
            scans.push_back({{"seq", i + 1}, {"scan_id", std::string(id) + "-" + std::to_string(i)},
                             {"pass_id", pid}, {"verdict", reason == "fever" ? "yellow" : verdict},
                             {"reason", reason},
                             {"temperature_c", reason == "fever" ? 38.3 : 36.5},
                             {"time", now - (40 - i) * 300}, {"lane", "in-1"}});
        }
        auto r = c->Post("/v1/scans", json{{"scans", scans}}.dump(), "application/json");
        REQUIRE(r);
        REQUIRE(r->status == 200);
        auto h = c->Post("/v1/heartbeat",
                         json{{"firmware", "0.1.0"}, {"list_version", 4},
                              {"backlog", std::string(id) == "gate-01" ? 0 : 153},
                              {"wall_time_ms", wall_now_ms()}}.dump(),
                         "application/json");
        REQUIRE(h);
        REQUIRE(h->status == 200);
    }

    cp::testing::TempDir profile;
    const auto png = up.tmp / "dashboard.png";
    const std::string url = "http://127.0.0.1:" + std::to_string(up.server->web_port()) + "/";
    // Virtual time lets the page's first fetch finish before the screenshot; `timeout`
    // bounds a hung browser.
    std::string cmd = "timeout 90 '" + chromium +
                      "' --headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
                      "--disable-background-networking --disable-component-update --disable-sync "
                      "--user-data-dir='" + profile.path().string() + "' --virtual-time-budget=5000 "
                      "--screenshot='" + png.string() + "' --window-size=1280,800 '" + url +
                      "' >'" + (up.tmp / "chromium.log").string() + "' 2>&1";
    int rc = std::system(cmd.c_str());
    if (rc != 0) std::fprintf(stderr, "%s\n", cp::testing::read_file(up.tmp / "chromium.log").c_str());
    REQUIRE(rc == 0);
    REQUIRE(std::filesystem::exists(png));
    const std::string data = cp::testing::read_file(png);
    CHECK(data.size() > 10000);  // an empty white page compresses to a few kB
    CHECK(data.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0);
    // Keep a copy for people to look at.
    if (const char* keep = std::getenv("CHECKPOINT_SCREENSHOT_DIR"); keep && *keep) {
        std::filesystem::create_directories(keep);
        std::filesystem::copy_file(png, std::filesystem::path(keep) / "upstream-dashboard.png",
                                   std::filesystem::copy_options::overwrite_existing);
    }
}
