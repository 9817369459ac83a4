// A4 PDF documents drawn with cairo, shared by the paper pass cards (cards.cpp) and
// the entry-point posters (posters_pdf.cpp): the PDF stream into memory, text in the
// CJK font through fontconfig (fonts-noto-cjk), and QR codes as whole modules.
#pragma once

#include "src/common/result.hpp"
#include "tools/upstream/console/pass_page.hpp"  // QrMatrix


#include <functional>
#include <string>

typedef struct _cairo cairo_t;  // <cairo.h>, which only the drawing files include

namespace cp::upstream::console {

inline constexpr double kA4WidthPt = 595.28, kA4HeightPt = 841.89;

// Runs `draw` on a fresh A4 PDF surface (it calls cairo_show_page between pages; the
// last page is shown here) and returns the PDF bytes. Errors: those of `draw`,
// internal "cairo".
Result<std::string> render_a4_pdf(const std::function<Status(cairo_t*)>& draw);

// `s` with its baseline starting at (x, y).
void pdf_text(cairo_t* cr, double x, double y, double size, bool bold, const std::string& s);
// `s` centred on x, baseline at y.
void pdf_text_centred(cairo_t* cr, double x, double y, double size, bool bold, const std::string& s);
// The QR code on a white square of `side` points at (x, y), the modules filling it.
void pdf_qr(cairo_t* cr, const QrMatrix& m, double x, double y, double side);

}  // namespace cp::upstream::console
