#include "tools/upstream/console/cards.hpp"

#include "tools/upstream/console/pass_page.hpp"

#include <cairo-pdf.h>
#include <cairo.h>

namespace cp::upstream::console {

namespace {

cairo_status_t append(void* closure, const unsigned char* data, unsigned int length) {
    static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
    return CAIRO_STATUS_SUCCESS;
}

void text_at(cairo_t* cr, double x, double y, double size, bool bold, const std::string& s) {
    cairo_select_font_face(cr, "Noto Sans CJK SC", CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
    cairo_move_to(cr, x, y);
    cairo_show_text(cr, s.c_str());
}

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
    const double mod = side / m->size;
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_rectangle(cr, x0 + pad, y0 + pad, side, side);
    cairo_fill(cr);
    cairo_set_source_rgb(cr, 0, 0, 0);
    for (int y = 0; y < m->size; ++y)
        for (int x = 0; x < m->size; ++x)
            if (m->at(x, y)) cairo_rectangle(cr, x0 + pad + x * mod, y0 + pad + y * mod, mod, mod);
    cairo_fill(cr);
    // The text beside it.
    const double tx = x0 + pad + side + 8.0;
    text_at(cr, tx, y0 + 34, 11, true, "通行证");
    text_at(cr, tx, y0 + 48, 8, false, "Pass");
    text_at(cr, tx, y0 + 84, 20, true, c.label);
    text_at(cr, tx, y0 + 112, 10, false, c.grid_name);
    text_at(cr, tx, y0 + 126, 8, false, c.grid);
    text_at(cr, tx, y0 + 156, 8, false, "签发 Issued");
    text_at(cr, tx, y0 + 170, 10, false, utc_day(c.issued_at));
    return {};
}

}  // namespace

Result<std::string> render_cards_pdf(const std::vector<Card>& cards) {
    std::string out;
    cairo_surface_t* surface = cairo_pdf_surface_create_for_stream(append, &out, kA4WidthPt, kA4HeightPt);
    cairo_t* cr = cairo_create(surface);
    const double w = kA4WidthPt / kCardColumns, h = kA4HeightPt / kCardRows;
    Status st;
    for (std::size_t i = 0; i < cards.size() && st; ++i) {
        const int slot = static_cast<int>(i % kCardsPerPage);
        if (slot == 0 && i > 0) cairo_show_page(cr);
        st = draw_card(cr, cards[i], (slot % kCardColumns) * w, (slot / kCardColumns) * h, w, h);
    }
    cairo_show_page(cr);
    const cairo_status_t cs = cairo_status(cr);
    cairo_destroy(cr);
    cairo_surface_finish(surface);
    const cairo_status_t ss = cairo_surface_status(surface);
    cairo_surface_destroy(surface);
    if (!st) return fail(st.error());
    if (cs != CAIRO_STATUS_SUCCESS || ss != CAIRO_STATUS_SUCCESS)
        return fail(ErrorKind::internal, "cairo", cairo_status_to_string(cs != CAIRO_STATUS_SUCCESS ? cs : ss));
    return out;
}

}  // namespace cp::upstream::console
