// The entry point's QR poster as a printable A4 PDF (cairo, cairo_pdf.hpp): the
// title in Chinese and English, the entry point's name and code, the registration
// URL as a large QR code, three short steps in both languages, and the URL in text.
#include "tools/upstream/console/posters.hpp"

#include "tools/upstream/console/cairo_pdf.hpp"

#include <cairo.h>

#include <algorithm>

namespace cp::upstream::console {

namespace {

std::size_t code_points(const std::string& s) {
    return static_cast<std::size_t>(
        std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

}  // namespace

Result<std::string> poster_pdf(const Site& site, const std::string& registration_url) {
    auto m = qr_matrix(registration_url);
    if (!m) return fail(m.error());
    return render_a4_pdf([&](cairo_t* cr) -> Status {
        const double mid = kA4WidthPt / 2;
        cairo_set_source_rgb(cr, 0, 0, 0);
        pdf_text_centred(cr, mid, 88, 36, true, "入城人员登记");
        pdf_text_centred(cr, mid, 116, 15, false, "Registration for travellers entering the city");
        // Long names get a smaller font so that they stay on the page.
        const std::size_t n = std::max<std::size_t>(code_points(site.name), 1);
        pdf_text_centred(cr, mid, 162, n > 18 ? 26.0 * 18 / static_cast<double>(n) : 26.0, true, site.name);
        pdf_text_centred(cr, mid, 184, 12, false, "(" + site.code + ")");
        // The QR with a quiet zone of four modules on the white page.
        const double side = 330;
        pdf_qr(cr, *m, mid - side / 2, 210, side);
        cairo_set_source_rgb(cr, 0, 0, 0);
        double y = 600;
        int number = 1;
        for (const auto& s : kPosterSteps) {
            pdf_text(cr, 60, y, 12.5, false, std::to_string(number++) + ". " + s.zh);
            pdf_text(cr, 74, y + 17, 10, false, s.en);
            y += 48;
        }
        pdf_text_centred(cr, mid, 790, 11, false, registration_url);
        return {};
    });
}

}  // namespace cp::upstream::console
