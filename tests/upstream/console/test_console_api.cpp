// The console's API called directly, as the page would, by operators at different
// levels: scope (another grid's objects answer 404 exactly as missing ones), login
// lockout, CSRF, session expiry, logout, password change, status end dates, the
// worklist and automatic publishing.
#include "tests/upstream/console/console_fixture.hpp"

#include "src/common/time.hpp"
#include "tools/upstream/console/import.hpp"
#include "tools/upstream/reasons.hpp"

#include <doctest/doctest.h>
#include "tools/upstream/sql_db.hpp"

#include <chrono>
#include <sys/wait.h>
#include <thread>

using namespace cp;
using namespace cp::upstream;
using namespace cp::upstream::console;
using namespace cp::upstream::console::testing;

namespace {

bool has_pass(const json& list, const std::string& id) {
    for (const auto& p : list)
        if (p["pass_id"] == id) return true;
    return false;
}

bool mentions(const json& j, const std::string& text) { return j.dump().find(text) != std::string::npos; }

}  // namespace

TEST_CASE("migrations are numbered and applied once") {
    City city;
    auto v = city.store->schema_version();
    REQUIRE(v.ok());
    CHECK(*v >= 150);  // up to the traveller tables (150)
    // Opening the same database again applies nothing twice and keeps the data.
    auto again = open_console_store(city.db);
    REQUIRE(again.ok());
    CHECK(*(*again)->schema_version() == *v);
    CHECK((*again)->areas(Scope{"/hg/", true})->size() == 7);
    auto raw = on_postgresql() ? open_pg_db(city.db) : open_sqlite_db(city.db, false);
    REQUIRE(raw.ok());
    SqlDb& db = **raw;
    // The audit log refuses changes of past entries (triggers on both backends).
    CHECK_FALSE(db.exec("UPDATE audit SET actor = 'x'").ok());
    CHECK_FALSE(db.exec("DELETE FROM audit").ok());
    if (on_postgresql()) CHECK_FALSE(db.exec("TRUNCATE audit").ok());
    // A database made before step 2 gets step 2 (and only it) when opened.
    REQUIRE(db.exec("DROP INDEX status_terms_until; DELETE FROM schema_migrations WHERE version = 2").ok());
    auto upgraded = open_console_store(city.db);
    REQUIRE(upgraded.ok());
    CHECK(*(*upgraded)->schema_version() == *v);
    Stmt q(&db, on_postgresql() ? "SELECT count(*) FROM pg_indexes WHERE indexname = 'status_terms_until'"
                                : "SELECT count(*) FROM sqlite_master WHERE name = 'status_terms_until'");
    REQUIRE(*q.step());
    CHECK(q.i64(0) == 1);
}

TEST_CASE("grid A worker can neither read nor change grid B: 404 as if missing") {
    City city;
    // Grid B has a RED scan at its own gate, a worklist item and an audit entry.
    city.scan("gate-02", 1, kPassB, "red", "status-red");
    city.scan("gate-01", 1, kPassA, "green", "ok");
    REQUIRE(city.store->refresh_worklist(city.now_s()).ok());
    Client b(city);
    REQUIRE(b.login("worker-b").status == 200);
    REQUIRE(b.post(std::string("/api/passes/") + kPassB + "/status",
                   {{"status", "yellow"}, {"reason", "travel-check"}}).status == 200);

    Client a(city);
    REQUIRE(a.login("worker-a").status == 200);
    const std::string missing = "cccccccccccccccccccccccccccccccc";

    SUBCASE("residents") {
        auto list = a.get("/api/passes");
        REQUIRE(list.status == 200);
        CHECK(has_pass(list.body["passes"], kPassA));
        CHECK_FALSE(has_pass(list.body["passes"], kPassB));
        CHECK(a.get("/api/passes?grid=gb").body["passes"].empty());
        auto other = a.get(std::string("/api/passes/") + kPassB);
        auto none = a.get("/api/passes/" + missing);
        CHECK(other.status == 404);
        CHECK(none.status == 404);
        CHECK(other.body == none.body);  // nothing tells "exists elsewhere" from "missing"
        auto change = a.post(std::string("/api/passes/") + kPassB + "/status",
                             {{"status", "red"}, {"reason", "home-isolation"}});
        CHECK(change.status == 404);
        CHECK(city.store->pass(kPassB, Scope{"/hg/", true})->status == PassStatus::yellow);
        auto csv = a.post("/api/statuses/import", {{"csv", std::string(kPassA) + ",red,home-isolation\n" +
                                                              kPassB + ",red,home-isolation\n"}});
        CHECK(csv.status == 404);
        // All or nothing: grid A's own line was not applied either.
        CHECK(city.store->pass(kPassA, Scope{"/hg/", true})->status == PassStatus::green);
        // Moving grid B's pass into grid A is a write in grid B.
        CHECK(a.post("/api/passes/import", {{"csv", std::string(kPassB) + ",ga,x"}}).status == 404);
        CHECK(city.store->pass(kPassB, Scope{"/hg/", true})->grid == "gb");
    }
    SUBCASE("scans") {
        auto scans = a.get("/api/scans");
        REQUIRE(scans.status == 200);
        CHECK(scans.body["scans"].size() == 1);
        CHECK_FALSE(mentions(scans.body, "gate-02"));
        CHECK_FALSE(mentions(scans.body, kPassB));
    }
    SUBCASE("devices and sites") {
        CHECK(a.get("/api/devices/gate-02").status == 404);
        CHECK(a.get("/api/devices/gate-99").status == 404);
        CHECK(a.get("/api/devices/gate-01").status == 200);
        auto devs = a.get("/api/devices");
        CHECK(devs.body["devices"].size() == 1);
        CHECK_FALSE(mentions(devs.body, "gate-02"));
        CHECK_FALSE(mentions(a.get("/api/sites").body, "site-b"));
        CHECK(a.post("/api/devices/gate-02/site", {{"site", "site-a"}}).status == 404);
        CHECK(a.post("/api/devices/gate-02/revoke").status == 404);
        CHECK(a.post("/api/sites", {{"code", "x1"}, {"area", "gb"}, {"name", "n"}, {"kind", "gate"}}).status == 404);
    }
    SUBCASE("worklist") {
        auto wl = a.get("/api/worklist?all=1");
        REQUIRE(wl.status == 200);
        CHECK(wl.body["worklist"].empty());
        auto bl = b.get("/api/worklist");
        REQUIRE(bl.body["worklist"].size() == 1);
        const auto id = bl.body["worklist"][0]["id"].get<std::int64_t>();
        CHECK(a.post("/api/worklist/" + std::to_string(id) + "/claim").status == 404);
        CHECK(a.post("/api/worklist/" + std::to_string(id) + "/resolve", {{"outcome", "verified-ok"}}).status == 404);
        CHECK(a.post("/api/worklist/999999/claim").status == 404);
        CHECK(b.get("/api/worklist").body["worklist"][0]["claimed_by"] == "");
    }
    SUBCASE("audit") {
        auto log = a.get("/api/audit");
        REQUIRE(log.status == 200);
        CHECK_FALSE(mentions(log.body, kPassB));
        CHECK_FALSE(mentions(log.body, "worker-b"));
        // The levels above read it.
        Client chief(city);
        REQUIRE(chief.login("chief").status == 200);
        CHECK(mentions(chief.get("/api/audit").body, kPassB));
        Client street(city);  // street 1 is above grid A only
        REQUIRE(street.login("street-1").status == 200);
        CHECK_FALSE(mentions(street.get("/api/audit").body, kPassB));
        CHECK(mentions(street.get("/api/audit").body, "worker-a"));
    }
    SUBCASE("areas, operators, big screen") {
        auto areas = a.get("/api/areas");
        CHECK(areas.body["areas"].size() == 1);
        CHECK_FALSE(mentions(areas.body, "gb"));
        CHECK_FALSE(mentions(a.get("/api/operators").body, "worker-b"));
        auto big = a.get("/api/bigscreen");
        REQUIRE(big.status == 200);
        CHECK_FALSE(mentions(big.body, "gate-02"));
        CHECK_FALSE(mentions(big.body, "\"gb\""));
        CHECK(a.post("/api/areas/gb", {{"name_zh", "x"}}).status == 404);
        CHECK(a.post("/api/areas", {{"parent", "gb"}, {"code", "x"}, {"name_zh", "x"}}).status == 404);
        CHECK(a.post("/api/operators", {{"username", "spy"}, {"role", "grid"}, {"area", "gb"},
                                        {"password", "0123456789ab"}}).status == 404);
    }
}

TEST_CASE("levels above see and change their subtree; the big screen only reads") {
    City city;
    Client chief(city), district(city), wall(city);
    REQUIRE(chief.login("chief").status == 200);
    REQUIRE(district.login("district-1").status == 200);
    REQUIRE(wall.login("wall").status == 200);
    CHECK(chief.get("/api/passes").body["passes"].size() == 2);
    CHECK(district.get("/api/passes").body["passes"].size() == 1);
    CHECK(district.get(std::string("/api/passes/") + kPassB).status == 404);
    CHECK(district.post(std::string("/api/passes/") + kPassA + "/status",
                        {{"status", "red"}, {"reason", "close-contact"}}).status == 200);
    CHECK(wall.get("/api/bigscreen").status == 200);
    CHECK(wall.get("/api/passes").body["passes"].size() == 2);
    CHECK(wall.post(std::string("/api/passes/") + kPassA + "/status", {{"status", "green"}}).status == 403);
    CHECK(city.store->pass(kPassA, Scope{"/hg/", true})->status == PassStatus::red);
    // Accounts are made by an operator above: a district makes a grid worker below it,
    // not one in the other district and not another district.
    CHECK(district.post("/api/operators", {{"username", "worker-a2"}, {"role", "grid"}, {"area", "ga"},
                                           {"password", "0123456789ab"}}).status == 200);
    CHECK(district.post("/api/operators", {{"username", "d1b"}, {"role", "district"}, {"area", "d1"},
                                           {"password", "0123456789ab"}}).status == 404);
    CHECK(district.post("/api/operators", {{"username", "wb"}, {"role", "grid"}, {"area", "gb"},
                                           {"password", "0123456789ab"}}).status == 404);
    CHECK(district.post("/api/operators", {{"username", "weak"}, {"role", "grid"}, {"area", "ga"},
                                           {"password", "short"}}).status == 400);
    Client a2(city);
    CHECK(a2.login("worker-a2", "0123456789ab").status == 200);
    // Areas are renamed by the level above, not by the node's own operator.
    CHECK(district.post("/api/areas/s1", {{"name_zh", "红军街道办"}, {"name_en", "Hongjun"}}).status == 200);
    CHECK(district.post("/api/areas/d1", {{"name_zh", "自己"}}).status == 404);
    CHECK(district.post("/api/areas/s2", {{"name_zh", "别处"}}).status == 404);
    CHECK(city.store->area("s1", nullptr)->name_zh == "红军街道办");
    // Only the city enrolls devices, from the certificate, at a site.
    const std::string pem = cp::testing::read_file(city.pki / "device-gate-03.crt");
    CHECK(district.post("/api/devices/enroll", {{"certificate", pem}, {"site", "site-a"}}).status == 403);
    CHECK(chief.post("/api/devices/enroll", {{"certificate", "not a certificate"}}).status == 400);
    auto enrolled = chief.post("/api/devices/enroll", {{"certificate", pem}, {"site", "site-a"}});
    CHECK(enrolled.status == 200);
    CHECK(enrolled.body["id"] == "gate-03");
    CHECK(district.get("/api/devices/gate-03").status == 200);  // site A is in district 1
    // Only the city revokes devices.
    CHECK(district.post("/api/devices/gate-01/revoke").status == 403);
    CHECK(chief.post("/api/devices/gate-01/revoke").status == 200);
    CHECK((*city.up->find_device("gate-01"))->revoked);
}

TEST_CASE("wrong passwords lock the account, for unknown names too") {
    City city;
    Client c(city);
    for (int i = 0; i < 5; ++i) CHECK(c.login("worker-a", "wrong password!").status == 401);
    auto locked = c.login("worker-a");  // the right password, too late
    CHECK(locked.status == 429);
    CHECK(locked.body["reason"] == "locked");
    for (int i = 0; i < 5; ++i) CHECK(c.login("nobody-here", "wrong password!").status == 401);
    CHECK(c.login("nobody-here").body["reason"] == "locked");
    // The lock ends with the window.
    city.offset_ms += 16 * 60 * 1000;
    CHECK(c.login("worker-a").status == 200);
    // Failed attempts of a known account are audited.
    Client chief(city);
    REQUIRE(chief.login("chief").status == 200);
    CHECK(mentions(chief.get("/api/audit").body, "login-failed"));
}

TEST_CASE("state changes without the CSRF token are refused") {
    City city;
    Client a(city);
    REQUIRE(a.login("worker-a").status == 200);
    const std::string path = std::string("/api/passes/") + kPassA + "/status";
    const json red = {{"status", "red"}, {"reason", "home-isolation"}};
    auto none = a.post(path, red, /*with_csrf=*/false);
    CHECK(none.status == 403);
    CHECK(none.body["reason"] == "csrf");
    Client forged = a;
    forged.csrf = std::string(64, '0');
    CHECK(forged.post(path, red).status == 403);
    // A form post (what a cross-site page can send) is refused even with the token.
    CHECK(a.post(path, red, true, "application/x-www-form-urlencoded").status == 415);
    CHECK(a.post("/api/logout", json::object(), false).status == 403);
    CHECK(city.store->pass(kPassA, Scope{"/hg/", true})->status == PassStatus::green);
    CHECK(a.post(path, red).status == 200);
}

TEST_CASE("sessions expire when idle and at their absolute limit; logout ends them") {
    City city;
    Client a(city);
    REQUIRE(a.login("worker-a").status == 200);
    CHECK(a.get("/api/me").status == 200);
    city.offset_ms += 16 * 60 * 1000;  // idle 16 min > 15
    auto idle = a.get("/api/me");
    CHECK(idle.status == 401);
    CHECK(idle.body["reason"] == "session-expired");

    REQUIRE(a.login("worker-a").status == 200);
    for (int i = 0; i < 80; ++i) {  // busy for over 13 h, 10 min between requests
        city.offset_ms += 10 * 60 * 1000;
        if (a.get("/api/me").status != 200) break;
    }
    CHECK(a.get("/api/me").status == 401);

    REQUIRE(a.login("worker-a").status == 200);
    const std::string cookie = a.cookie;
    auto out = a.post("/api/logout");
    CHECK(out.status == 200);
    CHECK(out.headers.find("Set-Cookie")->second.find("Max-Age=0") != std::string::npos);
    Client stale = a;
    stale.cookie = cookie;
    CHECK(stale.get("/api/me").status == 401);
}

TEST_CASE("session cookie and page headers") {
    City city;
    Client a(city);
    auto r = a.http()->Post("/api/login", json{{"username", "worker-a"}, {"password", kPassword}}.dump(),
                            "application/json");
    REQUIRE(r);
    const std::string sc = r->get_header_value("Set-Cookie");
    CHECK(sc.rfind("__Host-cc_session=", 0) == 0);
    for (const char* attr : {"HttpOnly", "Secure", "SameSite=Strict", "Path=/"})
        CHECK(sc.find(attr) != std::string::npos);
    auto page = a.http()->Get("/");
    REQUIRE(page);
    const std::string csp = page->get_header_value("Content-Security-Policy");
    CHECK(csp.find("default-src 'none'") != std::string::npos);
    CHECK(csp.find("script-src 'self'") != std::string::npos);
    CHECK(csp.find("unsafe-inline") == std::string::npos);
    CHECK(page->body.find("<script>") == std::string::npos);   // no inline script
    CHECK(page->body.find("http://") == std::string::npos);    // no CDN
    CHECK(page->body.find("https://") == std::string::npos);
    CHECK(a.http()->Get("/app.js")->body.find("innerHTML") == std::string::npos);
}

TEST_CASE("password change ends every session; the new password works, the old does not") {
    City city;
    Client a(city), other(city);
    REQUIRE(a.login("worker-a").status == 200);
    REQUIRE(other.login("worker-a").status == 200);
    CHECK(a.post("/api/password", {{"old", "not it at all"}, {"new", "a new passphrase"}}).status == 403);
    CHECK(a.post("/api/password", {{"old", kPassword}, {"new", "short"}}).status == 400);
    CHECK(a.post("/api/password", {{"old", kPassword}, {"new", "a new passphrase"}}).status == 200);
    CHECK(other.get("/api/me").status == 401);
    CHECK(a.login("worker-a").status == 401);
    CHECK(a.login("worker-a", "a new passphrase").status == 200);
}

TEST_CASE("a red status with an end date returns to green by itself and opens a worklist item") {
    City city;
    Client a(city);
    REQUIRE(a.login("worker-a").status == 200);
    const std::string until = format_iso8601(city.now_s() + 2 * 86400);
    auto r = a.post(std::string("/api/passes/") + kPassA + "/status",
                    {{"status", "red"}, {"reason", "home-isolation"}, {"until", until}});
    REQUIRE(r.status == 200);
    CHECK(r.body["status"] == "red");
    CHECK(a.post(std::string("/api/passes/") + kPassA + "/status",
                 {{"status", "red"}, {"reason", "home-isolation"}, {"until", "2001-01-01"}}).status == 400);
    CHECK(a.post(std::string("/api/passes/") + kPassA + "/status", {{"status", "red"}}).status == 400);
    city.server->run_jobs_once();
    CHECK(a.get(std::string("/api/passes/") + kPassA).body["status"] == "red");
    city.offset_ms += 3LL * 86400 * 1000;
    city.server->run_jobs_once();
    REQUIRE(a.login("worker-a").status == 200);  // the old session idled out meanwhile
    CHECK(a.get(std::string("/api/passes/") + kPassA).body["status"] == "green");
    auto log = a.get("/api/audit");
    REQUIRE(log.body["audit"].size() > 0);
    bool system_entry = false;
    for (const auto& e : log.body["audit"])
        if (e["actor"] == "system" && e["object"] == kPassA && e["to"] == "green") system_entry = true;
    CHECK(system_entry);
    auto wl = a.get("/api/worklist");
    REQUIRE(wl.body["worklist"].size() == 1);
    CHECK(wl.body["worklist"][0]["kind"] == "isolation-ended");
}

TEST_CASE("worklist: RED and fever scans of a grid's residents at any gate; claim and resolve are audited") {
    City city;
    // Grid A's resident is refused at grid B's supermarket, then has a fever there.
    city.scan("gate-02", 1, kPassA, "red", "status-red");
    city.scan("gate-02", 2, kPassA, "yellow", "fever", 38.4);
    city.scan("gate-02", 3, kPassA, "green", "ok");
    city.server->run_jobs_once();
    Client a(city), a2(city);
    REQUIRE(a.login("worker-a").status == 200);
    auto wl = a.get("/api/worklist");
    REQUIRE(wl.body["worklist"].size() == 2);
    const auto id = wl.body["worklist"][0]["id"].get<std::int64_t>();
    const std::string base = "/api/worklist/" + std::to_string(id);
    CHECK(a.post(base + "/claim").status == 200);
    city.add_operator("worker-a3", Role::grid, "ga");
    REQUIRE(a2.login("worker-a3").status == 200);
    CHECK(a2.post(base + "/claim").status == 409);  // claimed by someone else
    CHECK(a.post(base + "/resolve", {{"outcome", "Bad Outcome"}}).status == 400);
    CHECK(a.post(base + "/resolve", {{"outcome", "home-isolation"}, {"note", "门口测温 37.9"}}).status == 200);
    CHECK(a.post(base + "/resolve", {{"outcome", "verified-ok"}}).status == 409);
    CHECK(a.get("/api/worklist").body["worklist"].size() == 1);
    auto log = a.get("/api/audit").body.dump();
    CHECK(log.find("work-claim") != std::string::npos);
    CHECK(log.find("work-resolve") != std::string::npos);
    // The same scans do not open items twice.
    city.server->run_jobs_once();
    CHECK(a.get("/api/worklist?all=1").body["worklist"].size() == 2);
}

TEST_CASE("text from operators is returned as data, never as markup") {
    City city;
    Client chief(city);
    REQUIRE(chief.login("chief").status == 200);
    const std::string evil = "<img src=x onerror=alert(1)>";
    CHECK(chief.post("/api/areas", {{"parent", "s1"}, {"code", "gx"}, {"name_zh", evil}, {"name_en", "</script>"}})
              .status == 200);
    CHECK(chief.post("/api/sites", {{"code", "site-x"}, {"area", "gx"}, {"name", evil}, {"kind", "gate"}}).status ==
          200);
    auto areas = chief.get("/api/areas");
    CHECK(areas.headers.find("Content-Type")->second.rfind("application/json", 0) == 0);
    CHECK(areas.headers.find("X-Content-Type-Options")->second == "nosniff");
    CHECK(mentions(areas.body, evil));  // stored verbatim; the page sets it with textContent
    // Control characters and malformed UTF-8 are refused.
    CHECK(chief.post("/api/areas", {{"parent", "s1"}, {"code", "gy"}, {"name_zh", "a\nb"}}).status == 400);
    CHECK(chief.post("/api/areas", {{"parent", "s1"}, {"code", "g<"}, {"name_zh", "x"}}).status == 400);
    CHECK(chief.post(std::string("/api/passes/") + kPassA + "/status",
                     {{"status", "red"}, {"reason", "<script>"}}).status == 400);
}

TEST_CASE("changed statuses are published automatically within the interval") {
    City city(/*with_signer=*/true, /*publish_interval_s=*/1);
    Client a(city);
    REQUIRE(a.login("worker-a").status == 200);
    const auto before = *city.up->latest_list_version();
    REQUIRE(a.post(std::string("/api/passes/") + kPassA + "/status",
                   {{"status", "red"}, {"reason", "home-isolation"}}).status == 200);
    std::int64_t v = before;
    for (int i = 0; i < 200 && v == before; ++i) {  // at most 20 s on a loaded machine
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        v = *city.up->latest_list_version();
    }
    CHECK(v == before + 1);
    auto pub = city.up->published_entries();
    REQUIRE(pub.ok());
    bool red = false;
    for (const auto& e : *pub)
        if (e.pass_id == kPassA && e.status == PassStatus::red) red = true;
    CHECK(red);
    // Nothing changed: no new version; manual publish says so.
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    CHECK(*city.up->latest_list_version() == v);
    Client chief(city);
    REQUIRE(chief.login("chief").status == 200);
    CHECK(chief.post("/api/publish").status == 409);
    CHECK(a.post("/api/publish").status == 403);
}

TEST_CASE("area import: CSV and JSON, all or nothing") {
    auto csv = parse_areas_csv("code,parent,name_zh,name_en\ng9,s9,网格9,\ns9,d9,街道9,Street 9\n");
    REQUIRE(csv.ok());
    REQUIRE(csv->size() == 2);
    CHECK((*csv)[0].code == "s9");  // parents first
    CHECK_FALSE(parse_areas_csv("a,b\n").ok());
    CHECK_FALSE(parse_areas_csv("x,,\"quoted\",\n").ok());
    CHECK_FALSE(parse_areas_csv("x,x,名,\ny,,名,\ny,,名,\n").ok());  // duplicate
    auto js = parse_areas_json(R"({"code":"c","name_zh":"市","children":[{"code":"d","name_zh":"区",
        "children":[{"code":"s","name_zh":"街","children":[{"code":"g","name_zh":"格"}]}]}]})");
    REQUIRE(js.ok());
    CHECK(js->size() == 4);
    CHECK((*js)[3].parent == "s");
    CHECK_FALSE(parse_areas_json("[1,2]").ok());
    CHECK_FALSE(parse_areas_json("{").ok());

    City city;
    // A batch with one bad node adds nothing.
    auto bad = city.store->add_areas({{"s7", "d1", Level::city, "街道7", "", ""},
                                      {"g7", "s7", Level::city, "网格7", "", ""},
                                      {"g8", "nowhere", Level::city, "网格8", "", ""}},
                                     nullptr);
    CHECK_FALSE(bad.ok());
    CHECK(city.store->areas(Scope{"/hg/", true})->size() == 7);
    // A grid has no children; a second city is refused.
    CHECK_FALSE(city.store->add_area({"x1", "ga", Level::city, "x", "", ""}, nullptr).ok());
    CHECK_FALSE(city.store->add_area({"hz", "", Level::city, "另一市", "", ""}, nullptr).ok());
}

TEST_CASE("upstream operator add: the password from stdin or a file, never a default") {
    const char* bin = std::getenv("CHECKPOINT_BIN");
    if (bin == nullptr || !std::filesystem::exists(std::string(bin) + "/upstream")) {
        MESSAGE("skipped: CHECKPOINT_BIN/upstream not built");
        return;
    }
    cp::testing::TempDir tmp;
    const std::string up = std::string(bin) + "/upstream", db = fresh_db(tmp);
    cp::testing::write_file(tmp / "areas.csv", "hg,,鹤岗市,Hegang\nd1,hg,向阳区,\n");
    cp::testing::write_file(tmp / "short.txt", "short\n");
    cp::testing::write_file(tmp / "good.txt", "a long enough passphrase\n");
    auto sh = [&](const std::string& cmd) {
        int rc = std::system((cmd + " >/dev/null 2>&1").c_str());
        return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    };
    const std::string base = "'" + up + "' operator add --db '" + db + "' --username chief --role city --area hg";
    CHECK(sh("'" + up + "' areas import --db '" + db + "' --csv '" + (tmp / "areas.csv").string() + "'") == 0);
    CHECK(sh(base + " --password 'a long enough passphrase'") == 2);  // no such option
    CHECK(sh(base + " </dev/null") == 1);                             // empty stdin: no account
    CHECK(sh(base + " --password-file '" + (tmp / "short.txt").string() + "'") == 1);
    CHECK(sh("'" + up + "' operator add --db '" + db + "' --username dd --role grid --area d1 --password-file '" +
             (tmp / "good.txt").string() + "'") == 1);  // a grid role at a district node
    CHECK(sh("echo 'a long enough passphrase' | " + base) == 0);
    CHECK(sh("echo 'a long enough passphrase' | " + base) == 1);  // exists
    auto store_up = open_store(db);
    REQUIRE(store_up.ok());
    auto st = open_console_store(db);
    REQUIRE(st.ok());
    auto op = (*st)->find_operator("chief");
    REQUIRE(op.ok());
    REQUIRE(op->has_value());
    CHECK((**op).pw_hash.rfind("$argon2id$", 0) == 0);
    CHECK(verify_password((**op).pw_hash, "a long enough passphrase"));
    CHECK(*(*st)->operator_count() == 1);
    // A lost password is reset on the host, the same way.
    CHECK(sh("echo 'another long passphrase' | '" + up + "' operator passwd --db '" + db + "' --username chief") == 0);
    CHECK(sh("echo 'another long passphrase' | '" + up + "' operator passwd --db '" + db + "' --username nobody") == 1);
    CHECK(verify_password((*(*st)->find_operator("chief"))->pw_hash, "another long passphrase"));
}

TEST_CASE("console: each error body has one spelling of its kind and its typed reason") {
    City city;
    auto expect = [](const Reply& r, int status, ErrorKind kind, Reason reason) {
        CHECK(r.status == status);
        CHECK(r.body.value("error", "") == to_string(kind));
        CHECK(r.body.value("reason", "") == reason.code);
    };
    Client anon(city);
    expect(anon.get("/api/me"), 401, ErrorKind::rejected, upstream::reason::login);
    expect(anon.login("worker-a", "wrong password"), 401, ErrorKind::rejected, upstream::reason::credentials);
    expect(anon.get("/api/nothing-here"), 404, ErrorKind::not_found, upstream::reason::http);

    Client a(city);
    REQUIRE(a.login("worker-a").status == 200);
    const std::string own = std::string("/api/passes/") + kPassA + "/status";
    expect(a.post(own, {{"status", "red"}}, /*with_csrf=*/false), 403, ErrorKind::rejected,
           upstream::reason::csrf);
    expect(a.post(own, {{"status", "red"}}, true, "text/plain"), 415, ErrorKind::invalid_input,
           upstream::reason::content_type);
    expect(a.post(own, {{"status", "purple"}}), 400, ErrorKind::invalid_input, upstream::reason::status);
    expect(a.post(own, {{"status", "red"}, {"until", "soon"}}), 400, ErrorKind::invalid_input,
           upstream::reason::until);
    // Another grid's pass and a missing one answer alike.
    expect(a.get(std::string("/api/passes/") + kPassB), 404, ErrorKind::not_found, upstream::reason::not_found);
    expect(a.post("/api/publish"), 403, ErrorKind::rejected, upstream::reason::role);

    Client wall(city);
    REQUIRE(wall.login("wall").status == 200);
    expect(wall.post(own, {{"status", "red"}}), 403, ErrorKind::rejected, upstream::reason::read_only);

    Client chief(city);
    REQUIRE(chief.login("chief").status == 200);
    expect(chief.post("/api/publish"), 503, ErrorKind::unavailable, upstream::reason::signer);
}

// `upstream serve --web-port`: the console's own page and big-screen data, read-only,
// on a numeric loopback address, only for its own Host header.
TEST_CASE("loopback big screen: the console's page and data, read-only, loopback only") {
    City city;
    city.scan("gate-01", 1, kPassA, "red", "status-red");
    city.scan("gate-02", 1, kPassB, "yellow", "fever", 38.4);
    city.scan("gate-02", 2, kPassB, "green", "ok");

    for (const char* host : {"127.attacker.example", "localhost", "0.0.0.0", "10.0.0.1"}) {
        ConsoleConfig cfg;
        cfg.port = -1;
        cfg.wall_port = 0;
        cfg.wall_host = host;
        auto s = ConsoleServer::create(cfg, *city.up, *city.store, nullptr);
        CHECK_MESSAGE(!s.ok(), host);
        if (!s.ok()) CHECK(s.error().is(upstream::reason::web_host));
    }

    ConsoleConfig cfg;
    cfg.port = -1;  // the wall alone, as `upstream serve --web-port N` without --console-port
    cfg.wall_port = 0;
    auto srv = ConsoleServer::create(cfg, *city.up, *city.store, nullptr);
    REQUIRE(srv.ok());
    REQUIRE((*srv)->start().ok());
    CHECK((*srv)->port() == -1);
    const int port = (*srv)->wall_port();
    REQUIRE(port > 0);
    httplib::Client web("127.0.0.1", port);
    web.set_connection_timeout(5, 0);
    web.set_read_timeout(5, 0);

    // The console's own page (no second copy), with its CSP.
    auto page = web.Get("/");
    REQUIRE(page);
    CHECK(page->status == 200);
    CHECK(page->body == std::string(assets::index_html()));
    CHECK(page->get_header_value("Content-Security-Policy").find("script-src 'self'") != std::string::npos);
    CHECK(web.Get("/app.js")->body == std::string(assets::app_js()));

    auto me = web.Get("/api/me");
    REQUIRE(me);
    REQUIRE(me->status == 200);
    json m = json::parse(me->body);
    CHECK(m["wall"] == true);
    CHECK(m["operator"]["role"] == "bigscreen");
    CHECK(m["operator"]["read_only"] == true);

    // The big screen of the whole tree: both grids, both alerts, the devices.
    auto big = web.Get("/api/bigscreen");
    REQUIRE(big);
    REQUIRE(big->status == 200);
    json b = json::parse(big->body);
    CHECK(b["areas"].size() == 7);
    CHECK(b["alerts"].size() == 2);  // the red denial and the fever, not the green scan
    CHECK(b["devices_total"] == 2);
    std::int64_t scans = 0;
    for (const auto& h : b["scans_per_hour"]) scans += h["n"].get<std::int64_t>();
    CHECK(scans == 3);
    CHECK(web.Get("/api/areas")->status == 200);

    // Nothing else of the console: no passes, no audit, no login, no writes.
    CHECK(web.Get((std::string("/api/passes/") + kPassA).c_str())->status == 404);
    CHECK(web.Get("/api/audit")->status == 404);
    auto login = web.Post("/api/login", json{{"username", "chief"}, {"password", kPassword}}.dump(),
                          "application/json");
    REQUIRE(login);
    CHECK(login->status == 405);
    CHECK(json::parse(login->body)["reason"] == "method");

    // Its own address or localhost with its port only: a rebound name, another port,
    // no port are refused with no data.
    auto named = web.Get("/api/bigscreen", {{"Host", "localhost:" + std::to_string(port)}});
    REQUIRE(named);
    CHECK(named->status == 200);
    for (const std::string& host : {"attacker.example:" + std::to_string(port),
                                     "127.0.0.1:" + std::to_string(port + 1), std::string("127.0.0.1")}) {
        auto r = web.Get("/api/bigscreen", {{"Host", host}});
        REQUIRE(r);
        CHECK_MESSAGE(r->status == 403, host);
        CHECK(r->body.find("areas") == std::string::npos);
        CHECK(json::parse(r->body)["reason"] == "host");
        auto p = web.Get("/", {{"Host", host}});
        REQUIRE(p);
        CHECK(p->status == 403);
    }
    (*srv)->stop();
}

TEST_CASE("two replicas on one database share sessions, login failures and the worklist") {
    City city;
    // A second replica: its own connections to the same database.
    auto up2 = open_store(city.db);
    REQUIRE(up2.ok());
    auto second = open_console_store(city.db);
    REQUIRE(second.ok());
    ConsoleStore& other = **second;
    const std::int64_t now = city.now_s();

    // Wrong passwords at replica 1 count at replica 2 (the lock-out is not per process).
    Client c(city);
    for (int i = 0; i < 3; ++i) CHECK(c.login("worker-a", "wrong password!").status == 401);
    auto fails = other.login_failures("user:worker-a", now - 60);
    REQUIRE(fails.ok());
    CHECK(*fails == 3);

    // A session made at replica 1 is valid at replica 2, and ends there for both.
    REQUIRE(c.login("worker-a").status == 200);
    auto op = other.find_operator("worker-a");
    REQUIRE(op.ok());
    REQUIRE(op->has_value());
    REQUIRE(other.add_session({std::string(64, 'e'), (*op)->id, "csrf", now, now}).ok());
    auto seen = city.store->session(std::string(64, 'e'));
    REQUIRE(seen.ok());
    CHECK(seen->has_value());
    REQUIRE(city.store->delete_session(std::string(64, 'e')).ok());
    CHECK_FALSE(other.session(std::string(64, 'e'))->has_value());

    // A RED scan stored through replica 2's upstream store opens one worklist item,
    // whichever replica refreshes first (replica 1's server refreshes on its own too).
    Scan s;
    s.device_id = "gate-02";
    s.seq = 1;
    s.scan_id = "r2-1";
    s.pass_id = kPassB;
    s.verdict = "red";
    s.reason = "status-red";
    s.time = now;
    s.lane = "in";
    s.received_at = now;
    REQUIRE((*up2)->ingest_scans("gate-02", {s}).ok());
    auto n1 = other.refresh_worklist(now);
    auto n2 = city.store->refresh_worklist(now);
    REQUIRE(n1.ok());
    REQUIRE(n2.ok());
    CHECK(*n1 + *n2 <= 1);
    auto items = city.store->worklist(Scope{"/hg/", true}, true, 10);
    REQUIRE(items.ok());
    CHECK(items->size() == 1);
    CHECK(other.refresh_worklist(now + 1).value() == 0);
}
