// SyncWorker (the device's sync thread) against the real upstream on 127.0.0.1:
// a whole round (heartbeat, upload, list, trust install), status snapshot, 4xx
// refusals not retried blindly, and stop() during a backoff wait and during a
// transfer returning promptly with the thread gone.
#include "tests/sync/sync_fixture.hpp"

#include "src/common/time.hpp"

#include <doctest/doctest.h>

using namespace cp;
using namespace cp::sync;
using namespace cp::sync::testing;
using namespace std::chrono_literals;

namespace {

SyncWorkerConfig worker_cfg(const HttpsConfig& h) {
    SyncWorkerConfig c;
    c.https = h;
    c.sync.device_id = "gate-01";
    c.sync.batch_rows = 50;
    c.poll_interval_ms = 50;
    c.heartbeat_interval_ms = 200;
    c.list_interval_ms = 200;
    c.trust_interval_ms = 200;
    c.backoff_initial_ms = 20;
    c.backoff_cap_ms = 200;
    c.refused_backoff_ms = 60'000;
    c.backoff_seed = 7;
    return c;
}

}  // namespace

TEST_CASE("a worker round: heartbeat, upload until empty, list pull, trust list installed atomically") {
    Upstream up;
    up.enroll("gate-01");
    Device dev(up);
    dev.scans(230);
    auto signer = upstream::ListSigner::load(up.path("list-signer.key"), up.path("list-signer.crt"));
    REQUIRE(signer.ok());
    REQUIRE(up.store->set_statuses({{"00112233445566778899aabbccddeeff", upstream::PassStatus::red, "isolation", 1}}, 10).ok());
    REQUIRE(upstream::publish_list(*up.store, *signer, 100).ok());
    auto der = upstream::certificate_der(as_bytes(cp::testing::read_file(up.pki / "issuer.crt")));
    REQUIRE(der.ok());
    REQUIRE(up.store->add_issuer(upstream::fingerprint(*der), *der, 1).ok());
    REQUIRE(upstream::publish_trust(*up.store, *signer, 10).ok());

    auto cfg = worker_cfg(https_for(up));
    cfg.trust_dir = (dev.dir / "trust").string();
    std::atomic<int> installed{0};
    cfg.on_trust_installed = [&](const TrustList& t) { installed = static_cast<int>(t.version); };
    cfg.sensors_json = [] { return std::string("{\"thermometer\":\"ok\"}"); };
    auto w = SyncWorker::create(cfg, *dev.journal, *dev.list, dev.signers);
    REQUIRE_MESSAGE(w.ok(), w.error().describe());
    CHECK_FALSE((*w)->status().running);
    REQUIRE((*w)->start().ok());
    CHECK(eventually([] { return threads_named("sync") == 1; }, 10s));  // named by the thread itself
    REQUIRE(eventually([&] {
        auto s = (*w)->status();
        return s.network_ok && s.backlog == 0 && s.list_version == 1 && s.trust_version == 1;
    }, 30s));
    auto s = (*w)->status();
    CHECK(s.running);
    CHECK(s.last_success_ms > 0);
    CHECK(s.acked_seq == 230);
    CHECK(s.uploaded_rows == 230);
    REQUIRE(s.skew_ms.has_value());
    CHECK_FALSE(s.skewed);
    CHECK(s.last_error.empty());
    CHECK(installed == 1);
    CHECK(up.store->scan_count().value() == 230);

    // The installed issuers load as the pass verifier's trust store; no temp file is
    // left; the version is read back (and re-verified) from the envelope.
    auto issuers = crypto::TrustStore::load(cfg.trust_dir);
    REQUIRE_MESSAGE(issuers.ok(), issuers.error().describe());
    CHECK(issuers->size() == 1);
    for (const auto& e : std::filesystem::directory_iterator(cfg.trust_dir))
        CHECK(e.path().filename().string().find(".tmp") == std::string::npos);
    CHECK(SyncWorker::installed_trust_version(cfg.trust_dir, dev.signers) == 1);
    crypto::TrustStore wrong;
    REQUIRE(wrong.add_pem_or_der(as_bytes(cp::testing::read_file(up.pki / "issuer.crt"))).ok());
    CHECK(SyncWorker::installed_trust_version(cfg.trust_dir, wrong) == 0);

    // Rows journaled while running go up on the next round (wake() skips the idle wait).
    dev.scans(20);
    (*w)->wake();
    REQUIRE(eventually([&] { return up.store->scan_count().value() == 250; }, 30s));
    (*w)->stop();
    CHECK_FALSE((*w)->status().running);
    CHECK(no_thread_named("sync"));
    (*w)->stop();  // idempotent

    // Restarted, the worker knows its installed trust version and does not reinstall.
    installed = 0;
    auto w2 = SyncWorker::create(cfg, *dev.journal, *dev.list, dev.signers);
    REQUIRE(w2.ok());
    CHECK((*w2)->status().trust_version == 1);
    REQUIRE((*w2)->start().ok());
    REQUIRE(eventually([&] { return (*w2)->status().rounds >= 3; }, 30s));
    CHECK(installed == 0);
}

TEST_CASE("a revoked device is not retried blindly: logged, longer backoff, rows kept") {
    Upstream up;
    up.enroll("gate-01");
    Device dev(up);
    dev.scans(5);
    REQUIRE(up.store->revoke_device("gate-01", 5).ok());
    auto w = SyncWorker::create(worker_cfg(https_for(up)), *dev.journal, *dev.list, dev.signers);
    REQUIRE(w.ok());
    REQUIRE((*w)->start().ok());
    REQUIRE(eventually([&] { return (*w)->status().refused; }, 30s));
    auto s = (*w)->status();
    CHECK_FALSE(s.network_ok);
    CHECK(s.next_attempt_in_ms == 60'000);  // refused_backoff_ms, not the 200 ms cap
    CHECK(s.last_error.find("http-403") != std::string::npos);
    std::this_thread::sleep_for(500ms);
    CHECK((*w)->status().rounds == s.rounds);  // no blind retry within the cap
    CHECK(dev.journal->stats()->pending == 5);
    (*w)->stop();  // wakes it out of the 60 s wait
    CHECK(no_thread_named("sync"));
}

TEST_CASE("stop() during a backoff wait returns promptly and leaves no thread") {
    // Nothing listens on this port: every round fails to connect and backs off for
    // up to a minute.
    Upstream up;
    int port = 0;
    int fd = listen_loopback(&port);
    ::close(fd);
    Device dev(up);
    auto cfg = worker_cfg(https_for(up, port));
    cfg.backoff_initial_ms = 60'000;
    cfg.backoff_cap_ms = 60'000;
    cfg.backoff_seed = 1;
    auto w = SyncWorker::create(cfg, *dev.journal, *dev.list, dev.signers);
    REQUIRE(w.ok());
    REQUIRE((*w)->start().ok());
    REQUIRE(eventually([&] { return (*w)->status().consecutive_failures >= 1; }, 30s));
    auto s = (*w)->status();
    CHECK_FALSE(s.network_ok);
    CHECK(s.last_error.find("connect") != std::string::npos);
    const auto t0 = std::chrono::steady_clock::now();
    (*w)->stop();
    const auto took = std::chrono::steady_clock::now() - t0;
    MESSAGE("stop() took " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
    // The wait would have lasted up to 60 s; a condition variable ends it at once.
    CHECK(took < 10s);
    CHECK(no_thread_named("sync"));
}

TEST_CASE("stop() during a transfer abandons it promptly and leaves no thread") {
    // A loopback listener that accepts and never answers: the TLS handshake hangs
    // until the 30 s transfer timeout, unless stop() aborts it.
    Upstream up;
    int port = 0;
    int lfd = listen_loopback(&port);
    Device dev(up);
    auto cfg = worker_cfg(https_for(up, port));
    cfg.https.transfer_timeout_s = 60;
    cfg.https.low_speed_time_s = 60;
    auto w = SyncWorker::create(cfg, *dev.journal, *dev.list, dev.signers);
    REQUIRE(w.ok());
    REQUIRE((*w)->start().ok());
    // Wait for the device's connection to be accepted (it is then mid-handshake).
    pollfd p{lfd, POLLIN, 0};
    REQUIRE(::poll(&p, 1, 30'000) == 1);
    int conn = ::accept(lfd, nullptr, nullptr);
    REQUIRE(conn >= 0);
    std::this_thread::sleep_for(300ms);
    CHECK((*w)->status().rounds == 1);
    CHECK((*w)->status().consecutive_failures == 0);  // still in the transfer
    const auto t0 = std::chrono::steady_clock::now();
    (*w)->stop();
    const auto took = std::chrono::steady_clock::now() - t0;
    MESSAGE("stop() took " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
    CHECK(took < 10s);  // not the 60 s transfer timeout
    CHECK(no_thread_named("sync"));
    ::close(conn);
    ::close(lfd);
}

TEST_CASE("the destructor stops a running worker") {
    Upstream up;
    up.enroll("gate-01");
    Device dev(up);
    {
        auto w = SyncWorker::create(worker_cfg(https_for(up)), *dev.journal, *dev.list, dev.signers);
        REQUIRE(w.ok());
        REQUIRE((*w)->start().ok());
        REQUIRE(eventually([&] { return (*w)->status().network_ok; }, 30s));
    }
    CHECK(no_thread_named("sync"));
}

TEST_CASE("create() refuses plain HTTP and missing TLS files") {
    Upstream up;
    Device dev(up);
    auto h = https_for(up);
    h.base_url = "http://127.0.0.1:" + std::to_string(up.server->port());
    auto w = SyncWorker::create(worker_cfg(h), *dev.journal, *dev.list, dev.signers);
    REQUIRE_FALSE(w.ok());
    CHECK(w.error().is(cp::sync::reason::url));
    h = https_for(up);
    h.key_path = (dev.dir / "missing.key").string();
    auto w2 = SyncWorker::create(worker_cfg(h), *dev.journal, *dev.list, dev.signers);
    REQUIRE_FALSE(w2.ok());
    CHECK(w2.error().is(cp::sync::reason::tls_files));
}

TEST_CASE("install_trust_list: beside the site's own certificates; an empty issuer list removes the file") {
    Upstream up;
    Device dev(up);
    const auto dir = dev.dir / "trust";
    std::filesystem::create_directories(dir);
    const std::string issuer_pem = cp::testing::read_file(up.pki / "issuer.crt");
    cp::testing::write_file(dir / "site.pem", issuer_pem);  // installed by the image, not by sync
    auto der = upstream::certificate_der(as_bytes(issuer_pem));
    REQUIRE(der.ok());
    TrustList t;
    t.version = 3;
    t.issuers = {*der};
    t.envelope = "{}";
    REQUIRE(SyncWorker::install_trust_list(dir.string(), t).ok());
    auto both = crypto::TrustStore::load(dir.string());
    REQUIRE_MESSAGE(both.ok(), both.error().describe());
    CHECK(both->size() == 2);
    CHECK(cp::testing::read_file(dir / "upstream-trust.json") == "{}");
    t.version = 4;
    t.issuers.clear();
    REQUIRE(SyncWorker::install_trust_list(dir.string(), t).ok());
    CHECK_FALSE(std::filesystem::exists(dir / "upstream-issuers.pem"));
    auto site_only = crypto::TrustStore::load(dir.string());
    REQUIRE_MESSAGE(site_only.ok(), site_only.error().describe());
    CHECK(site_only->size() == 1);
    // An envelope that does not verify reads as "nothing installed".
    CHECK(SyncWorker::installed_trust_version(dir.string(), dev.signers) == 0);
}

TEST_CASE("429 and 503 with Retry-After: the worker waits at least what the server asked") {
    Upstream up;  // the TEST-ONLY PKI; the answers come from the server below
    Device dev(up);
    httplib::SSLServer busy(up.path("server.crt").c_str(), up.path("server.key").c_str(),
                            up.path("fleet-ca.crt").c_str());
    REQUIRE(busy.is_valid());
    std::atomic<int> hits{0}, status{429};
    std::atomic<bool> retry_after{true};
    busy.Post("/v1/heartbeat", [&](const httplib::Request&, httplib::Response& res) {
        ++hits;
        res.status = status.load();
        if (retry_after) res.set_header("Retry-After", "3");
        res.set_content(R"({"error":"unavailable","reason":"busy","message":"later"})", "application/json");
    });
    const int port = busy.bind_to_any_port("127.0.0.1");
    REQUIRE(port > 0);
    std::thread serving([&] { busy.listen_after_bind(); });

    auto run_until_failure = [&] {
        auto w = SyncWorker::create(worker_cfg(https_for(up, port)), *dev.journal, *dev.list, dev.signers);
        REQUIRE(w.ok());
        REQUIRE((*w)->start().ok());
        REQUIRE(eventually([&] { return (*w)->status().consecutive_failures >= 1; }, 30s));
        return std::move(*w);
    };
    {
        auto w = run_until_failure();
        auto s = w->status();
        CHECK(s.last_error.find("http-429") != std::string::npos);
        CHECK_FALSE(s.refused);                // not a refusal: it will come back
        CHECK(s.next_attempt_in_ms == 3000);   // not the 200 ms backoff cap
        std::this_thread::sleep_for(1s);
        CHECK(hits.load() == 1);               // no retry before the server's time
        CHECK(eventually([&] { return hits.load() >= 2; }, 10s));  // and one after it
        w->stop();
    }
    {
        status = 503;
        auto w = run_until_failure();
        CHECK(w->status().last_error.find("http-503") != std::string::npos);
        CHECK(w->status().next_attempt_in_ms == 3000);
        w->stop();
    }
    {
        retry_after = false;  // 503 without Retry-After: the ordinary capped backoff
        auto w = run_until_failure();
        CHECK(w->status().next_attempt_in_ms <= 200);
        w->stop();
    }
    busy.stop();
    serving.join();
    CHECK(no_thread_named("sync"));
}

TEST_CASE("a heartbeat that announces a newer list or trust list pulls it before its interval") {
    Upstream up;
    up.enroll("gate-01");
    auto signer = upstream::ListSigner::load(up.path("list-signer.key"), up.path("list-signer.crt"));
    REQUIRE(signer.ok());
    REQUIRE(up.store->set_statuses({{"00112233445566778899aabbccddeeff", upstream::PassStatus::green, "", 1}}, 10).ok());
    REQUIRE(upstream::publish_list(*up.store, *signer, 100).ok());
    Device dev(up);
    auto cfg = worker_cfg(https_for(up));
    cfg.trust_dir = (dev.dir / "trust").string();
    cfg.list_interval_ms = 3'600'000;   // the first round pulls; the next pull by interval is an hour away
    cfg.trust_interval_ms = 3'600'000;
    cfg.heartbeat_interval_ms = 200;
    auto w = SyncWorker::create(cfg, *dev.journal, *dev.list, dev.signers);
    REQUIRE(w.ok());
    REQUIRE((*w)->start().ok());
    REQUIRE(eventually([&] { return (*w)->status().list_version == 1; }, 30s));

    // The command centre publishes list 2 and trust list 1.
    REQUIRE(up.store->set_statuses({{"00112233445566778899aabbccddeeff", upstream::PassStatus::red, "isolation", 2}}, 20).ok());
    REQUIRE(upstream::publish_list(*up.store, *signer, 200).ok());
    auto der = upstream::certificate_der(as_bytes(cp::testing::read_file(up.pki / "issuer.crt")));
    REQUIRE(der.ok());
    REQUIRE(up.store->add_issuer(upstream::fingerprint(*der), *der, 5).ok());
    REQUIRE(upstream::publish_trust(*up.store, *signer, 10).ok());
    CHECK(eventually([&] { return (*w)->status().list_version == 2 && (*w)->status().trust_version == 1; }, 20s));
    (*w)->stop();
    CHECK(no_thread_named("sync"));
}
