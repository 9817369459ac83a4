// cp_zlib: round trips in both wrappers, the output cap, and a typed error for
// each kind of bad stream.
#include "src/zlib/zlib.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace cp;

namespace {

Bytes text_bytes(const std::string& s) { return Bytes(s.begin(), s.end()); }

}  // namespace

TEST_CASE("zlib: round trip in both wrappers, bytes and text") {
    const std::string text(100000, 'x');
    for (auto w : {zlib::Wrapper::zlib, zlib::Wrapper::gzip}) {
        auto z = zlib::deflate(std::string_view(text), w, 6);
        REQUIRE(z.ok());
        CHECK(z->size() < text.size() / 10);
        auto back = zlib::inflate(std::string_view(*z), w, text.size());
        REQUIRE(back.ok());
        CHECK(*back == text);
        auto zb = zlib::deflate(ByteView(text_bytes("abc")), w, 9);
        REQUIRE(zb.ok());
        auto bb = zlib::inflate(ByteView(*zb), w, 3);
        REQUIRE(bb.ok());
        CHECK(*bb == text_bytes("abc"));
    }
    // The gzip wrapper starts with its magic bytes; the zlib one with CMF 0x78.
    auto g = zlib::deflate(std::string_view("a"), zlib::Wrapper::gzip, 6);
    REQUIRE(g.ok());
    CHECK(static_cast<unsigned char>((*g)[0]) == 0x1f);
    CHECK(static_cast<unsigned char>((*g)[1]) == 0x8b);
    auto z = zlib::deflate(std::string_view("a"), zlib::Wrapper::zlib, 6);
    REQUIRE(z.ok());
    CHECK(static_cast<unsigned char>((*z)[0]) == 0x78);
}

TEST_CASE("zlib: exactly the cap passes, one byte more is too-large, a bomb stops at the cap") {
    const std::string text(50000, 'a');
    auto z = zlib::deflate(std::string_view(text), zlib::Wrapper::gzip, 9);
    REQUIRE(z.ok());
    CHECK(zlib::inflate(std::string_view(*z), zlib::Wrapper::gzip, 50000).ok());
    auto over = zlib::inflate(std::string_view(*z), zlib::Wrapper::gzip, 49999);
    REQUIRE(!over.ok());
    CHECK(over.error().is(ErrorKind::invalid_input, zlib::reason::too_large));
    // 64 MiB of zeros deflate to ~64 KiB; inflating stops at the cap.
    const Bytes zeros(64u << 20, 0);
    auto bomb = zlib::deflate(ByteView(zeros), zlib::Wrapper::zlib, 9);
    REQUIRE(bomb.ok());
    auto r = zlib::inflate(ByteView(*bomb), zlib::Wrapper::zlib, 1u << 20);
    REQUIRE(!r.ok());
    CHECK(r.error().is(zlib::reason::too_large));
}

TEST_CASE("zlib: corrupt, truncated, trailing bytes and the wrong wrapper are typed errors") {
    auto z = zlib::deflate(std::string_view("hello hello hello hello"), zlib::Wrapper::zlib, 9);
    REQUIRE(z.ok());
    const std::string& s = *z;

    auto corrupt = zlib::inflate(std::string_view("not zlib at all"), zlib::Wrapper::zlib, 1000);
    REQUIRE(!corrupt.ok());
    CHECK(corrupt.error().is(ErrorKind::invalid_input, zlib::reason::corrupt));

    auto empty = zlib::inflate(std::string_view(), zlib::Wrapper::zlib, 1000);
    REQUIRE(!empty.ok());
    CHECK(empty.error().is(ErrorKind::invalid_input, zlib::reason::truncated));

    auto truncated = zlib::inflate(std::string_view(s).substr(0, s.size() - 3), zlib::Wrapper::zlib, 1000);
    REQUIRE(!truncated.ok());
    CHECK(truncated.error().is(ErrorKind::invalid_input, zlib::reason::truncated));

    const std::string trailing = s + "xy";
    auto refused = zlib::inflate(std::string_view(trailing), zlib::Wrapper::zlib, 1000);
    REQUIRE(!refused.ok());
    CHECK(refused.error().is(ErrorKind::invalid_input, zlib::reason::trailing_bytes));
    auto ignored = zlib::inflate(std::string_view(trailing), zlib::Wrapper::zlib, 1000, zlib::Trailing::ignore);
    REQUIRE(ignored.ok());
    CHECK(*ignored == "hello hello hello hello");

    // A zlib stream is not a gzip one.
    auto wrong = zlib::inflate(std::string_view(s), zlib::Wrapper::gzip, 1000);
    REQUIRE(!wrong.ok());
    CHECK(wrong.error().is(ErrorKind::invalid_input, zlib::reason::corrupt));

    // A flipped byte in the deflate data or the checksum.
    std::string flipped = s;
    flipped[flipped.size() - 1] = static_cast<char>(flipped.back() ^ 0x55);
    auto bad_sum = zlib::inflate(std::string_view(flipped), zlib::Wrapper::zlib, 1000);
    REQUIRE(!bad_sum.ok());
    CHECK(bad_sum.error().is(ErrorKind::invalid_input, zlib::reason::corrupt));
}
