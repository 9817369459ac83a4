// Operator authentication of the console: Argon2id password hashes (libsodium's
// crypto_pwhash_str, algorithm pinned to Argon2id), random session and CSRF tokens,
// and the password rules. No default password exists anywhere: the first account is
// made on the host with a password read from stdin or a file.
#pragma once

#include "src/common/result.hpp"

#include <string>
#include <string_view>

namespace cp::upstream::console {

inline constexpr std::size_t kMinPasswordBytes = 10;
inline constexpr std::size_t kMaxPasswordBytes = 128;

// Errors: invalid_input "password" (too short/long, control characters),
// internal "sodium" (library failure or out of memory).
Result<std::string> hash_password(std::string_view password);
// False for a wrong password or a malformed hash.
bool verify_password(const std::string& hash, std::string_view password);
// Spends the time of one verification (unknown user names cost what known ones do).
void burn_password_check(std::string_view password);

// 32 random bytes as 64 lower-case hex digits (session cookie, CSRF token).
std::string random_token();
// SHA-256 of a token as hex: the store keeps this, never the token.
std::string token_hash(std::string_view token);
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace cp::upstream::console
