// src/cli/args.hpp: the one integer parse of the command lines, and how a parse
// ends (help, usage error, or the command's action to run).
#include "src/cli/args.hpp"

#include <doctest/doctest.h>

#include <initializer_list>
#include <limits>
#include <string>
#include <vector>

using cp::cli::parse_int;

namespace {

// A small command line: `prog run --port N [--name S] [--on]` and `prog group sub --n N`.
struct Prog {
    CLI::App app{"test program", "prog"};
    cp::cli::Action action;
    int port = 0, n = 0;
    std::string name;
    bool on = false;
    int ran = 0;
    Prog() {
        cp::cli::configure(app);
        app.require_subcommand(1);
        CLI::App* run = app.add_subcommand("run", "run it");
        cp::cli::add_int(run, "--port", port, 0, 65535, "a port")->required();
        run->add_option("--name", name, "a name");
        run->add_flag("--on", on, "a flag");
        run->callback([this] { action = [this] { return ++ran, 0; }; });
        CLI::App* group = app.add_subcommand("group", "a group");
        group->require_subcommand(1);
        CLI::App* sub = group->add_subcommand("sub", "a leaf");
        cp::cli::add_int(sub, "--n", n, 1, 10, "a count")->required();
        sub->callback([this] { action = [this] { return ++ran, 0; }; });
    }
    std::optional<int> operator()(std::initializer_list<const char*> words) {
        std::vector<const char*> argv{"prog"};
        argv.insert(argv.end(), words);
        return cp::cli::parse(app, static_cast<int>(argv.size()), argv.data());
    }
};

}  // namespace

TEST_CASE("parse_int takes decimal integers within the range only") {
    CHECK(parse_int("0", 0, 10) == 0);
    CHECK(parse_int("10", 0, 10) == 10);
    CHECK(parse_int("-1", -1, 10) == -1);
    CHECK(parse_int("010", 0, 100) == 10);  // decimal, not octal
    CHECK(parse_int("9223372036854775807", 0, std::numeric_limits<long long>::max()) ==
          std::numeric_limits<long long>::max());
    for (const char* bad : {"", " 1", "1 ", "+1", "1x", "0x10", "1e3", "1.0", "11", "-1", "--1",
                            "99999999999999999999", "-", "一"}) {
        CAPTURE(bad);
        CHECK_FALSE(parse_int(bad, 0, 10));
    }
}

TEST_CASE("a command line that parses sets the action; values are range-checked") {
    Prog p;
    CHECK_FALSE(p({"run", "--port", "8443", "--name", "x", "--on"}));
    REQUIRE(p.action);
    CHECK(p.port == 8443);
    CHECK(p.name == "x");
    CHECK(p.on);
    CHECK(p.action() == 0);
    CHECK(p.ran == 1);
    Prog q;
    CHECK_FALSE(q({"group", "sub", "--n", "3"}));
    CHECK(q.n == 3);
}

TEST_CASE("usage errors exit 2 and run nothing") {
    for (auto words : {std::vector<const char*>{}, {"nosuch"}, {"run"}, {"run", "--port"},
                       {"run", "--port", "65536"}, {"run", "--port", "0x10"}, {"run", "--port", "80", "--bogus"},
                       {"run", "--port", "80", "extra"}, {"group"}, {"group", "sub", "--n", "0"},
                       {"group", "nosub", "--n", "1"}}) {
        Prog p;
        std::vector<const char*> argv{"prog"};
        argv.insert(argv.end(), words.begin(), words.end());
        CAPTURE(argv.size());
        auto rc = cp::cli::parse(p.app, static_cast<int>(argv.size()), argv.data());
        REQUIRE(rc);
        CHECK(*rc == cp::cli::kExitUsage);
        CHECK(p.ran == 0);
    }
}

TEST_CASE("--help anywhere prints help and exits 0 without running the command") {
    for (auto words : {std::vector<const char*>{"--help"}, {"-h"}, {"run", "--help"}, {"run", "--port", "--help"},
                       {"run", "--port", "99999", "-h"}, {"group", "sub", "--help"}, {"group", "-h"}}) {
        Prog p;
        std::vector<const char*> argv{"prog"};
        argv.insert(argv.end(), words.begin(), words.end());
        auto rc = cp::cli::parse(p.app, static_cast<int>(argv.size()), argv.data());
        REQUIRE(rc);
        CHECK(*rc == cp::cli::kExitOk);
        CHECK(p.ran == 0);
    }
    // Help for a word that names no command is a usage error.
    Prog p;
    CHECK(p({"nosuch", "--help"}) == cp::cli::kExitUsage);
    CHECK(p.ran == 0);
}

TEST_CASE("an option given twice keeps its last value") {
    Prog p;
    CHECK_FALSE(p({"run", "--port", "1", "--port", "2"}));
    CHECK(p.port == 2);
}
