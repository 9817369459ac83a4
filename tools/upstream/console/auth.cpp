#include "tools/upstream/console/auth.hpp"
#include "tools/upstream/reasons.hpp"

#include <sodium.h>

#include <mutex>

namespace cp::upstream::console {

namespace {

bool init() {
    static const bool ok = sodium_init() >= 0;
    return ok;
}

std::string hex(const unsigned char* p, std::size_t n) {
    std::string out(n * 2 + 1, '\0');
    sodium_bin2hex(out.data(), out.size(), p, n);
    out.pop_back();
    return out;
}

}  // namespace

Result<std::string> hash_password(std::string_view pw) {
    if (pw.size() < kMinPasswordBytes || pw.size() > kMaxPasswordBytes)
        return fail(ErrorKind::invalid_input, reason::password,
                    "a password has " + std::to_string(kMinPasswordBytes) + " to " +
                        std::to_string(kMaxPasswordBytes) + " bytes");
    for (char c : pw)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F)
            return fail(ErrorKind::invalid_input, reason::password, "no control characters");
    if (!init()) return fail(ErrorKind::internal, reason::sodium, "sodium_init failed");
    char out[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str_alg(out, pw.data(), pw.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13) != 0)
        return fail(ErrorKind::internal, reason::sodium, "crypto_pwhash_str failed (out of memory?)");
    return std::string(out);
}

bool verify_password(const std::string& hash, std::string_view pw) {
    if (!init() || hash.rfind("$argon2id$", 0) != 0 || pw.size() > kMaxPasswordBytes) return false;
    return crypto_pwhash_str_verify(hash.c_str(), pw.data(), pw.size()) == 0;
}

void burn_password_check(std::string_view pw) {
    static std::once_flag once;
    static std::string dummy;
    std::call_once(once, [] {
        auto h = hash_password(random_token());
        if (h) dummy = *h;
    });
    (void)verify_password(dummy, pw.substr(0, kMaxPasswordBytes));
}

std::string random_token() {
    init();
    unsigned char buf[32];
    randombytes_buf(buf, sizeof buf);
    return hex(buf, sizeof buf);
}

std::string token_hash(std::string_view token) {
    init();
    unsigned char d[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(d, reinterpret_cast<const unsigned char*>(token.data()), token.size());
    return hex(d, sizeof d);
}

bool constant_time_equal(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace cp::upstream::console
