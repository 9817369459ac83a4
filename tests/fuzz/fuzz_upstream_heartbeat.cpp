// POST /v1/heartbeat as the upstream server reads it: body decoding (gzip when the
// input starts with the gzip magic), JSON with the nesting limit, field validation.
// Any input yields a heartbeat or a typed error, never a crash; the stored sensors
// text is a bounded JSON object that reads back under the same limits.
#include "tools/upstream/requests.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

using namespace cp;
using namespace cp::upstream;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    const bool gz = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
    const BodyLimits limits{64u << 10, 64u << 10};  // the server's heartbeat caps
    auto text = decode_body(in, gz ? "gzip" : "", limits);
    if (!text) return 0;
    auto hb = parse_heartbeat(*text, "gate-01", 1764338000000);
    if (!hb) return 0;
    if (hb->backlog < 0 || hb->firmware.empty() || hb->firmware.size() > 64) std::abort();
    if (hb->sensors_json.size() > kMaxSensorsBytes) std::abort();
    if (!parse_json_object(hb->sensors_json)) std::abort();  // the dashboard reads it back
    return 0;
}
