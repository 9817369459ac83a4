// One scan, left to right: frame → QR text (with hold-off) → verified pass →
// status lookup → temperature → decide() → journal commit. Side effects on the
// lane (relay, lamps, screen) are NOT done here: the caller acts on the returned
// ScanResult only after commit() returned, so the journal row exists before the
// gate can open (docs/daemon.md).
//
// Thread-safety: NOT thread-safe; the decode/decide thread owns it. The journal
// and status list it points to are thread-safe themselves. evaluate() verifies
// the signature on a short-lived "verify" thread while the thermometer measures
// on the caller's, and joins it before returning.
#pragma once

#include "src/common/result.hpp"
#include "src/decision/decision.hpp"
#include "src/decode/decoder.hpp"
#include "src/journal/journal.hpp"
#include "src/pass/verifier.hpp"
#include "src/pass/verify_cache.hpp"
#include "src/status/store.hpp"
#include "drivers/thermometer/thermometer.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace cp::daemon {

struct PipelineOptions {
    decision::LanePolicy policy;
    std::string lane = "gate";               // journal "lane"
    std::string device_id = "cp-0000";
    // A code that stays in view is one scan: it is scanned again only after it
    // was out of view this long, or after the repeat window.
    std::int64_t holdoff_gap_ms = 1000;      // ms
    // A thermometer that reads nobody is asked again for this long: the person
    // may still be stepping up to the sensor when the code is read.
    std::int64_t temperature_wait_ms = 2000; // ms
};

// What the lane's inspector typed (truck lanes).
struct LaneInput {
    std::string typed_plate;
    decision::Direction direction = decision::Direction::in;
};

// A decided scan, before (evaluate) and after (commit) the journal.
struct ScanResult {
    std::int64_t wall_ms = 0;
    std::string format;                       // "cp1", "hc1" or empty
    std::optional<pass::Pass> pass;           // signature-valid pass (maybe expired); never a forged one
    std::string pass_id;                      // hex; empty unless the signature was valid
    std::string kind;                         // "R", "D", ... or empty
    std::string rejection;                    // verifier's reason word, empty when verified
    thermo::Measurement measurement;
    std::optional<double> temperature_c;      // body temperature when measured
    decision::Decision decision;
    std::string typed_plate;                  // what the inspector had typed when deciding

    // What the lane shows: always the decision. A journal failure is shown
    // beside it (journal_error) and keeps the gate shut.
    decision::Verdict verdict = decision::Verdict::yellow;
    std::string reason;                       // decision reason code
    bool open_gate = false;                   // decision.open_gate AND journaled
    bool journaled = false;
    std::int64_t seq = 0;                     // journal sequence when journaled
    std::string scan_id;
    std::optional<Error> journal_error;
};

class ScanPipeline {
public:
    // `thermometer` may be null (backend "none"). Pointers must outlive the pipeline.
    ScanPipeline(const pass::PassVerifier& verifier, status::StatusList* list,
                 thermo::Thermometer* thermometer, journal::ScanJournal& journal,
                 PipelineOptions options, decode::DecoderOptions decoder_options);

    // Decodes a frame. Returns the text of a code that starts a new scan, or
    // nullopt when there is none (no code, or the code held up is in hold-off).
    // Errors: as QrDecoder (a malformed frame).
    Result<std::optional<std::string>> read_code(const decode::ImageView& frame, std::int64_t mono_ms);

    // Verify, look up, measure, decide. No side effects other than the
    // thermometer read. `typed` is asked for what the inspector entered after
    // the measurement, right before deciding, so keys typed while the person
    // stepped up count.
    ScanResult evaluate(const std::string& text, const std::function<LaneInput()>& typed, std::int64_t wall_ms);
    ScanResult evaluate(const std::string& text, const LaneInput& typed, std::int64_t wall_ms) {
        return evaluate(text, [&typed] { return typed; }, wall_ms);
    }

    // Journals the scan (not a repeat: decide() said the pass was counted
    // already) and records it for repeat suppression. On a journal failure the
    // verdict stays the decision's, journal_error says why and the gate stays closed.
    void commit(ScanResult& scan);

    // Handheld: reads the thermometer now (the trigger was pressed with the sensor
    // aimed at the forehead), retrying "nobody there" as a scan does; the next
    // evaluate() uses this reading instead of measuring. No-op without a thermometer.
    void measure_ahead();
    void drop_ahead() { ahead_.reset(); }

    // The text last scanned, while it is in hold-off.
    const std::string& held_text() const { return held_text_; }
    // True when a code was read within the hold-off gap.
    bool code_in_view(std::int64_t mono_ms) const;
    // True when a code was read, or a likely code stayed unread (the decoder's
    // finder search proposed regions and none read), within the hold-off gap:
    // the frame gate keeps decoding then, even on a still picture, so a hard
    // code gets every frame's tries. A frame that only ran out of budget does
    // not count (an empty picture does that too, and the gate would never close).
    bool code_or_likely_in_view(std::int64_t mono_ms) const;
    const decision::RecentScans& recent() const { return recent_; }
    const PipelineOptions& options() const { return options_; }
    decode::QrDecoder& decoder() { return decoder_; }

    // Verifications of texts seen earlier in this run (bounded, trust-aware).
    const pass::VerificationCache& verification_cache() const { return cache_; }

private:
    decision::Temperature measure(ScanResult& r);
    thermo::Measurement read_sensor();
    // Verify (or take from the cache) and measure, the two at once.
    pass::Verification verify_while_measuring(const std::string& text, std::int64_t now_s, ScanResult& r,
                                              decision::Temperature& temperature);
    decision::StatusLookup lookup(const pass::Pass& p);

    const pass::PassVerifier& verifier_;
    status::StatusList* list_;
    thermo::Thermometer* thermometer_;
    journal::ScanJournal& journal_;
    PipelineOptions options_;
    decode::QrDecoder decoder_;
    decision::RecentScans recent_;
    pass::VerificationCache cache_;

    std::optional<thermo::Measurement> ahead_;  // handheld: read at the trigger
    std::string held_text_;
    std::int64_t held_since_ms_ = 0;   // when the held code was scanned
    std::int64_t held_seen_ms_ = 0;    // when it was last seen
    std::int64_t last_code_ms_ = -1;   // when any code was last read
    std::int64_t last_likely_ms_ = -1; // when a likely code was last left unread
};

// Screen texts for a reason code (decision reasons and journal failures).
std::string reason_text_en(const ScanResult& r);
std::string reason_text_zh(const ScanResult& r);
// The journal failure shown beside the verdict; empty when the row was written.
std::string journal_note_en(const ScanResult& r);
std::string journal_note_zh(const ScanResult& r);

}  // namespace cp::daemon
