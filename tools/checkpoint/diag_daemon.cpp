// `checkpoint diag`: the running checkpointd of this configuration.
#include "tools/checkpoint/diag.hpp"

#include "src/config/config_request.hpp"

#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace cp::cli::diag {

namespace fs = std::filesystem;

namespace {

std::string canonical_or(const fs::path& p) {
    std::error_code ec;
    auto c = fs::weakly_canonical(p, ec);
    return ec ? p.string() : c.string();
}

long parent_of(const fs::path& proc_dir) {
    std::ifstream in(proc_dir / "stat");
    std::string stat;
    std::getline(in, stat);
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
    const auto close = stat.rfind(')');
    if (close == std::string::npos) return 0;
    char state = 0;
    long ppid = 0;
    if (std::sscanf(stat.c_str() + close + 1, " %c %ld", &state, &ppid) != 2) return 0;
    return ppid;
}

// A process whose command line runs checkpointd (possibly under an emulator) with
// --config (or --root) naming the same file as ours. A wrapper (`timeout 600
// checkpointd ...`, a shell that did not exec) has the same words in its command
// line: of a parent and its child that both match, the child is the daemon.
std::optional<long> find_daemon_pid(const std::string& config_path) {
    const std::string want = canonical_or(fs::absolute(config_path));
    std::error_code ec;
    std::vector<std::pair<long, long>> found;  // pid, parent
    for (const auto& e : fs::directory_iterator("/proc", ec)) {
        const std::string name = e.path().filename().string();
        long pid = 0;
        auto [p, perr] = std::from_chars(name.data(), name.data() + name.size(), pid);
        if (perr != std::errc() || p != name.data() + name.size() || pid == ::getpid()) continue;
        std::ifstream in(e.path() / "cmdline", std::ios::binary);
        std::vector<std::string> argv;
        for (std::string a; std::getline(in, a, '\0');) argv.push_back(a);
        bool is_daemon = false;
        std::optional<std::string> cfg_arg, root_arg;
        for (std::size_t i = 0; i < argv.size(); ++i) {
            if (fs::path(argv[i]).filename() == "checkpointd") is_daemon = true;
            if (!is_daemon || i + 1 >= argv.size()) continue;
            if (argv[i] == "--config") cfg_arg = argv[i + 1];
            if (argv[i] == "--root") root_arg = argv[i + 1];
        }
        if (!is_daemon || (!cfg_arg && !root_arg)) continue;
        std::error_code cwd_ec;
        const fs::path cwd = fs::read_symlink(e.path() / "cwd", cwd_ec);
        fs::path cfg = cfg_arg ? fs::path(*cfg_arg)
                               : fs::path(*root_arg) / fs::path(config::config_path_of({"", "", "/"})).relative_path();
        if (cfg.is_relative()) cfg = cwd / cfg;
        if (canonical_or(cfg) == want) found.emplace_back(pid, parent_of(e.path()));
    }
    for (const auto& [pid, parent] : found) {
        bool has_child = false;
        for (const auto& other : found) has_child = has_child || other.second == pid;
        if (!has_child) return pid;
    }
    return std::nullopt;
}

std::string run_text(const std::string& cmd) {
    std::string out;
    if (std::FILE* p = ::popen(cmd.c_str(), "r")) {
        char buf[256];
        std::size_t n;
        while ((n = std::fread(buf, 1, sizeof buf, p)) > 0 && out.size() < 4096) out.append(buf, n);
        ::pclose(p);
    }
    return out;
}

}  // namespace

DaemonInfo find_daemon(const std::string& config_path) {
    DaemonInfo d;
    std::error_code ec;
    if (fs::exists("/run/systemd/system", ec)) {
        // Type=notify: "active" means checkpointd sent READY=1.
        std::istringstream out(run_text(
            "systemctl show checkpointd.service -p ActiveState -p SubState -p MainPID 2>/dev/null"));
        std::string active, sub;
        long main_pid = 0;
        for (std::string line; std::getline(out, line);) {
            auto eq = line.find('=');
            if (eq == std::string::npos) continue;
            std::string k = line.substr(0, eq), v = line.substr(eq + 1);
            if (k == "ActiveState") active = v;
            else if (k == "SubState") sub = v;
            else if (k == "MainPID") main_pid = std::atol(v.c_str());
        }
        if (!active.empty()) d.unit_state = active + "/" + sub;
        if (main_pid > 0) {
            d.pid = main_pid;
            d.systemd_state = d.unit_state;
        }
    }
    // Outside the unit (by hand, in tests): readiness is not known.
    if (!d.pid) d.pid = find_daemon_pid(config_path);
    return d;
}

// True when `pid` has `device` open (a V4L2 node is exclusive in practice). When

// its file descriptors cannot be read (another user, ProtectProc), assume it does.
bool holds_device(long pid, const std::string& device) {
    const std::string want = canonical_or(device);
    std::error_code ec;
    fs::directory_iterator it(fs::path("/proc") / std::to_string(pid) / "fd", ec);
    if (ec) return true;
    for (const auto& e : it) {
        std::error_code lec;
        if (fs::read_symlink(e.path(), lec).string() == want) return true;
    }
    return false;
}

Check check_daemon(const DaemonInfo& d) {
    Check c("checkpointd");
    if (!d.pid) {
        c.level = Level::warn;
        c.value = "not running" + (d.unit_state.empty() ? std::string() : " (systemd: " + d.unit_state + ")") +
                  ": the lane is down";
        return c;
    }
    c.data["pid"] = *d.pid;
    c.value = "pid " + std::to_string(*d.pid);
    if (d.systemd_state.empty()) {
        c.value += ", readiness not known (not a systemd service)";
    } else if (d.systemd_state.rfind("active/", 0) == 0) {
        c.value += ", ready (systemd: " + d.systemd_state + ")";
        c.data["ready"] = true;
    } else {
        c.level = Level::warn;
        c.value += ", not ready (systemd: " + d.systemd_state + ")";
        c.data["ready"] = false;
    }
    return c;
}

}  // namespace cp::cli::diag
