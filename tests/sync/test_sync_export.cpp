// `upstream publish --export DIR` served by a static HTTP server the test starts
// (python3 -m http.server): a device with only that mirror reachable (its command
// centre URL is dead) installs the status list (snapshot, then a delta) and the
// trust list from it; older files leave DIR with the window.
#include "tests/sync/process_fixture.hpp"
#include "tests/sync/sync_fixture.hpp"

#include <doctest/doctest.h>

#include <sys/wait.h>

using namespace cp;
using namespace cp::sync;
using namespace cp::sync::testing;
using namespace std::chrono_literals;

namespace {

int upstream_cli(const std::string& args) {
    const std::string cmd =
        cp::testing::command_for((cp::testing::bin_dir() / "upstream").string()) + " " + args + " >/dev/null";
    const int st = std::system(cmd.c_str());
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

std::string q(const std::filesystem::path& p) { return "'" + p.string() + "'"; }

}  // namespace

TEST_CASE("publish --export DIR on a static server: the device installs the list and trust list from it") {
    cp::testing::TempDir tmp;
    const auto pki = tmp / "pki";
    cp::upstream::testing::make_pki(pki);
    const auto out = tmp / "www";
    const std::string db = "--db " + q(tmp / "cc.db") + " ";
    const std::string sign = "--signing-key " + q(pki / "list-signer.key") + " --signing-cert " +
                             q(pki / "list-signer.crt") + " ";
    const std::string pass_a = "00112233445566778899aabbccddeeff";
    const std::string pass_b = "ffeeddccbbaa99887766554433221100";

    REQUIRE(upstream_cli("set-status " + db + "--pass " + pass_a + " --status red --reason isolation") == 0);
    REQUIRE(upstream_cli("publish " + db + sign + "--export " + q(out) + " --export-window 2") == 0);
    REQUIRE(upstream_cli("trust-add " + db + "--cert " + q(pki / "issuer.crt")) == 0);
    REQUIRE(upstream_cli("trust-publish " + db + sign) == 0);
    // A bad window is a usage error and publishes nothing.
    CHECK(upstream_cli("publish " + db + sign + "--force --export " + q(out) + " --export-window 0") == 2);
    REQUIRE(upstream_cli("publish " + db + sign + "--force --export " + q(out) + " --export-window 2") == 0);
    CHECK(std::filesystem::exists(out / "v1" / "list" / "snapshot" / "2"));
    CHECK_FALSE(std::filesystem::exists(out / "v1" / "list" / "snapshot" / "1"));
    CHECK(std::filesystem::exists(out / "v1" / "list" / "delta" / "2"));
    CHECK(std::filesystem::exists(out / "v1" / "trust"));

    // The static server: python3's, bound to loopback, serving DIR as it is.
    const int port = free_port();
    Child www({"/usr/bin/python3", "-m", "http.server", "--bind", "127.0.0.1", "--directory", out.string(),
               std::to_string(port)},
              tmp / "www.log");
    HttpsConfig mc;
    mc.base_url = "http://127.0.0.1:" + std::to_string(port);
    mc.ca_path = (pki / "fleet-ca.crt").string();
    mc.cert_path = (pki / "device-gate-01.crt").string();
    mc.key_path = (pki / "device-gate-01.key").string();
    mc.connect_timeout_s = 2;
    mc.signed_documents_only = true;
    {
        auto probe = HttpsClient::create(mc);
        REQUIRE(probe.ok());
        REQUIRE_MESSAGE(eventually([&] {
            auto r = probe->get("/v1/list/deltas");
            return r.ok() && r->status == 200;
        }, 20s), www.output());
    }

    // The device: its command centre is down; only the mirror answers.
    FastDir dir;
    journal::JournalOptions jo;
    jo.device_id = "gate-01";
    jo.disk_floor_bytes = 0;
    auto journal = journal::ScanJournal::open((dir / "journal.db").string(), jo);
    REQUIRE(journal.ok());
    auto list = status::open_sqlite_status_list((dir / "status.db").string());
    REQUIRE(list.ok());
    crypto::TrustStore signers;
    REQUIRE(signers.add_pem_or_der(as_bytes(cp::testing::read_file(pki / "list-signer.crt"))).ok());
    HttpsConfig dead = mc;
    dead.signed_documents_only = false;
    dead.base_url = "https://localhost:" + std::to_string(free_port());
    auto http = HttpsClient::create(dead);
    REQUIRE(http.ok());
    auto mirror = HttpsClient::create(mc);
    REQUIRE(mirror.ok());
    SyncConfig sc;
    sc.device_id = "gate-01";
    SyncClient client(sc, std::move(*http), **journal, **list, signers);
    client.set_list_mirror(std::move(*mirror));

    auto r = client.pull_list_once();
    REQUIRE_MESSAGE(r.ok(), r.error().describe());
    CHECK(r->snapshot);
    CHECK(r->to_version == 2);
    auto id = from_hex(pass_a);
    REQUIRE(id.has_value());
    pass::PassId pid{};
    std::copy(id->begin(), id->end(), pid.begin());
    auto e = (*list)->lookup(pid);
    REQUIRE(e.ok());
    REQUIRE(e->has_value());

    auto t = client.pull_trust_once(0);
    REQUIRE_MESSAGE(t.ok(), t.error().describe());
    REQUIRE(t->has_value());
    CHECK((*t)->version == 1);
    CHECK((*t)->issuers.size() == 1);

    // A change: the next export carries a delta the device applies on top of 2.
    REQUIRE(upstream_cli("set-status " + db + "--pass " + pass_b + " --status red --reason isolation") == 0);
    REQUIRE(upstream_cli("publish " + db + sign + "--export " + q(out) + " --export-window 2") == 0);
    r = client.pull_list_once();
    REQUIRE_MESSAGE(r.ok(), r.error().describe());
    CHECK_FALSE(r->snapshot);
    CHECK(r->deltas == 1);
    CHECK(r->to_version == 3);
    // Window 2: deltas 2 and 3 remain, snapshot 3 only.
    CHECK_FALSE(std::filesystem::exists(out / "v1" / "list" / "snapshot" / "2"));
    CHECK(std::filesystem::exists(out / "v1" / "list" / "delta" / "3"));
    CHECK(std::filesystem::exists(out / "v1" / "list" / "delta" / "2"));
    REQUIRE(upstream_cli("publish " + db + sign + "--force --export " + q(out) + " --export-window 2") == 0);
    CHECK_FALSE(std::filesystem::exists(out / "v1" / "list" / "delta" / "2"));
    CHECK(std::filesystem::exists(out / "v1" / "list" / "delta" / "4"));
    www.kill(SIGTERM);
}
