// Loopback-only listeners (the console's read-only big-screen view, `upstream serve
// --web-port`): which bind addresses count as loopback, and which Host headers a
// browser on this host sends to them.
#pragma once

#include <string>
#include <string_view>

namespace cp::upstream::loopback {

// True for a numeric loopback address: IPv4 127.0.0.0/8 or IPv6 ::1 (no names:
// a name resolves to whatever DNS or /etc/hosts says).
bool is_loopback_address(const std::string& host);

// The Host header a browser sends for this listener: the bound address (IPv6 in
// brackets) or "localhost", with the bound port. Anything else is a page of
// another site that resolved its name to loopback (DNS rebinding) and is refused.
bool host_header_allowed(std::string_view host_header, std::string_view bound_host, int port);

}  // namespace cp::upstream::loopback
