// Printable QR posters of entry points: the registration URL of the site as a QR,
// with short zh/en instructions (the console serves them at /posters/SITE; print
// from the browser, one A4 page each).
#pragma once

#include "src/common/result.hpp"
#include "tools/upstream/console/console_store.hpp"
#include "tools/upstream/console/travellers.hpp"

#include <string>
#include <string_view>

namespace cp::upstream::console {

// The poster page (HTML, no script; stylesheet /r/poster.css). Errors: invalid_input "qr".
Result<std::string> poster_html(const Site& site, const std::string& registration_url);

}  // namespace cp::upstream::console
