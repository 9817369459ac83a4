#include "src/common/bytes.hpp"
#include "src/common/log.hpp"
#include "src/common/result.hpp"
#include "src/common/time.hpp"

#include <doctest/doctest.h>

using namespace cp;

TEST_CASE("hex round trip and rejection of bad digits") {
    Bytes b{0x00, 0x11, 0xab, 0xff};
    CHECK(to_hex(b) == "0011abff");
    CHECK(from_hex("0011ABff").value() == b);
    CHECK_FALSE(from_hex("abc").has_value());
    CHECK_FALSE(from_hex("zz").has_value());
}

TEST_CASE("ISO 8601 parse and format") {
    CHECK(parse_iso8601("1970-01-01T00:00:00Z").value() == 0);
    CHECK(parse_iso8601("2026-01-01T00:00:00Z").value() == 1767225600);
    CHECK(parse_iso8601("2026-01-01T08:00:00+08:00").value() == 1767225600);
    CHECK(parse_iso8601("2021-05-29T19:21:13.123Z").value() == 1622316073);
    CHECK(parse_iso8601("2026-01-01").value() == 1767225600);
    CHECK_FALSE(parse_iso8601("2026-13-01").has_value());
    CHECK_FALSE(parse_iso8601("yesterday").has_value());
    CHECK_FALSE(parse_iso8601("2026-01-01T00:00:00Q").has_value());
    CHECK(format_iso8601(1767225600) == "2026-01-01T00:00:00Z");
}

TEST_CASE("ISO 8601 offsets with and without a colon") {
    // The EU DCC test data writes "+0200"; RFC 3339 writes "+02:00"; both mean the same.
    const std::int64_t t = 1623244536;  // 2021-06-09T13:15:36Z
    CHECK(parse_iso8601("2021-06-09T15:15:36+0200").value() == t);
    CHECK(parse_iso8601("2021-06-09T15:15:36+02:00").value() == t);
    CHECK(parse_iso8601("2021-06-09T15:15:36+02").value() == t);
    CHECK(parse_iso8601("2021-06-09T10:45:36-0230").value() == t);
    CHECK(parse_iso8601("2021-06-09T15:15:36.5+0200").value() == t);
    CHECK_FALSE(parse_iso8601("2021-06-09T15:15:36+020").has_value());
    CHECK_FALSE(parse_iso8601("2021-06-09T15:15:36+02:0").has_value());
    CHECK_FALSE(parse_iso8601("2021-06-09T15:15:36+2400").has_value());
    CHECK_FALSE(parse_iso8601("2021-06-09T15:15:36+0260").has_value());
    CHECK_FALSE(parse_iso8601("2021-06-09T15:15:36+02000").has_value());
    CHECK_FALSE(parse_iso8601("2021-06-09T15:15:36+").has_value());
}

TEST_CASE("Result carries a value or a typed error") {
    auto half = [](int x) -> Result<int> {
        if (x % 2) return fail(ErrorKind::invalid_input, "odd", "cannot halve");
        return x / 2;
    };
    auto r = half(4);
    REQUIRE(r.ok());
    CHECK(*r == 2);
    auto e = half(3);
    REQUIRE_FALSE(e.ok());
    CHECK(e.error().reason == "odd");
    CHECK(e.error().with_context("half").describe() == "invalid-input/odd: half: cannot halve");

    auto chain = [&](int x) -> Status {
        CP_TRY(half(x));
        return {};
    };
    CHECK(chain(2).ok());
    CHECK(chain(1).error().reason == "odd");
}

namespace {
namespace demo_reason {
inline constexpr Reason corrupt{"corrupt"};
inline constexpr Reason disk_full{"disk-full"};
}  // namespace demo_reason
Status fails_with(Reason r) { return fail(ErrorKind::io, r, "detail"); }
}  // namespace

TEST_CASE("a typed reason is compared by its constant and spelt one way") {
    const Status s = fails_with(demo_reason::disk_full);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().is(demo_reason::disk_full));
    CHECK_FALSE(s.error().is(demo_reason::corrupt));
    CHECK(s.error().is(ErrorKind::io, demo_reason::disk_full));
    CHECK_FALSE(s.error().is(ErrorKind::invalid_input, demo_reason::disk_full));
    CHECK(s.error().reason == "disk-full");
    CHECK(s.error().describe() == "io/disk-full: detail");
    CHECK(demo_reason::corrupt == Reason{"corrupt"});
    CHECK(std::string(to_string(demo_reason::corrupt)) == "corrupt");
}

TEST_CASE("log lines are key=value with quoting") {
    auto line = log::format_line(log::Level::warn, "journal", "disk full",
                                 {{"free_mb", "3"}, {"path", "/var/lib/x y"}});
    CHECK(line.find("level=warn cat=journal msg=\"disk full\" free_mb=3 path=\"/var/lib/x y\"\n") !=
          std::string::npos);
}
