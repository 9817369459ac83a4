// The body of the public registration form (POST /r/api/register): a JSON object
// typed by a traveller on a phone. Every field is checked here; nothing else of
// the body is used.
#pragma once

#include "src/common/result.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace cp::upstream::console {

namespace traveller_reason {
inline constexpr Reason kBody{"registration"};         // invalid_input: not a JSON object / too large
inline constexpr Reason kField{"registration-field"};  // invalid_input: the message names the field
inline constexpr Reason kRateLimit{"rate-limit"};      // rejected: too many registrations (phone, address, ID)
inline constexpr Reason kNoIssuer{"no-issuer"};        // unavailable: serve without --issuer-key
inline constexpr Reason kRegistration = kBody;         // not_found: no such registration
inline constexpr Reason kExists{"exists"};             // rejected: the pass id is registered already
inline constexpr Reason kConfig{"travellers"};         // config: travellers' options
inline constexpr Reason kIssuerKey{"issuer-key"};      // config: issuer key unreadable or not the certificate's
inline constexpr Reason kIssuerCert{"issuer-cert"};    // config: issuer certificate unreadable
}  // namespace traveller_reason

enum class Route { entry, driver };  // kind E pass, or kind D with the truck's plate

struct RegistrationRequest {
    Route route = Route::entry;
    std::string name;        // 1..32 characters
    std::string id_number;   // 18-character resident ID, check digit verified
    std::string phone;       // 11-digit mainland mobile number
    std::string origin;      // 1..64 characters
    std::string address;     // destination address, 1..128 characters
    std::string grid;        // destination grid code
    std::string transport;   // car, truck, train, bus (truck for the driver route)
    std::string plate;       // driver route: 2..16 characters
    std::int64_t expected_arrival = 0;  // s since epoch; from an hour ago to 14 days ahead
    std::string site;        // entry point code (from the poster), may be empty
};

inline constexpr std::size_t kMaxRegistrationBody = 4096;

// Errors: invalid_input kBody or kField (message: the field's name).
Result<RegistrationRequest> parse_registration(std::string_view body, std::int64_t now_s);

}  // namespace cp::upstream::console
