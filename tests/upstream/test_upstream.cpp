// The reference upstream on loopback with the real server and a generated TEST-ONLY PKI.
#include "tests/upstream/upstream_fixture.hpp"

#include "src/common/time.hpp"
#include "src/crypto/crypto.hpp"
#include "src/crypto/trust_store.hpp"
#include "src/status/store.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>
#include <zlib.h>

#include <ctime>
#include <map>

using nlohmann::json;
using namespace cp;
using namespace cp::upstream;
using cp::upstream::testing::Upstream;

namespace {

json parse(const std::string& s) { return json::parse(s, nullptr, false); }

json scan(std::int64_t seq, const std::string& id, const std::string& verdict = "green",
          const std::string& reason = "ok") {
    return {{"seq", seq}, {"scan_id", id}, {"pass_id", "00112233445566778899aabbccddeeff"},
            {"verdict", verdict}, {"reason", reason}, {"temperature_c", 36.6},
            {"time", 1764338000 + seq}, {"lane", "in-1"}};
}

httplib::Result post(httplib::SSLClient& c, const std::string& path, const json& body) {
    return c.Post(path.c_str(), body.dump(), "application/json");
}

std::string gzip(const std::string& data) {
    z_stream zs{};
    REQUIRE(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    std::string out(deflateBound(&zs, data.size()) + 64, '\0');
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    zs.avail_in = static_cast<uInt>(data.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
    out.resize(zs.total_out);
    deflateEnd(&zs);
    return out;
}

std::int64_t scans_of(UpstreamStore& store, const std::string& device) {
    auto rows = store.scans(100000, 0, false, device);
    REQUIRE(rows.ok());
    return static_cast<std::int64_t>(rows->size());
}

}  // namespace

TEST_CASE("enrolled device is accepted; unknown, revoked and re-keyed devices are refused") {
    Upstream up;
    up.enroll("gate-01");
    up.enroll("gate-02");

    auto ok = up.device("gate-01")->Get("/v1/list");
    REQUIRE(ok);
    CHECK(ok->status == 200);
    CHECK(parse(ok->body)["version"] == 0);
    CHECK(ok->has_header("Date"));

    // Known to the fleet CA, but never enrolled.
    auto unknown = up.device("gate-03")->Get("/v1/list");
    REQUIRE(unknown);
    CHECK(unknown->status == 403);
    CHECK(parse(unknown->body)["reason"] == "not-enrolled");

    // Revocation takes effect on the next request, without restarting the server.
    auto c2 = up.device("gate-02");
    auto before = c2->Get("/v1/list");
    REQUIRE(before);
    CHECK(before->status == 200);
    REQUIRE(up.store->revoke_device("gate-02", 2).ok());
    auto after = c2->Get("/v1/list");
    REQUIRE(after);
    CHECK(after->status == 403);
    CHECK(parse(after->body)["reason"] == "revoked");
    // Revoked devices cannot upload either.
    auto upload = post(*c2, "/v1/scans", {{"scans", json::array({scan(1, "s1")})}});
    REQUIRE(upload);
    CHECK(upload->status == 403);
    CHECK(scans_of(*up.store, "gate-02") == 0);

    // The CN matches an enrolled device but the certificate is not the enrolled one.
    REQUIRE(up.store->enroll_device("gate-04", std::string(64, '0'), 3).ok());
    auto rekeyed = up.device("gate-04")->Get("/v1/list");
    REQUIRE(rekeyed);
    CHECK(rekeyed->status == 403);
    CHECK(parse(rekeyed->body)["reason"] == "certificate-not-enrolled");

    REQUIRE(up.store->revoke_device("nobody", 4).error().reason == "device");
}

TEST_CASE("TLS without a client certificate, or with a certificate of another CA, is refused") {
    Upstream up;
    up.enroll("gate-01");
    {
        httplib::SSLClient c("localhost", up.server->port());
        c.set_ca_cert_path(up.path("fleet-ca.crt").c_str());
        c.enable_server_certificate_verification(true);
        c.set_connection_timeout(5, 0);
        c.set_read_timeout(5, 0);
        auto r = c.Get("/v1/list");
        CHECK_FALSE(r);  // the handshake fails: no HTTP response at all
    }
    {
        // The wrong-CA server certificate used as a client certificate: chains to a CA
        // the server does not trust.
        httplib::SSLClient c("localhost", up.server->port(), up.path("server-wrong-ca.crt"),
                             up.path("server-wrong-ca.key"));
        c.set_ca_cert_path(up.path("fleet-ca.crt").c_str());
        c.enable_server_certificate_verification(true);
        c.set_connection_timeout(5, 0);
        c.set_read_timeout(5, 0);
        CHECK_FALSE(c.Get("/v1/list"));
    }
    {
        // Plain HTTP to the TLS port gets no HTTP answer.
        httplib::Client c("127.0.0.1", up.server->port());
        c.set_connection_timeout(5, 0);
        c.set_read_timeout(5, 0);
        auto r = c.Get("/v1/list");
        CHECK((!r || r->status == 400));
        if (r) CHECK(r->body.find("version") == std::string::npos);
    }
}

TEST_CASE("scan upload is idempotent and acknowledges the highest contiguous sequence") {
    Upstream up;
    up.enroll("gate-01");
    up.enroll("gate-02");
    auto c = up.device("gate-01");

    json batch = {{"scans", json::array({scan(1, "a1"), scan(2, "a2"), scan(3, "a3")})}};
    auto r1 = post(*c, "/v1/scans", batch);
    REQUIRE(r1);
    REQUIRE(r1->status == 200);
    CHECK(parse(r1->body)["acked_seq"] == 3);
    CHECK(parse(r1->body)["stored"] == 3);

    // The same batch again (the acknowledgement was lost): stored once.
    auto r2 = post(*c, "/v1/scans", batch);
    REQUIRE(r2);
    CHECK(r2->status == 200);
    CHECK(parse(r2->body)["stored"] == 0);
    CHECK(parse(r2->body)["duplicates"] == 3);
    CHECK(parse(r2->body)["acked_seq"] == 3);
    CHECK(scans_of(*up.store, "gate-01") == 3);

    // A gap: 5 and 6 are stored but not acknowledged until 4 arrives.
    auto r3 = post(*c, "/v1/scans", {{"scans", json::array({scan(6, "a6"), scan(5, "a5")})}});
    REQUIRE(r3);
    CHECK(parse(r3->body)["acked_seq"] == 3);
    CHECK(parse(r3->body)["stored"] == 2);
    auto r4 = post(*c, "/v1/scans", {{"scans", json::array({scan(4, "a4")})}});
    REQUIRE(r4);
    CHECK(parse(r4->body)["acked_seq"] == 6);

    // A sequence reused with another scan id keeps the first row and is reported.
    auto r5 = post(*c, "/v1/scans", {{"scans", json::array({scan(2, "other")})}});
    REQUIRE(r5);
    CHECK(parse(r5->body)["conflicts"] == 1);
    CHECK(scans_of(*up.store, "gate-01") == 6);

    // Sequences are per device: gate-02's 1..2 are independent of gate-01's.
    auto r6 = post(*up.device("gate-02"), "/v1/scans",
                   {{"scans", json::array({scan(1, "b1"), scan(2, "b2")})}});
    REQUIRE(r6);
    CHECK(parse(r6->body)["acked_seq"] == 2);

    // A batch naming another device is refused.
    auto r7 = post(*c, "/v1/scans", {{"device_id", "gate-02"}, {"scans", json::array()}});
    REQUIRE(r7);
    CHECK(r7->status == 403);
}

TEST_CASE("scan upload: gzip bodies, bad input as typed errors, limits") {
    Upstream up;
    up.enroll("gate-01");
    auto c = up.device("gate-01");

    json batch = {{"scans", json::array()}};
    for (int i = 1; i <= 200; ++i) batch["scans"].push_back(scan(i, "g" + std::to_string(i)));
    httplib::Headers gz = {{"Content-Encoding", "gzip"}};
    auto r = c->Post("/v1/scans", gz, gzip(batch.dump()), "application/json");
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(parse(r->body)["acked_seq"] == 200);

    // A body that inflates past the limit (16 MiB) is refused, not inflated in memory.
    auto bomb = c->Post("/v1/scans", gz, gzip(std::string(20u << 20, ' ')), "application/json");
    REQUIRE(bomb);
    CHECK(bomb->status == 413);
    auto bad_gzip = c->Post("/v1/scans", gz, std::string("not gzip"), "application/json");
    REQUIRE(bad_gzip);
    CHECK(bad_gzip->status == 400);

    auto not_json = c->Post("/v1/scans", std::string("{"), "application/json");
    REQUIRE(not_json);
    CHECK(not_json->status == 400);
    CHECK(parse(not_json->body)["reason"] == "json");

    struct Case {
        const char* field;
        json value;
    };
    for (const Case& k : {Case{"seq", 0}, Case{"seq", "1"}, Case{"pass_id", "XYZ"},
                          Case{"verdict", "purple"}, Case{"temperature_c", 99.0},
                          Case{"scan_id", ""}, Case{"time", -5}, Case{"reason", "a b"},
                          Case{"type", "other"}, Case{"type", "manual"}}) {
        json s = scan(1, "x1");
        s[k.field] = k.value;
        auto bad = post(*c, "/v1/scans", {{"scans", json::array({s})}});
        REQUIRE(bad);
        CHECK_MESSAGE(bad->status == 400, k.field);
        CHECK(parse(bad->body)["reason"] == "scan");
        CHECK(parse(bad->body)["index"] == 0);
    }
    json big = {{"scans", json::array()}};
    for (int i = 1; i <= 1001; ++i) big["scans"].push_back(scan(i, "z" + std::to_string(i)));
    auto too_big = post(*c, "/v1/scans", big);
    REQUIRE(too_big);
    CHECK(too_big->status == 413);
    CHECK(scans_of(*up.store, "gate-01") == 200);
}

TEST_CASE("heartbeat reports clock skew and the server's Date") {
    Upstream up;
    up.enroll("gate-01");
    auto c = up.device("gate-01");
    // The server's clock runs 10 minutes behind the device's.
    up.clock_offset_ms = -600'000;
    const std::int64_t device_now = wall_now_ms();
    auto r = post(*c, "/v1/heartbeat",
                  {{"firmware", "1.2.3"}, {"list_version", 7}, {"backlog", 42},
                   {"wall_time_ms", device_now}, {"sensors", {{"thermometer", "ok"}}}});
    REQUIRE(r);
    REQUIRE(r->status == 200);
    json b = parse(r->body);
    CHECK(b["skew_ms"].get<std::int64_t>() > 590'000);
    CHECK(b["skew_ms"].get<std::int64_t>() < 610'000);
    // Date is the server's (skewed) clock, to the second.
    REQUIRE(r->has_header("Date"));
    std::tm tm{};
    REQUIRE(strptime(r->get_header_value("Date").c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm));
    const std::int64_t date_s = timegm(&tm);
    CHECK(std::llabs(date_s - b["server_time_ms"].get<std::int64_t>() / 1000) <= 1);
    CHECK(std::llabs((device_now / 1000 - date_s) - 600) <= 2);

    auto devs = up.store->devices();
    REQUIRE(devs.ok());
    REQUIRE(devs->size() == 1);
    REQUIRE((*devs)[0].last_heartbeat);
    CHECK((*devs)[0].last_heartbeat->backlog == 42);
    CHECK((*devs)[0].last_heartbeat->list_version == 7);

    auto bad = post(*c, "/v1/heartbeat", {{"firmware", "1.2.3"}, {"list_version", 7}});
    REQUIRE(bad);
    CHECK(bad->status == 400);
}

TEST_CASE("published list versions: deltas since a version, signatures verify, tampering fails") {
    Upstream up;
    up.enroll("gate-01");
    auto signer = ListSigner::load(up.path("list-signer.key"), up.path("list-signer.crt"));
    REQUIRE(signer.ok());
    auto wrong = ListSigner::load(up.path("issuer.key"), up.path("list-signer.crt"));
    CHECK(wrong.error().reason == "key-mismatch");

    const std::string a = "00112233445566778899aabbccddeeff";
    const std::string b = "ffeeddccbbaa99887766554433221100";
    REQUIRE(up.store->set_statuses({{a, PassStatus::red, "quarantine"}, {b, PassStatus::green, ""}}, 10).ok());
    auto v1 = publish_list(*up.store, *signer, 100);
    REQUIRE(v1.ok());
    CHECK(v1->version == 1);
    CHECK(publish_list(*up.store, *signer, 101).error().reason == "unchanged");
    REQUIRE(up.store->set_statuses({{b, PassStatus::yellow, "contact"}}, 20).ok());
    auto v2 = publish_list(*up.store, *signer, 200);
    REQUIRE(v2.ok());
    CHECK(v2->version == 2);
    CHECK(v2->changes == 1);

    auto c = up.device("gate-01");
    auto deltas = c->Get("/v1/list/deltas?since=1");
    REQUIRE(deltas);
    REQUIRE(deltas->status == 200);
    json d = parse(deltas->body);
    CHECK(d["latest"] == 2);
    CHECK(d["snapshot_required"] == false);
    REQUIRE(d["deltas"].size() == 1);
    auto delta = c->Get(d["deltas"][0]["url"].get<std::string>().c_str());
    REQUIRE(delta);
    REQUIRE(delta->status == 200);

    // The device's own status module verifies and applies what the server sends:
    // snapshot 1 (as a new device would take it), then the delta to 2.
    auto snap1 = c->Get("/v1/list/snapshot/1");
    REQUIRE(snap1);
    REQUIRE(snap1->status == 200);
    crypto::TrustStore list_trust;
    REQUIRE(list_trust.add_pem_or_der(as_bytes(cp::testing::read_file(up.pki / "list-signer.crt"))).ok());
    auto device_list = status::open_sqlite_status_list((up.tmp / "device-status.db").string());
    REQUIRE(device_list.ok());
    auto i1 = (*device_list)->import_bytes(as_bytes(snap1->body), list_trust);
    REQUIRE_MESSAGE(i1.ok(), i1.error().describe());
    CHECK(i1->version == 1);
    CHECK(i1->entries == 2);

    // One flipped byte anywhere in the delta is refused and leaves version 1 active.
    std::string tampered = delta->body;
    tampered[tampered.size() - 3] = static_cast<char>(tampered[tampered.size() - 3] ^ 0x01);
    CHECK_FALSE((*device_list)->apply_delta(as_bytes(tampered), list_trust).ok());
    // Signed by a key the device does not trust.
    crypto::TrustStore wrong_trust;
    REQUIRE(wrong_trust.add_pem_or_der(as_bytes(cp::testing::read_file(up.pki / "issuer.crt"))).ok());
    CHECK_FALSE((*device_list)->apply_delta(as_bytes(delta->body), wrong_trust).ok());
    CHECK((*device_list)->info()->version == 1);

    auto i2 = (*device_list)->apply_delta(as_bytes(delta->body), list_trust);
    REQUIRE_MESSAGE(i2.ok(), i2.error().describe());
    CHECK(i2->version == 2);
    pass::PassId bid{};
    auto braw = from_hex(b);
    std::copy(braw->begin(), braw->end(), bid.begin());
    auto eb = (*device_list)->lookup(bid);
    REQUIRE(eb.ok());
    REQUIRE(*eb);
    CHECK((*eb)->status == status::PassStatus::yellow);
    CHECK((*eb)->reason == "contact");
    // The same delta again is refused (its base is no longer the active version).
    CHECK_FALSE((*device_list)->apply_delta(as_bytes(delta->body), list_trust).ok());

    // since=0 (a new device) is told to take the snapshot of the latest version.
    auto fresh = parse(c->Get("/v1/list/deltas?since=0")->body);
    CHECK(fresh["snapshot_required"] == true);
    CHECK(fresh["snapshot"] == "/v1/list/snapshot/2");

    auto verifier = DocumentVerifier::from_certificate(
        as_bytes(cp::testing::read_file(up.pki / "list-signer.crt")));
    REQUIRE(verifier.ok());
    CHECK(c->Get("/v1/list/deltas?since=x")->status == 400);
    CHECK(c->Get("/v1/list/delta/9")->status == 404);
    CHECK(parse(c->Get("/v1/list/delta/1")->body)["reason"] == "no-delta");
    CHECK(c->Get("/v1/trust")->status == 404);

    // Trust list: issuer certificates, signed the same way.
    auto issuer_der = certificate_der(as_bytes(cp::testing::read_file(up.pki / "issuer.crt")));
    REQUIRE(issuer_der.ok());
    REQUIRE(up.store->add_issuer(fingerprint(*issuer_der), *issuer_der, 5).ok());
    auto t = publish_trust(*up.store, *signer, 300);
    REQUIRE(t.ok());
    auto trust = c->Get("/v1/trust");
    REQUIRE(trust);
    CHECK(trust->status == 200);
    CHECK(trust->get_header_value("X-Trust-Version") == "1");
    auto tp = verify_document(as_bytes(trust->body), *verifier);
    REQUIRE(tp.ok());
    CHECK(parse(*tp)["issuers"][0] == to_hex(*issuer_der));

    // The envelope: tampering, another signer and garbage are typed refusals.
    json env = parse(trust->body);
    std::string payload = env["payload"].get<std::string>();
    payload[payload.size() - 2] = payload[payload.size() - 2] == '0' ? '1' : '0';
    env["payload"] = payload;
    CHECK(verify_document(as_bytes(env.dump()), *verifier).error().reason == "signature");
    auto other = DocumentVerifier::from_certificate(
        as_bytes(cp::testing::read_file(up.pki / "issuer.crt")));
    REQUIRE(other.ok());
    CHECK(verify_document(as_bytes(trust->body), *other).error().reason == "kid");
    CHECK(verify_document(as_bytes(std::string("{}")), *verifier).error().reason == "envelope");
    // The device's crypto module verifies the same signature independently.
    json env2 = parse(trust->body);
    auto device_cert = crypto::Certificate::parse(
        as_bytes(cp::testing::read_file(up.pki / "list-signer.crt")));
    REQUIRE(device_cert.ok());
    CHECK(to_hex(device_cert->kid()) == env2["kid"].get<std::string>());
    CHECK(device_cert->verify_es256(as_bytes(env2["payload"].get<std::string>()),
                                    *from_hex(env2["sig"].get<std::string>())).ok());
}

TEST_CASE("snapshot download resumes with Range and with offset+length") {
    Upstream up;
    up.enroll("gate-01");
    auto signer = ListSigner::load(up.path("list-signer.key"), up.path("list-signer.crt"));
    REQUIRE(signer.ok());
    std::vector<StatusEntry> many;
    for (int i = 0; i < 3000; ++i) {
        char id[33];
        std::snprintf(id, sizeof id, "%032x", i);
        many.push_back({id, i % 7 == 0 ? PassStatus::red : PassStatus::green, ""});
    }
    REQUIRE(up.store->set_statuses(many, 1).ok());
    auto v = publish_list(*up.store, *signer, 100);
    REQUIRE(v.ok());
    const std::string full(as_chars(up.store->list_version(v->version).value()->snapshot));
    REQUIRE(full.size() > 50000);

    auto c = up.device("gate-01");
    // First part, as if the connection then dropped.
    auto part1 = c->Get("/v1/list/snapshot/1", {{"Range", "bytes=0-29999"}});
    REQUIRE(part1);
    CHECK(part1->status == 206);
    CHECK(part1->body.size() == 30000);
    CHECK(part1->get_header_value("ETag") == "\"snapshot-1\"");
    auto part2 = c->Get("/v1/list/snapshot/1", {{"Range", "bytes=30000-"}});
    REQUIRE(part2);
    CHECK(part2->status == 206);
    CHECK(part1->body + part2->body == full);

    std::string joined;
    for (std::size_t off = 0; off < full.size(); off += 16384) {
        auto r = c->Get(("/v1/list/snapshot/1?offset=" + std::to_string(off) + "&length=16384").c_str());
        REQUIRE(r);
        REQUIRE(r->status == 200);
        CHECK(r->get_header_value("X-Total-Length") == std::to_string(full.size()));
        joined += r->body;
    }
    CHECK(joined == full);
    CHECK(c->Get(("/v1/list/snapshot/1?offset=" + std::to_string(full.size() + 1)).c_str())->status == 416);
    CHECK(c->Get("/v1/list/snapshot/1?offset=-1")->status == 416);
}

TEST_CASE("server refuses to start with a bad certificate or CA") {
    cp::testing::TempDir tmp;
    auto store = open_sqlite_store((tmp / "u.db").string());
    REQUIRE(store.ok());
    ServerConfig cfg;
    cfg.cert_path = (tmp / "missing.crt").string();
    cfg.key_path = (tmp / "missing.key").string();
    cfg.client_ca_path = (tmp / "missing-ca.crt").string();
    CHECK(UpstreamServer::create(cfg, **store).error().reason == "tls");
    CHECK(open_sqlite_store((tmp / "no" / "such" / "dir.db").string()).error().reason == "sqlite-open");
}

TEST_CASE("gunzip caps and rejects") {
    CHECK(gunzip("", 10).error().reason == "gzip");
    CHECK(gunzip(gzip(std::string(100, 'a')), 10).error().reason == "too-large");
    auto ok = gunzip(gzip("hello"), 10);
    REQUIRE(ok.ok());
    CHECK(*ok == "hello");
    std::string truncated = gzip(std::string(5000, 'q'));
    truncated.resize(truncated.size() / 2);
    CHECK_FALSE(gunzip(truncated, 1u << 20).ok());
}
