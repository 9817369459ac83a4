// The command lines' parse (src/cli/args.hpp): the input, split at NUL bytes, is
// the argv of a small program with an integer option, a text option, a flag and
// nested subcommands. The parse must end in 0 (help), 2 (usage) or a runnable
// action, never crash or throw; an integer it accepted must be in range and read
// back as the same decimal number.
#include "src/cli/args.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace {

void check_int(const std::string& text) {
    auto v = cp::cli::parse_int(text, -1000, 1000);
    if (!v) return;
    if (*v < -1000 || *v > 1000) std::abort();
    // Same number written back (leading zeros aside): no base prefix, no sign but '-'.
    std::string digits = text[0] == '-' ? text.substr(1) : text;
    digits.erase(0, std::min(digits.find_first_not_of('0'), digits.size() - 1));
    if ((text[0] == '-' && *v != 0 ? "-" : "") + digits != std::to_string(*v)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size > 4096) return 0;
    static std::ostringstream sink;
    static const bool quiet = [] {
        std::cout.rdbuf(sink.rdbuf());
        std::cerr.rdbuf(sink.rdbuf());
        return true;
    }();
    (void)quiet;
    sink.str({});

    std::vector<std::string> words{"prog"};
    std::string word;
    for (std::size_t i = 0; i < size; ++i) {
        if (data[i] == 0) {
            words.push_back(word);
            word.clear();
        } else {
            word += static_cast<char>(data[i]);
        }
    }
    words.push_back(word);
    for (const auto& w : words) check_int(w);

    CLI::App app{"fuzz", "prog"};
    cp::cli::configure(app);
    app.require_subcommand(1);
    cp::cli::Action action;
    int port = 0, n = 0;
    std::string name;
    bool on = false;
    CLI::App* run = app.add_subcommand("run", "run");
    cp::cli::add_int(run, "--port", port, 0, 65535, "port")->required();
    run->add_option("--name", name, "name");
    run->add_flag("--on", on, "flag");
    run->callback([&action] { action = [] { return 0; }; });
    CLI::App* group = app.add_subcommand("group", "group");
    group->require_subcommand(1);
    CLI::App* sub = group->add_subcommand("sub", "sub");
    cp::cli::add_int(sub, "-n,--n", n, -5, 5, "n");
    sub->callback([&action] { action = [] { return 0; }; });

    std::vector<const char*> argv;
    for (const auto& w : words) argv.push_back(w.c_str());
    auto rc = cp::cli::parse(app, static_cast<int>(argv.size()), argv.data());
    if (rc) {
        if (*rc != cp::cli::kExitOk && *rc != cp::cli::kExitUsage) std::abort();
    } else {
        if (!action) std::abort();
        if (port < 0 || port > 65535 || n < -5 || n > 5) std::abort();
    }
    return 0;
}
