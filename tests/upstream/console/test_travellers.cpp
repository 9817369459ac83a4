// Travellers entering the city: the registration body parser, ID numbers and
// masking, the public registration through the console listener (kind E and D
// passes that verify), abuse limits, arrivals from entry scans into the destination
// grid's worklist, expiry and retention with a moved clock, scope of the operators'
// traveller views and posters, and the arrivals per entry point.
#include "tests/upstream/console/pdf_codes.hpp"
#include "tests/upstream/console/travellers_fixture.hpp"

#include "src/crypto/crypto.hpp"
#include "src/pass/verifier.hpp"
#include "tools/upstream/console/identity.hpp"
#include "tools/upstream/console/posters.hpp"

#include <doctest/doctest.h>

#include <sys/stat.h>

using namespace cp;
using namespace cp::upstream;
using namespace cp::upstream::console;
using namespace cp::upstream::console::testing;

namespace {

bool mentions(const json& j, const std::string& text) { return j.dump().find(text) != std::string::npos; }

std::string outbox_text(const std::filesystem::path& dir) {
    std::string all;
    for (const auto& e : std::filesystem::directory_iterator(dir)) all += cp::testing::read_file(e.path());
    return all;
}

// 17 digits and their GB 11643 check character.
std::string with_check_digit(const std::string& d17) {
    static constexpr int kW[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
    int sum = 0;
    for (std::size_t i = 0; i < 17; ++i) sum += (d17[i] - '0') * kW[i];
    return d17 + "10X98765432"[sum % 11];
}

Reply post_public(const TravellerCity& t, const json& body) {
    Client anon(t.server->port(), t.city.pki / "fleet-ca.crt");
    return anon.post("/r/api/register", body, false);
}

}  // namespace

TEST_CASE("ID numbers, hashes and masks") {
    CHECK(valid_id_number(kIdNumber));
    CHECK(valid_id_number("11010519491231002x"));
    CHECK_FALSE(valid_id_number("110105194912310021"));   // wrong check digit
    CHECK_FALSE(valid_id_number("11010519491231002"));    // 17 characters
    CHECK_FALSE(valid_id_number("1101051949123100AX"));
    const Bytes secret(32, 7), other(32, 8);
    CHECK(id_hash(secret, "11010519491231002x") == id_hash(secret, kIdNumber));
    CHECK(id_hash(secret, kIdNumber).size() == 64);
    CHECK(id_hash(other, kIdNumber) != id_hash(secret, kIdNumber));
    CHECK(mask_name("张三") == "张*");
    CHECK(mask_name("王小明") == "王**");
    CHECK(mask_name("欧阳娜娜") == "欧阳**");
    CHECK(mask_phone("13812345678") == "138****5678");

    cp::testing::TempDir tmp;
    const auto f = tmp / "secret";
    cp::testing::write_file(f, std::string(40, 'k'));
    ::chmod(f.c_str(), 0644);
    auto loose = load_id_secret(f.string());
    REQUIRE_FALSE(loose.ok());
    CHECK(loose.error().kind == ErrorKind::config);
    ::chmod(f.c_str(), 0600);
    CHECK(load_id_secret(f.string()).ok());
    cp::testing::write_file(f, std::string(31, 'k'));
    ::chmod(f.c_str(), 0600);
    CHECK_FALSE(load_id_secret(f.string()).ok());
}

TEST_CASE("the registration body: every field checked, typed errors") {
    const std::int64_t now = 1'700'000'000;
    json ok = {{"name", "王小明"}, {"id_number", kIdNumber}, {"phone", "13812345678"}, {"origin", "哈尔滨"},
               {"address", "红军街道3号楼"}, {"grid", "ga"}, {"transport", "car"}, {"expected_arrival", now + 600}};
    auto r = parse_registration(ok.dump(), now);
    REQUIRE_MESSAGE(r.ok(), r.error().describe());
    CHECK(r->route == Route::entry);
    CHECK(r->name == "王小明");

    auto field = [&](json body) {
        auto x = parse_registration(body.dump(), now);
        if (x.ok()) return std::string("accepted");
        CHECK(x.error().is(ErrorKind::invalid_input, traveller_reason::kField));
        return x.error().message;
    };
    auto with = [&](const char* k, json v) { json b = ok; b[k] = v; return b; };
    auto without = [&](const char* k) { json b = ok; b.erase(k); return b; };
    CHECK(field(with("name", "")) == "name");
    CHECK(field(with("name", std::string(33, 'a'))) == "name");
    CHECK(field(with("name", "a\x01b")) == "name");
    CHECK(field(with("name", 5)) == "name");
    CHECK(field(with("id_number", "110105194912310021")) == "id_number");
    CHECK(field(with("phone", "23812345678")) == "phone");
    CHECK(field(with("phone", "1381234567a")) == "phone");
    CHECK(field(without("origin")) == "origin");
    CHECK(field(with("address", std::string(129, 'x'))) == "address");
    CHECK(field(with("grid", "g a")) == "grid");
    CHECK(field(with("transport", "plane")) == "transport");
    CHECK(field(with("expected_arrival", now - 7200)) == "expected_arrival");
    CHECK(field(with("expected_arrival", now + 15 * 86400)) == "expected_arrival");
    CHECK(field(with("expected_arrival", "soon")) == "expected_arrival");
    CHECK(field(with("site", "<x>")) == "site");
    CHECK(field(with("route", "walk")) == "route");
    json driver = with("route", "driver");
    CHECK(field(driver) == "transport");  // drivers come by truck
    driver["transport"] = "truck";
    CHECK(field(driver) == "plate");
    driver["plate"] = "· -";  // separators only: no plate at the truck lane
    CHECK(field(driver) == "plate");
    driver["plate"] = "黑E·12345";
    CHECK(field(driver) == "accepted");

    for (const char* bad : {"", "[]", "{", "null", "\"x\""}) {
        auto x = parse_registration(bad, now);
        REQUIRE_FALSE(x.ok());
        CHECK(x.error().is(ErrorKind::invalid_input, traveller_reason::kBody));
    }
    CHECK_FALSE(parse_registration(std::string(kMaxRegistrationBody + 1, ' '), now).ok());
}

TEST_CASE("a traveller registers without login and gets a kind E pass that verifies") {
    TravellerCity t;
    auto r = post_public(t, t.form());
    REQUIRE_MESSAGE(r.status == 200, r.body.dump());
    CHECK(r.body["kind"] == "E");
    CHECK(r.body["label"] == "王**");
    CHECK(r.body["qr_svg"]["size"].get<int>() > 20);
    const std::string qr = r.body["qr"], token = r.body["token"], pid = r.body["pass_id"];

    crypto::TrustStore trust;
    REQUIRE(trust.add_pem_or_der(as_bytes(cp::testing::read_file(t.city.pki / "issuer.crt"))).ok());
    pass::PassVerifier verifier(trust);
    auto v = verifier.verify(qr, t.city.now_s());
    REQUIRE_MESSAGE(v.verified(), v.detail);
    CHECK(v.pass->kind == pass::Kind::entry);
    CHECK(pass::id_hex(v.pass->id) == pid);
    REQUIRE(v.pass->entry.has_value());
    CHECK(v.pass->entry->origin == "哈尔滨市南岗区");
    CHECK(v.pass->name == "王**");
    // Green in the upstream's working statuses: the next published list carries it.
    auto statuses = t.city.up->statuses();
    REQUIRE(statuses.ok());
    bool green = false;
    for (const auto& e : *statuses) green = green || (e.pass_id == pid && e.status == PassStatus::green);
    CHECK(green);

    // The pass page by its token, and the SMS with the link.
    Client anon(t.server->port(), t.city.pki / "fleet-ca.crt");
    auto again = anon.get("/r/api/pass/" + token);
    REQUIRE(again.status == 200);
    CHECK(again.body["qr"] == qr);
    CHECK(anon.get("/r/api/pass/" + std::string(64, 'a')).status == 404);
    const std::string sms = outbox_text(t.outbox);
    CHECK(sms.find("To: 13812345678") != std::string::npos);
    CHECK(sms.find("https://cc.example/r/#p=" + token) != std::string::npos);

    // The ID number is nowhere in clear: not in the database, not in the pass.
    CHECK(database_bytes(t.city.db).find(kIdNumber) == std::string::npos);
    CHECK(database_bytes(t.city.db).find(token) == std::string::npos);
    CHECK(v.pass->claims_json.find(kIdNumber) == std::string::npos);

    // The destination grid's worker sees the traveller in full; grid B's does not.
    Client a(t.server->port(), t.city.pki / "fleet-ca.crt"), b(t.server->port(), t.city.pki / "fleet-ca.crt");
    REQUIRE(a.login("worker-a").status == 200);
    REQUIRE(b.login("worker-b").status == 200);
    auto la = a.get("/api/travellers");
    REQUIRE(la.status == 200);
    REQUIRE(la.body["travellers"].size() == 1);
    CHECK(la.body["travellers"][0]["name"] == "王小明");
    CHECK(la.body["travellers"][0]["phone"] == "13812345678");
    CHECK(la.body["travellers"][0]["status"] == "registered");
    CHECK(b.get("/api/travellers").body["travellers"].empty());
    // Its pass belongs to grid A: the worker may set its status.
    CHECK(a.get("/api/passes/" + pid).status == 200);
    CHECK(b.get("/api/passes/" + pid).status == 404);
    // Without a session the operators' views answer 401.
    CHECK(anon.get("/api/travellers").status == 401);
}

TEST_CASE("the driver route issues a kind D pass with the plate") {
    TravellerCity t;
    json f = t.form();
    f["route"] = "driver";
    f["transport"] = "truck";
    f["plate"] = "黑E·12345";
    auto r = post_public(t, f);
    REQUIRE_MESSAGE(r.status == 200, r.body.dump());
    CHECK(r.body["kind"] == "D");
    crypto::TrustStore trust;
    REQUIRE(trust.add_pem_or_der(as_bytes(cp::testing::read_file(t.city.pki / "issuer.crt"))).ok());
    auto v = pass::PassVerifier(trust).verify(r.body["qr"].get<std::string>(), t.city.now_s());
    REQUIRE_MESSAGE(v.verified(), v.detail);
    CHECK(v.pass->kind == pass::Kind::driver);
    CHECK(v.pass->plate == "黑E·12345");
}

TEST_CASE("bad registrations lose nothing: typed errors, nothing stored") {
    TravellerCity t;
    json f = t.form();
    f["id_number"] = "110105194912310021";
    auto r = post_public(t, f);
    CHECK(r.status == 400);
    CHECK(r.body["field"] == "id_number");
    f = t.form();
    f["grid"] = "s1";  // a street, not a grid
    CHECK(post_public(t, f).status == 404);
    f = t.form();
    f["site"] = "site-a";  // a compound gate, not an entry point
    CHECK(post_public(t, f).status == 404);
    Client anon(t.server->port(), t.city.pki / "fleet-ca.crt");
    CHECK(anon.post("/r/api/register", t.form(), false, "application/x-www-form-urlencoded").status == 415);
    auto list = t.tstore->list({"/", true}, 10);
    REQUIRE(list.ok());
    CHECK(list->empty());
}

TEST_CASE("abuse limits per phone, ID number and client address are stored") {
    TravellerCity t([](TravellersConfig& c) {
        c.per_phone_per_day = 2;
        c.per_id_per_day = 3;
        c.per_address_per_hour = 4;
    });
    auto form = [&](const std::string& phone, const std::string& id) {
        json f = t.form(phone);
        f["id_number"] = id;
        return f;
    };
    const std::string id1 = kIdNumber, id2 = with_check_digit("11010519491231003"),
                      id3 = with_check_digit("23010219800101123");
    REQUIRE(valid_id_number(id2));
    CHECK(post_public(t, form("13800000001", id1)).status == 200);
    CHECK(post_public(t, form("13800000001", id1)).status == 200);
    auto third = post_public(t, form("13800000001", id1));
    CHECK(third.status == 429);  // the phone: 2 a day
    CHECK(third.body["reason"] == "rate-limit");
    CHECK(post_public(t, form("13800000002", id1)).status == 200);
    CHECK(post_public(t, form("13800000003", id1)).status == 429);  // the ID number: 3 a day
    CHECK(post_public(t, form("13800000004", id2)).status == 200);
    CHECK(post_public(t, form("13800000005", id3)).status == 429);  // the address: 4 an hour
    // A day later every window is free again.
    t.city.offset_ms += 86400LL * 1000 + 1000;
    CHECK(post_public(t, form("13800000001", id1)).status == 200);
    // The counts are in the database (several server processes share them).
    auto raw = on_postgresql() ? open_pg_db(t.city.db) : open_sqlite_db(t.city.db, false);
    REQUIRE(raw.ok());
    Stmt q(raw->get(), "SELECT count(*) FROM traveller_attempts WHERE key = 'addr:127.0.0.1' AND at > ?1");
    CHECK(scalar_i64(q.bind(1, t.city.now_s() - 3600)).value() == 1);
}

TEST_CASE("an entry scan marks the arrival and opens an arrival item in the destination grid") {
    TravellerCity t;
    auto r = post_public(t, t.form());
    REQUIRE(r.status == 200);
    const std::string pid = r.body["pass_id"];
    // A signature failure with the pass id is no arrival; a guard's manual row neither.
    t.city.scan("gate-03", 1, pid, "reject", "signature");
    t.server->run_jobs_once();
    CHECK(t.tstore->list({"/", true}, 10)->front().status == TravelStatus::registered);
    t.city.scan("gate-03", 2, pid, "green", "ok");
    t.city.scan("gate-03", 3, pid, "green", "ok");  // a second scan: one arrival
    t.server->run_jobs_once();
    auto reg = t.tstore->list({"/", true}, 10);
    REQUIRE(reg.ok());
    REQUIRE(reg->size() == 1);
    CHECK(reg->front().status == TravelStatus::arrived);
    CHECK(reg->front().arrival_site == "entry-1");
    CHECK(reg->front().arrival_device == "gate-03");
    CHECK(reg->front().arrived_at > 0);

    Client a(t.server->port(), t.city.pki / "fleet-ca.crt"), b(t.server->port(), t.city.pki / "fleet-ca.crt");
    REQUIRE(a.login("worker-a").status == 200);
    REQUIRE(b.login("worker-b").status == 200);
    auto wa = a.get("/api/worklist");
    REQUIRE(wa.status == 200);
    int arrivals = 0;
    for (const auto& w : wa.body["worklist"])
        if (w["kind"] == "arrival" && w["pass_id"] == pid) ++arrivals;
    CHECK(arrivals == 1);
    CHECK_FALSE(mentions(b.get("/api/worklist").body, pid));
    // The big screen's arrivals per entry point.
    auto arr = a.get("/api/arrivals");
    REQUIRE(arr.status == 200);
    REQUIRE(arr.body["arrivals"].size() == 1);
    CHECK(arr.body["arrivals"][0]["site"] == "entry-1");
    CHECK(arr.body["arrivals"][0]["arrivals"] == 1);
    CHECK(b.get("/api/arrivals").body["arrivals"].empty());
    // The audit has the arrival for grid A.
    CHECK(mentions(a.get("/api/audit").body, "arrival"));
}

TEST_CASE("registrations that never arrive expire; personal data is deleted after the retention") {
    TravellerCity t;
    auto r = post_public(t, t.form());
    REQUIRE(r.status == 200);
    const std::string token = r.body["token"];
    t.server->run_jobs_once();
    CHECK(t.tstore->list({"/", true}, 10)->front().status == TravelStatus::registered);
    // Two days after the expected arrival (the default window): expired.
    t.city.offset_ms += (2LL * 86400 + 3600 + 60) * 1000;
    t.server->run_jobs_once();
    auto reg = t.tstore->list({"/", true}, 10);
    REQUIRE(reg.ok());
    CHECK(reg->front().status == TravelStatus::expired);
    CHECK(reg->front().name == "王小明");  // still within the retention
    // 28 days after registering: the personal data is gone, the statistics stay.
    t.city.offset_ms += 26LL * 86400 * 1000;
    t.server->run_jobs_once();
    reg = t.tstore->list({"/", true}, 10);
    REQUIRE(reg.ok());
    const Registration& x = reg->front();
    CHECK(x.purged_at > 0);
    CHECK(x.name.empty());
    CHECK(x.phone.empty());
    CHECK(x.id_hash.empty());
    CHECK(x.address.empty());
    CHECK(x.qr.empty());
    CHECK(x.grid == "ga");
    CHECK(x.status == TravelStatus::expired);
    Client anon(t.server->port(), t.city.pki / "fleet-ca.crt");
    CHECK(anon.get("/r/api/pass/" + token).status == 404);
    // PostgreSQL's write-ahead log keeps the old rows until it is recycled: the
    // table's files are what the purge cleans there (docs/deployment.md).
    const std::string bytes = database_bytes(t.city.db, /*pg_wal=*/false);
    CHECK(bytes.find("王小明") == std::string::npos);
    CHECK(bytes.find("13812345678") == std::string::npos);
    CHECK(bytes.find("红军街道3号楼2单元") == std::string::npos);
}

TEST_CASE("posters: one per entry point in scope, the registration URL as QR") {
    TravellerCity t;
    Client chief(t.server->port(), t.city.pki / "fleet-ca.crt"), b(t.server->port(), t.city.pki / "fleet-ca.crt");
    REQUIRE(chief.login("chief").status == 200);
    REQUIRE(b.login("worker-b").status == 200);
    auto list = chief.get("/api/posters");
    REQUIRE(list.status == 200);
    REQUIRE(list.body["posters"].size() == 1);  // site-a and site-b are no entry points
    CHECK(list.body["posters"][0]["url"] == "https://cc.example/r/?site=entry-1");
    auto cl = chief.http();
    httplib::Headers h{{"Cookie", "__Host-cc_session=" + chief.cookie}};
    auto page = cl->Get("/posters/entry-1", h);
    REQUIRE(page);
    CHECK(page->status == 200);
    auto qr = qr_svg("https://cc.example/r/?site=entry-1");
    REQUIRE(qr.ok());
    CHECK(page->body.find(qr->path) != std::string::npos);
    CHECK(page->body.find("G11鹤岗东检查站") != std::string::npos);
    CHECK(page->get_header_value("Content-Security-Policy").find("script-src 'self'") != std::string::npos);
    // The entry point belongs to the city node: outside a grid worker's scope.
    CHECK(b.get("/api/posters").body["posters"].empty());
    httplib::Headers hb{{"Cookie", "__Host-cc_session=" + b.cookie}};
    auto refused = cl->Get("/posters/entry-1", hb);
    REQUIRE(refused);
    CHECK(refused->status == 404);
    // The PDF poster: A4, the URL of this entry point in the QR as pdftoppm renders it.
    auto pdf = cl->Get("/posters/entry-1.pdf", h);
    REQUIRE(pdf);
    CHECK(pdf->status == 200);
    CHECK(pdf->get_header_value("Content-Type") == "application/pdf");
    REQUIRE(pdf->body.rfind("%PDF", 0) == 0);
    CHECK(list.body["posters"][0]["poster_pdf"] == "/posters/entry-1.pdf");
    const auto pages = read_pdf_codes(pdf->body, t.city.tmp / "poster", CHECKPOINT_BIN);
    REQUIRE(pages.size() == 1);
    REQUIRE(pages[0].codes.size() == 1);
    CHECK(pages[0].codes[0] == "https://cc.example/r/?site=entry-1");
    int rc = 0;
    const std::string size = run_command("pdfinfo '" + (t.city.tmp / "poster" / "doc.pdf").string() + "'", &rc);
    CHECK(size.find("595.28 x 841.89 pts (A4)") != std::string::npos);
    const std::string text = run_command("pdftotext '" + (t.city.tmp / "poster" / "doc.pdf").string() + "' -", &rc);
    CHECK(text.find("G11鹤岗东检查站") != std::string::npos);
    CHECK(text.find("入城人员登记") != std::string::npos);
    CHECK(text.find("Registration for travellers entering the city") != std::string::npos);
    std::filesystem::create_directories(CHECKPOINT_IMAGES_DIR);
    std::filesystem::copy_file(pages[0].png, std::filesystem::path(CHECKPOINT_IMAGES_DIR) / "traveller-poster-pdf.png",
                               std::filesystem::copy_options::overwrite_existing);
    // Scoped as the HTML poster: outside the operator's scope is 404, as a missing one.
    auto refused_pdf = cl->Get("/posters/entry-1.pdf", hb);
    REQUIRE(refused_pdf);
    CHECK(refused_pdf->status == 404);
    auto missing = cl->Get("/posters/nowhere.pdf", h);
    REQUIRE(missing);
    CHECK(missing->status == 404);
    // A site name typed as markup stays text on the poster.
    Site evil{0, "evil", "hg", "<script>x()</script>", "road-entry"};
    auto html = poster_html(evil, "https://cc.example/r/?site=evil");
    REQUIRE(html.ok());
    CHECK(html->find("<script>") == std::string::npos);
}

TEST_CASE("serve options: the traveller store opens on the --db backend; PostgreSQL needs an outbox or a gateway") {
    TravellerCity t;
    std::map<std::string, std::string> opts = {{"issuer-key", (t.city.pki / "issuer.key").string()},
                                               {"issuer-cert", (t.city.pki / "issuer.crt").string()},
                                               {"id-secret", (t.city.tmp / "id-secret").string()},
                                               {"public-url", "https://cc.example"}};
    if (on_postgresql()) {  // no folder beside a database URL
        auto none = start_travellers(opts, t.city.db, *t.city.up);
        REQUIRE_FALSE(none.ok());
        CHECK(none.error().is(ErrorKind::config, Reason("travellers")));
    }
    opts["sms-outbox"] = (t.city.tmp / "outbox-serve").string();
    auto rt = start_travellers(opts, t.city.db, *t.city.up);
    REQUIRE(rt.ok());
    auto grids = (*rt)->store->grids();
    REQUIRE(grids.ok());
    CHECK(grids->size() == 2);
    auto reg = post_public(t, t.form());
    REQUIRE(reg.status == 200);
    // The runtime's store reads what the test's own connection wrote.
    CHECK((*rt)->store->list({"/", true}, 10)->size() == 1);
}
