#include "firmware/checkpointd/daemon.hpp"

#include "firmware/checkpointd/json_line.hpp"
#include "src/common/log.hpp"
#include "src/common/time.hpp"

#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <filesystem>

namespace cp::daemon {
namespace fs = std::filesystem;

namespace {

constexpr std::int64_t kManualWindowMs = 120'000;   // a YELLOW can be resolved by hand this long
constexpr std::int64_t kPendingPressMs = 3'000;     // a key press waits this long for its scan
constexpr std::int64_t kVerdictShownMs = 6'000;     // then the screen goes back to idle
constexpr std::int64_t kStallMs = 10'000;           // a thread silent this long stops the watchdog pings

bool cfg_truck(const config::Config& c) { return c.device.lane == decision::LaneMode::truck; }

void name_thread(const char* name) { pthread_setname_np(pthread_self(), name); }

display::Verdict screen_verdict(decision::Verdict v) {
    switch (v) {
    case decision::Verdict::green: return display::Verdict::green;
    case decision::Verdict::red: return display::Verdict::red;
    case decision::Verdict::yellow: break;
    }
    return display::Verdict::yellow;
}

std::string kind_label(const std::string& kind) {
    if (kind == "R") return "Resident pass";
    if (kind == "D") return "Driver pass";
    if (kind == "V") return "Visitor pass";
    if (kind == "E") return "Entry registration";
    if (kind == "DCC") return "EU DCC";
    return {};
}

bool same_bar(const display::StatusBar& a, const display::StatusBar& b) {
    return a.list_age_s == b.list_age_s && a.journal_backlog == b.journal_backlog && a.sensor == b.sensor &&
           a.network == b.network && a.lane == b.lane && a.clock == b.clock;
}

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

// ---- FrameMailbox -----------------------------------------------------------

void FrameMailbox::put(camera::Frame frame) {
    {
        std::lock_guard lock(mu_);
        if (frame_) ++dropped_;
        frame_ = std::move(frame);
    }
    cv_.notify_one();
}

std::optional<camera::Frame> FrameMailbox::take(int timeout_ms) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [this] { return frame_.has_value() || closed_; });
    std::optional<camera::Frame> f = std::move(frame_);
    frame_.reset();
    return f;
}

void FrameMailbox::close() {
    {
        std::lock_guard lock(mu_);
        closed_ = true;
    }
    cv_.notify_all();
}

bool FrameMailbox::drained() const {
    std::lock_guard lock(mu_);
    return closed_ && !frame_;
}

std::uint64_t FrameMailbox::dropped() const {
    std::lock_guard lock(mu_);
    return dropped_;
}

// ---- Daemon -----------------------------------------------------------------

struct Daemon::Lane {
    std::string typed_plate;
    decision::Direction direction = decision::Direction::in;
    struct OpenYellow {
        std::int64_t seq = 0;
        std::string pass_id, kind, text, plate, direction, name;
        std::int64_t mono_ms = 0;
    };
    std::optional<OpenYellow> open_yellow;  // the YELLOW a guard's key press resolves
    struct Press {
        bool allow = false;
        std::int64_t mono_ms = 0;
    };
    std::optional<Press> pending;           // a key press waiting for its scan
};

Daemon::Daemon(DaemonOptions options, const Notifier& notifier)
    : options_(std::move(options)), notifier_(notifier) {}

Daemon::~Daemon() {
    stop();
    if (done_fd_ >= 0) ::close(done_fd_);
}

Result<std::unique_ptr<Daemon>> Daemon::create(DaemonOptions options, const Notifier& notifier) {
    std::unique_ptr<Daemon> d(new Daemon(std::move(options), notifier));
    const config::Config& cfg = d->options_.config;

    std::error_code ec;
    fs::create_directories(cfg.paths.data_dir, ec);
    if (ec) return fail(ErrorKind::io, "data-dir", cfg.paths.data_dir + ": " + ec.message());
    d->done_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (d->done_fd_ < 0) return fail(ErrorKind::internal, "eventfd", std::strerror(errno));

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
    if (!j && j.error().reason == "corrupt") {
        log::error("journal", "integrity check failed: moved aside, starting a new journal",
                   {{"path", cfg.paths.journal}});
        const std::string aside = move_aside(cfg.paths.journal);
        j = journal::ScanJournal::open(cfg.paths.journal, jo);
        if (j) carry_pending(**j, aside);
    }
    if (!j) return fail(j.error());
    d->journal_ = std::move(*j);

    auto dev = open_devices(cfg, d->options_.sim);
    if (!dev) return fail(dev.error());
    d->devices_ = std::move(*dev);

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
        model_.status = status_bar();
        if (devices_.display) {
            if (auto s = devices_.display->show(model_); !s) log::error("screen", "show failed", {{"reason", s.error().reason}});
        }
    }
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
    } catch (const std::system_error& e) {
        stop();
        return fail(ErrorKind::internal, "thread", e.what());
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
    mailbox_.close();
    if (upstream_) upstream_->stop();  // joins the sync thread (a transfer is abandoned)
    for (std::thread* t : {&capture_, &decide_, &housekeeping_}) {
        if (t->joinable()) t->join();
    }
    if (devices_.actuators) {
        (void)devices_.actuators->close_gate();
        (void)devices_.actuators->set_signal(gpio::Signal::off);
    }
    log::info("checkpointd", "stopped", {{"scans", std::to_string(scans_.load())},
                                         {"frames_dropped", std::to_string(mailbox_.dropped())}});
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

void Daemon::emit_json(const std::string& line) {
    if (!options_.json) return;
    std::lock_guard lock(json_mu_);
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
}

// ---- capture ----------------------------------------------------------------

void Daemon::capture_loop() {
    name_thread("capture");
    std::string last_problem;
    while (!stop_) {
        auto f = devices_.camera->next_frame(200);
        capture_beat_ms_ = monotonic_now_ms();
        if (f) {
            mailbox_.put(std::move(*f));
            last_problem.clear();
            continue;
        }
        const Error& e = f.error();
        if (e.reason == "end-of-stream") {
            log::info("camera", "source ended");
            break;
        }
        if (e.reason != "timeout" && e.reason != last_problem) {
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
    while (!stop_) {
        decide_beat_ms_ = monotonic_now_ms();
        take_new_issuers();
        if (auto f = mailbox_.take(50)) {
            auto code = pipeline_->read_code(f->view(), f->timestamp_ms > 0 ? f->timestamp_ms : monotonic_now_ms());
            if (!code) log::warn("decode", "frame refused", {{"reason", code.error().reason}});
            else if (*code) handle_scan(lane, **code);
        }
        handle_input(lane, false);
        expire_pending(lane, monotonic_now_ms());
        if (options_.exit_when_done && mailbox_.drained() && !lane.pending) {
            log::info("checkpointd", "lane script done");
            signal_done();
            break;
        }
    }
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
            log::info("input", "plate entered");
        } else if (auto* dset = std::get_if<input::DirectionSet>(&**ev)) {
            lane.direction = dset->direction == lane::Direction::out ? decision::Direction::out : decision::Direction::in;
        } else if (auto* m = std::get_if<input::ManualDecision>(&**ev)) {
            const bool allow = m->decision == lane::Decision::allow;
            const std::int64_t mono = monotonic_now_ms();
            // Immediately only when the YELLOW's own code is still in front of the
            // camera; otherwise the press may belong to the person stepping up now.
            if (!during_scan && lane.open_yellow && mono - lane.open_yellow->mono_ms <= kManualWindowMs &&
                pipeline_->held_text() == lane.open_yellow->text && pipeline_->code_in_view(mono)) {
                resolve_manual(lane, allow);
            } else {
                lane.pending = Lane::Press{allow, mono};
            }
        }
    }
}

void Daemon::expire_pending(Lane& lane, std::int64_t mono_ms) {
    if (!lane.pending || mono_ms - lane.pending->mono_ms < kPendingPressMs) return;
    const bool allow = lane.pending->allow;
    lane.pending.reset();
    if (lane.open_yellow && mono_ms - lane.open_yellow->mono_ms <= kManualWindowMs) {
        resolve_manual(lane, allow);
    } else {
        log::warn("input", "manual decision without a YELLOW to resolve: ignored");
    }
}

void Daemon::handle_scan(Lane& lane, const std::string& text) {
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
    if (upstream_ && r.journaled && r.verdict == decision::Verdict::red) upstream_->wake();  // alerts go at once

    switch (r.measurement.status) {
    case thermo::MeasureStatus::ok:
    case thermo::MeasureStatus::no_reading:
    case thermo::MeasureStatus::out_of_range: sensor_health_ = static_cast<int>(display::Health::ok); break;
    case thermo::MeasureStatus::sensor_fault: sensor_health_ = static_cast<int>(display::Health::fault); break;
    }
    if (!devices_.thermometer) sensor_health_ = static_cast<int>(display::Health::unknown);

    auto& act = *devices_.actuators;
    if (r.open_gate) {
        if (auto s = act.pulse_gate(); !s) log::error("gpio", "gate did not open", {{"reason", s.error().reason}});
    }
    const gpio::Signal sig = r.verdict == decision::Verdict::green  ? gpio::Signal::green
                             : r.verdict == decision::Verdict::red ? gpio::Signal::red
                                                                   : gpio::Signal::both;
    if (auto s = act.set_signal(sig); !s) log::error("gpio", "lamps", {{"reason", s.error().reason}});
    if (r.verdict != decision::Verdict::green) (void)act.beep();

    display::ScreenModel m;
    m.verdict = screen_verdict(r.verdict);
    if (r.pass) {
        m.masked_name = r.pass->name;
        m.pass_kind = kind_label(r.kind);
    }
    m.temperature_c = r.temperature_c;
    m.reason = reason_text_zh(r) + "  " + reason_text_en(r);
    if (cfg_truck(options_.config) && !r.decision.plate.empty()) m.reason += "  [" + r.decision.plate + "]";
    show(m, monotonic_now_ms(), true);

    const config::Config& cfg = options_.config;
    LaneLabel label{pipeline_->options().lane, cfg.device.id};
    emit_json(scan_json(r, label));
    log::info("scan", "decision",
              {{"pass_id", r.pass_id.empty() ? "-" : r.pass_id}, {"verdict", decision::to_string(r.verdict)},
               {"reason", r.reason}, {"seq", std::to_string(r.seq)}, {"repeat", r.decision.repeat ? "1" : "0"},
               {"gate", r.open_gate ? "open" : "closed"}});
    if (r.journal_error) {
        log::error("journal", "scan not journaled: YELLOW, gate closed",
                   {{"reason", r.journal_error->reason}, {"detail", r.journal_error->message}});
    }

    // The inspector's plate belongs to one vehicle.
    if (cfg.device.lane == decision::LaneMode::truck && !r.decision.repeat) lane.typed_plate.clear();

    if (r.journaled && r.verdict == decision::Verdict::yellow) {
        Lane::OpenYellow oy;
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
        lane.open_yellow = oy;
    } else if (!(r.decision.repeat && lane.open_yellow && lane.open_yellow->pass_id == r.pass_id)) {
        lane.open_yellow.reset();
    }
    if (lane.pending) {
        const bool allow = lane.pending->allow;
        lane.pending.reset();
        if (lane.open_yellow) resolve_manual(lane, allow);
        else log::warn("input", "manual decision ignored: the scan is not YELLOW", {{"verdict", decision::to_string(r.verdict)}});
    }
}

void Daemon::resolve_manual(Lane& lane, bool allow) {
    if (!lane.open_yellow) return;
    const Lane::OpenYellow oy = *lane.open_yellow;
    lane.open_yellow.reset();
    ManualLine ml;
    ml.wall_ms = wall_now_ms();
    ml.ref_seq = oy.seq;
    ml.pass_id = oy.pass_id;
    ml.kind = oy.kind;
    ml.allow = allow;
    ml.plate = oy.plate;
    ml.direction = oy.direction;
    auto row = journal_->append_manual(oy.seq, allow ? "GREEN" : "RED", allow ? "manual-allow" : "manual-deny");
    display::ScreenModel m;
    m.masked_name = oy.name;
    m.pass_kind = kind_label(oy.kind);
    auto& act = *devices_.actuators;
    if (row) {
        ml.journaled = true;
        ml.seq = row->seq;
        ml.scan_id = row->scan_id;
        ml.verdict = allow ? "GREEN" : "RED";
        ml.reason = allow ? "manual-allow" : "manual-deny";
        if (allow) {
            if (auto s = act.pulse_gate(); !s) log::error("gpio", "gate did not open", {{"reason", s.error().reason}});
        }
        (void)act.set_signal(allow ? gpio::Signal::green : gpio::Signal::red);
        m.verdict = allow ? display::Verdict::green : display::Verdict::red;
        m.reason = allow ? "人工放行  Allowed by guard" : "人工拒绝  Denied by guard";
    } else {
        ml.verdict = "YELLOW";
        ml.reason = "journal-" + row.error().reason;
        m.verdict = display::Verdict::yellow;
        m.reason = row.error().reason == "disk-full" ? "记录存储已满  Journal full (disk): gate closed"
                                                     : "记录写入失败  Journal failure: gate closed";
        log::error("journal", "manual decision not journaled: gate closed", {{"reason", row.error().reason}});
    }
    show(m, monotonic_now_ms(), true);
    emit_json(manual_json(ml, LaneLabel{pipeline_->options().lane, options_.config.device.id}));
    log::info("scan", "manual decision", {{"ref_seq", std::to_string(oy.seq)}, {"verdict", ml.verdict},
                                          {"seq", std::to_string(ml.seq)}});
}

// ---- screen -----------------------------------------------------------------

void Daemon::show(const display::ScreenModel& model, std::int64_t mono_ms, bool verdict) {
    display::StatusBar bar = status_bar();
    std::lock_guard lock(screen_mu_);
    model_ = model;
    model_.status = bar;
    if (verdict) verdict_shown_ms_ = mono_ms;
    if (devices_.display) {
        if (auto s = devices_.display->show(model_); !s) log::error("screen", "show failed", {{"reason", s.error().reason}});
    }
}

display::StatusBar Daemon::status_bar() {
    const config::Config& cfg = options_.config;
    display::StatusBar b;
    const std::int64_t now_s = wall_now_ms() / 1000;
    if (list_) {
        if (auto info = list_->info()) {
            // Whole minutes, so the screen changes once a minute, not every second.
            b.list_age_s = std::max<std::int64_t>(0, now_s - info->created_at) / 60 * 60;
        }
    }
    if (journal_) {
        if (auto st = journal_->stats()) b.journal_backlog = st->pending;
    }
    b.sensor = static_cast<display::Health>(sensor_health_.load());
    b.network = network_health_now();
    // Short: the bar also holds list age, backlog, sensor, network and clock at 800 px.
    b.lane = cfg.device.id;
    std::time_t t = static_cast<std::time_t>(now_s);
    std::tm tm{};
    localtime_r(&t, &tm);
    char clock[8];
    std::snprintf(clock, sizeof clock, "%02d:%02d", tm.tm_hour, tm.tm_min);
    b.clock = clock;
    return b;
}

// ---- housekeeping -------------------------------------------------------------

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
                    model_ = display::ScreenModel{};
                    verdict_shown_ms_ = -1;
                    changed = true;
                    lamps_off = true;
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
                             ", backlog " + std::to_string(bar.journal_backlog) + ", disk free " + disk;
            if (!options_.config.upstream.url.empty()) st += ", upstream " + std::string(network_label(bar.network));
            if (st != last_status) {
                (void)notifier_.send(st);
                last_status = st;
            }
        }
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

std::string Daemon::sensors_json() const {
    const auto sensor = static_cast<display::Health>(sensor_health_.load());
    const char* thermometer = !devices_.thermometer                   ? "none"
                              : sensor == display::Health::ok         ? "ok"
                              : sensor == display::Health::fault      ? "fault"
                                                                      : "unknown";
    const bool camera_ok = capture_ended_ || monotonic_now_ms() - capture_beat_ms_ <= kStallMs;
    return std::string("{\"thermometer\":\"") + thermometer + "\",\"camera\":\"" + (camera_ok ? "ok" : "stalled") + "\"}";
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
