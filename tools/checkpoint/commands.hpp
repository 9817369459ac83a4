// Subcommands of the `checkpoint` tool. Each lives in its own cmd_*.cpp and
// returns the process exit code: 0 success, 1 a negative answer (e.g. a rejected
// pass), 2 a usage or file error.
//
// `checkpoint COMMAND --help` (or -h, anywhere among the arguments, or
// `checkpoint help COMMAND`) prints the command's usage on stdout and exits 0;
// the dispatcher in main.cpp handles it, so no command mistakes "--help" for a
// file or a value.
#pragma once

#include <string>
#include <vector>

namespace cp::cli {

using Args = std::vector<std::string>;

struct Command {
    const char* name;     // first word, e.g. "verify" or "pass"
    const char* summary;  // one line for `checkpoint help`
    int (*run)(const Args& args);  // args after the command word
    // The full usage text (ends with a newline). nullptr: the command prints its
    // usage itself on a usage error, and `--help` shows that text.
    const char* usage;
};

// The table of commands, defined in main.cpp.
extern const std::vector<Command>& commands();

// True when the arguments ask for help: "--help" or "-h" as a word of their own.
bool wants_help(const Args& args);

// Usage texts, defined beside each command (printed to stderr on a usage error,
// to stdout for --help).
extern const char kDecodeUsage[];
extern const char kVerifyUsage[];
extern const char kPassUsage[];
extern const char kListUsage[];
extern const char kJournalUsage[];

}  // namespace cp::cli
