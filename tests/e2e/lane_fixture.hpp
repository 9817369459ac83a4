// Test fixture for checkpointd as a process: generated keys, passes, a signed
// and installed status list, a lane script and a config, all made at test time
// in a temporary folder; a way to start the daemon (under $CHECKPOINT_EMULATOR
// when set, via tests/testing.hpp) and read its --json lines as they come.
// Used by tests/e2e and tests/firmware.
#pragma once

#include "src/common/bytes.hpp"
#include "src/common/time.hpp"
#include "src/crypto/crypto.hpp"
#include "src/crypto/trust_store.hpp"
#include "src/journal/journal.hpp"
#include "src/pass/claims.hpp"
#include "src/pass/cose.hpp"
#include "src/pass/issuer.hpp"
#include "src/status/list_format.hpp"
#include "src/status/store.hpp"
#include "tests/testing.hpp"

#include <doctest/doctest.h>
#include <sqlite3.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace cp::lanetest {

// The text of `PRAGMA integrity_check` on a SQLite file, read-only ("ok" when sound).
inline std::string integrity_check(const std::filesystem::path& db) {
    sqlite3* h = nullptr;
    std::string out;
    if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
        sqlite3_stmt* st = nullptr;
        if (sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &st, nullptr) == SQLITE_OK) {
            while (sqlite3_step(st) == SQLITE_ROW) out += reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
            sqlite3_finalize(st);
        }
    }
    sqlite3_close(h);
    return out;
}

namespace fs = std::filesystem;

inline bool under_emulator() {
    const char* e = std::getenv("CHECKPOINT_EMULATOR");
    return e != nullptr && *e != '\0';
}

template <typename T>
T must(Result<T> r, const char* what) {
    if (!r) throw std::runtime_error(std::string(what) + ": " + r.error().describe());
    return std::move(r).value();
}

struct Issuer {
    crypto::PrivateKey key;
    Bytes cert_der;
    Bytes kid;
};

inline Issuer make_issuer(const std::string& cn) {
    auto key = must(crypto::PrivateKey::generate_p256(), "keygen");
    auto der = must(key.self_signed_certificate(cn, wall_now_ms() / 1000 - 86400, 3650), "certificate");
    Bytes kid = crypto::kid_of(der);
    return Issuer{std::move(key), std::move(der), std::move(kid)};
}

inline pass::PassId random_id() {
    pass::PassId id{};
    if (!crypto::random_bytes(id.data(), id.size())) throw std::runtime_error("random");
    return id;
}

// One person at the lane and what the test expects the lane to show.
struct Person {
    std::string label;
    std::string masked_name;
    std::string qr;
    std::optional<pass::PassId> id;     // the pass id as journaled (signature-valid passes)
    std::optional<double> temperature_c = 36.6;
    nlohmann::json extra = nlohmann::json::object();  // more lane-script keys
    std::string verdict;                // expected scan verdict
    std::string reason;                 // expected reason code
    std::string manual;                 // expected manual row verdict ("" none)
    bool repeat = false;                // expected to be a repeat (not journaled)
};

inline Person person(std::string label, std::string name, std::string qr, std::optional<pass::PassId> id,
                     std::string verdict, std::string reason) {
    Person p;
    p.label = std::move(label);
    p.masked_name = std::move(name);
    p.qr = std::move(qr);
    p.id = id;
    p.verdict = std::move(verdict);
    p.reason = std::move(reason);
    return p;
}

// Keys, trust folder and list-signing key of one test.
class World {
public:
    explicit World(const fs::path& dir) : dir_(dir) {
        fs::create_directories(dir / "trust");
        fs::create_directories(dir / "data");
        testing::write_file(dir / "trust" / "issuer.crt", crypto::certificate_pem(issuer.cert_der));
        now_s = wall_now_ms() / 1000;
    }

    Issuer issuer = make_issuer("test issuer");
    Issuer rogue = make_issuer("test issuer");  // same name, not trusted
    Issuer list_signer = make_issuer("test list signer");
    std::int64_t now_s = 0;

    pass::Pass make_pass(pass::Kind kind, const std::string& name, std::int64_t iat_off = -30 * 86400,
                         std::int64_t exp_off = 365 * 86400) const {
        pass::Pass p;
        p.issuer = "CN-HL-DQ";
        p.issued_at = now_s + iat_off;
        p.expires_at = now_s + exp_off;
        p.id = random_id();
        p.kind = kind;
        p.name = name;
        if (kind == pass::Kind::resident) p.grid = "ranghulu.xinghua.07";
        if (kind == pass::Kind::driver) p.plate = "HLE12345";
        if (kind == pass::Kind::entry) p.entry = pass::EntryRegistration{"Harbin", now_s, "car"};
        return p;
    }
    std::string issue(const pass::Pass& p, const Issuer& by) const {
        return must(pass::issue_cp1(p, by.key, by.kid), "issue");
    }
    // Signed by the rogue key but claiming the trusted issuer's kid: a forgery.
    std::string forge_with_trusted_kid(const pass::Pass& p) const {
        auto payload = must(pass::encode_cp1_claims(p), "claims");
        auto cose = must(pass::cose_sign1_sign(payload, rogue.key, issuer.kid), "sign");
        return must(pass::qr_text_from_cose("CP1:", cose), "qr");
    }

    // Builds, signs and installs a full list into data/status.db.
    void install_list(const std::vector<std::pair<pass::PassId, status::Op>>& entries, std::int64_t created_at,
                      std::int64_t version = 1) const {
        status::ListHeader h;
        h.kind = status::ListKind::full;
        h.version = version;
        h.created_at = created_at;
        h.reasons = {"", "isolation", "close-contact"};
        h.issuer = "CN-HL-DQ";
        std::vector<status::ListEntry> es;
        for (const auto& [id, op] : entries) {
            status::ListEntry e;
            e.id = id;
            e.op = op;
            e.reason = op == status::Op::red ? 1 : op == status::Op::yellow ? 2 : 0;
            e.since = static_cast<std::uint32_t>(created_at);
            es.push_back(e);
        }
        auto bytes = must(status::build_list(h, es, list_signer.key, list_signer.kid), "build list");
        crypto::TrustStore trust;
        if (!trust.add_pem_or_der(list_signer.cert_der)) throw std::runtime_error("trust");
        auto store = must(status::open_sqlite_status_list((dir_ / "data" / "status.db").string()), "status open");
        must(store->import_bytes(bytes, trust), "import");
    }

    fs::path dir() const { return dir_; }

private:
    fs::path dir_;
};

inline nlohmann::json lane_script(const std::vector<Person>& people, int hold_frames = 20) {
    nlohmann::json s;
    s["version"] = 1;
    s["lead_frames"] = 5;
    s["people"] = nlohmann::json::array();
    for (const auto& p : people) {
        nlohmann::json j;
        j["qr"] = p.qr;
        if (p.temperature_c) j["temperature_c"] = *p.temperature_c;
        j["arrive_frames"] = 4;
        j["hold_frames"] = hold_frames;
        j["leave_frames"] = 3;
        j["gap_frames"] = 6;
        for (auto it = p.extra.begin(); it != p.extra.end(); ++it) j[it.key()] = it.value();
        s["people"].push_back(j);
    }
    return s;
}

// A config for the host-sim board with everything under `dir`; `more` is appended
// (later sections may repeat a section header: keys must stay unique). The device
// id is "test-<lane>" unless `device_id` is given (e.g. one the test PKI enrolled).
inline std::string config_text(const fs::path& dir, const std::string& lane = "gate", const std::string& more = "",
                               const std::string& device_id = "") {
    std::ostringstream c;
    c << "[device]\nid = " << (device_id.empty() ? "test-" + lane : device_id) << "\nsite = test\nlane = " << lane
      << "\n"
      << "[paths]\ndata_dir = " << (dir / "data").string() << "\njournal = " << (dir / "data" / "journal.db").string()
      << "\nstatus_db = " << (dir / "data" / "status.db").string() << "\ntrust_dir = " << (dir / "trust").string()
      << "\nscreen_dir = " << (dir / "screens").string() << "\n"
      << "[display]\nbackend = sim\n[input]\nbackend = sim\n[log]\nlevel = info\n"
      // 960x540 instead of the board's 1280x720: rendering the sim lane is the
      // slow part of these tests, and the code stays large enough to read.
      << "[camera]\nfps = " << (under_emulator() ? 5 : 20) << "\nwidth = 960\nheight = 540\n"
      << more;
    return c.str();
}

inline fs::path board_file() {
    const char* src = std::getenv("CHECKPOINT_SOURCE");
    fs::path root = src != nullptr ? fs::path(src) : fs::path(CHECKPOINT_TEST_SOURCE_DIR);
    return root / "board" / "host-sim" / "board.conf";
}

// checkpointd as a child process: stdout (the --json lines) through a pipe,
// stderr (the log) into a file.
class Process {
public:
    Process(const std::vector<std::string>& args, const fs::path& stderr_file,
            const std::vector<std::string>& extra_env = {}) {
        std::vector<std::string> argv = testing::argv_for((testing::bin_dir() / "checkpointd").string());
        argv.insert(argv.end(), args.begin(), args.end());
        int out[2];
        if (::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
        posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, stderr_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        std::vector<char*> cargv;
        for (auto& a : argv) cargv.push_back(a.data());
        cargv.push_back(nullptr);
        std::vector<std::string> env_store;
        for (char** e = environ; *e != nullptr; ++e) {
            std::string kv = *e;
            bool replaced = false;
            for (const auto& x : extra_env) replaced = replaced || kv.substr(0, kv.find('=') + 1) == x.substr(0, x.find('=') + 1);
            if (!replaced) env_store.push_back(kv);
        }
        for (const auto& x : extra_env) env_store.push_back(x);
        std::vector<char*> cenv;
        for (auto& e : env_store) cenv.push_back(e.data());
        cenv.push_back(nullptr);
        int rc = posix_spawnp(&pid_, cargv[0], &fa, nullptr, cargv.data(), cenv.data());
        posix_spawn_file_actions_destroy(&fa);
        ::close(out[1]);
        if (rc != 0) {
            ::close(out[0]);
            throw std::runtime_error("spawn checkpointd: " + std::string(std::strerror(rc)));
        }
        fd_ = out[0];
    }
    ~Process() {
        if (pid_ > 0 && !exited_) {
            ::kill(pid_, SIGKILL);
            int st = 0;
            ::waitpid(pid_, &st, 0);
        }
        if (fd_ >= 0) ::close(fd_);
    }
    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;

    pid_t pid() const { return pid_; }

    // Reads stdout for up to timeout_ms; returns complete lines read so far (all of them).
    const std::vector<std::string>& read_for(int timeout_ms) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
        while (fd_ >= 0) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
            if (left <= 0) break;
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
            char buf[4096];
            ssize_t n = ::read(fd_, buf, sizeof buf);
            if (n <= 0) {
                ::close(fd_);
                fd_ = -1;
                break;
            }
            partial_.append(buf, static_cast<std::size_t>(n));
            for (auto nl = partial_.find('\n'); nl != std::string::npos; nl = partial_.find('\n')) {
                lines_.push_back(partial_.substr(0, nl));
                partial_.erase(0, nl + 1);
            }
        }
        return lines_;
    }
    // Reads until stdout closes or the time is up.
    const std::vector<std::string>& read_all(int timeout_ms) { return read_for(timeout_ms); }
    const std::vector<std::string>& lines() const { return lines_; }

    // Waits for the exit; returns the exit status, or nullopt after timeout_ms (still running).
    std::optional<int> wait(int timeout_ms) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
        for (;;) {
            int st = 0;
            pid_t r = ::waitpid(pid_, &st, WNOHANG);
            if (r == pid_) {
                exited_ = true;
                if (WIFEXITED(st)) return WEXITSTATUS(st);
                return 128 + WTERMSIG(st);
            }
            if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
            if (fd_ >= 0) read_for(20);
            else std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    }
    void signal(int sig) { ::kill(pid_, sig); }

private:
    pid_t pid_ = -1;
    int fd_ = -1;
    bool exited_ = false;
    std::string partial_;
    std::vector<std::string> lines_;
};

inline std::vector<nlohmann::json> parse_lines(const std::vector<std::string>& lines) {
    std::vector<nlohmann::json> out;
    for (const auto& l : lines) {
        auto j = nlohmann::json::parse(l, nullptr, false);
        if (j.is_discarded()) FAIL("not a JSON line: " << l);
        out.push_back(std::move(j));
    }
    return out;
}

// Every journal row, read with a fresh connection after the daemon is gone.
inline std::vector<journal::ScanRecord> journal_rows(const fs::path& db) {
    journal::JournalOptions jo;
    jo.disk_floor_bytes = 0;
    jo.integrity = journal::IntegrityCheck::full;
    auto j = must(journal::ScanJournal::open(db.string(), jo), "journal open");
    return must(j->tail(1'000'000), "journal tail");
}

inline int count_relay_pulses(const fs::path& gpio_log) {
    std::ifstream in(gpio_log);
    int n = 0;
    for (std::string l; std::getline(in, l);) {
        if (l.find("gate-relay on") != std::string::npos) ++n;
    }
    return n;
}

}  // namespace cp::lanetest
