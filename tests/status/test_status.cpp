#include "src/status/store.hpp"
#include "tests/status/status_fixture.hpp"
#include "tests/testing.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <thread>

using namespace cp;
using namespace cp::status;
using cp::status::testing::entry;
using cp::status::testing::id_of;
using cp::status::testing::Signer;
using cp::testing::TempDir;

namespace {

std::unique_ptr<StatusList> open_store(const std::filesystem::path& p) {
    auto s = open_sqlite_status_list(p.string());
    REQUIRE_MESSAGE(s.ok(), (s.ok() ? "" : s.error().describe()));
    return std::move(s).value();
}

std::vector<ListEntry> three() {
    return {entry(1, Op::green), entry(2, Op::yellow, 2), entry(3, Op::red, 1, 1'795'000'000)};
}

std::string file_bytes(const std::filesystem::path& p) { return cp::testing::read_file(p); }

}  // namespace

TEST_CASE("no list installed: every lookup is absent and info is empty") {
    TempDir dir;
    auto store = open_store(dir / "status.db");
    CHECK_FALSE(store->info().has_value());
    auto r = store->lookup(id_of(1));
    REQUIRE(r.ok());
    CHECK_FALSE(r->has_value());
}

TEST_CASE("import, lookup and metadata") {
    TempDir dir;
    auto s = Signer::make();
    auto store = open_store(dir / "status.db");
    auto info = store->import_bytes(s.list(1, three()), s.trust, {1'800'000'100});
    REQUIRE_MESSAGE(info.ok(), (info.ok() ? "" : info.error().describe()));
    CHECK(info->version == 1);
    CHECK(info->created_at == 1'800'000'000);
    CHECK(info->imported_at == 1'800'000'100);
    CHECK(info->entries == 3);
    CHECK(info->signer_kid == to_hex(s.kid));
    CHECK(info->signer_kid.size() == 16);

    auto g = store->lookup(id_of(1));
    REQUIRE(g.ok());
    REQUIRE(g->has_value());
    CHECK((*g)->status == PassStatus::green);
    auto y = store->lookup(id_of(2));
    CHECK((*y)->status == PassStatus::yellow);
    CHECK((*y)->reason == "close-contact");
    auto r = store->lookup(id_of(3));
    CHECK((*r)->status == PassStatus::red);
    CHECK((*r)->reason == "isolation");
    CHECK((*r)->since == 1'795'000'000);
    CHECK_FALSE(store->lookup(id_of(4))->has_value());

    // Persisted: a new instance answers the same.
    auto again = open_store(dir / "status.db");
    CHECK(again->info()->version == 1);
    CHECK((*again->lookup(id_of(3)))->status == PassStatus::red);
}

TEST_CASE("a streamed file import of many entries") {
    TempDir dir;
    auto s = Signer::make();
    std::vector<ListEntry> many;
    for (std::uint64_t i = 0; i < 20000; ++i) many.push_back(entry(i, static_cast<Op>(i % 3), static_cast<std::uint8_t>(i % 3)));
    std::sort(many.begin(), many.end(), [](auto& a, auto& b) { return a.id < b.id; });
    ListHeader h;
    h.version = 9;
    h.created_at = 1'800'000'000;
    h.reasons = {"", "isolation", "close-contact"};
    REQUIRE(write_list_file((dir / "list.cpsl").string(), h, many, s.key, s.kid).ok());
    auto store = open_store(dir / "status.db");
    auto info = store->import_file((dir / "list.cpsl").string(), s.trust);
    REQUIRE_MESSAGE(info.ok(), (info.ok() ? "" : info.error().describe()));
    CHECK(info->entries == 20000);
    for (std::uint64_t i : {0ULL, 1ULL, 2ULL, 12345ULL, 19999ULL}) {
        auto e = store->lookup(id_of(i));
        REQUIRE(e->has_value());
        CHECK(static_cast<int>((*e)->status) == static_cast<int>(i % 3));
    }
    CHECK_FALSE(store->lookup(id_of(20000))->has_value());
    CHECK_FALSE(std::filesystem::exists(dir / "status.db.new"));
}

TEST_CASE("a refused list leaves the active one byte-identical and answering") {
    TempDir dir;
    auto s = Signer::make();
    auto other = Signer::make("Not the command centre");
    auto db = dir / "status.db";
    auto store = open_store(db);
    REQUIRE(store->import_bytes(s.list(5, three()), s.trust).ok());
    const std::string before = file_bytes(db);

    std::vector<ListEntry> v6 = {entry(1, Op::red), entry(9, Op::green)};
    Bytes good6 = s.list(6, v6);
    Bytes tampered = good6;
    tampered[tampered.size() - kRecordSize + 16] = static_cast<std::uint8_t>(Op::yellow);  // neither entry is yellow
    Bytes truncated(good6.begin(), good6.end() - 3);
    Bytes badsig = good6;
    badsig[good6.size() - 2 * kRecordSize - 3] ^= 0x40;

    struct Case { const char* name; Bytes bytes; const char* reason; };
    std::vector<Case> cases = {
        {"unsigned garbage", Bytes(300, 0x42), "list-format"},
        {"other signer", other.list(6, v6), "unknown-key"},
        {"bad signature", badsig, "signature"},
        {"tampered entry", tampered, "list-digest"},
        {"truncated", truncated, "list-format"},
        {"older version", s.list(4, v6), "list-version"},
        {"equal version", s.list(5, v6), "list-version"},
        {"a delta", s.delta(5, 6, v6), "list-kind"},
    };
    for (const auto& c : cases) {
        std::string name = c.name;
        CAPTURE(name);
        auto r = store->import_bytes(c.bytes, s.trust);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().reason == c.reason);
        CHECK(file_bytes(db) == before);
        CHECK(store->info()->version == 5);
        CHECK((*store->lookup(id_of(1)))->status == PassStatus::green);
        CHECK_FALSE(std::filesystem::exists(dir / "status.db.new"));
    }
    auto missing = store->import_file((dir / "nope.cpsl").string(), s.trust);
    REQUIRE_FALSE(missing.ok());
    CHECK(file_bytes(db) == before);

    // The newer, intact list is accepted and replaces the old one completely.
    REQUIRE(store->import_bytes(good6, s.trust).ok());
    CHECK((*store->lookup(id_of(1)))->status == PassStatus::red);
    CHECK_FALSE(store->lookup(id_of(2))->has_value());
    CHECK((*store->lookup(id_of(9)))->status == PassStatus::green);
}

TEST_CASE("deltas apply atomically on top of exactly their base") {
    TempDir dir;
    auto s = Signer::make();
    auto db = dir / "status.db";
    auto store = open_store(db);
    CHECK(store->apply_delta(s.delta(1, 2, {entry(1, Op::red)}), s.trust).error().is(cp::status::reason::list_base));
    REQUIRE(store->import_bytes(s.list(1, three()), s.trust).ok());

    // 1 → red (new reason text), 2 → removed, 7 → added yellow, 3 red → green "released".
    Bytes d12 = s.delta(1, 2, {entry(1, Op::red, 1), entry(2, Op::remove), entry(7, Op::yellow), entry(3, Op::green, 2)},
                        {"", "isolation", "released"});
    const std::string before = file_bytes(db);
    Bytes bad = d12;
    bad[bad.size() - 1] ^= 1;
    auto r = store->apply_delta(bad, s.trust);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().is(cp::status::reason::list_digest));
    CHECK(file_bytes(db) == before);
    CHECK(store->info()->version == 1);
    CHECK((*store->lookup(id_of(1)))->status == PassStatus::green);

    CHECK(store->apply_delta(s.list(2, three()), s.trust).error().is(cp::status::reason::list_kind));
    CHECK(store->apply_delta(s.delta(3, 4, {}), s.trust).error().is(cp::status::reason::list_base));

    auto info = store->apply_delta(d12, s.trust, {1'800'000'500});
    REQUIRE_MESSAGE(info.ok(), (info.ok() ? "" : info.error().describe()));
    CHECK(info->version == 2);
    CHECK(info->entries == 3);  // 3 - 1 removed + 1 added
    CHECK(info->created_at == 1'800'000'002);
    CHECK(store->info()->version == 2);
    CHECK((*store->lookup(id_of(1)))->status == PassStatus::red);
    CHECK((*store->lookup(id_of(1)))->reason == "isolation");
    CHECK_FALSE(store->lookup(id_of(2))->has_value());
    CHECK((*store->lookup(id_of(7)))->status == PassStatus::yellow);
    CHECK((*store->lookup(id_of(3)))->status == PassStatus::green);
    CHECK((*store->lookup(id_of(3)))->reason == "released");

    // Replaying the same delta is refused (the active version moved on).
    auto replay = store->apply_delta(d12, s.trust);
    REQUIRE_FALSE(replay.ok());
    CHECK(replay.error().is(cp::status::reason::list_version));
}

TEST_CASE("another instance keeps its list until it reloads, then switches whole") {
    TempDir dir;
    auto s = Signer::make();
    auto db = dir / "status.db";
    auto daemon = open_store(db);
    auto cli = open_store(db);
    REQUIRE(cli->import_bytes(s.list(1, three()), s.trust).ok());
    CHECK_FALSE(daemon->info().has_value());
    CHECK(*daemon->reload_if_changed());
    CHECK(daemon->info()->version == 1);
    CHECK_FALSE(*daemon->reload_if_changed());

    REQUIRE(cli->import_bytes(s.list(2, {entry(1, Op::red), entry(2, Op::red)}), s.trust).ok());
    // Before reloading, the daemon still answers from version 1 in full.
    CHECK((*daemon->lookup(id_of(1)))->status == PassStatus::green);
    CHECK((*daemon->lookup(id_of(3)))->status == PassStatus::red);
    CHECK(*daemon->reload_if_changed());
    CHECK((*daemon->lookup(id_of(1)))->status == PassStatus::red);
    CHECK_FALSE(daemon->lookup(id_of(3))->has_value());
}

TEST_CASE("lookups during an import see the old list or the new one, never a mix") {
    TempDir dir;
    auto s = Signer::make();
    auto store = open_store(dir / "status.db");
    // v1: ids 0..N-1 all green; v2: all red. A lookup pair (a, b) taken together
    // must never straddle, and once red is seen, green never comes back.
    const std::uint64_t n = 5000;
    std::vector<ListEntry> v1, v2;
    for (std::uint64_t i = 0; i < n; ++i) {
        v1.push_back(entry(i, Op::green));
        v2.push_back(entry(i, Op::red));
    }
    REQUIRE(store->import_bytes(s.list(1, v1), s.trust).ok());
    Bytes b2 = s.list(2, v2);
    std::atomic<bool> stop{false};
    std::atomic<int> bad{0}, seen_new{0};
    std::thread reader([&] {
        bool red_seen = false;
        std::uint64_t i = 0;
        while (!stop.load()) {
            auto e = store->lookup(id_of(i++ % n));
            if (!e.ok() || !e->has_value()) { ++bad; continue; }
            bool red = (*e)->status == PassStatus::red;
            if (red_seen && !red) ++bad;
            if (red) { red_seen = true; ++seen_new; }
        }
    });
    auto r = store->import_bytes(b2, s.trust);
    stop = true;
    reader.join();
    REQUIRE(r.ok());
    CHECK(bad.load() == 0);
    CHECK((*store->lookup(id_of(0)))->status == PassStatus::red);
}

TEST_CASE("a damaged status database means no list, and a good import replaces it") {
    TempDir dir;
    auto s = Signer::make();
    auto db = dir / "status.db";
    cp::testing::write_file(db, std::string(4096, 'z'));
    auto store = open_store(db);
    CHECK_FALSE(store->info().has_value());
    CHECK_FALSE(store->lookup(id_of(1))->has_value());
    auto r = store->import_bytes(s.list(1, three()), s.trust);
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().describe()));
    CHECK((*store->lookup(id_of(3)))->status == PassStatus::red);
}
