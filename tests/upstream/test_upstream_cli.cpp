// The operator commands of build/bin/upstream, run as a command-centre operator would.
#include "tests/upstream/upstream_fixture.hpp"

#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>

using namespace cp;
using namespace cp::upstream;

namespace {

struct Run {
    int status = -1;
    std::string out;
};

// Runs `upstream ARGS` with stdout captured; stderr goes to the test log.
Run run_upstream(const std::string& args) {
    std::string cmd = cp::testing::command_for((cp::testing::bin_dir() / "upstream").string()) + " " + args;
    Run r;
    FILE* p = popen(cmd.c_str(), "r");
    REQUIRE(p);
    char buf[4096];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
    int st = pclose(p);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
}

}  // namespace

TEST_CASE("operator commands: enroll, revoke, set-status, import, publish, trust, scans") {
    cp::testing::TempDir tmp;
    auto pki = tmp / "pki";
    cp::upstream::testing::make_pki(pki);
    const std::string db = "--db '" + (tmp / "cc.db").string() + "' ";
    auto p = [&](const std::string& f) { return "'" + (pki / f).string() + "'"; };

    CHECK(run_upstream("").status == 2);
    CHECK(run_upstream("frobnicate " + db).status == 2);
    CHECK(run_upstream("enroll " + db + "--bogus 1").status == 2);
    // Integer options are whole decimal numbers in range, refused before anything starts.
    const std::string serve = "serve " + db + "--cert a --key b --client-ca c ";
    for (const char* bad : {"--port 84x", "--port 70000", "--web-port -2", "--duration-s 1h", "--console-port 0x",
                            "--console-port 80abc", "--publish-interval-s 0", "--workers 1", "--workers 5000"}) {
        CAPTURE(bad);
        CHECK(run_upstream(serve + bad).status == 2);
    }
    CHECK(run_upstream("scans " + db + "--limit 10k").status == 2);
    CHECK(run_upstream("publish " + db + "--signing-key a --signing-cert b --if-older-than 59").status == 2);

    auto e = run_upstream("enroll " + db + "--cert " + p("device-gate-01.crt"));
    CHECK(e.status == 0);
    CHECK(e.out.find("enrolled gate-01 sha256:") == 0);
    CHECK(run_upstream("enroll " + db + "--cert " + p("device-gate-02.crt")).status == 0);
    CHECK(run_upstream("enroll " + db + "--cert " + p("fleet-ca.key")).status == 1);  // not a certificate
    CHECK(run_upstream("revoke " + db + "--device gate-02").status == 0);
    CHECK(run_upstream("revoke " + db + "--device gate-99").status == 1);
    auto devs = run_upstream("devices " + db);
    CHECK(devs.status == 0);
    CHECK(devs.out.find("gate-02              revoked") != std::string::npos);

    CHECK(run_upstream("set-status " + db + "--pass 00112233445566778899aabbccddeeff --status red "
                   "--reason quarantine").status == 0);
    CHECK(run_upstream("set-status " + db + "--pass XYZ --status red").status == 2);
    CHECK(run_upstream("set-status " + db + "--pass 00112233445566778899aabbccddeeff --status blue").status == 2);

    cp::testing::write_file(tmp / "bad.csv", "pass_id,status,reason\n"
                                             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa,green,\n"
                                             "bbbb,red,x\n");
    auto bad = run_upstream("import " + db + "--csv '" + (tmp / "bad.csv").string() + "' 2>&1");
    CHECK(bad.status == 1);
    CHECK(bad.out.find("line 3") != std::string::npos);
    cp::testing::write_file(tmp / "good.csv", "pass_id,status,reason\r\n"
                                              "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa,green,\r\n"
                                              "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB,yellow,contact\r\n");
    auto good = run_upstream("import " + db + "--csv '" + (tmp / "good.csv").string() + "'");
    CHECK(good.status == 0);
    CHECK(good.out.find("imported 2") == 0);

    const std::string sign = "--signing-key " + p("list-signer.key") + " --signing-cert " + p("list-signer.crt");
    auto pub = run_upstream("publish " + db + sign);
    CHECK(pub.status == 0);
    CHECK(pub.out.find("list version 1: 3 entries, 3 changes, snapshot") == 0);
    CHECK(pub.out.find("delta 0 bytes") != std::string::npos);
    CHECK(run_upstream("publish " + db + sign + " 2>/dev/null").status == 1);  // unchanged
    CHECK(run_upstream("publish " + db + sign + " --force").out.find("list version 2") == 0);
    CHECK(run_upstream("publish " + db + "--signing-key " + p("issuer.key") + " --signing-cert " +
                   p("list-signer.crt") + " 2>/dev/null").status == 1);

    CHECK(run_upstream("trust-add " + db + "--cert " + p("issuer.crt")).status == 0);
    CHECK(run_upstream("trust-publish " + db + sign).out.find("trust list version 1") == 0);

    auto store = open_sqlite_store((tmp / "cc.db").string());
    REQUIRE(store.ok());
    REQUIRE((*store)->ingest_scans("gate-01", {Scan{"gate-01", 1, "s1", "00112233445566778899aabbccddeeff",
                                                    "red", "status-red", 36.4, 1764338000, "in", 1}}).ok());
    auto scans = run_upstream("scans " + db + "--alerts");
    CHECK(scans.status == 0);
    CHECK(scans.out.find("\"verdict\":\"red\"") != std::string::npos);
    CHECK(run_upstream("scans " + db + "--device gate-02").out.empty());
}

TEST_CASE("acknowledged scans are in the store after kill -9 of the server") {
    cp::testing::TempDir tmp;
    auto pki = tmp / "pki";
    cp::upstream::testing::make_pki(pki);
    const std::string dbpath = (tmp / "cc.db").string();
    auto q = [](const std::filesystem::path& f) { return "'" + f.string() + "'"; };
    REQUIRE(run_upstream("enroll --db " + q(dbpath) + " --cert " + q(pki / "device-gate-01.crt"))
                .status == 0);

    // `upstream serve` as its own process, its stdout (the listening line) on a pipe.
    int out[2];
    REQUIRE(pipe(out) == 0);
    const std::string cmd =
        "exec " + cp::testing::command_for((cp::testing::bin_dir() / "upstream").string()) +
        " serve --db " + q(dbpath) + " --port 0 --cert " + q(pki / "server.crt") + " --key " +
        q(pki / "server.key") + " --client-ca " + q(pki / "fleet-ca.crt") + " --duration-s 120";
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        dup2(out[1], 1);
        close(out[0]);
        close(out[1]);
        execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
        _exit(127);
    }
    close(out[1]);
    std::string line;
    char ch = 0;
    while (line.size() < 512 && read(out[0], &ch, 1) == 1 && ch != '\n') line += ch;
    close(out[0]);
    const auto colon = line.rfind(':');
    REQUIRE_MESSAGE(line.rfind("listening https://", 0) == 0, line);
    const int port = std::atoi(line.c_str() + colon + 1);
    REQUIRE(port > 0);

    httplib::SSLClient c("localhost", port, (pki / "device-gate-01.crt").string(),
                         (pki / "device-gate-01.key").string());
    c.set_ca_cert_path((pki / "fleet-ca.crt").string().c_str());
    c.enable_server_certificate_verification(true);
    c.set_connection_timeout(10, 0);
    c.set_read_timeout(10, 0);
    std::int64_t acked = 0;
    for (int batch = 0; batch < 10; ++batch) {
        std::string scans;
        for (int i = 1; i <= 20; ++i) {
            const int seq = batch * 20 + i;
            scans += std::string(scans.empty() ? "" : ",") + "{\"seq\":" + std::to_string(seq) +
                     ",\"scan_id\":\"k" + std::to_string(seq) +
                     "\",\"verdict\":\"red\",\"reason\":\"status-red\",\"time\":" +
                     std::to_string(1764338000 + seq) + "}";
        }
        auto r = c.Post("/v1/scans", "{\"scans\":[" + scans + "]}", "application/json");
        REQUIRE(r);
        REQUIRE(r->status == 200);
        const auto at = r->body.find("\"acked_seq\":");
        REQUIRE(at != std::string::npos);
        acked = std::atoll(r->body.c_str() + at + 12);
    }
    CHECK(acked == 200);
    // No shutdown, no checkpoint: the process dies right after its last answer.
    REQUIRE(kill(pid, SIGKILL) == 0);
    int st = 0;
    REQUIRE(waitpid(pid, &st, 0) == pid);
    CHECK(WIFSIGNALED(st));

    auto store = open_sqlite_store(dbpath);
    REQUIRE(store.ok());
    auto rows = (*store)->scans(1000, 0, false, "gate-01");
    REQUIRE(rows.ok());
    CHECK(static_cast<std::int64_t>(rows->size()) == acked);
    auto dev = (*store)->find_device("gate-01");
    REQUIRE(dev.ok());
    REQUIRE(*dev);
    CHECK((**dev).acked_seq == acked);
    auto level = sqlite_synchronous(**store);
    REQUIRE(level.ok());
    CHECK(*level == 2);  // FULL: what makes the same hold for a power cut
}
