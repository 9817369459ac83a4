// Voice: WAV reading and writing, bad files as typed errors, quiet hours, the
// sim backend's files, the Voice queue, and the clips made at build time.
#include "drivers/audio/audio.hpp"
#include "src/decision/decision.hpp"
#include "tests/testing.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>


using namespace cp;
using namespace cp::audio;
namespace fs = std::filesystem;

namespace {

Clip tone(const std::string& key, double seconds, int rate = 16000, std::int16_t amp = 10000) {
    Clip c;
    c.key = key;
    c.rate = rate;
    c.samples.resize(static_cast<std::size_t>(seconds * rate));
    for (std::size_t i = 0; i < c.samples.size(); ++i)
        c.samples[i] = static_cast<std::int16_t>(amp * std::sin(static_cast<double>(i) * 0.2));
    return c;
}

void write_clip(const fs::path& p, const Clip& c) {
    const auto b = wav_bytes(c);
    testing::write_file(p, std::string(b.begin(), b.end()));
}

std::vector<fs::path> voice_files(const fs::path& dir) {
    std::vector<fs::path> v;
    for (const auto& e : fs::directory_iterator(dir))
        if (e.path().extension() == ".wav") v.push_back(e.path());
    std::sort(v.begin(), v.end());
    return v;
}

}  // namespace

TEST_CASE("a WAV written is read back with its rate, channels and samples") {
    const Clip c = tone("ok", 0.25);
    auto back = parse_wav(wav_bytes(c));
    REQUIRE(back.ok());
    CHECK(back->rate == 16000);
    CHECK(back->channels == 1);
    CHECK(back->samples == c.samples);
    CHECK(back->seconds() == doctest::Approx(0.25));
}

TEST_CASE("broken WAV files are typed errors") {
    auto bytes = wav_bytes(tone("x", 0.01));
    auto err = [](std::vector<std::uint8_t> b) {
        auto r = parse_wav(b);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().kind == ErrorKind::invalid_input);
        CHECK(r.error().is(cp::audio::reason::wav));
        return r.error().message;
    };
    CHECK(err({}) == "not a RIFF/WAVE file");
    auto b = bytes;
    b[8] = 'X';
    CHECK(err(b) == "not a RIFF/WAVE file");
    b = bytes;
    b[34] = 8;  // bits per sample
    CHECK(err(b) == "not 16-bit PCM");
    b = bytes;
    b[20] = 3;  // float
    CHECK(err(b) == "not 16-bit PCM");
    b = bytes;
    b[22] = 0;  // channels
    CHECK(err(b) == "channels outside 1..8");
    b = bytes;
    b[16] = 0xff;  // fmt length past the end
    b[17] = 0xff;
    CHECK(err(b) == "chunk runs past the end");
    b.assign(bytes.begin(), bytes.begin() + 36);  // fmt only
    CHECK(err(b) == "no data chunk");
    auto missing = load_wav("/nonexistent/clip.wav");
    CHECK(missing.error().kind == ErrorKind::io);
}

TEST_CASE("quiet hours: HH:MM-HH:MM, wrapping midnight") {
    auto q = parse_quiet_hours("22:00-06:30");
    REQUIRE(q.ok());
    CHECK(q->contains(23 * 60));
    CHECK(q->contains(0));
    CHECK(q->contains(6 * 60 + 29));
    CHECK_FALSE(q->contains(6 * 60 + 30));
    CHECK_FALSE(q->contains(12 * 60));
    auto day = parse_quiet_hours("12:00-13:00").value();
    CHECK(day.contains(12 * 60 + 30));
    CHECK_FALSE(day.contains(13 * 60));
    CHECK_FALSE(parse_quiet_hours("").value().contains(0));
    for (const char* bad : {"22-06", "25:00-06:00", "22:00-06:60", "22:00 06:00", "aa:bb-cc:dd"})
        CHECK(parse_quiet_hours(bad).error().kind == ErrorKind::config);
}

TEST_CASE("the voice speaks queued keys in order at the configured volume, silent in quiet hours") {
    testing::TempDir dir;
    fs::create_directories(dir / "clips" / "zh");
    write_clip(dir / "clips" / "zh" / "ok.wav", tone("ok", 0.2));
    write_clip(dir / "clips" / "zh" / "fever.wav", tone("fever", 0.5));
    VoiceConfig vc;
    vc.clip_dir = (dir / "clips").string();
    vc.volume = 50;
    vc.quiet = parse_quiet_hours("22:00-06:00").value();
    auto voice = Voice::create(vc, open_sim_audio((dir / "out").string()).value());
    REQUIRE(voice.ok());
    CHECK((*voice)->clips() == 2);
    (*voice)->say("ok", 12 * 60);
    REQUIRE((*voice)->idle(5000));
    (*voice)->say("fever", 12 * 60);
    (*voice)->say("no-such-key", 12 * 60);  // logged, skipped
    (*voice)->say("ok", 23 * 60);           // quiet hours, quiet_volume 0: nothing
    REQUIRE((*voice)->idle(5000));
    const auto files = voice_files(dir / "out");
    REQUIRE(files.size() == 2);
    CHECK(files[0].filename() == "voice-000001-ok.wav");
    CHECK(files[1].filename() == "voice-000002-fever.wav");
    const Clip spoken = load_wav(files[1].string()).value();
    CHECK(spoken.seconds() == doctest::Approx(0.5));
    // Half volume: the loudest sample is half the clip's.
    int peak = 0;
    for (auto s : spoken.samples) peak = std::max(peak, std::abs(static_cast<int>(s)));
    CHECK(peak == doctest::Approx(5000).epsilon(0.01));
    // A new backend on the same folder continues the numbering.
    auto again = open_sim_audio((dir / "out").string()).value();
    REQUIRE(again->play(tone("ok", 0.1)).ok());
    CHECK(fs::exists(dir / "out" / "voice-000003-ok.wav"));
}

TEST_CASE("a clip folder without clips is a typed error") {
    testing::TempDir dir;
    VoiceConfig vc;
    vc.clip_dir = dir.path().string();
    auto v = Voice::create(vc, open_sim_audio((dir / "out").string()).value());
    REQUIRE_FALSE(v.ok());
    CHECK(v.error().is(cp::audio::reason::voice_clips));
    CHECK(open_alsa("no-such-pcm-device").error().kind == ErrorKind::unavailable);
}

TEST_CASE("the build made a clip for every reason, in Mandarin and English") {
    const fs::path dir = CHECKPOINT_VOICE_DIR;
    if (!fs::exists(dir / "zh" / "ok.wav")) {
        MESSAGE("no voice clips (espeak-ng missing at build time): ", dir.string());
        std::exit(testing::kSkip);
    }
    std::vector<std::string> keys{"idle", "manual-allow", "manual-deny", "journal-failure"};
    for (int r = static_cast<int>(decision::Reason::ok); r <= static_cast<int>(decision::Reason::remeasure_indoors); ++r)
        keys.push_back(decision::reason_code(static_cast<decision::Reason>(r)));
    for (const char* lang : {"zh", "en"}) {
        for (const auto& k : keys) {
            CAPTURE(lang);
            CAPTURE(k);
            auto c = load_wav((dir / lang / (k + ".wav")).string());
            REQUIRE(c.ok());
            CHECK(c->seconds() > 0.3);
            CHECK(c->seconds() < 8.0);
        }
    }
    CHECK(clip_key("journal-disk-full") == "journal-failure");
    CHECK(clip_key("fever") == "fever");
}
