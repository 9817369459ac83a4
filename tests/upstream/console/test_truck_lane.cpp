// The truck driver's chain: a driver registers with a plate through the public
// registration endpoint (HTTP on the console listener), the issued kind D pass goes
// through checkpointd's scan pipeline at a truck lane (the issuer's certificate as
// trust, the upstream's published list signed and imported as the device does), and
// the journaled scan is uploaded to the upstream, whose job marks the arrival. The
// plate the lane checks is the one the driver typed on the registration page.
#include "tests/upstream/console/travellers_fixture.hpp"

#include "firmware/checkpointd/scan_pipeline.hpp"
#include "src/crypto/crypto.hpp"
#include "src/status/store.hpp"
#include "tools/upstream/lists.hpp"
#include "tools/upstream/requests.hpp"

#include <doctest/doctest.h>

using namespace cp;
using namespace cp::upstream;
using namespace cp::upstream::console;
using namespace cp::upstream::console::testing;

namespace {

// The entry lane gate-03 (site entry-1) as a truck lane: the published list of the
// upstream imported with the list signer's certificate, the pass issuer trusted, a
// journal, no thermometer.
struct TruckLane {
    TravellerCity& t;
    crypto::TrustStore issuers;
    std::unique_ptr<pass::PassVerifier> verifier;
    std::unique_ptr<status::StatusList> list;
    std::unique_ptr<journal::ScanJournal> journal;
    std::unique_ptr<daemon::ScanPipeline> pipe;

    explicit TruckLane(TravellerCity& city) : t(city) {
        REQUIRE(issuers.add_pem_or_der(as_bytes(cp::testing::read_file(t.city.pki / "issuer.crt"))).ok());
        verifier = std::make_unique<pass::PassVerifier>(issuers);
        auto l = status::open_sqlite_status_list((t.city.tmp / "lane-status.db").string());
        REQUIRE(l);
        list = std::move(*l);
        journal::JournalOptions jo;
        jo.device_id = "gate-03";
        jo.disk_floor_bytes = 0;
        auto j = journal::ScanJournal::open((t.city.tmp / "lane-journal.db").string(), jo);
        REQUIRE(j);
        journal = std::move(*j);
        daemon::PipelineOptions po;
        po.policy.mode = decision::LaneMode::truck;
        po.policy.temperature_required = false;
        po.lane = "truck-1";
        po.device_id = "gate-03";
        pipe = std::make_unique<daemon::ScanPipeline>(*verifier, list.get(), nullptr, *journal, po,
                                                      decode::DecoderOptions{});
    }

    // The upstream publishes; the lane imports the signed snapshot.
    void sync_list() {
        auto signer = ListSigner::load((t.city.pki / "list-signer.key").string(),
                                       (t.city.pki / "list-signer.crt").string());
        REQUIRE(signer);
        auto v = publish_list(*t.city.up, *signer, t.city.now_s(), false);
        REQUIRE_MESSAGE(v, (v ? "" : v.error().describe()));
        auto signed_list = t.city.up->list_version(v->version);
        REQUIRE(signed_list);
        REQUIRE(signed_list->has_value());
        crypto::TrustStore signers;
        REQUIRE(signers.add_pem_or_der(as_bytes(cp::testing::read_file(t.city.pki / "list-signer.crt"))).ok());
        auto imported = list->import_bytes((**signed_list).snapshot, signers);
        REQUIRE_MESSAGE(imported, (imported ? "" : imported.error().describe()));
    }

    daemon::ScanResult scan(const std::string& qr, const std::string& typed_plate) {
        daemon::ScanResult r = pipe->evaluate(qr, daemon::LaneInput{typed_plate, decision::Direction::in},
                                              t.city.now_s() * 1000);
        pipe->commit(r);
        REQUIRE(r.journaled);
        return r;
    }

    // The journal's unsent rows, uploaded as the sync client's batch (the upstream's
    // own parser of /v1/scans), then the console's jobs (arrivals).
    void upload() {
        auto rows = journal->next_batch(100);
        REQUIRE(rows);
        json scans = json::array();
        for (const auto& r : *rows) {
            std::string verdict = r.verdict;
            for (auto& c : verdict) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            scans.push_back({{"seq", r.seq}, {"scan_id", r.scan_id}, {"verdict", verdict}, {"reason", r.reason},
                             {"time", r.wall_ms / 1000}, {"lane", r.lane}, {"pass_id", r.pass_id}});
        }
        json body = {{"device_id", "gate-03"}, {"scans", scans}};
        auto parsed = parse_scan_upload(body.dump(), "gate-03", t.city.now_s(), 100);
        REQUIRE_MESSAGE(parsed, (parsed ? "" : parsed.error().describe()));
        REQUIRE(t.city.up->ingest_scans("gate-03", *parsed));
        REQUIRE(journal->mark_uploaded_through(rows->back().seq));
        t.server->run_jobs_once();
    }
};

json driver_form(const TravellerCity& t, const std::string& phone, const std::string& id_number,
                 const std::string& plate) {
    json f = t.form(phone);
    f["id_number"] = id_number;
    f["route"] = "driver";
    f["transport"] = "truck";
    f["plate"] = plate;
    return f;
}

Reply register_driver(const TravellerCity& t, const json& form) {
    Client anon(t.server->port(), t.city.pki / "fleet-ca.crt");
    return anon.post("/r/api/register", form, false);
}

TravelStatus status_of(TravellerCity& t, const std::string& pass_id) {
    auto regs = t.tstore->list({"/", true}, 10);
    REQUIRE(regs);
    for (const auto& r : *regs)
        if (r.pass_id == pass_id) return r.status;
    FAIL("no registration " << pass_id);
    return TravelStatus::expired;
}

}  // namespace

TEST_CASE("truck lane: the plate of a kind D pass from the registration page is the plate checked") {
    TravellerCity t;
    // The driver types the plate the way a phone keyboard gives it.
    auto reg = register_driver(t, driver_form(t, "13812345678", kIdNumber, "黑e·12345"));
    REQUIRE_MESSAGE(reg.status == 200, reg.body.dump());
    REQUIRE(reg.body["kind"] == "D");
    const std::string qr = reg.body["qr"], pid = reg.body["pass_id"];
    CHECK(reg.body["plate"] == "黑e·12345");

    TruckLane lane(t);
    lane.sync_list();

    SUBCASE("the inspector types the truck's plate: GREEN, the arrival is registered") {
        auto r = lane.scan(qr, "黑E 12345");
        CHECK(r.kind == "D");
        CHECK(r.decision.verdict == decision::Verdict::green);
        CHECK(r.decision.reason == decision::Reason::ok);
        CHECK(r.open_gate);
        CHECK(r.decision.registers_arrival);
        CHECK(r.decision.plate == "黑e·12345");  // the pass's plate goes into the journal
        auto rows = lane.journal->tail(1);
        REQUIRE(rows);
        CHECK(rows->front().plate == "黑e·12345");
        lane.upload();
        CHECK(status_of(t, pid) == TravelStatus::arrived);
        Client a(t.server->port(), t.city.pki / "fleet-ca.crt");
        REQUIRE(a.login("worker-a").status == 200);
        const auto worklist = a.get("/api/worklist");
        REQUIRE(worklist.status == 200);
        bool in_worklist = false;
        for (const auto& w : worklist.body["worklist"])
            in_worklist = in_worklist || (w["kind"] == "arrival" && w["pass_id"] == pid && w["detail"] == "arrived D entry-1");
        CHECK(in_worklist);
    }
    SUBCASE("another truck's plate: YELLOW plate-mismatch, the gate stays shut") {
        auto r = lane.scan(qr, "黑E54321");
        CHECK(r.decision.verdict == decision::Verdict::yellow);
        CHECK(r.decision.reason == decision::Reason::plate_mismatch);
        CHECK(std::string(decision::reason_code(r.decision.reason)) == "plate-mismatch");
        CHECK_FALSE(r.open_gate);
        // The driver did come to the gate with the pass: the arrival is still a fact
        // (the inspector's manual check decides about the truck).
        CHECK(r.decision.registers_arrival);
        lane.upload();
        CHECK(status_of(t, pid) == TravelStatus::arrived);
    }
    SUBCASE("nothing typed: the pass's plate is the truck's, GREEN") {
        auto r = lane.scan(qr, "");
        CHECK(r.decision.verdict == decision::Verdict::green);
        CHECK(r.decision.plate == "黑e·12345");
    }
}

TEST_CASE("truck lane: a kind D pass not yet in the lane's list is not GREEN") {
    TravellerCity t;
    TruckLane lane(t);
    lane.sync_list();  // published before the driver registered
    auto reg = register_driver(t, driver_form(t, "13812345678", kIdNumber, "黑E12345"));
    REQUIRE(reg.status == 200);
    auto r = lane.scan(reg.body["qr"].get<std::string>(), "黑E12345");
    CHECK(r.decision.verdict == decision::Verdict::yellow);
    CHECK(r.decision.reason == decision::Reason::not_in_list);
}
