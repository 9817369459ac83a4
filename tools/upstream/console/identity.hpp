// Personal identity data of residents and travellers, minimised: PRC resident ID
// numbers are checked (GB 11643 check digit) and then kept only as a keyed hash
// (HMAC-SHA-256 with a server secret), so the database can de-duplicate and look a
// person up without holding the number; names and phones are masked wherever they
// leave the person's own grid.
#pragma once

#include "tools/upstream/reasons.hpp"
#include "src/common/bytes.hpp"
#include "src/common/result.hpp"

#include <string>
#include <string_view>

namespace cp::upstream::console {

namespace reason {
// The upstream's reasons are the console's too (console::reason::login names them).
using namespace ::cp::upstream::reason;
inline constexpr Reason id_secret{"id-secret"};
}

// An 18-character PRC resident ID: 17 digits (6 area, 8 birth date, 3 sequence) and
// the GB 11643 check character (0-9 or 'X', 'x' accepted).
bool valid_id_number(std::string_view id);

// Lower-case hex HMAC-SHA-256 of the upper-cased ID number under `secret`.
std::string id_hash(ByteView secret, std::string_view id);

// At least kMinIdSecretBytes from a file that only its owner may read or write
// (mode 0600 or 0400). Errors: io "id-secret" (missing, unreadable),
// config "id-secret" (group/other permissions, too short).
inline constexpr std::size_t kMinIdSecretBytes = 32;
Result<Bytes> load_id_secret(const std::string& path);
// Creates a new secret file (32 random bytes, mode 0600); refuses to overwrite one.
// Errors: rejected "id-secret" (exists), io "id-secret".
Status create_id_secret(const std::string& path);

// "张三" -> "张*", "欧阳娜娜" -> "欧阳**" (a two-character surname stays whole),
// "Li" -> "L*": the first character (code point) kept, every other one a '*'
// (a one-character name becomes "*").
std::string mask_name(std::string_view utf8_name);
// "13812345678" -> "138****5678"; shorter numbers keep only their last two digits.
std::string mask_phone(std::string_view phone);

// A phone number as the registry keeps it: optional '+', 6..15 digits.
bool valid_phone(std::string_view phone);

}  // namespace cp::upstream::console
