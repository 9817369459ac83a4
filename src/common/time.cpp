#include "src/common/time.hpp"

#include <cctype>
#include <cstdio>
#include <ctime>

namespace cp {

static std::int64_t clock_ms(clockid_t id) {
    timespec ts{};
    clock_gettime(id, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

std::int64_t wall_now_ms() { return clock_ms(CLOCK_REALTIME); }
std::int64_t monotonic_now_ms() { return clock_ms(CLOCK_MONOTONIC); }

std::string format_utc(std::int64_t epoch_seconds, const char* format) {
    time_t t = static_cast<time_t>(epoch_seconds);
    tm parts{};
    gmtime_r(&t, &parts);
    char buf[64];
    if (std::strftime(buf, sizeof buf, format, &parts) == 0) return {};
    return buf;
}

std::string format_iso8601(std::int64_t epoch_seconds) {
    return format_utc(epoch_seconds, "%Y-%m-%dT%H:%M:%SZ");
}

// Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant's algorithm).
static std::int64_t days_from_civil(std::int64_t y, std::int64_t m, std::int64_t d) {
    y -= m <= 2 ? 1 : 0;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const std::int64_t yoe = y - era * 400;
    const std::int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

std::optional<std::int64_t> parse_iso8601(std::string_view s) {
    auto num = [&](std::size_t pos, std::size_t len) -> std::optional<int> {
        if (pos + len > s.size()) return std::nullopt;
        int v = 0;
        for (std::size_t i = pos; i < pos + len; ++i) {
            if (!std::isdigit(static_cast<unsigned char>(s[i]))) return std::nullopt;
            v = v * 10 + (s[i] - '0');
        }
        return v;
    };
    auto year = num(0, 4), month = num(5, 2), day = num(8, 2);
    if (!year || !month || !day || s.size() < 10 || s[4] != '-' || s[7] != '-') return std::nullopt;
    if (*month < 1 || *month > 12 || *day < 1 || *day > 31) return std::nullopt;
    std::int64_t secs = days_from_civil(*year, *month, *day) * 86400;
    if (s.size() == 10) return secs;
    if (s[10] != 'T' && s[10] != ' ') return std::nullopt;
    auto hh = num(11, 2), mm = num(14, 2), ss = num(17, 2);
    if (!hh || !mm || !ss || s.size() < 19 || s[13] != ':' || s[16] != ':') return std::nullopt;
    if (*hh > 23 || *mm > 59 || *ss > 60) return std::nullopt;
    secs += *hh * 3600 + *mm * 60 + *ss;
    std::size_t p = 19;
    if (p < s.size() && s[p] == '.') {
        ++p;
        while (p < s.size() && std::isdigit(static_cast<unsigned char>(s[p]))) ++p;
    }
    if (p == s.size()) return secs;
    if (s[p] == 'Z' && p + 1 == s.size()) return secs;
    if (s[p] != '+' && s[p] != '-') return std::nullopt;
    // Offsets ±hh:mm, ±hhmm (the basic form, as in the EU DCC test data) and ±hh.
    std::optional<int> oh = num(p + 1, 2), om;
    if (s.size() == p + 6 && s[p + 3] == ':') om = num(p + 4, 2);
    else if (s.size() == p + 5) om = num(p + 3, 2);
    else if (s.size() == p + 3) om = 0;
    if (!oh || !om || *oh > 23 || *om > 59) return std::nullopt;
    const std::int64_t off = *oh * 3600 + *om * 60;
    return s[p] == '+' ? secs - off : secs + off;
}

}  // namespace cp
