// The housekeeping thread's periodic jobs (docs/daemon.md, "Threads"): journal
// pruning, the systemd watchdog, status-list reload, the status bar and the
// screen's return to idle, and the STATUS= line.
#include "firmware/checkpointd/daemon.hpp"

#include "src/common/log.hpp"
#include "src/common/time.hpp"

#include <sys/statvfs.h>

#include <algorithm>
#include <cstdio>
#include <ctime>

namespace cp::daemon {

namespace {

bool same_bar(const display::StatusBar& a, const display::StatusBar& b) {
    return a.list_age_s == b.list_age_s && a.list_max_age_s == b.list_max_age_s &&
           a.journal_backlog == b.journal_backlog && a.sensor == b.sensor && a.network == b.network &&
           a.disk_low == b.disk_low && a.lane == b.lane && a.clock == b.clock;
}

}  // namespace

display::StatusBar Daemon::status_bar() {
    const config::Config& cfg = options_.config;
    display::StatusBar b;
    const std::int64_t now_s = wall_now_ms() / 1000;
    if (list_) {
        if (auto info = list_->info()) {
            // Seconds in the first minute, then whole minutes, so the screen
            // changes once a minute, not every second.
            const std::int64_t age = std::max<std::int64_t>(0, now_s - info->created_at);
            b.list_age_s = age < 60 ? age : age / 60 * 60;
        }
    }
    b.list_max_age_s = cfg.policy.max_list_age_s;
    struct statvfs vfs {};
    if (::statvfs(cfg.paths.data_dir.c_str(), &vfs) == 0) {
        const auto free_b = static_cast<std::int64_t>(vfs.f_bavail) * static_cast<std::int64_t>(vfs.f_frsize);
        b.disk_low = free_b < cfg.journal.disk_floor_bytes;
    }
    if (static_cast<JournalState>(journal_state_.load()) == JournalState::disk_full) b.disk_low = true;
    if (journal_) {
        if (auto st = journal_->stats()) b.journal_backlog = st->pending;
    }
    b.sensor = thermometer_missing_ ? display::Health::fault : static_cast<display::Health>(sensor_health_.load());
    b.network = network_health_now();
    // Short: the bar also holds list age, backlog, sensor, network and clock at 800 px.
    b.lane = cfg.device.id;
    std::time_t t = static_cast<std::time_t>(now_s);
    std::tm tm{};
    localtime_r(&t, &tm);
    // The date too: a device whose clock is wrong shows it at a glance.
    char clock[64];
    std::snprintf(clock, sizeof clock, "%04d-%02d-%02d %02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                  tm.tm_hour, tm.tm_min);
    b.clock = clock;
    return b;
}

void Daemon::housekeeping_loop() {
    name_thread("housekeeping");
    const auto wd = notifier_.watchdog_interval_ms();
    std::int64_t next_wd = monotonic_now_ms();
    std::int64_t next_bar = 0, next_reload = 0, next_status = 0;
    std::string last_status;
    for (;;) {
        {
            std::unique_lock lock(stop_mu_);
            std::int64_t wait = 250;
            if (wd) wait = std::min<std::int64_t>(wait, std::max<std::int64_t>(1, next_wd - monotonic_now_ms()));
            stop_cv_.wait_for(lock, std::chrono::milliseconds(wait), [this] { return stop_.load(); });
            if (stop_) break;
        }
        const std::int64_t now = monotonic_now_ms();
        if (journal_) {
            if (auto p = journal_->prune(); !p) log::warn("journal", "prune failed", {{"detail", p.error().message}});
        }

        if (wd && now >= next_wd) {
            // Ping only while the lane works: a stuck capture or decide thread
            // lets systemd's watchdog restart the daemon.
            const bool capture_ok = capture_ended_ || now - capture_beat_ms_ <= kStallMs;
            const bool decide_ok = now - decide_beat_ms_ <= kStallMs;
            if (capture_ok && decide_ok) {
                if (auto s = notifier_.send("WATCHDOG=1"); !s) log::warn("systemd", "watchdog ping failed");
            } else {
                log::error("checkpointd", "a thread is stalled: watchdog not pinged",
                           {{"capture_ok", capture_ok ? "1" : "0"}, {"decide_ok", decide_ok ? "1" : "0"}});
            }
            next_wd = now + *wd;
        }
        if (now >= next_reload) {
            reload_list();
            next_reload = now + 5000;
        }
        if (now >= next_bar) {
            next_bar = now + 1000;
            display::StatusBar bar = status_bar();
            bool lamps_off = false;
            {
                std::lock_guard lock(screen_mu_);
                bool changed = !same_bar(bar, model_.status);
                if (verdict_shown_ms_ >= 0 && now - verdict_shown_ms_ > kVerdictShownMs) {
                    model_ = idle_model();
                    verdict_shown_ms_ = -1;
                    verdict_on_screen_ = false;
                    changed = true;
                    lamps_off = true;
                    say("idle");
                }
                if (changed) {
                    model_.status = bar;
                    if (devices_.display) {
                        if (auto s = devices_.display->show(model_); !s)
                            log::error("screen", "show failed", {{"reason", s.error().reason}});
                    }
                }
            }
            if (lamps_off) (void)devices_.actuators->set_signal(gpio::Signal::off);
        }
        if (now >= next_status) {
            next_status = now + 5000;
            std::string disk = "?";
            struct statvfs vfs {};
            if (::statvfs(options_.config.paths.data_dir.c_str(), &vfs) == 0) {
                disk = std::to_string(static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize / (1024 * 1024)) + "MiB";
            }
            display::StatusBar bar = status_bar();
            std::string st = "STATUS=scans " + std::to_string(scans_.load()) + ", list age " +
                             (bar.list_age_s ? std::to_string(*bar.list_age_s / 60) + " min" : std::string("none")) +
                             ", backlog " + std::to_string(bar.journal_backlog) + ", disk free " + disk +
                             ", journal " + journal_state_word();
            if (journal_failures_ > 0) st += " (" + std::to_string(journal_failures_.load()) + " scans not recorded)";
            if (!options_.config.upstream.url.empty()) st += ", upstream " + std::string(network_label(bar.network));
            if (st != last_status) {
                (void)notifier_.send(st);
                last_status = st;
            }
        }
    }
}

}  // namespace cp::daemon
