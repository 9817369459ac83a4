// Subcommands of the `checkpoint` tool. Each lives in its own cmd_*.cpp and
// returns the process exit code: 0 success, 1 a negative answer (e.g. a rejected
// pass), 2 a usage or file error.
#pragma once

#include <string>
#include <vector>

namespace cp::cli {

using Args = std::vector<std::string>;

struct Command {
    const char* name;     // first word, e.g. "verify" or "pass"
    const char* summary;  // one line for `checkpoint help`
    int (*run)(const Args& args);  // args after the command word
};

// The table of commands, defined in main.cpp.
extern const std::vector<Command>& commands();

}  // namespace cp::cli
