// Subcommands of the `checkpoint` tool. Each lives in its own cmd_*.cpp, adds
// itself to the command line (CLI11) with its options, and, when it is the one
// parsed, sets `action` to what runs it. The action returns the process exit code:
// 0 success, 1 a negative answer (e.g. a rejected pass), 2 a usage or file error
// (src/cli/args.hpp, docs/error-model.md).
//
// `checkpoint COMMAND --help` (or -h, or `checkpoint help COMMAND`) prints the
// command's usage on stdout and exits 0.
#pragma once

#include "src/cli/args.hpp"

namespace cp::cli {

void add_decode(CLI::App& app, Action& action);
void add_verify(CLI::App& app, Action& action);
void add_pass(CLI::App& app, Action& action);
void add_list(CLI::App& app, Action& action);
void add_journal(CLI::App& app, Action& action);
void add_diag(CLI::App& app, Action& action);

}  // namespace cp::cli
