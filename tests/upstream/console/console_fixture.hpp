// Shared set-up for the console tests: a TEST-ONLY PKI (tools/test-pki), the
// upstream and console stores in one SQLite file, a small city with two districts,
// two streets and two grids, operators at several levels, two sites with one device
// each, and the real console server on 127.0.0.1 (any port) with a movable clock.
#pragma once

#include "src/common/time.hpp"
#ifndef CHECKPOINT_TEST_NO_POSTGRESQL
#include "tests/upstream/pg_cluster.hpp"
#endif
#include "tests/upstream/upstream_fixture.hpp"
#include "tools/upstream/console/auth.hpp"
#include "tools/upstream/console/console_server.hpp"
#include "tools/upstream/console/console_store.hpp"
#include "tools/upstream/sql_db.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <optional>
#include <stdexcept>
#include <string>

namespace cp::upstream::console::testing {

using nlohmann::json;

inline constexpr const char* kPassA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1";  // a resident of grid A
inline constexpr const char* kPassB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb2";  // a resident of grid B
inline constexpr const char* kPassword = "correct horse 42";

// The backend under test: CHECKPOINT_TEST_STORE=postgresql (ctest's
// test_console_api_postgresql) runs the suite on a throw-away PostgreSQL cluster.
inline bool on_postgresql() {
    const char* e = std::getenv("CHECKPOINT_TEST_STORE");
    return e && std::string(e) == "postgresql";
}

// A new, empty database of the backend under test: a SQLite file in `tmp` or a
// PostgreSQL URI.
inline std::string fresh_db(const cp::testing::TempDir& tmp) {
#ifndef CHECKPOINT_TEST_NO_POSTGRESQL
    if (on_postgresql()) return cp::upstream::testing::PgCluster::shared().new_database();
#endif
    return (tmp / "cc.db").string();
}

// Every byte the database keeps on disk, for greps for personal data: a SQLite file
// with its write-ahead log and journal, or (after a CHECKPOINT) the PostgreSQL
// database's files and, with `pg_wal`, the cluster's write-ahead log.
inline std::string database_bytes(const std::string& db, [[maybe_unused]] bool pg_wal = true) {
    std::string all;
    auto add = [&all](const std::filesystem::path& p) {
        std::error_code ec;
        if (std::filesystem::is_regular_file(p, ec)) all += cp::testing::read_file(p);
    };
#ifndef CHECKPOINT_TEST_NO_POSTGRESQL
    if (on_postgresql()) {
        auto c = open_pg_db(db);
        if (!c) throw std::runtime_error(c.error().describe());
        if (auto st = (*c)->exec("CHECKPOINT"); !st) throw std::runtime_error(st.error().describe());
        Stmt q(c->get(), "SELECT oid FROM pg_database WHERE datname = current_database()");
        auto oid = scalar_i64(q);
        if (!oid) throw std::runtime_error(oid.error().describe());
        const auto data = std::filesystem::path(cp::upstream::testing::PgCluster::shared().dir()) / "data";
        for (const auto& e : std::filesystem::directory_iterator(data / "base" / std::to_string(*oid))) add(e.path());
        if (pg_wal)
            for (const auto& e : std::filesystem::directory_iterator(data / "pg_wal")) add(e.path());
        return all;
    }
#endif
    for (const char* suffix : {"", "-wal", "-journal"}) add(db + suffix);
    return all;
}

inline void must(const Status& s) {
    if (!s) throw std::runtime_error(s.error().describe());
}

// One TEST-ONLY PKI per test process (openssl takes seconds on a loaded machine).
inline const std::filesystem::path& shared_pki() {
    static cp::testing::TempDir dir;
    static const std::filesystem::path pki = [] {
        auto p = dir.path() / "pki";
        cp::upstream::testing::make_pki(p);
        return p;
    }();
    return pki;
}

struct City {
    cp::testing::TempDir tmp;
    std::filesystem::path pki = shared_pki();
    std::string db = fresh_db(tmp);
    std::unique_ptr<UpstreamStore> up;
    std::unique_ptr<ConsoleStore> store;
    std::unique_ptr<ConsoleServer> server;
    std::optional<ListSigner> signer;
    std::atomic<std::int64_t> offset_ms{0};

    std::int64_t now_s() const { return (wall_now_ms() + offset_ms.load()) / 1000; }

    explicit City(bool with_signer = false, std::int64_t publish_interval_s = 60) {
        auto u = open_store(db);
        if (!u) throw std::runtime_error(u.error().describe());
        up = std::move(*u);
        auto s = open_console_store(db);
        if (!s) throw std::runtime_error(s.error().describe());
        store = std::move(*s);
        must(store->add_areas({{"hg", "", Level::city, "鹤岗市", "Hegang", ""},
                               {"d1", "hg", Level::city, "向阳区", "Xiangyang", ""},
                               {"d2", "hg", Level::city, "工农区", "Gongnong", ""},
                               {"s1", "d1", Level::city, "红军街道", "Hongjun", ""},
                               {"s2", "d2", Level::city, "红旗街道", "Hongqi", ""},
                               {"ga", "s1", Level::city, "网格A", "Grid A", ""},
                               {"gb", "s2", Level::city, "网格B", "Grid B", ""}},
                              nullptr));
        add_operator("chief", Role::city, "hg");
        add_operator("district-1", Role::district, "d1");
        add_operator("street-1", Role::street, "s1");
        add_operator("worker-a", Role::grid, "ga");
        add_operator("worker-b", Role::grid, "gb");
        add_operator("wall", Role::bigscreen, "hg");
        must(store->add_passes({{kPassA, "ga", "张*", PassStatus::green, "", 0, 0},
                                {kPassB, "gb", "李*", PassStatus::green, "", 0, 0}},
                               nullptr, "host", now_s()));
        for (const char* id : {"gate-01", "gate-02"}) {
            auto pem = cp::testing::read_file(pki / ("device-" + std::string(id) + ".crt"));
            auto ident = certificate_identity(pem);
            if (!ident) throw std::runtime_error(ident.error().describe());
            must(up->enroll_device(ident->cn, ident->fingerprint, now_s()));
        }
        if (!store->add_site({0, "site-a", "ga", "A小区东门", "gate"}, nullptr))
            throw std::runtime_error("site-a");
        if (!store->add_site({0, "site-b", "gb", "B超市", "shop"}, nullptr)) throw std::runtime_error("site-b");
        must(store->assign_device("gate-01", "site-a", nullptr));
        must(store->assign_device("gate-02", "site-b", nullptr));
        if (with_signer) {
            auto sg = ListSigner::load((pki / "list-signer.key").string(), (pki / "list-signer.crt").string());
            if (!sg) throw std::runtime_error(sg.error().describe());
            signer.emplace(std::move(*sg));
        }
        ConsoleConfig cfg;
        cfg.cert_path = (pki / "server.crt").string();
        cfg.key_path = (pki / "server.key").string();
        cfg.publish_interval_s = publish_interval_s;
        cfg.tick_ms = 200;
        cfg.clock_ms = [this] { return wall_now_ms() + offset_ms.load(); };
        auto srv = ConsoleServer::create(cfg, *up, *store, signer ? &*signer : nullptr);
        if (!srv) throw std::runtime_error(srv.error().describe());
        server = std::move(*srv);
        must(server->start());
    }
    ~City() { server->stop(); }

    void add_operator(const std::string& name, Role role, const std::string& area) {
        static const Result<std::string> h = hash_password(kPassword);  // one Argon2id run per process
        if (!h) throw std::runtime_error(h.error().describe());
        Operator o;
        o.username = name;
        o.role = role;
        o.area = area;
        o.pw_hash = *h;
        auto id = store->add_operator(o, nullptr, now_s());
        if (!id) throw std::runtime_error(id.error().describe());
    }

    // Uploads scans for a device through the store (the device API is tested elsewhere).
    void scan(const std::string& device, std::int64_t seq, const std::string& pass, const std::string& verdict,
              const std::string& reason, std::optional<double> temp = std::nullopt) {
        Scan s;
        s.device_id = device;
        s.seq = seq;
        s.scan_id = device + "-" + std::to_string(seq);
        s.pass_id = pass;
        s.verdict = verdict;
        s.reason = reason;
        s.temperature_c = temp;
        s.time = now_s();
        s.received_at = now_s();
        auto r = up->ingest_scans(device, {s});
        if (!r) throw std::runtime_error(r.error().describe());
    }
};

struct Reply {
    int status = 0;
    json body;
    httplib::Headers headers;
};

// One operator's browser session: the cookie and the CSRF token, like the page.
struct Client {
    int port;
    std::filesystem::path ca;
    std::string cookie;
    std::string csrf;

    Client(const City& c) : port(c.server->port()), ca(c.pki / "fleet-ca.crt") {}
    Client(int p, std::filesystem::path ca_file) : port(p), ca(std::move(ca_file)) {}

    std::unique_ptr<httplib::SSLClient> http() const {
        auto cl = std::make_unique<httplib::SSLClient>("localhost", port);
        cl->set_ca_cert_path(ca.string().c_str());
        cl->enable_server_certificate_verification(true);
        cl->set_connection_timeout(10, 0);
        cl->set_read_timeout(30, 0);
        return cl;
    }

    static Reply reply(const httplib::Result& r) {
        if (!r) throw std::runtime_error("no HTTP answer");
        Reply out;
        out.status = r->status;
        out.headers = r->headers;
        out.body = json::parse(r->body, nullptr, false);
        return out;
    }

    httplib::Headers headers(bool with_csrf) const {
        httplib::Headers h;
        if (!cookie.empty()) h.emplace("Cookie", "__Host-cc_session=" + cookie);
        if (with_csrf) h.emplace("X-CSRF-Token", csrf);
        return h;
    }

    Reply get(const std::string& path) const { return reply(http()->Get(path, headers(false))); }
    Reply post(const std::string& path, const json& body = json::object(), bool with_csrf = true,
               const char* type = "application/json") const {
        return reply(http()->Post(path, headers(with_csrf), body.dump(), type));
    }

    Reply login(const std::string& user, const std::string& pw = kPassword) {
        auto r = http()->Post("/api/login", json{{"username", user}, {"password", pw}}.dump(), "application/json");
        Reply out = reply(r);
        if (out.status == 200) {
            std::string sc = r->get_header_value("Set-Cookie");
            auto eq = sc.find('='), semi = sc.find(';');
            cookie = sc.substr(eq + 1, semi - eq - 1);
            csrf = out.body["csrf"].get<std::string>();
        }
        return out;
    }
};

}  // namespace cp::upstream::console::testing
