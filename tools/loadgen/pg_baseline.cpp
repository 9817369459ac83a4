// The PostgreSQL baseline of `loadgen run --baseline-pg URL`: the rows the devices
// had acknowledged, written straight into a table of the scans table's shape (the
// same columns and indexes, range-partitioned on received_at with a default
// partition) on the same server, with libpq and no TLS, HTTP or store logic:
// (1) one COPY of every row, (2) multi-row INSERTs of `batch` rows, one transaction
// each, (3) multi-row INSERTs of the devices' mean rows per upload, one transaction
// each, on as many connections as there are replicas (the store's own unit of work).
// Each INSERT run is bounded to kMaxSeconds; the rows it wrote by then are counted.
#include "tools/loadgen/pg_baseline.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

namespace cp::loadgen {

namespace {

const char* const kShape = R"sql(
SET client_min_messages = warning;
DROP TABLE IF EXISTS baseline_scans;
CREATE TABLE baseline_scans (LIKE scans INCLUDING DEFAULTS) PARTITION BY RANGE (received_at);
CREATE TABLE baseline_scans_default PARTITION OF baseline_scans DEFAULT;
CREATE INDEX ON baseline_scans(device_id, epoch, seq);
CREATE INDEX ON baseline_scans(rowid);
CREATE INDEX ON baseline_scans(received_at);
CREATE INDEX ON baseline_scans(rowid) WHERE alert = 1;
CREATE INDEX ON baseline_scans(pass_id);
CREATE INDEX ON baseline_scans(time);
)sql";

// Each INSERT baseline stops after this long (rows written so far are counted).
constexpr int kMaxSeconds = 30;

const char* const kColumns =
    "(device_id, epoch, seq, scan_id, pass_id, verdict, reason, temperature_c, time, lane, received_at, alert)";

struct Conn {
    PGconn* c = nullptr;
    explicit Conn(const std::string& url) : c(PQconnectdb(url.c_str())) {}
    ~Conn() { PQfinish(c); }
    bool ok() const { return c && PQstatus(c) == CONNECTION_OK; }
    bool exec(const std::string& sql, ExecStatusType want = PGRES_COMMAND_OK) {
        PGresult* r = PQexec(c, sql.c_str());
        const bool good = PQresultStatus(r) == want;
        if (!good) std::fprintf(stderr, "loadgen: baseline: %s", PQerrorMessage(c));
        PQclear(r);
        return good;
    }
};

// Row k of `rows`, as the devices sent it: device k % devices, its own seq.
struct RowGen {
    int devices;
    std::int64_t now_s;
    std::string device(std::int64_t k) const {
        char b[16];
        std::snprintf(b, sizeof b, "lg-%05d", static_cast<int>(k % devices) + 1);
        return b;
    }
    std::int64_t seq(std::int64_t k) const { return k / devices + 1; }
    std::string copy_line(std::int64_t k) const {
        const std::string d = device(k);
        return d + "\t1\t" + std::to_string(seq(k)) + "\t" + d + "-1-" + std::to_string(seq(k)) + "\t\tgreen\tok\t\\N\t" +
               std::to_string(now_s) + "\tgate\t" + std::to_string(now_s) + "\t0\n";
    }
    std::string values(std::int64_t k) const {
        const std::string d = device(k);
        return "('" + d + "',1," + std::to_string(seq(k)) + ",'" + d + "-1-" + std::to_string(seq(k)) +
               "','','green','ok',NULL," + std::to_string(now_s) + ",'gate'," + std::to_string(now_s) + ",0)";
    }
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

using Clock = std::chrono::steady_clock;

// Rows [from, to) as multi-row INSERTs of `batch`, one transaction each, until
// `deadline`; the rows written, or -1 on an error.
std::int64_t insert_range(const std::string& url, const RowGen& g, std::int64_t from, std::int64_t to,
                          std::int64_t batch, Clock::time_point deadline) {
    Conn c(url);
    if (!c.ok()) return -1;
    std::int64_t k = from;
    while (k < to && Clock::now() < deadline) {
        std::string sql = std::string("INSERT INTO baseline_scans ") + kColumns + " VALUES ";
        const std::int64_t end = std::min(to, k + batch);
        for (std::int64_t i = k; i < end; ++i) sql += (i == k ? "" : ",") + g.values(i);
        if (!c.exec(sql)) return -1;  // autocommit: one transaction per statement
        k = end;
    }
    return k - from;
}

}  // namespace

void pg_baseline(const std::string& url, int devices, std::int64_t rows, std::int64_t batch,
                 std::int64_t rows_per_upload, int connections) {
    if (rows <= 0) return;
    const RowGen g{devices, std::chrono::duration_cast<std::chrono::seconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count()};
    Conn c(url);
    if (!c.ok() || !c.exec(kShape)) {
        std::fprintf(stderr, "loadgen: baseline: cannot connect or make the table\n");
        return;
    }
    // (1) COPY.
    auto t0 = std::chrono::steady_clock::now();
    bool ok = c.exec(std::string("COPY baseline_scans ") + kColumns + " FROM STDIN", PGRES_COPY_IN);
    std::string buf;
    for (std::int64_t k = 0; ok && k < rows; ++k) {
        buf += g.copy_line(k);
        if (buf.size() > (1u << 16) || k + 1 == rows) {
            ok = PQputCopyData(c.c, buf.data(), static_cast<int>(buf.size())) == 1;
            buf.clear();
        }
    }
    if (ok) ok = PQputCopyEnd(c.c, nullptr) == 1;
    PGresult* r = PQgetResult(c.c);
    ok = ok && PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    while ((r = PQgetResult(c.c))) PQclear(r);
    double s = seconds_since(t0);
    std::printf("baseline: COPY of %lld rows into a table of the scans shape: %.2f s, %.0f rows/s%s\n",
                static_cast<long long>(rows), s, static_cast<double>(rows) / s, ok ? "" : " (FAILED)");

    // (2) multi-row INSERT, `batch` rows per statement and transaction.
    if (!c.exec("TRUNCATE baseline_scans")) return;
    t0 = std::chrono::steady_clock::now();
    std::int64_t done = insert_range(url, g, 0, rows, batch, t0 + std::chrono::seconds(kMaxSeconds));
    s = seconds_since(t0);
    std::printf("baseline: INSERT of %lld rows, %lld rows per statement, one transaction each: %.2f s, %.0f rows/s%s\n",
                static_cast<long long>(done), static_cast<long long>(batch), s, static_cast<double>(done) / s,
                done < 0 ? " (FAILED)" : "");

    // (3) multi-row INSERT at the devices' rows per upload, on `connections` connections.
    if (!c.exec("TRUNCATE baseline_scans")) return;
    const std::int64_t per = std::max<std::int64_t>(1, rows_per_upload);
    const int conns = std::max(1, connections);
    t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    std::vector<std::int64_t> counts(static_cast<std::size_t>(conns), 0);
    for (int i = 0; i < conns; ++i) {
        const std::int64_t from = rows * i / conns, to = rows * (i + 1) / conns;
        pool.emplace_back([&, i, from, to] {
            counts[static_cast<std::size_t>(i)] =
                insert_range(url, g, from, to, per, t0 + std::chrono::seconds(kMaxSeconds));
        });
    }
    for (auto& t : pool) t.join();
    s = seconds_since(t0);
    ok = std::all_of(counts.begin(), counts.end(), [](std::int64_t x) { return x >= 0; });
    done = 0;
    for (auto x : counts) done += std::max<std::int64_t>(x, 0);
    std::printf("baseline: INSERT of %lld rows, %lld rows per statement (the mean upload), one transaction each, "
                "%d connections: %.2f s, %.0f rows/s%s\n",
                static_cast<long long>(done), static_cast<long long>(per), conns, s, static_cast<double>(done) / s,
                ok ? "" : " (FAILED)");
    c.exec("DROP TABLE baseline_scans");
}

}  // namespace cp::loadgen
