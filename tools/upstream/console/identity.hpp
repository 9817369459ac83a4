// Personal identifiers on the upstream: PRC resident ID numbers are checked and kept
// only as a keyed hash (HMAC-SHA-256 with a server secret), names and phones are
// masked wherever they leave the owner's grid.
#pragma once

#include "src/common/bytes.hpp"
#include "src/common/result.hpp"

#include <string>
#include <string_view>

namespace cp::upstream::console {

bool valid_id_number(std::string_view id);                  // 18-char PRC resident ID, GB 11643 check digit ('X' allowed)
std::string id_hash(ByteView secret, std::string_view id);  // hex HMAC-SHA-256 of the upper-cased ID number
Result<Bytes> load_id_secret(const std::string& path);      // 32+ random bytes from a file that must be 0600
std::string mask_name(std::string_view utf8_name);          // "张*", "欧阳**"
std::string mask_phone(std::string_view phone);             // "138****5678"

}  // namespace cp::upstream::console
