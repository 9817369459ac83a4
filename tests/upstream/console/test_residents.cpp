// The resident registry through the console's API, as grid, street and city
// operators and as a resident on the pass page: CSV import limited to scope, masking
// above the grid, audited exports, issuance / re-issue / revocation with the old pass
// RED in the published list, the pass page and its self-check (a worklist item, never
// a status), the paper cards PDF rendered by pdftoppm with every QR decoded and
// verified by `checkpoint`, self-service and self-registration with a code by text
// message, and no ID number in clear in the database or the logs.
#include "tests/upstream/console/console_fixture.hpp"

#include "src/common/log.hpp"
#include "tools/upstream/console/cards.hpp"
#include "tools/upstream/console/identity.hpp"
#include "tools/upstream/console/residents.hpp"
#include "tools/upstream/lists.hpp"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <regex>
#include <set>

using namespace cp;
using namespace cp::upstream;
using namespace cp::upstream::console;
using namespace cp::upstream::console::testing;

namespace {

// Valid GB 11643 numbers (check digits computed), used only in these tests.
const std::array<std::string, 4> kIds = {"11010519491231002X", "440524188001010014", "110101199003074477",
                                         "110101198001010053"};

std::string residents_csv() {
    return "name,id_number,phone,address,grid\n"
           "张三丰," + kIds[0] + ",13812345678,红军街1号楼2单元301,ga\n"
           "欧阳娜娜," + kIds[1] + ",13900001111,红军街1号楼2单元302,ga\n"
           "李四," + kIds[2] + ",13700002222,红军街3号楼1单元101,ga\n";
}

std::string run(const std::string& cmd, int* rc = nullptr) {
    std::string out;
    FILE* p = ::popen(cmd.c_str(), "r");
    if (!p) return out;
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    const int st = ::pclose(p);
    if (rc) *rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return out;
}

// The city of the console tests plus a second console listener on the same stores
// with the resident registry (issuer key from the TEST-ONLY PKI, outbox SMS).
struct ResidentCity {
    City city{true};
    cp::testing::TempDir dir;
    std::shared_ptr<Residents> residents;
    std::unique_ptr<ConsoleServer> server;
    std::string outbox = (dir / "outbox").string();

    ResidentCity() {
        const std::string secret = (dir / "id.key").string();
        must(create_id_secret(secret));
        std::map<std::string, std::string> opts = {
            {"id-secret", secret},
            {"issuer-key", (city.pki / "issuer.key").string()},
            {"issuer-cert", (city.pki / "issuer.crt").string()},
            {"issuer-name", "CN-HL-HG"},
            {"public-url", "https://cc.example"},
            {"sms-outbox", outbox}};
        auto r = residents_from_options(opts, city.db, *city.store);
        if (!r) throw std::runtime_error(r.error().describe());
        residents = *r;
        ConsoleConfig cfg;
        cfg.cert_path = (city.pki / "server.crt").string();
        cfg.key_path = (city.pki / "server.key").string();
        cfg.tick_ms = 200;
        cfg.clock_ms = [this] { return wall_now_ms() + city.offset_ms.load(); };
        cfg.residents = residents;
        auto srv = ConsoleServer::create(cfg, *city.up, *city.store, nullptr);
        if (!srv) throw std::runtime_error(srv.error().describe());
        server = std::move(*srv);
        must(server->start());
    }
    ~ResidentCity() { server->stop(); }

    Client as(const std::string& user) {
        Client c(server->port(), city.pki / "fleet-ca.crt");
        auto r = c.login(user);
        if (r.status != 200) throw std::runtime_error("login " + user);
        return c;
    }
    Client anonymous() { return Client(server->port(), city.pki / "fleet-ca.crt"); }

    std::string token_of(const json& issued) {
        const std::string link = issued["link"].get<std::string>();
        return link.substr(link.rfind('/') + 1);
    }
};

// Sends the process log to a file for the test's life, at debug level, so the test can
// grep it for personal data.
struct LogCapture {
    cp::testing::TempDir dir;
    std::filesystem::path path = dir / "log.txt";
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    LogCapture() {
        log::set_level(log::Level::debug);
        log::set_sink_fd(fd);
    }
    ~LogCapture() {
        log::set_sink_fd(2);
        log::set_level(log::Level::info);
        ::close(fd);
    }
    std::string text() const { return cp::testing::read_file(path); }
};

json by_name(const json& list, const std::string& name) {
    for (const auto& r : list)
        if (r["name"] == name) return r;
    return json();
}

std::string raw_get(const Client& c, const std::string& path, int* status, std::string* type = nullptr) {
    auto r = c.http()->Get(path, c.headers(false));
    if (!r) throw std::runtime_error("no answer");
    *status = r->status;
    if (type) *type = r->get_header_value("Content-Type");
    return r->body;
}

}  // namespace

TEST_CASE("residents: CSV import within scope, full data only in the grid, masked above, exports audited") {
    LogCapture logs;
    ResidentCity rc;
    Client a = rc.as("worker-a"), b = rc.as("worker-b"), street = rc.as("street-1"), chief = rc.as("chief");

    // Another grid's worker cannot import into grid A: 404, nothing written.
    CHECK(b.post("/api/residents/import", {{"csv", residents_csv()}}).status == 404);
    // One bad line (wrong check digit) fails the whole file.
    std::string bad = residents_csv() + "王五,110101198001010054,13600003333,x,ga\n";
    auto r = a.post("/api/residents/import", {{"csv", bad}});
    CHECK(r.status == 400);
    CHECK(r.body["reason"] == "residents-csv");
    CHECK(r.body["message"].get<std::string>().find("110101198001010054") == std::string::npos);
    CHECK(a.get("/api/residents").body["residents"].empty());

    r = a.post("/api/residents/import", {{"csv", residents_csv()}});
    REQUIRE(r.status == 200);
    CHECK(r.body["imported"] == 3);
    auto mine = a.get("/api/residents").body["residents"];
    REQUIRE(mine.size() == 3);
    auto zhang = by_name(mine, "张三丰");
    REQUIRE(zhang.is_object());
    CHECK(zhang["phone"] == "13812345678");
    CHECK(zhang["masked"] == false);
    // Importing the same ID again updates the person (de-duplicated by the keyed hash).
    r = a.post("/api/residents/import",
               {{"csv", "张三丰," + kIds[0] + ",13812349999,红军街1号楼2单元301,ga\n"}});
    REQUIRE(r.status == 200);
    CHECK(a.get("/api/residents").body["residents"].size() == 3);
    CHECK(by_name(a.get("/api/residents").body["residents"], "张三丰")["phone"] == "13812349999");

    // The levels above see the residents masked; the other grid sees nothing.
    auto above = street.get("/api/residents").body["residents"];
    REQUIRE(above.size() == 3);
    CHECK(by_name(above, "张**")["phone"] == "138****9999");
    CHECK(by_name(above, "欧阳**")["address"] == "***");
    CHECK(chief.get("/api/residents").body["residents"].size() == 3);
    CHECK(b.get("/api/residents").body["residents"].empty());
    const auto id = zhang["id"].get<std::int64_t>();
    CHECK(b.get("/api/residents/" + std::to_string(id)).status == 404);
    CHECK(b.get("/api/residents/999999").status == 404);
    CHECK(b.get("/api/residents/" + std::to_string(id)).body == b.get("/api/residents/999999").body);
    CHECK(a.get("/api/residents/" + std::to_string(id)).body["name"] == "张三丰");
    int st = 0;
    CHECK(raw_get(b, "/api/residents/export?grid=ga", &st).find("张") == std::string::npos);
    CHECK(st == 404);

    // A person registered in grid A cannot be taken over from grid B.
    r = b.post("/api/residents/import", {{"csv", "张三丰," + kIds[0] + ",13812345678,x,gb\n"}});
    CHECK(r.status == 409);
    CHECK(r.body["reason"] == "registered-elsewhere");

    // Exports: clear in the grid, masked above; each one audited. An address typed as a
    // spreadsheet formula is exported as text.
    REQUIRE(a.post("/api/residents/import", {{"csv", "李四," + kIds[2] + ",13700002222,=HYPERLINK(1),ga\n"}}).status == 200);
    std::string csv = raw_get(a, "/api/residents/export?grid=ga", &st);
    CHECK(st == 200);
    CHECK(csv.find("张三丰") != std::string::npos);
    CHECK(csv.find(",'=HYPERLINK(1),") != std::string::npos);
    csv = raw_get(street, "/api/residents/export", &st);
    CHECK(st == 200);
    CHECK(csv.find("张三丰") == std::string::npos);
    CHECK(csv.find("张**") != std::string::npos);
    int exports = 0;
    for (const auto& e : json(chief.get("/api/audit").body["audit"]))
        if (e["action"] == "residents-export") ++exports;
    CHECK(exports == 2);
    // The big screen reads masked and cannot import.
    Client wall = rc.as("wall");
    CHECK(wall.post("/api/residents/import", {{"csv", residents_csv()}}).status == 403);
    // Privacy: neither the log nor the database holds an ID number, a name or a phone.
    const std::string log_text = logs.text();
    CHECK(log_text.find("listening") != std::string::npos);  // the capture works
    for (const auto& n : kIds) CHECK(log_text.find(n) == std::string::npos);
    CHECK(log_text.find("110101198001010054") == std::string::npos);
    CHECK(log_text.find("13812345678") == std::string::npos);
    CHECK(log_text.find("张三丰") == std::string::npos);
    const std::string raw = database_bytes(rc.city.db);
    for (const auto& n : kIds) CHECK(raw.find(n) == std::string::npos);
    CHECK(raw.find("张三丰") != std::string::npos);  // the grep sees the files' text
}

TEST_CASE("passes: batch issue, pass page, re-issue and revoke put the old pass RED; self-check opens a worklist item") {
    ResidentCity rc;
    Client a = rc.as("worker-a"), b = rc.as("worker-b");
    REQUIRE(a.post("/api/residents/import", {{"csv", residents_csv()}}).status == 200);
    auto r = a.post("/api/residents/issue", {{"grid", "ga"}});
    REQUIRE(r.status == 200);
    auto issued = r.body["issued"];
    REQUIRE(issued.size() == 3);
    // A second batch issues nothing new; the other grid's worker gets 404.
    CHECK(a.post("/api/residents/issue", {{"grid", "ga"}}).body["issued"].empty());
    CHECK(b.post("/api/residents/issue", {{"grid", "ga"}}).status == 404);
    auto list = a.get("/api/residents").body["residents"];
    const auto zhang = by_name(list, "张三丰");
    const std::string old_pass = zhang["pass_id"];
    const std::string rid = std::to_string(zhang["id"].get<std::int64_t>());
    REQUIRE(old_pass.size() == 32);
    std::string old_token;
    for (const auto& p : issued)
        if (p["pass_id"] == old_pass) old_token = rc.token_of(p);
    REQUIRE(old_token.size() == 64);
    CHECK(issued[0]["link"].get<std::string>().rfind("https://cc.example/p/", 0) == 0);

    // The pass page: no account needed, the masked name only, the QR as SVG, green.
    Client anon = rc.anonymous();
    int st = 0;
    std::string type;
    std::string html = raw_get(anon, "/p/" + old_token, &st, &type);
    CHECK(st == 200);
    CHECK(type.rfind("text/html", 0) == 0);
    CHECK(html.find("张**") != std::string::npos);
    CHECK(html.find("张三丰") == std::string::npos);
    CHECK(html.find("<svg") != std::string::npos);
    CHECK(html.find("class=\"green\"") != std::string::npos);
    CHECK(anon.get("/p/" + old_token + "/status").body["status"] == "green");
    CHECK(raw_get(anon, "/p/" + std::string(64, 'a'), &st).find("<svg") == std::string::npos);
    CHECK(st == 404);
    CHECK(raw_get(anon, "/pass-sw.js", &st).find("caches.match") != std::string::npos);

    // Self-check: a normal one is only recorded; an abnormal one opens a self-report
    // item in grid A's worklist and the status stays green.
    r = anon.post("/p/" + old_token + "/check", {{"fever", false}, {"cough", false}, {"contact", false}, {"travel", false}}, false);
    CHECK(r.status == 200);
    CHECK(r.body["abnormal"] == false);
    r = anon.post("/p/" + old_token + "/check",
                  {{"fever", true}, {"cough", true}, {"contact", false}, {"travel", false}, {"temperature_c", 38.4}}, false);
    REQUIRE(r.status == 200);
    CHECK(r.body["abnormal"] == true);
    CHECK(anon.post("/p/" + old_token + "/check", {{"fever", "yes"}}, false).status == 400);
    CHECK(anon.post("/p/" + old_token + "/check", json::object(), false, "text/plain").status == 415);
    bool found = false;
    for (const auto& w : json(a.get("/api/worklist").body["worklist"]))
        if (w["kind"] == "self-report" && w["pass_id"] == old_pass) {
            found = true;
            CHECK(w["detail"] == "fever cough 38.4");
        }
    CHECK(found);
    for (const auto& w : json(b.get("/api/worklist").body["worklist"])) CHECK(w["kind"] != "self-report");
    CHECK(a.get("/api/passes/" + old_pass).body["status"] == "green");

    // Re-issue (lost phone): a new pass id; the old pass RED "reissued", its page says so.
    CHECK(a.post("/api/residents/" + rid + "/issue").status == 409);  // has a pass: re-issue is explicit
    CHECK(b.post("/api/residents/" + rid + "/reissue").status == 404);
    r = a.post("/api/residents/" + rid + "/reissue");
    REQUIRE(r.status == 200);
    const std::string new_pass = r.body["issued"][0]["pass_id"];
    const std::string new_token = rc.token_of(r.body["issued"][0]);
    CHECK(new_pass != old_pass);
    CHECK(r.body["issued"][0]["replaces"] == old_pass);
    auto old_status = a.get("/api/passes/" + old_pass).body;
    CHECK(old_status["status"] == "red");
    CHECK(old_status["reason"] == "reissued");
    auto s = anon.get("/p/" + old_token + "/status").body;
    CHECK(s["ended"] == true);
    CHECK(s["end_reason"] == "reissued");
    CHECK(raw_get(anon, "/p/" + old_token, &st).find("class=\"red ended\"") != std::string::npos);
    CHECK(anon.post("/p/" + old_token + "/check", {{"fever", true}, {"cough", false}, {"contact", false}, {"travel", false}}, false)
              .status == 409);
    CHECK(anon.get("/p/" + new_token + "/status").body["status"] == "green");
    // The link went out by text message (outbox): the new page, never the ID number.
    bool sms = false;
    for (const auto& e : std::filesystem::directory_iterator(rc.outbox)) {
        const std::string m = cp::testing::read_file(e.path());
        if (m.find(new_token) != std::string::npos) sms = m.find("To: 13812345678") == 0;
    }
    CHECK(sms);

    // Revoke: the current pass goes RED "revoked"; nothing left to revoke after.
    CHECK(b.post("/api/residents/" + rid + "/revoke").status == 404);
    CHECK(a.post("/api/residents/" + rid + "/revoke").status == 200);
    CHECK(a.get("/api/passes/" + new_pass).body["reason"] == "revoked");
    CHECK(a.post("/api/residents/" + rid + "/revoke").body["reason"] == "no-pass");
    std::set<std::string> actions;
    for (const auto& e : json(a.get("/api/audit").body["audit"])) actions.insert(e["action"].get<std::string>());
    for (const char* want : {"residents-import", "pass-issue", "pass-reissue", "pass-revoke", "status"})
        CHECK(actions.count(want) == 1);

    // The published list carries the old pass RED with reason "reissued".
    auto v = publish_list(*rc.city.up, *rc.city.signer, rc.city.now_s(), false);
    REQUIRE(v.ok());
    bool red = false;
    auto published = rc.city.up->published_entries();
    REQUIRE(published.ok());
    for (const auto& e : *published)
        if (e.pass_id == old_pass) red = e.status == PassStatus::red && e.reason == "reissued";
    CHECK(red);
}

TEST_CASE("self-checks are limited per pass and day; the pass page per client address") {
    ResidentCity rc;
    Client a = rc.as("worker-a");
    REQUIRE(a.post("/api/residents/import", {{"csv", residents_csv()}}).status == 200);
    auto r = a.post("/api/residents/issue", {{"grid", "ga"}});
    REQUIRE(r.status == 200);
    const std::string token = rc.token_of(r.body["issued"][0]);
    Client anon = rc.anonymous();
    const json normal = {{"fever", false}, {"cough", false}, {"contact", false}, {"travel", false}};
    int ok = 0, limited = 0;
    for (int i = 0; i < 8; ++i) {
        auto x = anon.post("/p/" + token + "/check", normal, false);
        if (x.status == 200) ++ok;
        if (x.status == 429) ++limited;
    }
    CHECK(ok == 6);
    CHECK(limited == 2);
    // A day later the quota is back.
    rc.city.offset_ms += 86401 * 1000LL;
    CHECK(anon.post("/p/" + token + "/check", normal, false).status == 200);
    // The minute's page quota per address (60), then 429.
    int refused = 0;
    for (int i = 0; i < 70; ++i)
        if (anon.get("/p/" + token + "/status").status == 429) ++refused;
    CHECK(refused > 0);
}

TEST_CASE("paper cards: pdftoppm renders eight to an A4 page; every QR decodes and verifies; the old one is RED") {
    ResidentCity rc;
    Client a = rc.as("worker-a"), b = rc.as("worker-b");
    // Nine residents: two pages.
    std::string csv;
    const char* names[] = {"张三", "李四", "王五", "赵六", "孙七", "周八", "吴九", "郑十", "欧阳娜娜"};
    for (int i = 0; i < 9; ++i) {
        std::string base = "11010119900301" + std::to_string(1000 + i).substr(1);  // 17 digits
        static constexpr int kW[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
        int sum = 0;
        for (int k = 0; k < 17; ++k) sum += (base[static_cast<std::size_t>(k)] - '0') * kW[k];
        std::string id = base + "10X98765432"[sum % 11];
        REQUIRE(valid_id_number(id));
        csv += std::string(names[i]) + "," + id + ",1380000000" + std::to_string(i) + ",楼" + std::to_string(i) + ",ga\n";
    }
    REQUIRE(a.post("/api/residents/import", {{"csv", csv}}).status == 200);
    REQUIRE(a.post("/api/residents/issue", {{"grid", "ga"}}).body["issued"].size() == 9);
    int st = 0;
    std::string type;
    raw_get(b, "/api/residents/cards.pdf?grid=ga", &st);
    CHECK(st == 404);
    const std::string pdf = raw_get(a, "/api/residents/cards.pdf?grid=ga", &st, &type);
    REQUIRE(st == 200);
    CHECK(type == "application/pdf");
    REQUIRE(pdf.rfind("%PDF", 0) == 0);
    const auto pdf_path = rc.dir / "cards.pdf";
    cp::testing::write_file(pdf_path, pdf);

    // Render at 150 dpi and decode every card cell.
    int rcode = 0;
    run("pdftoppm -r 150 -png '" + pdf_path.string() + "' '" + (rc.dir / "page").string() + "' 2>&1", &rcode);
    REQUIRE_MESSAGE(rcode == 0, "pdftoppm (poppler-utils) must be installed");
    std::vector<std::filesystem::path> pages;
    for (const auto& e : std::filesystem::directory_iterator(rc.dir.path()))
        if (e.path().filename().string().rfind("page", 0) == 0) pages.push_back(e.path());
    std::sort(pages.begin(), pages.end());
    REQUIRE(pages.size() == 2);
    // The first page for docs/residents-and-travellers.md (copied from build/console-images).
    std::filesystem::create_directories(CHECKPOINT_IMAGES_DIR);
    std::filesystem::copy_file(pages[0], std::filesystem::path(CHECKPOINT_IMAGES_DIR) / "pass-cards-page.png",
                               std::filesystem::copy_options::overwrite_existing);
    std::set<std::string> texts;
    for (const auto& page : pages) {
        const std::string out = run(std::string(CHECKPOINT_BIN) + " decode '" + page.string() + "'", &rcode);
        auto j = json::parse(out, nullptr, false);
        REQUIRE_MESSAGE(j.is_object(), out);
        for (const auto& c : j["codes"]) texts.insert(c["text"].get<std::string>());
    }
    CHECK(texts.size() == 9);
    std::set<std::string> pass_ids;
    for (const auto& t : texts) {
        REQUIRE(t.rfind("CP1:", 0) == 0);
        const std::string out = run(std::string(CHECKPOINT_BIN) + " verify --text '" + t + "' --trust '" +
                                        (rc.city.pki / "issuer.crt").string() + "'",
                                    &rcode);
        CHECK_MESSAGE(rcode == 0, out);
        auto j = json::parse(out, nullptr, false);
        REQUIRE_MESSAGE(j.is_object(), out);
        CHECK(j["verified"] == true);
        std::smatch m;
        const std::regex id_re("\"id\":\"([0-9a-f]{32})\"");
        REQUIRE_MESSAGE(std::regex_search(out, m, id_re), out);
        pass_ids.insert(m[1].str());
        CHECK(out.find("\"R\"") != std::string::npos);
        CHECK(out.find("d1.s1.ga") != std::string::npos);
    }
    // Every card is a current pass of grid A.
    std::set<std::string> current;
    for (const auto& r : json(a.get("/api/residents").body["residents"])) current.insert(r["pass_id"].get<std::string>());
    CHECK(pass_ids == current);

    // Re-issue one; publish; the device's own list code says RED "reissued" for the old QR.
    const auto first = a.get("/api/residents").body["residents"][0];
    const std::string old_pass = first["pass_id"];
    REQUIRE(a.post("/api/residents/" + std::to_string(first["id"].get<std::int64_t>()) + "/reissue").status == 200);
    auto v = publish_list(*rc.city.up, *rc.city.signer, rc.city.now_s(), false);
    REQUIRE(v.ok());
    const auto list_file = rc.dir / "list.bin";
    auto signed_list = rc.city.up->list_version(v->version);  // publish_list answers sizes only
    REQUIRE(signed_list.ok());
    REQUIRE(signed_list->has_value());
    const Bytes& snapshot = (**signed_list).snapshot;
    cp::testing::write_file(list_file, std::string(snapshot.begin(), snapshot.end()));
    const std::string db = (rc.dir / "status.db").string();
    run(std::string(CHECKPOINT_BIN) + " list import '" + list_file.string() + "' --db '" + db + "' --trust '" +
            (rc.city.pki / "list-signer.crt").string() + "' 2>&1",
        &rcode);
    REQUIRE(rcode == 0);
    const std::string look = run(std::string(CHECKPOINT_BIN) + " list lookup " + old_pass + " --db '" + db + "'", &rcode);
    CHECK(rcode == 0);
    CHECK(look.find("red") != std::string::npos);
    CHECK(look.find("reissued") != std::string::npos);

    // One resident's card alone (the new pass), audited.
    const std::string one = raw_get(a, "/api/residents/cards.pdf?resident=" + std::to_string(first["id"].get<std::int64_t>()), &st);
    CHECK(st == 200);
    CHECK(one.rfind("%PDF", 0) == 0);
    int prints = 0;
    for (const auto& e : json(a.get("/api/audit").body["audit"]))
        if (e["action"] == "cards-print") ++prints;
    CHECK(prints == 2);

    // Privacy: no ID number in clear in the database files.
    {
        const std::string raw = database_bytes(rc.city.db);
        for (const auto& id : kIds) CHECK(raw.find(id) == std::string::npos);
        CHECK(raw.find("110101199003") == std::string::npos);
    }
}

TEST_CASE("serve options: the registry needs --id-secret; half an issuer or an open secret file is refused") {
    City city;
    cp::testing::TempDir dir;
    auto none = residents_from_options({}, city.db, *city.store);
    REQUIRE(none.ok());
    CHECK(*none == nullptr);
    auto orphan = residents_from_options({{"issuer-key", (city.pki / "issuer.key").string()}}, city.db, *city.store);
    REQUIRE_FALSE(orphan.ok());
    CHECK(orphan.error().kind == ErrorKind::config);
    const std::string secret = (dir / "id.key").string();
    must(create_id_secret(secret));
    auto half = residents_from_options({{"id-secret", secret}, {"issuer-key", (city.pki / "issuer.key").string()}},
                                       city.db, *city.store);
    REQUIRE_FALSE(half.ok());
    CHECK(half.error().kind == ErrorKind::config);
    auto no_issuer = residents_from_options({{"id-secret", secret}}, city.db, *city.store);
    REQUIRE(no_issuer.ok());
    CHECK_FALSE((*no_issuer)->can_issue());
    ::chmod(secret.c_str(), 0640);
    auto open_secret = residents_from_options({{"id-secret", secret}}, city.db, *city.store);
    REQUIRE_FALSE(open_secret.ok());
    CHECK(open_secret.error().is(ErrorKind::config, cp::upstream::console::reason::id_secret));
}

namespace {

// The newest code sent to `phone` in the outbox, or "".
std::string code_in_outbox(const std::string& outbox, const std::string& phone) {
    std::string best, newest;
    if (!std::filesystem::exists(outbox)) return "";
    for (const auto& e : std::filesystem::directory_iterator(outbox)) {
        const std::string m = cp::testing::read_file(e.path());
        std::smatch g;
        const std::regex re("code: ([0-9]{6})");
        if (m.rfind("To: " + phone + "\n", 0) == 0 && std::regex_search(m, g, re) &&
            e.path().filename().string() > newest) {
            newest = e.path().filename().string();
            best = g[1].str();
        }
    }
    return best;
}

}  // namespace

TEST_CASE("self-service: a registered resident gets the pass link with a code by text message") {
    ResidentCity rc;
    Client a = rc.as("worker-a");
    REQUIRE(a.post("/api/residents/import", {{"csv", residents_csv()}}).status == 200);
    Client anon = rc.anonymous();
    int st = 0;
    CHECK(raw_get(anon, "/register", &st).find("register.js") != std::string::npos);
    // An unregistered pair gets the same answer and no message.
    auto r = anon.post("/r/code", {{"id_number", kIds[3]}, {"phone", "13812345678"}}, false);
    CHECK(r.status == 200);
    r = anon.post("/r/code", {{"id_number", kIds[0]}, {"phone", "13900000000"}}, false);
    CHECK(r.status == 200);
    CHECK(code_in_outbox(rc.outbox, "13900000000").empty());
    // The registered pair: a code to the registered phone; a second one only after a minute.
    r = anon.post("/r/code", {{"id_number", kIds[0]}, {"phone", "13812345678"}}, false);
    REQUIRE(r.status == 200);
    const std::string code = code_in_outbox(rc.outbox, "13812345678");
    REQUIRE(code.size() == 6);
    // Within the minute: the same answer, no second code (a refusal would tell the pair is registered).
    const auto files = std::distance(std::filesystem::directory_iterator(rc.outbox), std::filesystem::directory_iterator());
    CHECK(anon.post("/r/code", {{"id_number", kIds[0]}, {"phone", "13812345678"}}, false).status == 200);
    CHECK(std::distance(std::filesystem::directory_iterator(rc.outbox), std::filesystem::directory_iterator()) == files);
    // A number where text belongs is a refusal, not a server error.
    CHECK(anon.post("/r/pass", {{"id_number", 5}, {"phone", json::array()}, {"code", 1}}, false).status == 409);
    CHECK(a.post("/api/residents/import", {{"csv", 7}}).status == 200);  // an empty import
    const std::string wrong = code == "000000" ? "111111" : "000000";
    r = anon.post("/r/pass", {{"id_number", kIds[0]}, {"phone", "13812345678"}, {"code", wrong}}, false);
    CHECK(r.status == 409);
    CHECK(r.body["reason"] == "claim-code");
    r = anon.post("/r/pass", {{"id_number", "11010519491231002x"}, {"phone", "13812345678"}, {"code", code}}, false);
    REQUIRE(r.status == 200);
    const std::string link = r.body["link"];
    REQUIRE(link.rfind("/p/", 0) == 0);
    CHECK(anon.get(link + "/status").body["status"] == "green");
    // The code is used up; the pass is in the audit as self-service.
    CHECK(anon.post("/r/pass", {{"id_number", kIds[0]}, {"phone", "13812345678"}, {"code", code}}, false).status == 409);
    bool audited = false;
    for (const auto& e : json(a.get("/api/audit").body["audit"]))
        if (e["action"] == "pass-issue" && e["actor"] == "self-service") audited = true;
    CHECK(audited);

    // Five wrong tries spend a code; a later claim re-issues (the old pass RED).
    rc.city.offset_ms += 61 * 1000LL;
    REQUIRE(anon.post("/r/code", {{"id_number", kIds[0]}, {"phone", "13812345678"}}, false).status == 200);
    const std::string code2 = code_in_outbox(rc.outbox, "13812345678");
    const std::string wrong2 = code2 == "000000" ? "111111" : "000000";
    for (int i = 0; i < 5; ++i)
        CHECK(anon.post("/r/pass", {{"id_number", kIds[0]}, {"phone", "13812345678"}, {"code", wrong2}}, false).status ==
              409);
    CHECK(anon.post("/r/pass", {{"id_number", kIds[0]}, {"phone", "13812345678"}, {"code", code2}}, false).status == 409);
    rc.city.offset_ms += 61 * 1000LL;
    REQUIRE(anon.post("/r/code", {{"id_number", kIds[0]}, {"phone", "13812345678"}}, false).status == 200);
    const std::string code3 = code_in_outbox(rc.outbox, "13812345678");
    r = anon.post("/r/pass", {{"id_number", kIds[0]}, {"phone", "13812345678"}, {"code", code3}}, false);
    REQUIRE(r.status == 200);
    CHECK(anon.get(link + "/status").body["ended"] == true);
    CHECK(anon.get(r.body["link"].get<std::string>() + "/status").body["status"] == "green");
}

TEST_CASE("self-registration: a new resident enters themself, proves the phone, the grid worker confirms; the pass verifies") {
    ResidentCity rc;
    Client a = rc.as("worker-a"), b = rc.as("worker-b");
    REQUIRE(a.post("/api/residents/import", {{"csv", residents_csv()}}).status == 200);
    Client anon = rc.anonymous();
    int st = 0;
    CHECK(raw_get(anon, "/register", &st).find("id=\"enrol\"") != std::string::npos);
    auto grids = anon.get("/r/grids").body["grids"];
    bool has_ga = false;
    for (const auto& g : grids) has_ga = has_ga || (g["code"] == "ga" && g["name_zh"] == "网格A");
    CHECK(has_ga);
    CHECK(grids.size() == 2);  // grids only, no streets or districts

    const json me = {{"name", "王小明"}, {"id_number", kIds[3]}, {"phone", "13655556666"},
                     {"address", "红军街5号楼1单元201"}, {"grid", "ga"}};
    // A bad body or a grid that is not one: typed refusals, nothing sent.
    json bad = me;
    bad["id_number"] = "110101198001010054";
    CHECK(anon.post("/r/enrol/code", bad, false).body["reason"] == "self-registration");
    bad = me;
    bad["grid"] = "s1";
    CHECK(anon.post("/r/enrol/code", bad, false).status == 404);
    bad = me;
    bad["name"] = 7;
    CHECK(anon.post("/r/enrol/code", bad, false).status == 400);
    CHECK(code_in_outbox(rc.outbox, "13655556666").empty());

    REQUIRE(anon.post("/r/enrol/code", me, false).status == 200);
    const std::string code = code_in_outbox(rc.outbox, "13655556666");
    REQUIRE(code.size() == 6);
    // Wrong codes are refused; five of them spend the code.
    const std::string wrong = code == "000000" ? "111111" : "000000";
    json attempt = me;
    attempt["code"] = wrong;
    for (int i = 0; i < 5; ++i) {
        auto r = anon.post("/r/enrol", attempt, false);
        CHECK(r.status == 409);
        CHECK(r.body["reason"] == "claim-code");
    }
    attempt["code"] = code;
    CHECK(anon.post("/r/enrol", attempt, false).status == 409);
    CHECK(json(a.get("/api/residents").body["residents"]).size() == 3);  // nothing added
    // Within the minute no new code; after it, a new one that works.
    const auto before = std::distance(std::filesystem::directory_iterator(rc.outbox), std::filesystem::directory_iterator());
    CHECK(anon.post("/r/enrol/code", me, false).status == 200);
    CHECK(std::distance(std::filesystem::directory_iterator(rc.outbox), std::filesystem::directory_iterator()) == before);
    rc.city.offset_ms += 61 * 1000LL;
    REQUIRE(anon.post("/r/enrol/code", me, false).status == 200);
    attempt["code"] = code_in_outbox(rc.outbox, "13655556666");
    auto r = anon.post("/r/enrol", attempt, false);
    REQUIRE(r.status == 200);
    CHECK(anon.post("/r/enrol", attempt, false).status == 409);  // the code is used up

    // Pending in the grid, with a self-registration item; no pass yet, none in a batch.
    const json wang = by_name(a.get("/api/residents").body["residents"], "王小明");
    REQUIRE(wang.is_object());
    CHECK(wang["pending"] == true);
    CHECK(wang["pass_id"] == "");
    const std::string rid = std::to_string(wang["id"].get<std::int64_t>());
    // The address is no unit of grid A (the resident chose the grid): the street checks it.
    Client street = rc.as("street-1");
    bool item = false;
    for (const auto& w : json(street.get("/api/worklist").body["worklist"]))
        item = item || (w["kind"] == "self-registration" && w["detail"] == "resident " + rid + " grid ga chosen" &&
                         w["grid"] == "s1");
    CHECK(item);
    for (const auto& w : json(b.get("/api/worklist").body["worklist"])) CHECK(w["kind"] != "self-registration");
    CHECK(a.post("/api/residents/issue", {{"grid", "ga"}}).body["issued"].size() == 3);
    // A pending resident cannot claim a pass link.
    REQUIRE(anon.post("/r/code", {{"id_number", kIds[3]}, {"phone", "13655556666"}}, false).status == 200);
    CHECK(code_in_outbox(rc.outbox, "13655556666") == attempt["code"]);  // no claim code went out

    // The other grid's worker: 404 on the pending resident, for reading and for deciding.
    CHECK(b.get("/api/residents/" + rid).status == 404);
    CHECK(b.post("/api/residents/" + rid + "/confirm", json::object()).status == 404);
    CHECK(b.post("/api/residents/" + rid + "/reject", json::object()).status == 404);

    // The grid worker confirms: the pass is issued, its link goes by text message, audited.
    r = a.post("/api/residents/" + rid + "/confirm", json::object());
    REQUIRE(r.status == 200);
    const std::string pass_id = r.body["issued"][0]["pass_id"];
    CHECK(a.post("/api/residents/" + rid + "/confirm", json::object()).body["reason"] == "not-pending");
    const std::string link = r.body["issued"][0]["link"];
    bool texted = false;
    for (const auto& e : std::filesystem::directory_iterator(rc.outbox)) {
        const std::string m = cp::testing::read_file(e.path());
        texted = texted || (m.rfind("To: 13655556666\n", 0) == 0 && m.find(link) != std::string::npos);
    }
    CHECK(texted);
    CHECK(anon.get(link.substr(link.find("/p/")) + "/status").body["status"] == "green");
    CHECK(a.get("/api/residents/" + rid).body["pending"] == false);
    std::set<std::string> actions;
    for (const auto& e : json(a.get("/api/audit").body["audit"])) actions.insert(e["action"].get<std::string>());
    CHECK(actions.count("self-registration"));
    CHECK(actions.count("self-registration-confirm"));
    int closed = 0;
    for (const auto& w : json(street.get("/api/worklist").body["worklist"])) CHECK(w["kind"] != "self-registration");
    for (const auto& w : json(street.get("/api/worklist?all=1").body["worklist"]))
        if (w["kind"] == "self-registration" && w["outcome"] == "confirmed" && w["resolved_at"].get<std::int64_t>() > 0)
            ++closed;
    CHECK(closed == 1);

    // The pass verifies against the issuer certificate.
    auto ga = rc.city.store->area("ga", nullptr);
    REQUIRE(ga);
    Operator worker;
    worker.username = "worker-a";
    worker.role = Role::grid;
    worker.area = "ga";
    worker.area_path = ga->path;
    auto cards = rc.residents->cards(worker, "", std::stoll(rid), wall_now_ms() / 1000);
    REQUIRE(cards);
    REQUIRE(cards->size() == 1);
    int rcode = -1;
    const std::string out = run(std::string(CHECKPOINT_BIN) + " verify --text '" + cards->front().qr + "' --trust '" +
                                    (rc.city.pki / "issuer.crt").string() + "'",
                                &rcode);
    CHECK_MESSAGE(rcode == 0, out);
    CHECK(out.find(pass_id) != std::string::npos);

    // A duplicate ID number: the same answers, no second resident.
    rc.city.offset_ms += 61 * 1000LL;
    json again = me;
    again["phone"] = "13600000000";
    again["grid"] = "gb";
    REQUIRE(anon.post("/r/enrol/code", again, false).status == 200);
    again["code"] = code_in_outbox(rc.outbox, "13600000000");
    REQUIRE(again["code"].get<std::string>().size() == 6);
    CHECK(anon.post("/r/enrol", again, false).status == 200);
    CHECK(json(b.get("/api/residents").body["residents"]).empty());
    for (const auto& w : json(b.get("/api/worklist").body["worklist"])) CHECK(w["kind"] != "self-registration");

    // The grid worker rejects another one: it is gone, audited, its item closed.
    rc.city.offset_ms += 61 * 1000LL;
    const json other = {{"name", "赵六"}, {"id_number", "110101198502020014"}, {"phone", "13611112222"},
                        {"address", "建设路9号"}, {"grid", "gb"}};
    REQUIRE(anon.post("/r/enrol/code", other, false).status == 200);
    json done = other;
    done["code"] = code_in_outbox(rc.outbox, "13611112222");
    REQUIRE(anon.post("/r/enrol", done, false).status == 200);
    const json zhao = by_name(b.get("/api/residents").body["residents"], "赵六");
    REQUIRE(zhao.is_object());
    const std::string zid = std::to_string(zhao["id"].get<std::int64_t>());
    CHECK(a.post("/api/residents/" + zid + "/reject", json::object()).status == 404);
    CHECK(b.post("/api/residents/" + zid + "/reject", json::object()).status == 200);
    CHECK(b.get("/api/residents/" + zid).status == 404);
    bool rejected = false;
    for (const auto& e : json(b.get("/api/audit").body["audit"]))
        rejected = rejected || (e["action"] == "self-registration-reject" && e["object"] == zid);
    CHECK(rejected);
    int rejected_items = 0;
    for (const auto& w : json(rc.as("chief").get("/api/worklist?all=1").body["worklist"]))
        if (w["kind"] == "self-registration" && w["outcome"] == "rejected") ++rejected_items;
    CHECK(rejected_items == 1);

    // No ID number in clear in the database files.
    {
        const std::string raw = database_bytes(rc.city.db);
        CHECK(raw.find(kIds[3]) == std::string::npos);
        CHECK(raw.find("110101198502020014") == std::string::npos);
    }
}

TEST_CASE("self-registration: the grid from the address unit; no unit, or a unit of two grids, asks for the grid") {
    ResidentCity rc;
    Client a = rc.as("worker-a"), b = rc.as("worker-b"), street = rc.as("street-1");
    REQUIRE(a.post("/api/residents/import", {{"csv", residents_csv()}}).status == 200);
    Client anon = rc.anonymous();
    auto enrol = [&](const std::string& id, const std::string& phone, const std::string& address,
                     const std::string& grid) {
        json body = {{"name", "孙七"}, {"id_number", id}, {"phone", phone}, {"address", address}};
        if (!grid.empty()) body["grid"] = grid;
        auto asked = anon.post("/r/enrol/code", body, false);
        if (asked.status != 200) return asked;
        body["code"] = code_in_outbox(rc.outbox, phone);
        auto done = anon.post("/r/enrol", body, false);
        REQUIRE(done.status == 200);
        return asked;
    };
    auto item_of = [](Client& c, const std::string& rid) {
        const auto wl = c.get("/api/worklist");
        for (const auto& w : wl.body["worklist"])
            if (w["kind"] == "self-registration" && w["detail"].get<std::string>().rfind("resident " + rid + " ", 0) == 0)
                return json(w);
        return json();
    };

    // Full-width digits, spaces, 栋 for 号楼 and another flat of a known staircase: grid A.
    auto r = enrol("110101199001010015", "13655550001", "红军街１栋 2单元 502室", "");
    REQUIRE_MESSAGE(r.status == 200, r.body.dump());
    CHECK(r.body["grid"] == "ga");
    CHECK(r.body["from_address"] == true);
    json sun = by_name(a.get("/api/residents").body["residents"], "孙七");
    REQUIRE(sun.is_object());
    CHECK(sun["pending"] == true);
    CHECK(sun["grid"] == "ga");
    const std::string rid = std::to_string(sun["id"].get<std::int64_t>());
    const json item = item_of(a, rid);
    REQUIRE(item.is_object());
    CHECK(item["grid"] == "ga");
    CHECK(item["detail"] == "resident " + rid + " address");
    // Another grid's worker sees neither the resident nor the item.
    CHECK(b.get("/api/residents/" + rid).status == 404);
    CHECK(json(b.get("/api/residents").body["residents"]).empty());
    CHECK(item_of(b, rid).is_null());

    // No known unit (another building; a street alone): 409 address-unmatched, no code.
    for (const char* address : {"红军街11号楼2单元502", "红军街"}) {
        auto none = enrol("110101199001010023", "13655550002", address, "");
        CHECK(none.status == 409);
        CHECK(none.body["reason"] == "address-unmatched");
    }
    CHECK(code_in_outbox(rc.outbox, "13655550002").empty());
    // Chosen from the list then: pending in that grid, the check at its street.
    auto chosen = enrol("110101199001010023", "13655550002", "红军街11号楼2单元502", "ga");
    REQUIRE(chosen.status == 200);
    CHECK(chosen.body["from_address"] == false);
    std::string lid;
    for (const auto& x : json(a.get("/api/residents").body["residents"]))
        if (x["name"] == "孙七" && std::to_string(x["id"].get<std::int64_t>()) != rid)
            lid = std::to_string(x["id"].get<std::int64_t>());
    REQUIRE(!lid.empty());
    CHECK(item_of(a, lid).is_null());
    const json at_street = item_of(street, lid);
    REQUIRE(at_street.is_object());
    CHECK(at_street["grid"] == "s1");
    CHECK(at_street["detail"] == "resident " + lid + " grid ga chosen");
    CHECK(item_of(b, lid).is_null());
    CHECK(b.get("/api/residents/" + lid).status == 404);

    // The same staircase imported in grid B too: the unit decides nothing.
    REQUIRE(b.post("/api/residents/import", {{"csv", "name,id_number,phone,address,grid\n周八,110101199001010031,"
                                                      "13700009999,红军街3号楼1单元102,gb\n"}})
                .status == 200);
    auto two = enrol("11010119900101004X", "13655550003", "红军街3号楼1单元501", "");
    CHECK(two.status == 409);
    CHECK(two.body["reason"] == "address-unmatched");
    // Asked again within the minute with a grid chosen: no new code, and the answer is
    // the grid the registration waits in.
    const json ask = {{"name", "孙七"}, {"id_number", "110101199001010015"}, {"phone", "13655550004"},
                      {"address", "红军街1栋2单元9"}};
    auto first = anon.post("/r/enrol/code", ask, false);
    REQUIRE(first.status == 200);
    CHECK(first.body["grid"] == "ga");
    json ask_b = ask;
    ask_b["grid"] = "gb";
    auto second = anon.post("/r/enrol/code", ask_b, false);
    REQUIRE(second.status == 200);
    CHECK(second.body["grid"] == "ga");
    CHECK(second.body["from_address"] == true);
    // A pending self-registration is no unit: its address does not place the next one.
    auto seeded = enrol("11010119900101004X", "13655550003", "红军街11号楼2单元502", "");
    CHECK(seeded.status == 409);
}


TEST_CASE("address units: normal form and the grid of an address") {
    CHECK(normalise_address("红军街１号楼 2单元　５０２室") == "红军街1栋2单元502");
    CHECK(normalise_address("红军街1幢2单元502") == "红军街1栋2单元502");
    CHECK(normalise_address("红军街1#楼-2单元") == "红军街1栋2单元");
    CHECK(normalise_address("b座 3室") == "B栋3");     // building B
    CHECK(normalise_address("宝座大厦") == "宝座大厦");  // 座 only after a number or letter
    CHECK(normalise_address("") == "");
    const std::vector<AddressUnit> units = {{"红军街1号楼2单元301", "ga"}, {"红军街3号楼1单元101", "ga"},
                                            {"红旗街7号楼", "gb"}, {"红军街3号楼1单元102", "gb"}};
    CHECK(grid_of_address("向阳区红军街1栋2单元502", units) == std::optional<std::string>("ga"));
    CHECK(grid_of_address("红军街1号楼3单元101", units) == std::optional<std::string>("ga"));  // the building
    CHECK(grid_of_address("红旗街 7 号楼 4 单元 9 室", units) == std::optional<std::string>("gb"));
    CHECK_FALSE(grid_of_address("红军街11号楼2单元502", units));  // 1栋 is not in 11栋
    CHECK_FALSE(grid_of_address("红军街3号楼1单元501", units));   // the staircase is in two grids
    CHECK_FALSE(grid_of_address("红军街", units));                 // a street spans grids
    CHECK_FALSE(grid_of_address("", units));
    CHECK_FALSE(grid_of_address("红军街1栋", {}));
    CHECK_FALSE(grid_of_address(std::string("\xff\xfe" "1\xe6", 4), units));  // not UTF-8: no match, no crash
    // The city's and districts' names on one side only.
    const std::vector<AddressUnit> with_district = {{"向阳区红军街1号楼2单元301", "ga"}};
    const std::vector<std::string> regions = {"鹤岗市", "向阳区"};
    CHECK_FALSE(grid_of_address("鹤岗市红军街1栋2单元5", with_district));
    CHECK(grid_of_address("鹤岗市红军街1栋2单元5", with_district, regions) == std::optional<std::string>("ga"));
    CHECK(grid_of_address("红军街1号楼2单元5", with_district, regions) == std::optional<std::string>("ga"));
    CHECK_FALSE(grid_of_address("向阳区", with_district, regions));
}
