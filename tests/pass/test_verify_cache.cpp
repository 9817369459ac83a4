// VerificationCache: hits skip the signature check, but never the clock; only
// authentic outcomes are kept; a trust change empties it; it stays bounded.
#include "src/pass/verify_cache.hpp"
#include "tests/pass/fixtures.hpp"

using namespace cp;
using namespace cp::pass;
using namespace cp::pass::testing;

namespace {

std::string issue(const Issuer& issuer, const Pass& p) {
    auto t = issue_cp1(p, issuer.key, issuer.kid);
    REQUIRE(t.ok());
    return *t;
}

}  // namespace

TEST_CASE("a cached pass is re-checked for expiry at the current time") {
    Issuer issuer = Issuer::make();
    crypto::TrustStore store;
    store.add(issuer.cert());
    PassVerifier verifier(store);
    VerificationCache cache;
    const std::string text = issue(issuer, resident());

    Verification first = cache.verify(verifier, text, kNow);
    REQUIRE(first.verified());
    CHECK(cache.size() == 1);
    CHECK(cache.hits() == 0);
    Verification again = cache.verify(verifier, text, kNow + 10);
    CHECK(cache.hits() == 1);
    CHECK(again.verified());
    REQUIRE(again.pass.has_value());
    CHECK(again.pass->id == first.pass->id);
    // Past exp + skew: the hit says expired, exactly as a fresh verify does.
    const std::int64_t late = kExp + 301;
    Verification expired = cache.verify(verifier, text, late);
    CHECK(cache.hits() == 2);
    Verification fresh = verifier.verify(text, late);
    REQUIRE(fresh.reason.has_value());
    CHECK(expired.reason == fresh.reason);
    CHECK(expired.expired == fresh.expired);
    CHECK(expired.signature == SignatureState::valid);
    // And back in time (a clock corrected backwards): valid again, not stuck on expired.
    CHECK(cache.verify(verifier, text, kNow).verified());
    // Before iat - skew: not yet valid.
    CHECK(cache.verify(verifier, text, kIat - 1000).reason == std::optional<std::string>("not-yet-valid"));
}

TEST_CASE("only authentic outcomes are cached; the key is the exact text") {
    Issuer issuer = Issuer::make("trusted"), stranger = Issuer::make("untrusted");
    crypto::TrustStore store;
    store.add(issuer.cert());
    PassVerifier verifier(store);
    VerificationCache cache;
    const std::string forged = issue(stranger, resident());
    CHECK(cache.verify(verifier, forged, kNow).reason == std::optional<std::string>("unknown-key"));
    CHECK(cache.verify(verifier, "CP1:not base45 !!", kNow).reason.has_value());
    CHECK(cache.size() == 0);
    const std::string text = issue(issuer, resident());
    REQUIRE(cache.verify(verifier, text, kNow).verified());
    // One character more or less is another key: verified from scratch, and fails.
    std::string tampered = text;
    tampered.back() = tampered.back() == '0' ? '1' : '0';
    CHECK_FALSE(cache.verify(verifier, tampered, kNow).verified());
    CHECK_FALSE(cache.verify(verifier, text + " ", kNow).verified());
    CHECK(cache.hits() == 0);
}

TEST_CASE("a change of the trust store empties the cache") {
    Issuer issuer = Issuer::make("trusted");
    auto store = std::make_unique<crypto::TrustStore>();
    store->add(issuer.cert());
    VerificationCache cache;
    const std::string text = issue(issuer, resident());
    {
        PassVerifier verifier(*store);
        REQUIRE(cache.verify(verifier, text, kNow).verified());
        CHECK(cache.verify(verifier, text, kNow).verified());
        CHECK(cache.hits() == 1);
    }
    // The issuer is no longer trusted (a new trust folder without it): no hit.
    crypto::TrustStore without;
    without.add(Issuer::make("other").cert());
    *store = std::move(without);
    PassVerifier verifier(*store);
    CHECK(cache.verify(verifier, text, kNow).reason == std::optional<std::string>("unknown-key"));
    CHECK(cache.hits() == 1);
    CHECK(cache.size() == 0);
    // Adding a certificate is a change too.
    store->add(issuer.cert());
    REQUIRE(cache.verify(verifier, text, kNow).verified());
    CHECK(cache.size() == 1);
    store->add(Issuer::make("third").cert());
    CHECK(cache.verify(verifier, text, kNow).verified());
    CHECK(cache.hits() == 1);  // verified again from scratch
}

TEST_CASE("the cache is bounded: least recently used out, long texts never in") {
    Issuer issuer = Issuer::make();
    crypto::TrustStore store;
    store.add(issuer.cert());
    PassVerifier verifier(store);
    VerificationCache cache(3);
    std::vector<std::string> texts;
    for (int i = 0; i < 5; ++i) {
        Pass p = resident();
        p.id[0] = static_cast<std::uint8_t>(i);
        texts.push_back(issue(issuer, p));
    }
    for (int i = 0; i < 3; ++i) REQUIRE(cache.verify(verifier, texts[static_cast<std::size_t>(i)], kNow).verified());
    REQUIRE(cache.verify(verifier, texts[0], kNow).verified());  // 0 is now the most recent
    CHECK(cache.hits() == 1);
    REQUIRE(cache.verify(verifier, texts[3], kNow).verified());  // evicts 1, the least recent
    CHECK(cache.size() == 3);
    CHECK(cache.find(verifier, texts[1], kNow) == std::nullopt);
    CHECK(cache.find(verifier, texts[0], kNow).has_value());
    CHECK(cache.find(verifier, texts[2], kNow).has_value());
    CHECK(cache.find(verifier, texts[3], kNow).has_value());
    // A key longer than kMaxKey is never stored, even with an authentic outcome.
    const Verification good = verifier.verify(texts[4], kNow);
    REQUIRE(good.verified());
    const std::string long_key = texts[4] + std::string(VerificationCache::kMaxKey, 'x');
    cache.store(verifier, long_key, good);
    CHECK(cache.find(verifier, long_key, kNow) == std::nullopt);
    CHECK(cache.size() == 3);
}
