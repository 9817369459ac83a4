// Wall clock and monotonic clock, and ISO 8601 text. Times in the journal and
// passes are seconds since the Unix epoch (UTC).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cp {

std::int64_t wall_now_ms();       // CLOCK_REALTIME; may be wrong after power loss
std::int64_t monotonic_now_ms();  // CLOCK_MONOTONIC; never jumps

// "2026-11-28T14:04:19Z"
std::string format_iso8601(std::int64_t epoch_seconds);
// The UTC time `epoch_seconds` formatted with strftime's `format` (at most 63 bytes).
std::string format_utc(std::int64_t epoch_seconds, const char* format);
// Accepts "YYYY-MM-DDTHH:MM:SS" followed by "Z", an offset "±HH:MM", "±HHMM" or
// "±HH", or nothing (UTC), with optional fractional seconds; also a plain date
// "YYYY-MM-DD".
std::optional<std::int64_t> parse_iso8601(std::string_view text);

}  // namespace cp
