// EU DCC conformance (HCERT test data, vendored in tests/data/dgc-testdata): every case file,
// every expected result the chain covers. Prints the pass count per check and fails
// on any mismatch that is not in the documented known-exceptions list below
// (docs/conformance.md explains each one).
#include "src/common/time.hpp"
#include "src/crypto/trust_store.hpp"
#include "src/pass/base45.hpp"
#include "src/pass/compression.hpp"
#include "src/pass/verifier.hpp"
#include "tests/testing.hpp"

#ifdef CHECKPOINT_HAVE_DECODE
#include "src/imagefile/image_file.hpp"
#endif

#include <doctest/doctest.h>
#include <mbedtls/base64.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>

using namespace cp;
namespace fs = std::filesystem;

namespace {

// file (relative to dgc-testdata) + check → why the chain cannot meet the expectation.
// Keep in sync with docs/conformance.md. Entries that start passing fail the test too,
// so the list cannot go stale.
const std::map<std::pair<std::string, std::string>, std::string> kKnownExceptions = {
};

std::optional<Bytes> base64(const std::string& text) {
    std::string clean;
    for (char c : text)
        if (c != '\n' && c != '\r' && c != ' ') clean += c;
    size_t olen = 0;
    mbedtls_base64_decode(nullptr, 0, &olen, reinterpret_cast<const unsigned char*>(clean.data()), clean.size());
    Bytes out(olen);
    if (mbedtls_base64_decode(out.data(), out.size(), &olen, reinterpret_cast<const unsigned char*>(clean.data()),
                              clean.size()) != 0)
        return std::nullopt;
    out.resize(olen);
    return out;
}

// VALIDATIONCLOCK comes as "...Z", "...+02:00", "...+0000" and with up to 7 fraction digits.
std::optional<std::int64_t> clock_of(std::string s) {
    if (s.size() > 5 && (s[s.size() - 5] == '+' || s[s.size() - 5] == '-') && s.find('T') != std::string::npos &&
        s.substr(s.size() - 4).find(':') == std::string::npos)
        s = s.substr(0, s.size() - 2) + std::string(1, ':') + s.substr(s.size() - 2);
    return parse_iso8601(s);
}

std::string str(const nlohmann::json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

struct Tally {
    int total = 0, passed = 0, known = 0;
};

}  // namespace

TEST_CASE("EU DCC conformance cases") {
    const fs::path root = cp::testing::vendored_data("dgc-testdata");
    std::vector<fs::path> files;
    for (const auto& e : fs::recursive_directory_iterator(root))
        if (e.is_regular_file() && e.path().extension() == ".json") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    REQUIRE(!files.empty());

    std::map<std::string, Tally> tally;
    std::vector<std::string> unexpected;
    std::set<std::pair<std::string, std::string>> known_seen;

    for (const auto& file : files) {
        std::string rel = fs::relative(file, root).generic_string();
        std::string text = cp::testing::read_file(file);
        if (text.starts_with("\xEF\xBB\xBF")) text.erase(0, 3);  // UTF-8 BOM in some files
        nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
        if (j.is_discarded()) {
            unexpected.push_back(rel + ": not JSON");
            continue;
        }
        const nlohmann::json& expected = j.value("EXPECTEDRESULTS", nlohmann::json::object());
        const nlohmann::json& ctx = j.value("TESTCTX", nlohmann::json::object());
        std::string prefix = str(j, "PREFIX"), b45 = str(j, "BASE45");
        auto compressed = from_hex(str(j, "COMPRESSED"));
        auto cose = from_hex(str(j, "COSE"));
        if (compressed && compressed->empty()) compressed.reset();
        if (cose && cose->empty()) cose.reset();
        auto clock = clock_of(str(ctx, "VALIDATIONCLOCK"));
        auto cert_der = base64(str(ctx, "CERTIFICATE"));

        // The COSE bytes as this chain gets them: the case's COSE, else unwrapped from PREFIX.
        auto chain_cose = [&]() -> std::optional<Bytes> {
            if (cose) return cose;
            auto split = pass::split_prefix(prefix);
            if (!split) return std::nullopt;
            auto z = pass::base45_decode(split->second);
            if (!z) return std::nullopt;
            auto c = pass::inflate_capped(*z);
            if (!c) return std::nullopt;
            return *c;
        };
        auto verification = [&](std::int64_t skew) -> std::optional<pass::Verification> {
            if (!cert_der || !clock) return std::nullopt;
            auto cert = crypto::Certificate::parse(*cert_der);
            if (!cert) return std::nullopt;
            crypto::TrustStore store;
            store.add(std::move(cert).value());
            auto c = chain_cose();
            if (!c) return std::nullopt;
            pass::PassVerifier verifier(store, pass::VerifierOptions{skew});
            return verifier.verify_cose(pass::Format::hc1, *c, *clock);
        };

        auto check = [&](const char* key, auto&& compute) {
            auto it = expected.find(key);
            if (it == expected.end() || !it->is_boolean()) return;
            bool want = it->get<bool>();
            bool got = compute();
            Tally& t = tally[key];
            ++t.total;
            auto known = kKnownExceptions.find({rel, key});
            if (got == want) {
                ++t.passed;
                if (known != kKnownExceptions.end())
                    unexpected.push_back(rel + " " + key + ": listed as a known exception but now passes");
            } else if (known != kKnownExceptions.end()) {
                ++t.known;
                known_seen.insert({rel, key});
            } else {
                unexpected.push_back(rel + " " + key + ": expected " + (want ? "true" : "false") + ", got " +
                                     (got ? "true" : "false"));
            }
        };

        check("EXPECTEDUNPREFIX", [&] {
            auto split = pass::split_prefix(prefix);
            return split.ok() && split->first == pass::Format::hc1 && (b45.empty() || split->second == b45);
        });
        check("EXPECTEDB45DECODE", [&] {
            auto d = pass::base45_decode(b45);
            return d.ok() && (!compressed || *d == *compressed);
        });
        check("EXPECTEDCOMPRESSION", [&] {
            // Cases without COMPRESSED get it from BASE45.
            std::optional<Bytes> z = compressed;
            if (!z) {
                auto d = pass::base45_decode(b45);
                if (!d) return false;
                z = *d;
            }
            auto c = pass::inflate_capped(*z);
            return c.ok() && (!cose || *c == *cose);
        });
        check("EXPECTEDVERIFY", [&] {
            auto v = verification(300);
            return v && v->signature == pass::SignatureState::valid;
        });
        // The expiration check is the CWT's iat/exp against VALIDATIONCLOCK, without skew.
        check("EXPECTEDEXPIRATIONCHECK", [&] {
            auto v = verification(0);
            return v && v->pass && v->expired == false && v->reason != "not-yet-valid";
        });
#ifdef CHECKPOINT_HAVE_DECODE
        // A case without 2DCODE (common/B1) cannot exercise picture decoding at all; it
        // is counted as not applicable rather than as a pass or a failure.
        if (!str(j, "2DCODE").empty()) check("EXPECTEDPICTUREDECODE", [&] {
            auto png = base64(str(j, "2DCODE"));
            if (!png || png->empty()) return false;  // never reached for a "true" case: see below
            cp::testing::TempDir dir;
            cp::testing::write_file(dir / "code.png", std::string(png->begin(), png->end()));
            auto codes = imagefile::decode_file((dir / "code.png").string());
            if (!codes) {
                std::printf("  %s: picture: %s\n", rel.c_str(), codes.error().describe().c_str());
                return false;
            }
            if (codes->empty()) std::printf("  %s: picture: no code in %zu bytes of PNG\n", rel.c_str(), png->size());
            return std::any_of(codes->begin(), codes->end(), [&](const decode::Code& c) { return c.text == prefix; });
        });
#endif
    }

    std::printf("dgc-testdata: %zu case files\n", files.size());
    for (const auto& [key, t] : tally)
        std::printf("  %-26s %3d/%3d pass  (%d known exceptions)\n", key.c_str(), t.passed, t.total, t.known);
    for (const auto& u : unexpected) std::printf("  UNEXPECTED %s\n", u.c_str());
    CHECK(unexpected.empty());
    CHECK(tally["EXPECTEDVERIFY"].total > 0);
}
