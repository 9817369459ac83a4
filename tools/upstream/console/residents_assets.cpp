// The console's residents view (/residents.js): registers itself with the console page
// (app.js takes window.ccExtraViews) and draws everything with textContent.
#include "tools/upstream/console/residents_routes.hpp"

namespace cp::upstream::console::assets {

std::string_view residents_js() {
    return R"js('use strict';
window.ccExtraViews = window.ccExtraViews || {};
window.ccExtraViews.residents = function (cc) {
  const {api, el, flash} = cc;
  const STATUS = {red: '红 RED', yellow: '黄 YELLOW', green: '绿 GREEN'};
  let grid = '';
  let built = false;
  let issuedLinks = [];
  const pane = () => document.getElementById('v-residents');

  function build() {
    const p = pane();
    p.replaceChildren();
    const bar = el('div', null, 'toolbar');
    const sel = document.createElement('select');
    sel.id = 'res-grid';
    bar.append(el('label', '网格 Grid '), sel);
    const issueAll = el('button', '全网格发证 Issue passes for the grid');
    issueAll.id = 'res-issue-all';
    const cards = el('a', '打印卡片 Print cards (PDF)', 'button ghost');
    cards.id = 'res-cards';
    const exp = el('a', '导出 Export CSV', 'button ghost');
    exp.id = 'res-export';
    bar.append(issueAll, cards, exp);
    p.append(bar);
    const links = el('div', null, 'card');
    links.id = 'res-links';
    links.hidden = true;
    p.append(links);
    const wrap = el('div', null, 'table-wrap');
    const t = document.createElement('table');
    t.id = 'residents';
    t.className = 'list';
    const head = document.createElement('tr');
    for (const h of ['姓名 Name', '电话 Phone', '地址 Address', '网格 Grid', '状态 Status', '通行证 Pass', ''])
      head.append(el('th', h));
    t.append(document.createElement('thead'), document.createElement('tbody'));
    t.tHead.append(head);
    wrap.append(t);
    p.append(wrap);
    const imp = el('div', null, 'card');
    imp.append(el('h3', '导入居民 Import residents (CSV: name,id_number,phone,address,grid)'));
    const ta = document.createElement('textarea');
    ta.id = 'res-csv';
    ta.rows = 4;
    const ib = el('button', '导入 Import');
    ib.id = 'res-import';
    imp.append(ta, ib);
    p.append(imp);
    sel.addEventListener('change', () => { grid = sel.value; render(); });
    issueAll.addEventListener('click', async () => {
      if (!grid) { flash('先选网格 choose a grid first', true); return; }
      try {
        const r = await api('POST', '/api/residents/issue', {grid});
        issuedLinks = r.issued;
        flash('已发证 issued: ' + r.issued.length);
        await render();
      } catch (e) { flash('发证失败 not issued: ' + e.message, true); }
    });
    ib.addEventListener('click', async () => {
      try {
        const r = await api('POST', '/api/residents/import', {csv: ta.value});
        ta.value = '';
        flash('已导入 imported: ' + r.imported);
        await render();
      } catch (e) { flash('导入失败 import failed: ' + e.message, true); }
    });
    built = true;
  }

  async function act(id, what) {
    if (what === 'revoke' && !confirm('作废此通行证？ Revoke this pass?')) return;
    if (what === 'reject' && !confirm('拒绝此登记？ Reject this registration?')) return;
    try {
      const r = await api('POST', '/api/residents/' + id + '/' + what, {});
      issuedLinks = r.issued || [];
      flash(what === 'revoke' ? '已作废 revoked' : what === 'reject' ? '已拒绝 rejected' : '已发证 issued');
      await render();
    } catch (e) { flash('失败 failed: ' + e.message, true); }
  }

  async function render() {
    if (!built) build();
    const sel = document.getElementById('res-grid');
    if (sel.options.length === 0) {
      for (const a of cc.areas()) if (a.level === 'grid') sel.append(new Option(a.name_zh + ' ' + a.code, a.code));
      grid = sel.value;
    }
    const q = grid ? '?grid=' + encodeURIComponent(grid) : '';
    document.getElementById('res-cards').href = '/api/residents/cards.pdf' + q;
    document.getElementById('res-export').href = '/api/residents/export' + q;
    const r = await api('GET', '/api/residents' + q);
    const body = document.querySelector('#residents tbody');
    body.replaceChildren();
    for (const x of r.residents) {
      const tr = document.createElement('tr');
      tr.append(el('td', x.name), el('td', x.phone), el('td', x.address), el('td', cc.areaName(x.grid)));
      const st = el('td', x.pending ? '待确认 pending' : x.pass_id ? (STATUS[x.status] || x.status) + (x.status_reason ? ' · ' + x.status_reason : '') : '—');
      st.className = 'st-' + x.status;
      tr.append(st, el('td', x.pass_id ? x.pass_id.slice(0, 8) + '…' : '—', 'mono'));
      const td = document.createElement('td');
      if (x.pending && cc.me().role !== 'bigscreen') {
        // Self-registered: the grid worker confirms (the pass is issued) or rejects.
        for (const [what, label] of [['confirm', '确认 Confirm'], ['reject', '拒绝 Reject']]) {
          const b = el('button', label, 'ghost');
          b.addEventListener('click', () => act(x.id, what));
          td.append(b);
        }
      } else if (r.can_issue && cc.me().role !== 'bigscreen') {
        const b = el('button', x.pass_id ? '补发 Re-issue' : '发证 Issue', 'ghost');
        b.addEventListener('click', () => act(x.id, x.pass_id ? 'reissue' : 'issue'));
        td.append(b);
        if (x.pass_id) {
          const v = el('button', '作废 Revoke', 'ghost');
          v.addEventListener('click', () => act(x.id, 'revoke'));
          const c = el('a', '卡片 Card', 'button ghost');
          c.href = '/api/residents/cards.pdf?resident=' + x.id;
          td.append(v, c);
        }
      }
      tr.append(td);
      body.append(tr);
    }
    const links = document.getElementById('res-links');
    links.replaceChildren();
    links.hidden = issuedLinks.length === 0;
    if (issuedLinks.length) {
      links.append(el('h3', '通行证链接（仅显示一次） Pass links (shown once)'));
      for (const l of issuedLinks) links.append(el('p', l.link, 'mono'));
    }
  }
  return render;
};
)js";
}

std::string_view register_html() {
    return R"html(<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>领取通行证 Get your pass</title><link rel="stylesheet" href="/pass.css"></head>
<body class="green"><main>
<header><h1>领取通行证 <span lang="en">Get your pass</span></h1>
<p class="status">已由网格登记的居民 / residents registered by their grid</p></header>
<form id="claim">
<label>身份证号 ID number <input name="id_number" autocomplete="off" maxlength="18" required></label>
<label>手机号 Phone <input name="phone" type="tel" maxlength="16" required></label>
<button type="button" id="send-code">发送验证码 Send code</button>
<label>验证码 Code <input name="code" inputmode="numeric" maxlength="6"></label>
<button type="submit">领取 Get the pass</button>
<p id="claim-result" role="status"></p>
</form>
<h2>尚未登记？自行登记 <span lang="en">Not registered yet? Enter yourself</span></h2>
<form id="enrol">
<label>姓名 Name <input name="name" maxlength="64" autocomplete="name" required></label>
<label>身份证号 ID number <input name="id_number" autocomplete="off" maxlength="18" required></label>
<label>手机号 Phone <input name="phone" type="tel" maxlength="16" required></label>
<label>住址 Address <input name="address" maxlength="200" required></label>
<label>网格 Grid <select name="grid"><option value="">按住址自动 From the address</option></select></label>
<button type="button" id="enrol-code">发送验证码 Send code</button>
<label>验证码 Code <input name="code" inputmode="numeric" maxlength="6"></label>
<button type="submit">提交登记 Submit</button>
<p id="enrol-result" role="status"></p>
</form></main><script src="/register.js"></script></body></html>
)html";
}

std::string_view register_js() {
    return R"js('use strict';
(function () {
  const form = document.getElementById('claim');
  const out = document.getElementById('claim-result');
  const fields = () => ({ id_number: form.elements.id_number.value.trim().toUpperCase(),
                          phone: form.elements.phone.value.trim() });
  function post(path, body) {
    return fetch(path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) })
      .then((r) => r.json().then((j) => ({ ok: r.ok, j })));
  }
  document.getElementById('send-code').addEventListener('click', () => {
    post('/r/code', fields()).then(({ ok, j }) => {
      out.textContent = ok ? '如已登记，验证码已发送 / if registered, a code was sent'
                           : '未发送 / not sent (' + (j.reason || 'error') + ')';
    }).catch(() => { out.textContent = '网络错误 / network error'; });
  });
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const body = fields();
    body.code = form.elements.code.value.trim();
    post('/r/pass', body).then(({ ok, j }) => {
      if (ok && /^\/p\/[0-9a-f]{64}$/.test(j.link)) { location.href = j.link; return; }
      out.textContent = '验证码错误或已过期 / wrong or expired code';
    }).catch(() => { out.textContent = '网络错误 / network error'; });
  });

  // Self-registration: the grid worker confirms, then the pass link comes by text message.
  const enrol = document.getElementById('enrol');
  const said = document.getElementById('enrol-result');
  const grid = enrol.elements.grid;
  const gridName = {};
  fetch('/r/grids').then((r) => r.json()).then((j) => {
    for (const g of j.grids || []) {
      const o = document.createElement('option');
      o.value = g.code;
      o.textContent = g.name_zh + (g.name_en ? ' ' + g.name_en : '') + ' (' + g.code + ')';
      gridName[g.code] = o.textContent;
      grid.appendChild(o);
    }
  }).catch(() => { said.textContent = '网络错误 / network error'; });
  const entered = () => ({ name: enrol.elements.name.value.trim(),
                           id_number: enrol.elements.id_number.value.trim().toUpperCase(),
                           phone: enrol.elements.phone.value.trim(),
                           address: enrol.elements.address.value.trim(), grid: grid.value });
  document.getElementById('enrol-code').addEventListener('click', () => {
    post('/r/enrol/code', entered()).then(({ ok, j }) => {
      if (ok && j.from_address) {
        grid.value = j.grid;  // the registration waits in that grid: the code's answer needs it no more
        said.textContent = '验证码已发送；住址属于 / a code was sent; your address is in: ' + (gridName[j.grid] || j.grid);
      } else if (ok) {
        said.textContent = '验证码已发送 / a code was sent';
      } else if (j.reason === 'address-unmatched') {
        said.textContent = '未找到该住址，请选择网格 / address not found: choose your grid';
        grid.focus();
      } else {
        said.textContent = '未发送 / not sent (' + (j.reason || 'error') + ')';
      }
    }).catch(() => { said.textContent = '网络错误 / network error'; });
  });
  enrol.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const body = entered();
    body.code = enrol.elements.code.value.trim();
    post('/r/enrol', body).then(({ ok }) => {
      said.textContent = ok ? '已提交，网格员确认后通行证链接将以短信发送 / sent: once your grid confirms, the pass link comes by text message'
                            : '验证码错误或已过期 / wrong or expired code';
    }).catch(() => { said.textContent = '网络错误 / network error'; });
  });
})();
)js";
}

}  // namespace cp::upstream::console::assets
