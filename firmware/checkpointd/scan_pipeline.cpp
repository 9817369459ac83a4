#include "firmware/checkpointd/scan_pipeline.hpp"

#include "src/common/log.hpp"
#include "src/common/time.hpp"

#include <pthread.h>

#include <algorithm>
#include <cmath>
#include <future>
#include <limits>
#include <system_error>
#include <thread>

namespace cp::daemon {

ScanPipeline::ScanPipeline(const pass::PassVerifier& verifier, status::StatusList* list,
                           thermo::Thermometer* thermometer, journal::ScanJournal& journal,
                           PipelineOptions options, decode::DecoderOptions decoder_options)
    : verifier_(verifier),
      list_(list),
      thermometer_(thermometer),
      journal_(journal),
      options_(std::move(options)),
      decoder_(decoder_options) {}

Result<std::optional<std::string>> ScanPipeline::read_code(const decode::ImageView& frame, std::int64_t mono_ms) {
    auto codes = decoder_.decode_video_frame(frame);
    if (!codes) return fail(codes.error());
    if (codes->empty()) {
        const decode::DecodeReport& r = decoder_.last_report();
        if (r.regions > 0) last_likely_ms_ = mono_ms;
        return std::optional<std::string>{};
    }
    last_code_ms_ = mono_ms;
    // Several codes in one frame: a new one goes first, the held one is only refreshed.
    const decode::Code* pick = &codes->front();
    for (const auto& c : *codes) {
        if (c.text != held_text_) { pick = &c; break; }
    }

    const std::int64_t window_ms =
        std::max<std::int64_t>(options_.policy.repeat_window_s * 1000, options_.holdoff_gap_ms);
    if (pick->text == held_text_) {
        const bool still_held = mono_ms - held_seen_ms_ <= options_.holdoff_gap_ms &&
                                mono_ms - held_since_ms_ < window_ms;
        held_seen_ms_ = mono_ms;
        if (still_held) return std::optional<std::string>{};
        held_since_ms_ = mono_ms;  // back after leaving the frame, or held past the window
        return std::optional<std::string>{pick->text};
    }
    held_text_ = pick->text;
    held_since_ms_ = held_seen_ms_ = mono_ms;
    return std::optional<std::string>{pick->text};
}

bool ScanPipeline::code_in_view(std::int64_t mono_ms) const {
    return last_code_ms_ >= 0 && mono_ms - last_code_ms_ <= options_.holdoff_gap_ms;
}

bool ScanPipeline::code_or_likely_in_view(std::int64_t mono_ms) const {
    return code_in_view(mono_ms) ||
           (last_likely_ms_ >= 0 && mono_ms - last_likely_ms_ <= options_.holdoff_gap_ms);
}

decision::StatusLookup ScanPipeline::lookup(const pass::Pass& p) {
    decision::StatusLookup s;
    if (list_ == nullptr) return s;
    auto info = list_->info();
    if (!info) return s;
    auto e = list_->lookup(p.id);
    if (!e) {
        // A list we cannot read is no list: YELLOW, a person checks.
        log::error("status", "lookup failed", {{"reason", e.error().reason}, {"detail", e.error().message}});
        return s;
    }
    s.list_loaded = true;
    s.list_created_at = info->created_at;
    if (!e->has_value()) {
        s.status = decision::ListStatus::not_in_list;
    } else {
        switch ((*e)->status) {
        case status::PassStatus::green: s.status = decision::ListStatus::green; break;
        case status::PassStatus::yellow: s.status = decision::ListStatus::yellow; break;
        case status::PassStatus::red: s.status = decision::ListStatus::red; break;
        }
    }
    return s;
}

thermo::Measurement ScanPipeline::read_sensor() {
    thermo::Measurement m;
    const std::int64_t deadline = monotonic_now_ms() + options_.temperature_wait_ms;
    for (;;) {
        m = thermometer_->measure();
        if (m.status != thermo::MeasureStatus::no_reading || monotonic_now_ms() >= deadline) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return m;
}

void ScanPipeline::measure_ahead() {
    ahead_.reset();
    if (thermometer_ != nullptr) ahead_ = read_sensor();
}

decision::Temperature ScanPipeline::measure(ScanResult& r) {
    decision::Temperature t;
    if (ahead_) {
        r.measurement = *ahead_;  // handheld: read when the trigger was pressed
        ahead_.reset();
    } else {
        if (thermometer_ == nullptr) return t;  // absent
        r.measurement = read_sensor();
    }
    switch (r.measurement.status) {
    case thermo::MeasureStatus::ok:
        if (r.measurement.body_c) {
            t.state = decision::Temperature::State::ok;
            t.body_c = *r.measurement.body_c;
            r.temperature_c = t.body_c;
        } else {
            t.state = decision::Temperature::State::fault;
        }
        break;
    case thermo::MeasureStatus::sensor_fault: t.state = decision::Temperature::State::fault; break;
    case thermo::MeasureStatus::out_of_range:
        if (r.measurement.outside_ambient_range) {
            // A forehead in air the conversion was not made for (cold gate): decide()
            // gives YELLOW remeasure-indoors unless the bare forehead already shows fever.
            t.state = decision::Temperature::State::uncalibrated;
            t.body_c = r.measurement.body_at_least_c.value_or(std::numeric_limits<double>::quiet_NaN());
            break;
        }
        // Something warm but not a forehead: decide() calls a non-finite reading implausible.
        t.state = decision::Temperature::State::ok;
        t.body_c = std::numeric_limits<double>::quiet_NaN();
        break;
    case thermo::MeasureStatus::no_reading: t.state = decision::Temperature::State::absent; break;
    }
    return t;
}

pass::Verification ScanPipeline::verify_while_measuring(const std::string& text, std::int64_t now_s, ScanResult& r,
                                                        decision::Temperature& temperature) {
    // The same text verified earlier in this run: signature skipped, expiry rechecked.
    if (auto hit = cache_.find(verifier_, text, now_s)) {
        temperature = measure(r);
        return std::move(*hit);
    }
    pass::Verification v;
    if (thermometer_ != nullptr) {
        // The ES256 check (a few ms) runs while the sensor reads (~150 ms): neither
        // needs the other. The future is always waited for, so the thread is joined.
        std::future<pass::Verification> pending;
        try {
            pending = std::async(std::launch::async, [this, &text, now_s] {
                ::pthread_setname_np(::pthread_self(), "verify");
                return verifier_.verify(text, now_s);
            });
        } catch (const std::system_error&) {
            // No thread to be had: verify here, one after the other.
        }
        temperature = measure(r);
        v = pending.valid() ? pending.get() : verifier_.verify(text, now_s);
    } else {
        v = verifier_.verify(text, now_s);
    }
    cache_.store(verifier_, text, v);
    return v;
}

ScanResult ScanPipeline::evaluate(const std::string& text, const std::function<LaneInput()>& typed_fn,
                                  std::int64_t wall_ms) {
    ScanResult r;
    r.wall_ms = wall_ms;
    const std::int64_t now_s = wall_ms / 1000;
    decision::Temperature temperature;
    pass::Verification v = verify_while_measuring(text, now_s, r, temperature);
    if (v.format) r.format = pass::to_string(*v.format);
    if (v.pass && v.signature == pass::SignatureState::valid) {
        r.pass = v.pass;
        r.pass_id = pass::id_hex(v.pass->id);
        r.kind = pass::to_string(v.pass->kind);
    }
    r.rejection = v.reason.value_or("");

    decision::DecisionInput in;
    if (v.verified()) in.verified.pass = v.pass;
    else in.verified.rejection = r.rejection;
    if (v.verified() && v.pass) in.status = lookup(*v.pass);
    in.temperature = temperature;
    const LaneInput typed = typed_fn();
    in.policy = options_.policy;
    in.now_s = now_s;
    in.recent = &recent_;
    in.typed_plate = typed.typed_plate;
    r.typed_plate = typed.typed_plate;
    in.direction = typed.direction;
    r.decision = decision::decide(in);
    r.verdict = r.decision.verdict;
    r.reason = decision::reason_code(r.decision.reason);
    held_seen_ms_ = monotonic_now_ms();  // measuring took time; the code is still the one held
    return r;
}

void ScanPipeline::commit(ScanResult& r) {
    r.open_gate = false;
    // The next person's pass is searched for from scratch (docs/decoding.md).
    decoder_.reset_tracking();
    if (r.decision.repeat) {
        // Counted already: shown again, not journaled again (docs/decision.md).
        r.open_gate = r.decision.open_gate;
        held_seen_ms_ = monotonic_now_ms();
        return;
    }
    journal::ScanRecord rec;
    rec.type = journal::RowType::scan;
    rec.wall_ms = r.wall_ms;
    rec.pass_id = r.pass_id;
    rec.format = r.format;
    rec.kind = r.kind;
    rec.verdict = decision::to_string(r.decision.verdict);
    rec.reason = decision::reason_code(r.decision.reason);
    rec.temperature_c = r.temperature_c;
    rec.lane = options_.lane;
    rec.device_id = options_.device_id;
    if (options_.policy.mode == decision::LaneMode::truck) {
        rec.plate = r.decision.plate;
        rec.direction = r.decision.direction == decision::Direction::out ? "out" : "in";
    }
    auto stored = journal_.append(std::move(rec));
    held_seen_ms_ = monotonic_now_ms();
    if (!stored) {
        // The verdict shown stays the decision (a RED stays RED); the failure is
        // shown beside it. No record, no opening (architecture: journal before gate).
        r.journal_error = stored.error();
        return;
    }
    r.journaled = true;
    r.seq = stored->seq;
    r.scan_id = stored->scan_id;
    r.open_gate = r.decision.open_gate;
    if (r.pass && r.rejection.empty()) {
        recent_.record(r.pass->id, decision::PriorScan{r.decision.reason, r.wall_ms / 1000},
                       options_.policy.repeat_window_s);
    }
}

std::string journal_note_en(const ScanResult& r) {
    if (!r.journal_error) return {};
    return r.journal_error->is(journal::reason::disk_full) ? "Journal full (disk): not recorded, gate closed"
                                                  : "Journal failure: not recorded, gate closed";
}

std::string journal_note_zh(const ScanResult& r) {
    if (!r.journal_error) return {};
    return r.journal_error->is(journal::reason::disk_full) ? "记录存储已满，未记录，闸门关闭" : "记录写入失败，未记录，闸门关闭";
}

std::string reason_text_en(const ScanResult& r) {
    std::string s = decision::text_en(r.decision.reason);
    if (r.decision.reason == decision::Reason::fever && r.temperature_c) {
        char buf[32];
        std::snprintf(buf, sizeof buf, " %.1f C", *r.temperature_c);
        s += buf;
    }
    if (r.decision.reason == decision::Reason::remeasure_indoors && r.measurement.ambient_c) {
        char buf[48];
        std::snprintf(buf, sizeof buf, " (air %.0f C)", *r.measurement.ambient_c);
        s += buf;
    }
    if (r.decision.repeat) s += " (repeat)";
    return s;
}

std::string reason_text_zh(const ScanResult& r) {
    return decision::text_zh(r.decision.reason);
}

}  // namespace cp::daemon
