// The CP1 test vectors of docs/pass-format.md (tests/data/cp1-vectors): every case
// gives its reason with the project's verifier, every layer follows from the one
// before, and the set made again in memory by the project's issuer equals the
// committed one in everything but the (randomised) ECDSA signatures, so the vectors
// cannot drift from the code. CP1_VECTORS_WRITE=1 rewrites vectors.json.
#include "src/crypto/crypto.hpp"
#include "src/crypto/trust_store.hpp"
#include "src/pass/base45.hpp"
#include "src/pass/cbor.hpp"
#include "src/pass/claims.hpp"
#include "src/pass/compression.hpp"
#include "src/pass/cose.hpp"
#include "src/pass/issuer.hpp"
#include "src/pass/verifier.hpp"
#include "tests/testing.hpp"

#include <cbor.h>
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

using namespace cp;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr std::int64_t kIat = 1767225600;  // 2026-01-01T00:00:00Z
constexpr std::int64_t kExp = 1798761600;  // 2027-01-01T00:00:00Z
constexpr std::int64_t kNow = 1780000000;  // 2026-05-28, inside the validity
constexpr std::int64_t kSkew = 300;

fs::path dir() { return cp::testing::vendored_data("cp1-vectors"); }

template <typename T>
T must(Result<T> r, const char* what) {
    if (!r) FAIL(what << ": " << r.error().describe());
    return std::move(r).value();
}

struct Issuer {
    crypto::PrivateKey key;
    crypto::Certificate cert;
};

Issuer load_issuer(const std::string& stem) {
    auto key = crypto::PrivateKey::parse(as_bytes(cp::testing::read_file(dir() / (stem + ".key"))));
    auto cert = crypto::Certificate::parse(as_bytes(cp::testing::read_file(dir() / (stem + ".crt"))));
    REQUIRE_MESSAGE(key.ok(), stem);
    REQUIRE_MESSAGE(cert.ok(), stem);
    return Issuer{std::move(key).value(), std::move(cert).value()};
}

const char* kResident = R"({"iss": "CN-HL-DQ", "iat": 1767225600, "exp": 1798761600,
 "pass": {"v": 1, "id": "00112233445566778899aabbccddeeff", "k": "R", "n": "张*明", "g": "ranghulu.xinghua.07"}})";
const char* kDriver = R"({"iss": "CN-HL-DQ", "iat": 1767225600, "exp": 1798761600,
 "pass": {"v": 1, "id": "0f1e2d3c4b5a69788796a5b4c3d2e1f0", "k": "D", "n": "李*", "p": "黑E12345",
          "h": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}})";
const char* kVisitor = R"({"iss": "CN-HL-DQ", "iat": 1767225600, "exp": 1798761600,
 "pass": {"v": 1, "id": "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf", "k": "V", "n": "W*ng"}})";
const char* kEntry = R"({"iss": "CN-HL-DQ", "iat": 1767225600, "exp": 1798761600,
 "pass": {"v": 1, "id": "ffeeddccbbaa99887766554433221100", "k": "E", "n": "赵*",
          "e": {"o": "Harbin", "a": 1767312000, "t": "truck"}}})";

std::string issue(const char* claims, const Issuer& by) {
    auto pass = must(pass::cp1_pass_from_json(claims), "claims");
    return must(pass::issue_cp1(pass, by.key, by.cert.kid()), "issue");
}

// A COSE_Sign1 signed by `by` over any protected header and payload, as QR text.
std::string signed_text(const Bytes& protected_bstr, const Bytes& unprotected, const Bytes& payload, const Issuer& by) {
    auto sig = must(by.key.sign_es256(pass::sig_structure(protected_bstr, payload)), "sign");
    auto cose = must(pass::build_cose_sign1(protected_bstr, unprotected, payload, sig), "cose");
    return must(pass::qr_text_from_cose("CP1:", cose), "text");
}

Bytes encoded(cbor_item_t* item) {
    pass::cbor::Item owner(item);
    return must(pass::cbor::encode(item), "cbor");
}

// {1: alg} or {4: kid} alone: headers the issuer API does not make.
Bytes header_with_alg_only(std::int64_t alg) {
    cbor_item_t* m = cbor_new_definite_map(1);
    (void)cbor_map_add(m, cbor_pair{cbor_move(pass::cbor::build_int(1)), cbor_move(pass::cbor::build_int(alg))});
    return encoded(m);
}
Bytes header_with_kid_only(ByteView kid) {
    cbor_item_t* m = cbor_new_definite_map(1);
    (void)cbor_map_add(m, cbor_pair{cbor_move(pass::cbor::build_int(4)),
                                    cbor_move(cbor_build_bytestring(kid.data(), kid.size()))});
    return encoded(m);
}

// The resident's claims without the required `n`.
Bytes claims_without_name() {
    auto text = [](const char* s) { return cbor_move(cbor_build_string(s)); };
    auto integer = [](std::int64_t v) { return cbor_move(pass::cbor::build_int(v)); };
    const std::uint8_t id[16] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                                 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
    cbor_item_t* pm = cbor_new_definite_map(4);
    (void)cbor_map_add(pm, cbor_pair{text("v"), integer(1)});
    (void)cbor_map_add(pm, cbor_pair{text("id"), cbor_move(cbor_build_bytestring(id, sizeof id))});
    (void)cbor_map_add(pm, cbor_pair{text("k"), text("R")});
    (void)cbor_map_add(pm, cbor_pair{text("g"), text("ranghulu.xinghua.07")});
    cbor_item_t* m = cbor_new_definite_map(4);
    (void)cbor_map_add(m, cbor_pair{integer(1), text("CN-HL-DQ")});
    (void)cbor_map_add(m, cbor_pair{integer(6), integer(kIat)});
    (void)cbor_map_add(m, cbor_pair{integer(4), integer(kExp)});
    (void)cbor_map_add(m, cbor_pair{integer(-65537), cbor_move(pm)});
    return encoded(m);
}

std::string text_of_zlib(const Bytes& zlib) { return "CP1:" + pass::base45_encode(zlib); }

struct Case {
    const char* name;
    const char* description;
    std::int64_t now;
    std::optional<std::string> reason;
    std::function<std::string(const Issuer& issuer, const Issuer& other)> make;
    bool unsigned_text = false;  // holds no signature: made again, it is the same text
};

std::vector<Case> cases() {
    const auto flip_last = [](std::string text) {
        // Re-encode with the signature's last byte changed, so only the signature is wrong.
        auto z = must(pass::base45_decode(std::string_view(text).substr(4)), "base45");
        auto c = must(pass::inflate_capped(z), "inflate");
        auto msg = must(pass::parse_cose_sign1(c), "cose");
        msg.signature.back() = static_cast<std::uint8_t>(msg.signature.back() ^ 0x01u);
        auto cose = must(pass::build_cose_sign1(msg.protected_bstr, {}, msg.payload, msg.signature), "cose");
        return must(pass::qr_text_from_cose("CP1:", cose), "text");
    };
    return {
        {"resident", "kind R with a grid code: verifies", kNow, std::nullopt,
         [](const Issuer& i, const Issuer&) { return issue(kResident, i); }},
        {"driver", "kind D with a plate and an ID-card hash: verifies", kNow, std::nullopt,
         [](const Issuer& i, const Issuer&) { return issue(kDriver, i); }},
        {"visitor", "kind V, no kind-specific key: verifies", kNow, std::nullopt,
         [](const Issuer& i, const Issuer&) { return issue(kVisitor, i); }},
        {"entry", "kind E with an entry registration: verifies", kNow, std::nullopt,
         [](const Issuer& i, const Issuer&) { return issue(kEntry, i); }},
        {"exp-within-skew", "now = exp + skew - 1: still valid", kExp + kSkew - 1, std::nullopt,
         [](const Issuer& i, const Issuer&) { return issue(kResident, i); }},
        {"expired", "now = exp + skew: expired", kExp + kSkew, "expired",
         [](const Issuer& i, const Issuer&) { return issue(kResident, i); }},
        {"iat-within-skew", "now = iat - skew: valid", kIat - kSkew, std::nullopt,
         [](const Issuer& i, const Issuer&) { return issue(kResident, i); }},
        {"not-yet-valid", "now = iat - skew - 1: not yet valid", kIat - kSkew - 1, "not-yet-valid",
         [](const Issuer& i, const Issuer&) { return issue(kResident, i); }},
        {"bad-signature", "the signature's last byte changed", kNow, "signature",
         [flip_last](const Issuer& i, const Issuer&) { return flip_last(issue(kResident, i)); }},
        {"unknown-issuer", "signed by other.key, whose kid no trusted certificate has", kNow, "unknown-key",
         [](const Issuer&, const Issuer& o) { return issue(kResident, o); }},
        {"wrong-key-for-kid", "the trusted issuer's kid, signed by other.key", kNow, "signature",
         [](const Issuer& i, const Issuer& o) {
             auto payload = must(pass::encode_cp1_claims(must(pass::cp1_pass_from_json(kResident), "claims")), "claims");
             auto prot = must(pass::encode_protected_header(pass::kAlgES256, i.cert.kid()), "header");
             return signed_text(prot, {}, payload, o);
         }},
        {"alg-es384", "protected alg -35 (ES384), signed with ES256", kNow, "alg",
         [](const Issuer& i, const Issuer&) {
             auto payload = must(pass::encode_cp1_claims(must(pass::cp1_pass_from_json(kResident), "claims")), "claims");
             auto prot = must(pass::encode_protected_header(-35, i.cert.kid()), "header");
             return signed_text(prot, {}, payload, i);
         }},
        {"alg-unprotected", "alg -7 only in the unprotected header", kNow, "alg",
         [](const Issuer& i, const Issuer&) {
             auto payload = must(pass::encode_cp1_claims(must(pass::cp1_pass_from_json(kResident), "claims")), "claims");
             return signed_text(header_with_kid_only(i.cert.kid()), header_with_alg_only(pass::kAlgES256), payload, i);
         }},
        {"no-kid", "protected header {1: -7} without a kid", kNow, "cose",
         [](const Issuer& i, const Issuer&) {
             auto payload = must(pass::encode_cp1_claims(must(pass::cp1_pass_from_json(kResident), "claims")), "claims");
             return signed_text(header_with_alg_only(pass::kAlgES256), {}, payload, i);
         }},
        {"claims-missing-name", "signed claims whose pass map has no n", kNow, "claims",
         [](const Issuer& i, const Issuer&) {
             auto prot = must(pass::encode_protected_header(pass::kAlgES256, i.cert.kid()), "header");
             return signed_text(prot, {}, claims_without_name(), i);
         }},
        {"prefix", "CP2: instead of CP1:", kNow, "prefix",
         [](const Issuer& i, const Issuer&) { return "CP2:" + issue(kResident, i).substr(4); }},
        {"base45", "a lower-case letter, outside the Base45 alphabet", kNow, "base45",
         [](const Issuer& i, const Issuer&) {
             auto t = issue(kResident, i);
             t[10] = 'a';
             return t;
         }},
        {"inflate", "Base45 of the bytes of \"not zlib\", not a zlib stream", kNow, "inflate",
         [](const Issuer&, const Issuer&) { return text_of_zlib(Bytes{0x6e, 0x6f, 0x74, 0x20, 0x7a, 0x6c, 0x69, 0x62}); }, true},
        {"too-large", "a zlib stream that inflates to 70 000 bytes", kNow, "too-large",
         [](const Issuer&, const Issuer&) { return text_of_zlib(must(pass::deflate_zlib(Bytes(70000, 0)), "deflate")); }, true},
        {"cbor", "inflates to bytes that are not CBOR", kNow, "cbor",
         [](const Issuer&, const Issuer&) { return text_of_zlib(must(pass::deflate_zlib(Bytes{0xff, 0xff}), "deflate")); }, true},
        {"not-cose", "a CBOR array of 3, not a COSE_Sign1", kNow, "cose",
         [](const Issuer&, const Issuer&) { return text_of_zlib(must(pass::deflate_zlib(Bytes{0x83, 0x40, 0xa0, 0x40}), "deflate")); }, true},
    };
}

std::string hex(ByteView b) { return to_hex(b); }

// The case as the spec describes it: text, expected reason, and every layer that decodes.
json describe(const Case& c, const std::string& text) {
    json j;
    j["name"] = c.name;
    j["description"] = c.description;
    j["now"] = c.now;
    j["skew"] = kSkew;
    j["reason"] = c.reason ? json(*c.reason) : json(nullptr);
    j["text"] = text;
    if (text.rfind("CP1:", 0) != 0) return j;
    auto z = pass::base45_decode(std::string_view(text).substr(4));
    if (!z) return j;
    j["zlib"] = hex(*z);
    auto cose = pass::inflate_capped(*z);
    if (!cose) return j;
    j["cose"] = hex(*cose);
    auto msg = pass::parse_cose_sign1(*cose);
    if (!msg) return j;
    j["protected"] = hex(msg->protected_bstr);
    j["payload"] = hex(msg->payload);
    j["signature"] = hex(msg->signature);
    j["sig_structure"] = hex(pass::sig_structure(msg->protected_bstr, msg->payload));
    if (auto p = pass::parse_cp1_claims(msg->payload)) j["claims"] = json::parse(p->claims_json);
    return j;
}

json make_vectors(const Issuer& issuer, const Issuer& other) {
    json all = json::array();
    for (const auto& c : cases()) all.push_back(describe(c, c.make(issuer, other)));
    return all;
}

json committed() {
    return json::parse(cp::testing::read_file(dir() / "vectors.json"));
}

crypto::TrustStore trusted(const Issuer& issuer) {
    crypto::TrustStore store;
    REQUIRE(store.add_pem_or_der(as_bytes(cp::testing::read_file(dir() / "issuer.crt"))).ok());
    REQUIRE(store.find(issuer.cert.kid()).size() == 1);
    return store;
}

std::optional<Bytes> unhex(const json& j, const char* key) {
    if (!j.contains(key)) return std::nullopt;
    return from_hex(j[key].get<std::string>());
}

}  // namespace

TEST_CASE("CP1 vectors: each committed case gives its reason with only issuer.crt trusted") {
    const Issuer issuer = load_issuer("issuer");
    if (std::getenv("CP1_VECTORS_WRITE") != nullptr) {
        cp::testing::write_file(dir() / "vectors.json", make_vectors(issuer, load_issuer("other")).dump(2, ' ', false) + "\n");
        MESSAGE("rewrote " << (dir() / "vectors.json").string());
    }
    const auto store = trusted(issuer);
    const json vectors = committed();
    REQUIRE(vectors.size() == cases().size());
    for (const auto& v : vectors) {
        const std::string name = v["name"];
        pass::PassVerifier verifier(store, pass::VerifierOptions{v["skew"].get<std::int64_t>()});
        const auto out = verifier.verify(v["text"].get<std::string>(), v["now"].get<std::int64_t>());
        const std::string expected = v["reason"].is_null() ? "(verified)" : v["reason"].get<std::string>();
        const std::string got = out.reason ? *out.reason : "(verified)";
        CHECK_MESSAGE(got == expected, name << ": " << out.detail);
        if (out.verified()) {
            REQUIRE_MESSAGE(out.pass.has_value(), name);
            CHECK_MESSAGE(json::parse(out.pass->claims_json) == v["claims"], name);
        }
    }
}

TEST_CASE("CP1 vectors: every layer follows from the one before") {
    const json vectors = committed();
    const Issuer issuer = load_issuer("issuer");
    int with_layers = 0;
    for (const auto& v : vectors) {
        const std::string name = v["name"];
        const std::string text = v["text"];
        const auto zlib = unhex(v, "zlib");
        if (!zlib) continue;
        ++with_layers;
        CHECK_MESSAGE(must(pass::base45_decode(std::string_view(text).substr(4)), "base45") == *zlib, name);
        CHECK_MESSAGE(pass::base45_encode(*zlib) == text.substr(4), name);
        const auto cose = unhex(v, "cose");
        if (!cose) continue;
        CHECK_MESSAGE(must(pass::inflate_capped(*zlib), "inflate") == *cose, name);
        const auto prot = unhex(v, "protected");
        if (!prot) continue;
        const auto payload = unhex(v, "payload");
        const auto sig = unhex(v, "signature");
        const auto tbs = unhex(v, "sig_structure");
        REQUIRE((payload && sig && tbs));
        auto msg = must(pass::parse_cose_sign1(*cose), "cose");
        CHECK_MESSAGE(msg.protected_bstr == *prot, name);
        CHECK_MESSAGE(msg.payload == *payload, name);
        CHECK_MESSAGE(msg.signature == *sig, name);
        CHECK_MESSAGE(pass::sig_structure(*prot, *payload) == *tbs, name);
        if (v["reason"].is_null()) CHECK_MESSAGE(issuer.cert.verify_es256(*tbs, *sig).ok(), name);
        if (v.contains("claims")) {
            auto p = must(pass::parse_cp1_claims(*payload), "claims");
            CHECK_MESSAGE(json::parse(p.claims_json) == v["claims"], name);
        }
    }
    CHECK(with_layers >= 15);
}

TEST_CASE("CP1 vectors: made again by the issuer, they equal the committed ones but for the signatures") {
    const Issuer issuer = load_issuer("issuer");
    const Issuer other = load_issuer("other");
    const json fresh = make_vectors(issuer, other);
    const json old = committed();
    REQUIRE(fresh.size() == old.size());
    const auto store = trusted(issuer);
    for (std::size_t i = 0; i < fresh.size(); ++i) {
        const std::string name = old[i]["name"];
        for (const char* key : {"name", "description", "now", "skew", "reason", "protected", "payload", "claims"}) {
            CHECK_MESSAGE(fresh[i].contains(key) == old[i].contains(key), name << " " << key);
            if (fresh[i].contains(key) && old[i].contains(key))
                CHECK_MESSAGE(fresh[i][key] == old[i][key], name << " " << key);
        }
        // Texts without a signature in them are the same byte for byte.
        if (cases()[i].unsigned_text) CHECK_MESSAGE(fresh[i]["text"] == old[i]["text"], name);
        // The fresh text gives the same reason as the committed one.
        pass::PassVerifier verifier(store);
        const auto out = verifier.verify(fresh[i]["text"].get<std::string>(), fresh[i]["now"].get<std::int64_t>());
        CHECK_MESSAGE(out.reason.value_or("(verified)") ==
                          (old[i]["reason"].is_null() ? "(verified)" : old[i]["reason"].get<std::string>()),
                      name);
    }
}
