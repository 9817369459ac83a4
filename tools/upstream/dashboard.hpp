// The command centre's live page, embedded in the binary (no CDN, no external fonts).
// Served read-only on the loopback dashboard listener; it polls /api/dashboard.
#pragma once

#include <string_view>

namespace cp::upstream::dashboard {

std::string_view index_html();
std::string_view app_js();
std::string_view app_css();

}  // namespace cp::upstream::dashboard
