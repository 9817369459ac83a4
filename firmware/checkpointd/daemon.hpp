// checkpointd: the lane. Threads (all named, all joined; docs/daemon.md):
//   capture      camera → FrameMailbox (newest frame only; older ones dropped)
//   decide       decode → verify → status → temperature → decide() → journal
//                commit → relay/lamps/buzzer → screen → --json line; inspector input
//   viewfinder   only with display.preview_fps > 0: the idle screen's camera
//                picture, aiming box and hints, at low priority on its own copy
//                of a frame (never on the decode path)
//   housekeeping status bar, list reload, screen back to idle, systemd
//                watchdog and STATUS= lines
//   sync         only with upstream.url: heartbeat, upload, list and trust pulls
//                (UpstreamLink, upstream_link.hpp)
//   main         signals (signalfd), start-up and shutdown (main.cpp)
//
// Thread-safety: start() and stop() from the main thread only.
#pragma once

#include "drivers/audio/audio.hpp"
#include "drivers/camera/frame_gate.hpp"
#include "drivers/factory/devices.hpp"
#include "drivers/trigger/trigger.hpp"
#include "firmware/checkpointd/frame_mailbox.hpp"
#include "firmware/checkpointd/lane_outputs.hpp"
#include "firmware/checkpointd/manual_resolver.hpp"
#include "firmware/checkpointd/reason.hpp"
#include "firmware/checkpointd/scan_pipeline.hpp"
#include "firmware/checkpointd/sd_notify.hpp"
#include "firmware/checkpointd/upstream_link.hpp"
#include "src/config/config.hpp"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace cp::daemon {

// Names the calling thread (top, ps -L, /proc/PID/task/*/comm).
void name_thread(const char* name);

struct DaemonOptions {
    config::Config config;
    bool json = false;            // a JSON line per decision on stdout
    bool exit_when_done = false;  // finish when the camera source ends (file/sim)
    devices::SimOptions sim;
    std::string version = "0";    // firmware version, sent in the upstream heartbeat
};

class Daemon {
public:
    // Opens the journal, status list, trust store and devices. Errors: the
    // failing part's error (journal-open, status-open, camera, gpio, ...).
    static Result<std::unique_ptr<Daemon>> create(DaemonOptions options, const Notifier& notifier);
    ~Daemon();
    Daemon(const Daemon&) = delete;
    Daemon& operator=(const Daemon&) = delete;

    // Starts the threads. Errors: internal/"thread".
    Status start();
    // Asks every thread to finish, joins them, closes the gate. Idempotent.
    void stop();
    // Readable (an eventfd) when the lane is done (--exit-when-done) or a
    // thread hit a fatal error; main() polls it next to the signalfd.
    int done_fd() const { return done_fd_; }
    // SIGHUP: switch to a status list another process installed.
    void reload_list();

private:
    static constexpr std::int64_t kVerdictShownMs = 6'000;  // then the screen goes back to idle
    static constexpr std::int64_t kStallMs = 10'000;        // a thread silent this long stops the watchdog pings

    Daemon(DaemonOptions options, const Notifier& notifier);
    void capture_loop();
    void decide_loop();
    void housekeeping_loop();  // housekeeping.cpp
    void viewfinder_loop();

    struct Lane;  // decide-thread state
    void handle_scan(Lane& lane, const std::string& text, std::int64_t frame_mono_ms);
    void handle_input(Lane& lane, bool during_scan);
    void resolve_manual(const ManualAction& action);
    void expire_pending(Lane& lane, std::int64_t mono_ms);
    bool lane_done(Lane& lane);  // after input and expiry: true when --exit-when-done is met
    void show(const display::ScreenModel& model, std::int64_t mono_ms, bool verdict);
    display::StatusBar status_bar();
    void signal_done();

    // Upstream sync (upstream_link.hpp); all no-ops without upstream.url.
    void open_upstream();                 // end of create(): journal and list are open
    std::string sensors_json() const;     // heartbeat sensors (sync thread)
    void prepare_new_issuers();           // a trust list was installed (sync thread)
    void take_new_issuers();              // swaps the verifier's store between scans (decide thread)
    display::Health network_health_now();

    DaemonOptions options_;
    const Notifier& notifier_;
    crypto::TrustStore trust_;
    std::unique_ptr<pass::PassVerifier> verifier_;
    std::unique_ptr<status::StatusList> list_;
    std::unique_ptr<journal::ScanJournal> journal_;
    IssuerTrust issuer_trust_;
    // After the journal and the list: destroyed (stopped and joined) before them.
    std::unique_ptr<UpstreamLink> upstream_;
    bool upstream_failed_ = false;        // configured but not running: health "down"
    bool thermometer_missing_ = false;    // a thermometer is configured but did not open
    devices::Devices devices_;
    std::unique_ptr<ScanPipeline> pipeline_;
    FrameMailbox mailbox_;
    std::unique_ptr<camera::FrameGate> gate_;  // camera.motion_gate; decide thread only
    // Viewfinder: capture copies a frame here at most display.preview_fps times a
    // second while the screen is idle; the viewfinder thread renders it with a
    // GuardScreen of its own and only takes screen_mu_ to put the image out.
    FrameMailbox preview_box_;
    std::unique_ptr<display::GuardScreen> preview_screen_;
    std::atomic<bool> verdict_on_screen_{false};
    std::thread viewfinder_;
    // The exposure the viewfinder asks for (short while it sees glare, automatic
    // 3 s after); the capture thread applies it between frames (it owns the camera).
    std::atomic<int> exposure_wanted_{static_cast<int>(camera::Exposure::automatic)};
    // Spoken prompts (audio.backend); null: no voice. Thread-safe (queues only).
    std::unique_ptr<audio::Voice> voice_;
    void say(const std::string& key);

    // Handheld (handheld.trigger != none): the decide thread waits on the trigger;
    // a press opens a scan window in which capture runs and frames are decoded.
    // Outside windows the capture thread waits on window_cv_: no frame is pulled
    // or decoded.
    std::unique_ptr<trigger::Trigger> trigger_;
    std::atomic<bool> window_open_{false};
    std::mutex window_mu_;
    std::condition_variable window_cv_;
    std::int64_t window_deadline_ms_ = 0;     // decide thread
    std::deque<std::string> recent_plates_;   // newest first, at most 5; under screen_mu_
    void open_window();
    void close_window(bool read_a_code);
    display::ScreenModel idle_model();        // with screen_mu_ held

    std::atomic<bool> stop_{false};
    std::mutex stop_mu_;
    std::condition_variable stop_cv_;
    std::thread capture_, decide_, housekeeping_;
    int done_fd_ = -1;
    bool stopped_ = false;

    // Shared with housekeeping.
    std::atomic<std::int64_t> capture_beat_ms_{0}, decide_beat_ms_{0};
    std::atomic<bool> capture_ended_{false};
    std::atomic<int> sensor_health_{static_cast<int>(display::Health::unknown)};
    std::atomic<std::int64_t> scans_{0};
    // The journal's last answer, and the scans it could not record (heartbeat, STATUS=).
    enum class JournalState { ok, disk_full, failed };
    std::atomic<int> journal_state_{static_cast<int>(JournalState::ok)};
    std::atomic<std::int64_t> journal_failures_{0};
    void note_journal(const Error* error);  // nullptr: a row was written
    const char* journal_state_word() const;

    std::mutex screen_mu_;  // the screen and its model; the json output
    display::ScreenModel model_;
    std::int64_t verdict_shown_ms_ = -1;
    JsonOut json_;
};

}  // namespace cp::daemon
