// Paper pass cards for residents without a smartphone: an A4 PDF, eight cards to a
// page (two columns, four rows, cut lines), each with the pass QR, the masked name,
// the grid and the issue date. Drawn with cairo (its PDF surface, fonts through
// fontconfig: a CJK font such as fonts-noto-cjk must be installed).
#pragma once

#include "src/common/result.hpp"
#include "tools/upstream/console/cairo_pdf.hpp"
#include "tools/upstream/console/residents.hpp"

#include <string>
#include <vector>

namespace cp::upstream::console {

inline constexpr int kCardsPerPage = 8;
inline constexpr int kCardColumns = 2, kCardRows = 4;

// The PDF bytes (at least one page; an empty list gives one blank page).
// Errors: invalid_input "qr" (a QR text too long), internal "cairo".
Result<std::string> render_cards_pdf(const std::vector<Card>& cards);

}  // namespace cp::upstream::console
