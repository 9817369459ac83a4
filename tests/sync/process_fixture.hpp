// Child processes for the multi-process sync tests: `upstream serve` replicas on one
// database, a static file server, a load balancer. Output goes to a file the test
// reads (e.g. the port a server printed); the destructor kills (SIGKILL) and reaps
// whatever still runs, so no process outlives a failed test.
#pragma once

#include "tests/testing.hpp"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace cp::sync::testing {

class Child {
public:
    // Starts argv[0] (a path) with stdout and stderr appended to `log`.
    Child(std::vector<std::string> argv, std::filesystem::path log) : log_(std::move(log)) {
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 1, log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
        posix_spawn_file_actions_adddup2(&fa, 1, 2);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        std::vector<char*> args;
        for (auto& a : argv) args.push_back(a.data());
        args.push_back(nullptr);
        const int rc = posix_spawnp(&pid_, args[0], &fa, nullptr, args.data(), environ);
        posix_spawn_file_actions_destroy(&fa);
        REQUIRE_MESSAGE(rc == 0, "cannot start " << argv[0]);
    }
    ~Child() { kill(SIGKILL); }
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;

    pid_t pid() const { return pid_; }
    bool running() {
        if (pid_ <= 0) return false;
        int st = 0;
        if (::waitpid(pid_, &st, WNOHANG) == pid_) {
            pid_ = -1;
            status_ = st;
            return false;
        }
        return true;
    }
    // Sends `sig` and reaps the process (bounded: SIGKILL after 10 s).
    void kill(int sig) {
        if (pid_ <= 0) return;
        ::kill(pid_, sig);
        for (int i = 0; i < 1000 && running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            int st = 0;
            ::waitpid(pid_, &st, 0);
            status_ = st;
            pid_ = -1;
        }
    }
    std::string output() const {
        std::error_code ec;
        if (!std::filesystem::exists(log_, ec)) return {};
        return cp::testing::read_file(log_);
    }
    // Waits (at most `limit`) for `re` to match the output; its first group.
    std::optional<std::string> wait_for(const std::regex& re, std::chrono::milliseconds limit) {
        const auto end = std::chrono::steady_clock::now() + limit;
        for (;;) {
            std::smatch m;
            const std::string out = output();
            if (std::regex_search(out, m, re)) return m.size() > 1 ? m[1].str() : m[0].str();
            if (std::chrono::steady_clock::now() > end || !running()) return std::nullopt;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    }

private:
    std::filesystem::path log_;
    pid_t pid_ = -1;
    int status_ = 0;
};

// A free TCP port on 127.0.0.1 (bound, read, closed: a small race, fine on loopback).
inline int free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
}

// `upstream serve` on 127.0.0.1:`port` (0: any) over the database `db`, with the
// test PKI in `pki`; returns the port it listens on.
// `db`: a SQLite file or a postgresql:// URL, as `upstream serve --db` takes.
inline std::unique_ptr<Child> start_replica(const std::filesystem::path& pki, const std::string& db,
                                            int port, const std::filesystem::path& log, int* bound_port) {
    auto argv = cp::testing::argv_for((cp::testing::bin_dir() / "upstream").string());
    const std::vector<std::string> args = {"serve", "--db", db, "--cert", (pki / "server.crt").string(),
                                           "--key", (pki / "server.key").string(), "--client-ca",
                                           (pki / "fleet-ca.crt").string(), "--port", std::to_string(port)};
    argv.insert(argv.end(), args.begin(), args.end());
    // A restarted replica may find its port still held for a moment: bounded retries.
    for (int attempt = 0; attempt < 20; ++attempt) {
        auto c = std::make_unique<Child>(argv, log);
        auto p = c->wait_for(std::regex(R"(listening https://[^:]+:(\d+))"), std::chrono::seconds(20));
        if (p) {
            *bound_port = std::stoi(*p);
            return c;
        }
        c->kill(SIGKILL);
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    FAIL("upstream serve did not start: " << cp::testing::read_file(log));
    return nullptr;
}

}  // namespace cp::sync::testing
