// Printable QR posters of entry points: the registration URL of the site as a QR,
// with short zh/en instructions, one A4 page each: as a PDF (/posters/SITE.pdf,
// drawn with cairo) and as an HTML page to print from the browser (/posters/SITE).
#pragma once

#include "src/common/result.hpp"
#include "tools/upstream/console/console_store.hpp"
#include "tools/upstream/console/travellers.hpp"

#include <string>
#include <string_view>

namespace cp::upstream::console {

// The steps printed on a poster, in Chinese and in English (both formats).
struct PosterStep {
    const char* zh;
    const char* en;
};
inline constexpr PosterStep kPosterSteps[] = {
    {"用手机扫码，填写姓名、身份证号、手机号、出发地和目的地址。",
     "Scan with your phone; enter your name, ID number, phone, origin and destination."},
    {"页面立即显示入城通行证二维码，并以短信发送链接。",
     "Your entry pass QR appears at once and its link is sent by text message."},
    {"在检查站出示二维码。货车司机请选择“货车司机”并填写车牌。",
     "Show the QR at the checkpoint. Truck drivers choose “truck driver” and enter the plate."},
};

// The poster page (HTML, no script; stylesheet /r/poster.css). Errors: invalid_input "qr".
Result<std::string> poster_html(const Site& site, const std::string& registration_url);

// The poster as a one-page A4 PDF. Errors: invalid_input "qr", internal "cairo".
Result<std::string> poster_pdf(const Site& site, const std::string& registration_url);

}  // namespace cp::upstream::console
