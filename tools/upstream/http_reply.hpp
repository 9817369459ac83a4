// JSON answers of the upstream's HTTP listeners (device routes and console): one
// error body for every refusal, built from the error's kind and typed reason, so
// each kind has one spelling on the wire (to_string(ErrorKind): "invalid-input",
// "not-found", ...) and each reason its Reason constant's spelling:
//     {"error": "<kind>", "reason": "<reason>"[, "message": "<detail>"]}
// Clients read "reason" (src/sync SyncClient::refused, the console page).
#pragma once

#include "src/common/result.hpp"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string_view>

namespace cp::upstream {

// The error body; the message only when it is not empty.
nlohmann::json error_body(const Error& e);
inline nlohmann::json error_body(ErrorKind kind, Reason reason) { return error_body(Error{kind, reason}); }

// Writes `body` as the answer (invalid UTF-8 in a string is replaced, not thrown).
void send_json(httplib::Response& res, int status, const nlohmann::json& body);
// The error body of `e`, with `extra` fields merged in (e.g. "index", "max_batch").
void send_error(httplib::Response& res, int status, const Error& e,
                const nlohmann::json& extra = nlohmann::json::object());
inline void send_error(httplib::Response& res, int status, ErrorKind kind, Reason reason,
                       const nlohmann::json& extra = nlohmann::json::object()) {
    send_error(res, status, Error{kind, reason}, extra);
}

// The error body for a status httplib answered itself (unknown route, bad request
// line, ...): kind from the status, reason "http", and the status as a field.
void send_http_status(httplib::Response& res, int status);

// A decimal integer, the whole string (query parameters, Content-Length).
std::optional<std::int64_t> to_i64(std::string_view s);

// RFC 7231 Date header value of `epoch_s`.
std::string http_date(std::int64_t epoch_s);

}  // namespace cp::upstream
