// Shared set-up for the sync worker tests: a device (journal + status list + list
// signer trust), HTTPS settings for the fixture's upstream, a server that can be
// taken down and brought back on the same port, a loopback TCP proxy that can cut
// server answers short, and a check that no thread named "sync" is left.
#pragma once

#include "tests/upstream/upstream_fixture.hpp"

#include "src/sync/sync_worker.hpp"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace cp::sync::testing {

using cp::upstream::testing::Upstream;

inline HttpsConfig https_for(const Upstream& up, int port = 0, const std::string& device = "gate-01") {
    HttpsConfig h;
    h.base_url = "https://localhost:" + std::to_string(port ? port : up.server->port());
    h.ca_path = up.path("fleet-ca.crt");
    h.cert_path = up.path("device-" + device + ".crt");
    h.key_path = up.path("device-" + device + ".key");
    h.connect_timeout_s = 5;
    h.transfer_timeout_s = 30;
    return h;
}

// A directory on tmpfs when /dev/shm is usable (the journal fsyncs every append,
// which on a disk would make 100,000 appends take minutes), else under $TMPDIR.
class FastDir {
public:
    FastDir() {
        std::string tmpl = "/dev/shm/cp-sync-XXXXXX";
        if (::access("/dev/shm", W_OK) == 0 && ::mkdtemp(tmpl.data())) {
            path_ = tmpl;
        } else {
            fallback_ = std::make_unique<cp::testing::TempDir>();
            path_ = fallback_->path();
        }
    }
    ~FastDir() {
        if (!fallback_) {
            std::error_code ec;
            std::filesystem::remove_all(path_, ec);
        }
    }
    std::filesystem::path operator/(const std::string& n) const { return path_ / n; }
    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
    std::unique_ptr<cp::testing::TempDir> fallback_;
};

struct Device {
    FastDir dir;
    std::unique_ptr<journal::ScanJournal> journal;
    std::unique_ptr<status::StatusList> list;
    crypto::TrustStore signers;

    explicit Device(const Upstream& up, const std::string& id = "gate-01") {
        journal::JournalOptions jo;
        jo.device_id = id;
        jo.disk_floor_bytes = 0;
        auto j = journal::ScanJournal::open((dir / "journal.db").string(), jo);
        REQUIRE_MESSAGE(j.ok(), j.error().describe());
        journal = std::move(*j);
        auto l = status::open_sqlite_status_list((dir / "status.db").string());
        REQUIRE(l.ok());
        list = std::move(*l);
        REQUIRE(signers.add_pem_or_der(as_bytes(cp::testing::read_file(up.pki / "list-signer.crt"))).ok());
    }

    static journal::ScanRecord record(std::int64_t i, std::int64_t wall_ms = 0) {
        journal::ScanRecord r;
        r.pass_id = "00112233445566778899aabbccddeeff";
        r.format = "cp1";
        r.kind = "R";
        r.verdict = i % 5 == 0 ? "RED" : "GREEN";
        r.reason = i % 5 == 0 ? "status-red" : "ok";
        r.temperature_c = 36.5;
        r.lane = "gate";
        r.device_id = "gate-01";
        r.wall_ms = wall_ms;
        return r;
    }

    void scans(int n) {
        for (int i = 0; i < n; ++i) {
            auto a = journal->append(record(i));
            REQUIRE_MESSAGE(a.ok(), a.error().describe());
        }
    }
};

// The fixture's server can be stopped (outage) and a new one started on the same
// port with the same store (the command centre comes back), or with another
// store in front of it (a test's hooks).
inline std::unique_ptr<upstream::UpstreamServer> start_server(Upstream& up, int port,
                                                               upstream::UpstreamStore& store) {
    upstream::ServerConfig cfg;
    cfg.port = port;
    cfg.cert_path = up.path("server.crt");
    cfg.key_path = up.path("server.key");
    cfg.client_ca_path = up.path("fleet-ca.crt");
    cfg.read_timeout_s = 5;
    auto srv = upstream::UpstreamServer::create(cfg, store);
    REQUIRE_MESSAGE(srv.ok(), srv.error().describe());
    // The old listener's port may need a moment to be free again; bounded retries.
    for (int i = 0; i < 50; ++i) {
        auto st = (*srv)->start();
        if (st.ok()) return std::move(*srv);
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    FAIL("cannot bind the upstream again on port " << port);
    return nullptr;
}
inline std::unique_ptr<upstream::UpstreamServer> start_server(Upstream& up, int port) {
    return start_server(up, port, *up.store);
}

// Polls `pred` every 20 ms until true or `limit` passes; returns pred().
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
        if (pred()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return pred();
}

// Threads of this process with the given name (Linux /proc).
inline int threads_named(const std::string& name) {
    int n = 0;
    std::error_code ec;
    for (const auto& t : std::filesystem::directory_iterator("/proc/self/task", ec)) {
        std::ifstream in(t.path() / "comm");
        std::string comm;
        std::getline(in, comm);
        if (comm == name) ++n;
    }
    return n;
}

// After join() the thread is gone; under qemu-user its /proc/self/task entry
// can outlive the join by a moment, so the check allows 5 s for it to vanish.
inline bool no_thread_named(const std::string& name) {
    return eventually([&] { return threads_named(name) == 0; }, std::chrono::seconds(5));
}


inline int listen_loopback(int* port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(fd, 16) == 0);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    *port = ntohs(a.sin_port);
    return fd;
}

// A TCP proxy on 127.0.0.1 in front of `target_port`. TLS passes through end to
// end. While `cut_after` >= 0, each connection forwards at most that many bytes
// from the server to the device and is then closed (the server dying in the
// middle of a body, as far as the device can tell).
class CuttingProxy {
public:
    explicit CuttingProxy(int target_port) : target_(target_port) {
        lfd_ = listen_loopback(&port_);
        REQUIRE(::pipe(stop_pipe_) == 0);
        acceptor_ = std::thread([this] { accept_loop(); });
    }
    ~CuttingProxy() {
        stopping_ = true;
        (void)!::write(stop_pipe_[1], "x", 1);
        acceptor_.join();
        std::lock_guard lk(mu_);
        for (auto& t : conns_) t.join();
        ::close(lfd_);
        ::close(stop_pipe_[0]);
        ::close(stop_pipe_[1]);
    }
    int port() const { return port_; }
    std::atomic<long> cut_after{-1};
    std::atomic<int> cuts{0};
    std::atomic<int> connections{0};

private:
    void accept_loop() {
        while (!stopping_) {
            pollfd p[2] = {{lfd_, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
            if (::poll(p, 2, 1000) <= 0) continue;
            if (p[1].revents) return;
            int c = ::accept4(lfd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (c < 0) continue;
            ++connections;
            std::lock_guard lk(mu_);
            conns_.emplace_back([this, c] { pump(c); });
        }
    }
    void pump(int client) {
        int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons(static_cast<std::uint16_t>(target_));
        if (::connect(server, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
            ::close(server);
            ::close(client);
            return;
        }
        const long limit = cut_after.load();
        long down = 0;
        char buf[16384];
        // Bounded: ends when either side closes, the cut is reached, or the proxy stops
        // (poll wakes at least once a second to look).
        while (!stopping_) {
            pollfd p[3] = {{client, POLLIN, 0}, {server, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
            if (::poll(p, 3, 1000) < 0) break;
            if (p[2].revents) break;
            if (p[0].revents) {
                ssize_t n = ::read(client, buf, sizeof buf);
                if (n <= 0 || ::send(server, buf, static_cast<std::size_t>(n), MSG_NOSIGNAL) != n) break;
            }
            if (p[1].revents) {
                ssize_t n = ::read(server, buf, sizeof buf);
                if (n <= 0) break;
                if (limit >= 0 && down + n >= limit) {
                    (void)::send(client, buf, static_cast<std::size_t>(limit - down), MSG_NOSIGNAL);
                    ++cuts;
                    break;
                }
                down += n;
                if (::send(client, buf, static_cast<std::size_t>(n), MSG_NOSIGNAL) != n) break;
            }
        }
        ::close(server);
        ::close(client);
    }

    int target_;
    int lfd_ = -1, port_ = 0;
    int stop_pipe_[2] = {-1, -1};
    std::atomic<bool> stopping_{false};
    std::thread acceptor_;
    std::mutex mu_;
    std::list<std::thread> conns_;
};

// SHA-256 (hex) of a file's bytes, through the upstream helper.
inline std::string file_digest(const std::filesystem::path& p) {
    std::string data = cp::testing::read_file(p);
    return upstream::fingerprint(as_bytes(data));
}

}  // namespace cp::sync::testing
