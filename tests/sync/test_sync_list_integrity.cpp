// The device's active status list survives every bad delivery byte-identical
// (digest of the status database file) and the device retries later:
//   - the connection dies in the middle of a delta body (a loopback TCP proxy that
//     forwards part of the server's answer and closes), with the SyncWorker
//     retrying and succeeding once the path is healthy;
//   - a server that serves a delta with a bad signature, a tampered entry, a
//     truncated body, or an older version (a fake upstream on 127.0.0.1 with the
//     fleet's TLS, serving bytes taken from the real upstream's published lists).
#include "tests/sync/sync_fixture.hpp"

#include <doctest/doctest.h>

#include <httplib.h>
#include <nlohmann/json.hpp>

using namespace cp;
using namespace cp::sync;
using namespace cp::sync::testing;
using namespace std::chrono_literals;

namespace {

std::string pass_hex(int i) {
    char buf[33];
    std::snprintf(buf, sizeof buf, "%032x", i);
    return buf;
}

// Publishes version `v` changing `n` passes (statuses rotate with the version).
void publish(Upstream& up, const upstream::ListSigner& signer, int v, int n) {
    std::vector<upstream::StatusEntry> e;
    e.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i)
        e.push_back({pass_hex(i + 1), static_cast<upstream::PassStatus>((i + v) % 3), "r" + std::to_string(v), v});
    REQUIRE(up.store->set_statuses(e, 10 * v).ok());
    auto p = upstream::publish_list(*up.store, signer, 100 * v);
    REQUIRE_MESSAGE(p.ok(), p.error().describe());
    REQUIRE(p->version == v);
}

std::string bytes_str(const Bytes& b) { return std::string(b.begin(), b.end()); }

}  // namespace

TEST_CASE("the connection dies mid-delta: the list stays byte-identical, the worker retries and then succeeds") {
    Upstream up;
    up.enroll("gate-01");
    auto signer = upstream::ListSigner::load(up.path("list-signer.key"), up.path("list-signer.crt"));
    REQUIRE(signer.ok());
    publish(up, *signer, 1, 50);
    publish(up, *signer, 2, 20'000);  // a delta of ~440 KB
    Device dev(up);
    auto v1 = up.store->list_version(1);
    REQUIRE(v1.ok());
    REQUIRE(dev.list->import_bytes((*v1)->snapshot, dev.signers).ok());
    const auto db = dev.dir / "status.db";
    const std::string before = file_digest(db);

    CuttingProxy proxy(up.server->port());
    proxy.cut_after = 64 * 1024;  // past the handshake and the delta plan, inside the delta body
    SyncWorkerConfig cfg;
    cfg.https = https_for(up, proxy.port());
    cfg.sync.device_id = "gate-01";
    cfg.poll_interval_ms = 50;
    cfg.heartbeat_interval_ms = 60'000;
    cfg.list_interval_ms = 50;
    cfg.backoff_initial_ms = 20;
    cfg.backoff_cap_ms = 100;
    auto w = SyncWorker::create(cfg, *dev.journal, *dev.list, dev.signers);
    REQUIRE(w.ok());
    REQUIRE((*w)->start().ok());
    // Three cut deliveries: the worker retried after each.
    REQUIRE(eventually([&] { return proxy.cuts >= 3; }, 60s));
    auto s = (*w)->status();
    CHECK_FALSE(s.network_ok);
    CHECK(s.list_version == 1);
    CHECK(dev.list->info()->version == 1);
    // Stop the worker before reading the file so no import is running while we hash.
    (*w)->stop();
    CHECK(file_digest(db) == before);

    proxy.cut_after = -1;  // the path is healthy again
    REQUIRE((*w)->start().ok());
    REQUIRE(eventually([&] { return (*w)->status().list_version == 2; }, 60s));
    (*w)->stop();
    CHECK(dev.list->info()->version == 2);
    CHECK(file_digest(db) != before);
    pass::PassId id{};
    auto raw = from_hex(pass_hex(20'000));
    std::copy(raw->begin(), raw->end(), id.begin());
    auto e = dev.list->lookup(id);
    REQUIRE(e.ok());
    REQUIRE(e->has_value());
}

TEST_CASE("bad signature, tampered entry, truncated body, older version: refused, list byte-identical, then the good delta applies") {
    Upstream up;
    up.enroll("gate-01");
    auto signer = upstream::ListSigner::load(up.path("list-signer.key"), up.path("list-signer.crt"));
    REQUIRE(signer.ok());
    publish(up, *signer, 1, 30);
    publish(up, *signer, 2, 40);
    publish(up, *signer, 3, 50);
    auto v1 = up.store->list_version(1);
    auto v2 = up.store->list_version(2);
    auto v3 = up.store->list_version(3);
    REQUIRE((v1.ok() && v2.ok() && v3.ok()));
    const std::string good2 = bytes_str((*v2)->delta);
    const std::string good3 = bytes_str((*v3)->delta);

    // A fake upstream with the fleet's TLS that serves whatever `served` holds as
    // the delta to version `served_version`.
    std::mutex mu;
    std::string served;
    std::int64_t served_version = 2;
    httplib::SSLServer fake(up.path("server.crt").c_str(), up.path("server.key").c_str(),
                            up.path("fleet-ca.crt").c_str());
    REQUIRE(fake.is_valid());
    // Without a session id context, OpenSSL aborts the client's resumed sessions.
    static const unsigned char sid[] = "cp-fake-upstream";
    REQUIRE(SSL_CTX_set_session_id_context(fake.ssl_context(), sid, sizeof sid - 1) == 1);
    fake.Get("/v1/list/deltas", [&](const httplib::Request& req, httplib::Response& res) {
        std::lock_guard lk(mu);
        const std::int64_t since = std::stoll(req.get_param_value("since"));
        nlohmann::json d = nlohmann::json::array();
        d.push_back({{"version", served_version}, {"base_version", served_version - 1},
                     {"size", served.size()}, {"url", "/v1/list/delta/" + std::to_string(served_version)}});
        res.set_content(nlohmann::json{{"latest", std::max<std::int64_t>(since + 1, served_version)},
                                       {"since", since}, {"snapshot_required", false}, {"deltas", d}}.dump(),
                        "application/json");
    });
    fake.Get(R"(/v1/list/delta/(\d+))", [&](const httplib::Request&, httplib::Response& res) {
        std::lock_guard lk(mu);
        res.set_content(served, "application/octet-stream");
    });
    const int port = fake.bind_to_any_port("127.0.0.1");
    REQUIRE(port > 0);
    std::thread serving([&] { fake.listen_after_bind(); });
    REQUIRE(eventually([&] { return fake.is_running(); }, 10s));

    Device dev(up);
    REQUIRE(dev.list->import_bytes((*v1)->snapshot, dev.signers).ok());
    const auto db = dev.dir / "status.db";
    auto http = HttpsClient::create(https_for(up, port));
    REQUIRE(http.ok());
    SyncClient client(SyncConfig{"gate-01"}, std::move(*http), *dev.journal, *dev.list, dev.signers);

    auto refused = [&](const std::string& bytes, std::int64_t version, const char* what) {
        CAPTURE(what);
        {
            std::lock_guard lk(mu);
            served = bytes;
            served_version = version;
        }
        const std::string before = file_digest(db);
        const auto info_before = dev.list->info();
        auto r = client.pull_list_once();
        REQUIRE_FALSE(r.ok());
        MESSAGE(std::string(what) << ": " << r.error().describe());
        CHECK(file_digest(db) == before);
        CHECK(dev.list->info()->version == info_before->version);
        return r.error();
    };

    // Version 1 active; deltas to version 2 that must all be refused.
    const std::uint32_t hdr_len = (static_cast<std::uint32_t>(static_cast<unsigned char>(good2[8])) << 24) |
                                  (static_cast<std::uint32_t>(static_cast<unsigned char>(good2[9])) << 16) |
                                  (static_cast<std::uint32_t>(static_cast<unsigned char>(good2[10])) << 8) |
                                  static_cast<std::uint32_t>(static_cast<unsigned char>(good2[11]));
    REQUIRE(12 + hdr_len < good2.size());
    std::string bad_sig = good2;
    bad_sig[12 + hdr_len - 2] ^= 0x01;  // inside the ES256 signature, the header's last bytes
    CHECK(refused(bad_sig, 2, "bad signature").reason == "signature");
    std::string tampered = good2;
    tampered[12 + hdr_len + 16] ^= 0x01;  // the first record's status byte: digest mismatch
    refused(tampered, 2, "tampered entry");
    refused(good2.substr(0, good2.size() - 7), 2, "truncated body");
    refused(good2.substr(0, 12 + hdr_len / 2), 2, "truncated header");
    refused(std::string(), 2, "empty body");
    // Version 3's delta is based on 2, not on the active 1.
    CHECK(refused(good3, 3, "wrong base").reason == "list-base");

    // The good delta applies; then an older one (version 2 again) is refused.
    {
        std::lock_guard lk(mu);
        served = good2;
        served_version = 2;
    }
    auto ok = client.pull_list_once();
    REQUIRE_MESSAGE(ok.ok(), ok.error().describe());
    CHECK(ok->to_version == 2);
    CHECK(refused(good2, 2, "older version").kind == ErrorKind::rejected);
    {
        std::lock_guard lk(mu);
        served = good3;
        served_version = 3;
    }
    auto ok3 = client.pull_list_once();
    REQUIRE_MESSAGE(ok3.ok(), ok3.error().describe());
    CHECK(ok3->to_version == 3);

    fake.stop();
    serving.join();
}

TEST_CASE("a snapshot download cut again and again resumes with Range and arrives whole") {
    Upstream up;
    up.enroll("gate-01");
    auto signer = upstream::ListSigner::load(up.path("list-signer.key"), up.path("list-signer.crt"));
    REQUIRE(signer.ok());
    publish(up, *signer, 1, 20'000);
    auto v1 = up.store->list_version(1);
    REQUIRE(v1.ok());
    const std::size_t size = (*v1)->snapshot.size();
    Device dev(up);  // no list yet: it needs the snapshot

    CuttingProxy proxy(up.server->port());
    const long per_connection = 64 * 1024;
    proxy.cut_after = per_connection;
    REQUIRE(size > 4 * static_cast<std::size_t>(per_connection));  // no connection can carry it whole
    auto http = HttpsClient::create(https_for(up, proxy.port()));
    REQUIRE(http.ok());
    SyncConfig sc;
    sc.device_id = "gate-01";
    SyncClient client(sc, std::move(*http), *dev.journal, *dev.list, dev.signers);
    int attempts = 1;
    auto r = client.pull_list_once();
    for (; !r.ok() && attempts < 100; ++attempts) {
        CHECK(r.error().kind == ErrorKind::unavailable);  // a cut, not a bad list
        r = client.pull_list_once();
    }
    REQUIRE_MESSAGE(r.ok(), r.error().describe());
    MESSAGE("snapshot of " << size << " bytes over " << attempts << " connections cut at " << per_connection << " bytes");
    CHECK(r->snapshot);
    CHECK(attempts > 1);
    CHECK(static_cast<std::size_t>(attempts) * static_cast<std::size_t>(per_connection) >= size);
    auto info = dev.list->info();
    REQUIRE(info.has_value());
    CHECK(info->version == 1);
    CHECK(info->entries == 20'000);
}
