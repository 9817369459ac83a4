// `checkpoint journal tail [-n N] --db PATH`: the last N journal rows (default
// 20), oldest first, one JSON object per line, for technicians. Read-only in
// effect: it never creates a journal and skips the integrity check, so it is
// safe beside a running checkpointd (WAL allows a concurrent reader).
// Exit 0 success, 2 usage or database error.
#include "src/journal/journal.hpp"
#include "tools/checkpoint/commands.hpp"

#include <charconv>
#include <cstdio>
#include <filesystem>
#include <string>

namespace cp::cli {

const char kJournalUsage[] = "usage: checkpoint journal tail [-n N] --db PATH\n";

namespace {
int usage() {
    std::fputs(kJournalUsage, stderr);
    return 2;
}
}  // namespace

int run_journal(const Args& args) {
    if (args.empty() || args[0] != "tail") return usage();
    std::size_t n = 20;
    std::string db;
    for (std::size_t i = 1; i < args.size(); ++i) {
        if ((args[i] == "-n" || args[i] == "--lines") && i + 1 < args.size()) {
            const std::string& v = args[++i];
            auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
            if (ec != std::errc() || p != v.data() + v.size() || n == 0 || n > 100000) return usage();
        } else if (args[i] == "--db" && i + 1 < args.size()) {
            db = args[++i];
        } else {
            return usage();
        }
    }
    if (db.empty()) return usage();
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

}  // namespace cp::cli
