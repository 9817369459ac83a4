// The command lines of every executable (checkpoint, checkpointd, upstream) are
// parsed with CLI11; this header holds what they share: the exit codes, the one
// checked integer parse, and how a parse error or `--help` ends the process.
//
// Exit codes (docs/error-model.md lists each command's):
//   0 ok (and `--help`), 1 the command failed or answered no, 2 usage: an unknown
//   option or subcommand, a missing or malformed value, a value out of range.
#pragma once

// CLI11's inline code trips GCC's -Wnull-dereference (a false positive in its
// string splitting); the warning stays on for our own code.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <CLI/CLI.hpp>
#pragma GCC diagnostic pop

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace cp::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;

// A decimal integer (optional leading '-', digits only, no spaces, no base prefix)
// within [lo, hi]; nullopt otherwise. The one integer parse of the command lines.
std::optional<long long> parse_int(std::string_view text, long long lo, long long hi);

// A CLI11 validator for parse_int(text, lo, hi), naming the range in its message.
CLI::Validator IntRange(long long lo, long long hi);

// Adds `--name N` that stores parse_int(N, lo, hi) in `out` (CLI11's own integer
// conversion also takes octal and hex, which no option of ours means).
template <typename T>
CLI::Option* add_int(CLI::App* app, const std::string& name, T& out, long long lo, long long hi,
                     const std::string& description) {
    return app
        ->add_option_function<std::string>(
            name, [&out, lo, hi](const std::string& s) { out = static_cast<T>(*parse_int(s, lo, hi)); },
            description)
        ->check(IntRange(lo, hi))
        ->type_name("N");
}

// What the parsed command line runs. A subcommand's parse callback sets it; the
// caller runs it after parse() returned nullopt, so `--help` anywhere among the
// arguments never runs a command. Returns the exit code.
using Action = std::function<int()>;

// An app with the project's conventions: `--help`/`-h` everywhere, no
// abbreviation of long options, errors as "PROGRAM: message".
void configure(CLI::App& app);

// Parses argv into `app`. Returns nullopt when the command is to run; otherwise
// the exit code to end with: 0 after printing the help of the innermost command
// named (on stdout) when `--help` or `-h` is among the arguments, 2 after a usage error (the message and a pointer to --help on stderr; the
// full help when no argument at all was given).
std::optional<int> parse(CLI::App& app, int argc, const char* const* argv);

}  // namespace cp::cli
