#include "firmware/checkpointd/lane_outputs.hpp"

#include "src/common/log.hpp"

#include <cstdio>

namespace cp::daemon {

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

display::ScreenModel scan_screen(const ScanResult& r, bool truck) {
    display::ScreenModel m;
    m.verdict = screen_verdict(r.verdict);
    if (r.pass) {
        m.masked_name = r.pass->name;
        m.pass_kind = kind_label(r.kind);
    }
    m.temperature_c = r.temperature_c;
    m.reason = reason_text_zh(r) + "  " + reason_text_en(r);
    if (truck && !r.decision.plate.empty()) m.reason += "  [" + r.decision.plate + "]";
    if (r.journal_error) m.reason += "  |  " + journal_note_zh(r) + "  " + journal_note_en(r);
    if (r.decision.reason == decision::Reason::plate_mismatch) {
        m.typed_plate = r.typed_plate;
        m.pass_plate = r.pass ? r.pass->plate : std::string();
    }
    return m;
}

void act_on_scan(gpio::Actuators& act, const ScanResult& r) {
    if (r.open_gate) {
        if (auto s = act.pulse_gate(); !s) log::error("gpio", "gate did not open", {{"reason", s.error().reason}});
    }
    const gpio::Signal sig = r.verdict == decision::Verdict::green  ? gpio::Signal::green
                             : r.verdict == decision::Verdict::red ? gpio::Signal::red
                                                                   : gpio::Signal::both;
    if (auto s = act.set_signal(sig); !s) log::error("gpio", "lamps", {{"reason", s.error().reason}});
    if (r.verdict != decision::Verdict::green) (void)act.beep();
}

ManualLine manual_line(const ManualAction& a, const Result<journal::ScanRecord>& row, std::int64_t wall_ms) {
    const OpenYellow& oy = a.yellow;
    ManualLine ml;
    ml.wall_ms = wall_ms;
    ml.ref_seq = oy.seq;
    ml.pass_id = oy.pass_id;
    ml.kind = oy.kind;
    ml.allow = a.allow;
    ml.plate = oy.plate;
    ml.direction = oy.direction;
    if (row) {
        ml.journaled = true;
        ml.seq = row->seq;
        ml.scan_id = row->scan_id;
        ml.verdict = a.allow ? "GREEN" : "RED";
        ml.reason = a.allow ? "manual-allow" : "manual-deny";
    } else {
        ml.verdict = "YELLOW";
        ml.reason = "journal-" + row.error().reason;
    }
    return ml;
}

display::ScreenModel manual_screen(const ManualAction& a, const Result<journal::ScanRecord>& row) {
    display::ScreenModel m;
    m.masked_name = a.yellow.name;
    m.pass_kind = kind_label(a.yellow.kind);
    if (row) {
        m.verdict = a.allow ? display::Verdict::green : display::Verdict::red;
        m.reason = a.allow ? "人工放行  Allowed by guard" : "人工拒绝  Denied by guard";
    } else {
        m.verdict = display::Verdict::yellow;
        m.reason = row.error().is(journal::reason::disk_full) ? "记录存储已满  Journal full (disk): gate closed"
                                                              : "记录写入失败  Journal failure: gate closed";
    }
    return m;
}

void act_on_manual(gpio::Actuators& act, bool allow) {
    if (allow) {
        if (auto s = act.pulse_gate(); !s) log::error("gpio", "gate did not open", {{"reason", s.error().reason}});
    }
    (void)act.set_signal(allow ? gpio::Signal::green : gpio::Signal::red);
}

void JsonOut::emit(const std::string& line) {
    if (!enabled_) return;
    std::lock_guard lock(mu_);
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
}

}  // namespace cp::daemon
