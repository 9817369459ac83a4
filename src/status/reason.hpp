// The status list's error reasons (ErrorKind and meaning in list_format.hpp, store.hpp
// and version_floor.hpp). A list refused by its signature carries the pass module's
// reason (cbor, cose, alg, unknown-key, signature).
#pragma once

#include "src/common/result.hpp"

namespace cp::status::reason {
inline constexpr Reason corrupt{"corrupt"};
inline constexpr Reason io{"io"};
inline constexpr Reason list_base{"list-base"};
inline constexpr Reason list_digest{"list-digest"};
inline constexpr Reason list_format{"list-format"};
inline constexpr Reason list_kind{"list-kind"};
inline constexpr Reason list_version{"list-version"};
inline constexpr Reason status_open{"status-open"};
inline constexpr Reason status_read{"status-read"};
inline constexpr Reason status_write{"status-write"};
inline constexpr Reason version_floor{"version-floor"};
}  // namespace cp::status::reason
