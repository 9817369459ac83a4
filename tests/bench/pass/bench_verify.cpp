// bench_verify: the whole CP1 chain (prefix, Base45, inflate, COSE, CWT, ES256, time)
// against the bare signature check it cannot avoid, measured in the same run on the
// same signature. The target is chain <= 1.2x bare verify.
#include "src/crypto/crypto.hpp"
#include "src/crypto/trust_store.hpp"
#include "src/pass/base45.hpp"
#include "src/pass/compression.hpp"
#include "src/pass/cose.hpp"
#include "src/pass/issuer.hpp"
#include "src/pass/verifier.hpp"
#include "tests/bench/bench.hpp"

#include <mbedtls/ecdsa.h>
#include <mbedtls/pk.h>

#include <cstdio>
#include <cstdlib>

using namespace cp;

namespace {

// DER SEQUENCE { INTEGER r, INTEGER s } from raw r||s, as mbedtls_pk_verify wants it.
Bytes der_signature(ByteView rs) {
    auto integer = [](ByteView v) {
        std::size_t i = 0;
        while (i + 1 < v.size() && v[i] == 0) ++i;
        Bytes out{0x02};
        bool pad = (v[i] & 0x80) != 0;
        out.push_back(static_cast<std::uint8_t>(v.size() - i + (pad ? 1 : 0)));
        if (pad) out.push_back(0);
        out.insert(out.end(), v.begin() + static_cast<std::ptrdiff_t>(i), v.end());
        return out;
    };
    Bytes r = integer(rs.subspan(0, 32)), s = integer(rs.subspan(32, 32));
    Bytes out{0x30, static_cast<std::uint8_t>(r.size() + s.size())};
    out.insert(out.end(), r.begin(), r.end());
    out.insert(out.end(), s.begin(), s.end());
    return out;
}

[[noreturn]] void die(const char* what) {
    std::fprintf(stderr, "bench_verify: %s\n", what);
    std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
    std::size_t runs = argc > 1 ? static_cast<std::size_t>(std::atol(argv[1])) : 2000;
    auto key = crypto::PrivateKey::generate_p256();
    if (!key) die("keygen");
    auto der = key->self_signed_certificate("bench issuer", 1767225600 - 86400, 3650);
    if (!der) die("certificate");
    crypto::TrustStore store;
    if (!store.add_pem_or_der(*der)) die("trust store");
    Bytes kid = crypto::kid_of(*der);

    pass::Pass p;
    p.issuer = "CN-HL-DQ";
    p.issued_at = 1767225600;
    p.expires_at = 1798761600;
    p.id = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
    p.kind = pass::Kind::resident;
    p.name = "张*明";
    p.grid = "ranghulu.xinghua.07";
    auto text = pass::issue_cp1(p, *key, kid);
    if (!text) die("issue");
    const std::int64_t now = 1780000000;

    // The same signature for the baseline: unwrap the text once, outside the timing.
    auto z = pass::base45_decode(text->substr(4));
    auto cose = z ? pass::inflate_capped(*z) : Result<Bytes>(fail(ErrorKind::internal, "x"));
    if (!cose) die("unwrap");
    auto msg = pass::parse_cose_sign1(*cose);
    if (!msg) die("parse");
    crypto::Sha256 digest = crypto::sha256(pass::sig_structure(msg->protected_bstr, msg->payload));
    Bytes der_sig = der_signature(msg->signature);
    auto* pk = static_cast<mbedtls_pk_context*>(store.certificates().front()->native_pk());

    pass::PassVerifier verifier(store);
    if (!verifier.verify(*text, now).verified()) die("the pass does not verify");
    if (mbedtls_pk_verify(pk, MBEDTLS_MD_SHA256, digest.data(), digest.size(), der_sig.data(), der_sig.size()) != 0)
        die("bare verify fails");

    // Second baseline: mbedtls_ecdsa_verify on the certificate's own key, which keeps
    // mbedTLS's precomputed table for the base point between calls. mbedtls_pk_verify
    // copies the group into a fresh ECDSA context on every call and so loses that table;
    // the chain verifies like this second baseline does.
    mbedtls_ecp_keypair* ec = mbedtls_pk_ec(*pk);
    if (ec == nullptr) die("not an EC key");
    mbedtls_mpi r, s;
    mbedtls_mpi_init(&r);
    mbedtls_mpi_init(&s);
    if (mbedtls_mpi_read_binary(&r, msg->signature.data(), 32) != 0 ||
        mbedtls_mpi_read_binary(&s, msg->signature.data() + 32, 32) != 0)
        die("mpi");

    std::printf("bench_verify: CP1 text of %zu chars, %zu runs each, interleaved\n", text->size(), runs);
    // Interleave the two measurements in blocks so both see the same machine load.
    std::vector<double> chain_us, bare_us, ecdsa_us;
    const std::size_t block = 50;
    for (std::size_t done = 0; done < runs; done += block) {
        auto c = bench::measure(block, done == 0 ? 20 : 0, [&] {
            auto v = verifier.verify(*text, now);
            if (!v.verified()) die("chain");
        });
        auto b = bench::measure(block, done == 0 ? 20 : 0, [&] {
            if (mbedtls_pk_verify(pk, MBEDTLS_MD_SHA256, digest.data(), digest.size(), der_sig.data(),
                                  der_sig.size()) != 0)
                die("bare");
        });
        auto e = bench::measure(block, done == 0 ? 20 : 0, [&] {
            if (mbedtls_ecdsa_verify(&ec->grp, digest.data(), digest.size(), &ec->Q, &r, &s) != 0) die("ecdsa");
        });
        chain_us.push_back(c.median_us);
        bare_us.push_back(b.median_us);
        ecdsa_us.push_back(e.median_us);
    }
    // Per-sample statistics of both series (median of block medians is the headline).
    bench::Stats chain = bench::summarize(chain_us), bare = bench::summarize(bare_us),
                 ecdsa = bench::summarize(ecdsa_us);
    bench::print_row("chain: text -> verdict (PassVerifier)", chain);
    bench::print_row("bare: mbedtls_pk_verify (same signature)", bare);
    bench::print_row("bare: mbedtls_ecdsa_verify, cached key", ecdsa);
    std::printf("ratio chain/pk_verify (median): %.3f  (target <= 1.2)\n", chain.median_us / bare.median_us);
    std::printf("ratio chain/ecdsa_verify on the cached key (median): %.3f\n", chain.median_us / ecdsa.median_us);
    mbedtls_mpi_free(&r);
    mbedtls_mpi_free(&s);
    return 0;
}
