// Reasons of the device's sync with the upstream, as typed constants
// (src/common/result.hpp): the HTTPS client's transport failures, and the words
// the upstream's 403 answers carry in their "reason" (docs/sync-protocol.md).
#pragma once

#include "src/common/result.hpp"

namespace cp::sync::reason {

// HttpsClient (ErrorKind::unavailable, or config for tls_files).
inline constexpr Reason connect{"connect"};      // no TCP connection
inline constexpr Reason timeout{"timeout"};      // no answer in time
inline constexpr Reason tls{"tls"};              // the TLS handshake failed
inline constexpr Reason tls_files{"tls-files"};  // a CA, certificate or key file is missing

// The upstream's refusals of a device (HTTP 403, JSON "reason").
inline constexpr Reason revoked{"revoked"};
inline constexpr Reason not_enrolled{"not-enrolled"};
inline constexpr Reason certificate_not_enrolled{"certificate-not-enrolled"};

}  // namespace cp::sync::reason
