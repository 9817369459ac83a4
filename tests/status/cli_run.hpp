// Runs the `checkpoint` tool and captures stdout and the exit code.
#pragma once

#include "tests/testing.hpp"

#include <doctest/doctest.h>

#include <cstdio>
#include <string>
#include <sys/wait.h>

namespace cp::testing {

struct Run {
    int code = -1;
    std::string out;
};

inline std::string shell_quote(const std::string& s) {
    std::string q = "'";
    for (char c : s) {
        if (c == '\'') q += "'\\''";
        else q += c;
    }
    return q + "'";
}

inline Run run_checkpoint(const std::string& args) {
    auto bin = bin_dir() / "checkpoint";
    REQUIRE_MESSAGE(std::filesystem::exists(bin), "checkpoint tool not built at " << bin.string());
    std::string cmd = cp::testing::command_for(bin.string()) + " " + args + " 2>/dev/null";
    Run r;
    std::FILE* p = ::popen(cmd.c_str(), "r");
    REQUIRE(p != nullptr);
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
    int st = ::pclose(p);
    r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
}

}  // namespace cp::testing
