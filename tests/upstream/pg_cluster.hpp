// A throw-away PostgreSQL 15 cluster for tests: initdb and pg_ctl from Debian's
// postgresql-15 (tools/dev.d/packages) in a temporary directory, listening only on
// a Unix socket in that directory (no TCP, no system service). Run as root, the
// cluster belongs to the `postgres` account (initdb refuses root) through runuser.
// The destructor stops it (immediate) and removes the directory; a watchdog shell
// does the same if the test process dies without running it (abort, SIGKILL).
// Missing binaries fail the test: these tests never skip.
#pragma once

#include <libpq-fe.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

namespace cp::upstream::testing {

class PgCluster {
public:
    static constexpr const char* kBin = "/usr/lib/postgresql/15/bin";
    static constexpr const char* kUser = "cp_test";

    PgCluster() : PgCluster(nullptr) {}
    // A physical copy of `primary` as a standby gets it: pg_basebackup (WAL streamed
    // along, a fast checkpoint) into a new directory, started as a server of its own
    // (it does not follow the primary afterwards).
    static std::unique_ptr<PgCluster> base_backup_of(const PgCluster& primary) {
        return std::unique_ptr<PgCluster>(new PgCluster(&primary));
    }
    ~PgCluster() { stop(); }
    void stop() {
        if (dir_.empty()) return;
        std::system((as_ + kBin + "/pg_ctl -D '" + dir_ + "/data' -m immediate stop >/dev/null 2>&1").c_str());
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
        dir_.clear();
    }
    PgCluster(const PgCluster&) = delete;
    PgCluster& operator=(const PgCluster&) = delete;

    const std::string& dir() const { return dir_; }
    // The URL of database `db` (libpq form, Unix socket in the cluster's directory).
    std::string url(const std::string& db = "postgres") const {
        return "postgresql:///" + db + "?host=" + dir_ + "&user=" + kUser;
    }
    // A new empty database; returns its URL.
    std::string new_database() {
        const std::string name = "t" + std::to_string(::getpid()) + "_" + std::to_string(++count_);
        PGconn* c = PQconnectdb(url().c_str());
        if (PQstatus(c) != CONNECTION_OK) {
            std::string m = PQerrorMessage(c);
            PQfinish(c);
            throw std::runtime_error("connect: " + m);
        }
        PGresult* r = PQexec(c, ("CREATE DATABASE " + name).c_str());
        const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        std::string m = PQerrorMessage(c);
        PQclear(r);
        PQfinish(c);
        if (!ok) throw std::runtime_error("CREATE DATABASE: " + m);
        return url(name);
    }

    // Restarts the server (fast shutdown: every connection is cut).
    void restart() {
        run(as_ + kBin + "/pg_ctl -D '" + dir_ + "/data' -w -t 120 -m fast restart >/dev/null 2>&1", "pg_ctl restart");
    }

    // One cluster per test process, started on first use.
    static PgCluster& shared() {
        static PgCluster cluster;
        return cluster;
    }

private:
    explicit PgCluster(const PgCluster* primary) {
        try {
            start(primary);
        } catch (...) {
            stop();  // a half-made cluster is stopped and removed too
            throw;
        }
    }

    void start(const PgCluster* primary) {
        if (::access((std::string(kBin) + "/initdb").c_str(), X_OK) != 0)
            throw std::runtime_error(std::string(kBin) + "/initdb missing: install postgresql-15");
        char tmpl[] = "/tmp/cp-pg-XXXXXX";
        if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp");
        dir_ = tmpl;
        if (::geteuid() == 0) {
            const passwd* pw = ::getpwnam("postgres");
            if (!pw) throw std::runtime_error("running as root needs the postgres account (postgresql-15)");
            if (::chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) throw std::runtime_error("chown");
            as_ = "runuser -u postgres -- ";
        }
        ::chmod(dir_.c_str(), 0755);
        const std::string data = dir_ + "/data";
        if (primary)
            run(as_ + kBin + "/pg_basebackup -D '" + data + "' -d 'host=" + primary->dir() + " user=" + kUser +
                    "' --wal-method=stream --checkpoint=fast --no-sync >'" + dir_ + "/initdb.log' 2>&1",
                "pg_basebackup");
        else
            run(as_ + kBin + "/initdb -D '" + data + "' -U " + kUser +
                    " -A trust -E UTF8 --locale=C --no-sync >'" + dir_ + "/initdb.log' 2>&1",
                "initdb");
        // The watchdog: once the test process is gone, stop the cluster and remove it.
        const std::string stop = as_ + kBin + "/pg_ctl -D '" + data + "' -m immediate stop";
        const std::string watch = "setsid sh -c 'while kill -0 " + std::to_string(::getpid()) +
                                  " 2>/dev/null; do sleep 1; done; " + escape(stop) + "; rm -rf " +
                                  escape("'" + dir_ + "'") + "' >/dev/null 2>&1 </dev/null &";
        run(watch, "watchdog");
        run(as_ + kBin + "/pg_ctl -D '" + data + "' -w -t 120 -l '" + dir_ +
                "/server.log' -o \"-c listen_addresses='' -k " + dir_ +
                " -c fsync=off -c full_page_writes=off -c max_connections=100\" start >/dev/null 2>&1",
            "pg_ctl start");
    }

    static std::string escape(const std::string& s) {  // inside a single-quoted sh -c argument
        std::string out;
        for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
        return out;
    }
    void run(const std::string& cmd, const char* what) {
        if (std::system(cmd.c_str()) != 0) {
            std::string log;
            if (FILE* f = std::fopen((dir_ + "/initdb.log").c_str(), "r")) {
                char buf[512];
                while (std::fgets(buf, sizeof buf, f)) log += buf;
                std::fclose(f);
            }
            throw std::runtime_error(std::string(what) + " failed in " + dir_ + "\n" + log);
        }
    }

    std::string dir_;
    std::string as_;
    std::atomic<int> count_{0};
};

}  // namespace cp::upstream::testing
