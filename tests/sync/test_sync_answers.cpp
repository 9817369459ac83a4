// What the device does with server answers it cannot trust: a fake command centre
// on 127.0.0.1 (the fleet's TLS) answers every route with wrong JSON types, with
// paths that leave the API, and with a download that never ends. Each is a typed
// error ([invalid_input] "response", "trust-format", "url-path", "too-large"),
// never an exception; the sync thread survives all of them and a throwing hook,
// counts the fault and keeps retrying.
#include "tests/sync/sync_fixture.hpp"

#include <doctest/doctest.h>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <ctime>


using namespace cp;
using namespace cp::sync;
using namespace cp::sync::testing;
using namespace std::chrono_literals;

namespace {

// The fleet's TLS for a fake server: server certificate, client certificates from
// the fleet CA, and a session id context so that libcurl's resumed sessions work.
std::unique_ptr<httplib::SSLServer> tls_server(const Upstream& up) {
    const std::string cert = up.path("server.crt"), key = up.path("server.key"), ca = up.path("fleet-ca.crt");
    auto srv = std::make_unique<httplib::SSLServer>([=](SSL_CTX& ctx) {
        static const unsigned char kContext[] = "checkpoint-test";
        return SSL_CTX_use_certificate_chain_file(&ctx, cert.c_str()) == 1 &&
               SSL_CTX_use_PrivateKey_file(&ctx, key.c_str(), SSL_FILETYPE_PEM) == 1 &&
               SSL_CTX_load_verify_locations(&ctx, ca.c_str(), nullptr) == 1 &&
               (SSL_CTX_set_verify(&ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr), true) &&
               SSL_CTX_set_session_id_context(&ctx, kContext, sizeof kContext - 1) == 1;
    });
    REQUIRE(srv->is_valid());
    return srv;
}

std::string http_date_now() {
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    return buf;
}

// A fake command centre: every route answers what `answers[path]` holds (200,
// application/json); every path asked for is recorded.
struct FakeCentre {
    std::unique_ptr<httplib::SSLServer> server;
    httplib::SSLServer& srv;
    std::mutex mu;
    std::map<std::string, std::string> answers;
    std::map<std::string, int> statuses;
    std::vector<std::string> asked;
    int port = 0;
    std::thread serving;

    explicit FakeCentre(const Upstream& up) : server(tls_server(up)), srv(*server) {
        auto handler = [this](const httplib::Request& req, httplib::Response& res) {
            std::lock_guard lk(mu);
            asked.push_back(req.path);
            auto it = answers.find(req.path);
            if (it == answers.end()) {
                res.status = 404;
                res.set_content(R"({"error":"not_found"})", "application/json");
                return;
            }
            res.set_header("Date", http_date_now());  // what the skew measurement reads
            auto st = statuses.find(req.path);
            if (st != statuses.end()) res.status = st->second;
            res.set_content(it->second, "application/json");
        };
        srv.Get(".*", handler);
        srv.Post(".*", handler);
        port = srv.bind_to_any_port("127.0.0.1");
        REQUIRE(port > 0);
        serving = std::thread([this] { srv.listen_after_bind(); });
        for (int i = 0; i < 500 && !srv.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ~FakeCentre() {
        srv.stop();
        serving.join();
    }
    void answer(const std::string& path, const std::string& body) {
        std::lock_guard lk(mu);
        answers[path] = body;
    }
    std::vector<std::string> paths() {
        std::lock_guard lk(mu);
        return asked;
    }
    void clear() {
        std::lock_guard lk(mu);
        asked.clear();
        answers.clear();
    }
};

SyncClient client_for(const Upstream& up, int port, Device& dev, std::size_t max_answer = kMaxAnswerBytes) {
    HttpsConfig h = https_for(up, port);
    h.max_answer_bytes = max_answer;
    auto http = HttpsClient::create(h);
    REQUIRE(http.ok());
    SyncConfig sc;
    sc.device_id = "gate-01";
    return SyncClient(sc, std::move(*http), *dev.journal, *dev.list, dev.signers);
}

template <class R>
void check_typed(const R& r, Reason reason) {
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().kind == ErrorKind::invalid_input);
    CHECK_MESSAGE(r.error().is(reason), r.error().describe());
}

}  // namespace

TEST_CASE("wrong JSON types on every route are typed errors, never exceptions") {
    Upstream up;  // the TEST-ONLY PKI; the answers come from the fake below
    Device dev(up);
    FakeCentre fake(up);
    SyncClient client = client_for(up, fake.port, dev);

    SUBCASE("heartbeat") {
        for (const char* body : {R"({"list_version":"2"})", R"({"trust_version":[1]})", R"({"list_version":1.5})",
                                 R"([1,2])", R"("ok")", R"({"trust_version":{"v":1}})", "not json"}) {
            CAPTURE(body);
            fake.answer("/v1/heartbeat", body);
            check_typed(client.heartbeat_once(), reason::response);
        }
        fake.answer("/v1/heartbeat", R"({"list_version":3,"trust_version":null})");
        CHECK(client.heartbeat_once().ok());  // Date from httplib: a good answer still works
        CHECK(client.last_published().list_version == 3);
    }
    SUBCASE("scans") {
        dev.scans(3);
        for (const char* body : {R"({"acked_seq":"3"})", R"({"acked_seq":3.0})", R"({"acked_seq":[3]})",
                                 R"({"acked_seq":3,"stored":"3"})", R"({"acked_seq":3,"duplicates":true})",
                                 R"({"acked_seq":3,"conflicts":"0"})", R"({"acked_seq":3,"epoch":"1"})", R"({})",
                                 R"([])", R"(null)"}) {
            CAPTURE(body);
            fake.answer("/v1/scans", body);
            check_typed(client.upload_once(), reason::response);
            CHECK(dev.journal->stats()->pending == 3);  // nothing marked on a bad answer
        }
    }
    SUBCASE("list deltas") {
        for (const char* body :
             {R"({"latest":"5"})", R"({"latest":5,"snapshot_required":"yes"})",
              R"({"latest":5,"snapshot_required":1})", R"({"latest":5,"snapshot_required":true,"snapshot":7})",
              R"({"latest":5,"snapshot_required":true})", R"({"latest":5,"deltas":{"url":"/v1/list/delta/1"}})",
              R"({"latest":5,"deltas":[{"url":3}]})", R"({"latest":5,"deltas":["/v1/list/delta/1"]})",
              R"({"latest":5,"deltas":[{"version":1}]})", R"({"latest":5})", R"({"latest":null})", R"(5)"}) {
            CAPTURE(body);
            fake.answer("/v1/list/deltas", body);
            check_typed(client.pull_list_once(), reason::response);
        }
    }
    SUBCASE("trust list") {
        for (const char* body :
             {R"({"alg":1})", R"({"alg":"ES256","kid":1,"payload":"{}","sig":"00"})",
              R"({"alg":"ES256","kid":"00","payload":{},"sig":"00"})", R"({"alg":"ES256","kid":"00","payload":"{}","sig":0})",
              R"({"alg":null})", R"([])", R"({"alg":["ES256"]})"}) {
            CAPTURE(body);
            fake.answer("/v1/trust", body);
            check_typed(client.pull_trust_once(0), reason::trust_format);
        }
    }
    SUBCASE("an error answer whose reason is not a string") {
        // The status code is what counts; the reason is read only when it is text.
        {
            std::lock_guard lk(fake.mu);
            fake.statuses["/v1/heartbeat"] = 403;
        }
        fake.answer("/v1/heartbeat", R"({"reason":{"nested":[1]}})");
        auto r = client.heartbeat_once();
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().reason == "http-403");
    }
}

TEST_CASE("paths from the server: only relative /v1/list/ paths, bounded, nothing else fetched") {
    Upstream up;
    Device dev(up);
    FakeCentre fake(up);
    SyncClient client = client_for(up, fake.port, dev);
    const std::string long_path = "/v1/list/delta/" + std::string(600, '1');
    for (const std::string& path :
         {std::string("https://evil.example/v1/list/delta/1"), std::string("//evil.example/v1/list/delta/1"),
          std::string("/v1/list/../../etc/passwd"), std::string("/v1/list/./delta/1"),
          std::string("/v1/list/delta/1#frag"), std::string("/v1/list/delta/1 x"), std::string("/v1/list/%2e%2e/x"),
          std::string("/v1/list/delta//1"), std::string("/v1/list/delta/1\\x"), std::string("@evil.example/x"),
          std::string("/v1/heartbeat"), std::string("v1/list/delta/1"), std::string(""), long_path}) {
        CAPTURE(path);
        fake.clear();
        nlohmann::json plan = {{"latest", 2}, {"snapshot_required", false},
                               {"deltas", nlohmann::json::array({{{"url", path}}})}};
        fake.answer("/v1/list/deltas", plan.dump());
        check_typed(client.pull_list_once(), reason::url_path);
        nlohmann::json snap = {{"latest", 2}, {"snapshot_required", true}, {"snapshot", path}};
        fake.answer("/v1/list/deltas", snap.dump());
        check_typed(client.pull_list_once(), reason::url_path);
        // Only the plan was asked for: the bad path never reached the network.
        for (const auto& p : fake.paths()) CHECK(p == "/v1/list/deltas");
    }
    // The HTTPS client itself refuses such a path whoever asks.
    auto http = HttpsClient::create(https_for(up, fake.port));
    REQUIRE(http.ok());
    check_typed(http->get("//evil.example/x"), reason::url_path);
    Download d;
    check_typed(http->download("/v1/list/../x", d), reason::url_path);
    CHECK(check_request_path("/v1/list/deltas?since=12").ok());
    CHECK(check_request_path("/v1/list/snapshot/3").ok());
}

TEST_CASE("a resumed download is capped over all its parts, not per connection") {
    Upstream up;
    Device dev(up);
    // Every connection sends `part` bytes of an entity of `total` bytes and dies;
    // the next asks for the rest with Range. Each part is under the cap, the sum is not.
    const std::size_t cap = 1u << 20, part = 300 * 1024, total = 4u << 20;
    auto server = tls_server(up);
    httplib::SSLServer& srv = *server;
    std::atomic<int> hits{0};
    srv.Get("/v1/list/deltas", [](const httplib::Request&, httplib::Response& res) {
        res.set_content(R"({"latest":1,"snapshot_required":true,"snapshot":"/v1/list/snapshot/1"})",
                        "application/json");
    });
    srv.Get("/v1/list/snapshot/1", [&](const httplib::Request&, httplib::Response& res) {
        ++hits;
        res.set_header("ETag", "\"snapshot-1\"");
        res.set_header("X-Total-Length", std::to_string(total));
        // httplib answers a Range request with 206 from the same provider.
        auto sent = std::make_shared<std::size_t>(0);
        res.set_content_provider(total, "application/octet-stream",
                                 [part, sent](std::size_t, std::size_t length, httplib::DataSink& sink) {
                                     if (*sent >= part) return false;  // the connection dies here
                                     const std::string chunk(std::min<std::size_t>(16 * 1024, length), 'x');
                                     *sent += chunk.size();
                                     return sink.write(chunk.data(), chunk.size());
                                 });
    });
    const int port = srv.bind_to_any_port("127.0.0.1");
    REQUIRE(port > 0);
    std::thread serving([&] { srv.listen_after_bind(); });
    for (int i = 0; i < 500 && !srv.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));

    SyncClient client = client_for(up, port, dev, cap);
    Result<ListReport> r = fail(ErrorKind::internal, "not run");
    int attempts = 0;
    for (; attempts < 40; ++attempts) {
        r = client.pull_list_once();
        if (r.ok() || !r.error().is(reason::network)) break;  // a cut connection: resume
    }
    CAPTURE(attempts);
    check_typed(r, reason::too_large);
    // The cap stopped it after about cap / part connections, long before the entity ended.
    CHECK(hits.load() <= static_cast<int>(cap / part) + 2);
    srv.stop();
    serving.join();
}

TEST_CASE("the sync thread survives wrong types on every route and a throwing hook: logged, counted, retried") {
    Upstream up;
    Device dev(up);
    dev.scans(2);
    FakeCentre fake(up);
    fake.answer("/v1/heartbeat", R"({"list_version":"yes","trust_version":"yes"})");
    fake.answer("/v1/scans", R"({"acked_seq":"all"})");
    fake.answer("/v1/list/deltas", R"({"latest":9,"snapshot_required":"yes"})");
    fake.answer("/v1/trust", R"({"alg":1})");
    SyncWorkerConfig c;
    c.https = https_for(up, fake.port);
    c.sync.device_id = "gate-01";
    c.trust_dir = (dev.dir / "trust").string();
    c.poll_interval_ms = 20;
    c.heartbeat_interval_ms = 20;
    c.list_interval_ms = 20;
    c.trust_interval_ms = 20;
    c.backoff_initial_ms = 5;
    c.backoff_cap_ms = 20;
    c.backoff_seed = 3;
    std::atomic<int> hook_calls{0};
    c.sensors_json = [&]() -> std::string {
        // Every third heartbeat the hook throws (a bug in a sensor driver).
        if (++hook_calls % 3 == 0) throw std::runtime_error("sensor driver bug");
        return "{}";
    };
    auto w = SyncWorker::create(c, *dev.journal, *dev.list, dev.signers);
    REQUIRE(w.ok());
    REQUIRE((*w)->start().ok());
    // Route by route: each bad answer ends the round with a typed error; the
    // fake then answers that route well so the next route is reached.
    auto reaches = [&](const std::string& text) {
        return eventually([&] { return (*w)->status().last_error.find(text) != std::string::npos; }, 30s);
    };
    CHECK(reaches("heartbeat answer"));
    fake.answer("/v1/heartbeat", R"({"list_version":9,"trust_version":1})");
    CHECK(reaches("scans answer"));
    const std::string epoch = std::to_string(dev.journal->epoch());
    fake.answer("/v1/scans", R"({"acked_seq":2,"stored":2,"duplicates":0,"conflicts":0,"epoch":)" + epoch + "}");
    CHECK(reaches("delta plan"));
    CHECK(eventually([&] { return dev.journal->stats()->pending == 0; }, 10s));  // the good answer marked them
    fake.answer("/v1/list/deltas", R"({"latest":0})");
    CHECK(reaches("trust-format"));
    CHECK(reaches("sync-fault"));  // the throwing hook
    auto s = (*w)->status();
    CHECK(s.running);
    CHECK(s.faults >= 1);
    CHECK_FALSE(s.network_ok);
    CHECK(s.consecutive_failures >= 1);
    (*w)->stop();
    CHECK_FALSE((*w)->status().running);
    CHECK(no_thread_named("sync"));
}
