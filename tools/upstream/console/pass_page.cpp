#include "tools/upstream/console/pass_page.hpp"
#include "tools/upstream/reasons.hpp"

#include "src/common/time.hpp"

#include <ZXing/BitMatrix.h>
#include <ZXing/MultiFormatWriter.h>

#include <cstdio>

namespace cp::upstream::console {

Result<QrMatrix> qr_matrix(const std::string& text) {
    try {
        // ECC level on ZXing's 0..8 scale: 5 is QR level Q (as `checkpoint pass issue --png`).
        ZXing::MultiFormatWriter writer(ZXing::BarcodeFormat::QRCode);
        writer.setEccLevel(5).setMargin(4);
        ZXing::BitMatrix m = writer.encode(text, 0, 0);
        QrMatrix out;
        out.size = m.width();
        out.dark.resize(static_cast<std::size_t>(out.size * out.size));
        for (int y = 0; y < out.size; ++y)
            for (int x = 0; x < out.size; ++x) out.dark[static_cast<std::size_t>(y * out.size + x)] = m.get(x, y);
        return out;
    } catch (const std::exception& e) {  // ZXing throws when the text does not fit
        return fail(ErrorKind::invalid_input, reason::qr, e.what());
    }
}

std::string utc_day(std::int64_t t) { return format_iso8601(t).substr(0, 10); }

std::string html_escape(std::string_view s) {
    std::string out;
    for (char c : s) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&#39;"; break;
            default: out += c;
        }
    }
    return out;
}

namespace {

std::string svg_of(const QrMatrix& m) {
    std::string d;
    for (int y = 0; y < m.size; ++y)
        for (int x = 0; x < m.size; ++x)
            if (m.at(x, y)) d += "M" + std::to_string(x) + " " + std::to_string(y) + "h1v1h-1z";
    const std::string n = std::to_string(m.size);
    return "<svg class=\"qr\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " + n + " " + n +
           "\" shape-rendering=\"crispEdges\" role=\"img\" aria-label=\"pass QR\"><rect width=\"" + n + "\" height=\"" +
           n + "\" fill=\"#fff\"/><path fill=\"#000\" d=\"" + d + "\"/></svg>";
}

const char* status_zh(PassStatus s) {
    switch (s) {
        case PassStatus::red: return "红码 · 居家隔离";
        case PassStatus::yellow: return "黄码 · 待核验";
        case PassStatus::green: return "绿码 · 测温后通行";
    }
    return "";
}

}  // namespace

Result<std::string> render_pass_page(const PassPage& p, std::string_view token) {
    auto m = qr_matrix(p.qr);
    if (!m) return fail(m.error());
    const PassStatus shown = p.ended ? PassStatus::red : p.status;
    const std::string cls = p.ended ? "red ended" : to_string(p.status);
    const std::string status_text =
        p.ended ? std::string("此通行证已作废 / this pass is no longer valid (") + html_escape(p.end_reason) + ")"
                : std::string(status_zh(shown)) + " / " + to_string(shown);
    std::string h;
    h += "<!doctype html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
         "<meta name=\"referrer\" content=\"no-referrer\">"
         "<title>通行证 Pass</title><link rel=\"stylesheet\" href=\"/pass.css\"></head>";
    h += "<body class=\"" + cls + "\" data-token=\"" + html_escape(token) + "\">";
    h += "<main><header><h1>通行证 <span lang=\"en\">Pass</span></h1>";
    h += "<p id=\"status\" class=\"status\">" + status_text + "</p></header>";
    h += "<div class=\"card\">" + svg_of(*m) + "</div>";
    h += "<dl><dt>姓名 Name</dt><dd id=\"label\">" + html_escape(p.label) + "</dd>";
    h += "<dt>网格 Grid</dt><dd>" + html_escape(p.grid_name) + " (" + html_escape(p.grid) + ")</dd>";
    h += "<dt>签发 Issued</dt><dd>" + utc_day(p.issued_at) + "</dd>";
    h += "<dt>有效期至 Valid until</dt><dd>" + utc_day(p.expires_at) + "</dd></dl>";
    h += "<p class=\"hint\">请调高屏幕亮度，在卡口出示二维码。Turn the brightness up and show the code at the gate.</p>";
    h += "<p id=\"offline\" class=\"hint\" hidden>离线显示 / shown offline</p>";
    if (!p.ended) {
        h += "<form id=\"check\"><h2>健康自查 Self-check</h2>"
             "<label><input type=\"checkbox\" name=\"fever\"> 发热 Fever</label>"
             "<label><input type=\"checkbox\" name=\"cough\"> 咳嗽 Cough</label>"
             "<label><input type=\"checkbox\" name=\"contact\"> 接触过病例 Contact with a case</label>"
             "<label><input type=\"checkbox\" name=\"travel\"> 14天内外出旅行 Travel in the last 14 days</label>"
             "<label>体温 Temperature (°C) <input type=\"number\" name=\"temperature_c\" min=\"30\" max=\"45\" "
             "step=\"0.1\"></label><button type=\"submit\">提交 Submit</button>"
             "<p id=\"check-result\" role=\"status\"></p></form>";
    }
    h += "</main><script src=\"/pass.js\"></script></body></html>\n";
    return h;
}

namespace assets {

std::string_view pass_css() {
    return R"css(
html,body{margin:0;background:#fff;color:#111;font:16px/1.4 "Noto Sans CJK SC","Noto Sans",sans-serif}
main{max-width:30rem;margin:0 auto;padding:0.75rem}
header{border-radius:0.5rem;padding:0.5rem 0.75rem;color:#fff}
h1{margin:0;font-size:1.3rem}
.status{margin:0.25rem 0 0;font-size:1.2rem;font-weight:bold}
body.green header{background:#0a7d32}
body.yellow header{background:#b58900;color:#111}
body.red header{background:#c62828}
.card{background:#fff;padding:0.5rem;margin:0.75rem 0}
.qr{display:block;width:100%;height:auto;image-rendering:pixelated}
dl{display:grid;grid-template-columns:auto 1fr;gap:0.25rem 0.75rem}
dt{color:#555}dd{margin:0;font-weight:bold}
.hint{color:#555;font-size:0.9rem}
form{border-top:1px solid #ccc;margin-top:1rem;padding-top:0.5rem}
form label{display:block;padding:0.4rem 0;font-size:1.05rem}
form input[type=checkbox]{width:1.3rem;height:1.3rem;vertical-align:middle}
button{font-size:1.1rem;padding:0.6rem 1.2rem;margin-top:0.5rem}
)css";
}

std::string_view pass_js() {
    return R"js('use strict';
(function () {
  const token = document.body.dataset.token;
  const names = { red: '红码 · 居家隔离 / red', yellow: '黄码 · 待核验 / yellow', green: '绿码 · 测温后通行 / green' };
  if ('serviceWorker' in navigator) navigator.serviceWorker.register('/pass-sw.js').catch(() => {});
  function show(s) {
    const ended = !!s.ended;
    const cls = ended ? 'red' : s.status;
    document.body.className = cls + (ended ? ' ended' : '');
    document.getElementById('status').textContent =
      ended ? '此通行证已作废 / this pass is no longer valid (' + s.end_reason + ')' : (names[cls] || cls);
  }
  function refresh() {
    fetch('/p/' + token + '/status', { cache: 'no-store' })
      .then((r) => (r.ok ? r.json() : Promise.reject(r.status)))
      .then((s) => { document.getElementById('offline').hidden = true; show(s); })
      .catch(() => { document.getElementById('offline').hidden = navigator.onLine; });
  }
  refresh();
  setInterval(refresh, 60000);
  const form = document.getElementById('check');
  if (form) form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const f = form.elements;
    const body = { fever: f.fever.checked, cough: f.cough.checked, contact: f.contact.checked,
                   travel: f.travel.checked };
    if (f.temperature_c.value !== '') body.temperature_c = Number(f.temperature_c.value);
    const out = document.getElementById('check-result');
    fetch('/p/' + token + '/check', { method: 'POST', headers: { 'Content-Type': 'application/json' },
                                      body: JSON.stringify(body) })
      .then((r) => r.json().then((j) => ({ ok: r.ok, j })))
      .then(({ ok, j }) => {
        out.textContent = !ok ? '未提交 / not sent (' + (j.reason || 'error') + ')'
          : j.abnormal ? '已提交，网格员将上门核查 / sent: your grid worker will visit'
          : '已提交，谢谢 / sent, thank you';
      })
      .catch(() => { out.textContent = '离线，未提交 / offline, not sent'; });
  });
})();
)js";
}

std::string_view pass_sw_js() {
    return R"js('use strict';
// The pass page and its assets from the network when online (and cached), from the
// cache when offline. Nothing else is cached.
const CACHE = 'pass-v1';
self.addEventListener('install', (e) => { self.skipWaiting(); });
self.addEventListener('activate', (e) => { e.waitUntil(self.clients.claim()); });
self.addEventListener('fetch', (e) => {
  const url = new URL(e.request.url);
  const page = /^\/p\/[0-9a-f]{64}(\/status)?$/.test(url.pathname);
  const asset = url.pathname === '/pass.js' || url.pathname === '/pass.css';
  if (e.request.method !== 'GET' || url.origin !== self.location.origin || !(page || asset)) return;
  e.respondWith(fetch(e.request).then((res) => {
    if (res.ok) { const copy = res.clone(); caches.open(CACHE).then((c) => c.put(e.request, copy)); }
    return res;
  }).catch(() => caches.match(e.request).then((hit) => hit || Response.error())));
});
)js";
}

}  // namespace assets

}  // namespace cp::upstream::console
