// checkpointd --config FILE [--board FILE] [--json] [--exit-when-done] [--lane FILE]
// checkpointd --config FILE [--board FILE] --check-config
// checkpointd --root DIR [--config FILE] [--board FILE] ...   (a provisioned tree on a bench)
// checkpointd --help | --version
//
// Exit codes: 0 clean shutdown (SIGTERM/SIGINT, or the lane ended with
// --exit-when-done); 1 start-up failure (journal, devices); 2 usage or
// configuration error (the message names the key); --help and --version exit 0.
#include "firmware/checkpointd/daemon.hpp"
#include "firmware/checkpointd/sd_notify.hpp"
#include "src/cli/args.hpp"
#include "src/common/log.hpp"
#include "src/config/config.hpp"
#include "src/config/config_request.hpp"

#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

namespace {

cp::log::Level level_of(const std::string& s) {
    if (s == "debug") return cp::log::Level::debug;
    if (s == "warn") return cp::log::Level::warn;
    if (s == "error") return cp::log::Level::error;
    return cp::log::Level::info;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace cp;
    std::string config_path, board_path, root;
    daemon::DaemonOptions opts;
    bool check_only = false;
    CLI::App app{"checkpointd: the lane daemon. Exit status: 0 clean shutdown (SIGTERM/SIGINT, or the lane ended "
                 "with --exit-when-done); 1 start-up failure (journal, devices); 2 usage or configuration error "
                 "(the message names the key).",
                 "checkpointd"};
    cli::configure(app);
    app.set_version_flag("--version", std::string("checkpointd ") + CHECKPOINT_VERSION, "print the version and exit");
    auto* config = app.add_option("--config", config_path, "checkpointd.conf (docs/configuration.md)")
                       ->type_name("FILE");
    app.add_option("--board", board_path,
                   "board file, instead of the one device.board names (a relative path is read from the current "
                   "folder)")
        ->type_name("FILE");
    auto* root_opt = app.add_option("--root", root,
                                    "bench: a tools/provision tree; the device's absolute paths (/etc/checkpoint, "
                                    "/var/lib/checkpoint, /run/checkpoint) are read and written under DIR; --config "
                                    "defaults to DIR/etc/checkpoint/checkpointd.conf")
                         ->type_name("DIR");
    app.add_flag("--json", opts.json, "one JSON line per decision on stdout");
    app.add_flag("--exit-when-done", opts.exit_when_done, "exit 0 when the camera source ends (file or sim lane)");
    app.add_option("--lane", opts.sim.lane_script, "lane script for the sim camera, thermometer and input")
        ->type_name("FILE");
    app.add_flag("--check-config", check_only,
                 "read the configuration and board file, print the effective configuration and exit (0 accepted, "
                 "2 refused); opens nothing else");
    app.callback([&] {
        if (config->count() == 0 && root_opt->count() == 0) throw CLI::RequiredError("--config FILE or --root DIR");
    });
    if (auto rc = cli::parse(app, argc, argv)) return *rc;

    const config::ConfigRequest req{config_path, board_path, root};
    config_path = config::config_path_of(req);
    auto cfg = config::load_config(req);
    if (!cfg) {
        std::fprintf(stderr, "checkpointd: configuration rejected: %s\n", cfg.error().message.c_str());
        return 2;
    }
    if (check_only) {
        std::printf("%s", config::to_text(*cfg).c_str());
        std::fprintf(stderr, "checkpointd: configuration accepted: %s\n", config_path.c_str());
        return 0;
    }
    opts.config = std::move(*cfg);
    opts.version = CHECKPOINT_VERSION;
    log::set_level(level_of(opts.config.log.level));

    // Frames (2.7 MB at 1280x720) are allocated and freed many times a second.
    // A fixed mmap threshold returns each one to the kernel on free; glibc's
    // default raises the threshold after the first free and then keeps freed
    // frames in per-thread arenas, which only ever grows the RSS.
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    mallopt(M_ARENA_MAX, 2);

    // Signals are read from a signalfd by this thread only: block them before
    // any thread starts, so every thread inherits the mask.
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    if (pthread_sigmask(SIG_BLOCK, &mask, nullptr) != 0) return 1;
    ::signal(SIGPIPE, SIG_IGN);
    const int sfd = ::signalfd(-1, &mask, SFD_CLOEXEC);
    if (sfd < 0) {
        log::error("checkpointd", "signalfd failed", {{"errno", std::strerror(errno)}});
        return 1;
    }

    daemon::Notifier notifier;
    auto d = daemon::Daemon::create(std::move(opts), notifier);
    if (!d) {
        log::error("checkpointd", "start-up failed", {{"reason", d.error().reason}, {"detail", d.error().message}});
        (void)notifier.send("STATUS=start-up failed: " + d.error().reason);
        return 1;
    }
    if (auto s = (*d)->start(); !s) {
        log::error("checkpointd", "start-up failed", {{"reason", s.error().reason}});
        return 1;
    }
    (void)notifier.send("READY=1\nSTATUS=lane running");
    log::info("checkpointd", "running", {{"pid", std::to_string(::getpid())},
                                         {"watchdog_ms", notifier.watchdog_interval_ms()
                                                             ? std::to_string(*notifier.watchdog_interval_ms())
                                                             : std::string("off")}});

    const char* why = "signal";
    for (bool run = true; run;) {
        pollfd fds[2] = {{sfd, POLLIN, 0}, {(*d)->done_fd(), POLLIN, 0}};
        if (::poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (fds[1].revents & POLLIN) {
            why = "lane done";
            break;
        }
        if (fds[0].revents & POLLIN) {
            signalfd_siginfo si{};
            if (::read(sfd, &si, sizeof si) != static_cast<ssize_t>(sizeof si)) continue;
            if (si.ssi_signo == SIGHUP) {
                log::info("checkpointd", "SIGHUP: status list reload");
                (*d)->reload_list();
            } else {
                why = si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT";
                run = false;
            }
        }
    }
    (void)notifier.send("STOPPING=1\nSTATUS=stopping");
    log::info("checkpointd", "stopping", {{"why", why}});
    (*d)->stop();
    d->reset();
    ::close(sfd);
    return 0;
}
