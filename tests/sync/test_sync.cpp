// The device sync client against the real upstream server on 127.0.0.1 with a
// TEST-ONLY PKI: refusal of plain HTTP and of bad server certificates, upload with
// acknowledgement, list pull through the status module, heartbeat skew, backoff.
#include "tests/sync/sync_fixture.hpp"

#include "src/common/time.hpp"
#include "src/sync/sync_client.hpp"

#include <doctest/doctest.h>

using namespace cp;
using namespace cp::sync;
using cp::upstream::testing::Upstream;
using cp::sync::testing::Device;
using cp::sync::testing::https_for;

TEST_CASE("plain HTTP and missing TLS files are refused before any connection") {
    HttpsConfig h;
    h.base_url = "http://127.0.0.1:1";
    CHECK(HttpsClient::create(h).error().is(cp::sync::reason::url));
    h.base_url = "HTTPS://127.0.0.1:1";  // not the exact scheme: refused too
    CHECK(HttpsClient::create(h).error().is(cp::sync::reason::url));
    h.base_url = "https://127.0.0.1:1";
    h.ca_path = "/nonexistent/ca.pem";
    CHECK(HttpsClient::create(h).error().is(cp::sync::reason::tls_files));
}

TEST_CASE("a server with an expired certificate or one from another CA is refused") {
    for (const char* bad : {"server-expired", "server-wrong-ca"}) {
        CAPTURE(bad);
        Upstream up(bad);
        up.enroll("gate-01");
        auto c = HttpsClient::create(https_for(up));
        REQUIRE(c.ok());
        auto r = c->get("/v1/list");
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().is(cp::sync::reason::tls));
        CHECK(r.error().kind == ErrorKind::unavailable);
    }
    // The good server, reached by a name its certificate does not carry, is refused
    // too (host name verification): 127.0.0.2 is loopback but not in the SAN.
    Upstream up;
    up.enroll("gate-01");
    auto h = https_for(up);
    h.base_url = "https://127.0.0.2:" + std::to_string(up.server->port());
    auto c = HttpsClient::create(h);
    REQUIRE(c.ok());
    auto r = c->get("/v1/list");
    REQUIRE_FALSE(r.ok());
    CHECK((r.error().is(cp::sync::reason::tls) || r.error().is(cp::sync::reason::connect)));
    // And the right server answers.
    auto ok = HttpsClient::create(https_for(up));
    REQUIRE(ok.ok());
    auto good = ok->get("/v1/list");
    REQUIRE_MESSAGE(good.ok(), good.error().describe());
    CHECK(good->status == 200);
    CHECK(good->date_s.has_value());
    // Past the server's keep-alive limit the client reconnects and resumes its TLS
    // session; every request must still succeed (a server without a session id
    // context aborts resumed sessions).
    for (int i = 0; i < 12; ++i) {
        auto again = ok->get("/v1/list");
        REQUIRE_MESSAGE(again.ok(), again.error().describe());
        CHECK(again->status == 200);
    }
}

TEST_CASE("journal rows are marked uploaded only up to the server's acknowledgement") {
    Upstream up;
    up.enroll("gate-01");
    Device dev(up);
    dev.scans(7);
    SyncConfig sc;
    sc.device_id = "gate-01";
    sc.batch_rows = 3;
    auto http = HttpsClient::create(https_for(up));
    REQUIRE(http.ok());
    SyncClient client(sc, std::move(*http), *dev.journal, *dev.list, dev.signers);

    auto r1 = client.upload_once();
    REQUIRE_MESSAGE(r1.ok(), r1.error().describe());
    CHECK(r1->sent == 3);
    CHECK(r1->acked_seq == 3);
    CHECK(dev.journal->stats()->pending == 4);
    for (int i = 0; i < 3; ++i) REQUIRE(client.upload_once().ok());
    CHECK(dev.journal->stats()->pending == 0);
    CHECK(client.upload_once()->sent == 0);
    auto stored = up.store->scans(100, 0, false, "gate-01");
    REQUIRE(stored.ok());
    CHECK(stored->size() == 7);
    auto alerts = up.store->scans(100, 0, true, "gate-01");
    CHECK(alerts->size() == 2);  // seq 1 and 6 were RED

    // A guard's resolution travels as a manual row referencing its scan; not an alert.
    auto m = dev.journal->append_manual(1, "GREEN", "guard-checked");
    REQUIRE_MESSAGE(m.ok(), m.error().describe());
    auto rm = client.upload_once();
    REQUIRE_MESSAGE(rm.ok(), rm.error().describe());
    CHECK(rm->acked_seq == 8);
    auto last = up.store->scans(1, 0, false, "gate-01");
    REQUIRE(last.ok());
    CHECK((*last)[0].scan.manual);
    CHECK((*last)[0].scan.ref_seq == 1);
    CHECK(up.store->scans(100, 0, true, "gate-01")->size() == 2);

    // A revoked device keeps its rows: nothing is marked uploaded.
    dev.scans(2);
    REQUIRE(up.store->revoke_device("gate-01", 5).ok());
    auto refused = client.upload_once();
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().reason == "http-403");  // the wire spelling
    CHECK(http_status(refused.error()) == 403);
    CHECK(refused.error().message == "revoked");
    CHECK(dev.journal->stats()->pending == 2);
}

TEST_CASE("list pull: snapshot for a new device, then deltas, verified by the status module") {
    Upstream up;
    up.enroll("gate-01");
    Device dev(up);
    auto signer = upstream::ListSigner::load(up.path("list-signer.key"), up.path("list-signer.crt"));
    REQUIRE(signer.ok());
    const std::string a = "00112233445566778899aabbccddeeff";
    REQUIRE(up.store->set_statuses({{a, upstream::PassStatus::red, "isolation", 1}}, 10).ok());
    REQUIRE(upstream::publish_list(*up.store, *signer, 100).ok());

    auto http = HttpsClient::create(https_for(up));
    REQUIRE(http.ok());
    SyncClient client(SyncConfig{"gate-01"}, std::move(*http), *dev.journal, *dev.list, dev.signers);
    auto p1 = client.pull_list_once();
    REQUIRE_MESSAGE(p1.ok(), p1.error().describe());
    CHECK(p1->snapshot);
    CHECK(p1->to_version == 1);

    REQUIRE(up.store->set_statuses({{a, upstream::PassStatus::green, "", 2}}, 20).ok());
    REQUIRE(upstream::publish_list(*up.store, *signer, 200).ok());
    REQUIRE(up.store->set_statuses({{"ffeeddccbbaa99887766554433221100", upstream::PassStatus::yellow, "contact", 3}}, 30).ok());
    REQUIRE(upstream::publish_list(*up.store, *signer, 300).ok());
    auto p2 = client.pull_list_once();
    REQUIRE_MESSAGE(p2.ok(), p2.error().describe());
    CHECK_FALSE(p2->snapshot);
    CHECK(p2->deltas == 2);
    CHECK(p2->to_version == 3);
    pass::PassId id{};
    auto raw = from_hex(a);
    std::copy(raw->begin(), raw->end(), id.begin());
    auto e = dev.list->lookup(id);
    REQUIRE(e.ok());
    REQUIRE(*e);
    CHECK((*e)->status == status::PassStatus::green);
    auto again = client.pull_list_once();
    REQUIRE_MESSAGE(again.ok(), again.error().describe());
    CHECK(again->to_version == 3);
    CHECK(again->deltas == 0);

    // A device that trusts another signer refuses the list and keeps none.
    Device other(up);
    crypto::TrustStore wrong;
    REQUIRE(wrong.add_pem_or_der(as_bytes(cp::testing::read_file(up.pki / "issuer.crt"))).ok());
    auto http2 = HttpsClient::create(https_for(up));
    REQUIRE(http2.ok());
    SyncClient c2(SyncConfig{"gate-01"}, std::move(*http2), *other.journal, *other.list, wrong);
    CHECK_FALSE(c2.pull_list_once().ok());
    CHECK_FALSE(other.list->info().has_value());
}

TEST_CASE("trust list pull: verified against the list signer, newer versions only") {
    Upstream up;
    up.enroll("gate-01");
    Device dev(up);
    auto http = HttpsClient::create(https_for(up));
    REQUIRE(http.ok());
    SyncClient client(SyncConfig{"gate-01"}, std::move(*http), *dev.journal, *dev.list, dev.signers);
    auto none = client.pull_trust_once(0);
    REQUIRE(none.ok());
    CHECK_FALSE(none->has_value());

    auto signer = upstream::ListSigner::load(up.path("list-signer.key"), up.path("list-signer.crt"));
    REQUIRE(signer.ok());
    auto der = upstream::certificate_der(as_bytes(cp::testing::read_file(up.pki / "issuer.crt")));
    REQUIRE(der.ok());
    REQUIRE(up.store->add_issuer(upstream::fingerprint(*der), *der, 1).ok());
    REQUIRE(upstream::publish_trust(*up.store, *signer, 10).ok());
    auto t = client.pull_trust_once(0);
    REQUIRE_MESSAGE(t.ok(), t.error().describe());
    REQUIRE(t->has_value());
    CHECK((*t)->version == 1);
    REQUIRE((*t)->issuers.size() == 1);
    CHECK((*t)->issuers[0] == *der);
    // The issuer certificate loads into the pass verifier's trust store.
    crypto::TrustStore issuers;
    CHECK(issuers.add_pem_or_der((*t)->issuers[0]).ok());
    CHECK_FALSE(client.pull_trust_once(1)->has_value());              // up to date
    CHECK(client.pull_trust_once(2).error().is(cp::sync::reason::trust_version));  // older than ours

    // A device that trusts another list signer refuses it.
    crypto::TrustStore wrong;
    REQUIRE(wrong.add_pem_or_der(as_bytes(cp::testing::read_file(up.pki / "issuer.crt"))).ok());
    auto http2 = HttpsClient::create(https_for(up));
    REQUIRE(http2.ok());
    SyncClient c2(SyncConfig{"gate-01"}, std::move(*http2), *dev.journal, *dev.list, wrong);
    CHECK(c2.pull_trust_once(0).error().is(cp::sync::reason::unknown_key));
}

TEST_CASE("heartbeat measures clock skew from the server's Date") {
    Upstream up;
    up.enroll("gate-01");
    Device dev(up);
    dev.scans(4);
    auto http = HttpsClient::create(https_for(up));
    REQUIRE(http.ok());
    SyncClient client(SyncConfig{"gate-01"}, std::move(*http), *dev.journal, *dev.list, dev.signers);
    auto s0 = client.heartbeat_once("{\"thermometer\":\"ok\"}");
    REQUIRE_MESSAGE(s0.ok(), s0.error().describe());
    CHECK(std::llabs(s0->skew_ms) <= 1600);
    CHECK_FALSE(s0->skewed);
    auto devs = up.store->devices();
    REQUIRE(devs.ok());
    REQUIRE((*devs)[0].last_heartbeat);
    CHECK((*devs)[0].last_heartbeat->backlog == 4);

    up.clock_offset_ms = -3'600'000;  // the command centre is an hour behind us
    auto s1 = client.heartbeat_once();
    REQUIRE(s1.ok());
    CHECK(s1->skewed);
    CHECK(std::llabs(s1->skew_ms - 3'600'000) <= 1600);
}

TEST_CASE("backoff: exponential ceiling, capped, jittered, reset on success") {
    SyncBackoff b(1000, 60'000, 42);
    std::int64_t expected = 1000;
    for (int i = 0; i < 10; ++i) {
        CHECK(b.ceiling_ms() == std::min<std::int64_t>(expected, 60'000));
        auto d = b.next_delay_ms();
        CHECK(d >= 0);
        CHECK(d <= std::min<std::int64_t>(expected, 60'000));
        expected *= 2;
    }
    CHECK(b.ceiling_ms() == 60'000);
    // Jitter: 200 draws at the cap are not all the same.
    std::int64_t lo = 60'000, hi = 0;
    for (int i = 0; i < 200; ++i) {
        auto d = b.next_delay_ms();
        lo = std::min(lo, d);
        hi = std::max(hi, d);
    }
    CHECK(hi - lo > 10'000);
    b.reset();
    CHECK(b.ceiling_ms() == 1000);
    CHECK(b.failures() == 0);
}

TEST_CASE("Retry-After: delay-seconds or a date counted from the answer's own Date") {
    const std::int64_t date = 784111777;  // Sun, 06 Nov 1994 08:49:37 GMT
    CHECK(parse_retry_after("120", date) == 120'000);
    CHECK(parse_retry_after("0", date) == 0);
    CHECK(parse_retry_after("Sun, 06 Nov 1994 08:51:37 GMT", date) == 120'000);
    CHECK(parse_retry_after("Sun, 06 Nov 1994 08:48:37 GMT", date) == 0);  // already past
    CHECK_FALSE(parse_retry_after("", date));
    CHECK_FALSE(parse_retry_after("-5", date));
    CHECK_FALSE(parse_retry_after("1.5", date));
    CHECK_FALSE(parse_retry_after("soon", date));
    CHECK_FALSE(parse_retry_after("99999999999999999999", date));
}

TEST_CASE("http_status reads a refusal's status back, and only a refusal's") {
    CHECK(http_status(Error{ErrorKind::rejected, "http-429", "slow down"}) == 429);
    CHECK(http_status(Error{ErrorKind::rejected, "http-503"}) == 503);
    // Not a refusal, not a status, or not only a status: 0.
    CHECK(http_status(Error{ErrorKind::unavailable, "http-503"}) == 0);
    CHECK(http_status(Error{ErrorKind::rejected, reason::signature}) == 0);
    CHECK(http_status(Error{ErrorKind::rejected, "http-"}) == 0);
    CHECK(http_status(Error{ErrorKind::rejected, "http-40x"}) == 0);
    CHECK(http_status(Error{ErrorKind::rejected, "http-99"}) == 0);
    CHECK(http_status(Error{ErrorKind::rejected, "http-4031"}) == 0);
}
