// The sync client's error reasons (ErrorKind and meaning in https_client.hpp,
// sync_client.hpp and sync_worker.hpp). A refused request's reason is "http-<status>"
// (kHttpReasonPrefix below; http_status() in sync_client.hpp reads it back).
#pragma once

#include "src/common/result.hpp"

#include <string_view>

namespace cp::sync::reason {
inline constexpr Reason aborted{"aborted"};
inline constexpr Reason connect{"connect"};
inline constexpr Reason curl{"curl"};
inline constexpr Reason download_size{"download-size"};
inline constexpr Reason network{"network"};
inline constexpr Reason response{"response"};
inline constexpr Reason signature{"signature"};
inline constexpr Reason sync_fault{"sync-fault"};
inline constexpr Reason thread{"thread"};
inline constexpr Reason timeout{"timeout"};
inline constexpr Reason tls{"tls"};
inline constexpr Reason tls_files{"tls-files"};
inline constexpr Reason too_large{"too-large"};
inline constexpr Reason trust_dir{"trust-dir"};
inline constexpr Reason trust_format{"trust-format"};
inline constexpr Reason trust_version{"trust-version"};
inline constexpr Reason trust_write{"trust-write"};
inline constexpr Reason unknown_key{"unknown-key"};
inline constexpr Reason url{"url"};
inline constexpr Reason url_path{"url-path"};
inline constexpr Reason zlib{"zlib"};
// The upstream's words for a refused device certificate (403 bodies, read by the
// sync client and by `checkpoint diag`).
inline constexpr Reason revoked{"revoked"};
inline constexpr Reason not_enrolled{"not-enrolled"};
inline constexpr Reason certificate_not_enrolled{"certificate-not-enrolled"};
}  // namespace cp::sync::reason

namespace cp::sync {
// A request the server refused carries [rejected] "http-<status>" (e.g. "http-403");
// http_status() in sync_client.hpp reads the status back.
inline constexpr std::string_view kHttpReasonPrefix = "http-";
}  // namespace cp::sync
