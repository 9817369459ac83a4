// mbedTLS edge of the trust core: every mbedTLS return code is turned into a
// Result here, so no other module sees mbedTLS types or error codes.
#include "src/crypto/crypto.hpp"
#include "src/common/time.hpp"
#include "src/crypto/reason.hpp"

#include <mbedtls/base64.h>
#include <mbedtls/bignum.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/pk.h>
#include <mbedtls/rsa.h>
#include <mbedtls/sha256.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/x509_crt.h>

#include <cstdio>
#include <ctime>
#include <cstring>
#include <mutex>

namespace cp::crypto {

namespace {

std::string mbed_error(int rc) {
    char buf[128];
    mbedtls_strerror(rc, buf, sizeof buf);
    char code[32];
    std::snprintf(code, sizeof code, " (-0x%04x)", static_cast<unsigned>(-rc));
    return std::string(buf) + code;
}

// The process-wide DRBG. mbedTLS contexts are not thread-safe, so one mutex
// serialises every draw; signing and key generation are rare (issuer side).
struct Drbg {
    std::mutex mu;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context ctr;
    int seed_rc = 0;
    Drbg() {
        mbedtls_entropy_init(&entropy);
        mbedtls_ctr_drbg_init(&ctr);
        static const char kPers[] = "checkpoint-trust-core";
        seed_rc = mbedtls_ctr_drbg_seed(&ctr, mbedtls_entropy_func, &entropy,
                                        reinterpret_cast<const unsigned char*>(kPers),
                                        sizeof kPers - 1);
    }
    ~Drbg() {
        mbedtls_ctr_drbg_free(&ctr);
        mbedtls_entropy_free(&entropy);
    }
};

Drbg& drbg() {
    static Drbg d;
    return d;
}

// f_rng for mbedTLS calls; takes the DRBG lock for each draw.
int locked_rng(void*, unsigned char* out, size_t len) {
    Drbg& d = drbg();
    std::lock_guard<std::mutex> lock(d.mu);
    if (d.seed_rc != 0) return d.seed_rc;
    return mbedtls_ctr_drbg_random(&d.ctr, out, len);
}

Status rng_ready() {
    if (drbg().seed_rc != 0)
        return fail(ErrorKind::internal, reason::rng, "seeding CTR_DRBG: " + mbed_error(drbg().seed_rc));
    return {};
}

// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? static_cast<unsigned>(-3) : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

std::int64_t to_epoch(const mbedtls_x509_time& t) {
    return days_from_civil(t.year, static_cast<unsigned>(t.mon), static_cast<unsigned>(t.day)) * 86400 +
           t.hour * 3600 + t.min * 60 + t.sec;
}

struct Mpi {
    mbedtls_mpi v;
    Mpi() { mbedtls_mpi_init(&v); }
    ~Mpi() { mbedtls_mpi_free(&v); }
    Mpi(const Mpi&) = delete;
    Mpi& operator=(const Mpi&) = delete;
};

// "YYYYMMDDhhmmss" (UTC), the form mbedtls_x509write_crt_set_validity takes.
std::string format_x509(std::int64_t epoch) { return format_utc(epoch, "%Y%m%d%H%M%S"); }

bool looks_like_pem(ByteView data) {
    static const char kBegin[] = "-----BEGIN";
    std::string_view text = as_chars(data);
    return text.find(kBegin) != std::string_view::npos;
}

}  // namespace

Sha256 sha256(ByteView data) {
    Sha256 out{};
    mbedtls_sha256_ret(data.data(), data.size(), out.data(), 0);
    return out;
}

Bytes kid_of(ByteView certificate_der) {
    Sha256 h = sha256(certificate_der);
    return Bytes(h.begin(), h.begin() + 8);
}

Status random_bytes(std::uint8_t* out, std::size_t len) {
    CP_TRY(rng_ready());
    int rc = locked_rng(nullptr, out, len);
    if (rc != 0) return fail(ErrorKind::internal, reason::rng, mbed_error(rc));
    return {};
}

std::string certificate_pem(ByteView der) {
    size_t olen = 0;
    mbedtls_base64_encode(nullptr, 0, &olen, der.data(), der.size());
    std::string b64(olen, '\0');
    mbedtls_base64_encode(reinterpret_cast<unsigned char*>(b64.data()), b64.size(), &olen, der.data(),
                          der.size());
    b64.resize(olen);
    std::string pem = "-----BEGIN CERTIFICATE-----\n";
    for (std::size_t i = 0; i < b64.size(); i += 64) pem += b64.substr(i, 64) + "\n";
    pem += "-----END CERTIFICATE-----\n";
    return pem;
}

// ---------------------------------------------------------------- Certificate

struct Certificate::Impl {
    mbedtls_x509_crt crt;
    Impl() { mbedtls_x509_crt_init(&crt); }
    ~Impl() { mbedtls_x509_crt_free(&crt); }
    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;
};

Certificate::Certificate(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {
    der_.assign(impl_->crt.raw.p, impl_->crt.raw.p + impl_->crt.raw.len);
    kid_ = kid_of(der_);
}
Certificate::Certificate(Certificate&&) noexcept = default;
Certificate& Certificate::operator=(Certificate&&) noexcept = default;
Certificate::~Certificate() = default;

Result<Certificate> Certificate::parse(ByteView data) {
    auto impl = std::make_unique<Impl>();
    if (looks_like_pem(data)) {
        // mbedTLS wants PEM NUL-terminated, with the NUL counted in the length.
        Bytes text(data.begin(), data.end());
        text.push_back(0);
        mbedtls_x509_crt chain;
        mbedtls_x509_crt_init(&chain);
        int rc = mbedtls_x509_crt_parse(&chain, text.data(), text.size());
        if (rc < 0 || chain.raw.len == 0) {
            mbedtls_x509_crt_free(&chain);
            return fail(ErrorKind::invalid_input, reason::certificate,
                        rc < 0 ? mbed_error(rc) : "no certificate in PEM");
        }
        rc = mbedtls_x509_crt_parse_der(&impl->crt, chain.raw.p, chain.raw.len);
        mbedtls_x509_crt_free(&chain);
        if (rc != 0) return fail(ErrorKind::invalid_input, reason::certificate, mbed_error(rc));
    } else {
        int rc = mbedtls_x509_crt_parse_der(&impl->crt, data.data(), data.size());
        if (rc != 0) return fail(ErrorKind::invalid_input, reason::certificate, mbed_error(rc));
    }
    return Certificate(std::move(impl));
}

KeyType Certificate::key_type() const {
    const mbedtls_pk_context* pk = &impl_->crt.pk;
    switch (mbedtls_pk_get_type(pk)) {
        case MBEDTLS_PK_ECKEY:
        case MBEDTLS_PK_ECDSA:
        {
            const mbedtls_ecp_keypair* ec = mbedtls_pk_ec(*pk);
            return ec != nullptr && ec->grp.id == MBEDTLS_ECP_DP_SECP256R1 ? KeyType::ec_p256
                                                                           : KeyType::other;
        }
        case MBEDTLS_PK_RSA:
            return KeyType::rsa;
        default:
            return KeyType::other;
    }
}

std::string Certificate::subject() const {
    char buf[512];
    int n = mbedtls_x509_dn_gets(buf, sizeof buf, &impl_->crt.subject);
    return n < 0 ? std::string() : std::string(buf, static_cast<std::size_t>(n));
}

std::int64_t Certificate::not_before() const { return to_epoch(impl_->crt.valid_from); }
std::int64_t Certificate::not_after() const { return to_epoch(impl_->crt.valid_to); }

void* Certificate::native_pk() const { return &impl_->crt.pk; }

Status Certificate::verify_es256(ByteView message, ByteView signature_rs) const {
    return verify_es256_digest(sha256(message), signature_rs);
}

Status Certificate::verify_es256_digest(const Sha256& digest, ByteView signature_rs) const {
    if (key_type() != KeyType::ec_p256)
        return fail(ErrorKind::rejected, reason::alg, "certificate key is not EC P-256");
    if (signature_rs.size() != 64)
        return fail(ErrorKind::rejected, reason::signature, "ES256 signature must be 64 bytes");
    // Verifying r and s directly avoids the DER round trip mbedtls_pk_verify needs.
    mbedtls_ecp_keypair* ec = mbedtls_pk_ec(impl_->crt.pk);
    if (ec == nullptr) return fail(ErrorKind::rejected, reason::alg, "certificate key is not EC");
    Mpi r, s;
    if (mbedtls_mpi_read_binary(&r.v, signature_rs.data(), 32) != 0 ||
        mbedtls_mpi_read_binary(&s.v, signature_rs.data() + 32, 32) != 0)
        return fail(ErrorKind::internal, reason::crypto, "out of memory");
    int rc = mbedtls_ecdsa_verify(&ec->grp, digest.data(), digest.size(), &ec->Q, &r.v, &s.v);
    if (rc != 0) return fail(ErrorKind::rejected, reason::signature, mbed_error(rc));
    return {};
}

Status Certificate::verify_ps256(ByteView message, ByteView signature) const {
    if (key_type() != KeyType::rsa) return fail(ErrorKind::rejected, reason::alg, "certificate key is not RSA");
    mbedtls_rsa_context* rsa = mbedtls_pk_rsa(impl_->crt.pk);
    if (rsa == nullptr) return fail(ErrorKind::rejected, reason::alg, "certificate key is not RSA");
    if (signature.size() != mbedtls_rsa_get_len(rsa))
        return fail(ErrorKind::rejected, reason::signature, "PS256 signature length differs from the modulus");
    Sha256 digest = sha256(message);
    int rc = mbedtls_rsa_rsassa_pss_verify_ext(rsa, nullptr, nullptr, MBEDTLS_RSA_PUBLIC,
                                               MBEDTLS_MD_SHA256, static_cast<unsigned>(digest.size()),
                                               digest.data(), MBEDTLS_MD_SHA256,
                                               MBEDTLS_RSA_SALT_LEN_ANY, signature.data());
    if (rc != 0) return fail(ErrorKind::rejected, reason::signature, mbed_error(rc));
    return {};
}

// ----------------------------------------------------------------- PrivateKey

struct PrivateKey::Impl {
    mbedtls_pk_context pk;
    Impl() { mbedtls_pk_init(&pk); }
    ~Impl() { mbedtls_pk_free(&pk); }
    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;
};

PrivateKey::PrivateKey(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PrivateKey::PrivateKey(PrivateKey&&) noexcept = default;
PrivateKey& PrivateKey::operator=(PrivateKey&&) noexcept = default;
PrivateKey::~PrivateKey() = default;

Result<PrivateKey> PrivateKey::generate_p256() {
    CP_TRY(rng_ready());
    auto impl = std::make_unique<Impl>();
    int rc = mbedtls_pk_setup(&impl->pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
    if (rc == 0)
        rc = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(impl->pk), locked_rng, nullptr);
    if (rc != 0) return fail(ErrorKind::internal, reason::crypto, "key generation: " + mbed_error(rc));
    return PrivateKey(std::move(impl));
}

Result<PrivateKey> PrivateKey::parse(ByteView data) {
    auto impl = std::make_unique<Impl>();
    Bytes buf(data.begin(), data.end());
    if (looks_like_pem(data)) buf.push_back(0);
    int rc = mbedtls_pk_parse_key(&impl->pk, buf.data(), buf.size(), nullptr, 0);
    mbedtls_platform_zeroize(buf.data(), buf.size());
    if (rc != 0) return fail(ErrorKind::invalid_input, reason::key, mbed_error(rc));
    const mbedtls_ecp_keypair* ec =
        mbedtls_pk_get_type(&impl->pk) == MBEDTLS_PK_ECKEY ? mbedtls_pk_ec(impl->pk) : nullptr;
    if (ec == nullptr || ec->grp.id != MBEDTLS_ECP_DP_SECP256R1)
        return fail(ErrorKind::invalid_input, reason::key, "not an EC P-256 private key");
    return PrivateKey(std::move(impl));
}

Result<std::string> PrivateKey::to_pem() const {
    unsigned char buf[1024];
    int rc = mbedtls_pk_write_key_pem(&impl_->pk, buf, sizeof buf);
    if (rc != 0) return fail(ErrorKind::internal, reason::crypto, mbed_error(rc));
    std::string pem(reinterpret_cast<const char*>(buf));
    mbedtls_platform_zeroize(buf, sizeof buf);
    return pem;
}

Result<std::string> PrivateKey::public_key_pem() const {
    unsigned char buf[1024];
    int rc = mbedtls_pk_write_pubkey_pem(&impl_->pk, buf, sizeof buf);
    if (rc != 0) return fail(ErrorKind::internal, reason::crypto, mbed_error(rc));
    return std::string(reinterpret_cast<const char*>(buf));
}

Result<Bytes> PrivateKey::sign_es256(ByteView message) const {
    CP_TRY(rng_ready());
    Sha256 digest = sha256(message);
    mbedtls_ecp_keypair* ec = mbedtls_pk_ec(impl_->pk);
    if (ec == nullptr) return fail(ErrorKind::internal, reason::crypto, "not an EC key");
    Mpi r, s;
    int rc = mbedtls_ecdsa_sign(&ec->grp, &r.v, &s.v, &ec->d, digest.data(), digest.size(), locked_rng,
                                nullptr);
    Bytes sig(64);
    if (rc == 0) rc = mbedtls_mpi_write_binary(&r.v, sig.data(), 32);
    if (rc == 0) rc = mbedtls_mpi_write_binary(&s.v, sig.data() + 32, 32);
    if (rc != 0) return fail(ErrorKind::internal, reason::crypto, "ES256 sign: " + mbed_error(rc));
    return sig;
}

Result<Bytes> PrivateKey::self_signed_certificate(const std::string& common_name,
                                                  std::int64_t not_before, int days) const {
    // The subject is written as an mbedTLS DN string; these characters would change its structure.
    if (common_name.empty() || common_name.size() > 64 ||
        common_name.find_first_of(",=+\\\"<>;") != std::string::npos)
        return fail(ErrorKind::invalid_input, reason::cn, "common name must be 1-64 chars without , = + \\ \" < > ;");
    if (days <= 0) return fail(ErrorKind::invalid_input, reason::days, "validity must be at least one day");
    CP_TRY(rng_ready());
    std::string from = format_x509(not_before);
    std::string to = format_x509(not_before + static_cast<std::int64_t>(days) * 86400);
    std::string dn = "CN=" + common_name;

    mbedtls_x509write_cert crt;
    mbedtls_x509write_crt_init(&crt);
    Mpi serial;
    unsigned char serial_bytes[16];
    int rc = locked_rng(nullptr, serial_bytes, sizeof serial_bytes);
    serial_bytes[0] &= 0x7f;  // a positive serial number
    if (rc == 0) rc = mbedtls_mpi_read_binary(&serial.v, serial_bytes, sizeof serial_bytes);
    mbedtls_pk_context* pk = &impl_->pk;
    mbedtls_x509write_crt_set_version(&crt, MBEDTLS_X509_CRT_VERSION_3);
    mbedtls_x509write_crt_set_md_alg(&crt, MBEDTLS_MD_SHA256);
    mbedtls_x509write_crt_set_subject_key(&crt, pk);
    mbedtls_x509write_crt_set_issuer_key(&crt, pk);
    if (rc == 0) rc = mbedtls_x509write_crt_set_subject_name(&crt, dn.c_str());
    if (rc == 0) rc = mbedtls_x509write_crt_set_issuer_name(&crt, dn.c_str());
    if (rc == 0) rc = mbedtls_x509write_crt_set_serial(&crt, &serial.v);
    if (rc == 0) rc = mbedtls_x509write_crt_set_validity(&crt, from.c_str(), to.c_str());
    if (rc == 0) rc = mbedtls_x509write_crt_set_basic_constraints(&crt, 0, -1);
    if (rc == 0) rc = mbedtls_x509write_crt_set_key_usage(&crt, MBEDTLS_X509_KU_DIGITAL_SIGNATURE);
    if (rc == 0) rc = mbedtls_x509write_crt_set_subject_key_identifier(&crt);
    unsigned char buf[2048];
    int len = rc == 0 ? mbedtls_x509write_crt_der(&crt, buf, sizeof buf, locked_rng, nullptr) : rc;
    mbedtls_x509write_crt_free(&crt);
    if (len < 0) return fail(ErrorKind::internal, reason::crypto, "certificate: " + mbed_error(len));
    // mbedTLS writes the DER at the end of the buffer.
    const unsigned char* start = buf + sizeof buf - static_cast<std::size_t>(len);
    return Bytes(start, start + len);
}

}  // namespace cp::crypto
