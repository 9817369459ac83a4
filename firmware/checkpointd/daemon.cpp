#include "firmware/checkpointd/daemon.hpp"
#include "firmware/checkpointd/reason.hpp"

#include "drivers/camera/viewfinder.hpp"
#include "firmware/checkpointd/json_line.hpp"
#include "firmware/checkpointd/lane_outputs.hpp"
#include "src/common/log.hpp"
#include "src/common/time.hpp"

#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <thread>

namespace cp::daemon {
namespace fs = std::filesystem;

namespace {

bool cfg_truck(const config::Config& c) { return c.device.lane == decision::LaneMode::truck; }

// Moves a journal that failed its integrity check aside (kept for a technician);
// returns its new path.
std::string move_aside(const std::string& path) {
    const std::string suffix = ".corrupt-" + std::to_string(wall_now_ms() / 1000);
    std::error_code ec;
    for (const char* ext : {"", "-wal", "-shm"}) {
        if (fs::exists(path + ext, ec)) fs::rename(path + ext, path + suffix + ext, ec);
    }
    return path + suffix;
}

// The rows a moved-aside journal had not uploaded yet go into the new journal
// (uploaded first, under their own epoch and scan ids); what cannot be read is
// counted there as lost and reported in the heartbeat. Nothing goes silently.
void carry_pending(journal::ScanJournal& into, const std::string& aside) {
    journal::Salvage sv = journal::salvage_pending(aside);
    // Rows written in the new journal's epoch cannot be told apart from its own:
    // vanishingly unlikely (a random 53-bit epoch), but then they count as lost.
    const auto same = std::count_if(sv.rows.begin(), sv.rows.end(),
                                    [&](const journal::ScanRecord& r) { return r.epoch == into.epoch(); });
    if (same > 0) {
        sv.rows.erase(std::remove_if(sv.rows.begin(), sv.rows.end(),
                                     [&](const journal::ScanRecord& r) { return r.epoch == into.epoch(); }),
                      sv.rows.end());
        sv.lost.rows += same;
        sv.lost.journals = 1;
    }
    auto st = into.carry(sv.rows, sv.lost);
    if (!st) {
        log::error("journal", "pending rows of the moved-aside journal not carried over: counted as lost",
                   {{"reason", st.error().reason}, {"detail", st.error().message}});
        journal::Losses all = sv.lost;
        all.rows += static_cast<std::int64_t>(sv.rows.size());
        all.journals = 1;
        if (auto s2 = into.carry({}, all); !s2)
            log::error("journal", "loss not recorded", {{"reason", s2.error().reason}});
        return;
    }
    log::warn("journal", "pending rows of the moved-aside journal carried over for upload",
              {{"path", aside}, {"rows", std::to_string(sv.rows.size())}, {"epoch", std::to_string(sv.epoch)},
               {"lost_rows", std::to_string(sv.lost.rows)}, {"unreadable", sv.lost.journals ? "yes" : "no"}});
}

}  // namespace

void name_thread(const char* name) { pthread_setname_np(pthread_self(), name); }

// ---- Daemon -----------------------------------------------------------------

struct Daemon::Lane {
    std::string typed_plate;
    decision::Direction direction = decision::Direction::in;
    ManualResolver manual;  // the YELLOW a guard's key press resolves
};

Daemon::Daemon(DaemonOptions options, const Notifier& notifier)
    : options_(std::move(options)), notifier_(notifier), json_(options_.json) {}

Daemon::~Daemon() {
    stop();
    if (done_fd_ >= 0) ::close(done_fd_);
}

Result<std::unique_ptr<Daemon>> Daemon::create(DaemonOptions options, const Notifier& notifier) {
    std::unique_ptr<Daemon> d(new Daemon(std::move(options), notifier));
    const config::Config& cfg = d->options_.config;

    std::error_code ec;
    fs::create_directories(cfg.paths.data_dir, ec);
    if (ec) return fail(ErrorKind::io, reason::data_dir, cfg.paths.data_dir + ": " + ec.message());
    d->done_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (d->done_fd_ < 0) return fail(ErrorKind::internal, reason::eventfd, std::strerror(errno));

    // Trust store: without one every pass is "unknown issuer" (YELLOW), which a
    // guard handles; refusing to start would leave the lane with no screen at all.
    // With upstream sync, the issuers it installed earlier count too.
    if (auto trust = load_issuers(cfg.paths.trust_dir, cfg.upstream.url.empty() ? "" : cfg.upstream.trust_dir)) {
        d->trust_ = std::move(*trust);
        log::info("trust", "issuers loaded", {{"certificates", std::to_string(d->trust_.size())}});
    } else {
        log::error("trust", "no issuer certificates: every pass goes to manual check",
                   {{"path", cfg.paths.trust_dir}, {"reason", trust.error().reason}});
    }
    pass::VerifierOptions vo;
    vo.skew_seconds = cfg.policy.clock_skew_s;
    d->verifier_ = std::make_unique<pass::PassVerifier>(d->trust_, vo);

    if (auto list = status::open_sqlite_status_list(cfg.paths.status_db)) {
        d->list_ = std::move(*list);
        if (auto info = d->list_->info()) {
            log::info("status", "list active", {{"version", std::to_string(info->version)},
                                                 {"entries", std::to_string(info->entries)},
                                                 {"created", format_iso8601(info->created_at)}});
        } else {
            log::warn("status", "no status list installed: scans go to manual check");
        }
    } else {
        log::error("status", "status list unusable: scans go to manual check",
                   {{"path", cfg.paths.status_db}, {"reason", list.error().reason}});
    }

    journal::JournalOptions jo;
    jo.device_id = cfg.device.id;
    jo.max_rows = cfg.journal.max_rows;
    jo.max_bytes = cfg.journal.max_bytes;
    jo.disk_floor_bytes = cfg.journal.disk_floor_bytes;
    jo.prune_in_append = false;  // the housekeeping thread prunes: no delete before a gate opens
    auto j = journal::ScanJournal::open(cfg.paths.journal, jo);
    if (!j && j.error().is(journal::reason::corrupt)) {
        log::error("journal", "integrity check failed: moved aside, starting a new journal",
                   {{"path", cfg.paths.journal}});
        const std::string aside = move_aside(cfg.paths.journal);
        j = journal::ScanJournal::open(cfg.paths.journal, jo);
        if (j) carry_pending(**j, aside);
    }
    if (!j) return fail(j.error());
    d->journal_ = std::move(*j);

    auto dev = devices::open_devices(cfg, d->options_.sim);
    if (!dev) return fail(dev.error());
    d->devices_ = std::move(*dev);
    // Configured but not there (no I2C bus, no sensor): a fault, not "none".
    // One that opened answered its bus: OK until a measurement says otherwise.
    d->thermometer_missing_ = cfg.thermometer.backend != "none" && !d->devices_.thermometer;
    if (d->devices_.thermometer) d->sensor_health_ = static_cast<int>(display::Health::ok);

    PipelineOptions po;
    po.policy = cfg.lane_policy();
    po.lane = cfg.device.lane == decision::LaneMode::truck ? "truck" : "gate";
    po.device_id = cfg.device.id;
    decode::DecoderOptions dopt;
    // About 15 ms (docs/decoding.md, lane simulation): the costly stages spent
    // on a blurred frame only delay the next, sharper one.
    dopt.budget_ms = 15;
    dopt.stop_at_first = true;   // one pass per scan
    d->pipeline_ = std::make_unique<ScanPipeline>(*d->verifier_, d->list_.get(), d->devices_.thermometer.get(),
                                                  *d->journal_, po, dopt);
    if (cfg.camera.motion_gate) d->gate_ = std::make_unique<camera::FrameGate>();
    if (cfg.display.preview_fps > 0 && d->devices_.display) {
        auto vs = display::GuardScreen::create(d->devices_.display->screen_config());
        if (vs) d->preview_screen_ = std::move(*vs);
        else log::warn("screen", "no viewfinder", {{"reason", vs.error().reason}});
    }
    if (cfg.handheld.trigger != "none") {
        Result<std::unique_ptr<trigger::Trigger>> t =
            cfg.handheld.trigger == "evdev" ? trigger::open_evdev_trigger(cfg.handheld.device, static_cast<std::uint16_t>(cfg.handheld.key))
            : cfg.handheld.trigger == "gpio" ? trigger::open_gpio_trigger(cfg.handheld.device, cfg.handheld.line)
                                             : Result<std::unique_ptr<trigger::Trigger>>(std::unique_ptr<trigger::Trigger>(
                                                   new trigger::SimTrigger(cfg.handheld.sim_interval_ms, 500)));
        // A handheld without its trigger cannot scan at all: a start-up failure.
        if (!t) return fail(t.error().with_context("handheld.trigger"));
        d->trigger_ = std::move(*t);
        log::info("checkpointd", "handheld", {{"trigger", d->trigger_->describe()},
                                              {"window_ms", std::to_string(cfg.handheld.window_ms)}});
    }
    if (cfg.audio.backend != "none") {
        // A lane without a voice still works: logged, the screen carries on alone.
        auto out = cfg.audio.backend == "sim" ? audio::open_sim_audio((fs::path(cfg.paths.data_dir) / "voice").string())
                                              : audio::open_alsa(cfg.audio.device);
        auto quiet = audio::parse_quiet_hours(cfg.audio.quiet_hours);
        if (out && quiet) {
            audio::VoiceConfig vc{cfg.audio.clip_dir, cfg.audio.language, cfg.audio.volume, cfg.audio.quiet_volume, *quiet};
            auto v = audio::Voice::create(vc, std::move(*out));
            if (v) d->voice_ = std::move(*v);
            else log::error("voice", "no voice", {{"reason", v.error().reason}, {"detail", v.error().message}});
        } else {
            const Error& e = out ? quiet.error() : out.error();
            log::error("voice", "no voice", {{"reason", e.reason}, {"detail", e.message}});
        }
    }
    d->open_upstream();
    log::info("checkpointd", "lane ready",
              {{"device", cfg.device.id}, {"lane", po.lane}, {"camera", d->devices_.camera->describe()},
               {"thermometer", d->devices_.thermometer ? d->devices_.thermometer->describe() : "none"},
               {"input", d->devices_.input ? d->devices_.input->describe() : "none"}});
    return d;
}

Status Daemon::start() {
    {
        std::lock_guard lock(screen_mu_);
        model_ = idle_model();
        model_.status = status_bar();
        if (devices_.display) {
            if (auto s = devices_.display->show(model_); !s) log::error("screen", "show failed", {{"reason", s.error().reason}});
        }
    }
    say("idle");
    const std::int64_t now = monotonic_now_ms();
    capture_beat_ms_ = decide_beat_ms_ = now;
    // Before the lane threads, which read upstream_ for the status bar.
    if (upstream_) {
        if (auto s = upstream_->start(); !s) {
            // The lane works offline; the status bar shows the link down.
            log::error("sync", "sync thread not started", {{"reason", s.error().reason}});
            upstream_.reset();
            upstream_failed_ = true;
        }
    }
    try {
        capture_ = std::thread([this] { capture_loop(); });
        decide_ = std::thread([this] { decide_loop(); });
        housekeeping_ = std::thread([this] { housekeeping_loop(); });
        if (preview_screen_) viewfinder_ = std::thread([this] { viewfinder_loop(); });
    } catch (const std::system_error& e) {
        stop();
        return fail(ErrorKind::internal, reason::thread, e.what());
    }
    return {};
}

void Daemon::stop() {
    if (stopped_) return;
    stopped_ = true;
    {
        std::lock_guard lock(stop_mu_);
        stop_ = true;
    }
    stop_cv_.notify_all();
    {
        std::lock_guard lock(window_mu_);  // a capture thread waiting for a window
    }
    window_cv_.notify_all();
    mailbox_.close();
    preview_box_.close();
    if (upstream_) upstream_->stop();  // joins the sync thread (a transfer is abandoned)
    for (std::thread* t : {&capture_, &decide_, &housekeeping_, &viewfinder_}) {
        if (t->joinable()) t->join();
    }
    if (voice_) (void)voice_->idle(3000);  // the last verdict is spoken to its end
    voice_.reset();                        // joins the voice thread
    if (devices_.actuators) {
        (void)devices_.actuators->close_gate();
        (void)devices_.actuators->set_signal(gpio::Signal::off);
    }
    log::info("checkpointd", "stopped", {{"scans", std::to_string(scans_.load())},
                                         {"frames_dropped", std::to_string(mailbox_.dropped())},
                                         {"frames_unchanged", std::to_string(gate_ ? gate_->skipped() : 0)},
                                         {"frames_decoded", std::to_string(gate_ ? gate_->passed() : 0)}});
}

void Daemon::reload_list() {
    if (!list_) return;
    auto r = list_->reload_if_changed();
    if (!r) log::error("status", "reload failed", {{"reason", r.error().reason}});
    else if (*r) log::info("status", "switched to a new list");
}

void Daemon::signal_done() {
    const std::uint64_t one = 1;
    (void)!::write(done_fd_, &one, sizeof one);
}

// ---- capture ----------------------------------------------------------------

void Daemon::capture_loop() {
    name_thread("capture");
    std::string last_problem;
    const int preview_fps = options_.config.display.preview_fps;
    std::int64_t next_preview = 0;
    int exposure_applied = static_cast<int>(camera::Exposure::automatic);
    bool standing_by = false;
    while (!stop_) {
        if (const int want = exposure_wanted_.load(); want != exposure_applied) {
            exposure_applied = want;
            const auto e = static_cast<camera::Exposure>(want);
            if (auto s = devices_.camera->set_exposure(e); !s)
                log::warn("camera", "exposure not set", {{"reason", s.error().reason}, {"detail", s.error().message}});
            else
                log::info("camera", "exposure", {{"mode", e == camera::Exposure::short_exposure ? "short" : "auto"}});
        }
        if (trigger_ && !window_open_) {
            // Handheld between presses: the camera stream is stopped, nothing is decoded.
            if (!standing_by) {
                devices_.camera->standby();
                standing_by = true;
            }
            std::unique_lock lock(window_mu_);
            window_cv_.wait_for(lock, std::chrono::milliseconds(250), [this] { return window_open_ || stop_; });
            capture_beat_ms_ = monotonic_now_ms();
            continue;
        }
        standing_by = false;
        auto f = devices_.camera->next_frame(200);
        capture_beat_ms_ = monotonic_now_ms();
        if (f) {
            // The viewfinder gets its own copy, at most preview_fps a second and
            // only while idle; the decode path keeps the original.
            if (preview_screen_ && !verdict_on_screen_ && capture_beat_ms_ >= next_preview) {
                preview_box_.put(*f);
                next_preview = capture_beat_ms_ + 1000 / preview_fps;
            }
            mailbox_.put(std::move(*f));
            last_problem.clear();
            continue;
        }
        const Error& e = f.error();
        if (e.is(camera::reason::end_of_stream)) {
            log::info("camera", "source ended");
            break;
        }
        if (!e.is(camera::reason::timeout) && e.reason != last_problem) {
            log::warn("camera", "no frame", {{"reason", e.reason}, {"detail", e.message}});
        }
        last_problem = e.reason;
    }
    capture_ended_ = true;
    mailbox_.close();
}

// ---- decide -----------------------------------------------------------------

void Daemon::decide_loop() {
    name_thread("decide");
    Lane lane;
    lane.direction = options_.config.device.direction;
    bool trigger_lost = false;
    while (!stop_) {
        decide_beat_ms_ = monotonic_now_ms();
        take_new_issuers();
        if (trigger_ && !window_open_) {
            if (lane_done(lane)) break;
            if (trigger_lost) {
                // No scans without a trigger; the lane's other duties (input, shutdown) go on.
                std::this_thread::sleep_for(std::chrono::milliseconds(200));
                continue;
            }
            auto pressed = trigger_->wait(200);
            if (!pressed) {
                log::error("checkpointd", "trigger lost: no more scans until restart", {{"reason", pressed.error().reason}});
                trigger_lost = true;
            } else if (*pressed) {
                open_window();
            }
            continue;
        }
        if (trigger_ && monotonic_now_ms() >= window_deadline_ms_) {
            close_window(false);
            continue;
        }
        if (auto f = mailbox_.take(50)) {
            const std::int64_t mono = f->timestamp_ms > 0 ? f->timestamp_ms : monotonic_now_ms();
            // An unchanged picture is not decoded again (a few tens of microseconds to tell).
            if (!gate_ || gate_->should_decode(*f, mono, pipeline_->code_or_likely_in_view(mono))) {
                auto code = pipeline_->read_code(f->view(), mono);
                if (!code) log::warn("decode", "frame refused", {{"reason", code.error().reason}});
                else if (*code) {
                    handle_scan(lane, **code, mono);
                    if (trigger_) close_window(true);
                }
            }
        }
        if (lane_done(lane)) break;
    }
}

bool Daemon::lane_done(Lane& lane) {
    handle_input(lane, false);
    expire_pending(lane, monotonic_now_ms());
    if (!options_.exit_when_done || !mailbox_.drained() || lane.manual.press_waiting()) return false;
    log::info("checkpointd", "lane script done");
    signal_done();
    return true;
}

void Daemon::handle_input(Lane& lane, bool during_scan) {
    if (!devices_.input) return;
    for (int i = 0; i < 32; ++i) {
        auto ev = devices_.input->poll(0);
        if (!ev) {
            log::error("input", "input lost", {{"reason", ev.error().reason}});
            devices_.input.reset();
            return;
        }
        if (!*ev) return;
        if (auto* p = std::get_if<input::PlateEntered>(&**ev)) {
            lane.typed_plate = p->text;
            // "1".."5": the plate of that line of the recent-plates list on the screen.
            if (p->text.size() == 1 && p->text[0] >= '1' && p->text[0] <= '5') {
                std::lock_guard lock(screen_mu_);
                const auto n = static_cast<std::size_t>(p->text[0] - '1');
                if (n < recent_plates_.size()) lane.typed_plate = recent_plates_[n];
            }
            log::info("input", "plate entered");
        } else if (auto* dset = std::get_if<input::DirectionSet>(&**ev)) {
            lane.direction = dset->direction == lane::Direction::out ? decision::Direction::out : decision::Direction::in;
        } else if (auto* m = std::get_if<input::ManualDecision>(&**ev)) {
            const std::int64_t mono = monotonic_now_ms();
            const OpenYellow* oy = lane.manual.open(mono);
            const bool in_view = oy && pipeline_->held_text() == oy->text && pipeline_->code_in_view(mono);
            if (auto a = lane.manual.press(m->decision == lane::Decision::allow, mono, during_scan, in_view))
                resolve_manual(*a);
        }
    }
}

void Daemon::expire_pending(Lane& lane, std::int64_t mono_ms) {
    const ManualResolver::Step step = lane.manual.expire(mono_ms);
    if (step.action) resolve_manual(*step.action);
    else if (step.ignored != ManualResolver::Ignored::none)
        log::warn("input", "manual decision without a YELLOW to resolve: ignored");
}

void Daemon::handle_scan(Lane& lane, const std::string& text, std::int64_t frame_mono_ms) {
    ++scans_;
    ScanResult r = pipeline_->evaluate(
        text,
        [&] {
            handle_input(lane, true);
            return LaneInput{lane.typed_plate, lane.direction};
        },
        wall_now_ms());
    // The journal row commits here, before anything on the lane moves.
    pipeline_->commit(r);
    note_journal(r.journal_error ? &*r.journal_error : nullptr);
    if (upstream_ && r.journaled && r.verdict == decision::Verdict::red) upstream_->wake();  // alerts go at once

    switch (r.measurement.status) {
    case thermo::MeasureStatus::ok:
    case thermo::MeasureStatus::no_reading:
    case thermo::MeasureStatus::out_of_range: sensor_health_ = static_cast<int>(display::Health::ok); break;
    case thermo::MeasureStatus::sensor_fault: sensor_health_ = static_cast<int>(display::Health::fault); break;
    }
    if (!devices_.thermometer) sensor_health_ = static_cast<int>(display::Health::unknown);

    act_on_scan(*devices_.actuators, r);
    show(scan_screen(r, cfg_truck(options_.config)), monotonic_now_ms(), true);
    say(audio::clip_key(r.reason));

    const config::Config& cfg = options_.config;
    LaneLabel label{pipeline_->options().lane, cfg.device.id};
    json_.emit(scan_json(r, label));
    log::info("scan", "decision",
              {{"pass_id", r.pass_id.empty() ? "-" : r.pass_id}, {"verdict", decision::to_string(r.verdict)},
               {"reason", r.reason}, {"seq", std::to_string(r.seq)}, {"repeat", r.decision.repeat ? "1" : "0"},
               {"gate", r.open_gate ? "open" : "closed"},
               // Capture of the frame to this line (lamps, relay and screen done):
               // the lane's frame -> verdict time, read by tests/bench/daemon.
               {"frame_ms", std::to_string(monotonic_now_ms() - frame_mono_ms)}});
    if (r.journal_error) {
        log::error("journal", "scan not journaled: gate closed",
                   {{"verdict", decision::to_string(r.verdict)}, {"reason", r.journal_error->reason},
                    {"detail", r.journal_error->message},
                    {"failures", std::to_string(journal_failures_.load())}});
    }

    if (!r.decision.plate.empty()) {
        std::lock_guard lock(screen_mu_);
        auto& rp = recent_plates_;
        rp.erase(std::remove(rp.begin(), rp.end(), r.decision.plate), rp.end());
        rp.push_front(r.decision.plate);
        if (rp.size() > 5) rp.pop_back();
    }
    // The inspector's plate belongs to one vehicle.
    if (cfg.device.lane == decision::LaneMode::truck && !r.decision.repeat) lane.typed_plate.clear();

    std::optional<OpenYellow> yellow;
    if (r.journaled && r.verdict == decision::Verdict::yellow) {
        OpenYellow oy;
        oy.seq = r.seq;
        oy.pass_id = r.pass_id;
        oy.kind = r.kind;
        oy.text = text;
        oy.plate = r.decision.plate;
        oy.direction = cfg.device.lane == decision::LaneMode::truck
                           ? (r.decision.direction == decision::Direction::out ? "out" : "in")
                           : "";
        if (r.pass) oy.name = r.pass->name;
        oy.mono_ms = monotonic_now_ms();
        yellow = std::move(oy);
    }
    const ManualResolver::Step step = lane.manual.scanned(std::move(yellow), r.decision.repeat, r.pass_id);
    if (step.action) resolve_manual(*step.action);
    else if (step.ignored != ManualResolver::Ignored::none)
        log::warn("input", "manual decision ignored: the scan is not YELLOW", {{"verdict", decision::to_string(r.verdict)}});
}

void Daemon::resolve_manual(const ManualAction& a) {
    const OpenYellow& oy = a.yellow;
    auto row = journal_->append_manual(oy.seq, a.allow ? "GREEN" : "RED", a.allow ? "manual-allow" : "manual-deny");
    note_journal(row ? nullptr : &row.error());
    const ManualLine ml = manual_line(a, row, wall_now_ms());
    if (row) {
        act_on_manual(*devices_.actuators, a.allow);
    } else {
        log::error("journal", "manual decision not journaled: gate closed", {{"reason", row.error().reason}});
    }
    show(manual_screen(a, row), monotonic_now_ms(), true);
    say(audio::clip_key(ml.reason));
    json_.emit(manual_json(ml, LaneLabel{pipeline_->options().lane, options_.config.device.id}));
    log::info("scan", "manual decision", {{"ref_seq", std::to_string(oy.seq)}, {"verdict", ml.verdict},
                                          {"seq", std::to_string(ml.seq)}});
}

// ---- screen -----------------------------------------------------------------

void Daemon::show(const display::ScreenModel& model, std::int64_t mono_ms, bool verdict) {
    display::StatusBar bar = status_bar();
    std::lock_guard lock(screen_mu_);
    model_ = model;
    model_.status = bar;
    if (verdict) {
        verdict_shown_ms_ = mono_ms;
        verdict_on_screen_ = true;
    }
    if (devices_.display) {
        if (auto s = devices_.display->show(model_); !s) log::error("screen", "show failed", {{"reason", s.error().reason}});
    }
}

// ---- handheld --------------------------------------------------------------------

display::ScreenModel Daemon::idle_model() {
    display::ScreenModel m;
    if (!trigger_) return m;
    if (window_open_) {
        m.prompt_zh = "请对准二维码";
        m.prompt_en = "Aim at the code";
    } else {
        m.prompt_zh = "按扳机扫码";
        m.prompt_en = "Press the trigger to scan";
    }
    if (!recent_plates_.empty()) {
        m.reason = "最近车牌 Last plates:";
        for (std::size_t i = 0; i < recent_plates_.size(); ++i)
            m.reason += "  " + std::to_string(i + 1) + " " + recent_plates_[i];
    }
    return m;
}

void Daemon::open_window() {
    {
        std::lock_guard lock(window_mu_);
        window_open_ = true;
    }
    window_cv_.notify_all();
    pipeline_->decoder().reset_tracking();
    const std::int64_t pressed = monotonic_now_ms();
    {
        std::lock_guard lock(screen_mu_);
        // A press ends a verdict on screen: the inspector moves to the next vehicle.
        model_ = idle_model();
        verdict_shown_ms_ = -1;
        verdict_on_screen_ = false;
        model_.status = status_bar();
        if (devices_.display) {
            if (auto s = devices_.display->show(model_); !s) log::error("screen", "show failed", {{"reason", s.error().reason}});
        }
    }
    // The reading is taken now, with the sensor aimed at the driver's forehead.
    pipeline_->measure_ahead();
    window_deadline_ms_ = pressed + options_.config.handheld.window_ms;
    log::info("checkpointd", "trigger pressed: scan window open", {{"window_ms", std::to_string(options_.config.handheld.window_ms)}});
}

void Daemon::close_window(bool read_a_code) {
    {
        std::lock_guard lock(window_mu_);
        window_open_ = false;
    }
    pipeline_->drop_ahead();
    if (!read_a_code) {
        log::info("checkpointd", "scan window closed: no code read");
        display::ScreenModel m;
        {
            std::lock_guard lock(screen_mu_);
            m = idle_model();
        }
        m.prompt_zh = "未读到二维码，请再按扳机";
        m.prompt_en = "No code read: press the trigger again";
        show(m, monotonic_now_ms(), false);
    }
}

void Daemon::say(const std::string& key) {
    if (!voice_) return;
    const std::time_t t = static_cast<std::time_t>(wall_now_ms() / 1000);
    std::tm tm{};
    localtime_r(&t, &tm);
    voice_->say(key, tm.tm_hour * 60 + tm.tm_min);
}

// ---- viewfinder ----------------------------------------------------------------

void Daemon::viewfinder_loop() {
    name_thread("viewfinder");
    // Below the lane's threads: on a busy CPU the picture waits, a decode does not.
    (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), 10);
    const bool mirror = options_.config.camera.faces_person;
    const display::ScreenConfig& sc = preview_screen_->config();
    std::string last_error;
    std::int64_t last_glare_ms = -1;
    while (!stop_) {
        auto f = preview_box_.take(200);
        if (!f) {
            if (preview_box_.drained()) break;
            continue;
        }
        if (verdict_on_screen_) continue;
        auto a = camera::assess(*f);
        if (!a) {
            if (a.error().reason != last_error) log::warn("screen", "viewfinder frame refused", {{"reason", a.error().reason}});
            last_error = a.error().reason;
            continue;
        }
        // A bright screen in view: a short exposure until 3 s without glare.
        const std::int64_t now = monotonic_now_ms();
        if (a->hint == camera::Hint::glare) last_glare_ms = now;
        const bool shorten = last_glare_ms >= 0 && now - last_glare_ms < 3000;
        exposure_wanted_ = static_cast<int>(shorten ? camera::Exposure::short_exposure : camera::Exposure::automatic);
        display::ScreenModel m;
        {
            std::lock_guard lock(screen_mu_);
            if (verdict_shown_ms_ >= 0) continue;
            m = model_;
        }
        m.preview = camera::preview_image(*f, sc.width, sc.height, mirror);
        switch (a->hint) {
        case camera::Hint::none: m.hint = display::Hint::none; break;
        case camera::Hint::move_closer: m.hint = display::Hint::move_closer; break;
        case camera::Hint::hold_still: m.hint = display::Hint::hold_still; break;
        case camera::Hint::glare: m.hint = display::Hint::glare; break;
        }
        const cv::Mat img = preview_screen_->render(m);
        std::lock_guard lock(screen_mu_);
        if (verdict_shown_ms_ >= 0 || !devices_.display) continue;  // a verdict came meanwhile: it stays
        model_.preview = m.preview;
        model_.hint = m.hint;
        if (auto s = devices_.display->show_rendered(img); !s) log::error("screen", "show failed", {{"reason", s.error().reason}});
    }
}

// ---- upstream sync --------------------------------------------------------------

void Daemon::open_upstream() {
    const config::Config& cfg = options_.config;
    if (cfg.upstream.url.empty()) return;
    if (!list_ || !journal_) {
        log::error("sync", "no sync: the status list is unusable", {{"path", cfg.paths.status_db}});
        upstream_failed_ = true;
        return;
    }
    UpstreamHooks hooks;
    hooks.firmware = options_.version;
    hooks.sensors_json = [this] { return sensors_json(); };
    hooks.on_trust_installed = [this] { prepare_new_issuers(); };
    auto link = UpstreamLink::create(cfg, *journal_, *list_, std::move(hooks));
    if (!link) {
        // The lane works offline; the status bar shows the link down.
        log::error("sync", "no sync: upstream settings unusable",
                   {{"reason", link.error().reason}, {"detail", link.error().message}});
        upstream_failed_ = true;
        return;
    }
    upstream_ = std::move(*link);
    log::info("sync", "upstream configured", {{"url", cfg.upstream.url}, {"trust_dir", cfg.upstream.trust_dir}});
}

void Daemon::note_journal(const Error* error) {
    if (error == nullptr) {
        journal_state_ = static_cast<int>(JournalState::ok);
        return;
    }
    ++journal_failures_;
    journal_state_ = static_cast<int>(error->is(journal::reason::disk_full) ? JournalState::disk_full : JournalState::failed);
}

const char* Daemon::journal_state_word() const {
    switch (static_cast<JournalState>(journal_state_.load())) {
    case JournalState::ok: return "ok";
    case JournalState::disk_full: return "disk-full";
    case JournalState::failed: return "failed";
    }
    return "failed";
}

std::string Daemon::sensors_json() const {
    const auto sensor = static_cast<display::Health>(sensor_health_.load());
    const char* thermometer = thermometer_missing_                    ? "fault"
                              : !devices_.thermometer                 ? "none"
                              : sensor == display::Health::ok         ? "ok"
                              : sensor == display::Health::fault      ? "fault"
                                                                      : "unknown";
    const bool camera_ok = capture_ended_ || monotonic_now_ms() - capture_beat_ms_ <= kStallMs;
    return std::string("{\"thermometer\":\"") + thermometer + "\",\"camera\":\"" + (camera_ok ? "ok" : "stalled") +
           "\",\"journal\":\"" + journal_state_word() + "\",\"journal_failures\":" +
           std::to_string(journal_failures_.load()) + "}";
}

void Daemon::prepare_new_issuers() {
    const config::Config& cfg = options_.config;
    auto next = load_issuers(cfg.paths.trust_dir, cfg.upstream.trust_dir);
    if (!next) {
        log::error("trust", "new trust list not loaded: the lane keeps its issuers", {{"reason", next.error().reason}});
        return;
    }
    const std::size_t n = next->size();
    issuer_trust_.prepare(std::move(*next));
    log::info("trust", "issuers reloaded for the next scan", {{"certificates", std::to_string(n)}});
}

void Daemon::take_new_issuers() {
    if (issuer_trust_.take_pending(trust_)) log::info("trust", "verifier uses the new issuers");
}

display::Health Daemon::network_health_now() {
    if (upstream_) return upstream_->health();
    return upstream_failed_ ? display::Health::fault : display::Health::unknown;
}

}  // namespace cp::daemon
