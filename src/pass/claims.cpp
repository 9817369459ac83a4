#include "src/pass/claims.hpp"
#include "src/pass/reason.hpp"

#include "src/crypto/crypto.hpp"
#include "src/pass/cbor.hpp"

#include <nlohmann/json.hpp>

#include <cmath>
#include <limits>

namespace cp::pass {

namespace {

constexpr std::int64_t kClaimIss = 1;
constexpr std::int64_t kClaimExp = 4;
constexpr std::int64_t kClaimIat = 6;
constexpr std::int64_t kClaimPass = -65537;
constexpr std::int64_t kClaimHcert = -260;
constexpr std::size_t kMaxNameChars = 32;

Failure bad(std::string what) { return fail(ErrorKind::invalid_input, reason::claims, std::move(what)); }

// CWT NumericDate: an integer (CP1), or for HC1 also a float (RFC 8392 allows it).
std::optional<std::int64_t> numeric_date(const cbor_item_t* item, bool allow_float) {
    if (auto v = cbor::as_int(item)) return v;
    if (allow_float && item != nullptr && cbor_isa_float_ctrl(item) && !cbor_float_ctrl_is_ctrl(item)) {
        double d = cbor_float_get_float(item);
        if (std::isfinite(d) && d > -9.0e18 && d < 9.0e18) return static_cast<std::int64_t>(d);
    }
    return std::nullopt;
}

Result<cbor::Item> decode_claims_map(ByteView payload) {
    auto item = cbor::decode(payload);
    if (!item) return fail(item.error().with_context("payload"));
    if (!cbor_isa_map(item->get())) return bad("payload is not a CBOR map");
    if (cbor::has_duplicate_keys(item->get())) return bad("duplicate claim");
    return std::move(item).value();
}

// Valid UTF-8, at most max_chars code points, no C0 control character or DEL
// (they would reach the screen, and the journal refuses them).
Status check_text(const std::string& s, const char* name, std::size_t max_chars) {
    std::size_t n = 0;
    if (!cbor::valid_utf8(s, &n)) return bad(std::string(name) + " is not valid UTF-8");
    if (n > max_chars) return bad(std::string(name) + " is longer than " + std::to_string(max_chars) + " characters");
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f) return bad(std::string(name) + " contains a control character");
    }
    return {};
}

// Rules shared by parse and encode, so an issuer cannot produce a pass verifiers refuse.
Status check_pass(const Pass& p) {
    CP_TRY(check_text(p.issuer, "iss", kMaxIssuerChars));
    if (p.issuer.empty()) return bad("iss is empty");
    CP_TRY(check_text(p.name, "n", kMaxNameChars));
    CP_TRY(check_text(p.grid, "g", 64));
    CP_TRY(check_text(p.plate, "p", kMaxPlateChars));
    if (p.plate.size() > kMaxPlateBytes)
        return bad("p is longer than " + std::to_string(kMaxPlateBytes) + " bytes (the journal's limit)");
    if (p.kind == Kind::resident && p.grid.empty()) return bad("kind R needs g");
    if (p.kind == Kind::driver && p.plate.empty()) return bad("kind D needs p");
    if (p.kind == Kind::entry && !p.entry) return bad("kind E needs e");
    if (p.kind == Kind::dcc) return bad("kind DCC is not a CP1 kind");
    if (p.entry) {
        CP_TRY(check_text(p.entry->origin, "e.o", 64));
        const auto& t = p.entry->transport;
        if (t != "car" && t != "truck" && t != "train" && t != "bus") return bad("e.t must be car, truck, train or bus");
    }
    return {};
}

std::optional<Kind> kind_from(std::string_view k) {
    if (k == "R") return Kind::resident;
    if (k == "D") return Kind::driver;
    if (k == "V") return Kind::visitor;
    if (k == "E") return Kind::entry;
    return std::nullopt;
}

}  // namespace

Result<Pass> parse_cp1_claims(ByteView payload) {
    auto map = decode_claims_map(payload);
    if (!map) return fail(map.error());
    const cbor_item_t* m = map->get();
    Pass p;
    p.format = Format::cp1;
    auto iss = cbor::as_text(cbor::map_get(m, kClaimIss));
    auto iat = numeric_date(cbor::map_get(m, kClaimIat), false);
    auto exp = numeric_date(cbor::map_get(m, kClaimExp), false);
    const cbor_item_t* pm = cbor::map_get(m, kClaimPass);
    if (!iss) return bad("iss (1) missing or not text");
    if (!iat) return bad("iat (6) missing or not an integer");
    if (!exp) return bad("exp (4) missing or not an integer");
    if (pm == nullptr || !cbor_isa_map(pm)) return bad("pass (-65537) missing or not a map");
    if (cbor::has_duplicate_keys(pm)) return bad("duplicate key in pass");
    p.issuer = *iss;
    p.issued_at = *iat;
    p.expires_at = *exp;

    auto v = cbor::as_int(cbor::map_get(pm, "v"));
    if (!v) return bad("pass.v missing or not an integer");
    if (*v != 1) return bad("pass.v " + std::to_string(*v) + " is not version 1");
    auto id = cbor::as_bytes(cbor::map_get(pm, "id"));
    if (!id || id->size() != p.id.size()) return bad("pass.id missing or not 16 bytes");
    std::copy(id->begin(), id->end(), p.id.begin());
    auto k = cbor::as_text(cbor::map_get(pm, "k"));
    auto kind = k ? kind_from(*k) : std::nullopt;
    if (!kind) return bad("pass.k missing or not one of R, D, V, E");
    p.kind = *kind;
    auto n = cbor::as_text(cbor::map_get(pm, "n"));
    if (!n) return bad("pass.n missing or not text");
    p.name = *n;
    // Optional keys: a present key must have the right type even when the kind does not need it.
    if (const cbor_item_t* g = cbor::map_get(pm, "g")) {
        auto t = cbor::as_text(g);
        if (!t) return bad("pass.g is not text");
        p.grid = *t;
    }
    if (const cbor_item_t* pl = cbor::map_get(pm, "p")) {
        auto t = cbor::as_text(pl);
        if (!t) return bad("pass.p is not text");
        p.plate = *t;
    }
    if (const cbor_item_t* e = cbor::map_get(pm, "e")) {
        if (!cbor_isa_map(e) || cbor::has_duplicate_keys(e)) return bad("pass.e is not a map");
        auto o = cbor::as_text(cbor::map_get(e, "o"));
        auto a = cbor::as_int(cbor::map_get(e, "a"));
        auto t = cbor::as_text(cbor::map_get(e, "t"));
        if (!o || !a || !t) return bad("pass.e needs o (text), a (int) and t (text)");
        p.entry = EntryRegistration{*o, *a, *t};
    }
    if (const cbor_item_t* h = cbor::map_get(pm, "h")) {
        auto b = cbor::as_bytes(h);
        if (!b || b->size() != 32) return bad("pass.h is not 32 bytes");
        std::array<std::uint8_t, 32> hash{};
        std::copy(b->begin(), b->end(), hash.begin());
        p.id_hash = hash;
    }
    CP_TRY(check_pass(p));
    p.claims_json = cp1_claims_json(p);
    return p;
}

Result<Pass> parse_hc1_claims(ByteView payload) {
    auto map = decode_claims_map(payload);
    if (!map) return fail(map.error());
    const cbor_item_t* m = map->get();
    Pass p;
    p.format = Format::hc1;
    p.kind = Kind::dcc;
    if (const cbor_item_t* iss = cbor::map_get(m, kClaimIss)) {
        auto t = cbor::as_text(iss);
        if (!t) return bad("iss (1) is not text");
        p.issuer = *t;
        CP_TRY(check_text(p.issuer, "iss", kMaxIssuerChars));
    }
    auto iat = numeric_date(cbor::map_get(m, kClaimIat), true);
    auto exp = numeric_date(cbor::map_get(m, kClaimExp), true);
    if (!iat) return bad("iat (6) missing or not a date");
    if (!exp) return bad("exp (4) missing or not a date");
    p.issued_at = *iat;
    p.expires_at = *exp;
    const cbor_item_t* hcert = cbor::map_get(m, kClaimHcert);
    if (hcert == nullptr || !cbor_isa_map(hcert)) return bad("hcert (-260) missing or not a map");
    const cbor_item_t* dcc = cbor::map_get(hcert, 1);
    if (dcc == nullptr || !cbor_isa_map(dcc)) return bad("hcert.1 (EU DCC) missing or not a map");
    if (cbor::has_duplicate_keys(dcc)) return bad("duplicate key in the DCC");

    std::optional<std::string> ci;
    for (const char* group : {"v", "t", "r"}) {
        const cbor_item_t* arr = cbor::map_get(dcc, group);
        if (arr == nullptr) continue;
        if (!cbor_isa_array(arr) || cbor_array_size(arr) == 0) return bad(std::string("DCC ") + group + " is not a non-empty array");
        ci = cbor::as_text(cbor::map_get(cbor_array_handle(arr)[0], "ci"));
        if (ci) break;
    }
    if (!ci || ci->empty()) return bad("DCC has no certificate identifier (ci)");
    crypto::Sha256 h = crypto::sha256(as_bytes(*ci));
    std::copy(h.begin(), h.begin() + static_cast<std::ptrdiff_t>(p.id.size()), p.id.begin());

    if (const cbor_item_t* nam = cbor::map_get(dcc, "nam"); nam != nullptr && cbor_isa_map(nam)) {
        auto gn = cbor::as_text(cbor::map_get(nam, "gn"));
        auto fn = cbor::as_text(cbor::map_get(nam, "fn"));
        if (!gn) gn = cbor::as_text(cbor::map_get(nam, "gnt"));
        if (!fn) fn = cbor::as_text(cbor::map_get(nam, "fnt"));
        // Bounded before they reach the screen. Not-UTF-8 names are dropped below.
        for (const auto* part : {&gn, &fn}) {
            std::size_t chars = 0;
            if (*part && cbor::valid_utf8(**part, &chars) && chars > kMaxDccNamePartChars)
                return bad("DCC name part longer than " + std::to_string(kMaxDccNamePartChars) + " characters");
            if (*part && (*part)->size() > 4 * kMaxDccNamePartChars)
                return bad("DCC name part longer than " + std::to_string(4 * kMaxDccNamePartChars) + " bytes");
        }
        p.name = (gn ? *gn : std::string()) + (gn && fn ? " " : "") + (fn ? *fn : std::string());
    }
    if (!cbor::valid_utf8(p.name)) p.name.clear();
    // Technician's view: named CWT claims, the DCC as is.
    std::string dcc_json = cbor::to_json(dcc);
    try {
        nlohmann::json j;
        j["iss"] = p.issuer;
        j["iat"] = p.issued_at;
        j["exp"] = p.expires_at;
        j["id"] = id_hex(p.id);
        j["dcc"] = nlohmann::json::parse(dcc_json, nullptr, false);
        p.claims_json = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    } catch (...) {  // JSON is informative only; never let it fail a verification
        p.claims_json = "null";
    }
    return p;
}

Result<Bytes> encode_cp1_claims(const Pass& p) {
    CP_TRY(check_pass(p));
    auto text = [](const std::string& s) { return cbor_move(cbor_build_stringn(s.data(), s.size())); };
    auto integer = [](std::int64_t v) { return cbor_move(cbor::build_int(v)); };
    auto add = [](cbor_item_t* map, cbor_item_t* k, cbor_item_t* v) { return cbor_map_add(map, cbor_pair{k, v}); };

    std::size_t n = std::size_t{4} + (p.grid.empty() ? 0u : 1u) + (p.plate.empty() ? 0u : 1u) + (p.entry ? 1u : 0u) + (p.id_hash ? 1u : 0u);
    cbor::Item pm(cbor_new_definite_map(n));
    cbor::Item claims(cbor_new_definite_map(4));
    if (!pm || !claims) return fail(ErrorKind::internal, reason::cbor, "out of memory");
    bool ok = add(pm.get(), text("v"), integer(1));
    ok = ok && add(pm.get(), text("id"), cbor_move(cbor_build_bytestring(p.id.data(), p.id.size())));
    ok = ok && add(pm.get(), text("k"), text(to_string(p.kind)));
    ok = ok && add(pm.get(), text("n"), text(p.name));
    if (!p.grid.empty()) ok = ok && add(pm.get(), text("g"), text(p.grid));
    if (!p.plate.empty()) ok = ok && add(pm.get(), text("p"), text(p.plate));
    if (p.entry) {
        cbor::Item e(cbor_new_definite_map(3));
        if (!e) return fail(ErrorKind::internal, reason::cbor, "out of memory");
        ok = ok && add(e.get(), text("o"), text(p.entry->origin));
        ok = ok && add(e.get(), text("a"), integer(p.entry->expected_arrival));
        ok = ok && add(e.get(), text("t"), text(p.entry->transport));
        ok = ok && add(pm.get(), text("e"), e.get());
    }
    if (p.id_hash) ok = ok && add(pm.get(), text("h"), cbor_move(cbor_build_bytestring(p.id_hash->data(), 32)));
    ok = ok && add(claims.get(), integer(kClaimIss), text(p.issuer));
    ok = ok && add(claims.get(), integer(kClaimIat), integer(p.issued_at));
    ok = ok && add(claims.get(), integer(kClaimExp), integer(p.expires_at));
    ok = ok && add(claims.get(), integer(kClaimPass), pm.get());
    if (!ok) return fail(ErrorKind::internal, reason::cbor, "out of memory");
    return cbor::encode(claims.get());
}

std::string cp1_claims_json(const Pass& p) {
    try {
        nlohmann::json pj;
        pj["v"] = 1;
        pj["id"] = id_hex(p.id);
        pj["k"] = to_string(p.kind);
        pj["n"] = p.name;
        if (!p.grid.empty()) pj["g"] = p.grid;
        if (!p.plate.empty()) pj["p"] = p.plate;
        if (p.entry) pj["e"] = {{"o", p.entry->origin}, {"a", p.entry->expected_arrival}, {"t", p.entry->transport}};
        if (p.id_hash) pj["h"] = to_hex(*p.id_hash);
        nlohmann::json j;
        j["iss"] = p.issuer;
        j["iat"] = p.issued_at;
        j["exp"] = p.expires_at;
        j["pass"] = pj;
        return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    } catch (...) {  // allocation failure only; JSON is informative
        return "null";
    }
}

Result<Pass> cp1_pass_from_json(std::string_view text) {
    nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return bad("claims are not a JSON object");
    try {
        Pass p;
        p.format = Format::cp1;
        auto need = [&](const nlohmann::json& o, const char* key) -> const nlohmann::json& {
            static const nlohmann::json kNull;
            auto it = o.find(key);
            return it == o.end() ? kNull : *it;
        };
        const auto& iss = need(j, "iss");
        const auto& iat = need(j, "iat");
        const auto& exp = need(j, "exp");
        const auto& pj = need(j, "pass");
        if (!iss.is_string()) return bad("iss must be text");
        if (!iat.is_number_integer()) return bad("iat must be an integer (seconds since epoch)");
        if (!exp.is_number_integer()) return bad("exp must be an integer (seconds since epoch)");
        if (!pj.is_object()) return bad("pass must be an object");
        p.issuer = iss.get<std::string>();
        p.issued_at = iat.get<std::int64_t>();
        p.expires_at = exp.get<std::int64_t>();
        const auto& v = need(pj, "v");
        if (!v.is_null() && !(v.is_number_integer() && v.get<std::int64_t>() == 1)) return bad("pass.v must be 1");
        const auto& id = need(pj, "id");
        auto idb = id.is_string() ? from_hex(id.get<std::string>()) : std::nullopt;
        if (!idb || idb->size() != 16) return bad("pass.id must be 32 hex digits");
        std::copy(idb->begin(), idb->end(), p.id.begin());
        const auto& k = need(pj, "k");
        auto kind = k.is_string() ? kind_from(k.get<std::string>()) : std::nullopt;
        if (!kind) return bad("pass.k must be R, D, V or E");
        p.kind = *kind;
        const auto& n = need(pj, "n");
        if (!n.is_string()) return bad("pass.n must be text");
        p.name = n.get<std::string>();
        if (const auto& g = need(pj, "g"); !g.is_null()) {
            if (!g.is_string()) return bad("pass.g must be text");
            p.grid = g.get<std::string>();
        }
        if (const auto& pl = need(pj, "p"); !pl.is_null()) {
            if (!pl.is_string()) return bad("pass.p must be text");
            p.plate = pl.get<std::string>();
        }
        if (const auto& e = need(pj, "e"); !e.is_null()) {
            const auto& o = need(e, "o");
            const auto& a = need(e, "a");
            const auto& t = need(e, "t");
            if (!e.is_object() || !o.is_string() || !a.is_number_integer() || !t.is_string())
                return bad("pass.e must be {\"o\": text, \"a\": int, \"t\": text}");
            p.entry = EntryRegistration{o.get<std::string>(), a.get<std::int64_t>(), t.get<std::string>()};
        }
        if (const auto& h = need(pj, "h"); !h.is_null()) {
            auto hb = h.is_string() ? from_hex(h.get<std::string>()) : std::nullopt;
            if (!hb || hb->size() != 32) return bad("pass.h must be 64 hex digits");
            std::array<std::uint8_t, 32> arr{};
            std::copy(hb->begin(), hb->end(), arr.begin());
            p.id_hash = arr;
        }
        CP_TRY(check_pass(p));
        p.claims_json = cp1_claims_json(p);
        return p;
    } catch (const std::exception& e) {  // nlohmann type errors, e.g. integers out of range
        return bad(std::string("claims JSON: ") + e.what());
    }
}

}  // namespace cp::pass
