#include "tools/upstream/console/cairo_pdf.hpp"
#include "tools/upstream/reasons.hpp"

#include <cairo.h>

#include <cairo-pdf.h>

namespace cp::upstream::console {

namespace {

cairo_status_t append(void* closure, const unsigned char* data, unsigned int length) {
    static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
    return CAIRO_STATUS_SUCCESS;
}

void select_font(cairo_t* cr, double size, bool bold) {
    cairo_select_font_face(cr, "Noto Sans CJK SC", CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
}

}  // namespace

Result<std::string> render_a4_pdf(const std::function<Status(cairo_t*)>& draw) {
    std::string out;
    cairo_surface_t* surface = cairo_pdf_surface_create_for_stream(append, &out, kA4WidthPt, kA4HeightPt);
    cairo_t* cr = cairo_create(surface);
    const Status st = draw(cr);
    cairo_show_page(cr);
    const cairo_status_t cs = cairo_status(cr);
    cairo_destroy(cr);
    cairo_surface_finish(surface);
    const cairo_status_t ss = cairo_surface_status(surface);
    cairo_surface_destroy(surface);
    if (!st) return fail(st.error());
    if (cs != CAIRO_STATUS_SUCCESS || ss != CAIRO_STATUS_SUCCESS)
        return fail(ErrorKind::internal, reason::cairo, cairo_status_to_string(cs != CAIRO_STATUS_SUCCESS ? cs : ss));
    return out;
}

void pdf_text(cairo_t* cr, double x, double y, double size, bool bold, const std::string& s) {
    select_font(cr, size, bold);
    cairo_move_to(cr, x, y);
    cairo_show_text(cr, s.c_str());
}

void pdf_text_centred(cairo_t* cr, double x, double y, double size, bool bold, const std::string& s) {
    select_font(cr, size, bold);
    cairo_text_extents_t e;
    cairo_text_extents(cr, s.c_str(), &e);
    cairo_move_to(cr, x - e.x_advance / 2, y);
    cairo_show_text(cr, s.c_str());
}

void pdf_qr(cairo_t* cr, const QrMatrix& m, double x, double y, double side) {
    const double mod = side / m.size;
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_rectangle(cr, x, y, side, side);
    cairo_fill(cr);
    cairo_set_source_rgb(cr, 0, 0, 0);
    for (int row = 0; row < m.size; ++row)
        for (int col = 0; col < m.size; ++col)
            if (m.at(col, row)) cairo_rectangle(cr, x + col * mod, y + row * mod, mod, mod);
    cairo_fill(cr);
}

}  // namespace cp::upstream::console
