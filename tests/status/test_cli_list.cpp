#include "src/crypto/crypto.hpp"
#include "tests/status/cli_run.hpp"
#include "tests/testing.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

using cp::testing::run_checkpoint;
using cp::testing::shell_quote;
using cp::testing::TempDir;
using cp::testing::write_file;
using nlohmann::json;

namespace {
struct Keys {
    std::string key, cert;
};
Keys make_keys(const TempDir& dir, const std::string& name) {
    auto k = cp::crypto::PrivateKey::generate_p256();
    REQUIRE(k.ok());
    auto der = k->self_signed_certificate(name, 1'700'000'000, 3650);
    REQUIRE(der.ok());
    Keys out{(dir / (name + ".key")).string(), (dir / (name + ".crt")).string()};
    write_file(out.key, *k->to_pem());
    write_file(out.cert, cp::crypto::certificate_pem(*der));
    return out;
}
std::string q(const std::filesystem::path& p) { return shell_quote(p.string()); }
}  // namespace

TEST_CASE("list build, import, lookup, info, delta") {
    TempDir dir;
    auto cc = make_keys(dir, "cc");
    write_file(dir / "v1.csv",
               "pass_id,status,reason,since\n"
               "00112233445566778899aabbccddeeff,red,isolation,2026-11-01\n"
               "00000000000000000000000000000001,green,,\n"
               "ffffffffffffffffffffffffffffffff,yellow,close-contact,1790000000\n");
    auto b = run_checkpoint("list build --csv " + q(dir / "v1.csv") + " --key " + q(cc.key) + " --cert " + q(cc.cert) +
                            " --version 3 --created 2026-11-28T00:00:00Z --issuer CN-HL-DQ --out " + q(dir / "v1.cpsl"));
    REQUIRE(b.code == 0);
    auto bj = json::parse(b.out);
    CHECK(bj["entries"] == 3);
    CHECK(bj["version"] == 3);

    auto db = dir / "status.db";
    auto imp = run_checkpoint("list import " + q(dir / "v1.cpsl") + " --db " + q(db) + " --trust " + q(cc.cert));
    REQUIRE(imp.code == 0);
    CHECK(json::parse(imp.out)["installed"] == true);

    auto l = run_checkpoint("list lookup 00112233445566778899AABBCCDDEEFF --db " + q(db));
    REQUIRE(l.code == 0);
    auto lj = json::parse(l.out);
    CHECK(lj["status"] == "red");
    CHECK(lj["reason"] == "isolation");
    CHECK(lj["since"] == 1793491200);
    CHECK(lj["pass_id"] == "00112233445566778899aabbccddeeff");
    auto miss = run_checkpoint("list lookup 00112233445566778899aabbccddeefe --db " + q(db));
    CHECK(miss.code == 1);
    CHECK(json::parse(miss.out)["found"] == false);
    CHECK(run_checkpoint("list lookup nothex --db " + q(db)).code == 2);

    auto info = run_checkpoint("list info --db " + q(db));
    REQUIRE(info.code == 0);
    auto ij = json::parse(info.out);
    CHECK(ij["version"] == 3);
    CHECK(ij["created_at"] == 1795824000);
    CHECK(ij["entries"] == 3);
    CHECK(ij["signer_kid"].get<std::string>().size() == 16);

    // Re-importing the same version is refused; the list stays.
    auto again = run_checkpoint("list import " + q(dir / "v1.cpsl") + " --db " + q(db) + " --trust " + q(cc.cert));
    CHECK(again.code == 1);
    CHECK(json::parse(again.out)["reason"] == "list-version");

    // A list signed by another key is refused.
    auto other = make_keys(dir, "other");
    REQUIRE(run_checkpoint("list build --csv " + q(dir / "v1.csv") + " --key " + q(other.key) + " --cert " + q(other.cert) +
                           " --version 9 --out " + q(dir / "other.cpsl")).code == 0);
    auto foreign = run_checkpoint("list import " + q(dir / "other.cpsl") + " --db " + q(db) + " --trust " + q(cc.cert));
    CHECK(foreign.code == 1);
    CHECK(json::parse(foreign.out)["reason"] == "unknown-key");

    // A delta 3 → 4 removes one id.
    write_file(dir / "d.csv", "00000000000000000000000000000001,remove,\n");
    REQUIRE(run_checkpoint("list build --csv " + q(dir / "d.csv") + " --key " + q(cc.key) + " --cert " + q(cc.cert) +
                           " --version 4 --delta-base 3 --out " + q(dir / "d.cpsl")).code == 0);
    auto d = run_checkpoint("list import " + q(dir / "d.cpsl") + " --db " + q(db) + " --trust " + q(cc.cert));
    REQUIRE(d.code == 0);
    CHECK(json::parse(d.out)["version"] == 4);
    CHECK(json::parse(d.out)["entries"] == 2);
    CHECK(run_checkpoint("list lookup 00000000000000000000000000000001 --db " + q(db)).code == 1);
}

TEST_CASE("list build refuses bad input by line, and a key that does not match the cert") {
    TempDir dir;
    auto cc = make_keys(dir, "cc");
    auto other = make_keys(dir, "other");
    auto build = [&](const std::string& csv, const Keys& k, const std::string& extra = "") {
        write_file(dir / "in.csv", csv);
        return run_checkpoint("list build --csv " + q(dir / "in.csv") + " --key " + q(k.key) + " --cert " + q(cc.cert) +
                              " --version 2 --out " + q(dir / "out.cpsl") + extra);
    };
    CHECK(build("00112233445566778899aabbccddeeff,green,\n", cc).code == 0);
    CHECK(build("0011,green,\n", cc).code == 2);
    CHECK(build("00112233445566778899aabbccddeeff,blue,\n", cc).code == 2);
    CHECK(build("00112233445566778899aabbccddeeff,remove,\n", cc).code == 2);  // remove only in deltas
    CHECK(build("00112233445566778899aabbccddeeff,green,\n00112233445566778899aabbccddeeff,red,\n", cc).code == 2);
    CHECK(build("00112233445566778899aabbccddeeff,green,\n", other).code == 2);
    CHECK(build("00112233445566778899aabbccddeeff,green,\n", cc, " --delta-base 5").code == 2);
    CHECK(run_checkpoint("list build --csv x").code == 2);
    CHECK(run_checkpoint("list info --db " + q(dir / "absent.db")).code == 2);
}

TEST_CASE("list import keeps the version floor when status.db is gone; --reset-version-floor overrides") {
    TempDir dir;
    auto cc = make_keys(dir, "cc");
    write_file(dir / "l.csv", "00112233445566778899aabbccddeeff,red,isolation\n");
    for (int v : {3, 5}) {
        REQUIRE(run_checkpoint("list build --csv " + q(dir / "l.csv") + " --key " + q(cc.key) + " --cert " + q(cc.cert) +
                               " --version " + std::to_string(v) + " --out " + q(dir / ("v" + std::to_string(v) + ".cpsl")))
                    .code == 0);
    }
    auto db = dir / "status.db";
    const std::string trust = " --db " + q(db) + " --trust " + q(cc.cert);
    REQUIRE(run_checkpoint("list import " + q(dir / "v5.cpsl") + trust).code == 0);
    std::filesystem::remove(db);
    auto older = run_checkpoint("list import " + q(dir / "v3.cpsl") + trust);
    CHECK(older.code == 1);
    CHECK(json::parse(older.out)["reason"] == "list-version");
    auto fl = run_checkpoint("list floor --db " + q(db));
    REQUIRE(fl.code == 0);
    CHECK(json::parse(fl.out)["floor"] == 5);

    auto reset = run_checkpoint("list import " + q(dir / "v3.cpsl") + trust + " --reset-version-floor");
    REQUIRE(reset.code == 0);
    CHECK(json::parse(reset.out)["version"] == 3);
    CHECK(json::parse(reset.out)["version_floor_reset"] == true);
    CHECK(json::parse(run_checkpoint("list floor --db " + q(db)).out)["floor"] == 3);

    auto cleared = run_checkpoint("list floor --reset --trust-dir " + q(dir / "trust"));
    REQUIRE(cleared.code == 0);
    CHECK(json::parse(cleared.out)["floor"] == 0);
    CHECK(run_checkpoint("list floor").code == 2);
    CHECK(run_checkpoint("list build --csv " + q(dir / "l.csv") + " --key " + q(cc.key) + " --cert " + q(cc.cert) +
                         " --version 9007199254740992 --out " + q(dir / "big.cpsl")).code == 2);
}
