// Durable journal appends per second through ScanJournal (validation, WAL,
// synchronous=FULL, one transaction per row, prune check) vs a bare SQLite
// INSERT + COMMIT in WAL synchronous=FULL on the same file system, same run.
// The journal lives in $TMPDIR; on the device it is the SD card / eMMC, where
// fsync dominates: run it there for the number that matters.
#include "src/cli/args.hpp"
#include "src/journal/journal.hpp"
#include "tests/bench/bench.hpp"

#include <sqlite3.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace fs = std::filesystem;
using namespace cp;

int main(int argc, char** argv) {
    std::size_t n = 2000;
    CLI::App app{"scan journal append and upload-read rates (docs/benchmarks.md)", "bench_journal"};
    cp::cli::configure(app);
    cp::cli::add_int(&app, "N", n, 1, 100'000'000, "rows")->default_str("2000");
    if (auto rc = cp::cli::parse(app, argc, argv)) return *rc;
    fs::path dir = fs::temp_directory_path() / ("cp-bench-journal-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    std::printf("journal benchmark, %zu durable appends each, in %s\n", n, dir.c_str());

    journal::JournalOptions o;
    o.device_id = "bench";
    auto j = journal::ScanJournal::open((dir / "journal.db").string(), o);
    if (!j) {
        std::fprintf(stderr, "%s\n", j.error().describe().c_str());
        return 1;
    }
    journal::ScanRecord r;
    r.pass_id = "00112233445566778899aabbccddeeff";
    r.format = "cp1";
    r.kind = "R";
    r.verdict = "GREEN";
    r.reason = "ok";
    r.temperature_c = 36.5;
    r.lane = "gate";
    r.device_id = "bench";
    auto ours = bench::measure(n, 20, [&] {
        if (!(*j)->append(r).ok()) std::abort();
    });

    sqlite3* db = nullptr;
    sqlite3_open((dir / "bare.db").c_str(), &db);
    sqlite3_exec(db,
                 "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                 "CREATE TABLE t (seq INTEGER PRIMARY KEY, pass_id TEXT, verdict TEXT, reason TEXT, temp REAL)",
                 nullptr, nullptr, nullptr);
    sqlite3_stmt* ins = nullptr;
    sqlite3_prepare_v2(db, "INSERT INTO t (pass_id, verdict, reason, temp) VALUES (?, 'GREEN', 'ok', 36.5)", -1, &ins, nullptr);
    auto bare = bench::measure(n, 20, [&] {
        sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
        sqlite3_bind_text(ins, 1, r.pass_id.c_str(), -1, SQLITE_STATIC);
        if (sqlite3_step(ins) != SQLITE_DONE) std::abort();
        sqlite3_reset(ins);
        if (sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) std::abort();
    });
    sqlite3_finalize(ins);
    sqlite3_close(db);

    bench::print_row("ScanJournal::append (durable)", ours);
    bench::print_row("baseline: bare INSERT+COMMIT WAL FULL", bare);
    std::printf("%-44s %10.0f appends/s\n", "ScanJournal::append throughput", 1e6 / ours.mean_us);
    std::printf("%-44s %10.0f appends/s\n", "baseline throughput", 1e6 / bare.mean_us);
    j->reset();
    fs::remove_all(dir);
    return 0;
}
