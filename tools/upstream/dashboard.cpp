#include "tools/upstream/dashboard.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace cp::upstream::dashboard {

bool is_loopback_address(const std::string& host) {
    unsigned char v4[4];
    if (inet_pton(AF_INET, host.c_str(), v4) == 1) return v4[0] == 127;
    in6_addr v6{};
    if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
    return false;
}

bool host_header_allowed(std::string_view host_header, std::string_view bound_host, int port) {
    if (port <= 0) return false;
    const std::string suffix = ":" + std::to_string(port);
    if (host_header.size() <= suffix.size() ||
        host_header.substr(host_header.size() - suffix.size()) != suffix)
        return false;
    std::string name(host_header.substr(0, host_header.size() - suffix.size()));
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (name == "localhost") return true;
    const std::string bound(bound_host);
    if (bound.find(':') != std::string::npos) return name == "[" + bound + "]";
    return name == bound;
}

// Scripts and styles are separate files so the Content-Security-Policy can forbid
// inline code. Text is set with textContent only: nothing from the server becomes HTML.
std::string_view index_html() {
    return R"html(<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>卡口指挥中心 · Checkpoint command centre</title>
<link rel="stylesheet" href="/app.css">
<script src="/app.js" defer></script>
</head>
<body>
<header>
  <h1>卡口指挥中心 <span class="en">Checkpoint command centre</span></h1>
  <div id="status" class="status">连接中… <span class="en">connecting…</span></div>
</header>
<section class="tiles">
  <div class="tile"><div class="label">名单版本 <span class="en">List version</span></div><div id="list-version" class="big">–</div></div>
  <div class="tile"><div class="label">卡口 <span class="en">Checkpoints</span></div><div id="device-count" class="big">–</div></div>
  <div class="tile"><div class="label">扫码总数 <span class="en">Scans total</span></div><div id="scans-total" class="big">–</div></div>
  <div class="tile alert"><div class="label">告警 <span class="en">Alerts</span></div><div id="alert-count" class="big">–</div></div>
</section>
<main>
<section class="panel">
  <h2>卡口状态 <span class="en">Checkpoints</span></h2>
  <table id="devices">
    <thead><tr>
      <th>设备 <span class="en">Device</span></th>
      <th>最后在线 <span class="en">Last seen</span></th>
      <th>名单版本 <span class="en">List</span></th>
      <th>待上传 <span class="en">Backlog</span></th>
      <th>时钟偏差 <span class="en">Clock skew</span></th>
      <th>状态 <span class="en">State</span></th>
    </tr></thead>
    <tbody></tbody>
  </table>
</section>
<section class="panel">
  <h2>每小时扫码 <span class="en">Scans per hour (24 h)</span></h2>
  <div id="hours" class="bars"></div>
</section>
<section class="panel wide">
  <h2>红码拒绝与发热 <span class="en">RED denials and fevers</span></h2>
  <table id="alerts">
    <thead><tr>
      <th>时间 <span class="en">Time</span></th>
      <th>设备 <span class="en">Device</span></th>
      <th>通行证 <span class="en">Pass id</span></th>
      <th>结果 <span class="en">Verdict</span></th>
      <th>原因 <span class="en">Reason</span></th>
      <th>体温 <span class="en">Temp.</span></th>
    </tr></thead>
    <tbody></tbody>
  </table>
</section>
</main>
<footer>只读页面，不含个人信息 · Read-only; no personal data is shown.</footer>
</body>
</html>
)html";
}

std::string_view app_js() {
    return R"js('use strict';
(function () {
  const POLL_MS = 3000;
  const alerts = [];
  let lastAlertId = 0;

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function fmtTime(s) {
    if (!s) return '—';
    const d = new Date(s * 1000);
    return d.toISOString().replace('T', ' ').slice(0, 19) + 'Z';
  }
  function ago(now, s) {
    if (!s) return '从未 never';
    const d = Math.max(0, now - s);
    if (d < 60) return d + ' 秒前 s ago';
    if (d < 3600) return Math.floor(d / 60) + ' 分钟前 min ago';
    return Math.floor(d / 3600) + ' 小时前 h ago';
  }
  function verdictLabel(v) {
    return ({red: '红 RED', yellow: '黄 YELLOW', green: '绿 GREEN', reject: '拒绝 REJECT'})[v] || v;
  }

  function renderDevices(data) {
    const body = document.querySelector('#devices tbody');
    body.replaceChildren();
    for (const d of data.devices) {
      const tr = el('tr');
      tr.appendChild(el('td', d.id, 'mono'));
      tr.appendChild(el('td', ago(data.server_time, d.last_seen)));
      tr.appendChild(el('td', d.list_version !== undefined ? d.list_version : '—'));
      tr.appendChild(el('td', d.backlog !== undefined ? d.backlog : '—', d.backlog > 100 ? 'warn' : ''));
      const skew = d.skew_ms !== undefined ? (Math.abs(d.skew_ms) < 50 ? '0.0' : (d.skew_ms / 1000).toFixed(1)) + ' s' : '—';
      tr.appendChild(el('td', skew, d.skew_ms !== undefined && Math.abs(d.skew_ms) > 300000 ? 'warn' : ''));
      let state = '在线 online', cls = 'ok';
      if (d.revoked) { state = '已吊销 revoked'; cls = 'bad'; }
      else if (!d.last_seen || data.server_time - d.last_seen > 600) { state = '离线 offline'; cls = 'warn'; }
      tr.appendChild(el('td', state, cls));
      body.appendChild(tr);
    }
    document.getElementById('device-count').textContent = data.devices.length;
  }

  function renderHours(data) {
    const box = document.getElementById('hours');
    box.replaceChildren();
    const max = Math.max(1, ...data.scans_per_hour.map(h => h.scans));
    if (data.scans_per_hour.length === 0) box.appendChild(el('div', '暂无数据 no scans yet', 'empty'));
    for (const h of data.scans_per_hour) {
      const row = el('div', null, 'bar-row');
      row.appendChild(el('span', new Date(h.hour * 1000).toISOString().slice(11, 16), 'bar-label mono'));
      const bar = el('span', null, 'bar');
      bar.style.width = Math.round(100 * h.scans / max) + '%';
      row.appendChild(bar);
      row.appendChild(el('span', h.scans, 'bar-value'));
      box.appendChild(row);
    }
  }

  function renderAlerts(data) {
    const fresh = data.alerts.filter(a => a.id > lastAlertId).sort((a, b) => a.id - b.id);
    for (const a of fresh) { alerts.unshift(a); lastAlertId = Math.max(lastAlertId, a.id); }
    alerts.length = Math.min(alerts.length, 100);
    const body = document.querySelector('#alerts tbody');
    body.replaceChildren();
    for (const a of alerts) {
      const tr = el('tr', null, a.verdict === 'red' ? 'row-red' : 'row-fever');
      tr.appendChild(el('td', fmtTime(a.time), 'mono'));
      tr.appendChild(el('td', a.device_id, 'mono'));
      tr.appendChild(el('td', a.pass_id || '—', 'mono small'));
      tr.appendChild(el('td', verdictLabel(a.verdict)));
      tr.appendChild(el('td', a.reason));
      tr.appendChild(el('td', a.temperature_c === null ? '—' : a.temperature_c.toFixed(1) + ' °C'));
      body.appendChild(tr);
    }
    document.getElementById('alert-count').textContent = alerts.length;
  }

  async function poll() {
    const status = document.getElementById('status');
    try {
      const r = await fetch('/api/dashboard?after=' + lastAlertId, {cache: 'no-store'});
      if (!r.ok) throw new Error('HTTP ' + r.status);
      const data = await r.json();
      document.getElementById('list-version').textContent = data.list_version;
      document.getElementById('scans-total').textContent = data.scans_total;
      renderDevices(data);
      renderHours(data);
      renderAlerts(data);
      status.textContent = '已更新 updated ' + fmtTime(data.server_time);
      status.className = 'status ok';
      document.body.dataset.loaded = '1';
    } catch (e) {
      status.textContent = '连接失败 connection lost: ' + e.message;
      status.className = 'status bad';
    }
  }
  poll();
  setInterval(poll, POLL_MS);
})();
)js";
}

std::string_view app_css() {
    return R"css(:root { --bg: #0f1720; --panel: #17212b; --text: #e6edf3; --muted: #8b98a5;
  --red: #e5484d; --amber: #f5a524; --green: #30a46c; --line: #26323d; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--text);
  font-family: "Noto Sans CJK SC", "Noto Sans SC", "Microsoft YaHei", sans-serif; font-size: 14px; }
header { display: flex; justify-content: space-between; align-items: center;
  padding: 14px 24px; border-bottom: 1px solid var(--line); }
h1 { font-size: 22px; margin: 0; }
h2 { font-size: 15px; margin: 0 0 10px; }
.en { color: var(--muted); font-weight: normal; font-size: 0.85em; }
.status { font-size: 13px; color: var(--muted); }
.status.ok { color: var(--green); } .status.bad { color: var(--red); }
.tiles { display: grid; grid-template-columns: repeat(4, 1fr); gap: 12px; padding: 16px 24px 0; }
.tile { background: var(--panel); border-radius: 8px; padding: 12px 16px; }
.tile.alert .big { color: var(--red); }
.label { color: var(--muted); font-size: 13px; }
.big { font-size: 28px; font-weight: bold; margin-top: 4px; }
main { display: grid; grid-template-columns: 3fr 2fr; gap: 12px; padding: 12px 24px; }
.panel { background: var(--panel); border-radius: 8px; padding: 12px 16px; overflow: hidden; }
.panel.wide { grid-column: 1 / 3; }
table { width: 100%; border-collapse: collapse; }
th, td { text-align: left; padding: 5px 6px; border-bottom: 1px solid var(--line); white-space: nowrap; }
th { color: var(--muted); font-weight: normal; font-size: 12px; }
.mono { font-family: "DejaVu Sans Mono", monospace; }
.small { font-size: 12px; }
.ok { color: var(--green); } .warn { color: var(--amber); } .bad { color: var(--red); }
.row-red td { color: #ffb4b6; } .row-fever td { color: #ffd89a; }
.bars { display: flex; flex-direction: column; gap: 4px; }
.bar-row { display: grid; grid-template-columns: 48px 1fr 48px; align-items: center; gap: 8px; }
.bar { display: block; height: 12px; background: #3b82f6; border-radius: 3px; min-width: 2px; }
.bar-value { text-align: right; color: var(--muted); }
.empty { color: var(--muted); }
footer { padding: 8px 24px 16px; color: var(--muted); font-size: 12px; }
)css";
}

}  // namespace cp::upstream::dashboard
