// The console city of console_fixture.hpp plus the traveller registration: an entry
// point (road-entry site, device gate-03), the TEST-ONLY pass issuer, an ID secret
// (0600) and an SMS outbox, and a second console listener on the same stores with
// the traveller routes and jobs.
#pragma once

#include "tests/upstream/console/console_fixture.hpp"
#include "tools/upstream/console/travellers.hpp"

#include <sys/stat.h>

#include <fstream>

namespace cp::upstream::console::testing {

inline constexpr const char* kIdNumber = "11010519491231002X";  // GB 11643 check digit X

struct TravellerCity {
    City city;
    std::filesystem::path outbox = city.tmp / "outbox";
    std::unique_ptr<TravellerStore> tstore;
    std::unique_ptr<Travellers> travellers;
    std::unique_ptr<ConsoleServer> server;

    explicit TravellerCity(std::function<void(TravellersConfig&)> tweak = {}) {
        std::filesystem::create_directories(outbox);
        auto pem = cp::testing::read_file(city.pki / "device-gate-03.crt");
        auto ident = certificate_identity(pem);
        if (!ident) throw std::runtime_error(ident.error().describe());
        must(city.up->enroll_device(ident->cn, ident->fingerprint, city.now_s()));
        if (!city.store->add_site({0, "entry-1", "hg", "G11鹤岗东检查站", "road-entry"}, nullptr))
            throw std::runtime_error("entry-1");
        must(city.store->assign_device("gate-03", "entry-1", nullptr));
        const auto secret = city.tmp / "id-secret";
        {
            std::ofstream f(secret, std::ios::binary);
            f << "0123456789abcdef0123456789abcdef-test-only";
        }
        ::chmod(secret.c_str(), 0600);
        auto ts = open_traveller_store(city.db);
        if (!ts) throw std::runtime_error(ts.error().describe());
        tstore = std::move(*ts);
        TravellersConfig tc;
        tc.issuer_key_path = (city.pki / "issuer.key").string();
        tc.issuer_cert_path = (city.pki / "issuer.crt").string();
        tc.id_secret_path = secret.string();
        tc.public_url = "https://cc.example";
        tc.sms.outbox_dir = outbox.string();
        auto limits = RateLimits::open(city.db);
        if (!limits) throw std::runtime_error(limits.error().describe());
        tc.sms.limits = std::move(*limits);
        if (tweak) tweak(tc);
        auto t = Travellers::create(tc, *tstore, *city.up);
        if (!t) throw std::runtime_error(t.error().describe());
        travellers = std::move(*t);
        ConsoleConfig cfg;
        cfg.cert_path = (city.pki / "server.crt").string();
        cfg.key_path = (city.pki / "server.key").string();
        cfg.tick_ms = 60'000;  // the tests run the jobs themselves
        cfg.clock_ms = [this] { return wall_now_ms() + city.offset_ms.load(); };
        cfg.travellers = travellers.get();
        auto srv = ConsoleServer::create(cfg, *city.up, *city.store, nullptr);
        if (!srv) throw std::runtime_error(srv.error().describe());
        server = std::move(*srv);
        must(server->start());
    }
    ~TravellerCity() { server->stop(); }

    json form(const std::string& phone = "13812345678") const {
        return {{"name", "王小明"}, {"id_number", kIdNumber}, {"phone", phone}, {"origin", "哈尔滨市南岗区"},
                {"address", "向阳区红军街道3号楼2单元"}, {"grid", "ga"}, {"transport", "car"},
                {"expected_arrival", city.now_s() + 3600}, {"site", "entry-1"}};
    }
};

}  // namespace cp::upstream::console::testing
