// The public registration page of travellers (phone-sized, zh first with English)
// and the poster stylesheet. No CDN, no inline script or style (the console's CSP);
// every text from the server is set with textContent.
#include <string_view>

namespace cp::upstream::console::assets {

std::string_view traveller_html() {
    return R"html(<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>入城登记 · Entry registration</title>
<link rel="stylesheet" href="/r/reg.css"><script src="/r/reg.js" defer></script></head>
<body>
<header><h1>入城人员登记</h1><p class="en">Registration for travellers entering the city</p></header>
<main>
<form id="form" novalidate>
  <fieldset class="route"><legend>登记类型 <span class="en">Route</span></legend>
    <label><input type="radio" name="route" value="entry" checked> 入城人员 <span class="en">Traveller</span></label>
    <label><input type="radio" name="route" value="driver"> 货车司机 <span class="en">Truck driver</span></label>
  </fieldset>
  <label>姓名 <span class="en">Name</span><input id="name" autocomplete="name" maxlength="32" required></label>
  <label>身份证号 <span class="en">ID number</span><input id="id_number" maxlength="18" autocomplete="off" required></label>
  <label>手机号 <span class="en">Mobile phone</span><input id="phone" type="tel" inputmode="numeric" maxlength="11" required></label>
  <label>出发地 <span class="en">Travelling from</span><input id="origin" maxlength="64" required></label>
  <label>目的地网格 <span class="en">Destination grid</span><select id="grid" required></select></label>
  <label>目的地详细地址 <span class="en">Destination address</span><input id="address" maxlength="128" required></label>
  <label>交通方式 <span class="en">Transport</span><select id="transport">
    <option value="car">小客车 Car</option><option value="bus">客车 Bus</option>
    <option value="train">火车 Train</option><option value="truck">货车 Truck</option></select></label>
  <label id="plate-row" hidden>车牌号 <span class="en">Plate</span><input id="plate" maxlength="16"></label>
  <label>预计到达时间 <span class="en">Expected arrival</span><input id="arrival" type="datetime-local" required></label>
  <label>入城检查站 <span class="en">Entry point</span><select id="site"><option value="">—</option></select></label>
  <p class="note">身份证号只以加密摘要保存；个人信息28天后删除。<br><span class="en">Your ID number is stored only as
  a keyed hash; personal data is deleted after 28 days.</span></p>
  <p id="error" class="error" role="alert"></p>
  <button id="submit" type="submit">提交并生成通行证 <span class="en">Register and get the pass</span></button>
</form>
<section id="pass" hidden>
  <h2>入城通行证 <span class="en">Entry pass</span></h2>
  <div id="qr" class="qr"></div>
  <p class="label" id="p-label"></p>
  <dl><dt>类型 <span class="en">Kind</span></dt><dd id="p-kind"></dd>
      <dt>车牌 <span class="en">Plate</span></dt><dd id="p-plate"></dd>
      <dt>预计到达 <span class="en">Arrival</span></dt><dd id="p-arrival"></dd>
      <dt>有效期至 <span class="en">Valid until</span></dt><dd id="p-expires"></dd>
      <dt>状态 <span class="en">Status</span></dt><dd id="p-status"></dd></dl>
  <p id="p-sms" class="note"></p>
  <p class="note">请在检查站出示此二维码，调亮屏幕。<br><span class="en">Show this QR at the checkpoint with the screen
  bright. Keep this page: its address is your pass.</span></p>
</section>
</main></body></html>
)html";
}

std::string_view traveller_js() {
    return R"js('use strict';
(function () {
  const $ = (id) => document.getElementById(id);
  const REASONS = {
    name: '姓名 Name', id_number: '身份证号 ID number', phone: '手机号 Mobile phone', origin: '出发地 Origin',
    address: '详细地址 Address', grid: '目的地网格 Destination grid', transport: '交通方式 Transport',
    plate: '车牌号 Plate', expected_arrival: '预计到达时间 Expected arrival', site: '入城检查站 Entry point',
    route: '登记类型 Route'
  };
  const fmt = (t) => new Date(t * 1000).toLocaleString('zh-CN', {hour12: false});
  const KINDS = {E: '入城人员 Traveller (E)', D: '货车司机 Truck driver (D)'};
  const STATUS = {registered: '已登记 Registered', arrived: '已入城 Arrived', expired: '已过期 Expired'};

  function option(sel, value, text) {
    const o = document.createElement('option');
    o.value = value;
    o.textContent = text;
    sel.appendChild(o);
  }

  function showPass(p) {
    $('form').hidden = true;
    $('pass').hidden = false;
    const box = $('qr');
    box.textContent = '';
    if (p.qr_svg) {
      const NS = 'http://www.w3.org/2000/svg', q = p.qr_svg.size + 8;
      const svg = document.createElementNS(NS, 'svg');
      svg.setAttribute('viewBox', '-4 -4 ' + q + ' ' + q);
      svg.setAttribute('shape-rendering', 'crispEdges');
      svg.setAttribute('id', 'qr-svg');
      const bg = document.createElementNS(NS, 'rect');
      bg.setAttribute('x', '-4'); bg.setAttribute('y', '-4');
      bg.setAttribute('width', String(q)); bg.setAttribute('height', String(q));
      bg.setAttribute('fill', '#fff');
      const path = document.createElementNS(NS, 'path');
      path.setAttribute('d', p.qr_svg.path);
      path.setAttribute('fill', '#000');
      svg.appendChild(bg);
      svg.appendChild(path);
      box.appendChild(svg);
    }
    $('p-label').textContent = p.label;
    $('p-kind').textContent = KINDS[p.kind] || p.kind;
    $('p-plate').textContent = p.plate || '—';
    $('p-arrival').textContent = fmt(p.expected_arrival);
    $('p-expires').textContent = fmt(p.expires_at);
    $('p-status').textContent = STATUS[p.status] || p.status;
    if ('sms_sent' in p)
      $('p-sms').textContent = p.sms_sent ? '通行证链接已发送到您的手机。 The pass link was sent to your phone.'
                                          : '短信未发送，请保存本页。 No text message was sent: keep this page.';
    if (p.token) history.replaceState(null, '', '/r/#p=' + p.token);
  }

  function fail(msg) { $('error').textContent = msg; }

  async function register(ev) {
    ev.preventDefault();
    fail('');
    const route = document.querySelector('input[name=route]:checked').value;
    const t = $('arrival').value ? Math.floor(new Date($('arrival').value).getTime() / 1000) : 0;
    const body = {route: route, name: $('name').value, id_number: $('id_number').value.toUpperCase(),
                  phone: $('phone').value, origin: $('origin').value, address: $('address').value,
                  grid: $('grid').value, transport: route === 'driver' ? 'truck' : $('transport').value,
                  expected_arrival: t, site: $('site').value};
    if (route === 'driver') body.plate = $('plate').value;
    $('submit').disabled = true;
    try {
      const r = await fetch('/r/api/register', {method: 'POST', headers: {'Content-Type': 'application/json'},
                                                body: JSON.stringify(body), credentials: 'omit'});
      const j = await r.json();
      if (r.ok) return showPass(j);
      if (r.status === 429) return fail('登记次数过多，请稍后再试。 Too many registrations; try again later.');
      if (j.reason === 'registration-field') return fail('请检查：' + (REASONS[j.field] || j.field) + ' Please check this field.');
      if (r.status === 404) return fail('网格或检查站不存在。 Unknown grid or entry point.');
      fail('登记失败 Registration failed (' + r.status + ')');
    } catch (e) {
      fail('网络错误，请重试。 Network error; please try again.');
    } finally {
      $('submit').disabled = false;
    }
  }

  function routeChanged() {
    const driver = document.querySelector('input[name=route]:checked').value === 'driver';
    $('plate-row').hidden = !driver;
    if (driver) $('transport').value = 'truck';
    $('transport').disabled = driver;
  }

  async function start() {
    const m = /^#p=([0-9a-f]{64})$/.exec(location.hash);
    if (m) {
      const r = await fetch('/r/api/pass/' + m[1], {credentials: 'omit'});
      if (r.ok) return showPass(await r.json());
      fail('通行证不存在或已删除。 This pass does not exist or was deleted.');
    }
    const site = new URLSearchParams(location.search).get('site') || '';
    const r = await fetch('/r/api/choices', {credentials: 'omit'});
    if (r.ok) {
      const c = await r.json();
      option($('grid'), '', '— 请选择 choose —');
      for (const g of c.grids) option($('grid'), g.code, g.name_zh + (g.name_en ? ' · ' + g.name_en : ''));
      for (const s of c.sites) option($('site'), s.code, s.name);
      if (site) $('site').value = site;
    }
    const soon = new Date(Date.now() + 3600 * 1000);
    soon.setSeconds(0, 0);
    $('arrival').value = new Date(soon.getTime() - soon.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
    document.querySelectorAll('input[name=route]').forEach((x) => x.addEventListener('change', routeChanged));
    $('form').addEventListener('submit', register);
  }
  start();
})();
)js";
}

std::string_view traveller_css() {
    return R"css(*{box-sizing:border-box}
body{margin:0;font:16px/1.45 system-ui,"Noto Sans CJK SC","Microsoft YaHei",sans-serif;background:#f2f4f7;color:#1b1f24}
header{background:#b3261e;color:#fff;padding:14px 16px}
header h1{margin:0;font-size:22px}
header .en{color:#fde2e0}
main{max-width:520px;margin:0 auto;padding:12px 16px 32px}
.en{color:#5b6470;font-size:.85em}
label{display:block;margin:10px 0;font-weight:600}
input,select{display:block;width:100%;margin-top:4px;padding:10px;font-size:17px;border:1px solid #9aa3ad;border-radius:6px;background:#fff}
fieldset{border:1px solid #c6ccd3;border-radius:6px;margin:8px 0;padding:6px 10px}
fieldset label{display:inline-block;margin:4px 16px 4px 0;font-weight:400}
fieldset input{display:inline;width:auto;margin:0 6px 0 0}
button{width:100%;padding:14px;font-size:18px;border:0;border-radius:8px;background:#b3261e;color:#fff;margin-top:8px}
button .en{color:#fde2e0}
button:disabled{opacity:.6}
.error{color:#b3261e;font-weight:600;min-height:1.2em}
.note{font-size:14px;color:#3c4450}
#pass{text-align:center}
.qr{background:#fff;padding:8px;border-radius:8px;margin:8px auto;max-width:360px}
.qr svg{display:block;width:100%;height:auto}
.label{font-size:28px;font-weight:700;margin:6px 0}
dl{display:grid;grid-template-columns:auto 1fr;gap:4px 12px;text-align:left;background:#fff;padding:10px;border-radius:8px}
dt{font-weight:600}dd{margin:0}
[hidden]{display:none!important}
)css";
}

std::string_view poster_css() {
    return R"css(@page{size:A4;margin:12mm}
body{margin:0;font:16px/1.4 system-ui,"Noto Sans CJK SC",sans-serif;color:#000;background:#fff}
.poster{max-width:180mm;margin:0 auto;text-align:center}
h1{font-size:40px;margin:8mm 0 2mm;color:#b3261e}
.en{color:#333}
.site{font-size:26px;font-weight:700}
.site span{font-size:16px;font-weight:400}
.qr{width:120mm;height:120mm;display:block;margin:6mm auto}
ol{text-align:left;font-size:18px}
li{margin:3mm 0}
.url{font-family:monospace;font-size:14px;word-break:break-all}
)css";
}

}  // namespace cp::upstream::console::assets
