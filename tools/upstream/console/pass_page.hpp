// The resident's pass page (/p/<token>): one self-contained HTML document with the
// pass QR as inline SVG, large and on white, the status colour, and the symptom
// self-check; /pass.js keeps it current while online and registers /pass-sw.js,
// a service worker that answers from its cache when the phone is offline.
#pragma once

#include "src/common/result.hpp"
#include "tools/upstream/console/residents.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace cp::upstream::console {

// A QR code (level Q, quiet zone 4) as a square module matrix, row-major.
struct QrMatrix {
    int size = 0;
    std::vector<bool> dark;
    bool at(int x, int y) const { return dark[static_cast<std::size_t>(y * size + x)]; }
};
// Errors: invalid_input "qr" (text too long for a QR code).
Result<QrMatrix> qr_matrix(const std::string& text);

std::string html_escape(std::string_view s);
// "2026-12-02": the UTC day of a time in seconds (pages and cards).
std::string utc_day(std::int64_t t);
// Errors: qr_matrix's.
Result<std::string> render_pass_page(const PassPage& page, std::string_view token);

namespace assets {
std::string_view pass_js();
std::string_view pass_css();
std::string_view pass_sw_js();
}  // namespace assets

}  // namespace cp::upstream::console
