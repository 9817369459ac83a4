// `checkpoint verify` and `checkpoint pass` as processes: exit codes and JSON.
#include "tests/testing.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdlib>

namespace {

struct Run {
    int code = -1;
    std::string out;
};

std::string quote(const std::string& s) {
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

Run run(const cp::testing::TempDir& dir, const std::string& args) {
    std::string cmd = cp::testing::command_for((cp::testing::bin_dir() / "checkpoint").string()) + " " + args + " > " +
                      quote((dir / "out.txt").string()) + " 2> " + quote((dir / "err.txt").string());
    int status = std::system(cmd.c_str());
    Run r;
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = cp::testing::read_file(dir / "out.txt");
    return r;
}

nlohmann::json one_json(const std::string& out) {
    // Exactly one JSON object, one line.
    REQUIRE(std::count(out.begin(), out.end(), '\n') == 1);
    auto j = nlohmann::json::parse(out, nullptr, false);
    REQUIRE_FALSE(j.is_discarded());
    REQUIRE(j.is_object());
    return j;
}

}  // namespace

TEST_CASE("keygen, issue, verify: exit codes and JSON") {
    cp::testing::TempDir dir;
    std::string keys = (dir / "keys").string();
    REQUIRE(run(dir, "pass keygen --out " + quote(keys) + " --cn 'CLI test issuer'").code == 0);
    struct stat st {};
    REQUIRE(::stat((dir / "keys" / "issuer.key").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);

    cp::testing::write_file(dir / "claims.json",
        R"({"iss": "CN-HL-DQ", "iat": 1767225600, "exp": 1798761600,
            "pass": {"v": 1, "id": "00112233445566778899aabbccddeeff", "k": "R",
                     "n": "张*明", "g": "ranghulu.xinghua.07"}})");
    std::string issue = "pass issue --key " + quote(keys + "/issuer.key") + " --cert " + quote(keys + "/issuer.crt") +
                        " --claims " + quote((dir / "claims.json").string());
    Run issued = run(dir, issue + " --png " + quote((dir / "qr.png").string()));
    REQUIRE(issued.code == 0);
    std::string text = issued.out.substr(0, issued.out.find('\n'));
    CHECK(text.starts_with("CP1:"));
    CHECK(cp::testing::read_file(dir / "qr.png").starts_with("\x89PNG"));

    std::string trust = " --trust " + quote(keys + "/issuer.crt");
    Run ok = run(dir, "verify --text " + quote(text) + trust + " --at 2026-06-01T00:00:00Z");
    CHECK(ok.code == 0);
    auto j = one_json(ok.out);
    CHECK(j["verified"] == true);
    CHECK(j["format"] == "CP1");
    CHECK(j["signature"] == "valid");
    CHECK(j["expired"] == false);
    CHECK(j["reason"].is_null());
    CHECK(j["kid"].get<std::string>().size() == 16);
    CHECK(j["text"] == text);
    CHECK(j["pass"]["pass"]["id"] == "00112233445566778899aabbccddeeff");
    CHECK(j["pass"]["pass"]["n"] == "张*明");

    Run expired = run(dir, "verify --text " + quote(text) + trust + " --at 2027-06-01");
    CHECK(expired.code == 1);
    auto je = one_json(expired.out);
    CHECK(je["verified"] == false);
    CHECK(je["reason"] == "expired");
    CHECK(je["expired"] == true);

    std::string tampered = text;
    tampered[40] = tampered[40] == 'A' ? 'B' : 'A';
    Run bad = run(dir, "verify --text " + quote(tampered) + trust + " --at 2026-06-01");
    CHECK(bad.code == 1);
    auto jb = one_json(bad.out);
    CHECK(jb["verified"] == false);
    CHECK_FALSE(jb["reason"].is_null());

    Run junk = run(dir, "verify --text 'hello'" + trust);
    CHECK(junk.code == 1);
    auto jj = one_json(junk.out);
    CHECK(jj["reason"] == "prefix");
    CHECK(jj["format"].is_null());
    CHECK(jj["kid"].is_null());
    CHECK(jj["pass"].is_null());

    // Usage and file errors: exit 2.
    CHECK(run(dir, "verify --text " + quote(text)).code == 2);                                     // no --trust
    CHECK(run(dir, "verify --text x --image y" + trust).code == 2);                                // both inputs
    CHECK(run(dir, "verify --text x --trust " + quote((dir / "missing.pem").string())).code == 2);  // no file
    CHECK(run(dir, "verify --text x" + trust + " --at yesterday").code == 2);
    CHECK(run(dir, "pass issue --key " + quote(keys + "/issuer.key")).code == 2);
    cp::testing::write_file(dir / "bad.json", R"({"iss": "X", "iat": 1, "exp": 2, "pass": {"k": "R"}})");
    CHECK(run(dir, "pass issue --key " + quote(keys + "/issuer.key") + " --cert " + quote(keys + "/issuer.crt") +
                       " --claims " + quote((dir / "bad.json").string())).code == 2);
}

TEST_CASE("verify --at takes offsets with and without a colon") {
    cp::testing::TempDir dir;
    std::string keys = (dir / "keys").string();
    REQUIRE(run(dir, "pass keygen --out " + quote(keys)).code == 0);
    cp::testing::write_file(dir / "claims.json",
        R"({"iss": "CN-HL-DQ", "iat": 1767225600, "exp": 1798761600,
            "pass": {"v": 1, "id": "00112233445566778899aabbccddeeff", "k": "V", "n": "x"}})");
    Run issued = run(dir, "pass issue --key " + quote(keys + "/issuer.key") + " --cert " + quote(keys + "/issuer.crt") +
                              " --claims " + quote((dir / "claims.json").string()));
    REQUIRE(issued.code == 0);
    const std::string verify = "verify --text " + quote(issued.out.substr(0, issued.out.find('\n'))) + " --trust " +
                               quote(keys + "/issuer.crt") + " --skew 0 --at ";
    // exp is 2027-01-01T00:00:00Z. 00:30 at +01:00 is 23:30Z the day before: valid;
    // read as UTC it would be expired. Both offset forms mean the same instant.
    for (const char* at : {"2027-01-01T00:30:00+0100", "2027-01-01T00:30:00+01:00", "2027-01-01T00:30:00+01"}) {
        CAPTURE(at);
        Run r = run(dir, verify + at);
        CHECK(r.code == 0);
        CHECK(one_json(r.out)["verified"] == true);
    }
    Run utc = run(dir, verify + "2027-01-01T00:30:00Z");
    CHECK(utc.code == 1);
    CHECK(one_json(utc.out)["reason"] == "expired");
    // The EU DCC test data's form.
    CHECK(run(dir, verify + "2026-06-09T15:15:36+0200").code == 0);
    CHECK(run(dir, verify + "2026-06-09T15:15:36+020").code == 2);
}

TEST_CASE("every checkpoint subcommand answers --help: usage on stdout, exit 0, no file named --help") {
    cp::testing::TempDir dir;
    struct Case {
        const char* args;
        const char* usage;
    };
    const Case cases[] = {
        {"version --help", "usage: checkpoint version"},
        {"decode --help", "usage: checkpoint decode"},
        {"decode -h", "usage: checkpoint decode"},
        {"decode some.png --help", "usage: checkpoint decode"},
        {"verify --help", "usage: checkpoint verify"},
        {"verify --text --help", "usage: checkpoint verify"},
        {"pass --help", "usage: checkpoint pass"},
        {"pass issue --help", "checkpoint pass issue"},
        {"pass keygen --help", "checkpoint pass keygen"},
        {"list --help", "usage: checkpoint list"},
        {"list import --help", "checkpoint list import"},
        {"list build --help", "checkpoint list build"},
        {"list lookup --help", "checkpoint list lookup"},
        {"list info --help", "checkpoint list info"},
        {"list floor --help", "checkpoint list floor"},
        {"journal --help", "usage: checkpoint journal"},
        {"journal tail --help", "usage: checkpoint journal"},
        {"diag --help", "usage: checkpoint diag"},
        {"help decode", "usage: checkpoint decode"},
        {"help diag", "usage: checkpoint diag"},
        {"--help", "usage: checkpoint [OPTIONS] COMMAND"},
        {"help", "usage: checkpoint [OPTIONS] COMMAND"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.args);
        Run r = run(dir, c.args);
        CHECK(r.code == 0);
        CHECK(r.out.find(c.usage) != std::string::npos);
        CHECK(r.out.find("\"file\"") == std::string::npos);  // decode did not try a file
    }
    // Without --help, usage errors still exit 2.
    CHECK(run(dir, "decode").code == 2);
    CHECK(run(dir, "list").code == 2);
    CHECK(run(dir, "nosuch --help").code == 2);
}

TEST_CASE("integer options take whole decimal numbers in their range: --days 12abc exits 2 and writes nothing") {
    cp::testing::TempDir dir;
    const std::string out = "--out '" + (dir / "issuer").string() + "'";
    for (const char* days : {"12abc", "-5", "0", "0x10", "99999999999"}) {
        CAPTURE(days);
        CHECK(run(dir, "pass keygen " + out + " --days " + days).code == 2);
        CHECK_FALSE(std::filesystem::exists(dir / "issuer" / "issuer.key"));
    }
    CHECK(run(dir, "journal tail --db x -n 5x").code == 2);
    CHECK(run(dir, "list build --csv a --key b --cert c --out d --version 1.5").code == 2);
    CHECK(run(dir, "pass keygen " + out + " --days 30").code == 0);
}
