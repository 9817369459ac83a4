#include "src/pass/base45.hpp"

#include <doctest/doctest.h>

using namespace cp;
using namespace cp::pass;

namespace {
std::string decode_str(std::string_view s) {
    auto r = base45_decode(s);
    REQUIRE(r.ok());
    return std::string(r->begin(), r->end());
}
}  // namespace

TEST_CASE("Base45: RFC 9285 section 4.3 examples encode") {
    CHECK(base45_encode(as_bytes("AB")) == "BB8");
    CHECK(base45_encode(as_bytes("Hello!!")) == "%69 VD92EX0");
    CHECK(base45_encode(as_bytes("base-45")) == "UJCLQE7W581");
    CHECK(base45_encode({}) == "");
}

TEST_CASE("Base45: RFC 9285 examples decode") {
    CHECK(decode_str("QED8WEX0") == "ietf!");
    CHECK(decode_str("BB8") == "AB");
    CHECK(decode_str("%69 VD92EX0") == "Hello!!");
    CHECK(decode_str("UJCLQE7W581") == "base-45");
    CHECK(decode_str("") == "");
}

TEST_CASE("Base45: round trip over every byte value") {
    Bytes all;
    for (int i = 0; i < 256; ++i) all.push_back(static_cast<std::uint8_t>(i));
    for (std::size_t len : {std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{255}, std::size_t{256}}) {
        Bytes part(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(len));
        auto back = base45_decode(base45_encode(part));
        REQUIRE(back.ok());
        CHECK(*back == part);
    }
}

TEST_CASE("Base45: invalid inputs are typed errors") {
    for (std::string_view bad : {"A",       // dangling single character
                                 "GGW",     // 65536: above 16 bits (RFC 9285 section 4.3)
                                 ":::",     // 91124
                                 "::",      // pair above 255
                                 "bb8",     // lower case is not in the alphabet
                                 "BB8=",    // '=' not in the alphabet, and a dangling char
                                 "BB\xc3\xa9"}) {
        auto r = base45_decode(bad);
        CHECK_MESSAGE(!r.ok(), bad);
        if (!r.ok()) CHECK(r.error().is(cp::pass::reason::base45));
    }
    CHECK(base45_decode("FGW").ok());  // 65535: the largest triplet
}
