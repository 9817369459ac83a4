// QR codes as SVG paths (the registration page draws them; the posters embed them)
// and the printable QR poster of an entry point.
#include "tools/upstream/console/posters.hpp"
#include "tools/upstream/console/pass_page.hpp"  // html_escape
#include "tools/upstream/reasons.hpp"

#include <ZXing/BitMatrix.h>
#include <ZXing/MultiFormatWriter.h>

namespace cp::upstream::console {

Result<QrSvg> qr_svg(const std::string& text) {
    ZXing::BitMatrix bits;
    try {
        bits = ZXing::MultiFormatWriter(ZXing::BarcodeFormat::QRCode).setMargin(0).encode(text, 0, 0);
    } catch (const std::exception& e) {
        return fail(ErrorKind::invalid_input, reason::qr, e.what());
    }
    QrSvg out;
    out.size = bits.width();
    // One sub-path per horizontal run of dark modules.
    for (int y = 0; y < bits.height(); ++y) {
        for (int x = 0; x < bits.width();) {
            if (!bits.get(x, y)) {
                ++x;
                continue;
            }
            int run = 1;
            while (x + run < bits.width() && bits.get(x + run, y)) ++run;
            out.path += "M" + std::to_string(x) + " " + std::to_string(y) + "h" + std::to_string(run) + "v1h-" +
                        std::to_string(run) + "z";
            x += run;
        }
    }
    return out;
}

Result<std::string> poster_html(const Site& site, const std::string& registration_url) {
    auto qr = qr_svg(registration_url);
    if (!qr) return fail(qr.error());
    const int q = qr->size + 8;  // 4 modules of quiet zone on each side
    std::string h;
    h += "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
         "<title>入城登记 " + html_escape(site.name) + "</title>"
         "<link rel=\"stylesheet\" href=\"/r/poster.css\"></head><body><main class=\"poster\">"
         "<h1>入城人员登记</h1><p class=\"en\">Registration for travellers entering the city</p>"
         "<p class=\"site\">" + html_escape(site.name) + " <span>(" + html_escape(site.code) + ")</span></p>"
         "<svg class=\"qr\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"-4 -4 " + std::to_string(q) + " " +
         std::to_string(q) + "\" shape-rendering=\"crispEdges\"><rect x=\"-4\" y=\"-4\" width=\"" + std::to_string(q) +
         "\" height=\"" + std::to_string(q) + "\" fill=\"#fff\"/><path fill=\"#000\" d=\"" + qr->path + "\"/></svg>"
         "<ol>";
    for (const auto& step : kPosterSteps)
        h += std::string("<li>") + step.zh + "<br><span class=\"en\">" + step.en + "</span></li>";
    h += "</ol>"
         "<p class=\"url\">" + html_escape(registration_url) + "</p></main></body></html>";
    return h;
}

}  // namespace cp::upstream::console
