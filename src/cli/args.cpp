#include "src/cli/args.hpp"

#include <charconv>
#include <iostream>
#include <vector>

namespace cp::cli {

std::optional<long long> parse_int(std::string_view text, long long lo, long long hi) {
    if (text.empty() || text.size() > 20) return std::nullopt;
    long long v = 0;
    const char* end = text.data() + text.size();
    auto [p, ec] = std::from_chars(text.data(), end, v, 10);
    if (ec != std::errc() || p != end || v < lo || v > hi) return std::nullopt;
    return v;
}

CLI::Validator IntRange(long long lo, long long hi) {
    const std::string range = std::to_string(lo) + ".." + std::to_string(hi);
    return CLI::Validator(
        [lo, hi, range](std::string& s) -> std::string {
            if (parse_int(s, lo, hi)) return {};
            return "'" + s + "' is not an integer in " + range;
        },
        "INT in " + range);
}

void configure(CLI::App& app) {
    app.set_help_flag("-h,--help", "print this help and exit");
    // Subcommands copy these when added.
    app.get_formatter()->label("Usage", "usage");
    app.get_formatter()->label("SUBCOMMAND", "COMMAND");
    app.get_formatter()->label("SUBCOMMANDS", "COMMANDS");
    app.allow_windows_style_options(false);
    // As given twice, an option keeps its last value (scripts append overrides).
    app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
}

namespace {

// The innermost subcommand named on the command line (after a parse, even a failed one).
const CLI::App* chosen(const CLI::App& app) {
    const CLI::App* at = &app;
    for (;;) {
        const auto subs = at->get_subcommands();
        if (subs.empty()) return at;
        at = subs.front();
    }
}

bool asks_for_help(int argc, const char* const* argv) {
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (a == "--help" || a == "-h") return true;
    }
    return false;
}

int unknown_word(const CLI::App& app, const std::string& word, const std::string& path) {
    std::cerr << app.get_name() << ": unknown " << (word.rfind('-', 0) == 0 ? "option" : "command or argument") << " '"
              << word << "'\nrun '" << path << " --help' for the usage\n";
    return kExitUsage;
}

// "checkpoint list build": the names of the commands the parse went into.
std::string command_path(const CLI::App& app) {
    std::string path = app.get_name();
    for (const CLI::App* at = &app; at != chosen(app);) {
        at = at->get_subcommands().front();
        path += " " + at->get_name();
    }
    return path;
}

std::optional<int> help(CLI::App& app, int argc, const char* const* argv) {
    // The words without the help flags tell whose help it is; what they lack
    // (a required option, a value) does not matter here.
    std::vector<const char*> words;
    for (int i = 0; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (i > 0 && (a == "--help" || a == "-h")) continue;
        words.push_back(argv[i]);
    }
    try {
        app.parse(static_cast<int>(words.size()), words.data());
    } catch (const CLI::ParseError&) {
    }
    // `nosuch --help`: a word that names no command is an error.
    if (const auto extra = app.remaining(true); !extra.empty())
        return unknown_word(app, extra.front(), command_path(app));
    std::cout << app.help();
    return kExitOk;
}

}  // namespace

std::optional<int> parse(CLI::App& app, int argc, const char* const* argv) {
    if (asks_for_help(argc, argv)) return help(app, argc, argv);
    try {
        app.parse(argc, argv);
        return std::nullopt;
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e, std::cout, std::cerr);
    } catch (const CLI::ParseError& e) {
        if (argc < 2) {
            std::cerr << app.help();
            return kExitUsage;
        }
        // A word left over is the likelier mistake than what it made missing.
        if (const auto extra = app.remaining(true); !extra.empty())
            return unknown_word(app, extra.front(), command_path(app));
        std::cerr << app.get_name() << ": " << e.what() << "\nrun '" << command_path(app) << " --help' for the usage\n";
        return kExitUsage;
    }
}

}  // namespace cp::cli
