// Journal epochs between the device and the reference upstream (real store, real
// server on 127.0.0.1): a journal started again at seq 1 is a new epoch, so its
// rows are stored, not taken for duplicates; rows carried over from a journal
// moved aside are stored under their own epoch even with gaps; losses reach the
// heartbeat; the store calls a row a duplicate only when the content matches and
// keeps and counts a conflict; a store from before epochs is migrated in place.
#include "tests/sync/sync_fixture.hpp"

#include <doctest/doctest.h>

#include <httplib.h>
#include <nlohmann/json.hpp>
#include <sqlite3.h>

using namespace cp;
using namespace cp::sync;
using namespace cp::sync::testing;

namespace {

SyncClient client_for(const Upstream& up, journal::ScanJournal& j, Device& dev, int port = 0) {
    auto http = HttpsClient::create(https_for(up, port));
    REQUIRE(http.ok());
    SyncConfig sc;
    sc.device_id = "gate-01";
    sc.gzip = false;
    return SyncClient(sc, std::move(*http), j, *dev.list, dev.signers);
}

std::vector<upstream::Scan> stored(Upstream& up) {
    auto rows = up.store->scans(1000, 0, false, "gate-01");
    REQUIRE(rows.ok());
    std::vector<upstream::Scan> out;
    for (const auto& r : *rows) out.push_back(r.scan);
    return out;
}

std::int64_t sql_int(const std::filesystem::path& db, const std::string& sql) {
    sqlite3* h = nullptr;
    REQUIRE(sqlite3_open(db.string().c_str(), &h) == SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(h, sql.c_str(), -1, &st, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(st) == SQLITE_ROW);
    const std::int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return v;
}

upstream::Scan scan(std::int64_t epoch, std::int64_t seq, const std::string& verdict) {
    upstream::Scan s;
    s.device_id = "gate-01";
    s.epoch = epoch;
    s.seq = seq;
    s.scan_id = "gate-01-" + std::to_string(seq);
    s.pass_id = "00112233445566778899aabbccddeeff";
    s.verdict = verdict;
    s.reason = verdict == "red" ? "status-red" : "ok";
    s.time = 1764338000 + seq;
    s.lane = "gate";
    return s;
}

}  // namespace

TEST_CASE("a journal started again at seq 1 is a new epoch: its rows are stored, not taken for duplicates") {
    Upstream up;
    up.enroll("gate-01");
    Device dev(up);
    dev.scans(3);
    {
        SyncClient c = client_for(up, *dev.journal, dev);
        auto r = c.upload_once();
        REQUIRE_MESSAGE(r.ok(), r.error().describe());
        CHECK(r->marked == 3);
    }
    // The journal is lost (moved aside): a new one, same device, seq from 1 again.
    journal::JournalOptions jo;
    jo.device_id = "gate-01";
    jo.disk_floor_bytes = 0;
    auto fresh = journal::ScanJournal::open((dev.dir / "journal-2.db").string(), jo);
    REQUIRE(fresh.ok());
    CHECK((*fresh)->epoch() != dev.journal->epoch());
    for (int i = 0; i < 3; ++i) {
        auto row = Device::record(i == 1 ? 5 : 1);  // a RED among them
        REQUIRE((*fresh)->append(row).ok());
    }
    SyncClient c = client_for(up, **fresh, dev);
    auto r = c.upload_once();
    REQUIRE_MESSAGE(r.ok(), r.error().describe());
    CHECK(r->marked == 3);
    CHECK(r->acked_seq == 3);
    CHECK(r->conflicts == 0);
    const auto rows = stored(up);
    CHECK(rows.size() == 6);
    int red = 0;
    for (const auto& s : rows) red += s.verdict == "red" ? 1 : 0;
    CHECK(red == 2);  // seq 1 of the first journal and the RED of the new one
}

TEST_CASE("rows carried from a moved-aside journal are stored under their epoch even with gaps; losses reach the heartbeat") {
    Upstream up;
    up.enroll("gate-01");
    Device dev(up);
    journal::JournalOptions jo;
    jo.device_id = "gate-01";
    jo.disk_floor_bytes = 0;
    const auto old_path = dev.dir / "old.db";
    std::int64_t old_epoch = 0;
    {
        auto old = journal::ScanJournal::open(old_path.string(), jo);
        REQUIRE(old.ok());
        old_epoch = (*old)->epoch();
        for (int i = 0; i < 6; ++i) REQUIRE((*old)->append(Device::record(i)).ok());
    }
    journal::Salvage sv = journal::salvage_pending(old_path.string());
    REQUIRE(sv.rows.size() == 6);
    sv.rows.erase(sv.rows.begin() + 2);  // seq 3 unreadable: a gap the contiguous ack cannot cover
    sv.lost = {1, 1};
    REQUIRE(dev.journal->carry(sv.rows, sv.lost).ok());
    dev.scans(2);

    SyncClient c = client_for(up, *dev.journal, dev);
    auto r = c.upload_once();
    REQUIRE_MESSAGE(r.ok(), r.error().describe());
    CHECK(r->sent == 5);
    CHECK(r->marked == 5);
    r = c.upload_once();
    REQUIRE(r.ok());
    CHECK(r->sent == 2);
    CHECK(r->acked_seq == 2);
    CHECK(dev.journal->stats()->pending == 0);
    auto rows = stored(up);
    CHECK(rows.size() == 7);
    int of_old = 0;
    for (const auto& s : rows) of_old += s.epoch == old_epoch ? 1 : 0;
    CHECK(of_old == 5);

    REQUIRE(c.heartbeat_once("{}", 4).ok());
    auto devices = up.store->devices();
    REQUIRE(devices.ok());
    REQUIRE((*devices)[0].last_heartbeat.has_value());
    CHECK((*devices)[0].last_heartbeat->lost_rows == 1);
    CHECK((*devices)[0].last_heartbeat->lost_journals == 1);
    CHECK((*devices)[0].last_heartbeat->journal_epoch == dev.journal->epoch());
    CHECK((*devices)[0].last_heartbeat->sync_faults == 4);
}

TEST_CASE("an upstream that does not echo the batch's epoch: nothing is marked uploaded") {
    Upstream up;  // PKI only
    Device dev(up);
    dev.scans(3);
    REQUIRE(dev.journal->epoch() != 0);
    httplib::SSLServer old(up.path("server.crt").c_str(), up.path("server.key").c_str(),
                           up.path("fleet-ca.crt").c_str());  // one request: no session to resume
    old.Post("/v1/scans", [](const httplib::Request&, httplib::Response& res) {
        // An upstream from before epochs: keyed by seq alone, these look like duplicates.
        res.set_content(R"({"acked_seq":3,"stored":0,"duplicates":3,"conflicts":0})", "application/json");
    });
    const int port = old.bind_to_any_port("127.0.0.1");
    REQUIRE(port > 0);
    std::thread serving([&] { old.listen_after_bind(); });
    for (int i = 0; i < 500 && !old.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    SyncClient c = client_for(up, *dev.journal, dev, port);
    auto r = c.upload_once();
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().is(reason::response));
    CHECK(dev.journal->stats()->pending == 3);
    old.stop();
    serving.join();
}

TEST_CASE("upstream store: a duplicate only with the same content; a conflict is kept apart and counted") {
    Upstream up;
    up.enroll("gate-01");
    auto& store = *up.store;
    auto a = store.ingest_scans("gate-01", {scan(0, 1, "green"), scan(0, 2, "green")});
    REQUIRE(a.ok());
    CHECK(a->stored == 2);
    CHECK(a->acked_seq == 2);
    auto again = store.ingest_scans("gate-01", {scan(0, 1, "green")});
    REQUIRE(again.ok());
    CHECK(again->duplicates == 1);
    CHECK(again->conflicts == 0);
    // Same (epoch, seq) and scan id, other content: a reused id, not a re-send.
    auto other = store.ingest_scans("gate-01", {scan(0, 2, "red")});
    REQUIRE(other.ok());
    CHECK(other->duplicates == 0);
    CHECK(other->conflicts == 1);
    auto dev = store.find_device("gate-01");
    REQUIRE(dev.ok());
    CHECK((*dev)->conflicts == 1);
    const auto db = up.tmp / "upstream.db";
    CHECK(sql_int(db, "SELECT count(*) FROM scan_conflicts WHERE verdict = 'red' AND seq = 2") == 1);
    CHECK(sql_int(db, "SELECT count(*) FROM scans") == 2);  // the first row stays
    // Another epoch is another sequence: seq 1 again is new.
    auto e = store.ingest_scans("gate-01", {scan(77, 1, "red")});
    REQUIRE(e.ok());
    CHECK(e->stored == 1);
    CHECK(e->epoch == 77);
    CHECK(e->acked_seq == 1);
    // One epoch per batch.
    auto mixed = store.ingest_scans("gate-01", {scan(77, 2, "green"), scan(78, 1, "green")});
    REQUIRE_FALSE(mixed.ok());
    CHECK(mixed.error().reason == "epoch");
}

TEST_CASE("upstream store: a store from before epochs is migrated in place, rows kept under epoch 0") {
    cp::testing::TempDir tmp;
    const auto db = tmp / "old-upstream.db";
    {
        sqlite3* h = nullptr;
        REQUIRE(sqlite3_open(db.string().c_str(), &h) == SQLITE_OK);
        const char* old_schema = R"sql(
CREATE TABLE devices(
  id TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, enrolled_at INTEGER NOT NULL,
  revoked INTEGER NOT NULL DEFAULT 0, revoked_at INTEGER NOT NULL DEFAULT 0,
  acked_seq INTEGER NOT NULL DEFAULT 0, last_seen INTEGER NOT NULL DEFAULT 0);
CREATE TABLE scans(
  device_id TEXT NOT NULL, seq INTEGER NOT NULL, scan_id TEXT NOT NULL,
  pass_id TEXT NOT NULL, verdict TEXT NOT NULL, reason TEXT NOT NULL,
  temperature_c REAL, time INTEGER NOT NULL, lane TEXT NOT NULL,
  received_at INTEGER NOT NULL, alert INTEGER NOT NULL,
  manual INTEGER NOT NULL DEFAULT 0, ref_seq INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY(device_id, seq));
CREATE INDEX scans_received ON scans(received_at);
CREATE TABLE heartbeats(
  device_id TEXT PRIMARY KEY, firmware TEXT NOT NULL, list_version INTEGER NOT NULL,
  backlog INTEGER NOT NULL, sensors TEXT NOT NULL, device_time_ms INTEGER NOT NULL,
  server_time_ms INTEGER NOT NULL);
INSERT INTO devices(id, fingerprint, enrolled_at, acked_seq) VALUES('gate-01', 'ab', 1, 1);
INSERT INTO scans VALUES('gate-01', 1, 'gate-01-1', '00112233445566778899aabbccddeeff', 'red', 'status-red',
                         NULL, 1764338001, 'gate', 5, 1, 0, 0);
)sql";
        REQUIRE(sqlite3_exec(h, old_schema, nullptr, nullptr, nullptr) == SQLITE_OK);
        sqlite3_close(h);
    }
    auto store = upstream::open_sqlite_store(db.string());
    REQUIRE_MESSAGE(store.ok(), store.error().describe());
    auto rows = (*store)->scans(10, 0, false, "");
    REQUIRE(rows.ok());
    REQUIRE(rows->size() == 1);
    CHECK((*rows)[0].scan.epoch == 0);
    CHECK((*rows)[0].scan.verdict == "red");
    // The old device goes on where it was: seq 1 is a duplicate, 2 is acknowledged.
    auto r = (*store)->ingest_scans("gate-01", {scan(0, 1, "red"), scan(0, 2, "green")});
    REQUIRE(r.ok());
    CHECK(r->stored == 1);
    CHECK(r->acked_seq == 2);
    // Opening again is a no-op.
    store->reset();
    auto again = upstream::open_sqlite_store(db.string());
    REQUIRE(again.ok());
    CHECK((*again)->scan_count().value() == 2);
}
