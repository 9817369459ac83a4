// `checkpoint`: the command-line tool for issuers, technicians and tests.
#include "tools/checkpoint/commands.hpp"

#include <cstdio>
#include <cstring>
#include <vector>

int main(int argc, char** argv) {
    CLI::App app{"checkpoint: the command-line tool for issuers, technicians and tests.\n"
                 "Exit status: 0 ok, 1 a negative answer or failed check, 2 usage or file error.",
                 "checkpoint"};
    cp::cli::configure(app);
    app.require_subcommand(1);
    cp::cli::Action action;
    app.add_subcommand("version", "print the version")->callback([&action] {
        action = [] {
            std::printf("checkpoint %s\n", CHECKPOINT_VERSION);
            return cp::cli::kExitOk;
        };
    });
    cp::cli::add_decode(app, action);
    cp::cli::add_verify(app, action);
    cp::cli::add_pass(app, action);
    cp::cli::add_list(app, action);
    cp::cli::add_journal(app, action);
    cp::cli::add_diag(app, action);
    app.footer("checkpoint help COMMAND... (or COMMAND... --help): that command's usage.");

    // `checkpoint help [COMMAND...]` is `checkpoint [COMMAND...] --help`.
    std::vector<const char*> args(argv, argv + argc);
    if (argc >= 2 && std::strcmp(argv[1], "help") == 0) {
        args.erase(args.begin() + 1);
        args.push_back("--help");
    }
    if (auto rc = cp::cli::parse(app, static_cast<int>(args.size()), args.data())) return *rc;
    return action();
}
