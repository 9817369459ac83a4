#include "drivers/audio/audio.hpp"

#include "src/common/log.hpp"

#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#ifdef CHECKPOINT_WITH_ALSA
#include <alsa/asoundlib.h>
#endif

namespace cp::audio {
namespace fs = std::filesystem;

namespace {

constexpr std::size_t kMaxWavBytes = 64u << 20;

std::uint32_t le32(const std::uint8_t* p) {
    return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
           static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}
std::uint16_t le16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] | p[1] << 8); }
void put32(std::vector<std::uint8_t>& v, std::uint32_t x) {
    for (int i = 0; i < 4; ++i) v.push_back(static_cast<std::uint8_t>(x >> (8 * i)));
}
void put16(std::vector<std::uint8_t>& v, std::uint16_t x) {
    v.push_back(static_cast<std::uint8_t>(x));
    v.push_back(static_cast<std::uint8_t>(x >> 8));
}

Error bad_wav(const std::string& why) { return Error{ErrorKind::invalid_input, reason::wav, why}; }

}  // namespace

Result<Clip> parse_wav(std::span<const std::uint8_t> b) {
    if (b.size() > kMaxWavBytes) return fail(bad_wav("larger than 64 MiB"));
    if (b.size() < 12 || std::memcmp(b.data(), "RIFF", 4) != 0 || std::memcmp(b.data() + 8, "WAVE", 4) != 0)
        return fail(bad_wav("not a RIFF/WAVE file"));
    Clip c;
    bool fmt = false;
    std::size_t pos = 12;
    while (pos + 8 <= b.size()) {
        const std::uint32_t len = le32(b.data() + pos + 4);
        const std::uint8_t* body = b.data() + pos + 8;
        if (len > b.size() - pos - 8) {
            // espeak-ng writes 0x7ffffff0-style lengths when streaming; a data
            // chunk may run to the end of the file, nothing else may.
            if (std::memcmp(b.data() + pos, "data", 4) != 0) return fail(bad_wav("chunk runs past the end"));
        }
        const std::size_t avail = std::min<std::size_t>(len, b.size() - pos - 8);
        if (std::memcmp(b.data() + pos, "fmt ", 4) == 0) {
            if (len < 16) return fail(bad_wav("fmt chunk shorter than 16 bytes"));
            const std::uint16_t format = le16(body), channels = le16(body + 2), bits = le16(body + 14);
            const std::uint32_t rate = le32(body + 4);
            if (format != 1 || bits != 16) return fail(bad_wav("not 16-bit PCM"));
            if (channels < 1 || channels > 8) return fail(bad_wav("channels outside 1..8"));
            if (rate < 1000 || rate > 192000) return fail(bad_wav("rate outside 1000..192000"));
            c.channels = channels;
            c.rate = static_cast<int>(rate);
            fmt = true;
        } else if (std::memcmp(b.data() + pos, "data", 4) == 0) {
            if (!fmt) return fail(bad_wav("data before fmt"));
            const std::size_t n = avail / 2 / static_cast<std::size_t>(c.channels) * static_cast<std::size_t>(c.channels);
            c.samples.resize(n);
            for (std::size_t i = 0; i < n; ++i) c.samples[i] = static_cast<std::int16_t>(le16(body + 2 * i));
            return c;
        }
        pos += 8 + avail + (avail & 1);
    }
    return fail(bad_wav(fmt ? "no data chunk" : "no fmt chunk"));
}

Result<Clip> load_wav(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return fail(ErrorKind::io, reason::wav, "cannot read " + path);
    std::vector<std::uint8_t> bytes;
    char buf[65536];
    while (in.read(buf, sizeof buf) || in.gcount() > 0) {
        bytes.insert(bytes.end(), buf, buf + in.gcount());
        if (bytes.size() > kMaxWavBytes) break;
    }
    auto c = parse_wav(bytes);
    if (!c) return fail(c.error().with_context(path));
    return c;
}

std::vector<std::uint8_t> wav_bytes(const Clip& c) {
    std::vector<std::uint8_t> v;
    const auto data = static_cast<std::uint32_t>(c.samples.size() * 2);
    v.insert(v.end(), {'R', 'I', 'F', 'F'});
    put32(v, 36 + data);
    v.insert(v.end(), {'W', 'A', 'V', 'E', 'f', 'm', 't', ' '});
    put32(v, 16);
    put16(v, 1);
    put16(v, static_cast<std::uint16_t>(c.channels));
    put32(v, static_cast<std::uint32_t>(c.rate));
    put32(v, static_cast<std::uint32_t>(c.rate * c.channels * 2));
    put16(v, static_cast<std::uint16_t>(c.channels * 2));
    put16(v, 16);
    v.insert(v.end(), {'d', 'a', 't', 'a'});
    put32(v, data);
    for (std::int16_t s : c.samples) put16(v, static_cast<std::uint16_t>(s));
    return v;
}

// ---- backends -------------------------------------------------------------------

namespace {

class SimAudio final : public AudioOut {
public:
    SimAudio(fs::path folder, int keep, int next) : folder_(std::move(folder)), keep_(keep), next_(next) {}
    Status play(const Clip& clip) override {
        char name[32];
        std::snprintf(name, sizeof name, "voice-%06d-", next_++);
        const fs::path final_path = folder_ / (name + clip.key + ".wav");
        const fs::path tmp = folder_ / ".voice.tmp";
        {
            std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
            const auto bytes = wav_bytes(clip);
            out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
            if (!out) return fail(ErrorKind::io, reason::audio, "cannot write " + tmp.string());
        }
        std::error_code ec;
        fs::rename(tmp, final_path, ec);
        if (ec) return fail(ErrorKind::io, reason::audio, final_path.string() + ": " + ec.message());
        written_.push_back(final_path);
        while (static_cast<int>(written_.size()) > keep_) {
            fs::remove(written_.front(), ec);
            written_.pop_front();
        }
        return {};
    }
    std::string describe() const override { return "sim:" + folder_.string(); }

private:
    fs::path folder_;
    int keep_;
    int next_;
    std::deque<fs::path> written_;
};

#ifdef CHECKPOINT_WITH_ALSA
class AlsaAudio final : public AudioOut {
public:
    AlsaAudio(snd_pcm_t* pcm, std::string device) : pcm_(pcm), device_(std::move(device)) {}
    ~AlsaAudio() override { snd_pcm_close(pcm_); }
    Status play(const Clip& clip) override {
        if (int e = snd_pcm_set_params(pcm_, SND_PCM_FORMAT_S16_LE, SND_PCM_ACCESS_RW_INTERLEAVED,
                                       static_cast<unsigned>(clip.channels), static_cast<unsigned>(clip.rate), 1,
                                       200000);
            e < 0)
            return fail(ErrorKind::io, reason::audio, device_ + ": " + snd_strerror(e));
        const std::int16_t* p = clip.samples.data();
        auto frames = static_cast<snd_pcm_sframes_t>(clip.samples.size() / static_cast<std::size_t>(clip.channels));
        while (frames > 0) {
            snd_pcm_sframes_t n = snd_pcm_writei(pcm_, p, static_cast<snd_pcm_uframes_t>(frames));
            if (n < 0) n = snd_pcm_recover(pcm_, static_cast<int>(n), 1);
            if (n < 0) return fail(ErrorKind::io, reason::audio, device_ + ": " + snd_strerror(static_cast<int>(n)));
            p += n * clip.channels;
            frames -= n;
        }
        snd_pcm_drain(pcm_);
        return {};
    }
    std::string describe() const override { return "alsa:" + device_; }

private:
    snd_pcm_t* pcm_;
    std::string device_;
};
#endif

}  // namespace

Result<std::unique_ptr<AudioOut>> open_alsa(const std::string& device) {
#ifdef CHECKPOINT_WITH_ALSA
    snd_pcm_t* pcm = nullptr;
    if (int e = snd_pcm_open(&pcm, device.c_str(), SND_PCM_STREAM_PLAYBACK, 0); e < 0)
        return fail(ErrorKind::unavailable, reason::audio, device + ": " + snd_strerror(e));
    return std::unique_ptr<AudioOut>(new AlsaAudio(pcm, device));
#else
    return fail(ErrorKind::unavailable, reason::audio, device + ": built without ALSA (libasound2-dev)");
#endif
}

Result<std::unique_ptr<AudioOut>> open_sim_audio(const std::string& folder, int keep) {
    if (keep < 1) return fail(ErrorKind::config, reason::audio, "keep must be >= 1");
    std::error_code ec;
    fs::create_directories(folder, ec);
    if (ec) return fail(ErrorKind::io, reason::audio, folder + ": " + ec.message());
    int next = 1;
    for (const auto& e : fs::directory_iterator(folder, ec)) {
        const std::string n = e.path().filename().string();
        if (n.rfind("voice-", 0) == 0 && n.size() > 12) next = std::max(next, std::atoi(n.substr(6, 6).c_str()) + 1);
    }
    return std::unique_ptr<AudioOut>(new SimAudio(folder, keep, next));
}

// ---- quiet hours -------------------------------------------------------------------

bool QuietHours::contains(int m) const {
    if (from_min < 0 || to_min < 0 || from_min == to_min) return false;
    if (from_min < to_min) return m >= from_min && m < to_min;
    return m >= from_min || m < to_min;  // wraps midnight
}

Result<QuietHours> parse_quiet_hours(std::string_view t) {
    if (t.empty()) return QuietHours{};
    auto hhmm = [](std::string_view s) -> int {
        if (s.size() != 5 || s[2] != ':') return -1;
        for (int i : {0, 1, 3, 4})
            if (s[static_cast<std::size_t>(i)] < '0' || s[static_cast<std::size_t>(i)] > '9') return -1;
        const int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
        return h < 24 && m < 60 ? h * 60 + m : -1;
    };
    if (t.size() != 11 || t[5] != '-') return fail(ErrorKind::config, reason::audio, "quiet hours must be HH:MM-HH:MM");
    QuietHours q{hhmm(t.substr(0, 5)), hhmm(t.substr(6, 5))};
    if (q.from_min < 0 || q.to_min < 0) return fail(ErrorKind::config, reason::audio, "quiet hours must be HH:MM-HH:MM");
    return q;
}

// ---- voice -------------------------------------------------------------------------

std::string clip_key(std::string_view reason) {
    if (reason.rfind("journal-", 0) == 0) return "journal-failure";
    return std::string(reason);
}

Voice::Voice(VoiceConfig config, std::unique_ptr<AudioOut> out) : config_(std::move(config)), out_(std::move(out)) {}

Result<std::unique_ptr<Voice>> Voice::create(VoiceConfig config, std::unique_ptr<AudioOut> out) {
    const fs::path dir = fs::path(config.clip_dir) / config.language;
    std::unique_ptr<Voice> v(new Voice(config, std::move(out)));
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
        if (e.path().extension() != ".wav") continue;
        auto c = load_wav(e.path().string());
        if (!c) return fail(c.error());
        c->key = e.path().stem().string();
        v->clips_.emplace(c->key, std::move(*c));
    }
    if (v->clips_.empty()) return fail(ErrorKind::not_found, reason::voice_clips, dir.string() + ": no .wav clips");
    try {
        v->thread_ = std::thread([p = v.get()] { p->run(); });
    } catch (const std::system_error& e) {
        return fail(ErrorKind::internal, reason::thread, e.what());
    }
    return v;
}

Voice::~Voice() {
    {
        std::lock_guard lock(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void Voice::say(const std::string& key, int minute_of_day) {
    auto it = clips_.find(key);
    if (it == clips_.end()) {
        log::warn("voice", "no clip for key", {{"key", key}});
        return;
    }
    const int volume = config_.quiet.contains(minute_of_day) ? config_.quiet_volume : config_.volume;
    if (volume <= 0) return;
    Clip c = it->second;
    for (auto& s : c.samples) s = static_cast<std::int16_t>(static_cast<int>(s) * volume / 100);
    {
        std::lock_guard lock(mu_);
        while (queue_.size() >= 4) queue_.pop_front();
        queue_.push_back(std::move(c));
    }
    cv_.notify_all();
}

bool Voice::idle(int timeout_ms) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [this] { return queue_.empty() && !playing_; });
}

void Voice::run() {
    pthread_setname_np(pthread_self(), "voice");
    std::unique_lock lock(mu_);
    for (;;) {
        cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
        if (stop_) return;
        Clip c = std::move(queue_.front());
        queue_.pop_front();
        playing_ = true;
        lock.unlock();
        if (auto s = out_->play(c); !s) log::warn("voice", "play failed", {{"reason", s.error().reason}, {"detail", s.error().message}});
        lock.lock();
        playing_ = false;
        cv_.notify_all();
    }
}

}  // namespace cp::audio
