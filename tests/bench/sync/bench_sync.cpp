// Sync benchmarks. Prints, each beside a baseline measured in the same run:
//   1. applying a signed 100,000-change delta to a 1,000,000-entry status list
//      through StatusList::apply_delta (verify + stream + one transaction), beside
//      a bare SQLite transaction writing the same rows with the same pragmas into
//      a copy of the same database (target: < 2 s);
//   2. journal upload throughput to the real upstream on 127.0.0.1 over mutual
//      TLS (SyncClient::upload_once, gzip, batches of 1000 and of 200), beside
//      the bare journal read (next_batch + mark_uploaded_through, no network)
//      (target: >= 5,000 scans/s).
// Usage: bench_sync [base_entries] [delta_changes] [upload_rows]
// The status databases live in $TMPDIR (disk, as on a device); the journals on
// /dev/shm when present (journal appends fsync each row; setting up 2 × 50,000
// rows on disk would take minutes and is not what is measured). Numbers only;
// nothing passes or fails on timing.
#include "src/cli/args.hpp"
#include "src/status/list_format.hpp"
#include "tests/bench/list_gen.hpp"
#include "src/status/store.hpp"
#include "src/sync/sync_client.hpp"
#include "tests/upstream/upstream_fixture.hpp"

#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

using namespace cp;
using namespace cp::status;
namespace fs = std::filesystem;

namespace {

using bench::secs_since;
using bench::splitmix;
ListEntry gen(std::uint64_t i, std::uint64_t n) { return bench::gen_entry(i, n); }

int exec(sqlite3* db, const char* sql) { return sqlite3_exec(db, sql, nullptr, nullptr, nullptr); }

// The same rows as the delta, written with apply_delta's pragmas and statements
// but without the signature, the format reader, or the per-row existence check.
double bare_sqlite_apply(const fs::path& db_path, const std::vector<ListEntry>& delta) {
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) std::abort();
    auto t0 = std::chrono::steady_clock::now();
    exec(db, "PRAGMA journal_mode=DELETE; PRAGMA synchronous=FULL; PRAGMA cache_size=-4096;");
    if (exec(db, "BEGIN IMMEDIATE") != SQLITE_OK) std::abort();
    sqlite3_stmt* up = nullptr;
    sqlite3_stmt* del = nullptr;
    sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO entries (id, status, reason, since) VALUES (?, ?, ?, ?)", -1, &up, nullptr);
    sqlite3_prepare_v2(db, "DELETE FROM entries WHERE id = ?", -1, &del, nullptr);
    for (const auto& e : delta) {
        sqlite3_stmt* s = e.op == Op::remove ? del : up;
        sqlite3_bind_blob(s, 1, e.id.data(), 16, SQLITE_STATIC);
        if (e.op != Op::remove) {
            sqlite3_bind_int(s, 2, static_cast<int>(e.op));
            sqlite3_bind_int64(s, 3, e.reason);
            sqlite3_bind_int64(s, 4, e.since);
        }
        if (sqlite3_step(s) != SQLITE_DONE) std::abort();
        sqlite3_reset(s);
    }
    sqlite3_finalize(up);
    sqlite3_finalize(del);
    if (exec(db, "COMMIT") != SQLITE_OK) std::abort();
    const double t = secs_since(t0);
    sqlite3_close(db);
    return t;
}

void bench_delta(std::uint64_t n, std::uint64_t changes) {
    fs::path dir = fs::temp_directory_path() / ("cp-bench-sync-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    std::printf("\n[delta] %llu-change delta onto a %llu-entry list, databases in %s\n",
                static_cast<unsigned long long>(changes), static_cast<unsigned long long>(n), dir.c_str());
    auto key = crypto::PrivateKey::generate_p256();
    auto der = key->self_signed_certificate("bench list signer", 1'700'000'000, 3650);
    Bytes kid = crypto::kid_of(*der);
    crypto::TrustStore trust;
    trust.add(crypto::Certificate::parse(*der).value());

    ListHeader h;
    h.version = 1;
    h.created_at = 1'800'000'000;
    h.reasons = {"", "isolation", "close-contact"};
    std::vector<ListEntry> base;
    base.reserve(n);
    for (std::uint64_t i = 0; i < n; ++i) base.push_back(gen(i, n));
    auto t0 = std::chrono::steady_clock::now();
    const fs::path list = dir / "base.cpsl";
    if (!write_list_file(list.string(), h, base, *key, kid).ok()) std::abort();
    const fs::path db0 = dir / "base.db";
    {
        auto s = open_sqlite_status_list(db0.string());
        if (!s || !(*s)->import_file(list.string(), trust).ok()) std::abort();
    }
    std::printf("  %-46s %8.2f s\n", "set-up: write + import the base list", secs_since(t0));

    // The delta: every (n/changes)-th entry changes status; one in ten is removed.
    std::vector<ListEntry> delta;
    const std::uint64_t stride = std::max<std::uint64_t>(1, n / changes);
    for (std::uint64_t i = 0; i < n && delta.size() < changes; i += stride) {
        ListEntry e = base[i];
        e.op = delta.size() % 10 == 9 ? Op::remove : static_cast<Op>((static_cast<int>(e.op) + 1) % 3);
        e.reason = e.op == Op::green || e.op == Op::remove ? 0 : 1;
        e.since = 1'800'000'100;
        delta.push_back(e);
    }
    base.clear();
    base.shrink_to_fit();
    ListHeader dh = h;
    dh.kind = ListKind::delta;
    dh.version = 2;
    dh.base_version = 1;
    dh.created_at = 1'800'000'100;
    t0 = std::chrono::steady_clock::now();
    auto signed_delta = build_list(dh, delta, *key, kid);
    if (!signed_delta) std::abort();
    std::printf("  %-46s %8.2f s  (%.2f MB)\n", "build + sign the delta", secs_since(t0),
                static_cast<double>(signed_delta->size()) / 1e6);

    std::vector<double> applied, bare;
    for (int run = 0; run < 3; ++run) {
        const fs::path a = dir / "apply.db", b = dir / "bare.db";
        fs::copy_file(db0, a, fs::copy_options::overwrite_existing);
        fs::copy_file(db0, b, fs::copy_options::overwrite_existing);
        ::sync();
        {
            auto s = open_sqlite_status_list(a.string());
            if (!s) std::abort();
            t0 = std::chrono::steady_clock::now();
            auto r = (*s)->apply_delta(*signed_delta, trust);
            applied.push_back(secs_since(t0));
            if (!r || r->version != 2) {
                std::printf("apply_delta failed: %s\n", r ? "version" : r.error().describe().c_str());
                std::abort();
            }
        }
        bare.push_back(bare_sqlite_apply(b, delta));
    }
    std::sort(applied.begin(), applied.end());
    std::sort(bare.begin(), bare.end());
    std::printf("  %-46s %8.2f s  (median of 3; min %.2f, max %.2f)\n", "StatusList::apply_delta", applied[1],
                applied[0], applied[2]);
    std::printf("  %-46s %8.2f s  (median of 3; min %.2f, max %.2f)\n", "baseline: bare SQLite transaction, same rows",
                bare[1], bare[0], bare[2]);
    std::error_code ec;
    fs::remove_all(dir, ec);
}

void append_rows(journal::ScanJournal& j, const std::string& device, std::int64_t rows) {
    for (std::int64_t i = 0; i < rows; ++i) {
        journal::ScanRecord r;
        r.pass_id = "00112233445566778899aabbccddeeff";
        r.format = "cp1";
        r.kind = "R";
        r.verdict = i % 5 == 0 ? "RED" : "GREEN";
        r.reason = i % 5 == 0 ? "status-red" : "ok";
        r.temperature_c = 36.5;
        r.lane = "gate";
        r.device_id = device;
        if (!j.append(r).ok()) std::abort();
    }
}

std::unique_ptr<journal::ScanJournal> open_journal(const fs::path& p, const std::string& device) {
    journal::JournalOptions jo;
    jo.device_id = device;
    jo.disk_floor_bytes = 0;
    auto j = journal::ScanJournal::open(p.string(), jo);
    if (!j) std::abort();
    return std::move(*j);
}

void bench_upload(std::int64_t rows) {
    upstream::testing::Upstream up;
    up.enroll("gate-01");
    up.enroll("gate-02");
    const fs::path jdir = fs::exists("/dev/shm") ? fs::path("/dev/shm") / ("cp-bench-sync-" + std::to_string(::getpid()))
                                                 : up.tmp / "journals";
    fs::create_directories(jdir);
    std::printf("\n[upload] %lld rows per journal, journals in %s, upstream store in %s\n",
                static_cast<long long>(rows), jdir.c_str(), up.tmp.path().c_str());
    auto bare = open_journal(jdir / "bare.db", "gate-00");
    auto j1 = open_journal(jdir / "up1000.db", "gate-01");
    auto j2 = open_journal(jdir / "up200.db", "gate-02");
    auto t0 = std::chrono::steady_clock::now();
    append_rows(*bare, "gate-00", rows);
    append_rows(*j1, "gate-01", rows);
    append_rows(*j2, "gate-02", rows);
    std::printf("  %-46s %8.2f s\n", "set-up: journal 3 x rows", secs_since(t0));

    t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 100'000; ++i) {
        auto b = bare->next_batch(1000);
        if (!b) std::abort();
        if (b->empty()) break;
        if (!bare->mark_uploaded_through(b->back().seq)) std::abort();
    }
    const double tb = secs_since(t0);
    std::printf("  %-46s %8.0f rows/s  (%.2f s)\n", "baseline: bare journal read + mark, 1000/batch",
                static_cast<double>(rows) / tb, tb);

    for (auto [j, dev, batch] : {std::tuple{j1.get(), "gate-01", 1000}, std::tuple{j2.get(), "gate-02", 200}}) {
        sync::HttpsConfig h;
        h.base_url = "https://localhost:" + std::to_string(up.server->port());
        h.ca_path = up.path("fleet-ca.crt");
        h.cert_path = up.path(std::string("device-") + dev + ".crt");
        h.key_path = up.path(std::string("device-") + dev + ".key");
        auto http = sync::HttpsClient::create(h);
        if (!http) std::abort();
        auto list = open_sqlite_status_list((jdir / (std::string(dev) + "-status.db")).string());
        crypto::TrustStore none;
        sync::SyncConfig sc;
        sc.device_id = dev;
        sc.batch_rows = static_cast<std::size_t>(batch);
        sync::SyncClient client(sc, std::move(*http), *j, **list, none);
        t0 = std::chrono::steady_clock::now();
        std::int64_t sent = 0;
        for (int i = 0; i < 100'000; ++i) {
            auto r = client.upload_once();
            if (!r) {
                std::printf("upload failed: %s\n", r.error().describe().c_str());
                std::abort();
            }
            if (r->sent == 0) break;
            sent += static_cast<std::int64_t>(r->sent);
        }
        const double t = secs_since(t0);
        char label[64];
        std::snprintf(label, sizeof label, "SyncClient upload (mTLS, gzip), %d/batch", batch);
        std::printf("  %-46s %8.0f scans/s  (%.2f s, %lld sent)\n", label, static_cast<double>(sent) / t, t,
                    static_cast<long long>(sent));
    }
    std::printf("  upstream stored %lld scans\n", static_cast<long long>(up.store->scan_count().value()));
    std::error_code ec;
    fs::remove_all(jdir, ec);
}

}  // namespace

int main(int argc, char** argv) {
    std::uint64_t n = 1'000'000ULL, changes = 100'000ULL;
    std::int64_t rows = 50'000;
    CLI::App app{"list download and scan upload through the real upstream (docs/benchmarks.md)", "bench_sync"};
    cp::cli::configure(app);
    cp::cli::add_int(&app, "N", n, 1, 1'000'000'000'000LL, "list entries")->default_str("1000000");
    cp::cli::add_int(&app, "CHANGES", changes, 0, 1'000'000'000'000LL, "entries changed in the delta")
        ->default_str("100000");
    cp::cli::add_int(&app, "ROWS", rows, 1, 1'000'000'000LL, "journal rows uploaded")->default_str("50000");
    if (auto rc = cp::cli::parse(app, argc, argv)) return *rc;
    std::printf("sync benchmark (%ld cores online)\n", ::sysconf(_SC_NPROCESSORS_ONLN));
    bench_delta(n, changes);
    bench_upload(rows);
    return 0;
}
