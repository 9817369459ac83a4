// Request limits of the device listener: timeouts and worker pool, which methods
// may carry a body where, and reading a body within its route's caps only after
// the device is authenticated.
#include "tools/upstream/http_reply.hpp"
#include "tools/upstream/server_parts.hpp"

#include <algorithm>
#include <utility>

namespace cp::upstream::detail {

namespace {
// Request header that carries the client's Content-Encoding past httplib, which would
// otherwise inflate gzip bodies itself without a size cap (a zip bomb would pass).
constexpr const char* kDeferredEncoding = "X-Checkpoint-Deferred-Encoding";
// A heartbeat is a few hundred bytes; its body cap, compressed or not.
constexpr std::size_t kMaxHeartbeatBytes = 64u << 10;
// A refused body of up to this many declared bytes is read and dropped before the
// refusal is sent (a lingering close): closing a socket with unread data makes the
// kernel send a reset, and a client still writing its body then sees the reset,
// not the 413 that says why. A larger one is not read: the connection is closed.
constexpr std::uint64_t kLingerBytes = 1u << 20;
}  // namespace

int http_status_of(const Error& e) {
    switch (e.kind) {
        case ErrorKind::invalid_input: return 400;
        case ErrorKind::rejected: return e.is(reason::too_large) ? 413 : 409;
        case ErrorKind::not_found: return 404;
        case ErrorKind::unavailable: return 503;
        default: return 500;
    }
}

void close_unread(httplib::Response& res) { res.set_header("Connection", "close"); }

void install_common(httplib::Server& srv, const ServerConfig& cfg,
                    std::function<std::int64_t()> now_ms) {
    const std::size_t n = std::max<std::size_t>(cfg.worker_threads, 2);
    srv.new_task_queue = [n] { return new httplib::ThreadPool(n); };
    srv.set_read_timeout(cfg.read_timeout_s, 0);
    srv.set_write_timeout(cfg.write_timeout_s, 0);
    srv.set_keep_alive_timeout(cfg.keep_alive_timeout_s);
    // httplib 0.11 applies this to a declared Content-Length only (a chunked body
    // would be read whole); read_body() caps both, after authentication.
    srv.set_payload_max_length(cfg.max_body_bytes);
    srv.set_post_routing_handler([now_ms = std::move(now_ms)](const httplib::Request&,
                                                              httplib::Response& res) {
        res.set_header("Date", http_date(now_ms() / 1000));
        res.set_header("X-Content-Type-Options", "nosniff");
    });
    srv.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
        // A handler bug must not leak details or crash the server.
        send_error(res, 500, ErrorKind::internal, reason::internal);
    });
}

void install_device_request_limits(httplib::Server& s) {
    s.set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
        // A body is read only by the two content-reader routes, after they have
        // authenticated the device; a request with a body anywhere else is
        // answered here, before httplib would read that body without a limit.
        const bool post_route =
            req.method == "POST" && (req.path == kScansPath || req.path == kHeartbeatPath);
        if (!post_route && req.method != "GET" && req.method != "HEAD") {
            send_error(res, 405, ErrorKind::rejected, reason::method);
            close_unread(res);
            return httplib::Server::HandlerResponse::Handled;
        }
        // Move Content-Encoding aside so that read_body() inflates it with a cap
        // (httplib would inflate without one). The Request object is not const.
        auto& r = const_cast<httplib::Request&>(req);
        r.headers.erase(kDeferredEncoding);
        if (r.headers.count("Content-Encoding") > 1) {
            send_error(res, 415, ErrorKind::invalid_input, reason::content_encoding);
            close_unread(res);
            return httplib::Server::HandlerResponse::Handled;
        }
        auto enc = r.headers.find("Content-Encoding");
        if (enc != r.headers.end()) {
            std::string v = enc->second;
            r.headers.erase(enc);
            r.headers.emplace(kDeferredEncoding, v);
        }
        return httplib::Server::HandlerResponse::Unhandled;
    });
}

BodyLimits scan_limits(const ServerConfig& cfg) { return {cfg.max_body_bytes, cfg.max_inflated_bytes}; }

BodyLimits heartbeat_limits(const ServerConfig& cfg) {
    return {std::min(cfg.max_body_bytes, kMaxHeartbeatBytes),
            std::min(cfg.max_inflated_bytes, kMaxHeartbeatBytes)};
}

// Nothing of the body is read before the device is known, and no more than
// `limits.max_body_bytes` are held, chunked or not.
std::optional<std::string> read_body(const httplib::Request& req, httplib::Response& res,
                                     const httplib::ContentReader& reader, const BodyLimits& limits) {
    auto refuse = [&](const Error& e) {
        send_error(res, http_status_of(e), e);
        close_unread(res);
    };
    const std::string declared = req.get_header_value("Content-Length");
    if (!declared.empty()) {
        auto n = to_i64(declared);
        if (!n || *n < 0 || static_cast<std::uint64_t>(*n) > limits.max_body_bytes) {
            if (n && *n > 0 && static_cast<std::uint64_t>(*n) <= kLingerBytes)
                reader([](const char*, std::size_t) { return true; });  // read and dropped, not held
            refuse(Error{ErrorKind::rejected, reason::too_large, "body over the limit"});
            return std::nullopt;
        }
    }
    std::string body;
    bool over = false;
    const bool complete = reader([&](const char* data, std::size_t n) {
        if (n > limits.max_body_bytes - body.size()) {
            over = true;
            return false;  // stops httplib reading the socket
        }
        body.append(data, n);
        return true;
    });
    if (over) {
        refuse(Error{ErrorKind::rejected, reason::too_large, "body over the limit"});
        return std::nullopt;
    }
    if (!complete) {
        refuse(Error{ErrorKind::invalid_input, reason::body, "incomplete request body"});
        return std::nullopt;
    }
    auto text = decode_body(body, req.get_header_value(kDeferredEncoding), limits);
    if (!text) {
        send_error(res, text.error().is(reason::content_encoding) ? 415 : http_status_of(text.error()),
                   text.error());
        return std::nullopt;
    }
    return std::move(*text);
}

}  // namespace cp::upstream::detail
