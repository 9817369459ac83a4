#include "src/pass/issuer.hpp"
#include "src/pass/reason.hpp"

#include "src/pass/base45.hpp"
#include "src/pass/claims.hpp"
#include "src/pass/compression.hpp"
#include "src/pass/cose.hpp"

namespace cp::pass {

Result<std::string> qr_text_from_cose(std::string_view prefix, ByteView cose) {
    auto z = deflate_zlib(cose);
    if (!z) return fail(z.error());
    return std::string(prefix) + base45_encode(*z);
}

Result<std::string> issue_cp1(const Pass& pass, const crypto::PrivateKey& key, ByteView kid) {
    if (kid.size() != 8) return fail(ErrorKind::invalid_input, reason::cose, "kid must be 8 bytes");
    auto claims = encode_cp1_claims(pass);
    if (!claims) return fail(claims.error());
    auto cose = cose_sign1_sign(*claims, key, kid);
    if (!cose) return fail(cose.error());
    return qr_text_from_cose("CP1:", *cose);
}

}  // namespace cp::pass
