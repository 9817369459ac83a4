// The console page: one HTML file, one script, one style sheet, all served by the
// console itself (no CDN, no inline code: the CSP forbids both). Everything from
// the server becomes text through textContent or SVG text nodes, never HTML.
#include "tools/upstream/console/console_server.hpp"

namespace cp::upstream::console::assets {

std::string_view index_html() {
    return R"html(<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>指挥中心 · Command centre</title>
<link rel="stylesheet" href="/app.css">
<script src="/residents.js" defer></script>
<script src="/app.js" defer></script>
</head>
<body>
<section id="login-view" class="view login" hidden>
  <form id="login-form" class="card login-card" autocomplete="on">
    <h1>指挥中心 <span class="en">Command centre</span></h1>
    <label>用户名 <span class="en">User name</span>
      <input id="login-user" name="username" autocomplete="username" required maxlength="64"></label>
    <label>密码 <span class="en">Password</span>
      <input id="login-pass" name="password" type="password" autocomplete="current-password" required maxlength="128"></label>
    <button id="login-submit" type="submit">登录 <span class="en">Log in</span></button>
    <p id="login-error" class="error" role="alert"></p>
  </form>
</section>

<section id="app-view" class="view" hidden>
<header class="top">
  <div class="brand">指挥中心 <span class="en">Command centre</span></div>
  <div id="who" class="who"></div>
  <div class="top-actions">
    <button id="btn-password" class="ghost">改密码 <span class="en">Password</span></button>
    <button id="btn-logout" class="ghost">退出 <span class="en">Log out</span></button>
  </div>
</header>
<nav id="nav" class="nav">
  <a href="#/statuses" data-view="statuses">状态 <span class="en">Statuses</span></a>
  <a href="#/worklist" data-view="worklist">工作清单 <span class="en">Worklist</span></a>
  <a href="#/map" data-view="map">一张图 <span class="en">Map</span></a>
  <a href="#/audit" data-view="audit">审计 <span class="en">Audit</span></a>
  <a href="#/fleet" data-view="fleet">设备 <span class="en">Fleet</span></a>
  <a href="#/admin" data-view="admin">区域与账号 <span class="en">Areas &amp; accounts</span></a>
  <a href="#/residents" data-view="residents">居民 <span class="en">Residents</span></a>
  <a href="#/big" data-view="big">大屏 <span class="en">Big screen</span></a>
</nav>
<p id="flash" class="flash" role="status"></p>
<main id="main">

<section id="v-statuses" class="pane" hidden>
  <div class="toolbar">
    <label>网格 <span class="en">Grid</span> <select id="grid-filter"></select></label>
    <label>查找 <span class="en">Find</span> <input id="pass-find" type="search" maxlength="32" placeholder="通行证号或姓名 pass id or name"></label>
    <span id="publish-info" class="muted"></span>
    <button id="btn-publish" class="ghost" hidden>立即发布 <span class="en">Publish now</span></button>
  </div>
  <div class="split">
    <div class="table-wrap"><table id="passes" class="list">
      <thead><tr><th>通行证 <span class="en">Pass</span></th><th>姓名 <span class="en">Name</span></th>
      <th>网格 <span class="en">Grid</span></th><th>状态 <span class="en">Status</span></th>
      <th>原因 <span class="en">Reason</span></th><th>截止 <span class="en">Until</span></th></tr></thead>
      <tbody></tbody></table></div>
    <form id="status-form" class="card" hidden>
      <h2>修改状态 <span class="en">Change status</span></h2>
      <p id="sf-pass" class="mono"></p>
      <div class="seg">
        <label class="s-red"><input type="radio" name="status" value="red"> 红 隔离 <span class="en">Red (isolation)</span></label>
        <label class="s-yellow"><input type="radio" name="status" value="yellow"> 黄 待核实 <span class="en">Yellow (verify)</span></label>
        <label class="s-green"><input type="radio" name="status" value="green"> 绿 <span class="en">Green</span></label>
      </div>
      <label>原因 <span class="en">Reason</span>
        <select id="sf-reason">
          <option value="">—</option>
          <option value="home-isolation">居家隔离 home isolation</option>
          <option value="central-isolation">集中隔离 central isolation</option>
          <option value="close-contact">密切接触 close contact</option>
          <option value="fever-check">发热待查 fever check</option>
          <option value="travel-check">行程核查 travel check</option>
          <option value="self-report">自报异常 self-report</option>
          <option value="verified">已核实 verified</option>
        </select></label>
      <label>截止日期 <span class="en">End date</span> <input id="sf-until" type="date"></label>
      <button id="sf-save" type="submit">保存 <span class="en">Save</span></button>
      <button id="sf-cancel" type="button" class="ghost">取消 <span class="en">Cancel</span></button>
    </form>
  </div>
  <details class="card"><summary>批量导入 <span class="en">Import CSV</span></summary>
    <p class="muted">pass_id,status,reason,until (YYYY-MM-DD)</p>
    <textarea id="status-csv" rows="4"></textarea>
    <button id="btn-status-import">导入状态 <span class="en">Import statuses</span></button>
    <p class="muted">pass_id,grid,label</p>
    <textarea id="pass-csv" rows="4"></textarea>
    <button id="btn-pass-import">登记通行证 <span class="en">Register passes</span></button>
  </details>
</section>

<section id="v-residents" class="pane" hidden></section>

<section id="v-worklist" class="pane" hidden>
  <label class="inline"><input type="checkbox" id="wl-all"> 含已完成 <span class="en">include resolved</span></label>
  <div id="worklist" class="cards"></div>
</section>

<section id="v-map" class="pane" hidden>
  <div class="legend" id="map-legend"></div>
  <div id="map" class="map"></div>
</section>

<section id="v-audit" class="pane" hidden>
  <div class="table-wrap"><table id="audit" class="list">
    <thead><tr><th>时间 <span class="en">Time</span></th><th>操作人 <span class="en">By</span></th>
    <th>区域 <span class="en">Area</span></th><th>操作 <span class="en">Action</span></th>
    <th>对象 <span class="en">Object</span></th><th>变更 <span class="en">From → to</span></th>
    <th>原因 <span class="en">Reason</span></th></tr></thead><tbody></tbody></table></div>
</section>

<section id="v-fleet" class="pane" hidden>
  <details id="enroll-box" class="card" hidden><summary>注册设备 <span class="en">Enroll a device</span></summary>
    <form id="enroll-form">
      <label>设备证书 PEM <span class="en">Device certificate (PEM)</span> <textarea id="en-pem" rows="5" required></textarea></label>
      <label>场所 <span class="en">Site</span> <select id="en-site"></select></label>
      <button type="submit">注册 <span class="en">Enroll</span></button>
    </form>
  </details>
  <div id="fleet"></div>
</section>

<section id="v-admin" class="pane" hidden>
  <div class="grid2">
    <form id="area-form" class="card">
      <h2>新增下级区域 <span class="en">Add a sub-area</span></h2>
      <label>上级 <span class="en">Parent</span> <select id="af-parent"></select></label>
      <label>编码 <span class="en">Code</span> <input id="af-code" maxlength="32" required></label>
      <label>名称 <span class="en">Name (zh)</span> <input id="af-zh" maxlength="60" required></label>
      <label>英文名 <span class="en">Name (en)</span> <input id="af-en" maxlength="60"></label>
      <button type="submit">新增 <span class="en">Add</span></button>
    </form>
    <form id="rename-form" class="card">
      <h2>修改区域名称 <span class="en">Rename a sub-area</span></h2>
      <label>区域 <span class="en">Area</span> <select id="rf-area"></select></label>
      <label>名称 <span class="en">Name (zh)</span> <input id="rf-zh" maxlength="60" required></label>
      <label>英文名 <span class="en">Name (en)</span> <input id="rf-en" maxlength="60"></label>
      <button type="submit">保存 <span class="en">Save</span></button>
    </form>
    <form id="site-form" class="card">
      <h2>新增场所 <span class="en">Add a site</span></h2>
      <label>区域 <span class="en">Area</span> <select id="stf-area"></select></label>
      <label>编码 <span class="en">Code</span> <input id="stf-code" maxlength="32" required></label>
      <label>名称 <span class="en">Name</span> <input id="stf-name" maxlength="60" required></label>
      <label>类型 <span class="en">Kind</span> <select id="stf-kind">
        <option value="gate">小区门口 compound gate</option><option value="shop">商超 shop</option>
        <option value="road-entry">道路卡口 road entry</option><option value="rail-entry">铁路 rail entry</option>
      </select></label>
      <button type="submit">新增 <span class="en">Add</span></button>
    </form>
    <form id="op-form" class="card">
      <h2>新增账号 <span class="en">Add an account</span></h2>
      <label>用户名 <span class="en">User name</span> <input id="of-user" maxlength="64" required></label>
      <label>区域 <span class="en">Area</span> <select id="of-area"></select></label>
      <label>角色 <span class="en">Role</span> <select id="of-role">
        <option value="district">区 district</option><option value="street">街道 street</option>
        <option value="grid">网格员 grid worker</option><option value="bigscreen">大屏只读 big screen</option>
      </select></label>
      <label>初始密码 <span class="en">Initial password</span> <input id="of-pass" type="password" autocomplete="new-password" minlength="10" maxlength="128" required></label>
      <button type="submit">新增 <span class="en">Add</span></button>
    </form>
  </div>
  <div class="table-wrap"><table id="operators" class="list">
    <thead><tr><th>用户名 <span class="en">User</span></th><th>角色 <span class="en">Role</span></th>
    <th>区域 <span class="en">Area</span></th></tr></thead><tbody></tbody></table></div>
</section>

<section id="v-password" class="pane" hidden>
  <form id="pw-form" class="card narrow">
    <h2>修改密码 <span class="en">Change password</span></h2>
    <label>当前密码 <span class="en">Current</span> <input id="pw-old" type="password" autocomplete="current-password" required></label>
    <label>新密码 <span class="en">New (10+ characters)</span> <input id="pw-new" type="password" autocomplete="new-password" minlength="10" maxlength="128" required></label>
    <button type="submit">保存 <span class="en">Save</span></button>
  </form>
</section>
</main>
</section>

<section id="big-view" class="view big" hidden>
  <header class="big-head">
    <h1>疫情防控一张图 <span class="en">Situation map</span> · <span id="big-scope"></span></h1>
    <div id="big-clock" class="mono"></div>
    <a id="big-exit" href="#/statuses" class="exit">退出大屏 <span class="en">exit</span></a>
  </header>
  <div class="big-tiles" id="big-tiles"></div>
  <div class="big-grid">
    <div class="panel map-panel"><h2>区域态势 <span class="en">Areas by reds and fevers</span></h2><div id="big-map" class="map"></div></div>
    <div class="panel"><h2>每小时扫码（24小时）<span class="en">Scans per hour, 24 h</span></h2><div id="big-hours"></div>
      <h2>每日扫码（14天）<span class="en">Scans per day, 14 days</span></h2><div id="big-days"></div></div>
    <div class="panel"><h2>红码与发热（按区域）<span class="en">Reds and fevers by area</span></h2><div id="big-areas"></div></div>
    <div class="panel"><h2>离线设备 <span class="en">Offline devices</span></h2><ul id="big-offline" class="plain"></ul>
      <h2>最新告警 <span class="en">Latest alerts</span></h2><ul id="big-alerts" class="plain"></ul></div>
    <div class="panel"><h2>入城到达 / 待到（24小时，按检查站）<span class="en">Arrived / expected per entry point, 24 h</span></h2>
      <div id="big-arrivals"></div></div>
  </div>
</section>
</body>
</html>
)html";
}

std::string_view app_js() {
    return R"js('use strict';
(function () {
  const REFRESH_MS = 5000;
  const SVG = 'http://www.w3.org/2000/svg';
  let csrf = '';
  let me = null;
  let areas = [];
  let timer = null;
  let editing = null;

  const $ = (id) => document.getElementById(id);
  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function svg(tag, attrs) {
    const e = document.createElementNS(SVG, tag);
    for (const k in attrs) e.setAttribute(k, String(attrs[k]));
    return e;
  }
  function fmtTime(s) {
    if (!s) return '—';
    const d = new Date(s * 1000);
    return d.toISOString().replace('T', ' ').slice(0, 16);
  }
  function fmtDate(s) { return s ? new Date(s * 1000).toISOString().slice(0, 10) : '—'; }
  const STATUS = {red: '红 RED', yellow: '黄 YELLOW', green: '绿 GREEN'};
  const ROLE = {city: '市 city', district: '区 district', street: '街道 street', grid: '网格员 grid', bigscreen: '大屏 big screen'};
  function areaName(code) {
    const a = areas.find(x => x.code === code);
    if (!a) return code;
    const p = a.level === 'grid' ? areas.find(x => x.code === a.parent) : null;
    return (p ? p.name_zh + ' · ' : '') + a.name_zh + (a.name_en ? ' ' + a.name_en : '');
  }
  function flash(text, bad) {
    const f = $('flash');
    f.textContent = text;
    f.className = 'flash' + (bad ? ' bad' : ' ok');
  }

  async function api(method, path, body) {
    const opts = {method: method, credentials: 'same-origin', cache: 'no-store', headers: {}};
    if (method !== 'GET') {
      opts.headers['Content-Type'] = 'application/json';
      opts.headers['X-CSRF-Token'] = csrf;
      opts.body = JSON.stringify(body || {});
    }
    const r = await fetch(path, opts);
    let data = null;
    try { data = await r.json(); } catch (e) { data = {}; }
    if (r.status === 401 && path !== '/api/login') { showLogin(data.reason === 'session-expired'); throw new Error('login'); }
    if (!r.ok) {
      const err = new Error((data && (data.message || data.reason)) || ('HTTP ' + r.status));
      err.status = r.status;
      throw err;
    }
    return data;
  }

  function showLogin(expired) {
    stopRefresh();
    me = null; csrf = '';
    $('app-view').hidden = true; $('big-view').hidden = true; $('login-view').hidden = false;
    $('login-error').textContent = expired ? '会话已过期，请重新登录 Session expired, log in again' : '';
    document.body.dataset.view = 'login';
  }

  async function start() {
    try {
      const r = await api('GET', '/api/me');
      csrf = r.csrf; me = r.operator; me.auto_publish = r.auto_publish; me.publish_interval_s = r.publish_interval_s;
      me.wall = r.wall === true;  // the loopback big screen of `upstream serve --web-port`
    } catch (e) { if (e.message !== 'login') showLogin(false); return; }
    $('login-view').hidden = true;
    $('who').textContent = me.username + ' · ' + (ROLE[me.role] || me.role) + ' · ' + (me.area_zh || me.area);
    $('btn-publish').hidden = me.role !== 'city';
    for (const a of document.querySelectorAll('#nav a')) {
      const v = a.dataset.view;
      a.hidden = (v === 'admin' && (me.role === 'grid' || me.role === 'bigscreen')) ||
                 (me.role === 'bigscreen' && !['map', 'audit', 'fleet', 'big'].includes(v));
    }
    $('big-exit').hidden = me.wall;
    $('publish-info').textContent = me.auto_publish
      ? '自动发布：每 ' + me.publish_interval_s + ' 秒 Auto-publish every ' + me.publish_interval_s + ' s' : '';
    await loadAreas();
    route();
  }

  async function loadAreas() {
    const r = await api('GET', '/api/areas');
    areas = r.areas;
    const gf = $('grid-filter');
    const keep = gf.value;
    gf.replaceChildren(new Option('全部 all', ''));
    for (const a of areas) if (a.level === 'grid') gf.appendChild(new Option(a.name_zh + ' ' + a.code, a.code));
    gf.value = keep;
    for (const id of ['af-parent', 'stf-area', 'of-area', 'rf-area']) {
      const s = $(id); s.replaceChildren();
      for (const a of areas) {
        if (id === 'af-parent' && a.level === 'grid') continue;
        if (id === 'rf-area' && a.code === me.area) continue;  // renamed by the level above
        s.appendChild(new Option(a.name_zh + ' ' + a.code, a.code));
      }
    }
  }

  function stopRefresh() { if (timer) { clearInterval(timer); timer = null; } }

  const views = {statuses: renderStatuses, worklist: renderWorklist, map: renderMap, audit: renderAudit,
                 fleet: renderFleet, admin: renderAdmin, password: () => {}, big: renderBig};
  // Views from other scripts (residents.js): they get the page's helpers.
  for (const [name, make] of Object.entries(window.ccExtraViews || {}))
    views[name] = make({api, el, flash, areas: () => areas, me: () => me, areaName});
  for (const a of document.querySelectorAll('#nav a')) if (!views[a.dataset.view]) a.remove();

  function route() {
    if (!me) return;
    let v = (location.hash || '#/statuses').slice(2);
    if (!views[v]) v = 'statuses';
    if (me.wall) v = 'big';
    if (me.role === 'bigscreen' && v !== 'map' && v !== 'audit' && v !== 'fleet') v = 'big';
    document.body.dataset.view = v;
    stopRefresh();
    if (v !== (document.body.dataset.prev || v)) flash('');
    document.body.dataset.prev = v;
    const big = v === 'big';
    $('app-view').hidden = big; $('big-view').hidden = !big;
    for (const p of document.querySelectorAll('.pane')) p.hidden = p.id !== 'v-' + v;
    for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.view === v);
    const run = () => views[v]().catch(e => { if (e.message !== 'login') flash('加载失败 load failed: ' + e.message, true); });
    run();
    if (v !== 'admin' && v !== 'password') timer = setInterval(() => { if (!editing) run(); }, REFRESH_MS);
  }

  // ---- statuses ----
  async function renderStatuses() {
    const g = $('grid-filter').value;
    const r = await api('GET', '/api/passes' + (g ? '?grid=' + encodeURIComponent(g) : ''));
    const body = document.querySelector('#passes tbody');
    body.replaceChildren();
    const q = $('pass-find').value.trim().toLowerCase();
    for (const p of r.passes) {
      if (q && !p.pass_id.startsWith(q) && !p.label.toLowerCase().includes(q)) continue;
      const tr = el('tr', null, 'clickable');
      tr.dataset.pass = p.pass_id;
      tr.appendChild(el('td', p.pass_id.slice(0, 8) + '…', 'mono'));
      tr.appendChild(el('td', p.label));
      tr.appendChild(el('td', areaName(p.grid)));
      const st = el('td'); st.appendChild(el('span', STATUS[p.status], 'badge ' + p.status)); tr.appendChild(st);
      tr.appendChild(el('td', p.reason));
      tr.appendChild(el('td', p.until ? fmtDate(p.until) : ''));
      tr.addEventListener('click', () => openStatus(p));
      body.appendChild(tr);
    }
    document.body.dataset.loaded = '1';
  }
  function openStatus(p) {
    editing = p;
    const f = $('status-form');
    f.hidden = false;
    $('sf-pass').textContent = p.pass_id + ' · ' + p.label + ' · ' + areaName(p.grid);
    for (const r of f.querySelectorAll('input[name=status]')) r.checked = r.value === p.status;
    $('sf-reason').value = p.reason || '';
    $('sf-until').value = p.until ? fmtDate(p.until) : '';
    f.scrollIntoView({block: 'nearest'});
  }
  $('sf-cancel').addEventListener('click', () => { editing = null; $('status-form').hidden = true; });
  $('status-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (!editing) return;
    const checked = $('status-form').querySelector('input[name=status]:checked');
    try {
      await api('POST', '/api/passes/' + editing.pass_id + '/status',
                {status: checked ? checked.value : '', reason: $('sf-reason').value, until: $('sf-until').value});
      flash('已保存 saved: ' + editing.pass_id.slice(0, 8) + ' → ' + STATUS[checked.value]);
      editing = null; $('status-form').hidden = true;
      await renderStatuses();
    } catch (e) { if (e.message !== 'login') flash('保存失败 not saved: ' + e.message, true); }
  });
  $('grid-filter').addEventListener('change', () => renderStatuses());
  $('pass-find').addEventListener('input', () => renderStatuses());
  $('btn-publish').addEventListener('click', async () => {
    try { const r = await api('POST', '/api/publish'); flash('已发布 published version ' + r.version); }
    catch (e) { flash(e.status === 409 ? '无变化 nothing changed' : '发布失败 publish failed: ' + e.message, e.status !== 409); }
  });
  async function importCsv(path, id) {
    try { const r = await api('POST', path, {csv: $(id).value}); flash('已导入 imported ' + r.imported); $(id).value = ''; await renderStatuses(); }
    catch (e) { if (e.message !== 'login') flash('导入失败 import failed: ' + e.message, true); }
  }
  $('btn-status-import').addEventListener('click', () => importCsv('/api/statuses/import', 'status-csv'));
  $('btn-pass-import').addEventListener('click', () => importCsv('/api/passes/import', 'pass-csv'));

  // ---- worklist ----
  const KIND = {'scan-alert': '卡口告警 gate alert', 'isolation-ended': '隔离到期 isolation ended',
                'self-report': '自报异常 self-report', 'arrival': '入城人员 arrival'};
  async function renderWorklist() {
    const r = await api('GET', '/api/worklist' + ($('wl-all').checked ? '?all=1' : ''));
    const box = $('worklist');
    box.replaceChildren();
    if (r.worklist.length === 0) box.appendChild(el('p', '暂无待办 nothing to do', 'muted'));
    for (const w of r.worklist) {
      const c = el('div', null, 'card work' + (w.resolved_at ? ' done' : ''));
      c.dataset.id = w.id;
      c.appendChild(el('div', (KIND[w.kind] || w.kind) + ' · ' + areaName(w.grid), 'work-title'));
      c.appendChild(el('div', w.pass_id + ' · ' + w.detail, 'mono small'));
      c.appendChild(el('div', fmtTime(w.created_at) + (w.claimed_by ? ' · 认领 claimed: ' + w.claimed_by : ''), 'muted small'));
      if (w.kind === 'arrival') await travellerLines(c, w.pass_id);
      if (w.resolved_at) {
        c.appendChild(el('div', '结果 outcome: ' + w.outcome + (w.note ? ' · ' + w.note : ''), 'small'));
      } else if (me.role !== 'bigscreen') {
        const row = el('div', null, 'work-actions');
        if (!w.claimed_by) {
          const b = el('button', '认领 Claim', 'ghost claim');
          b.addEventListener('click', () => workAction(w.id, 'claim', {}));
          row.appendChild(b);
        }
        const sel = el('select');
        for (const [v, t] of [['verified-ok', '核实正常 verified, fine'], ['home-isolation', '居家隔离 home isolation'],
                              ['sent-to-hospital', '送医 sent to hospital'], ['not-reached', '未联系上 not reached']])
          sel.appendChild(new Option(t, v));
        const note = el('input'); note.placeholder = '备注 note'; note.maxLength = 200;
        const done = el('button', '完成 Resolve', 'resolve');
        done.addEventListener('click', () => workAction(w.id, 'resolve', {outcome: sel.value, note: note.value}));
        row.append(sel, note, done);
        c.appendChild(row);
      }
      box.appendChild(c);
    }
  }
  // The registered traveller behind an arrival item (name, phone, address) for the follow-up call.
  let travellers = null;
  async function travellerLines(card, passId) {
    if (travellers === null) {
      try { travellers = (await api('GET', '/api/travellers')).travellers; } catch (e) { travellers = []; }
      setTimeout(() => { travellers = null; }, 5000);
    }
    const t = travellers.find(x => x.pass_id === passId);
    if (!t) return;
    const d = el('div', null, 'small traveller');
    d.append(el('div', t.name + ' · ' + t.phone + (t.plate ? ' · ' + t.plate : '')),
             el('div', '来自 from ' + t.origin + ' · ' + t.address),
             el('div', '到达 arrived ' + fmtTime(t.arrived_at) + ' · ' + t.arrival_site));
    card.appendChild(d);
  }
  async function workAction(id, what, body) {
    try { await api('POST', '/api/worklist/' + id + '/' + what, body); flash('已更新 updated'); await renderWorklist(); }
    catch (e) { if (e.message !== 'login') flash('失败 failed: ' + e.message, true); }
  }
  $('wl-all').addEventListener('change', () => renderWorklist());

  // ---- map: a treemap of the area tree the page draws itself ----
  function tree(list) {
    const byCode = new Map(list.map(a => [a.code, Object.assign({children: []}, a)]));
    let roots = [];
    for (const a of byCode.values()) {
      const p = byCode.get(a.parent);
      if (p) p.children.push(a); else roots.push(a);
    }
    const weigh = (n) => { n.w = n.children.length ? n.children.reduce((s, c) => s + weigh(c), 0) : Math.max(1, n.passes || 0); return n.w; };
    roots.forEach(weigh);
    return roots;
  }
  function heat(a) {
    if ((a.red || 0) > 0 || (a.fevers_24h || 0) > 0) {
      const k = Math.min(1, ((a.red || 0) + (a.fevers_24h || 0)) / Math.max(4, (a.passes || 1) * 0.2));
      return 'rgb(' + Math.round(200 + 40 * k) + ',' + Math.round(120 - 90 * k) + ',' + Math.round(110 - 80 * k) + ')';
    }
    if ((a.yellow || 0) > 0 || (a.alerts_24h || 0) > 0) return '#e0a526';
    return '#2f8f5b';
  }
  function drawTreemap(box, list, width, height) {
    box.replaceChildren();
    const s = svg('svg', {viewBox: '0 0 ' + width + ' ' + height, class: 'treemap', role: 'img'});
    s.appendChild(svg('rect', {x: 0, y: 0, width: width, height: height, fill: '#0d1620'}));
    const layout = (nodes, x, y, w, h, depth) => {
      const total = nodes.reduce((t, n) => t + n.w, 0) || 1;
      let off = 0;
      for (const n of nodes) {
        const horiz = depth % 2 === 0;
        const f = n.w / total;
        const r = horiz ? {x: x + off * w, y: y, w: w * f, h: h} : {x: x, y: y + off * h, w: w, h: h * f};
        off += f;
        const pad = depth === 0 ? 0 : 2;
        const g = svg('g', {'data-code': n.code, 'data-red': n.red || 0, 'data-level': n.level, class: 'node ' + n.level});
        const title = svg('title', {});
        title.textContent = n.name_zh + (n.name_en ? ' ' + n.name_en : '') + ' · 红 ' + (n.red || 0) + ' · 黄 ' + (n.yellow || 0) +
          ' · 发热 ' + (n.fevers_24h || 0) + ' · 通行证 ' + (n.passes || 0);
        g.appendChild(title);
        if (!n.children.length) {
          g.appendChild(svg('rect', {x: r.x + pad, y: r.y + pad, width: Math.max(0, r.w - 2 * pad), height: Math.max(0, r.h - 2 * pad),
                                     fill: heat(n), rx: 3}));
          if (r.w > 40 && r.h > 22) {
            const t = svg('text', {x: r.x + 6, y: r.y + 18, class: 'tm-label'});
            t.textContent = n.name_zh;
            g.appendChild(t);
            if (r.h > 40) {
              const t2 = svg('text', {x: r.x + 6, y: r.y + 36, class: 'tm-count'});
              t2.textContent = '红 ' + (n.red || 0) + ' · 发热 ' + (n.fevers_24h || 0);
              g.appendChild(t2);
            }
          }
          s.appendChild(g);
        } else {
          g.appendChild(svg('rect', {x: r.x + pad, y: r.y + pad, width: Math.max(0, r.w - 2 * pad), height: Math.max(0, r.h - 2 * pad),
                                     fill: 'none', stroke: depth === 0 ? 'none' : '#8fa3b8', 'stroke-width': depth === 1 ? 2 : 1}));
          s.appendChild(g);
          const head = depth === 0 ? 0 : 16;
          if (head) {
            const t = svg('text', {x: r.x + 5, y: r.y + 13, class: 'tm-head'});
            t.textContent = n.name_zh + '  红' + (n.red || 0);
            s.appendChild(t);
          }
          layout(n.children, r.x + pad + 1, r.y + pad + head, Math.max(0, r.w - 2 * pad - 2), Math.max(0, r.h - 2 * pad - head - 1), depth + 1);
        }
      }
    };
    layout(tree(list), 0, 0, width, height, 0);
    box.appendChild(s);
  }
  async function renderMap() {
    const r = await api('GET', '/api/areas');
    areas = r.areas;
    drawTreemap($('map'), areas, 1000, 560);
    const lg = $('map-legend'); lg.replaceChildren();
    for (const [c, t] of [['#2f8f5b', '正常 normal'], ['#e0a526', '黄码或告警 yellow / alerts'], ['#e24a3a', '红码或发热 red / fever']]) {
      const i = el('span', t, 'key'); const sw = el('i'); sw.style.background = c; i.prepend(sw); lg.appendChild(i);
    }
    document.body.dataset.loaded = '1';
  }

  // ---- audit ----
  const ACTION = {status: '状态 status', login: '登录 login', logout: '退出 logout', 'login-failed': '登录失败 login failed',
                  'operator-add': '新增账号 account added', password: '改密码 password', 'work-claim': '认领 claim',
                  'work-resolve': '处置 resolve', publish: '发布 publish', 'area-add': '新增区域 area added',
                  'site-add': '新增场所 site added', 'passes-import': '登记 passes', 'device-revoke': '吊销 revoke',
                  'device-enroll': '注册设备 enroll', 'device-assign': '设备分配 assign', 'area-rename': '改名 rename',
                  'areas-import': '导入区域 areas import'};
  async function renderAudit() {
    const r = await api('GET', '/api/audit');
    const body = document.querySelector('#audit tbody');
    body.replaceChildren();
    for (const e of r.audit) {
      const tr = el('tr');
      tr.dataset.object = e.object;
      tr.appendChild(el('td', fmtTime(e.at), 'mono'));
      tr.appendChild(el('td', e.actor + ' (' + e.role + ')'));
      tr.appendChild(el('td', areaName(e.area)));
      tr.appendChild(el('td', ACTION[e.action] || e.action));
      tr.appendChild(el('td', e.object.length === 32 ? e.object.slice(0, 8) + '…' : e.object, 'mono'));
      tr.appendChild(el('td', e.from || e.to ? (e.from || '—') + ' → ' + (e.to || '—') : ''));
      tr.appendChild(el('td', e.reason));
      body.appendChild(tr);
    }
  }

  // ---- fleet ----
  async function renderFleet() {
    const r = await api('GET', '/api/devices');
    $('enroll-box').hidden = me.role !== 'city';
    if (me.role === 'city' && !$('enroll-box').open) {
      const sites = await api('GET', '/api/sites');
      const s = $('en-site'); s.replaceChildren(new Option('—', ''));
      for (const x of sites.sites) s.appendChild(new Option(x.name + ' ' + x.code, x.code));
    }
    const box = $('fleet');
    box.replaceChildren();
    const bySite = new Map();
    for (const d of r.devices) {
      const k = d.site ? d.site.code : '';
      if (!bySite.has(k)) bySite.set(k, {site: d.site, devices: []});
      bySite.get(k).devices.push(d);
    }
    if (bySite.size === 0) box.appendChild(el('p', '暂无设备 no devices', 'muted'));
    for (const {site, devices} of bySite.values()) {
      const c = el('div', null, 'card');
      c.appendChild(el('h2', site ? site.name + ' · ' + areaName(site.area) : '未分配 unassigned'));
      const t = el('table', null, 'list');
      const hr = el('tr');
      for (const h of ['设备 device', '状态 state', '最后在线 last seen', '名单滞后 list lag', '待上传 backlog', '时钟偏差 skew', '传感器 sensors', '固件 firmware'])
        hr.appendChild(el('th', h));
      t.appendChild(hr);
      for (const d of devices) {
        const tr = el('tr');
        tr.appendChild(el('td', d.id, 'mono'));
        tr.appendChild(el('td', d.revoked ? '已吊销 revoked' : d.online ? '在线 online' : '离线 offline', d.revoked ? 'bad' : d.online ? 'ok' : 'warn'));
        tr.appendChild(el('td', fmtTime(d.last_seen)));
        tr.appendChild(el('td', d.list_lag === undefined ? '—' : d.list_lag, d.list_lag > 1 ? 'warn' : ''));
        tr.appendChild(el('td', d.backlog === undefined ? '—' : d.backlog, d.backlog > 100 ? 'warn' : ''));
        tr.appendChild(el('td', d.skew_ms === undefined ? '—' : (d.skew_ms / 1000).toFixed(1) + ' s', Math.abs(d.skew_ms || 0) > 300000 ? 'warn' : ''));
        const faults = d.sensors ? Object.keys(d.sensors).filter(k => d.sensors[k] !== 'ok' && d.sensors[k] !== true) : [];
        tr.appendChild(el('td', faults.length ? faults.map(k => k + ': ' + String(d.sensors[k])).join(', ') : 'ok', faults.length ? 'warn' : ''));
        tr.appendChild(el('td', d.firmware || '—'));
        if (me.role === 'city' && !d.revoked) {
          const b = el('button', '吊销 revoke', 'ghost small');
          b.addEventListener('click', async () => {
            if (!confirm('吊销 ' + d.id + '? Revoke?')) return;
            try { await api('POST', '/api/devices/' + encodeURIComponent(d.id) + '/revoke'); await renderFleet(); }
            catch (e) { flash(e.message, true); }
          });
          const td = el('td'); td.appendChild(b); tr.appendChild(td);
        }
        t.appendChild(tr);
      }
      c.appendChild(t);
      box.appendChild(c);
    }
  }

  $('enroll-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const r = await api('POST', '/api/devices/enroll', {certificate: $('en-pem').value, site: $('en-site').value});
      flash('已注册 enrolled ' + r.id); $('enroll-form').reset(); $('enroll-box').open = false; await renderFleet();
    } catch (e) { if (e.message !== 'login') flash('注册失败 enroll failed: ' + e.message, true); }
  });

  // ---- areas and accounts ----
  async function renderAdmin() {
    await loadAreas();
    const r = await api('GET', '/api/operators');
    const body = document.querySelector('#operators tbody');
    body.replaceChildren();
    for (const o of r.operators) {
      const tr = el('tr');
      tr.append(el('td', o.username, 'mono'), el('td', ROLE[o.role] || o.role), el('td', areaName(o.area)));
      body.appendChild(tr);
    }
  }
  function formSubmit(id, fn) {
    $(id).addEventListener('submit', async (ev) => {
      ev.preventDefault();
      try { await fn(); flash('已保存 saved'); $(id).reset(); await renderAdmin(); }
      catch (e) { if (e.message !== 'login') flash('失败 failed: ' + e.message, true); }
    });
  }
  formSubmit('area-form', () => api('POST', '/api/areas', {parent: $('af-parent').value, code: $('af-code').value,
                                                           name_zh: $('af-zh').value, name_en: $('af-en').value}));
  formSubmit('rename-form', () => api('POST', '/api/areas/' + encodeURIComponent($('rf-area').value),
                                       {name_zh: $('rf-zh').value, name_en: $('rf-en').value}));
  formSubmit('site-form', () => api('POST', '/api/sites', {area: $('stf-area').value, code: $('stf-code').value,
                                                           name: $('stf-name').value, kind: $('stf-kind').value}));
  formSubmit('op-form', () => api('POST', '/api/operators', {username: $('of-user').value, area: $('of-area').value,
                                                             role: $('of-role').value, password: $('of-pass').value}));
  $('pw-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      await api('POST', '/api/password', {old: $('pw-old').value, new: $('pw-new').value});
      $('pw-form').reset();
      showLogin(false);
      $('login-error').textContent = '密码已修改，请重新登录 Password changed, log in again';
    } catch (e) { if (e.message !== 'login') flash('失败 failed: ' + e.message, true); }
  });
  $('btn-password').addEventListener('click', () => { location.hash = '#/password'; });

  // ---- big screen ----
  function barChart(box, points, width, height, label) {
    box.replaceChildren();
    const s = svg('svg', {viewBox: '0 0 ' + width + ' ' + height, class: 'chart'});
    const max = Math.max(1, ...points.map(p => p.n));
    const bw = width / Math.max(1, points.length);
    points.forEach((p, i) => {
      const h = Math.round((height - 24) * p.n / max);
      const r = svg('rect', {x: i * bw + 2, y: height - 18 - h, width: Math.max(1, bw - 4), height: h, fill: '#3b82f6', rx: 2});
      const t = svg('title', {}); t.textContent = label(p) + ': ' + p.n; r.appendChild(t);
      s.appendChild(r);
      if (points.length <= 14 || i % 3 === 0) {
        const tx = svg('text', {x: i * bw + bw / 2, y: height - 4, 'text-anchor': 'middle', class: 'axis'});
        tx.textContent = label(p);
        s.appendChild(tx);
      }
    });
    box.appendChild(s);
  }
  function fill(series, start, step, count) {
    const m = new Map(series.map(p => [p.t, p.n]));
    const out = [];
    for (let i = 0; i < count; i++) { const t = start + i * step; out.push({t: t, n: m.get(t) || 0}); }
    return out;
  }
  async function renderBig() {
    const r = await api('GET', '/api/bigscreen');
    areas = r.areas;
    const now = r.server_time;
    $('big-clock').textContent = fmtTime(now) + ' UTC';
    const root = areas[0] || {};
    $('big-scope').textContent = (root.name_zh || '') + (root.name_en ? ' ' + root.name_en : '');
    const tiles = $('big-tiles'); tiles.replaceChildren();
    for (const [k, v, cls] of [['通行证 passes', root.passes || 0, ''], ['红码 red', root.red || 0, 'bad'],
                               ['黄码 yellow', root.yellow || 0, 'warn'], ['24小时告警 alerts 24 h', root.alerts_24h || 0, 'bad'],
                               ['24小时发热 fevers 24 h', root.fevers_24h || 0, 'warn'], ['待办 open work', root.open_work || 0, ''],
                               ['设备在线 devices online', r.devices_online + ' / ' + r.devices_total, ''], ['名单版本 list', r.list_version, '']]) {
      const t = el('div', null, 'tile ' + cls); t.append(el('div', k, 'label'), el('div', v, 'big-num')); tiles.appendChild(t);
    }
    drawTreemap($('big-map'), areas, 900, 620);
    const hs = fill(r.scans_per_hour, (Math.floor(now / 3600) - 23) * 3600, 3600, 24);
    barChart($('big-hours'), hs, 760, 200, p => new Date(p.t * 1000).toISOString().slice(11, 13));
    const ds = fill(r.scans_per_day, (Math.floor(now / 86400) - 13) * 86400, 86400, 14);
    barChart($('big-days'), ds, 760, 200, p => new Date(p.t * 1000).toISOString().slice(5, 10));
    // Reds and fevers per child of the scope's root.
    const kids = areas.filter(a => a.parent === root.code);
    const box = $('big-areas'); box.replaceChildren();
    const s = svg('svg', {viewBox: '0 0 760 ' + Math.max(60, kids.length * 34 + 10), class: 'chart'});
    const max = Math.max(1, ...kids.map(a => Math.max(a.red || 0, a.fevers_24h || 0)));
    kids.forEach((a, i) => {
      const y = 6 + i * 34;
      const t = svg('text', {x: 0, y: y + 20, class: 'axis-l'}); t.textContent = a.name_zh; s.appendChild(t);
      const wr = Math.round(520 * (a.red || 0) / max), wf = Math.round(520 * (a.fevers_24h || 0) / max);
      s.appendChild(svg('rect', {x: 180, y: y, width: Math.max(1, wr), height: 13, fill: '#e5484d', rx: 2}));
      s.appendChild(svg('rect', {x: 180, y: y + 15, width: Math.max(1, wf), height: 13, fill: '#f5a524', rx: 2}));
      const n = svg('text', {x: 186 + Math.max(wr, wf), y: y + 20, class: 'axis-l'});
      n.textContent = (a.red || 0) + ' / ' + (a.fevers_24h || 0); s.appendChild(n);
    });
    box.appendChild(s);
    const off = $('big-offline'); off.replaceChildren();
    if (r.offline.length === 0) off.appendChild(el('li', '全部在线 all online', 'ok'));
    for (const d of r.offline) off.appendChild(el('li', d.id + (d.site ? ' · ' + d.site.name : '') + ' · ' + fmtTime(d.last_seen), 'warn'));
    const al = $('big-alerts'); al.replaceChildren();
    for (const a of r.alerts.slice(0, 8))
      al.appendChild(el('li', fmtTime(a.time) + ' · ' + a.device_id + ' · ' + (a.reason === 'fever' ? '发热 fever ' + (a.temperature_c || '') : '红码 RED'), 'bad'));
    await renderArrivals();
    document.body.dataset.loaded = '1';
  }

  // Arrivals of registered travellers per entry point (absent when the upstream issues no traveller passes).
  async function renderArrivals() {
    const box = $('big-arrivals'); box.replaceChildren();
    let rows;
    try { rows = (await api('GET', '/api/arrivals')).arrivals; } catch (e) { return; }
    const s = svg('svg', {viewBox: '0 0 760 ' + Math.max(60, rows.length * 34 + 10), class: 'chart', id: 'arrivals-chart'});
    const max = Math.max(1, ...rows.map(a => Math.max(a.arrivals, a.expected)));
    rows.forEach((a, i) => {
      const y = 6 + i * 34;
      const t = svg('text', {x: 0, y: y + 20, class: 'axis-l'}); t.textContent = a.name || a.site || '—'; s.appendChild(t);
      const wa = Math.round(380 * a.arrivals / max), we = Math.round(380 * a.expected / max);
      s.appendChild(svg('rect', {x: 180, y: y, width: Math.max(1, wa), height: 13, fill: '#30a46c', rx: 2}));
      s.appendChild(svg('rect', {x: 180, y: y + 15, width: Math.max(1, we), height: 13, fill: '#8e8c99', rx: 2}));
      const n = svg('text', {x: 186 + Math.max(wa, we), y: y + 20, class: 'axis-l'});
      n.textContent = a.arrivals + ' 到达 / ' + a.expected + ' 待到'; s.appendChild(n);
    });
    box.appendChild(s);
  }

  // ---- login / logout ----
  $('login-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    $('login-error').textContent = '';
    try {
      const r = await api('POST', '/api/login', {username: $('login-user').value, password: $('login-pass').value});
      csrf = r.csrf;
      $('login-pass').value = '';
      await start();
    } catch (e) {
      $('login-error').textContent = e.status === 429 ? '尝试次数过多，请稍后再试 Too many attempts, try later'
                                                      : '用户名或密码错误 Wrong user name or password';
    }
  });
  $('btn-logout').addEventListener('click', async () => {
    try { await api('POST', '/api/logout'); } catch (e) { /* the session may be gone already */ }
    showLogin(false);
  });
  window.addEventListener('hashchange', route);
  start();
})();
)js";
}

std::string_view app_css() {
    return R"css(:root { --bg: #f4f6f8; --panel: #fff; --text: #16202a; --muted: #5f6b76; --line: #dde3e8;
  --red: #d93a3f; --amber: #c98500; --green: #23834f; --blue: #2563eb; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--text); font-size: 15px;
  font-family: "Noto Sans CJK SC", "Noto Sans SC", "Microsoft YaHei", sans-serif; }
[hidden] { display: none !important; }
.en { color: var(--muted); font-weight: normal; font-size: 0.82em; }
h1 { font-size: 22px; margin: 0 0 12px; } h2 { font-size: 16px; margin: 0 0 10px; }
button { font: inherit; padding: 8px 14px; border-radius: 6px; border: 1px solid var(--blue); background: var(--blue); color: #fff; cursor: pointer; min-height: 40px; }
button.ghost { background: transparent; color: var(--blue); }
button .en { color: inherit; opacity: 0.85; }
button.small { min-height: 28px; padding: 2px 8px; font-size: 13px; }
input, select, textarea { font: inherit; padding: 7px 9px; border: 1px solid var(--line); border-radius: 6px; background: #fff; max-width: 100%; }
label { display: block; margin: 8px 0; }
label input, label select { display: block; width: 100%; margin-top: 4px; }
label.inline { display: inline-block; } label.inline input { display: inline; width: auto; }
.login { display: flex; min-height: 100vh; align-items: center; justify-content: center; padding: 16px; }
.login-card { width: 100%; max-width: 380px; }
.card { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 14px 16px; margin: 12px 0; }
.error { color: var(--red); min-height: 1.2em; }
.top { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; justify-content: space-between; padding: 10px 16px; background: #132230; color: #fff; }
.top .en { color: #a9b8c6; }
.brand { font-size: 18px; font-weight: bold; }
.who { font-size: 14px; }
.top-actions button { border-color: #5c7b97; color: #dbe7f2; margin-left: 6px; min-height: 34px; padding: 4px 10px; }
.nav { display: flex; gap: 4px; overflow-x: auto; padding: 6px 10px; background: #fff; border-bottom: 1px solid var(--line); }
.nav a { white-space: nowrap; padding: 8px 10px; border-radius: 6px; color: var(--text); text-decoration: none; }
.nav a.active { background: #e7efff; color: var(--blue); font-weight: bold; }
main { padding: 6px 16px 30px; }
.flash { margin: 8px 16px 0; min-height: 1.3em; } .flash.ok { color: var(--green); } .flash.bad { color: var(--red); }
.toolbar { display: flex; flex-wrap: wrap; gap: 12px; align-items: center; }
.toolbar label { display: flex; gap: 6px; align-items: center; } .toolbar label select { display: inline; width: auto; margin: 0; }
.split { display: grid; grid-template-columns: 1fr auto; gap: 14px; align-items: start; }
#status-form { width: 360px; margin-top: 10px; }
.table-wrap { overflow-x: auto; background: var(--panel); border: 1px solid var(--line); border-radius: 10px; margin-top: 10px; }
table.list { width: 100%; border-collapse: collapse; }
table.list th, table.list td { text-align: left; padding: 8px 9px; border-bottom: 1px solid var(--line); white-space: nowrap; }
table.list th { color: var(--muted); font-weight: normal; font-size: 13px; }
tr.clickable { cursor: pointer; } tr.clickable:hover { background: #f0f5ff; }
.badge { display: inline-block; padding: 2px 8px; border-radius: 10px; color: #fff; font-size: 13px; }
.badge.red { background: var(--red); } .badge.yellow { background: var(--amber); } .badge.green { background: var(--green); }
.seg label { display: block; padding: 8px; border: 1px solid var(--line); border-radius: 6px; margin: 6px 0; }
.seg label input { display: inline; width: auto; margin: 0 6px 0 0; }
.s-red { border-left: 5px solid var(--red) !important; } .s-yellow { border-left: 5px solid var(--amber) !important; } .s-green { border-left: 5px solid var(--green) !important; }
.mono { font-family: "DejaVu Sans Mono", monospace; } .small { font-size: 13px; } .muted { color: var(--muted); }
.ok { color: var(--green); } .warn { color: var(--amber); } .bad { color: var(--red); }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(320px, 1fr)); gap: 10px; }
.work-title { font-weight: bold; margin-bottom: 4px; } .work.done { opacity: 0.6; }
.work-actions { display: flex; flex-wrap: wrap; gap: 6px; margin-top: 8px; }
.grid2 { display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr)); gap: 12px; }
.narrow { max-width: 420px; }
textarea { width: 100%; font-family: "DejaVu Sans Mono", monospace; }
.map svg { width: 100%; height: auto; display: block; border-radius: 8px; }
.legend { display: flex; gap: 14px; flex-wrap: wrap; margin: 8px 0; }
.legend .key i { display: inline-block; width: 14px; height: 14px; border-radius: 3px; margin-right: 5px; vertical-align: -2px; }
.tm-label { fill: #fff; font-size: 14px; font-weight: bold; } .tm-count { fill: #fff; font-size: 12px; }
.tm-head { fill: #cfe0f0; font-size: 12px; }
.big { background: #07111b; color: #e6edf3; min-height: 100vh; padding: 14px 20px; }
.big .en { color: #8ea2b5; }
.big-head { display: flex; justify-content: space-between; align-items: center; gap: 10px; }
.big-head h1 { font-size: 28px; margin: 0; } .big-head .exit { color: #8ea2b5; }
.big-tiles { display: grid; grid-template-columns: repeat(8, 1fr); gap: 10px; margin: 12px 0; }
.tile { background: #0f1e2c; border-radius: 8px; padding: 10px 12px; }
.tile .label { color: #8ea2b5; font-size: 14px; } .big-num { font-size: 32px; font-weight: bold; margin-top: 4px; }
.tile.bad .big-num { color: #ff6b6f; } .tile.warn .big-num { color: #f5b445; }
.big-grid { display: grid; grid-template-columns: 1.3fr 1fr; grid-template-rows: auto auto; gap: 12px; }
.big .panel { background: #0f1e2c; border-radius: 8px; padding: 10px 14px; }
.map-panel { grid-row: span 2; }
.chart { width: 100%; height: auto; display: block; margin-bottom: 8px; }
.axis { fill: #8ea2b5; font-size: 12px; } .axis-l { fill: #e6edf3; font-size: 15px; }
ul.plain { list-style: none; padding: 0; margin: 0 0 10px; } ul.plain li { padding: 3px 0; }
.big .ok { color: #4cc38a; } .big .warn { color: #f5b445; } .big .bad { color: #ff6b6f; }
@media (max-width: 760px) {
  .split { grid-template-columns: 1fr; }
  #status-form { width: auto; }
  #status-form { position: sticky; bottom: 0; box-shadow: 0 -4px 16px rgba(0,0,0,0.15); }
  table.list th:nth-child(3), table.list td:nth-child(3) { display: none; }
  .big-tiles { grid-template-columns: repeat(2, 1fr); } .big-grid { grid-template-columns: 1fr; }
  .who { width: 100%; order: 3; font-size: 13px; }
}
)css";
}

}  // namespace cp::upstream::console::assets
