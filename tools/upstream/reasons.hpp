// Every error reason the reference upstream (tools/upstream: device listener,
// stores, lists, console) produces, one constant each: the spelling in logs, in
// error bodies on the wire ({"error": kind, "reason": reason}) and in tests.
// Code that branches on a reason names the constant: err.is(reason::revoked).
#pragma once

#include "src/common/result.hpp"
#include "src/sync/reason.hpp"  // the 403 words the device reads: one spelling on both sides

namespace cp::upstream::reason {

// ---- request bodies (requests.cpp) ----------------------------------------------
inline constexpr Reason json{"json"};                      // invalid_input: not a JSON object
inline constexpr Reason json_depth{"json-depth"};          // invalid_input: nested too deep
inline constexpr Reason too_large{"too-large"};            // rejected: over a size cap (413)
inline constexpr Reason content_encoding{"content-encoding"};  // invalid_input: not identity/gzip (415)
inline constexpr Reason gzip{"gzip"};                      // invalid_input: corrupt gzip
inline constexpr Reason zlib{"zlib"};                      // internal: inflate setup failed
inline constexpr Reason scans{"scans"};                    // invalid_input: no scans array
inline constexpr Reason scan{"scan"};                      // invalid_input: one bad scan ("index")
inline constexpr Reason epoch{"epoch"};                    // invalid_input: a batch mixes journal epochs
inline constexpr Reason batch_too_large{"batch-too-large"};  // rejected: over max_batch (413)
inline constexpr Reason device_mismatch{"device-mismatch"};  // rejected: other device_id (403)
inline constexpr Reason heartbeat{"heartbeat"};            // invalid_input: bad heartbeat field
inline constexpr Reason body{"body"};                      // invalid_input: incomplete body

// ---- device listener (server*.cpp) ----------------------------------------------
inline constexpr Reason no_client_certificate{"no-client-certificate"};  // rejected (401)
inline constexpr Reason not_enrolled = sync::reason::not_enrolled;  // rejected (403): unknown CN
inline constexpr Reason revoked = sync::reason::revoked;  // rejected (403)
inline constexpr Reason certificate_not_enrolled = sync::reason::certificate_not_enrolled;  // rejected (403): other key
inline constexpr Reason range{"range"};                    // invalid_input (416): offset/length
inline constexpr Reason version{"version"};                // not_found: no such list version
inline constexpr Reason no_delta{"no-delta"};              // not_found: version 1 has no delta
inline constexpr Reason since{"since"};                    // invalid_input: bad ?since=
inline constexpr Reason trust_list{"trust-list"};          // not_found: nothing published
inline constexpr Reason method{"method"};                  // rejected (405)
inline constexpr Reason http{"http"};                      // an answer httplib made itself ("status")
inline constexpr Reason internal{"internal"};              // internal (500), no detail
inline constexpr Reason certificate{"certificate"};        // invalid_input: not a PEM certificate
inline constexpr Reason subject{"subject"};                // invalid_input: CN missing or not a device id
inline constexpr Reason openssl{"openssl"};                // internal
inline constexpr Reason tls{"tls"};                        // config: certificate, key or CA unusable
inline constexpr Reason bind{"bind"};                      // unavailable: address in use

// ---- loopback wall view (console/wall_view.cpp) --------------------------------
inline constexpr Reason web_host{"web-host"};              // config: not a numeric loopback address
inline constexpr Reason host{"host"};                      // rejected (403): foreign Host header

// ---- lists (lists.cpp) -------------------------------------------------------------
inline constexpr Reason unchanged{"unchanged"};            // rejected: no status changed since the last version
inline constexpr Reason keep_deltas{"keep-deltas"};        // invalid_input: a negative (or zero) number of deltas kept
inline constexpr Reason spool{"spool"};                    // io: the published list's spool file
inline constexpr Reason order{"order"};                    // internal: spool entries not in pass-id order (list_spool.cpp)

// ---- console (console/) ------------------------------------------------------------
inline constexpr Reason login{"login"};                    // rejected (401): no valid session
inline constexpr Reason session_expired{"session-expired"};  // rejected (401)
inline constexpr Reason credentials{"credentials"};        // rejected (401/403): wrong password
inline constexpr Reason csrf{"csrf"};                      // rejected (403): no or wrong CSRF token
inline constexpr Reason rate_limit{"rate-limit"};          // rejected (429): too many failures from an address
inline constexpr Reason locked{"locked"};                  // rejected (429): too many failures for a name
inline constexpr Reason read_only{"read-only"};            // rejected (403): big-screen role, or out of write scope
inline constexpr Reason role{"role"};                      // rejected (403) / invalid_input: role
inline constexpr Reason not_found{"not-found"};            // not_found (404): missing or outside the scope
inline constexpr Reason content_type{"content-type"};      // invalid_input (415): not application/json
inline constexpr Reason status{"status"};                  // invalid_input: not red/yellow/green
inline constexpr Reason until{"until"};                    // invalid_input: bad end date
inline constexpr Reason username{"username"};              // invalid_input
inline constexpr Reason password{"password"};              // invalid_input: too short or too long
inline constexpr Reason password_unchanged{"password-unchanged"};  // invalid_input
inline constexpr Reason device_id{"device-id"};            // invalid_input: certificate CN unusable as id
inline constexpr Reason signer{"signer"};                  // unavailable: serve without --signing-key
inline constexpr Reason sodium{"sodium"};                  // internal
inline constexpr Reason areas_json{"areas-json"};          // invalid_input: area import (JSON)
inline constexpr Reason areas_csv{"areas-csv"};            // invalid_input: area import (CSV), message names the line
inline constexpr Reason passes_csv{"passes-csv"};          // invalid_input
inline constexpr Reason statuses_csv{"statuses-csv"};      // invalid_input
inline constexpr Reason console{"console"};                // config: bad console option
inline constexpr Reason qr{"qr"};                          // invalid_input: the text does not fit a QR code (pass page, posters)
inline constexpr Reason cairo{"cairo"};                    // internal: cairo could not draw the PDF
inline constexpr Reason rate_limits{"rate-limits"};        // io: the rate-limit table is missing (migration 3)

// ---- stores (sqlite_store.cpp, console/sqlite_console_store.cpp, sqlite_util.hpp) ----
inline constexpr Reason sqlite{"sqlite"};                  // io
inline constexpr Reason sqlite_open{"sqlite-open"};        // io
inline constexpr Reason sqlite_schema{"sqlite-schema"};    // io
inline constexpr Reason sqlite_migration{"sqlite-migration"};  // io
inline constexpr Reason store{"store"};                    // invalid_input: not this store's database
inline constexpr Reason device{"device"};                  // invalid_input / not_found: device id
inline constexpr Reason issuer{"issuer"};                  // not_found: trust-list issuer
inline constexpr Reason unrevoke{"unrevoke"};              // internal: the store cannot lift a revocation
inline constexpr Reason area{"area"};                      // invalid_input / not_found
inline constexpr Reason area_exists{"area-exists"};        // rejected
inline constexpr Reason site{"site"};                      // invalid_input / not_found
inline constexpr Reason site_exists{"site-exists"};        // rejected
inline constexpr Reason pass{"pass"};                      // invalid_input / not_found
inline constexpr Reason operator_{"operator"};             // invalid_input: account fields
inline constexpr Reason operator_exists{"operator-exists"};  // rejected
inline constexpr Reason outcome{"outcome"};                // invalid_input: worklist outcome
inline constexpr Reason status_reason{"reason"};           // invalid_input: status reason code
inline constexpr Reason claimed{"claimed"};                // rejected: worklist item claimed by another
inline constexpr Reason resolved{"resolved"};              // rejected: worklist item already resolved
inline constexpr Reason work_item{"work-item"};            // not_found: no such worklist item in the scope
inline constexpr Reason scan_retention_days{"scan-retention-days"};  // config: not 0..36500

// ---- lists and signing (lists.cpp), host commands (main.cpp) -------------------------
inline constexpr Reason list_format{"list-format"};        // invalid_input
inline constexpr Reason pass_id{"pass-id"};                // invalid_input
inline constexpr Reason key{"key"};                        // invalid_input: signing key
inline constexpr Reason key_mismatch{"key-mismatch"};      // config: key and certificate differ
inline constexpr Reason envelope{"envelope"};              // invalid_input: signed document
inline constexpr Reason alg{"alg"};                        // rejected
inline constexpr Reason kid{"kid"};                        // rejected
inline constexpr Reason signature{"signature"};            // rejected
inline constexpr Reason crypto{"crypto"};                  // internal
inline constexpr Reason read{"read"};                      // io
inline constexpr Reason csv{"csv"};                        // invalid_input: `upstream import --csv`

// ---- scan reasons from devices (decision reason codes) that make an alert ------
inline constexpr Reason scan_fever{"fever"};
inline constexpr Reason scan_status_red{"status-red"};

// ---- publish --export (lists_export.cpp) ----------------------------------------
inline constexpr Reason export_files{"export"};
inline constexpr Reason export_window{"export-window"};    // invalid_input: the delta window is not 1..10000

}  // namespace cp::upstream::reason
