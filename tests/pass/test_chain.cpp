// The layers one by one: zlib cap, Sig_structure, COSE_Sign1 structure rules.
#include "tests/pass/fixtures.hpp"

using namespace cp;
using namespace cp::pass;
using namespace cp::pass::testing;

TEST_CASE("inflate: round trip, exactly 64 KiB passes, one byte more is too-large") {
    Bytes data(1000, 'x');
    auto z = deflate_zlib(data);
    REQUIRE(z.ok());
    auto back = inflate_capped(*z);
    REQUIRE(back.ok());
    CHECK(*back == data);

    Bytes exact(kMaxInflated, 0);
    auto ze = deflate_zlib(exact);
    REQUIRE(ze.ok());
    CHECK(inflate_capped(*ze).ok());

    Bytes over(kMaxInflated + 1, 0);
    auto zo = deflate_zlib(over);
    REQUIRE(zo.ok());
    auto r = inflate_capped(*zo);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().is(cp::pass::reason::too_large));
}

TEST_CASE("inflate: a zip bomb stops at the cap") {
    Bytes bomb(64 * 1024 * 1024, 0);  // 64 MiB of zeros deflate to ~64 KiB
    auto z = deflate_zlib(bomb);
    REQUIRE(z.ok());
    CHECK(z->size() < 100 * 1024);
    auto r = inflate_capped(*z);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().is(cp::pass::reason::too_large));
}

TEST_CASE("inflate: corrupt, truncated, trailing and uncompressed input") {
    auto z = deflate_zlib(as_bytes("hello hello hello"));
    REQUIRE(z.ok());
    Bytes truncated(z->begin(), z->end() - 3);
    CHECK(inflate_capped(truncated).error().is(cp::pass::reason::inflate));
    Bytes trailing = *z;
    trailing.push_back(0);
    CHECK(inflate_capped(trailing).error().is(cp::pass::reason::inflate));
    Bytes corrupt = *z;
    corrupt[0] = 0x00;
    CHECK(inflate_capped(corrupt).error().is(cp::pass::reason::inflate));
    CHECK(inflate_capped(as_bytes("plain text")).error().is(cp::pass::reason::inflate));
    CHECK(inflate_capped({}).error().is(cp::pass::reason::inflate));
}

TEST_CASE("Sig_structure bytes: [\"Signature1\", protected, h'', payload]") {
    Bytes prot{0xa1, 0x01, 0x26};
    Bytes payload{0x01};
    // 84 array(4), 6a "Signature1", 43 bstr(3), 40 h'', 41 bstr(1)
    CHECK(to_hex(sig_structure(prot, payload)) == "846a5369676e61747572653143a1012640" "4101");
    Bytes big(300, 0xab);
    Bytes s = sig_structure(prot, big);
    // bstr(300) head is 59 01 2c
    CHECK(to_hex(ByteView(s).subspan(17, 3)) == "59012c");
    CHECK(s.size() == 1 + 11 + 4 + 1 + 3 + 300);
}

TEST_CASE("COSE_Sign1: tagged, untagged and CWT-wrapped forms parse to the same parts") {
    Issuer is = Issuer::make();
    Bytes prot = es256_header(is.kid);
    Bytes tagged = signed_cose(is, prot, bytes_of("payload"));
    auto a = parse_cose_sign1(tagged);
    REQUIRE(a.ok());
    CHECK(a->protected_bstr == prot);
    CHECK(a->protected_header.alg == kAlgES256);
    CHECK(a->protected_header.kid == is.kid);
    CHECK(a->signature.size() == 64);
    Bytes untagged(tagged.begin() + 1, tagged.end());
    CHECK(parse_cose_sign1(untagged).ok());
    Bytes cwt{0xd8, 0x3d};
    cwt.insert(cwt.end(), tagged.begin(), tagged.end());
    CHECK(parse_cose_sign1(cwt).ok());
    Bytes cwt_untagged{0xd8, 0x3d};
    cwt_untagged.insert(cwt_untagged.end(), untagged.begin(), untagged.end());
    CHECK(parse_cose_sign1(cwt_untagged).error().is(cp::pass::reason::cose));
    Bytes other_tag{0xd1};  // tag 17 (COSE_Mac0)
    other_tag.insert(other_tag.end(), untagged.begin(), untagged.end());
    CHECK_FALSE(parse_cose_sign1(other_tag).ok());
}

TEST_CASE("COSE_Sign1: structural errors are cose, undecodable bytes are cbor") {
    CHECK(parse_cose_sign1(Bytes{0x01}).error().is(cp::pass::reason::cose));                    // an integer
    CHECK(parse_cose_sign1(Bytes{0x83, 0x40, 0xa0, 0x40}).error().is(cp::pass::reason::cose));  // array of 3
    CHECK(parse_cose_sign1(Bytes{0x84, 0x40, 0xa0, 0x40, 0x01}).error().is(cp::pass::reason::cose));  // sig not bstr
    CHECK(parse_cose_sign1(Bytes{0x84, 0x40, 0x40, 0x40, 0x40}).error().is(cp::pass::reason::cose));  // unprotected not map
    CHECK(parse_cose_sign1(Bytes{0x84, 0x40, 0xa0, 0xf6, 0x40}).error().is(cp::pass::reason::cose));  // detached payload
    CHECK(parse_cose_sign1(Bytes{0xff}).error().is(cp::pass::reason::cbor));
    CHECK(parse_cose_sign1(Bytes{0x84, 0x40}).error().is(cp::pass::reason::cbor));                    // truncated
    CHECK(parse_cose_sign1(Bytes{0x84, 0x40, 0xa0, 0x40, 0x40, 0x00}).error().is(cp::pass::reason::cbor));  // trailing
    CHECK(parse_cose_sign1(Bytes{}).error().is(cp::pass::reason::cbor));
    // An array declaring 2^32 elements in 6 bytes must fail before any allocation.
    CHECK(parse_cose_sign1(Bytes{0x9b, 0, 0, 0, 1, 0, 0, 0, 0}).error().is(cp::pass::reason::cbor));
    // A byte string declaring 4 GiB.
    CHECK(parse_cose_sign1(Bytes{0x5a, 0xff, 0xff, 0xff, 0xff, 0}).error().is(cp::pass::reason::cbor));
    // Nesting beyond the bound: 10,000 nested arrays.
    Bytes deep(10000, 0x81);
    deep.push_back(0x00);
    CHECK(parse_cose_sign1(deep).error().is(cp::pass::reason::cbor));
}

TEST_CASE("COSE_Sign1: duplicate labels in either header are cose") {
    // protected {1: -7, 4: h'0102030405060708', 1: -7}
    Bytes dup_prot{0xa3, 0x01, 0x26, 0x04, 0x48, 1, 2, 3, 4, 5, 6, 7, 8, 0x01, 0x26};
    Bytes msg{0x84, 0x4f};  // bstr(15)
    msg.insert(msg.end(), dup_prot.begin(), dup_prot.end());
    msg.insert(msg.end(), {0xa0, 0x40, 0x40});
    auto r = parse_cose_sign1(msg);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().is(cp::pass::reason::cose));
    CHECK(r.error().message.find("duplicate") != std::string::npos);

    // unprotected {4: h'01', 4: h'02'}
    Bytes dup_unprot{0x84, 0x43, 0xa1, 0x01, 0x26, 0xa2, 0x04, 0x41, 0x01, 0x04, 0x41, 0x02, 0x40, 0x40};
    CHECK(parse_cose_sign1(dup_unprot).error().is(cp::pass::reason::cose));
    // text label duplicated: {"a": 1, "a": 2}
    Bytes dup_text{0x84, 0x40, 0xa2, 0x61, 'a', 0x01, 0x61, 'a', 0x02, 0x40, 0x40};
    CHECK(parse_cose_sign1(dup_text).error().is(cp::pass::reason::cose));
    // 1 and -1 are different labels
    Bytes distinct{0x84, 0x40, 0xa2, 0x01, 0x26, 0x20, 0x26, 0x40, 0x40};
    CHECK(parse_cose_sign1(distinct).ok());
    // kid must be a byte string
    Bytes kid_text{0x84, 0x40, 0xa1, 0x04, 0x61, 'k', 0x40, 0x40};
    CHECK(parse_cose_sign1(kid_text).error().is(cp::pass::reason::cose));
}

TEST_CASE("cose_sign1_sign / cose_sign1_open: general signed documents") {
    Issuer is = Issuer::make();
    Issuer other = Issuer::make("other");
    Bytes doc = bytes_of("any payload, e.g. a status list");
    auto cose = cose_sign1_sign(doc, is.key, is.kid);
    REQUIRE(cose.ok());
    crypto::TrustStore store;
    store.add(is.cert());
    auto opened = cose_sign1_open(*cose, store);
    REQUIRE(opened.ok());
    CHECK(*opened == doc);
    auto single = cose_sign1_open(*cose, is.cert());
    REQUIRE(single.ok());
    CHECK(*single == doc);
    CHECK(cose_sign1_open(*cose, other.cert()).error().is(cp::pass::reason::unknown_key));
    crypto::TrustStore other_store;
    other_store.add(other.cert());
    CHECK(cose_sign1_open(*cose, other_store).error().is(cp::pass::reason::unknown_key));
    Bytes tampered = *cose;
    tampered[tampered.size() - 70] ^= 1;  // inside the payload
    CHECK(cose_sign1_open(tampered, store).error().is(cp::pass::reason::signature));
}
