// checkpointd's upstream parts in-process: the network health the status bar
// shows, the issuer folders merged for the pass verifier, and the trust store
// handed from the sync thread to the decide thread between scans.
#include "firmware/checkpointd/upstream_link.hpp"
#include "tests/e2e/lane_fixture.hpp"

#include "src/pass/verifier.hpp"

#include <thread>

using namespace cp;
using namespace cp::daemon;
using namespace cp::lanetest;

TEST_CASE("network health: unknown, ok, degraded, down") {
    const std::int64_t now = 1'800'000'000'000;
    sync::SyncStatus s;
    s.running = true;
    CHECK(network_health(s, now) == display::Health::unknown);  // nothing answered yet
    s.network_ok = true;
    s.last_success_ms = now;
    CHECK(network_health(s, now) == display::Health::ok);
    s.skewed = true;  // works, but the clock disagrees with the command centre
    CHECK(network_health(s, now) == display::Health::degraded);
    s.skewed = false;
    s.network_ok = false;
    s.consecutive_failures = 2;
    CHECK(network_health(s, now + 60'000) == display::Health::degraded);  // a short outage
    CHECK(network_health(s, now + kNetworkDegradedMs + 1) == display::Health::fault);
    s.last_success_ms = 0;  // never reached it
    CHECK(network_health(s, now) == display::Health::fault);
    s.last_success_ms = now;
    s.refused = true;  // revoked or not enrolled: down at once
    CHECK(network_health(s, now) == display::Health::fault);
    CHECK(std::string(network_label(display::Health::fault)) == "down");
    CHECK(std::string(network_label(display::Health::unknown)) == "unknown");
}

TEST_CASE("issuers: the image's folder and the synced folder, swapped in between scans") {
    testing::TempDir tmp;
    World w(tmp.path());  // trust/issuer.crt: the image's issuer
    const Issuer synced = make_issuer("synced issuer");
    const fs::path synced_dir = tmp / "synced";

    // No synced folder yet (no trust list so far): the image's issuers alone.
    auto first = load_issuers((tmp / "trust").string(), synced_dir.string());
    REQUIRE_MESSAGE(first.ok(), first.error().describe());
    CHECK(first->size() == 1);
    CHECK_FALSE(load_issuers((tmp / "absent").string(), synced_dir.string()).ok());

    crypto::TrustStore live = std::move(*first);
    pass::PassVerifier verifier(live);
    const pass::Pass p = w.make_pass(pass::Kind::resident, "王*芳");
    const std::string qr = w.issue(p, synced);
    CHECK_FALSE(verifier.verify(qr, w.now_s).verified());

    // The sync thread installs the synced issuer and prepares the merged store.
    fs::create_directories(synced_dir);
    testing::write_file(synced_dir / "upstream-issuers.pem", crypto::certificate_pem(synced.cert_der));
    IssuerTrust handoff;
    CHECK_FALSE(handoff.take_pending(live));
    std::thread sync_thread([&] {
        auto next = load_issuers((tmp / "trust").string(), synced_dir.string());
        REQUIRE(next.ok());
        handoff.prepare(std::move(*next));
    });
    sync_thread.join();
    // Until the decide thread takes it, the verifier's store is unchanged.
    CHECK(live.size() == 1);
    REQUIRE(handoff.take_pending(live));
    CHECK(live.size() == 2);
    CHECK(verifier.verify(qr, w.now_s).verified());
    CHECK(verifier.verify(w.issue(p, w.issuer), w.now_s).verified());  // the image's issuer still counts
    CHECK_FALSE(handoff.take_pending(live));  // taken once
}

TEST_CASE("device key: the systemd credential named like upstream.key_file, else the file itself") {
    testing::TempDir tmp;
    const fs::path creds = tmp / "credentials";
    fs::create_directories(creds);
    const std::string key_file = "/etc/checkpoint/device.key";

    // Outside systemd (no $CREDENTIALS_DIRECTORY): the configured file.
    CHECK(device_key_path(key_file, nullptr) == key_file);
    CHECK(device_key_path(key_file, "") == key_file);
    // A credentials folder without that credential: the configured file.
    CHECK(device_key_path(key_file, creds.c_str()) == key_file);

    // The unit's stand-in when there is no key on disk (SetCredential=device.key:\n).
    testing::write_file(creds / "device.key", "\n");
    CHECK(device_key_path(key_file, creds.c_str()) == key_file);
    testing::write_file(creds / "device.key", "");
    CHECK(device_key_path(key_file, creds.c_str()) == key_file);

    // The key loaded by LoadCredential=: the credential, not the root-only file.
    testing::write_file(creds / "device.key", "-----BEGIN PRIVATE KEY-----\nTEST-ONLY\n-----END PRIVATE KEY-----\n");
    CHECK(device_key_path(key_file, creds.c_str()) == (creds / "device.key").string());
    // Named by the file name of key_file: another key file has no credential.
    CHECK(device_key_path("/etc/checkpoint/other.key", creds.c_str()) == "/etc/checkpoint/other.key");
    CHECK(device_key_path("", creds.c_str()).empty());
}
