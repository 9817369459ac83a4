// Streaming publish (tools/upstream/lists.hpp, list_spool.hpp): the store streams
// both sets in pass-id order, the signed snapshot and delta made from spooled
// records verify and apply on a device (changed, new and removed entries), and
// pruning keeps only the latest snapshot and the window of deltas, with the server
// sending a device behind the window to the snapshot.
#include "tests/upstream/upstream_fixture.hpp"

#include "src/status/store.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>

using namespace cp;
using namespace cp::upstream;
using cp::upstream::testing::Upstream;

namespace {

std::string hex_id(int i) {
    char id[33];
    std::snprintf(id, sizeof id, "%032x", i);
    return id;
}

pass::PassId pid(int i) {
    auto b = from_hex(hex_id(i));
    pass::PassId p{};
    std::copy(b->begin(), b->end(), p.begin());
    return p;
}

ListSigner signer_of(const Upstream& up) {
    auto s = ListSigner::load(up.path("list-signer.key"), up.path("list-signer.crt"));
    REQUIRE(s.ok());
    return std::move(*s);
}

// A line of /proc/self/status ("VmRSS:", "VmHWM:") in KiB.
long status_kib(const char* field) {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind(field, 0) == 0) return std::atol(line.c_str() + std::strlen(field));
    return -1;
}

}  // namespace

TEST_CASE("streamed publish on SQLite: the signed files go into the store a buffer at a time, not whole in memory") {
    // Reading the snapshot whole, then binding and recording it, held three copies of
    // it (650 MiB at 10 million entries). Now the peak grows by less than one.
    Upstream up;
    constexpr int kEntries = 400'000;  // a snapshot of 8.8 MB
    {
        std::vector<StatusEntry> e;
        e.reserve(kEntries);
        for (int i = 0; i < kEntries; ++i) e.push_back({hex_id(i), PassStatus::green, "", 1});
        REQUIRE(up.store->set_statuses(e, 1).ok());
    }
    const std::string db = (up.tmp / "upstream.db").string();
    const std::string key = up.path("list-signer.key"), crt = up.path("list-signer.crt");
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    const pid_t pid = fork();  // the publish alone in a child, its peak measured from inside
    REQUIRE(pid >= 0);
    if (pid == 0) {
        auto signer = ListSigner::load(key, crt);
        auto store = open_sqlite_store(db);
        const long before = status_kib("VmRSS:");
        const bool ok = signer && store && publish_list(**store, *signer, 100).ok();
        const long grew = status_kib("VmHWM:") - before;
        const ssize_t w = write(fds[1], &grew, sizeof grew);
        _exit(ok && w == sizeof grew ? 0 : 1);
    }
    close(fds[1]);
    long grew_kib = -1;
    const ssize_t got = read(fds[0], &grew_kib, sizeof grew_kib);
    close(fds[0]);
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    REQUIRE(got == sizeof grew_kib);
    auto v = up.store->list_version(1);
    REQUIRE(v.ok());
    REQUIRE(v->has_value());
    const auto snapshot = static_cast<long>((*v)->snapshot.size());
    CHECK((*v)->entries == kEntries);
    CHECK(snapshot > kEntries * 22L);
    // The stored bytes are the signed snapshot: a device imports it.
    cp::testing::TempDir dev;
    crypto::TrustStore signers;
    REQUIRE(signers.add_pem_or_der(as_bytes(cp::testing::read_file(up.pki / "list-signer.crt"))).ok());
    auto list = status::open_sqlite_status_list((dev / "status.db").string());
    REQUIRE(list.ok());
    auto imported = (*list)->import_bytes((*v)->snapshot, signers);
    REQUIRE_MESSAGE(imported.ok(), imported.error().describe());
    CHECK(imported->version == 1);
#if !defined(__SANITIZE_ADDRESS__)  // ASan's quarantine keeps freed buffers resident
    INFO("publish peak RSS grew by " << grew_kib << " KiB; snapshot " << snapshot / 1024 << " KiB");
    CHECK(grew_kib < snapshot / 1024);
#endif
}

TEST_CASE("for_each_status streams a set in pass-id order; a visitor's error stops it and is returned") {
    Upstream up;
    std::vector<StatusEntry> e;
    for (int i : {7, 3, 11, 1, 5}) e.push_back({hex_id(i), PassStatus::red, "r" + std::to_string(i), 0});
    REQUIRE(up.store->set_statuses(e, 10).ok());
    std::vector<std::string> seen;
    REQUIRE(up.store->for_each_status(StatusSet::working, [&](const StatusEntry& x) -> Status {
        seen.push_back(x.pass_id);
        CHECK(x.since == 10);
        return {};
    }).ok());
    CHECK(seen == std::vector<std::string>{hex_id(1), hex_id(3), hex_id(5), hex_id(7), hex_id(11)});
    int n = 0;
    auto st = up.store->for_each_status(StatusSet::working, [&](const StatusEntry&) -> Status {
        if (++n == 2) return fail(ErrorKind::io, "stop", "visitor");
        return {};
    });
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().reason == "stop");
    CHECK(n == 2);
    n = 0;
    REQUIRE(up.store->for_each_status(StatusSet::published, [&](const StatusEntry&) -> Status {
        ++n;
        return {};
    }).ok());
    CHECK(n == 0);  // nothing published yet
}

TEST_CASE("streamed publish: the snapshot and the delta (changed, new, removed) verify and apply on a device") {
    Upstream up;
    const auto signer = signer_of(up);
    std::vector<StatusEntry> e;
    for (int i = 1; i <= 3000; ++i)
        e.push_back({hex_id(i), i % 3 == 0 ? PassStatus::red : PassStatus::green, i % 3 == 0 ? "isolation" : "", 5});
    REQUIRE(up.store->set_statuses(e, 10).ok());
    auto v1 = publish_list(*up.store, signer, 100);
    REQUIRE_MESSAGE(v1.ok(), v1.error().describe());
    CHECK(v1->entries == 3000);
    CHECK(v1->snapshot.empty());  // sizes only: the bytes stay in the store
    auto stored1 = up.store->list_version(1).value();
    REQUIRE(stored1.has_value());
    CHECK(static_cast<std::int64_t>(stored1->snapshot.size()) == v1->snapshot_size);
    CHECK(stored1->delta.empty());

    // Changes: 2 turns red (status), 3 keeps red with another reason, 5000 is new,
    // 4 leaves the working set (removed by the operator's database).
    REQUIRE(up.store->set_statuses({{hex_id(2), PassStatus::red, "contact", 6},
                                    {hex_id(3), PassStatus::red, "quarantine", 6},
                                    {hex_id(5000), PassStatus::yellow, "check", 6}},
                                   20)
                .ok());
    {
        sqlite3* db = nullptr;
        REQUIRE(sqlite3_open((up.tmp / "upstream.db").c_str(), &db) == SQLITE_OK);
        sqlite3_busy_timeout(db, 5000);
        CHECK(sqlite3_exec(db, ("DELETE FROM statuses WHERE pass_id = '" + hex_id(4) + "'").c_str(), nullptr, nullptr,
                           nullptr) == SQLITE_OK);
        sqlite3_close(db);
    }
    auto v2 = publish_list(*up.store, signer, 200);
    REQUIRE_MESSAGE(v2.ok(), v2.error().describe());
    CHECK(v2->changes == 4);
    CHECK(v2->entries == 3000);
    CHECK(publish_list(*up.store, signer, 201).error().is(reason::unchanged));

    // The device: snapshot 1, then delta 2.
    cp::testing::TempDir dev;
    crypto::TrustStore signers;
    REQUIRE(signers.add_pem_or_der(as_bytes(cp::testing::read_file(up.pki / "list-signer.crt"))).ok());
    auto list = status::open_sqlite_status_list((dev / "status.db").string());
    REQUIRE(list.ok());
    auto imp = (*list)->import_bytes(stored1->snapshot, signers);
    REQUIRE_MESSAGE(imp.ok(), imp.error().describe());
    auto stored2 = up.store->list_version(2).value();
    REQUIRE(stored2.has_value());
    auto app = (*list)->apply_delta(stored2->delta, signers);
    REQUIRE_MESSAGE(app.ok(), app.error().describe());
    CHECK(app->version == 2);
    auto look = [&](int i) { return (*list)->lookup(pid(i)).value(); };
    REQUIRE(look(2).has_value());
    CHECK(look(2)->status == status::PassStatus::red);
    CHECK(look(2)->reason == "contact");
    CHECK(look(3)->reason == "quarantine");
    CHECK_FALSE(look(4).has_value());
    REQUIRE(look(5000).has_value());
    CHECK(look(5000)->status == status::PassStatus::yellow);
    CHECK(look(1)->status == status::PassStatus::green);
    // The published set is what was signed.
    auto pub = up.store->published_entries().value();
    CHECK(pub.size() == 3000);
}

TEST_CASE("pruning: the latest snapshot and the window of deltas stay; a device behind the window takes the snapshot") {
    Upstream up;
    up.enroll("gate-01");
    const auto signer = signer_of(up);
    for (int v = 1; v <= 6; ++v) {
        REQUIRE(up.store->set_statuses({{hex_id(v), PassStatus::red, "r", 1}}, v).ok());
        auto p = publish_list(*up.store, signer, 100 * v, false, 2);
        REQUIRE_MESSAGE(p.ok(), p.error().describe());
    }
    for (int v = 1; v <= 4; ++v) CHECK_FALSE(up.store->list_version(v).value().has_value());
    auto v5 = up.store->list_version(5).value();
    REQUIRE(v5.has_value());
    CHECK(v5->snapshot.empty());
    CHECK_FALSE(v5->delta.empty());
    auto v6 = up.store->list_version(6).value();
    REQUIRE(v6.has_value());
    CHECK_FALSE(v6->snapshot.empty());
    CHECK_FALSE(v6->delta.empty());
    CHECK(publish_list(*up.store, signer, 700, true, -1).error().reason == "keep-deltas");

    auto c = up.device("gate-01");
    auto behind = c->Get("/v1/list/deltas?since=3");
    REQUIRE(behind);
    REQUIRE(behind->status == 200);
    auto b = nlohmann::json::parse(behind->body);
    CHECK(b["snapshot_required"] == true);
    CHECK(b["snapshot"] == "/v1/list/snapshot/6");
    auto near = c->Get("/v1/list/deltas?since=4");
    REQUIRE(near);
    auto n = nlohmann::json::parse(near->body);
    CHECK(n["snapshot_required"] == false);
    CHECK(n["deltas"].size() == 2);
    auto old_snap = c->Get("/v1/list/snapshot/5");
    REQUIRE(old_snap);
    CHECK(old_snap->status == 404);
}
