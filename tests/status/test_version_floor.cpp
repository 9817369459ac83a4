// The version floor (src/status/version_floor.hpp): an older signed status list
// or trust list never replaces a newer one, also after the database or the trust
// envelope is lost; the technician override; versions bounded below 2^53.
#include "src/status/store.hpp"
#include "src/status/version_floor.hpp"
#include "src/sync/sync_worker.hpp"
#include "tests/status/status_fixture.hpp"
#include "tests/testing.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <limits>

using namespace cp;
using namespace cp::status;
using cp::status::testing::entry;
using cp::status::testing::id_of;
using cp::status::testing::Signer;
using cp::testing::TempDir;

namespace {

std::vector<ListEntry> one(Op op) { return {entry(1, op)}; }

Result<ListInfo> import_into(const std::filesystem::path& db, const Bytes& list, const Signer& s,
                             ImportOptions o = {}) {
    auto store = open_sqlite_status_list(db.string());
    REQUIRE_MESSAGE(store.ok(), (store.ok() ? "" : store.error().describe()));
    return (*store)->import_bytes(list, s.trust, o);
}

std::string reason_of(const Result<ListInfo>& r) { return r.ok() ? "installed" : r.error().reason; }

}  // namespace

TEST_CASE("a missing, emptied or corrupt status database does not let an older list in") {
    TempDir dir;
    auto s = Signer::make();
    const auto db = dir / "status.db";
    REQUIRE(import_into(db, s.list(5, one(Op::red)), s).ok());
    CHECK(read_version_floor(list_floor_path(db.string())).value() == 5);

    // Deleted: the old list (GREEN for a pass that is RED now) stays out.
    std::filesystem::remove(db);
    CHECK(reason_of(import_into(db, s.list(3, one(Op::green)), s)) == "list-version");
    // Emptied.
    cp::testing::write_file(db, "");
    CHECK(reason_of(import_into(db, s.list(3, one(Op::green)), s)) == "list-version");
    // Corrupt.
    cp::testing::write_file(db, std::string(4096, 'z'));
    CHECK(reason_of(import_into(db, s.list(4, one(Op::green)), s)) == "list-version");
    // The same version installs again (recovery from the loss); newer ones too.
    CHECK(reason_of(import_into(db, s.list(5, one(Op::red)), s)) == "installed");
    CHECK(reason_of(import_into(db, s.list(6, one(Op::red)), s)) == "installed");
    CHECK(read_version_floor(list_floor_path(db.string())).value() == 6);
}

TEST_CASE("an old database copied back cannot take a delta or a full list below the floor") {
    TempDir dir;
    auto s = Signer::make();
    const auto db = dir / "status.db";
    REQUIRE(import_into(db, s.list(5, one(Op::green)), s).ok());
    std::filesystem::copy_file(db, dir / "old.db");
    REQUIRE(import_into(db, s.list(8, one(Op::red)), s).ok());
    std::filesystem::remove(db);
    std::filesystem::copy_file(dir / "old.db", db);
    auto store = open_sqlite_status_list(db.string());
    REQUIRE(store.ok());
    auto d = (*store)->apply_delta(s.delta(5, 6, {entry(2, Op::green)}), s.trust);
    REQUIRE_FALSE(d.ok());
    CHECK(d.error().is(cp::status::reason::list_version));
    CHECK(reason_of((*store)->import_bytes(s.list(7, one(Op::green)), s.trust)) == "list-version");
    // A delta at or above the floor applies and raises it.
    auto d2 = (*store)->apply_delta(s.delta(5, 9, {entry(2, Op::green)}), s.trust);
    REQUIRE_MESSAGE(d2.ok(), (d2.ok() ? "" : d2.error().describe()));
    CHECK(read_version_floor(list_floor_path(db.string())).value() == 9);
}

TEST_CASE("the technician override installs an older list and lowers the floor") {
    TempDir dir;
    auto s = Signer::make();
    const auto db = dir / "status.db";
    REQUIRE(import_into(db, s.list(7, one(Op::red)), s).ok());
    CHECK(reason_of(import_into(db, s.list(2, one(Op::green)), s)) == "list-version");
    ImportOptions reset;
    reset.reset_version_floor = true;
    // The override does not bypass the signature.
    auto other = Signer::make("another signer");
    CHECK(reason_of(import_into(db, other.list(2, one(Op::green)), s, reset)) == "unknown-key");
    CHECK(read_version_floor(list_floor_path(db.string())).value() == 7);
    CHECK(reason_of(import_into(db, s.list(2, one(Op::green)), s, reset)) == "installed");
    CHECK(read_version_floor(list_floor_path(db.string())).value() == 2);
    CHECK(reason_of(import_into(db, s.list(3, one(Op::green)), s)) == "installed");
}

TEST_CASE("an unreadable floor file fails closed until reset") {
    TempDir dir;
    auto s = Signer::make();
    const auto db = dir / "status.db";
    const std::vector<std::string> bad_floors = {"", "12", "x\n", "-1\n", "99999999999999999999\n",
                                                 std::string(100, '1') + "\n"};
    for (const auto& bad : bad_floors) {
        cp::testing::write_file(list_floor_path(db.string()), bad);
        CHECK(reason_of(import_into(db, s.list(9, one(Op::green)), s)) == "version-floor");
    }
    REQUIRE(reset_version_floor(list_floor_path(db.string()), 0, "test").ok());
    CHECK_FALSE(std::filesystem::exists(list_floor_path(db.string())));
    CHECK(reason_of(import_into(db, s.list(9, one(Op::green)), s)) == "installed");
}

TEST_CASE("list versions are bounded below 2^53: INT64_MAX is invalid input, not a floor") {
    ListHeader h;
    h.created_at = 10;
    h.reasons = {""};
    h.version = kMaxListVersion;
    auto ok = decode_header(encode_header(h));
    REQUIRE(ok.ok());
    CHECK(ok->version == kMaxListVersion);
    for (std::int64_t v : {kMaxListVersion + 1, std::numeric_limits<std::int64_t>::max()}) {
        h.version = v;
        auto r = decode_header(encode_header(h));
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().is(cp::status::reason::list_format));
    }
    // A validly signed list numbered INT64_MAX is refused by the store and sets no floor.
    TempDir dir;
    auto s = Signer::make();
    const auto db = dir / "status.db";
    h.version = std::numeric_limits<std::int64_t>::max();
    h.entry_count = 0;
    EntriesDigest empty;
    h.entries_sha256 = empty.finish();
    auto prefix = signed_prefix(h, s.key, s.kid);
    REQUIRE(prefix.ok());
    CHECK(reason_of(import_into(db, *prefix, s)) == "list-format");
    CHECK(read_version_floor(list_floor_path(db.string())).value() == 0);
    CHECK(reason_of(import_into(db, s.list(1, one(Op::green)), s)) == "installed");
    // The writer refuses to sign one.
    CHECK_FALSE(build_list(h, {}, s.key, s.kid).ok());
}

TEST_CASE("a deleted trust envelope does not let an older trust list in") {
    TempDir dir;
    const std::string trust = (dir / "trust").string();
    sync::TrustList t;
    t.version = 5;
    t.envelope = "{\"v\":5}";
    REQUIRE(sync::SyncWorker::install_trust_list(trust, t).ok());
    std::filesystem::remove(std::filesystem::path(trust) / "upstream-trust.json");
    t.version = 4;
    t.envelope = "{\"v\":4}";
    auto older = sync::SyncWorker::install_trust_list(trust, t);
    REQUIRE_FALSE(older.ok());
    CHECK(older.error().reason == "trust-version");
    CHECK_FALSE(std::filesystem::exists(std::filesystem::path(trust) / "upstream-trust.json"));
    // The same version again (recovery), then newer.
    t.version = 5;
    REQUIRE(sync::SyncWorker::install_trust_list(trust, t).ok());
    t.version = 6;
    REQUIRE(sync::SyncWorker::install_trust_list(trust, t).ok());
    CHECK(read_version_floor(trust_floor_path(trust)).value() == 6);
    // Versions above 2^53 - 1 are invalid input and leave the floor alone.
    t.version = std::numeric_limits<std::int64_t>::max();
    auto huge = sync::SyncWorker::install_trust_list(trust, t);
    REQUIRE_FALSE(huge.ok());
    CHECK(huge.error().reason == "trust-format");
    CHECK(read_version_floor(trust_floor_path(trust)).value() == 6);
    // The override for a re-provision.
    REQUIRE(reset_version_floor(trust_floor_path(trust), 0, "test re-provision").ok());
    t.version = 1;
    CHECK(sync::SyncWorker::install_trust_list(trust, t).ok());
}
