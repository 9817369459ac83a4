// Voice: spoken prompts for the idle lane and every verdict and reason, so a
// guard in a noisy queue need not look at the screen for each person.
//
// Clips are WAV files (16-bit PCM, mono or stereo), one per key, made at build
// time by espeak-ng from drivers/audio/phrases.tsv into <clip_dir>/<lang>/<key>.wav
// (lang "zh" Mandarin, "en" English). Keys: the decision reason codes
// (docs/decision.md), "idle", "manual-allow", "manual-deny", "journal-failure".
//
// Backends: "alsa" (libasound2, a PCM device such as "default"), "sim" (each
// utterance written as voice-000001-<key>.wav into a folder, at the volume it
// would have been played), "none".
//
// Thread-safety: Voice is thread-safe (say() only queues); it owns one thread,
// "voice", joined by its destructor. AudioOut backends are used by that thread only.
#pragma once

#include "src/common/result.hpp"

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

// Error reasons of the audio driver.
namespace cp::audio::reason {
inline constexpr Reason audio{"audio"};
inline constexpr Reason thread{"thread"};
inline constexpr Reason voice_clips{"voice-clips"};
inline constexpr Reason wav{"wav"};
}  // namespace cp::audio::reason

namespace cp::audio {

struct Clip {
    std::string key;
    int rate = 22050;                  // samples per second
    int channels = 1;
    std::vector<std::int16_t> samples; // interleaved
    double seconds() const {
        return rate > 0 && channels > 0 ? static_cast<double>(samples.size()) / channels / rate : 0;
    }
};

// A RIFF/WAVE file of 16-bit PCM. Errors: invalid_input/"wav" naming what is
// wrong (not RIFF/WAVE, no fmt or data chunk, not 16-bit PCM, a chunk running
// past the end, more than 8 channels, rate outside 1000..192000, over 64 MiB).
Result<Clip> parse_wav(std::span<const std::uint8_t> bytes);
// Errors: io/"wav" when the file cannot be read, then as parse_wav.
Result<Clip> load_wav(const std::string& path);
std::vector<std::uint8_t> wav_bytes(const Clip& clip);

class AudioOut {
public:
    virtual ~AudioOut() = default;
    // Plays the clip to its end (blocks). Errors: io/"audio" with the detail.
    virtual Status play(const Clip& clip) = 0;
    virtual std::string describe() const = 0;
};

// Errors: unavailable/"audio" when the PCM device cannot be opened or ALSA
// support was not built (libasound2-dev missing).
Result<std::unique_ptr<AudioOut>> open_alsa(const std::string& device = "default");
// Writes voice-NNNNNN-<key>.wav into `folder` (created), keeping the newest
// `keep`; numbering continues after a restart. Errors: io/"audio" for the folder.
Result<std::unique_ptr<AudioOut>> open_sim_audio(const std::string& folder, int keep = 200);

// Quiet hours "HH:MM-HH:MM" (may wrap midnight; empty: none). Errors:
// config/"audio" for a malformed range.
struct QuietHours {
    int from_min = -1, to_min = -1;  // minutes after midnight; -1: none
    bool contains(int minute_of_day) const;
};
Result<QuietHours> parse_quiet_hours(std::string_view text);

struct VoiceConfig {
    std::string clip_dir = "/usr/share/checkpoint/voice";
    std::string language = "zh";  // "zh" | "en"
    int volume = 80;              // percent, 0..100
    int quiet_volume = 0;         // percent during quiet hours (0: silent)
    QuietHours quiet;
};

class Voice {
public:
    // Loads every clip of <clip_dir>/<language>/. Errors: not_found/"voice-clips"
    // when the folder holds no clip; invalid_input/"wav" for a broken clip.
    static Result<std::unique_ptr<Voice>> create(VoiceConfig config, std::unique_ptr<AudioOut> out);
    ~Voice();
    Voice(const Voice&) = delete;
    Voice& operator=(const Voice&) = delete;

    // Queues the clip for `key` (an unknown key is logged and skipped), at the
    // volume for `minute_of_day` (local time). At most 4 wait; older ones are
    // dropped first: the newest verdict is the one that matters.
    void say(const std::string& key, int minute_of_day);
    // Waits until the queue is empty and nothing plays (tests), up to timeout_ms.
    bool idle(int timeout_ms);
    bool has(const std::string& key) const { return clips_.count(key) > 0; }
    std::size_t clips() const { return clips_.size(); }

private:
    Voice(VoiceConfig config, std::unique_ptr<AudioOut> out);
    void run();

    VoiceConfig config_;
    std::unique_ptr<AudioOut> out_;
    std::map<std::string, Clip> clips_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<Clip> queue_;
    bool playing_ = false;
    bool stop_ = false;
    std::thread thread_;
};

// The clip key for a lane outcome: the reason code, "journal-failure" for any
// "journal-<reason>".
std::string clip_key(std::string_view reason);

}  // namespace cp::audio
