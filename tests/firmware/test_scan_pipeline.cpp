// ScanPipeline on its own: rendered lane frames carrying the CP1 test vectors
// (tests/data/cp1-vectors, signed by its TEST ONLY issuer) and a BoofCV photograph
// (tests/data/boofcv-qr) through read_code → evaluate → commit, against a signed
// status list and a journal in a temporary folder. No daemon, no devices.
#include "firmware/checkpointd/scan_pipeline.hpp"

#include "drivers/camera/camera.hpp"
#include "src/crypto/crypto.hpp"
#include "src/imagefile/image_file.hpp"
#include "src/status/list_format.hpp"
#include "tests/testing.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <memory>
#include <string>

using namespace cp;
using namespace cp::daemon;

namespace {

const nlohmann::json& vectors() {
    static const nlohmann::json v =
        nlohmann::json::parse(testing::read_file(testing::vendored_data("cp1-vectors") / "vectors.json"));
    return v;
}

const nlohmann::json& vector_named(const std::string& name) {
    for (const auto& v : vectors())
        if (v["name"] == name) return v;
    FAIL("no vector " << name);
    return vectors().front();
}

pass::PassId id_of(const std::string& hex) {
    pass::PassId id{};
    auto b = from_hex(hex);
    REQUIRE(b);
    REQUIRE(b->size() == id.size());
    std::copy(b->begin(), b->end(), id.begin());
    return id;
}

// The vectors' "now": the resident pass is valid then.
constexpr std::int64_t kNowS = 1'780'000'000;
const std::string kResident = "00112233445566778899aabbccddeeff";  // vector "resident"
const std::string kDriver = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";    // vector "driver"

// One person holding `text` up to the camera, as the sim camera renders it.
camera::Frame frame_of(const std::string& text) {
    lane::LaneScript s;
    s.lead_frames = 0;
    lane::Person p;
    p.qr = text;
    p.arrive_frames = 0;
    p.hold_frames = 1;
    p.leave_frames = 0;
    p.gap_frames = 0;
    s.people.push_back(p);
    return camera::render_lane_frame(s, 0, 1280, 720, 1);
}

// An empty lane: the same scene with nobody in it.
camera::Frame empty_frame() {
    lane::LaneScript s;
    s.lead_frames = 1;
    return camera::render_lane_frame(s, 0, 1280, 720, 1);
}

// The trusted issuer of the vectors, a status list (resident green, driver red)
// signed by a list signer of the test's own, a journal; no thermometer.
struct Bench {
    testing::TempDir dir;
    crypto::TrustStore trust;
    std::unique_ptr<pass::PassVerifier> verifier;
    std::unique_ptr<status::StatusList> list;
    std::unique_ptr<journal::ScanJournal> journal;
    std::unique_ptr<ScanPipeline> pipe;

    Bench() {
        auto t = crypto::TrustStore::load((testing::vendored_data("cp1-vectors") / "issuer.crt").string());
        REQUIRE(t);
        trust = std::move(*t);
        verifier = std::make_unique<pass::PassVerifier>(trust);

        auto key = crypto::PrivateKey::generate_p256();
        REQUIRE(key);
        auto der = key->self_signed_certificate("scan pipeline test list signer", kNowS - 86400, 30);
        REQUIRE(der);
        crypto::TrustStore signers;
        REQUIRE(signers.add_pem_or_der(*der));
        status::ListHeader h;
        h.version = 1;
        h.created_at = kNowS - 600;
        h.reasons = {"", "isolation"};
        std::vector<status::ListEntry> entries(2);
        entries[0].id = id_of(kResident);
        entries[0].op = status::Op::green;
        entries[1].id = id_of(kDriver);
        entries[1].op = status::Op::red;
        entries[1].reason = 1;
        auto bytes = status::build_list(h, entries, *key, crypto::kid_of(*der));
        REQUIRE(bytes);
        auto l = status::open_sqlite_status_list((dir / "status.db").string());
        REQUIRE(l);
        list = std::move(*l);
        auto imported = list->import_bytes(*bytes, signers);
        REQUIRE_MESSAGE(imported, (imported ? "" : imported.error().describe()));

        journal::JournalOptions jo;
        jo.device_id = "cp-test";
        jo.disk_floor_bytes = 0;
        auto j = journal::ScanJournal::open((dir / "journal.db").string(), jo);
        REQUIRE(j);
        journal = std::move(*j);

        PipelineOptions po;
        po.policy.temperature_required = false;  // no thermometer on this bench
        decode::DecoderOptions dopt;
        dopt.stop_at_first = true;
        pipe = std::make_unique<ScanPipeline>(*verifier, list.get(), nullptr, *journal, po, dopt);
    }

    // A frame through the whole pipeline at the vectors' time; the code must read.
    ScanResult scan(const decode::ImageView& frame, std::int64_t mono_ms) {
        auto code = pipe->read_code(frame, mono_ms);
        REQUIRE(code);
        REQUIRE(code->has_value());
        ScanResult r = pipe->evaluate(**code, LaneInput{}, kNowS * 1000);
        pipe->commit(r);
        return r;
    }
};

}  // namespace

TEST_CASE("a valid pass on the list as green is GREEN, journaled, and opens the gate") {
    Bench b;
    const auto f = frame_of(vector_named("resident")["text"].get<std::string>());
    ScanResult r = b.scan(f.view(), 1000);
    CHECK(r.verdict == decision::Verdict::green);
    CHECK(r.decision.reason == decision::Reason::ok);
    CHECK(r.pass_id == kResident);
    CHECK(r.kind == "R");
    REQUIRE(r.journaled);
    CHECK(r.open_gate);
    CHECK_FALSE(r.journal_error);
    auto rows = b.journal->tail(1);
    REQUIRE(rows);
    REQUIRE(rows->size() == 1);
    CHECK(rows->front().seq == r.seq);
    CHECK(rows->front().verdict == "GREEN");
    CHECK(rows->front().pass_id == kResident);
}

TEST_CASE("a pass the list isolates is RED and the gate stays shut") {
    Bench b;
    const auto f = frame_of(vector_named("driver")["text"].get<std::string>());
    ScanResult r = b.scan(f.view(), 1000);
    CHECK(r.verdict == decision::Verdict::red);
    CHECK(r.decision.reason == decision::Reason::status_red);
    CHECK(r.journaled);
    CHECK_FALSE(r.open_gate);
}

TEST_CASE("a forged signature is RED and its claims are not kept") {
    Bench b;
    const auto f = frame_of(vector_named("bad-signature")["text"].get<std::string>());
    ScanResult r = b.scan(f.view(), 1000);
    CHECK(r.verdict == decision::Verdict::red);
    CHECK(r.decision.reason == decision::Reason::forged);
    CHECK(r.rejection == pass::reason::signature.view());
    CHECK_FALSE(r.pass);
    CHECK(r.pass_id.empty());
    CHECK_FALSE(r.open_gate);
}

TEST_CASE("an unknown issuer and a code that is not a pass are YELLOW") {
    Bench b;
    SUBCASE("unknown issuer") {
        const auto f = frame_of(vector_named("unknown-issuer")["text"].get<std::string>());
        ScanResult r = b.scan(f.view(), 1000);
        CHECK(r.verdict == decision::Verdict::yellow);
        CHECK(r.decision.reason == decision::Reason::unknown_issuer);
        CHECK(r.journaled);
        CHECK_FALSE(r.open_gate);
    }
    SUBCASE("a photographed QR code that is not a pass") {
        auto img = imagefile::load((testing::vendored_data("boofcv-qr") / "nominal" / "image001.jpg").string(),
                                   decode::PixelFormat::gray8);
        REQUIRE(img);
        ScanResult r = b.scan(img->view(), 1000);
        CHECK(r.verdict == decision::Verdict::yellow);
        CHECK(r.decision.reason == decision::Reason::unreadable);
        CHECK(r.rejection == pass::reason::prefix.view());
        CHECK_FALSE(r.open_gate);
    }
}

TEST_CASE("a frame with no code starts no scan and keeps the frame gate closed") {
    Bench b;
    const auto f = empty_frame();
    auto code = b.pipe->read_code(f.view(), 1000);
    REQUIRE(code);
    CHECK_FALSE(code->has_value());
    CHECK_FALSE(b.pipe->code_in_view(1000));
    CHECK_FALSE(b.pipe->code_or_likely_in_view(1000));
    auto rows = b.journal->tail(1);
    REQUIRE(rows);
    CHECK(rows->empty());
}

TEST_CASE("a code in view holds the frame gate open for the hold-off gap, and is one scan") {
    Bench b;
    const auto f = frame_of(vector_named("resident")["text"].get<std::string>());
    const std::int64_t gap = b.pipe->options().holdoff_gap_ms;
    (void)b.scan(f.view(), 1000);
    CHECK(b.pipe->held_text() == vector_named("resident")["text"].get<std::string>());
    CHECK(b.pipe->code_in_view(1000 + gap));
    CHECK(b.pipe->code_or_likely_in_view(1000 + gap));
    // Still held up: the same code is not a new scan.
    auto again = b.pipe->read_code(f.view(), 1200);
    REQUIRE(again);
    CHECK_FALSE(again->has_value());
    // Out of view for longer than the gap: the gate may close.
    CHECK_FALSE(b.pipe->code_in_view(1200 + gap + 1));
    CHECK_FALSE(b.pipe->code_or_likely_in_view(1200 + gap + 1));
}
