// libFuzzer target: parse_lane_script on arbitrary bytes. A parsed script must
// also be safe to walk: at() and total_frames() on every frame it describes.
#include "drivers/sim_lane/lane_script.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto r = cp::lane::parse_lane_script(
        std::string_view(reinterpret_cast<const char*>(data), size));
    if (!r.ok()) return 0;
    const std::int64_t total = r->total_frames();
    // Probe a bounded set of frames: both ends, and a stride through the middle.
    const std::int64_t step = total / 64 + 1;
    for (std::int64_t f = -1; f <= total + 1; f += step) {
        auto pos = r->at(f);
        if (pos.person >= static_cast<int>(r->people.size())) __builtin_trap();
    }
    return 0;
}
