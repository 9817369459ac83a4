// Reading of the device request bodies of the reference upstream (POST /v1/scans,
// POST /v1/heartbeat): body decoding with size caps, JSON with a nesting limit,
// and field validation into typed values. No network and no store: the server and
// the fuzz targets (tests/fuzz/fuzz_upstream_*) call the same functions.
#pragma once

#include "src/common/result.hpp"
#include "tools/upstream/reasons.hpp"
#include "tools/upstream/store.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cp::upstream {

// Deepest nesting of arrays and objects accepted in a request body (the body
// object itself is depth 1). Scans need 3, heartbeat sensors a few more.
inline constexpr std::size_t kMaxJsonDepth = 16;
// Largest `sensors` object of a heartbeat, serialized.
inline constexpr std::size_t kMaxSensorsBytes = 4096;

// Size caps of one route; every cap is checked before the work it bounds.
struct BodyLimits {
    std::size_t max_body_bytes = 4u << 20;       // as received (compressed)
    std::size_t max_inflated_bytes = 16u << 20;  // after gunzip
};

// Error reasons of this module: tools/upstream/reasons.hpp (the server maps them
// to HTTP statuses).

// gunzip with a size cap. Errors: invalid_input "gzip", rejected "too-large".
Result<std::string> gunzip(std::string_view data, std::size_t max_out);

// The body as sent with `content_encoding` ("", "identity" or "gzip"), inflated
// within `limits`. Errors: rejected "too-large", invalid_input "gzip" or
// "content-encoding".
Result<std::string> decode_body(std::string_view body, std::string_view content_encoding,
                                const BodyLimits& limits);

// Parses a JSON object, refusing nesting deeper than `max_depth` while parsing
// (before any tree is built). Errors: invalid_input "json", "json-depth".
Result<nlohmann::json> parse_json_object(std::string_view text,
                                         std::size_t max_depth = kMaxJsonDepth);

// One uploaded batch, validated. On a bad scan the error's reason is "scan" and
// `*bad_index` (when given) is the index of the offending scan.
// Errors: invalid_input "json", "json-depth", "scans", "scan";
// rejected "batch-too-large", "device-mismatch".
Result<std::vector<Scan>> parse_scan_upload(std::string_view json_text,
                                            const std::string& device_id, std::int64_t now_s,
                                            std::size_t max_batch,
                                            std::size_t* bad_index = nullptr);

// A heartbeat, validated; `server_time_ms` is stamped into the result.
// Errors: invalid_input "json", "json-depth", "heartbeat" (message names the field).
Result<Heartbeat> parse_heartbeat(std::string_view json_text, const std::string& device_id,
                                  std::int64_t server_time_ms);

}  // namespace cp::upstream
