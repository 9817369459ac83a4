// libFuzzer target: whole QR text → verdict (prefix, Base45, zlib, COSE, CWT, signature,
// time). Invariants checked beyond "no crash": a verified outcome has a pass and no
// reason; a rejection always has a reason word.
#include "src/crypto/trust_store.hpp"
#include "src/pass/verifier.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace {

// TEST-ONLY certificate: the fuzz issuer that signed tests/fuzz/seeds/verify/cp1_*.txt.
// Its private key was discarded after signing the seeds; it is trusted nowhere else.
constexpr char kFuzzIssuerTestOnlyPem[] = R"(-----BEGIN CERTIFICATE-----
MIIBgDCCASSgAwIBAgIQYX1d59qWuVs3/7WE67VklDAMBggqhkjOPQQDAgUAMCAx
HjAcBgNVBAMMFWZ1enogdGVzdC1vbmx5IGlzc3VlcjAgFw0yNjExMjcxNDM5MzZa
GA8yMTI2MTEwMzE0MzkzNlowIDEeMBwGA1UEAwwVZnV6eiB0ZXN0LW9ubHkgaXNz
dWVyMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEFlIyBAVt/pGPp48jBPG2rTsI
WMciIjRn8u8DoNN/wHTkG8MM0E3z2rxIDQqpJeVzF/74OnJUPy3bsLo0vUsGV6M8
MDowCQYDVR0TBAIwADAOBgNVHQ8BAf8EBAMCB4AwHQYDVR0OBBYEFEZzFq0uy9Tn
5g+aZ74Gc40CvySSMAwGCCqGSM49BAMCBQADSAAwRQIhAKs9b+GFRwWvX4XM1tBu
Q0+ktli6Spkh+6EZ8X1t53HPAiA3Dut7DHc+8B2JdEoBbvjly5Upjfno9dXrsGt7
7YGxvw==
-----END CERTIFICATE-----
)";

struct Fixture {
    cp::crypto::TrustStore store;
    Fixture() {
        auto st = store.add_pem_or_der(cp::as_bytes(kFuzzIssuerTestOnlyPem));
        if (!st) std::abort();
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static Fixture fixture;
    static const cp::pass::PassVerifier verifier(fixture.store);
    std::string_view text(reinterpret_cast<const char*>(data), size);
    cp::pass::Verification v = verifier.verify(text, 1780000000);
    if (v.verified() && (!v.pass || v.signature != cp::pass::SignatureState::valid)) std::abort();
    if (!v.verified() && v.reason->empty()) std::abort();
    return 0;
}
