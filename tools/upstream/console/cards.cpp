#include "tools/upstream/console/cards.hpp"

#include "tools/upstream/console/cairo_pdf.hpp"

#include <cairo.h>

namespace cp::upstream::console {

namespace {

Status draw_card(cairo_t* cr, const Card& c, double x0, double y0, double w, double h) {
    auto m = qr_matrix(c.qr);
    if (!m) return fail(m.error());
    // Cut line.
    cairo_set_source_rgb(cr, 0.6, 0.6, 0.6);
    cairo_set_line_width(cr, 0.5);
    const double dash[] = {4.0, 3.0};
    cairo_set_dash(cr, dash, 2, 0);
    cairo_rectangle(cr, x0, y0, w, h);
    cairo_stroke(cr);
    cairo_set_dash(cr, nullptr, 0, 0);
    // The QR: as large as the card's height allows, whole modules on a white field.
    const double pad = 10.0;
    const double side = h - 2 * pad;
    pdf_qr(cr, *m, x0 + pad, y0 + pad, side);
    // The text beside it.
    const double tx = x0 + pad + side + 8.0;
    pdf_text(cr, tx, y0 + 34, 11, true, "通行证");
    pdf_text(cr, tx, y0 + 48, 8, false, "Pass");
    pdf_text(cr, tx, y0 + 84, 20, true, c.label);
    pdf_text(cr, tx, y0 + 112, 10, false, c.grid_name);
    pdf_text(cr, tx, y0 + 126, 8, false, c.grid);
    pdf_text(cr, tx, y0 + 156, 8, false, "签发 Issued");
    pdf_text(cr, tx, y0 + 170, 10, false, utc_day(c.issued_at));
    return {};
}

}  // namespace

Result<std::string> render_cards_pdf(const std::vector<Card>& cards) {
    return render_a4_pdf([&cards](cairo_t* cr) -> Status {
        const double w = kA4WidthPt / kCardColumns, h = kA4HeightPt / kCardRows;
        for (std::size_t i = 0; i < cards.size(); ++i) {
            const int slot = static_cast<int>(i % kCardsPerPage);
            if (slot == 0 && i > 0) cairo_show_page(cr);
            CP_TRY(draw_card(cr, cards[i], (slot % kCardColumns) * w, (slot / kCardColumns) * h, w, h));
        }
        return {};
    });
}

}  // namespace cp::upstream::console
