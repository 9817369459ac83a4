// libFuzzer target: parse_wav on arbitrary bytes. A parsed clip must be
// consistent (whole frames, sane rate and channels) and survive a round trip.
#include "drivers/audio/audio.hpp"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto r = cp::audio::parse_wav(std::span<const std::uint8_t>(data, size));
    if (!r.ok()) return 0;
    if (r->channels < 1 || r->channels > 8 || r->rate < 1000 || r->rate > 192000) __builtin_trap();
    if (r->samples.size() % static_cast<std::size_t>(r->channels) != 0) __builtin_trap();
    auto again = cp::audio::parse_wav(cp::audio::wav_bytes(*r));
    if (!again.ok() || again->samples != r->samples) __builtin_trap();
    return 0;
}
