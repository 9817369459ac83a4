// Several upstream URLs and a list mirror: the sync thread fails over from a dead
// replica (and from one stopped mid-run) to the next with its backoff, every scan
// stored once; lists come from a plain-HTTP mirror whose documents are verified
// like any other (a tampered snapshot is refused), a dead or stale mirror falls
// back to the command centre; static delta plans (any device's version) are read.
#include "tests/sync/sync_fixture.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <map>

using namespace cp;
using namespace cp::sync;
using namespace cp::sync::testing;
using namespace std::chrono_literals;

namespace {

SyncWorkerConfig worker_cfg(const HttpsConfig& h, const std::string& device = "gate-01") {
    SyncWorkerConfig c;
    c.https = h;
    c.https.connect_timeout_s = 2;
    c.sync.device_id = device;
    c.sync.batch_rows = 50;
    c.poll_interval_ms = 50;
    c.heartbeat_interval_ms = 200;
    c.list_interval_ms = 200;
    c.trust_interval_ms = 200;
    c.backoff_initial_ms = 20;
    c.backoff_cap_ms = 200;
    c.backoff_seed = 11;
    return c;
}

// A port on 127.0.0.1 where nothing listens (bound, never listening: refused).
struct DeadPort {
    int fd = -1;
    int port = 0;
    DeadPort() {
        fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        REQUIRE(fd >= 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        socklen_t len = sizeof a;
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
        port = ntohs(a.sin_port);
    }
    ~DeadPort() { ::close(fd); }
};

// A plain-HTTP static file server (what nginx or a CDN would be): fixed bytes per
// path, query strings ignored, every hit counted.
class StaticMirror {
public:
    StaticMirror() {
        srv_.Get(R"(/v1/.*)", [this](const httplib::Request& req, httplib::Response& res) {
            std::lock_guard lk(mu_);
            ++hits;
            auto it = files_.find(req.path);
            if (it == files_.end()) {
                res.status = 404;
                return;
            }
            res.set_content(it->second, "application/octet-stream");
        });
        port_ = srv_.bind_to_any_port("127.0.0.1");
        REQUIRE(port_ > 0);
        thread_ = std::thread([this] { srv_.listen_after_bind(); });
        REQUIRE(eventually([&] { return srv_.is_running(); }, 5s));
    }
    ~StaticMirror() { stop(); }
    void stop() {
        srv_.stop();
        if (thread_.joinable()) thread_.join();
    }
    void put(const std::string& path, const std::string& bytes) {
        std::lock_guard lk(mu_);
        files_[path] = bytes;
    }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    std::atomic<int> hits{0};

private:
    httplib::Server srv_;
    int port_ = 0;
    std::thread thread_;
    std::mutex mu_;
    std::map<std::string, std::string> files_;
};

std::string str(const Bytes& b) { return std::string(b.begin(), b.end()); }

// Mirrors versions 1..latest of the store the way a static export lays them out:
// one plan for every device (the last `window` deltas and the snapshot).
void mirror_store(StaticMirror& m, upstream::UpstreamStore& store, std::int64_t window) {
    const std::int64_t latest = store.latest_list_version().value();
    nlohmann::json deltas = nlohmann::json::array();
    for (std::int64_t v = std::max<std::int64_t>(2, latest - window + 1); v <= latest; ++v) {
        auto lv = store.list_version(v).value();
        REQUIRE(lv.has_value());
        m.put("/v1/list/delta/" + std::to_string(v), str(lv->delta));
        deltas.push_back({{"version", v}, {"base_version", v - 1}, {"url", "/v1/list/delta/" + std::to_string(v)}});
    }
    auto last = store.list_version(latest).value();
    REQUIRE(last.has_value());
    m.put("/v1/list/snapshot/" + std::to_string(latest), str(last->snapshot));
    nlohmann::json plan = {{"latest", latest}, {"snapshot_required", false},
                           {"snapshot", "/v1/list/snapshot/" + std::to_string(latest)}, {"deltas", deltas}};
    m.put("/v1/list/deltas", plan.dump());
}

void publish(Upstream& up, const upstream::ListSigner& signer, int i) {
    char id[33];
    std::snprintf(id, sizeof id, "%032x", i + 1);
    REQUIRE(up.store->set_statuses({{id, upstream::PassStatus::red, "isolation", 1}}, 10).ok());
    REQUIRE(upstream::publish_list(*up.store, signer, 100 + i).ok());
}

}  // namespace

TEST_CASE("failover: the first URL is dead; every scan reaches the next replica, once") {
    Upstream up;
    up.enroll("gate-01");
    DeadPort dead;
    Device dev(up);
    dev.scans(120);
    auto cfg = worker_cfg(https_for(up, dead.port));
    cfg.fallback_urls = {"https://localhost:" + std::to_string(up.server->port())};
    auto w = SyncWorker::create(cfg, *dev.journal, *dev.list, dev.signers);
    REQUIRE_MESSAGE(w.ok(), w.error().describe());
    CHECK((*w)->status().upstream_url == "https://localhost:" + std::to_string(dead.port));
    REQUIRE((*w)->start().ok());
    REQUIRE(eventually([&] { return (*w)->status().network_ok && (*w)->status().backlog == 0; }, 30s));
    auto s = (*w)->status();
    CHECK(s.failovers >= 1);
    CHECK(s.upstream_url == cfg.fallback_urls[0]);
    CHECK(s.acked_seq == 120);
    CHECK(up.store->scan_count().value() == 120);
    (*w)->stop();
    CHECK(no_thread_named("sync"));
}

TEST_CASE("failover: a replica stopped mid-run; the device goes on with the other, no scan twice") {
    Upstream up;
    up.enroll("gate-01");
    // A second replica on the same store (one database behind both).
    auto second = start_server(up, 0);
    Device dev(up);
    dev.scans(200);
    auto cfg = worker_cfg(https_for(up));
    cfg.fallback_urls = {"https://localhost:" + std::to_string(second->port())};
    auto w = SyncWorker::create(cfg, *dev.journal, *dev.list, dev.signers);
    REQUIRE(w.ok());
    REQUIRE((*w)->start().ok());
    REQUIRE(eventually([&] { return (*w)->status().acked_seq == 200; }, 30s));
    CHECK((*w)->status().failovers == 0);
    up.server->stop();
    dev.scans(300);
    (*w)->wake();
    REQUIRE(eventually([&] { return (*w)->status().acked_seq == 500 && (*w)->status().backlog == 0; }, 60s));
    auto s = (*w)->status();
    CHECK(s.failovers >= 1);
    CHECK(s.upstream_url == cfg.fallback_urls[0]);
    CHECK(up.store->scan_count().value() == 500);
    (*w)->stop();
    second->stop();
    // The fixture's destructor stops its server again: harmless.
}

TEST_CASE("failover: a refusal (4xx) is not a replica failure; the device stays put") {
    Upstream up;  // gate-01 not enrolled: 403 from every replica
    auto second = start_server(up, 0);
    Device dev(up);
    dev.scans(3);
    auto cfg = worker_cfg(https_for(up));
    cfg.fallback_urls = {"https://localhost:" + std::to_string(second->port())};
    auto w = SyncWorker::create(cfg, *dev.journal, *dev.list, dev.signers);
    REQUIRE(w.ok());
    REQUIRE((*w)->start().ok());
    REQUIRE(eventually([&] { return (*w)->status().refused; }, 30s));
    CHECK((*w)->status().failovers == 0);
    (*w)->stop();
    second->stop();
}

TEST_CASE("a bad fallback or mirror URL is a config error at create") {
    Upstream up;
    Device dev(up);
    auto cfg = worker_cfg(https_for(up));
    cfg.fallback_urls = {"http://localhost:1"};  // the command centre: https only
    auto w = SyncWorker::create(cfg, *dev.journal, *dev.list, dev.signers);
    REQUIRE_FALSE(w.ok());
    CHECK(w.error().kind == ErrorKind::config);
    cfg.fallback_urls.clear();
    cfg.list_url = "ftp://mirror";
    w = SyncWorker::create(cfg, *dev.journal, *dev.list, dev.signers);
    REQUIRE_FALSE(w.ok());
    CHECK(w.error().is(sync::reason::url));
    cfg.list_url = "http://127.0.0.1:1";  // a mirror may be plain http: its documents are signed
    CHECK(SyncWorker::create(cfg, *dev.journal, *dev.list, dev.signers).ok());
}

TEST_CASE("list mirror: snapshot then deltas from plain HTTP, verified; tampered refused; dead or stale mirror falls back") {
    Upstream up;
    up.enroll("gate-01");
    auto signer = upstream::ListSigner::load(up.path("list-signer.key"), up.path("list-signer.crt"));
    REQUIRE(signer.ok());
    for (int i = 0; i < 3; ++i) publish(up, *signer, i);
    StaticMirror mirror;
    mirror_store(mirror, *up.store, 2);

    auto make_client = [&](Device& dev) {
        auto http = HttpsClient::create(https_for(up));
        REQUIRE(http.ok());
        HttpsConfig mc = https_for(up);
        mc.base_url = mirror.url();
        mc.signed_documents_only = true;
        auto m = HttpsClient::create(mc);
        REQUIRE(m.ok());
        SyncConfig sc;
        sc.device_id = "gate-01";
        auto c = std::make_unique<SyncClient>(sc, std::move(*http), *dev.journal, *dev.list, dev.signers);
        c->set_list_mirror(std::move(*m));
        return c;
    };

    SUBCASE("snapshot for a new device, then the one missing delta, all from the mirror") {
        Device dev(up);
        auto c = make_client(dev);
        const int before = mirror.hits;
        auto r = c->pull_list_once();
        REQUIRE_MESSAGE(r.ok(), r.error().describe());
        CHECK(r->snapshot);
        CHECK(r->to_version == 3);
        CHECK(mirror.hits == before + 2);  // plan + snapshot
        publish(up, *signer, 3);
        mirror_store(mirror, *up.store, 2);
        r = c->pull_list_once();
        REQUIRE_MESSAGE(r.ok(), r.error().describe());
        CHECK_FALSE(r->snapshot);
        CHECK(r->deltas == 1);  // delta 3 is skipped: the device holds it
        CHECK(r->to_version == 4);
        CHECK(dev.list->info()->version == 4);
    }
    SUBCASE("a tampered snapshot on the mirror is refused; the list stays as it was") {
        Device dev(up);
        auto c = make_client(dev);
        auto snap = str(up.store->list_version(3).value()->snapshot);
        snap[snap.size() - 5] ^= 0x01;
        mirror.put("/v1/list/snapshot/3", snap);
        auto r = c->pull_list_once();
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().kind != ErrorKind::unavailable);
        auto info = dev.list->info();
        CHECK((!info || info->version == 0));
    }
    SUBCASE("a dead mirror: the list comes from the command centre") {
        Device dev(up);
        auto c = make_client(dev);
        mirror.stop();
        auto r = c->pull_list_once();
        REQUIRE_MESSAGE(r.ok(), r.error().describe());
        CHECK(r->to_version == 3);
    }
    SUBCASE("a mirror behind the version the heartbeat announced: the plan comes from the command centre") {
        Device dev(up);
        auto c = make_client(dev);
        publish(up, *signer, 3);  // the mirror still says 3
        REQUIRE(c->heartbeat_once().ok());
        CHECK(c->last_published().list_version == 4);
        auto r = c->pull_list_once();
        REQUIRE_MESSAGE(r.ok(), r.error().describe());
        CHECK(r->to_version == 4);
    }
}

TEST_CASE("static delta plans: entries the device holds are skipped; a broken chain takes the snapshot") {
    const std::string plan = R"({"latest": 5, "snapshot_required": false, "snapshot": "/v1/list/snapshot/5",
        "deltas": [{"version": 3, "base_version": 2, "url": "/v1/list/delta/3"},
                   {"version": 4, "base_version": 3, "url": "/v1/list/delta/4"},
                   {"version": 5, "base_version": 4, "url": "/v1/list/delta/5"}]})";
    auto p = parse_delta_plan(plan, 3);
    REQUIRE(p.ok());
    CHECK(p->snapshot.empty());
    CHECK(p->deltas == std::vector<std::string>{"/v1/list/delta/4", "/v1/list/delta/5"});
    p = parse_delta_plan(plan, 2);
    REQUIRE(p.ok());
    CHECK(p->deltas.size() == 3);
    p = parse_delta_plan(plan, 1);  // delta 2 is outside the window
    REQUIRE(p.ok());
    CHECK(p->deltas.empty());
    CHECK(p->snapshot == "/v1/list/snapshot/5");
    p = parse_delta_plan(plan, 0);
    REQUIRE(p.ok());
    CHECK(p->snapshot == "/v1/list/snapshot/5");
    p = parse_delta_plan(plan, 5);
    REQUIRE(p.ok());
    CHECK(p->latest == 5);
    CHECK(p->deltas.empty());
    CHECK(p->snapshot.empty());
    // A gap without a snapshot to fall back on is a typed error, not a wrong list.
    auto gap = parse_delta_plan(R"({"latest": 5, "deltas": [{"version": 5, "base_version": 4, "url": "/v1/list/delta/5"}]})", 2);
    REQUIRE_FALSE(gap.ok());
    CHECK(gap.error().kind == ErrorKind::invalid_input);
    // A snapshot path outside /v1/list/ is refused as before.
    auto out = parse_delta_plan(R"({"latest": 5, "snapshot": "/etc/passwd", "deltas": []})", 1);
    REQUIRE_FALSE(out.ok());
    CHECK(out.error().is(sync::reason::url_path));
}
