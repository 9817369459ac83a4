// PostgreSQL backend of SqlDb (sql_db.hpp) through libpq: statements are sent with
// PQexecParams, the ?N parameters rewritten to $N and typed by their binds, results
// read in text form (bytea through PQunescapeBytea).
#include "tools/upstream/sql_db.hpp"

#include <libpq-fe.h>

#include <cstdio>
#include <cstdlib>
#include <vector>

namespace cp::upstream {
namespace {

constexpr Oid kInt8 = 20, kText = 25, kFloat8 = 701, kBytea = 17;

// ?N -> $N outside string literals and quoted identifiers.
std::string to_pg_params(std::string_view sql) {
    std::string out;
    out.reserve(sql.size());
    char quote = 0;
    for (std::size_t i = 0; i < sql.size(); ++i) {
        const char c = sql[i];
        if (quote) {
            if (c == quote) quote = 0;
        } else if (c == '\'' || c == '"') {
            quote = c;
        } else if (c == '?' && i + 1 < sql.size() && sql[i + 1] >= '0' && sql[i + 1] <= '9') {
            out += '$';
            continue;
        }
        out += c;
    }
    return out;
}

Failure pg_error(PGconn* c, const char* what) {
    std::string m = PQerrorMessage(c);
    while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
    return fail(ErrorKind::io, sql_reason::postgresql, std::string(what) + ": " + m);
}

class PgDb;

class PgQuery final : public SqlQuery {
public:
    PgQuery(PgDb& db, std::string sql) : db_(db), sql_(std::move(sql)) {}
    ~PgQuery() override { PQclear(res_); }

    struct Param {
        Oid type = 0;
        bool null = true;
        bool binary = false;
        std::string value;
    };
    Param& slot(int i) {
        if (i < 1) i = 1;
        if (params_.size() < static_cast<std::size_t>(i)) params_.resize(static_cast<std::size_t>(i));
        return params_[static_cast<std::size_t>(i - 1)];
    }
    void bind_i64(int i, std::int64_t v) override { slot(i) = {kInt8, false, false, std::to_string(v)}; }
    void bind_text(int i, std::string_view v) override { slot(i) = {kText, false, false, std::string(v)}; }
    void bind_blob(int i, const Bytes& v) override {
        slot(i) = {kBytea, false, true, std::string(v.begin(), v.end())};
    }
    void bind_real(int i, std::optional<double> v) override {
        if (!v) {
            slot(i) = {kFloat8, true, false, {}};
            return;
        }
        char buf[40];
        std::snprintf(buf, sizeof buf, "%.17g", *v);
        slot(i) = {kFloat8, false, false, buf};
    }
    Result<bool> step() override;
    void reset() override {
        PQclear(res_);
        res_ = nullptr;
        row_ = -1;
        params_.clear();
    }
    const char* cell(int c) const { return PQgetvalue(res_, row_, c); }
    std::int64_t i64(int c) override {
        if (is_null(c)) return 0;
        const char* v = cell(c);
        if (v[0] == 't' && v[1] == 0) return 1;
        if (v[0] == 'f' && v[1] == 0) return 0;
        return std::strtoll(v, nullptr, 10);
    }
    std::string text(int c) override {
        if (is_null(c)) return {};
        return std::string(cell(c), static_cast<std::size_t>(PQgetlength(res_, row_, c)));
    }
    Bytes blob(int c) override {
        if (is_null(c)) return {};
        std::size_t n = 0;
        unsigned char* p = PQunescapeBytea(reinterpret_cast<const unsigned char*>(cell(c)), &n);
        if (!p) return {};
        Bytes out(p, p + n);
        PQfreemem(p);
        return out;
    }
    bool is_null(int c) override { return !res_ || PQgetisnull(res_, row_, c); }
    std::optional<double> real_or_null(int c) override {
        if (is_null(c)) return std::nullopt;
        return std::strtod(cell(c), nullptr);
    }

private:
    PgDb& db_;
    std::string sql_;
    std::vector<Param> params_;
    PGresult* res_ = nullptr;
    int row_ = -1;
};

class PgDb final : public SqlDb {
public:
    explicit PgDb(PGconn* c) : c_(c) {}
    ~PgDb() override { PQfinish(c_); }
    PgDb(const PgDb&) = delete;
    PgDb& operator=(const PgDb&) = delete;

    Dialect dialect() const override { return Dialect::postgresql; }

    // A connection lost outside a transaction (server restart) is made again; inside
    // one it stays lost, so the transaction fails instead of going on in autocommit.
    void heal() {
        if (!in_tx_ && PQstatus(c_) == CONNECTION_BAD) PQreset(c_);
    }
    Status exec(std::string_view sql) override {
        heal();
        PGresult* r = PQexec(c_, std::string(sql).c_str());
        const auto st = PQresultStatus(r);
        const bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
        // In a transaction only once BEGIN succeeded (a failed BEGIN has no ROLLBACK).
        if (sql == "BEGIN") in_tx_ = ok;
        if (sql == "COMMIT" || sql == "ROLLBACK") in_tx_ = false;
        if (ok) changes_ = std::strtoll(PQcmdTuples(r), nullptr, 10);
        PQclear(r);
        if (!ok) return pg_error(c_, "exec");
        return {};
    }
    std::unique_ptr<SqlQuery> prepare(std::string_view sql) override {
        return std::make_unique<PgQuery>(*this, to_pg_params(sql));
    }
    std::int64_t changes() override { return changes_; }

    PGconn* conn() { return c_; }
    void set_changes(std::int64_t n) { changes_ = n; }

private:
    PGconn* c_;
    std::int64_t changes_ = 0;
    bool in_tx_ = false;
};

Result<bool> PgQuery::step() {
    if (!res_) {
        db_.heal();
        std::vector<Oid> types;
        std::vector<const char*> values;
        std::vector<int> lengths, formats;
        for (const auto& p : params_) {
            types.push_back(p.type);
            values.push_back(p.null ? nullptr : p.value.data());
            lengths.push_back(static_cast<int>(p.value.size()));
            formats.push_back(p.binary ? 1 : 0);
        }
        res_ = PQexecParams(db_.conn(), sql_.c_str(), static_cast<int>(params_.size()), types.data(),
                            values.data(), lengths.data(), formats.data(), 0);
        const auto st = PQresultStatus(res_);
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
            auto e = pg_error(db_.conn(), "query");
            PQclear(res_);
            res_ = nullptr;
            return e;
        }
        db_.set_changes(std::strtoll(PQcmdTuples(res_), nullptr, 10));
        row_ = -1;
    }
    if (row_ + 1 >= PQntuples(res_)) return false;
    ++row_;
    return true;
}

void ignore_notice(void*, const char*) {}

}  // namespace

Result<std::unique_ptr<SqlDb>> open_pg_db(const std::string& url) {
    PGconn* c = PQconnectdb(url.c_str());
    if (!c) return fail(ErrorKind::io, sql_reason::postgresql_open, "out of memory");
    if (PQstatus(c) != CONNECTION_OK) {
        std::string m = PQerrorMessage(c);
        PQfinish(c);
        while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
        // The URL may hold a password: only libpq's message, never the URL.
        return fail(ErrorKind::io, sql_reason::postgresql_open, m);
    }
    PQsetNoticeProcessor(c, ignore_notice, nullptr);
    auto db = std::make_unique<PgDb>(c);
    // UTC and a fixed search path: the schema's SQL reads the same on every server.
    if (auto st = db->exec("SET TIME ZONE 'UTC'; SET client_min_messages = warning"); !st)
        return fail(ErrorKind::io, sql_reason::postgresql_open, st.error().message);
    return std::unique_ptr<SqlDb>(std::move(db));
}

}  // namespace cp::upstream
