// kill -9 of the device after the command centre stored a batch but before the
// device marked it uploaded: the upload runs in a child process
// (sync_upload_child); a store wrapper around the real upstream store SIGKILLs the
// child right after the first batch is committed, before the server answers. The
// journal still holds the batch as pending, the next upload re-sends it, and the
// server stores every row exactly once (the re-sent rows count as duplicates).
#include "tests/sync/sync_fixture.hpp"

#include <doctest/doctest.h>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

extern char** environ;

using namespace cp;
using namespace cp::sync;
using namespace cp::sync::testing;

namespace {

// Forwards everything to the real store; after each ingest, runs a hook (still
// before the server answers the device).
class HookStore : public upstream::UpstreamStore {
public:
    explicit HookStore(upstream::UpstreamStore& s) : s_(s) {}
    std::function<void(const upstream::IngestResult&)> after_ingest;
    std::atomic<std::size_t> duplicates{0};

    Status enroll_device(const std::string& id, const std::string& fp, std::int64_t now) override { return s_.enroll_device(id, fp, now); }
    Status revoke_device(const std::string& id, std::int64_t now) override { return s_.revoke_device(id, now); }
    Result<std::optional<upstream::Device>> find_device(const std::string& id) override { return s_.find_device(id); }
    Result<std::vector<upstream::DeviceState>> devices() override { return s_.devices(); }
    Status touch_device(const std::string& id, std::int64_t now) override { return s_.touch_device(id, now); }
    Result<upstream::IngestResult> ingest_scans(const std::string& device_id,
                                                const std::vector<upstream::Scan>& scans) override {
        auto r = s_.ingest_scans(device_id, scans);
        if (r) {
            duplicates += r->duplicates;
            if (after_ingest) after_ingest(*r);
        }
        return r;
    }
    Status record_heartbeat(const upstream::Heartbeat& hb) override { return s_.record_heartbeat(hb); }
    Result<std::vector<ScanRow>> scans(std::size_t limit, std::int64_t after, bool alerts, const std::string& d) override { return s_.scans(limit, after, alerts, d); }
    Result<std::int64_t> scan_count() override { return s_.scan_count(); }
    Result<std::vector<upstream::HourCount>> scans_per_hour(std::int64_t since) override { return s_.scans_per_hour(since); }
    Status set_statuses(const std::vector<upstream::StatusEntry>& e, std::int64_t now) override { return s_.set_statuses(e, now); }
    Result<std::vector<upstream::StatusEntry>> statuses() override { return s_.statuses(); }
    Result<std::int64_t> latest_list_version() override { return s_.latest_list_version(); }
    Status publish_list(const upstream::ListVersion& v, const std::vector<upstream::StatusEntry>& e) override { return s_.publish_list(v, e); }
    Result<std::vector<upstream::StatusEntry>> published_entries() override { return s_.published_entries(); }
    Result<std::optional<upstream::ListVersion>> list_version(std::int64_t v) override { return s_.list_version(v); }
    Status add_issuer(const std::string& fp, const Bytes& der, std::int64_t now) override { return s_.add_issuer(fp, der, now); }
    Status remove_issuer(const std::string& fp) override { return s_.remove_issuer(fp); }
    Result<std::vector<Bytes>> issuers() override { return s_.issuers(); }
    Status add_trust_version(const upstream::TrustVersion& t) override { return s_.add_trust_version(t); }
    Result<std::optional<upstream::TrustVersion>> latest_trust() override { return s_.latest_trust(); }

private:
    upstream::UpstreamStore& s_;
};

}  // namespace

TEST_CASE("kill -9 after the server stored a batch, before the device marked it: re-sent, stored once") {
    Upstream up;
    up.enroll("gate-01");
    const int port = up.server->port();
    up.server->stop();
    HookStore hooked(*up.store);
    auto srv = start_server(up, port, hooked);

    constexpr int kRows = 120, kBatch = 50;
    std::string journal_path;
    auto dev = std::make_unique<Device>(up);
    dev->scans(kRows);
    journal_path = (dev->dir / "journal.db").string();
    dev->journal.reset();  // the device process owns it now

    std::atomic<pid_t> child{0};
    std::atomic<int> ingests{0};
    std::atomic<bool> killed{false};
    hooked.after_ingest = [&](const upstream::IngestResult& r) {
        if (ingests++ != 0 || r.stored == 0) return;
        // The batch is committed on the server; the device dies before it hears so.
        const pid_t pid = child.load();
        if (pid > 0 && ::kill(pid, SIGKILL) == 0) {
            killed = true;
            // Answer only once it is dead (not reaped: the test thread reaps it; if
            // that thread got there first, waitid fails with ECHILD: dead all the same).
            siginfo_t si{};
            (void)::waitid(P_PID, static_cast<id_t>(pid), &si, WEXITED | WNOWAIT);
        }
    };

    const std::string url = "https://localhost:" + std::to_string(port);
    std::vector<std::string> args = cp::testing::argv_for(SYNC_UPLOAD_CHILD);
    for (const std::string& a : {url, up.path("fleet-ca.crt"), up.path("device-gate-01.crt"),
                                 up.path("device-gate-01.key"), journal_path, std::string("gate-01"),
                                 std::to_string(kBatch)})
        args.push_back(a);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = 0;
    REQUIRE(::posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) == 0);
    child = pid;
    int wstatus = 0;
    REQUIRE(::waitpid(pid, &wstatus, 0) == pid);
    REQUIRE(eventually([&] { return killed.load(); }, std::chrono::seconds(10)));
    REQUIRE(WIFSIGNALED(wstatus));
    CHECK(WTERMSIG(wstatus) == SIGKILL);

    // The server holds the first batch; the device marked nothing.
    CHECK(up.store->scan_count().value() == kBatch);
    journal::JournalOptions jo;
    jo.device_id = "gate-01";
    jo.disk_floor_bytes = 0;
    auto j = journal::ScanJournal::open(journal_path, jo);
    REQUIRE_MESSAGE(j.ok(), j.error().describe());
    CHECK((*j)->stats()->pending == kRows);

    // The device restarts: the batch goes again and is stored once.
    auto http = HttpsClient::create(https_for(up, port));
    REQUIRE(http.ok());
    SyncConfig sc;
    sc.device_id = "gate-01";
    sc.batch_rows = kBatch;
    SyncClient client(sc, std::move(*http), **j, *dev->list, dev->signers);
    for (int i = 0; i < 10; ++i) {
        auto r = client.upload_once();
        REQUIRE_MESSAGE(r.ok(), r.error().describe());
        if (r->sent == 0) break;
    }
    CHECK((*j)->stats()->pending == 0);
    CHECK(hooked.duplicates == static_cast<std::size_t>(kBatch));
    auto rows = up.store->scans(kRows * 2, 0, false, "gate-01");
    REQUIRE(rows.ok());
    REQUIRE(rows->size() == static_cast<std::size_t>(kRows));
    std::vector<int> seen(kRows + 1, 0);
    for (const auto& r : *rows) {
        REQUIRE(r.scan.seq >= 1);
        REQUIRE(r.scan.seq <= kRows);
        ++seen[static_cast<std::size_t>(r.scan.seq)];
    }
    CHECK(std::count(seen.begin() + 1, seen.end(), 1) == kRows);
    srv->stop();
}
