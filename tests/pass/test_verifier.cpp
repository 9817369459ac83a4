// Every rejection reason of the spec from a crafted input, plus the HC1 header rules.
#include "src/pass/verifier.hpp"
#include "tests/pass/fixtures.hpp"

#include <limits>

using namespace cp;
using namespace cp::pass;
using namespace cp::pass::testing;

namespace {

struct World {
    Issuer issuer = Issuer::make("trusted");
    Issuer stranger = Issuer::make("untrusted");
    crypto::TrustStore store;
    World() { store.add(issuer.cert()); }

    std::string issue(const Pass& p) const {
        auto t = issue_cp1(p, issuer.key, issuer.kid);
        REQUIRE(t.ok());
        return *t;
    }
    Verification verify(std::string_view text, std::int64_t now = kNow, std::int64_t skew = 300) const {
        PassVerifier v(store, VerifierOptions{skew});
        return v.verify(text, now);
    }
};

// Claims with one key of the pass map replaced (raw CBOR so invalid values can be made).
Bytes claims_with_pass_map(const Bytes& pass_map) {
    // {1: "CN-HL-DQ", 6: kIat, 4: kExp, -65537: pass_map}
    Bytes c{0xa4, 0x01, 0x68};
    for (char ch : std::string("CN-HL-DQ")) c.push_back(static_cast<std::uint8_t>(ch));
    c.insert(c.end(), {0x06, 0x1a, 0x69, 0x55, 0xb9, 0x00});  // 1767225600
    c.insert(c.end(), {0x04, 0x1a, 0x6b, 0x36, 0xec, 0x80});  // 1798761600
    c.insert(c.end(), {0x3a, 0x00, 0x01, 0x00, 0x00});         // -65537
    c.insert(c.end(), pass_map.begin(), pass_map.end());
    return c;
}

// CBOR text string header + bytes (any length below 64 KiB).
Bytes cbor_text(const std::string& t) {
    Bytes b;
    if (t.size() < 24) b.push_back(static_cast<std::uint8_t>(0x60 + t.size()));
    else if (t.size() < 256) b.insert(b.end(), {0x78, static_cast<std::uint8_t>(t.size())});
    else b.insert(b.end(), {0x79, static_cast<std::uint8_t>(t.size() >> 8), static_cast<std::uint8_t>(t.size() & 0xff)});
    b.insert(b.end(), t.begin(), t.end());
    return b;
}

// A driver pass map {"v":1,"id":..,"k":"D","n":"x","p":plate}, bypassing the issuer-side check.
Bytes driver_map(const std::string& plate) {
    Bytes m{0xa5, 0x61, 'v', 0x01, 0x62, 'i', 'd', 0x50};
    Pass p = resident();
    m.insert(m.end(), p.id.begin(), p.id.end());
    m.insert(m.end(), {0x61, 'k', 0x61, 'D', 0x61, 'n', 0x61, 'x', 0x61, 'p'});
    Bytes t = cbor_text(plate);
    m.insert(m.end(), t.begin(), t.end());
    return m;
}

// A minimal DCC with the given issuer and name parts.
Bytes dcc_claims(const std::string& iss, const std::string& gn, const std::string& fn) {
    Bytes c{0xa4, 0x01};
    Bytes it = cbor_text(iss);
    c.insert(c.end(), it.begin(), it.end());
    c.insert(c.end(), {0x04, 0x1a, 0x6b, 0x36, 0xec, 0x80, 0x06, 0x1a, 0x69, 0x55, 0xb9, 0x00});
    // -260: {1: {"v": [{"ci": "URN:UVCI:TEST"}], "nam": {"gn": gn, "fn": fn}}}
    c.insert(c.end(), {0x39, 0x01, 0x03, 0xa1, 0x01, 0xa2, 0x61, 'v', 0x81, 0xa1, 0x62, 'c', 'i'});
    Bytes ci = cbor_text("URN:UVCI:TEST");
    c.insert(c.end(), ci.begin(), ci.end());
    c.insert(c.end(), {0x63, 'n', 'a', 'm', 0xa2, 0x62, 'g', 'n'});
    Bytes g = cbor_text(gn);
    c.insert(c.end(), g.begin(), g.end());
    c.insert(c.end(), {0x62, 'f', 'n'});
    Bytes f = cbor_text(fn);
    c.insert(c.end(), f.begin(), f.end());
    return c;
}

std::string repeat(const std::string& s, std::size_t n) {
    std::string out;
    for (std::size_t i = 0; i < n; ++i) out += s;
    return out;
}

}  // namespace

TEST_CASE("a driver plate the journal would refuse is refused at verification") {
    World w;
    auto verify_plate = [&](const std::string& plate) {
        return w.verify(text_of(signed_cose(w.issuer, es256_header(w.issuer.kid), claims_with_pass_map(driver_map(plate)))));
    };
    // 21 three-byte characters + 1 ASCII = 64 bytes: the journal's limit, accepted.
    Verification ok = verify_plate(repeat("黑", 21) + "E");
    INFO(ok.detail);
    CHECK(ok.verified());
    REQUIRE(ok.pass.has_value());
    CHECK(ok.pass->plate.size() == kMaxPlateBytes);
    // 22 characters (within 32) but 66 bytes: over the journal's limit.
    Verification big = verify_plate(repeat("黑", 22));
    CHECK(big.is(cp::pass::reason::claims));
    CHECK(big.detail.find("bytes") != std::string::npos);
    // Control characters: the journal refuses them, so does verification.
    CHECK(verify_plate("AB\n123").is(cp::pass::reason::claims));
    CHECK(verify_plate(std::string("AB\x1b[2J", 6)).is(cp::pass::reason::claims));
    CHECK(verify_plate("AB\x7f").is(cp::pass::reason::claims));
    // The issuer side refuses what verifiers refuse.
    Pass d = resident();
    d.kind = Kind::driver;
    d.plate = repeat("黑", 22);
    CHECK(encode_cp1_claims(d).error().is(cp::pass::reason::claims));
}

TEST_CASE("HC1 issuer and name parts are bounded as CP1 bounds its texts") {
    World w;
    Bytes alg_kid{0xa2, 0x01, 0x26, 0x04, 0x48};
    alg_kid.insert(alg_kid.end(), w.issuer.kid.begin(), w.issuer.kid.end());
    auto verify_dcc = [&](const Bytes& claims) {
        return w.verify(text_of(signed_cose(w.issuer, alg_kid, claims), "HC1:"));
    };
    Verification ok = verify_dcc(dcc_claims("AT", repeat("é", 80), repeat("b", 80)));
    INFO(ok.detail);
    CHECK(ok.verified());
    CHECK(verify_dcc(dcc_claims("AT", repeat("a", 81), "b")).is(cp::pass::reason::claims));
    CHECK(verify_dcc(dcc_claims("AT", "a", repeat("b", 60000))).is(cp::pass::reason::claims));
    CHECK(verify_dcc(dcc_claims(repeat("X", 257), "a", "b")).is(cp::pass::reason::claims));
    CHECK(verify_dcc(dcc_claims(repeat("X", 256), "a", "b")).verified());
    CHECK(verify_dcc(dcc_claims("A\nT", "a", "b")).is(cp::pass::reason::claims));
}

TEST_CASE("a well-formed CP1 pass verifies and decodes") {
    World w;
    Pass p = resident();
    std::string text = w.issue(p);
    CHECK(text.starts_with("CP1:"));
    CHECK(text.size() < 400);
    Verification v = w.verify(text);
    INFO(v.detail);
    CHECK(v.verified());
    CHECK(v.format == Format::cp1);
    CHECK(v.signature == SignatureState::valid);
    CHECK(v.expired == false);
    CHECK(v.kid == w.issuer.kid);
    REQUIRE(v.pass.has_value());
    CHECK(v.pass->id == p.id);
    CHECK(v.pass->name == "张*明");
    CHECK(v.pass->grid == p.grid);
    CHECK(v.pass->kind == Kind::resident);
    CHECK(v.pass->claims_json.find("\"id\":\"00112233445566778899aabbccddeeff\"") != std::string::npos);
}

TEST_CASE("driver and entry passes round trip with their kind-specific fields") {
    World w;
    Pass d = resident();
    d.kind = Kind::driver;
    d.grid.clear();
    d.plate = "黑E12345";
    std::array<std::uint8_t, 32> h{};
    h[0] = 0xaa;
    d.id_hash = h;
    Verification v = w.verify(w.issue(d));
    REQUIRE(v.verified());
    CHECK(v.pass->plate == "黑E12345");
    CHECK(v.pass->id_hash == h);

    Pass e = resident();
    e.kind = Kind::entry;
    e.entry = EntryRegistration{"Harbin", kIat + 3600, "train"};
    Verification ve = w.verify(w.issue(e));
    REQUIRE(ve.verified());
    REQUIRE(ve.pass->entry.has_value());
    CHECK(ve.pass->entry->transport == "train");
}

TEST_CASE("reason prefix / base45 / inflate / too-large / cbor / cose") {
    World w;
    std::string good = w.issue(resident());
    CHECK(w.verify("CP2:" + good.substr(4)).is(cp::pass::reason::prefix));
    CHECK(w.verify(good.substr(4)).is(cp::pass::reason::prefix));
    CHECK(w.verify("").is(cp::pass::reason::prefix));
    CHECK(w.verify("CP1:A").is(cp::pass::reason::base45));
    CHECK(w.verify("CP1:bb8").is(cp::pass::reason::base45));
    CHECK(w.verify("CP1:" + base45_encode(bytes_of("not zlib at all"))).is(cp::pass::reason::inflate));
    // zip bomb in a QR text
    Bytes zeros(200 * 1024, 0);
    Verification big = w.verify(zlib_text(zeros));
    CHECK(big.is(cp::pass::reason::too_large));
    CHECK(big.signature == SignatureState::unchecked);
    CHECK(w.verify("CP1:" + std::string(20000, 'A')).is(cp::pass::reason::too_large));
    CHECK(w.verify(zlib_text(Bytes{0xff, 0x00})).is(cp::pass::reason::cbor));
    CHECK(w.verify(zlib_text(Bytes{0x83, 0x01, 0x02, 0x03})).is(cp::pass::reason::cose));
}

TEST_CASE("reason alg: CP1 takes alg from the protected header only, and only ES256") {
    World w;
    Bytes claims = claims_of(resident());
    auto header = [&](std::int64_t alg) {
        auto h = encode_protected_header(alg, w.issuer.kid);
        REQUIRE(h.ok());
        return *h;
    };
    // ES384 (-35) and PS256 (-37) are not CP1 algorithms.
    for (std::int64_t alg : {-35, -37, -8}) {
        Verification v = w.verify(text_of(signed_cose(w.issuer, header(alg), claims)));
        CHECK(v.is(cp::pass::reason::alg));
        CHECK(v.signature == SignatureState::unsupported_alg);
    }
    // No alg in the protected header, ES256 in the unprotected: still "alg".
    Bytes kid_only{0xa1, 0x04, 0x48};
    kid_only.insert(kid_only.end(), w.issuer.kid.begin(), w.issuer.kid.end());
    Bytes unprot_alg{0xa1, 0x01, 0x26};
    Verification v = w.verify(text_of(signed_cose(w.issuer, kid_only, claims, unprot_alg)));
    CHECK(v.is(cp::pass::reason::alg));
    // Text alg "ES256" is not the integer -7.
    Bytes text_alg{0xa2, 0x01, 0x65, 'E', 'S', '2', '5', '6', 0x04, 0x48};
    text_alg.insert(text_alg.end(), w.issuer.kid.begin(), w.issuer.kid.end());
    CHECK(w.verify(text_of(signed_cose(w.issuer, text_alg, claims))).is(cp::pass::reason::alg));
    // An empty protected header has no alg.
    CHECK(w.verify(text_of(signed_cose(w.issuer, Bytes{}, claims))).is(cp::pass::reason::alg));
}

TEST_CASE("CP1 kid: 8 bytes, protected header only") {
    World w;
    Bytes claims = claims_of(resident());
    Bytes short_kid(w.issuer.kid.begin(), w.issuer.kid.begin() + 7);
    CHECK(w.verify(text_of(signed_cose(w.issuer, es256_header(short_kid), claims))).is(cp::pass::reason::cose));
    Bytes alg_only{0xa1, 0x01, 0x26};
    Bytes unprot_kid{0xa1, 0x04, 0x48};
    unprot_kid.insert(unprot_kid.end(), w.issuer.kid.begin(), w.issuer.kid.end());
    CHECK(w.verify(text_of(signed_cose(w.issuer, alg_only, claims, unprot_kid))).is(cp::pass::reason::cose));
}

TEST_CASE("reason unknown-key: a forged pass signed by an untrusted issuer") {
    World w;
    auto forged = issue_cp1(resident(), w.stranger.key, w.stranger.kid);
    REQUIRE(forged.ok());
    Verification v = w.verify(*forged);
    CHECK(v.is(cp::pass::reason::unknown_key));
    CHECK(v.signature == SignatureState::unknown_key);
    CHECK(v.kid == w.stranger.kid);
    CHECK_FALSE(v.verified());
}

TEST_CASE("reason signature: wrong key under a trusted kid, and tampering") {
    World w;
    Bytes claims = claims_of(resident());
    // The stranger signs but claims the trusted issuer's kid.
    Verification v = w.verify(text_of(signed_cose(w.stranger, es256_header(w.issuer.kid), claims)));
    CHECK(v.is(cp::pass::reason::signature));
    CHECK(v.signature == SignatureState::invalid);
    REQUIRE(v.pass.has_value());  // decoded for diagnostics, but not verified
    CHECK_FALSE(v.verified());

    // Tampering: change the name after signing.
    Bytes cose = signed_cose(w.issuer, es256_header(w.issuer.kid), claims);
    auto parsed = parse_cose_sign1(cose);
    REQUIRE(parsed.ok());
    Pass changed = resident();
    changed.name = "李*四";
    auto rebuilt = build_cose_sign1(parsed->protected_bstr, {}, claims_of(changed), parsed->signature);
    REQUIRE(rebuilt.ok());
    CHECK(w.verify(text_of(*rebuilt)).is(cp::pass::reason::signature));
    // Tampering with the protected header (the same kid, an extra label) also breaks it.
    Bytes prot2 = es256_header(w.issuer.kid);
    prot2[0] = 0xa3;
    prot2.insert(prot2.end(), {0x03, 0x00});  // content type 0
    auto rebuilt2 = build_cose_sign1(prot2, {}, claims, parsed->signature);
    REQUIRE(rebuilt2.ok());
    CHECK(w.verify(text_of(*rebuilt2)).is(cp::pass::reason::signature));
}

TEST_CASE("several certificates sharing one kid: each is tried") {
    World w;
    Issuer a = Issuer::make("a"), b = Issuer::make("b"), c = Issuer::make("c");
    Bytes shared = bytes_of("SHAREDKD");
    crypto::TrustStore store;
    store.add(a.cert(), shared);
    store.add(b.cert(), shared);
    CHECK(store.find(shared).size() == 2);
    PassVerifier verifier(store);
    Bytes claims = claims_of(resident());
    auto by = [&](const Issuer& s) { return text_of(signed_cose(s, es256_header(shared), claims)); };
    CHECK(verifier.verify(by(a), kNow).verified());
    CHECK(verifier.verify(by(b), kNow).verified());
    Verification vc = verifier.verify(by(c), kNow);
    CHECK(vc.is(cp::pass::reason::signature));
    CHECK(vc.detail.find("2 certificate(s)") != std::string::npos);
}

TEST_CASE("reason claims: missing or mistyped claims") {
    World w;
    auto check_claims = [&](const Bytes& claims, const std::string& why) {
        Verification v = w.verify(text_of(signed_cose(w.issuer, es256_header(w.issuer.kid), claims)));
        INFO(why, " -> ", v.reason.value_or("verified"), ": ", v.detail);
        CHECK(v.is(cp::pass::reason::claims));
        CHECK(v.signature == SignatureState::valid);
    };
    check_claims(Bytes{0xa1, 0x01, 0x61, 'x'}, "no iat, exp, pass");
    check_claims(Bytes{0x80}, "not a map");
    // pass map {"v": 1} only
    check_claims(claims_with_pass_map(Bytes{0xa1, 0x61, 'v', 0x01}), "pass without id");
    Pass p = resident();
    Bytes good = claims_of(p);
    // v = 2
    Bytes v2 = good;
    for (std::size_t i = 0; i + 2 < v2.size(); ++i)
        if (v2[i] == 0x61 && v2[i + 1] == 'v' && v2[i + 2] == 0x01) { v2[i + 2] = 0x02; break; }
    check_claims(v2, "v 2");
    // Kind R without g: encode with the issuer-side check bypassed by raw CBOR.
    Bytes no_grid{0xa4, 0x61, 'v', 0x01, 0x62, 'i', 'd', 0x50};
    no_grid.insert(no_grid.end(), p.id.begin(), p.id.end());
    no_grid.insert(no_grid.end(), {0x61, 'k', 0x61, 'R', 0x61, 'n', 0x61, 'x'});
    check_claims(claims_with_pass_map(no_grid), "R without g");
    // id of 15 bytes
    Bytes short_id{0xa5, 0x61, 'v', 0x01, 0x62, 'i', 'd', 0x4f};
    short_id.insert(short_id.end(), p.id.begin(), p.id.begin() + 15);
    short_id.insert(short_id.end(), {0x61, 'k', 0x61, 'V', 0x61, 'n', 0x61, 'x', 0x61, 'g', 0x61, 'y'});
    check_claims(claims_with_pass_map(short_id), "short id");
    // Unknown keys are ignored: a V pass with an extra key "zz" verifies.
    Bytes extra{0xa5, 0x61, 'v', 0x01, 0x62, 'i', 'd', 0x50};
    extra.insert(extra.end(), p.id.begin(), p.id.end());
    extra.insert(extra.end(), {0x61, 'k', 0x61, 'V', 0x61, 'n', 0x61, 'x', 0x62, 'z', 'z', 0x01});
    Verification ok = w.verify(text_of(signed_cose(w.issuer, es256_header(w.issuer.kid), claims_with_pass_map(extra))));
    CHECK(ok.verified());
    // Name longer than 32 characters is refused at issue time too.
    Pass longname = resident();
    longname.name = std::string(33, 'a');
    CHECK(encode_cp1_claims(longname).error().is(cp::pass::reason::claims));
}

TEST_CASE("skew boundaries on iat and exp (default 300 s)") {
    World w;
    std::string text = w.issue(resident());
    // iat <= now + skew
    CHECK(w.verify(text, kIat - 300).verified());
    Verification early = w.verify(text, kIat - 301);
    CHECK(early.is(cp::pass::reason::not_yet_valid));
    CHECK(early.expired == false);
    // now < exp + skew
    CHECK(w.verify(text, kExp + 299).verified());
    Verification late = w.verify(text, kExp + 300);
    CHECK(late.is(cp::pass::reason::expired));
    CHECK(late.expired == true);
    CHECK(late.signature == SignatureState::valid);
    // Skew 0
    CHECK(w.verify(text, kExp - 1, 0).verified());
    CHECK(w.verify(text, kExp, 0).is(cp::pass::reason::expired));
    CHECK(w.verify(text, kIat - 1, 0).is(cp::pass::reason::not_yet_valid));
    CHECK(w.verify(text, kIat, 0).verified());
}

TEST_CASE("extreme iat/exp values do not overflow") {
    World w;
    Pass p = resident();
    p.issued_at = std::numeric_limits<std::int64_t>::min();
    p.expires_at = std::numeric_limits<std::int64_t>::max();
    CHECK(w.verify(w.issue(p)).verified());
    p.issued_at = std::numeric_limits<std::int64_t>::max();
    CHECK(w.verify(w.issue(p)).is(cp::pass::reason::not_yet_valid));
}

TEST_CASE("HC1 header rules: kid and alg may come from the unprotected header") {
    World w;
    // A minimal DCC: {1: "XX", 4: exp, 6: iat, -260: {1: {"v": [{"ci": "URN:UVCI:TEST"}]}}}
    Bytes dcc{0xa4, 0x01, 0x62, 'X', 'X', 0x04, 0x1a, 0x6b, 0x36, 0xec, 0x80, 0x06, 0x1a, 0x69, 0x55, 0xb9, 0x00,
              0x39, 0x01, 0x03, 0xa1, 0x01, 0xa1, 0x61, 'v', 0x81, 0xa1, 0x62, 'c', 'i', 0x6d};
    for (char ch : std::string("URN:UVCI:TEST")) dcc.push_back(static_cast<std::uint8_t>(ch));
    Bytes kid_map{0xa1, 0x04, 0x48};
    kid_map.insert(kid_map.end(), w.issuer.kid.begin(), w.issuer.kid.end());
    Bytes alg_map{0xa1, 0x01, 0x26};

    // kid in the unprotected header only: fine for HC1, not for CP1
    Verification v = w.verify(text_of(signed_cose(w.issuer, alg_map, dcc, kid_map), "HC1:"));
    INFO(v.detail);
    CHECK(v.verified());
    REQUIRE(v.pass.has_value());
    CHECK(v.pass->format == Format::hc1);
    CHECK(v.pass->kind == Kind::dcc);
    auto h = crypto::sha256(as_bytes("URN:UVCI:TEST"));
    CHECK(to_hex(v.pass->id) == to_hex(ByteView(h.data(), 16)));
    // alg in the unprotected header when absent from the protected
    Bytes both{0xa2, 0x01, 0x26, 0x04, 0x48};
    both.insert(both.end(), w.issuer.kid.begin(), w.issuer.kid.end());
    CHECK(w.verify(text_of(signed_cose(w.issuer, kid_map, dcc, alg_map), "HC1:")).verified());
    // A wrong kid in the protected header is not rescued by a right one in the unprotected.
    Bytes wrong_kid{0xa2, 0x01, 0x26, 0x04, 0x48, 1, 2, 3, 4, 5, 6, 7, 8};
    CHECK(w.verify(text_of(signed_cose(w.issuer, wrong_kid, dcc, kid_map), "HC1:")).is(cp::pass::reason::unknown_key));
    // A right protected kid wins over a wrong unprotected one.
    Bytes wrong_unprot{0xa1, 0x04, 0x48, 1, 2, 3, 4, 5, 6, 7, 8};
    CHECK(w.verify(text_of(signed_cose(w.issuer, both, dcc, wrong_unprot), "HC1:")).verified());
    // A DCC without ci is a claims error.
    Bytes no_ci{0xa3, 0x04, 0x1a, 0x6b, 0x36, 0xec, 0x80, 0x06, 0x1a, 0x69, 0x55, 0xb9, 0x00,
                0x39, 0x01, 0x03, 0xa1, 0x01, 0xa0};
    CHECK(w.verify(text_of(signed_cose(w.issuer, both, no_ci), "HC1:")).is(cp::pass::reason::claims));
}
