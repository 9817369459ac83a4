// `checkpoint`: the command-line tool for issuers, technicians and tests.
#include "tools/checkpoint/commands.hpp"

#include <cstdio>
#include <cstring>
#include <string>
#include <unistd.h>

namespace cp::cli {

// Each subcommand's entry point, defined in its cmd_*.cpp (added to the table as it lands).
int run_version(const Args& args);
int run_decode(const Args& args);
int run_verify(const Args& args);
int run_pass(const Args& args);
int run_list(const Args& args);
int run_journal(const Args& args);
int run_diag(const Args& args);

namespace {
const char kVersionUsage[] = "usage: checkpoint version\n";
}  // namespace

const std::vector<Command>& commands() {
    static const std::vector<Command> table = {
        {"version", "print the version", run_version, kVersionUsage},
        {"decode", "decode QR codes in image files (one JSON line each)", run_decode, kDecodeUsage},
        {"verify", "verify a pass QR text or image against a trust store (JSON)", run_verify, kVerifyUsage},
        {"pass", "issuer tools: keygen, issue (CP1 QR text / PNG)", run_pass, kPassUsage},
        {"list", "status lists: build (sign), import, lookup, info", run_list, kListUsage},
        {"journal", "scan journal: tail (JSON lines)", run_journal, kJournalUsage},
        {"diag", "technician's device check: camera, thermometer, gpio, list, backlog, upstream", run_diag, nullptr},
    };
    return table;
}

bool wants_help(const Args& args) {
    for (const auto& a : args) {
        if (a == "--help" || a == "-h") return true;
    }
    return false;
}

int run_version(const Args&) {
    std::printf("checkpoint %s\n", CHECKPOINT_VERSION);
    return 0;
}

namespace {

// For a command without a usage text in the table: run it with "--help" alone
// (a usage error for such a command, which has no side effects), catch what it
// writes to stderr and show the usage part of it on stdout.
int help_from_usage_error(const Command& c) {
    std::fflush(stderr);
    std::FILE* tmp = std::tmpfile();
    const int saved = tmp ? ::dup(STDERR_FILENO) : -1;
    if (saved < 0 || ::dup2(::fileno(tmp), STDERR_FILENO) < 0) {
        if (tmp) std::fclose(tmp);
        if (saved >= 0) ::close(saved);
        return c.run({"--help"});
    }
    const int rc = c.run({"--help"});
    std::fflush(stderr);
    ::dup2(saved, STDERR_FILENO);
    ::close(saved);
    std::string text;
    std::rewind(tmp);
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, tmp)) > 0 && text.size() < (1u << 20)) text.append(buf, n);
    std::fclose(tmp);
    if (rc == 0) {  // the command answered --help itself
        std::fputs(text.c_str(), stderr);
        return 0;
    }
    const auto at = text.find("usage:");
    if (at == std::string::npos) {
        std::fputs(text.c_str(), stderr);
        return rc;
    }
    std::fputs(text.c_str() + at, stdout);
    return 0;
}

int show_help(const Command& c) {
    if (c.usage == nullptr) return help_from_usage_error(c);
    std::fputs(c.usage, stdout);
    return 0;
}

}  // namespace

}  // namespace cp::cli

static void usage(std::FILE* out) {
    std::fprintf(out, "usage: checkpoint COMMAND [ARGS]\n       checkpoint COMMAND --help\n\ncommands:\n");
    for (const auto& c : cp::cli::commands()) std::fprintf(out, "  %-10s %s\n", c.name, c.summary);
}

int main(int argc, char** argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const bool help_word = !std::strcmp(argv[1], "help");
    if (help_word || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
        // `checkpoint help COMMAND`: that command's usage.
        if (help_word && argc == 3) {
            for (const auto& c : cp::cli::commands()) {
                if (!std::strcmp(c.name, argv[2])) return cp::cli::show_help(c);
            }
        }
        usage(stdout);
        return 0;
    }
    cp::cli::Args args(argv + 2, argv + argc);
    for (const auto& c : cp::cli::commands()) {
        if (std::strcmp(c.name, argv[1]) != 0) continue;
        if (cp::cli::wants_help(args)) return cp::cli::show_help(c);
        return c.run(args);
    }
    std::fprintf(stderr, "checkpoint: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
