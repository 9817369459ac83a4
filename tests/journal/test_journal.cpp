#include "src/journal/journal.hpp"
#include "tests/testing.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <set>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

using namespace cp::journal;
using cp::testing::TempDir;

namespace {

ScanRecord scan(const std::string& verdict = "GREEN", const std::string& reason = "ok") {
    ScanRecord r;
    r.pass_id = "00112233445566778899aabbccddeeff";
    r.format = "cp1";
    r.kind = "R";
    r.verdict = verdict;
    r.reason = reason;
    r.temperature_c = 36.6;
    r.lane = "gate";
    r.device_id = "dev-1";
    return r;
}

std::unique_ptr<ScanJournal> open_ok(const std::filesystem::path& p, JournalOptions o = {}) {
    o.disk_floor_bytes = 0;
    auto j = ScanJournal::open(p.string(), o);
    REQUIRE_MESSAGE(j.ok(), (j.ok() ? "" : j.error().describe()));
    return std::move(j.value());
}

}  // namespace

TEST_CASE("append assigns increasing sequence numbers that survive reopening") {
    TempDir dir;
    auto path = dir / "journal.db";
    {
        JournalOptions o;
        o.device_id = "gate-7";
        auto j = open_ok(path, o);
        auto a = j->append(scan());
        auto b = j->append(scan("RED", "fever"));
        REQUIRE(a.ok());
        REQUIRE(b.ok());
        CHECK(a->seq == 1);
        CHECK(b->seq == 2);
        // A new journal draws its epoch; scan ids carry it.
        CHECK(j->epoch() >= 1);
        CHECK(j->epoch() <= kMaxEpoch);
        CHECK(a->epoch == j->epoch());
        CHECK(a->scan_id == "gate-7-" + std::to_string(j->epoch()) + "-1");
        CHECK(a->wall_ms > 0);
        CHECK(a->mono_ms > 0);
    }
    JournalOptions o;
    o.device_id = "gate-7";
    auto j = open_ok(path, o);
    auto rows = j->tail(10);
    REQUIRE(rows.ok());
    REQUIRE(rows->size() == 2);
    CHECK((*rows)[1].verdict == "RED");
    CHECK((*rows)[1].reason == "fever");
    CHECK((*rows)[0].temperature_c == doctest::Approx(36.6));
    auto c = j->append(scan());
    REQUIRE(c.ok());
    CHECK(c->seq == 3);
}

TEST_CASE("records that could leak personal data or are malformed are refused, nothing written") {
    TempDir dir;
    auto j = open_ok(dir / "j.db");
    std::vector<ScanRecord> bad;
    auto r = scan(); r.pass_id = "张三 110101199001011234"; bad.push_back(r);
    r = scan(); r.pass_id = "00112233445566778899AABBCCDDEEFF"; bad.push_back(r);  // upper case: not canonical
    r = scan(); r.verdict = "BLUE"; bad.push_back(r);
    r = scan(); r.reason = ""; bad.push_back(r);
    r = scan(); r.lane = std::string(65, 'x'); bad.push_back(r);
    r = scan(); r.plate = "A\nB"; bad.push_back(r);
    r = scan(); r.temperature_c = std::numeric_limits<double>::quiet_NaN(); bad.push_back(r);
    r = scan(); r.type = RowType::manual; bad.push_back(r);  // manual without ref
    for (const auto& b : bad) {
        auto res = j->append(b);
        REQUIRE_FALSE(res.ok());
        CHECK(res.error().is(cp::journal::reason::record));
    }
    CHECK(j->stats()->rows == 0);
    auto unreadable = scan("YELLOW", "unreadable");
    unreadable.pass_id.clear();
    CHECK(j->append(unreadable).ok());
}

TEST_CASE("a guard's manual decision references the scan and carries its pass id") {
    TempDir dir;
    auto j = open_ok(dir / "j.db");
    auto s = j->append(scan("YELLOW", "not-in-list"));
    REQUIRE(s.ok());
    auto m = j->append_manual(s->seq, "GREEN", "guard-checked");
    REQUIRE(m.ok());
    CHECK(m->type == RowType::manual);
    CHECK(m->ref_seq == s->seq);
    CHECK(m->pass_id == s->pass_id);
    CHECK(m->seq == s->seq + 1);
    auto missing = j->append_manual(999, "GREEN", "x");
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error().is(cp::journal::reason::ref));
    CHECK_FALSE(j->append_manual(m->seq, "GREEN", "x").ok());  // a manual row is not a scan
}

TEST_CASE("next_batch and mark_uploaded") {
    TempDir dir;
    auto j = open_ok(dir / "j.db");
    for (int i = 0; i < 10; ++i) REQUIRE(j->append(scan()).ok());
    auto b = j->next_batch(4);
    REQUIRE(b.ok());
    REQUIRE(b->size() == 4);
    CHECK((*b)[0].seq == 1);
    CHECK((*b)[3].seq == 4);
    CHECK(*j->mark_uploaded_through(4) == 4);
    CHECK(*j->mark_uploaded_through(4) == 0);
    b = j->next_batch(100);
    REQUIRE(b->size() == 6);
    CHECK((*b)[0].seq == 5);
    CHECK(*j->mark_uploaded({6, 8, 8, 42}) == 2);
    b = j->next_batch(100);
    std::vector<std::int64_t> seqs;
    for (auto& r : *b) seqs.push_back(r.seq);
    CHECK(seqs == std::vector<std::int64_t>{5, 7, 9, 10});
    CHECK(j->stats()->pending == 4);
}

TEST_CASE("pruning removes uploaded rows oldest first and never a pending row") {
    TempDir dir;
    JournalOptions o;
    o.max_rows = 20;
    auto j = open_ok(dir / "j.db", o);
    for (int i = 0; i < 15; ++i) REQUIRE(j->append(scan()).ok());
    REQUIRE(*j->mark_uploaded_through(10) == 10);
    for (int i = 0; i < 15; ++i) REQUIRE(j->append(scan()).ok());
    auto st = j->stats();
    CHECK(st->rows <= 20);
    CHECK(st->pending == 20);  // 5 + 15 pending rows all kept
    auto rows = j->tail(1000);
    REQUIRE(rows.ok());
    std::set<std::int64_t> present;
    for (auto& r : *rows) present.insert(r.seq);
    for (std::int64_t s = 11; s <= 30; ++s) CHECK(present.count(s) == 1);
    CHECK(present.count(1) == 0);  // oldest uploaded went first

    // Nothing uploaded: the journal grows past max_rows rather than lose a scan.
    for (int i = 0; i < 30; ++i) REQUIRE(j->append(scan()).ok());
    CHECK(j->stats()->pending == 50);
}

TEST_CASE("with prune_in_append off, append never deletes and prune() works in bounded steps") {
    TempDir dir;
    JournalOptions o;
    o.max_rows = 1000;  // the smallest the configuration allows
    o.prune_in_append = false;
    auto j = open_ok(dir / "j.db", o);
    for (int i = 0; i < 1100; ++i) REQUIRE(j->append(scan()).ok());
    REQUIRE(*j->mark_uploaded_through(1050) == 1050);
    for (int i = 0; i < 10; ++i) REQUIRE(j->append(scan()).ok());
    CHECK(j->stats()->rows == 1110);  // over max_rows, but no append deleted anything
    // Down to 90 % of max_rows = 900 rows: 210 to delete, 100 per call.
    REQUIRE(j->prune(100).ok());
    CHECK(j->stats()->rows == 1010);
    REQUIRE(j->prune(100).ok());
    CHECK(j->stats()->rows == 910);
    REQUIRE(j->prune(100).ok());
    CHECK(j->stats()->rows == 910);  // within max_rows again: nothing to do
    auto rows = j->tail(2000);
    REQUIRE(rows.ok());
    CHECK(rows->front().seq == 201);  // oldest uploaded went first
    CHECK(j->stats()->pending == 60);
}

TEST_CASE("sequence numbers are never reused, even after every row was pruned") {
    TempDir dir;
    JournalOptions o;
    o.max_rows = 2;
    {
        auto j = open_ok(dir / "j.db", o);
        for (int i = 0; i < 5; ++i) {
            REQUIRE(j->append(scan()).ok());
            REQUIRE(j->mark_uploaded_through(1000).ok());
        }
        for (int i = 0; i < 3; ++i) {
            REQUIRE(j->append(scan()).ok());
            REQUIRE(j->mark_uploaded_through(1000).ok());
        }
    }
    auto j = open_ok(dir / "j.db", o);
    auto r = j->append(scan());
    REQUIRE(r.ok());
    CHECK(r->seq == 9);
}

TEST_CASE("below the disk floor append fails with disk-full and writes nothing") {
    TempDir dir;
    JournalOptions o;
    o.disk_floor_bytes = std::int64_t{1} << 60;  // more than any disk has free
    auto j = ScanJournal::open((dir / "j.db").string(), o);
    REQUIRE(j.ok());
    auto r = (*j)->append(scan());
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().is(cp::journal::reason::disk_full));
    CHECK(r.error().kind == cp::ErrorKind::io);
    CHECK((*j)->stats()->rows == 0);
}

TEST_CASE("a journal that is not a database, or is damaged, is refused on open") {
    TempDir dir;
    cp::testing::write_file(dir / "garbage.db", std::string(8192, 'x'));
    auto g = ScanJournal::open((dir / "garbage.db").string());
    REQUIRE_FALSE(g.ok());
    CHECK(g.error().is(cp::journal::reason::corrupt));

    auto path = dir / "j.db";
    {
        auto j = open_ok(path);
        for (int i = 0; i < 500; ++i) REQUIRE(j->append(scan()).ok());
    }
    // Checkpoint the WAL into the main file, then damage a table page.
    {
        auto j = open_ok(path);
    }
    auto size = std::filesystem::file_size(path);
    REQUIRE(size > 4 * 4096);
    {
        std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(3 * 4096);
        std::string junk(2 * 4096, '\xa5');  // two whole b-tree pages
        f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
    }
    std::filesystem::remove(path.string() + "-wal");
    JournalOptions o;
    o.integrity = IntegrityCheck::full;
    auto r = ScanJournal::open(path.string(), o);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().is(cp::journal::reason::corrupt));
}

TEST_CASE("a row append() returned survives the process being killed") {
    TempDir dir;
    auto path = dir / "j.db";
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::close(fds[0]);
        JournalOptions o;
        o.disk_floor_bytes = 0;
        auto j = ScanJournal::open(path.string(), o);
        if (!j.ok()) ::_exit(3);
        for (;;) {
            auto r = (*j)->append(scan());
            if (!r.ok()) ::_exit(4);
            std::int64_t seq = r->seq;
            if (::write(fds[1], &seq, sizeof seq) != sizeof seq) ::_exit(5);
        }
    }
    ::close(fds[1]);
    std::int64_t last = 0, seq = 0;
    while (last < 50 && ::read(fds[0], &seq, sizeof seq) == sizeof seq) last = seq;
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    while (::read(fds[0], &seq, sizeof seq) == sizeof seq) last = seq;  // reports sent before the kill
    ::close(fds[0]);
    REQUIRE(last >= 50);

    auto j = open_ok(path);
    auto rows = j->tail(100000);
    REQUIRE(rows.ok());
    REQUIRE(!rows->empty());
    CHECK(rows->back().seq >= last);
    for (std::size_t i = 0; i < rows->size(); ++i) CHECK((*rows)[i].seq == static_cast<std::int64_t>(i + 1));
}

TEST_CASE("concurrent appends and uploads keep the sequence gapless") {
    TempDir dir;
    auto j = open_ok(dir / "j.db");
    auto writer = [&] {
        for (int i = 0; i < 100; ++i) REQUIRE(j->append(scan()).ok());
    };
    std::thread a(writer), b(writer);
    std::thread sync([&] {
        for (int i = 0; i < 50; ++i) {
            auto batch = j->next_batch(10);
            REQUIRE(batch.ok());
            if (!batch->empty()) REQUIRE(j->mark_uploaded_through(batch->back().seq).ok());
        }
    });
    a.join();
    b.join();
    sync.join();
    auto rows = j->tail(1000);
    REQUIRE(rows->size() == 200);
    for (std::size_t i = 0; i < rows->size(); ++i) CHECK((*rows)[i].seq == static_cast<std::int64_t>(i + 1));
}

TEST_CASE("JSON lines carry ids and codes only") {
    auto r = scan("RED", "fever");
    r.seq = 7;
    r.scan_id = "dev-1-7";
    r.wall_ms = 1'800'000'000'000;
    auto j = nlohmann::json::parse(to_json(r));
    CHECK(j["seq"] == 7);
    CHECK(j["pass_id"] == "00112233445566778899aabbccddeeff");
    CHECK(j["verdict"] == "RED");
    CHECK(j["temperature_c"].get<double>() == doctest::Approx(36.6));
    CHECK(j["time"] == "2027-01-15T08:00:00Z");
    CHECK_FALSE(j.contains("name"));
}

namespace {

// Runs one SQL statement on a journal file with a connection of its own.
void raw_sql(const std::filesystem::path& p, const std::string& sql) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(p.string().c_str(), &db) == SQLITE_OK);
    char* msg = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &msg);
    const std::string m = msg ? msg : "";
    sqlite3_free(msg);
    sqlite3_close(db);
    REQUIRE_MESSAGE(rc == SQLITE_OK, m);
}

std::int64_t raw_int(const std::filesystem::path& p, const std::string& sql) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(p.string().c_str(), &db) == SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(st) == SQLITE_ROW);
    const std::int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

// Overwrites page `page` (1-based) of a closed, checkpointed database with junk.
void damage_page(const std::filesystem::path& p, std::int64_t page) {
    std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp((page - 1) * 4096);
    std::string junk(4096, '\xa5');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
}

}  // namespace

TEST_CASE("epochs: a new journal draws one and keeps it; a journal from before epochs keeps epoch 0 and its old ids") {
    TempDir dir;
    JournalOptions o;
    o.device_id = "gate-7";
    std::int64_t first = 0;
    {
        auto j = open_ok(dir / "a.db", o);
        first = j->epoch();
        REQUIRE(j->append(scan()).ok());
    }
    {
        auto j = open_ok(dir / "a.db", o);
        CHECK(j->epoch() == first);
        auto r = j->append(scan());
        REQUIRE(r.ok());
        CHECK(r->scan_id == "gate-7-" + std::to_string(first) + "-2");
    }
    // Two journals started fresh (a reset) never share an epoch, so never a scan id.
    CHECK(open_ok(dir / "b.db", o)->epoch() != first);

    // A journal written before epochs existed has no epoch row: it stays epoch 0,
    // and its scan ids keep the form the command centre already holds.
    {
        auto j = open_ok(dir / "old.db", o);
        REQUIRE(j->append(scan()).ok());
    }
    raw_sql(dir / "old.db", "DROP TABLE meta; DROP TABLE carried;");
    auto j = open_ok(dir / "old.db", o);
    CHECK(j->epoch() == 0);
    auto r = j->append(scan());
    REQUIRE(r.ok());
    CHECK(r->seq == 2);
    CHECK(r->scan_id == "gate-7-2");
}

TEST_CASE("carried rows of a moved-aside journal are uploaded first, under their own epoch and ids") {
    TempDir dir;
    JournalOptions o;
    o.device_id = "gate-7";
    std::int64_t old_epoch = 0;
    {
        auto old = open_ok(dir / "old.db", o);
        old_epoch = old->epoch();
        for (int i = 0; i < 5; ++i) REQUIRE(old->append(scan(i == 3 ? "RED" : "GREEN", i == 3 ? "fever" : "ok")).ok());
        REQUIRE(old->mark_uploaded_through(2).ok());
    }
    Salvage sv = salvage_pending((dir / "old.db").string());
    CHECK(sv.epoch == old_epoch);
    CHECK(sv.lost.rows == 0);
    CHECK(sv.lost.journals == 0);
    REQUIRE(sv.rows.size() == 3);
    CHECK(sv.rows[0].seq == 3);
    CHECK(sv.rows[1].reason == "fever");
    CHECK(sv.rows[2].scan_id == "gate-7-" + std::to_string(old_epoch) + "-5");

    auto j = open_ok(dir / "new.db", o);
    REQUIRE(j->append(scan()).ok());
    REQUIRE(j->carry(sv.rows, sv.lost).ok());
    REQUIRE(j->carry(sv.rows, {2, 1}).ok());  // carried twice (a restart): stored once, losses add up
    CHECK(j->stats()->pending == 4);
    auto batch = j->next_batch(100);
    REQUIRE(batch.ok());
    REQUIRE(batch->size() == 3);  // one epoch per batch: the carried rows first
    for (const auto& r : *batch) CHECK(r.epoch == old_epoch);
    CHECK((*batch)[1].reason == "fever");
    REQUIRE(j->mark_carried_uploaded(old_epoch, {3, 4, 5}).value() == 3);
    batch = j->next_batch(100);
    REQUIRE(batch->size() == 1);
    CHECK((*batch)[0].epoch == j->epoch());
    CHECK((*batch)[0].seq == 1);
    CHECK(j->losses()->rows == 2);
    CHECK(j->losses()->journals == 1);
    // A carried row of the journal's own epoch could shadow one of its rows: refused.
    ScanRecord own = sv.rows[0];
    own.epoch = j->epoch();
    CHECK(j->carry({own}, {}).error().is(cp::journal::reason::record));
}

TEST_CASE("salvage: a damaged pending index still yields every pending row; an unreadable file is a counted loss") {
    TempDir dir;
    auto path = dir / "j.db";
    {
        auto j = open_ok(path);
        for (int i = 0; i < 600; ++i) REQUIRE(j->append(scan()).ok());
        REQUIRE(j->mark_uploaded_through(100).ok());
    }
    const std::int64_t root = raw_int(path, "SELECT rootpage FROM sqlite_master WHERE name = 'scans_pending'");
    damage_page(path, root);
    auto r = ScanJournal::open(path.string());
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().is(cp::journal::reason::corrupt));  // the daemon moves it aside
    Salvage sv = salvage_pending(path.string());
    CHECK(sv.rows.size() == 500);
    CHECK(sv.lost.rows == 0);
    CHECK(sv.lost.journals == 0);

    // A damaged table page: what is before it is read, the rest is a counted loss.
    auto p2 = dir / "j2.db";
    {
        auto j = open_ok(p2);
        for (int i = 0; i < 600; ++i) REQUIRE(j->append(scan()).ok());
    }
    damage_page(p2, raw_int(p2, "SELECT rootpage FROM sqlite_master WHERE name = 'scans'"));
    Salvage part = salvage_pending(p2.string());
    CHECK(part.lost.journals == 1);
    CHECK(part.rows.size() < 600);

    cp::testing::write_file(dir / "garbage.db", std::string(8192, 'x'));
    Salvage none = salvage_pending((dir / "garbage.db").string());
    CHECK(none.rows.empty());
    CHECK(none.lost.journals == 1);
    Salvage missing = salvage_pending((dir / "missing.db").string());
    CHECK(missing.rows.empty());
    CHECK(missing.lost.journals == 1);
}
