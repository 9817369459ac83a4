// The decoded, verified content of a pass QR code (CP1 per docs/pass-format.md,
// or an EU Digital COVID Certificate, HC1). Pure data: no I/O, no OpenCV, no logging.
#pragma once

#include "src/pass/reason.hpp"
#include "src/common/bytes.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <string>

namespace cp::pass {

enum class Format { cp1, hc1 };

// CP1 `k`. HC1 certificates map to `dcc`.
enum class Kind { resident, driver, visitor, entry, dcc };

const char* to_string(Format f) noexcept;
// "R", "D", "V", "E", "DCC"
const char* to_string(Kind k) noexcept;

using PassId = std::array<std::uint8_t, 16>;

struct EntryRegistration {
    std::string origin;           // `o`
    std::int64_t expected_arrival = 0;  // `a`, seconds since epoch
    std::string transport;        // `t`: "car", "truck", "train", "bus"
};

struct Pass {
    Format format = Format::cp1;
    std::string issuer;           // CWT iss
    std::int64_t issued_at = 0;   // CWT iat
    std::int64_t expires_at = 0;  // CWT exp
    Bytes kid;                    // COSE kid of the signing certificate

    PassId id{};                  // status-list key (for HC1: derived, see docs/pass-verification.md)
    Kind kind = Kind::resident;
    std::string name;             // masked by the issuer; shown on screen, never journaled
    std::string grid;             // kind R
    std::string plate;            // kind D
    std::optional<EntryRegistration> entry;  // kind E
    std::optional<std::array<std::uint8_t, 32>> id_hash;  // `h`

    std::string claims_json;      // the decoded claims as JSON text (for the CLI and technicians)
};

inline std::string id_hex(const PassId& id) { return to_hex(id); }

}  // namespace cp::pass
