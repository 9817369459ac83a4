// `checkpoint`: the command-line tool for issuers, technicians and tests.
#include "tools/checkpoint/commands.hpp"

#include <cstdio>
#include <cstring>

namespace cp::cli {

// Each subcommand's entry point, defined in its cmd_*.cpp (added to the table as it lands).
int run_version(const Args& args);
int run_decode(const Args& args);
int run_verify(const Args& args);
int run_pass(const Args& args);
int run_list(const Args& args);
int run_journal(const Args& args);
int run_diag(const Args& args);

const std::vector<Command>& commands() {
    static const std::vector<Command> table = {
        {"version", "print the version", run_version},
        {"decode", "decode QR codes in image files (one JSON line each)", run_decode},
        {"verify", "verify a pass QR text or image against a trust store (JSON)", run_verify},
        {"pass", "issuer tools: keygen, issue (CP1 QR text / PNG)", run_pass},
        {"list", "status lists: build (sign), import, lookup, info", run_list},
        {"journal", "scan journal: tail (JSON lines)", run_journal},
        {"diag", "technician's device check: camera, thermometer, gpio, list, backlog, upstream", run_diag},
    };
    return table;
}

int run_version(const Args&) {
    std::printf("checkpoint %s\n", CHECKPOINT_VERSION);
    return 0;
}

}  // namespace cp::cli

static void usage() {
    std::fprintf(stderr, "usage: checkpoint COMMAND [ARGS]\n\ncommands:\n");
    for (const auto& c : cp::cli::commands()) std::fprintf(stderr, "  %-10s %s\n", c.name, c.summary);
}

int main(int argc, char** argv) {
    if (argc < 2 || !std::strcmp(argv[1], "help") || !std::strcmp(argv[1], "--help")) {
        usage();
        return argc < 2 ? 2 : 0;
    }
    cp::cli::Args args(argv + 2, argv + argc);
    for (const auto& c : cp::cli::commands()) {
        if (!std::strcmp(c.name, argv[1])) return c.run(args);
    }
    std::fprintf(stderr, "checkpoint: unknown command '%s'\n", argv[1]);
    usage();
    return 2;
}
