// `checkpoint journal tail [-n N] --db PATH`: the last N journal rows (default
// 20), oldest first, one JSON object per line, for technicians. Read-only in
// effect: it never creates a journal and skips the integrity check, so it is
// safe beside a running checkpointd (WAL allows a concurrent reader).
// Exit 0 success, 2 usage or database error.
#include "src/journal/journal.hpp"
#include "tools/checkpoint/commands.hpp"

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

namespace cp::cli {

namespace {

struct TailOptions {
    std::size_t lines = 20;
    std::string db;
};

int run_tail(const TailOptions& opt) {
    const std::string& db = opt.db;
    const std::size_t n = opt.lines;
    std::error_code ec;
    if (!std::filesystem::is_regular_file(db, ec)) {
        std::fprintf(stderr, "checkpoint journal: no journal at %s\n", db.c_str());
        return 2;
    }
    journal::JournalOptions o;
    o.integrity = journal::IntegrityCheck::none;
    o.disk_floor_bytes = 0;
    auto j = journal::ScanJournal::open(db, o);
    if (!j) {
        std::fprintf(stderr, "checkpoint journal: %s\n", j.error().describe().c_str());
        return 2;
    }
    auto rows = (*j)->tail(n);
    if (!rows) {
        std::fprintf(stderr, "checkpoint journal: %s\n", rows.error().describe().c_str());
        return 2;
    }
    for (const auto& r : *rows) std::printf("%s\n", journal::to_json(r).c_str());
    return 0;
}

}  // namespace

void add_journal(CLI::App& app, Action& action) {
    auto opt = std::make_shared<TailOptions>();
    CLI::App* journal = app.add_subcommand("journal", "scan journal: tail (JSON lines)");
    journal->require_subcommand(1);
    CLI::App* tail = journal->add_subcommand(
        "tail", "the last N journal rows, oldest first, one JSON object per line; read-only, safe beside a "
                "running checkpointd");
    cli::add_int(tail, "-n,--lines", opt->lines, 1, 100000, "rows to print")->default_str("20");
    tail->add_option("--db", opt->db, "the journal database")->required()->type_name("PATH");
    tail->callback([opt, &action] { action = [opt] { return run_tail(*opt); }; });
}

}  // namespace cp::cli
