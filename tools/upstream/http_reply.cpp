#include "tools/upstream/http_reply.hpp"
#include "tools/upstream/reasons.hpp"

#include "src/common/time.hpp"

#include <charconv>

namespace cp::upstream {

using nlohmann::json;

namespace {
ErrorKind kind_of_status(int status) {
    if (status == 404) return ErrorKind::not_found;
    if (status == 503) return ErrorKind::unavailable;
    if (status >= 500) return ErrorKind::internal;
    if (status == 400 || status == 414 || status == 415 || status == 416 || status == 431)
        return ErrorKind::invalid_input;
    return ErrorKind::rejected;
}
}  // namespace

json error_body(const Error& e) {
    json j = {{"error", to_string(e.kind)}, {"reason", e.reason}};
    if (!e.message.empty()) j["message"] = e.message;
    return j;
}

void send_json(httplib::Response& res, int status, const json& body) {
    res.status = status;
    res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

void send_error(httplib::Response& res, int status, const Error& e, const json& extra) {
    json j = error_body(e);
    j.update(extra);
    send_json(res, status, j);
}

void send_http_status(httplib::Response& res, int status) {
    send_error(res, status, kind_of_status(status), reason::http, {{"status", status}});
}

std::optional<std::int64_t> to_i64(std::string_view s) {
    std::int64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
    return v;
}

std::string http_date(std::int64_t epoch_s) { return format_utc(epoch_s, "%a, %d %b %Y %H:%M:%S GMT"); }

}  // namespace cp::upstream
