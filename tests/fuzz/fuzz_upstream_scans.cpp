// POST /v1/scans as the upstream server reads it: body decoding (gzip when the
// input starts with the gzip magic), JSON with the nesting limit, scan validation.
// Any input yields scans or a typed error, never a crash.
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
    // Small caps keep each run fast; the server's are larger, the code the same.
    const BodyLimits limits{1u << 20, 4u << 20};
    auto text = decode_body(in, gz ? "gzip" : "", limits);
    if (!text) return 0;
    constexpr std::size_t kMaxBatch = 1000;
    std::size_t index = 0;
    auto scans = parse_scan_upload(*text, "gate-01", 1764338000, kMaxBatch, &index);
    if (!scans) {
        if (scans.error().is(reason::scan) && index >= kMaxBatch) std::abort();
        return 0;
    }
    if (scans->size() > kMaxBatch) std::abort();
    for (const Scan& s : *scans) {
        // scan_id: 1-128 characters (docs/sync-protocol.md, `<device>-<epoch>-<seq>`).
        if (s.seq < 1 || s.time < 0 || s.scan_id.empty() || s.scan_id.size() > 128) std::abort();
        if (!s.pass_id.empty() && s.pass_id.size() != 32) std::abort();
        if (s.temperature_c && !(*s.temperature_c >= 20.0 && *s.temperature_c <= 50.0))
            std::abort();
        if (s.manual && (s.ref_seq < 1 || s.ref_seq >= s.seq)) std::abort();
    }
    return 0;
}
