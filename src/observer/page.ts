/**
 * The observer page: one HTML document with its style and script inline, plain
 * DOM and canvas, no build step. It holds a fixed number of table rows and
 * rewrites their text each second, so its cost does not grow with the number of
 * processes; everything large (the table, the tree's big families) is paginated
 * or counted on the server.
 */

const STYLE = `
  :root { --fg: #1d2430; --muted: #667085; --line: #e3e6ec; --bg: #f6f7f9; --card: #fff; --accent: #2357c6; --in: #2357c6; --out: #d9730d; --danger: #c62828; }
  * { box-sizing: border-box; }
  [hidden] { display: none !important; }
  body { margin: 0; font: 13px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
  header { display: flex; align-items: center; gap: 1rem; padding: .6rem 1rem; background: #1d2430; color: #fff; }
  header h1 { font-size: 1rem; margin: 0; font-weight: 600; }
  header #node { color: #aab3c5; font-weight: 400; margin-left: .4rem; }
  header #nodes { color: #aab3c5; font-size: .85rem; }
  #conn { margin-left: auto; padding: .1rem .5rem; border-radius: 1rem; background: #555; font-size: .8rem; }
  #conn.live { background: #2e7d32; }
  #conn.down { background: var(--danger); }
  h2 { font-size: .85rem; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); margin: 1rem 0 .4rem; }
  .cards { display: grid; grid-template-columns: repeat(6, minmax(0, 1fr)); gap: .6rem; padding: .8rem 1rem 0; }
  .card { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: .5rem .7rem; }
  .card .v { font-size: 1.3rem; font-weight: 600; font-variant-numeric: tabular-nums; }
  .card .k { color: var(--muted); font-size: .8rem; }
  .charts { display: grid; grid-template-columns: 1fr 1fr; gap: .6rem; padding: .6rem 1rem 0; }
  figure { margin: 0; background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: .4rem .6rem; }
  figcaption { color: var(--muted); font-size: .8rem; }
  figcaption .in { color: var(--in); } figcaption .out { color: var(--out); }
  canvas { display: block; width: 100%; height: 120px; }
  .grid { display: grid; grid-template-columns: 15rem minmax(0, 1fr) 19rem; gap: 1rem; padding: 0 1rem 1rem; align-items: start; }
  aside, .main { min-width: 0; }
  .panel { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: .3rem .6rem .6rem; }
  ul.tree, ul.tree ul { list-style: none; margin: 0; padding-left: .9rem; }
  ul.tree { padding-left: 0; max-height: 24rem; overflow: auto; }
  .tree li { white-space: nowrap; }
  .link { color: var(--accent); cursor: pointer; background: none; border: 0; padding: 0; font: inherit; text-align: left; }
  .link:hover { text-decoration: underline; }
  .kind { color: var(--muted); font-size: .8em; margin-left: .3em; }
  .group { color: var(--out); }
  table { border-collapse: collapse; width: 100%; }
  th, td { padding: .22rem .4rem; border-bottom: 1px solid var(--line); text-align: left; white-space: nowrap; }
  td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
  #procs { table-layout: fixed; background: var(--card); }
  #procs td { overflow: hidden; text-overflow: ellipsis; }
  #procs th { cursor: pointer; user-select: none; background: #eef0f4; }
  #procs th.sorted::after { content: " \\25BE"; }
  #procs th.sorted.asc::after { content: " \\25B4"; }
  #procs tbody tr { cursor: pointer; }
  #procs tbody tr:hover { background: #f0f4ff; }
  #procs tbody tr.selected { background: #dfe8ff; }
  .bar { display: inline-block; width: 3rem; height: .5rem; background: #e7eaf0; border-radius: 2px; margin-right: .3rem; vertical-align: middle; }
  .bar i { display: block; height: 100%; background: var(--accent); border-radius: 2px; }
  .bar.hot i { background: var(--danger); }
  .filters { display: flex; gap: .4rem; align-items: center; margin-bottom: .4rem; flex-wrap: wrap; }
  .filters input { flex: 1; min-width: 10rem; padding: .3rem; }
  #scope { color: var(--out); }
  nav#pager { display: flex; gap: .6rem; align-items: center; margin-top: .4rem; }
  ol.top { margin: 0; padding-left: 1.2rem; }
  ol.top li { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
  dl { display: grid; grid-template-columns: 7.5rem minmax(0, 1fr); gap: .15rem .5rem; margin: 0; }
  dt { color: var(--muted); } dd { margin: 0; overflow-wrap: anywhere; }
  pre { background: #f3f4f7; padding: .4rem; overflow: auto; max-height: 14rem; font-size: .8rem; }
  .killbox { display: flex; gap: .4rem; margin-top: .6rem; flex-wrap: wrap; }
  button.danger { background: var(--danger); color: #fff; border: 0; border-radius: 4px; padding: .35rem .7rem; cursor: pointer; }
  button.danger:disabled { opacity: .5; cursor: default; }
  #kill-result, #error { margin-top: .4rem; color: var(--muted); }
  #error { color: var(--danger); }
  .muted { color: var(--muted); }
  #mode { padding: .1rem .5rem; border-radius: 1rem; background: #8a6d00; font-size: .8rem; }
  .cards.rt { grid-template-columns: repeat(8, minmax(0, 1fr)); }
  .charts { grid-template-columns: 1fr 1fr 1fr; }
  figcaption .heap { color: var(--in); } figcaption .rss { color: var(--out); }
  .tables h3 { font-size: .85rem; margin: .4rem 0 .2rem; }
  .tables td.members { white-space: normal; }
  ol#reports { list-style: none; margin: 0; padding: 0; max-height: 22rem; overflow: auto; }
  ol#reports li { border-bottom: 1px solid var(--line); padding: .25rem 0; }
  ol#reports li.crash .rk, ol#reports li.max_heap_size .rk { color: var(--danger); }
  ol#reports summary { cursor: pointer; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
  ol#reports pre { margin: .2rem 0 0; }
`;

// Left out of a read-only page altogether, not just hidden.
const KILLBOX = `<div class="killbox">
          <select id="reason" aria-label="exit reason"><option value="kill">kill</option><option value="shutdown">shutdown</option><option value="normal">normal</option><option value="custom">custom...</option></select>
          <input id="reason-custom" placeholder="reason" aria-label="custom reason" hidden>
          <button id="kill" class="danger" type="button">Send exit signal</button>
        </div>
        <div id="kill-result"></div>`;

const BODY = `
<header>
  <h1>beamsock observer<span id="node"></span></h1>
  <span id="nodes" hidden></span>
  <span id="mode" hidden>read-only</span>
  <span id="conn">connecting</span>
</header>
<section class="cards">
  <div class="card"><div class="v" id="s-processes">-</div><div class="k">processes</div></div>
  <div class="card"><div class="v" id="s-connections">-</div><div class="k">connections</div></div>
  <div class="card"><div class="v" id="s-in">-</div><div class="k">messages in / s</div></div>
  <div class="card"><div class="v" id="s-out">-</div><div class="k">messages out / s</div></div>
  <div class="card"><div class="v" id="s-queued">-</div><div class="k">queued messages</div></div>
  <div class="card"><div class="v" id="s-heap">-</div><div class="k">bytes held</div></div>
</section>
<section class="cards rt" id="runtime">
  <div class="card"><div class="v" id="r-heap">-</div><div class="k">JS heap used / total</div></div>
  <div class="card"><div class="v" id="r-rss">-</div><div class="k">RSS</div></div>
  <div class="card"><div class="v" id="r-external">-</div><div class="k">external / array buffers</div></div>
  <div class="card"><div class="v" id="r-delay">-</div><div class="k">event-loop delay p50 / p99</div></div>
  <div class="card"><div class="v" id="r-delay-max">-</div><div class="k">event-loop delay max</div></div>
  <div class="card"><div class="v" id="r-gc">-</div><div class="k">GCs / pause this interval</div></div>
  <div class="card"><div class="v" id="r-gc-total">-</div><div class="k">GCs / pause in all</div></div>
  <div class="card"><div class="v" id="r-uptime">-</div><div class="k">uptime</div></div>
</section>
<section class="charts">
  <figure><figcaption>connections</figcaption><canvas id="chart-conn"></canvas></figure>
  <figure><figcaption>messages / s: <span class="in">in</span>, <span class="out">out</span></figcaption><canvas id="chart-msg"></canvas></figure>
  <figure><figcaption>memory: <span class="heap">JS heap used</span>, <span class="rss">RSS</span></figcaption><canvas id="chart-mem"></canvas></figure>
</section>
<div class="grid">
  <aside>
    <h2>Supervision tree</h2>
    <div class="panel"><ul class="tree" id="tree"></ul></div>
    <h2>By kind</h2>
    <div class="panel"><table id="by-kind"></table></div>
    <h2>By status</h2>
    <div class="panel"><table id="by-status"></table></div>
    <h2>Connections by handler</h2>
    <div class="panel"><table id="by-handler"></table></div>
    <h2>Top by mailbox</h2><div class="panel"><ol class="top" id="top-mailbox"></ol></div>
    <h2>Top by messages / s</h2><div class="panel"><ol class="top" id="top-rate"></ol></div>
    <h2>Top by bytes held</h2><div class="panel"><ol class="top" id="top-heap"></ol></div>
  </aside>
  <section class="main">
    <h2>Processes <span id="total" class="muted"></span></h2>
    <div class="filters">
      <input id="filter" placeholder="filter by pid, kind, name or path" aria-label="filter" autocomplete="off">
      <select id="kind-filter" aria-label="kind"><option value="">all kinds</option></select>
      <span id="scope"></span><button id="clear-scope" class="link" type="button" hidden>show all</button>
    </div>
    <table id="procs">
      <colgroup><col style="width:8em"><col style="width:6.5em"><col><col style="width:5.5em"><col style="width:5em"><col style="width:3.5em"><col style="width:3.5em"><col style="width:8em"><col style="width:3.2em"><col style="width:5em"></colgroup>
      <thead><tr>
        <th data-sort="pid">PID</th><th data-sort="kind">kind</th><th data-sort="name">name / path</th><th data-sort="status">status</th>
        <th data-sort="mailbox" class="num">mailbox</th><th data-sort="in" class="num">in/s</th><th data-sort="out" class="num">out/s</th>
        <th data-sort="heap">held / max</th><th data-sort="links" class="num">links</th><th data-sort="monitors" class="num">monitors</th>
      </tr></thead>
      <tbody id="rows"></tbody>
    </table>
    <nav id="pager"><button id="prev" type="button">&lsaquo; prev</button><span id="pageinfo"></span><button id="next" type="button">next &rsaquo;</button></nav>
    <div id="error" role="alert"></div>
    <h2>Registries and PubSub topics <span id="tables-total" class="muted"></span></h2>
    <div class="panel tables" id="tables"></div>
    <h2>Reports <span id="reports-info" class="muted"></span></h2>
    <div class="panel"><ol id="reports"></ol></div>
  </section>
  <aside>
    <h2>Details</h2>
    <div class="panel" id="details">
      <p class="muted" id="d-empty">Click a process to see its details.</p>
      <div id="d-body" hidden>
        <h3 id="d-pid"></h3>
        <dl id="d-list"></dl>
        <div id="d-children"></div>
        <div id="d-alive">
          <h2>reported by its kind</h2>
          <pre id="d-extra"></pre>
        </div>
        KILLBOX
      </div>
    </div>
  </aside>
</div>
`;

// Plain JavaScript for the browser. It lives inside a template literal: no
// backticks, no dollar-brace, no backslashes.
const SCRIPT = `
const $ = (id) => document.getElementById(id);
const HISTORY = 120;
const SIZE = 50;
const NUMERIC = ['mailbox', 'rate', 'in', 'out', 'heap', 'links', 'monitors'];
const MAX_REPORTS = 200;
let ws = null, retry = 0, history = [], selected = null, lastTree = '', lastKinds = '', lastTables = '';
let handlerFilter = '';
let query = { page: 0, size: SIZE, sort: 'pid', dir: 'asc' };
let scope = null;

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}
function num(n) { return Number(n).toLocaleString('en-US'); }
function bytes(n) {
  if (n < 1024) return n + ' B';
  if (n < 1048576) return (n / 1024).toFixed(1) + ' kB';
  return (n / 1048576).toFixed(1) + ' MB';
}
function send(msg) { if (ws && ws.readyState === 1) ws.send(JSON.stringify(msg)); }
function qkey(q) { return [q.page, q.size, q.sort, q.dir, q.kind || '', q.status || '', q.handler || '', q.parent || '', q.text || ''].join('|'); }
function plural(n, one, many) { return num(n) + ' ' + (n === 1 ? one : many || one + 's'); }
function ms(n) { return n < 10 ? n.toFixed(2) + ' ms' : Math.round(n) + ' ms'; }
function duration(sec) {
  if (sec < 3600) return Math.floor(sec / 60) + 'm ' + (sec % 60) + 's';
  if (sec < 86400) return Math.floor(sec / 3600) + 'h ' + Math.floor(sec % 3600 / 60) + 'm';
  return Math.floor(sec / 86400) + 'd ' + Math.floor(sec % 86400 / 3600) + 'h';
}
function pidLink(pid, text) {
  const b = el('button', text || pid, 'link');
  b.type = 'button';
  b.addEventListener('click', () => select(pid));
  return b;
}

function buildQuery() {
  const q = { page: query.page, size: SIZE, sort: query.sort, dir: query.dir };
  const kind = scope ? scope.kind : $('kind-filter').value;
  if (kind) q.kind = kind;
  const handler = scope ? scope.handler : handlerFilter;
  if (handler) q.handler = handler;
  if (scope) q.parent = scope.parent;
  const text = $('filter').value.trim();
  if (text) q.text = text;
  return q;
}
function requery(resetPage) {
  if (resetPage) query.page = 0;
  query = buildQuery();
  send({ op: 'query', query });
}

// --- table: a fixed set of rows, rewritten in place ---
const rows = [];
(function makeRows() {
  const body = $('rows');
  for (let i = 0; i < SIZE; i++) {
    const tr = el('tr');
    const cells = [];
    for (let c = 0; c < 10; c++) {
      const td = el('td');
      if (c >= 4 && c !== 7) td.className = 'num';
      tr.appendChild(td);
      cells.push(td);
    }
    const bar = el('span', undefined, 'bar');
    const fill = el('i');
    bar.appendChild(fill);
    const heapText = el('span');
    cells[7].append(bar, heapText);
    tr.hidden = true;
    tr.addEventListener('click', () => { if (tr.dataset.pid) select(tr.dataset.pid); });
    body.appendChild(tr);
    rows.push({ tr, cells, bar, fill, heapText });
  }
})();

function renderPage(page) {
  if (qkey(page.query) !== qkey(query)) return;
  const total = page.total, start = page.query.page * page.query.size;
  if (page.rows.length === 0 && total > 0 && page.query.page > 0) {
    query.page = Math.max(0, Math.ceil(total / page.query.size) - 1);
    requery(false);
    return;
  }
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i], p = page.rows[i];
    if (!p) { r.tr.hidden = true; delete r.tr.dataset.pid; continue; }
    r.tr.hidden = false;
    r.tr.dataset.pid = p.pid;
    r.tr.classList.toggle('selected', p.pid === selected);
    const c = r.cells;
    c[0].textContent = p.pid;
    c[1].textContent = p.kind;
    c[2].textContent = p.name || [p.handler, p.label].filter(Boolean).join(' ');
    c[2].title = [p.name, p.handler, p.label].filter(Boolean).join(' ');
    c[3].textContent = p.status;
    c[4].textContent = num(p.mailbox);
    c[5].textContent = p.inRate;
    c[6].textContent = p.outRate;
    const share = p.maxHeap > 0 ? Math.min(1, p.heap / p.maxHeap) : 0;
    r.bar.hidden = p.maxHeap === 0;
    r.bar.classList.toggle('hot', share > 0.8);
    r.fill.style.width = Math.round(share * 100) + '%';
    r.heapText.textContent = bytes(p.heap) + (p.maxHeap > 0 ? ' / ' + bytes(p.maxHeap) : '');
    c[8].textContent = p.links;
    c[9].textContent = p.monitors;
  }
  const pages = Math.max(1, Math.ceil(total / page.query.size));
  $('total').textContent = '(' + num(total) + ')';
  $('pageinfo').textContent = total === 0 ? 'no processes match'
    : num(start + 1) + '-' + num(Math.min(total, start + page.rows.length)) + ' of ' + num(total) + ' (page ' + (page.query.page + 1) + ' of ' + num(pages) + ')';
  $('prev').disabled = page.query.page === 0;
  $('next').disabled = page.query.page + 1 >= pages;
  for (const th of document.querySelectorAll('#procs th')) {
    th.classList.toggle('sorted', th.dataset.sort === page.query.sort);
    th.classList.toggle('asc', page.query.dir === 'asc');
  }
}

// --- summary, tree, top lists ---
function renderCounts(table, counts, onPick) {
  table.replaceChildren();
  for (const k of Object.keys(counts).sort()) {
    const tr = el('tr');
    const name = el('td');
    if (onPick) {
      const b = el('button', k, 'link');
      b.type = 'button';
      b.addEventListener('click', () => onPick(k));
      name.appendChild(b);
    } else name.textContent = k;
    tr.append(name, el('td', num(counts[k]), 'num'));
    table.appendChild(tr);
  }
}
function renderTop(list, rows, value) {
  list.replaceChildren();
  if (rows.length === 0) { list.appendChild(el('li', 'none', 'muted')); return; }
  for (const r of rows) {
    const li = el('li');
    li.append(pidLink(r.pid), el('span', ' ' + (r.name || r.handler || r.label || r.kind) + ': ' + value(r), 'muted'));
    list.appendChild(li);
  }
}
function treeItem(node) {
  const li = el('li');
  if (node.pid === null) li.append(el('strong', node.name));
  else {
    li.append(pidLink(node.pid, node.name ? node.name + ' ' + node.pid : node.pid), el('span', [node.kind, node.handler, node.label].filter(Boolean).join(' '), 'kind'));
  }
  if (node.children.length > 0 || node.groups.length > 0) {
    const ul = el('ul');
    for (const child of node.children) ul.appendChild(treeItem(child));
    for (const g of node.groups) {
      const gl = el('li');
      const b = el('button', num(g.count) + ' x ' + g.kind + (g.handler ? ' ' + g.handler : ''), 'link group');
      b.type = 'button';
      b.title = 'list them in the table';
      b.addEventListener('click', () => setScope(node.pid === null ? 'root' : node.pid, g.kind, node.pid === null ? 'top level' : node.pid, g.handler || ''));
      gl.appendChild(b);
      ul.appendChild(gl);
    }
    li.appendChild(ul);
  }
  return li;
}
function renderSummary(s) {
  $('node').textContent = s.node;
  $('nodes').hidden = s.nodes.length === 0;
  $('nodes').textContent = 'Nodes: ' + s.nodes.join(', ');
  $('s-processes').textContent = num(s.totals.processes);
  $('s-connections').textContent = num(s.totals.connections);
  $('s-in').textContent = num(s.totals.messagesInPerSec);
  $('s-out').textContent = num(s.totals.messagesOutPerSec);
  $('s-queued').textContent = num(s.totals.queued);
  $('s-heap').textContent = bytes(s.totals.heapBytes);
  renderCounts($('by-kind'), s.byKind, (k) => { $('kind-filter').value = k; requery(true); });
  renderCounts($('by-status'), s.byStatus, null);
  renderCounts($('by-handler'), s.byHandler, (h) => { handlerFilter = h; scope = null; setScopeLabel('handler ' + h); requery(true); });
  renderRuntime(s.runtime);
  renderTables(s.tables);
  renderTop($('top-mailbox'), s.top.mailbox, (r) => num(r.mailbox));
  renderTop($('top-rate'), s.top.rate, (r) => num(r.inRate + r.outRate));
  renderTop($('top-heap'), s.top.heap, (r) => bytes(r.heap));
  const tree = JSON.stringify(s.tree);
  if (tree !== lastTree) { lastTree = tree; $('tree').replaceChildren(treeItem(s.tree)); }
  const kinds = Object.keys(s.byKind).sort().join('|');
  if (kinds !== lastKinds) {
    lastKinds = kinds;
    const sel = $('kind-filter'), keep = sel.value;
    sel.replaceChildren(el('option', 'all kinds'));
    sel.firstChild.value = '';
    for (const k of Object.keys(s.byKind).sort()) sel.appendChild(el('option', k));
    sel.value = keep;
  }
}
function setScopeLabel(text) {
  $('scope').textContent = text;
  $('clear-scope').hidden = false;
}
function setScope(parent, kind, label, handler) {
  scope = { parent, kind, handler };
  setScopeLabel('children of ' + label + (kind ? ' (' + [kind, handler].filter(Boolean).join(' ') + ')' : ''));
  requery(true);
}
function renderRuntime(r) {
  const m = r.memory;
  $('r-heap').textContent = bytes(m.heapUsed) + ' / ' + bytes(m.heapTotal);
  $('r-rss').textContent = bytes(m.rss);
  $('r-external').textContent = bytes(m.external) + ' / ' + bytes(m.arrayBuffers);
  const d = r.eventLoopDelay;
  $('r-delay').textContent = d ? ms(d.p50) + ' / ' + ms(d.p99) : '-';
  $('r-delay-max').textContent = d ? ms(d.max) : '-';
  $('r-gc').textContent = r.gc ? num(r.gc.count) + ' / ' + ms(r.gc.pauseMs) : 'n/a';
  $('r-gc-total').textContent = r.gc ? num(r.gc.totalCount) + ' / ' + ms(r.gc.totalPauseMs) : 'n/a';
  $('r-gc-total').title = r.gc ? Object.keys(r.gc.totalByKind).map((k) => k + ': ' + r.gc.totalByKind[k]).join(', ') : 'this runtime reports no GC';
  $('r-uptime').textContent = duration(r.uptimeSec);
}
function renderTables(t) {
  const text = JSON.stringify(t);
  if (text === lastTables) return;
  lastTables = text;
  $('tables-total').textContent = t.total > t.shown.length ? '(' + t.shown.length + ' largest of ' + num(t.total) + ')' : '(' + t.total + ')';
  const box = $('tables');
  box.replaceChildren();
  if (t.shown.length === 0) { box.appendChild(el('p', 'none open', 'muted')); return; }
  for (const v of t.shown) {
    const counts = v.type === 'pubsub'
      ? plural(v.keyCount, 'topic') + ', ' + plural(v.entryCount, 'subscription')
      : plural(v.keyCount, v.keys + ' key') + ', ' + plural(v.entryCount, 'entry', 'entries');
    box.appendChild(el('h3', (v.type === 'pubsub' ? 'PubSub ' : 'Registry ') + (v.name || v.id) + ': ' + counts));
    if (v.top.length === 0) continue;
    const table = el('table');
    for (const k of v.top) {
      const tr = el('tr');
      const members = el('td', undefined, 'members');
      k.members.forEach((p, i) => { if (i > 0) members.append(', '); members.append(pidLink(p)); });
      if (k.count > k.members.length) members.append(' and ' + num(k.count - k.members.length) + ' more');
      tr.append(el('td', k.key), el('td', num(k.count), 'num'), members);
      table.appendChild(tr);
    }
    box.appendChild(table);
  }
}

// --- reports, newest first ---
function addReports(r) {
  const list = $('reports');
  for (const row of r.reports) {
    const li = el('li', undefined, row.kind);
    const details = el('details');
    const summary = el('summary');
    summary.append(el('span', new Date(row.at).toLocaleTimeString() + ' ', 'muted'), el('span', row.kind + ' ', 'rk'));
    if (row.pid.startsWith('#PID')) summary.append(pidLink(row.pid));
    summary.append(el('span', (row.name ? ' (' + row.name + ')' : '') + ' ' + row.summary));
    details.append(summary, el('pre', row.text));
    li.appendChild(details);
    list.insertBefore(li, list.firstChild);
  }
  while (list.children.length > MAX_REPORTS) list.lastChild.remove();
  if (r.dropped > 0) $('reports-info').textContent = '(' + num(r.dropped) + ' more were not kept)';
  if (list.children.length === 0) $('reports-info').textContent = '(none yet)';
  else if (r.dropped === 0 && r.reports.length > 0) $('reports-info').textContent = '';
}

// --- charts ---
function drawChart(canvas, series) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  if (canvas.width !== Math.round(w * dpr)) { canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr); }
  const g = canvas.getContext('2d');
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, h);
  let max = 1;
  for (const s of series) for (const v of s.values) if (v > max) max = v;
  const top = 14, bottom = h - 4;
  g.strokeStyle = '#e3e6ec'; g.lineWidth = 1; g.fillStyle = '#667085'; g.font = '11px system-ui, sans-serif';
  for (let i = 0; i <= 2; i++) {
    const y = Math.round(top + (bottom - top) * i / 2) + 0.5;
    g.beginPath(); g.moveTo(0, y); g.lineTo(w, y); g.stroke();
  }
  g.fillText(num(Math.round(max)), 2, 11);
  const step = w / (HISTORY - 1);
  for (const s of series) {
    const n = s.values.length;
    if (n === 0) continue;
    g.strokeStyle = s.color; g.lineWidth = 1.5; g.beginPath();
    for (let i = 0; i < n; i++) {
      const x = w - (n - 1 - i) * step;
      const y = bottom - (bottom - top) * (s.values[i] / max);
      if (i === 0) g.moveTo(x, y); else g.lineTo(x, y);
    }
    g.stroke();
    // A line needs two points; the first sample still shows.
    if (n === 1) { g.fillStyle = s.color; g.fillRect(w - 3, bottom - (bottom - top) * (s.values[0] / max) - 1.5, 3, 3); }
  }
}
function drawCharts() {
  const css = getComputedStyle(document.documentElement);
  drawChart($('chart-conn'), [{ values: history.map((p) => p.connections), color: css.getPropertyValue('--accent') }]);
  drawChart($('chart-msg'), [
    { values: history.map((p) => p.in), color: css.getPropertyValue('--in') },
    { values: history.map((p) => p.out), color: css.getPropertyValue('--out') },
  ]);
  drawChart($('chart-mem'), [
    { values: history.map((p) => (p.heapUsed || 0) / 1048576), color: css.getPropertyValue('--in') },
    { values: history.map((p) => (p.rss || 0) / 1048576), color: css.getPropertyValue('--out') },
  ]);
}
window.addEventListener('resize', drawCharts);

// --- details ---
function pidList(pids, count) {
  const dd = el('dd');
  if (count === 0) { dd.textContent = 'none'; return dd; }
  pids.forEach((p, i) => { if (i > 0) dd.append(', '); dd.append(pidLink(p)); });
  if (count > pids.length) dd.append(' and ' + num(count - pids.length) + ' more');
  return dd;
}
function renderDetails(d, full) {
  if (d.pid !== selected) return;
  $('d-empty').hidden = true;
  $('d-body').hidden = false;
  $('d-pid').textContent = d.pid;
  if ($('kill')) $('kill').disabled = !d.alive;
  const list = $('d-list');
  if (!d.alive) {
    list.replaceChildren(el('dt', 'status'), el('dd', 'exited'));
    $('d-alive').hidden = true;
    $('d-children').replaceChildren();
    return;
  }
  $('d-alive').hidden = false;
  const items = [
    ['status', d.status], ['kind', d.kind], ['name', d.registeredName || '-'],
    ['mailbox', num(d.messageQueueLen)],
    ['held', bytes(d.heapSize) + (d.maxHeapSize.size > 0 ? ' of ' + bytes(d.maxHeapSize.size) + (d.maxHeapSize.kill ? ', kill' : '') + (d.maxHeapSize.errorLogger ? ', log' : '') : ' (no limit)')],
    ['messages', num(d.counters.messagesIn) + ' in, ' + num(d.counters.messagesOut) + ' out'],
    ['rate', d.rates ? d.rates.in + ' in/s, ' + d.rates.out + ' out/s' : '-'],
    ['trap exit', d.trapExit ? 'yes' : 'no'],
  ];
  const nodes = [];
  for (const [k, v] of items) nodes.push(el('dt', k), el('dd', v));
  nodes.push(el('dt', 'parent'));
  const parent = el('dd');
  if (d.parent) parent.appendChild(pidLink(d.parent)); else parent.textContent = '-';
  nodes.push(parent);
  nodes.push(el('dt', 'links'), pidList(d.links, d.linkCount));
  nodes.push(el('dt', 'monitors'), pidList(d.monitors, d.monitorCount));
  nodes.push(el('dt', 'monitored by'), pidList(d.monitoredBy, d.monitoredByCount));
  list.replaceChildren(...nodes);
  $('d-extra').textContent = JSON.stringify(d.details, null, 2);
  if (full) renderChildren(d);
}
function renderChildren(d) {
  const box = $('d-children');
  box.replaceChildren();
  if (!d.children) return;
  box.appendChild(el('h2', 'children'));
  if (d.children.error) { box.appendChild(el('p', d.children.error, 'muted')); return; }
  const table = el('table');
  for (const c of d.children.rows) {
    const tr = el('tr');
    const pid = el('td');
    if (c.pid && c.pid.startsWith('#PID')) pid.appendChild(pidLink(c.pid)); else pid.textContent = c.pid || 'not running';
    tr.append(el('td', c.id || '-'), pid, el('td', c.type + ', ' + c.restart, 'muted'));
    table.appendChild(tr);
  }
  box.appendChild(table);
  const all = el('button', 'list all ' + num(d.children.total) + ' in the table', 'link');
  all.type = 'button';
  all.addEventListener('click', () => { scope = null; setScope(d.pid, '', d.pid); });
  box.appendChild(all);
}
function select(pid) {
  selected = pid;
  if ($('kill-result')) $('kill-result').textContent = '';
  $('d-children').replaceChildren();
  for (const r of rows) r.tr.classList.toggle('selected', r.tr.dataset.pid === pid);
  send({ op: 'select', pid });
}

// --- controls ---
let filterTimer = null;
$('filter').addEventListener('input', () => { clearTimeout(filterTimer); filterTimer = setTimeout(() => requery(true), 200); });
$('kind-filter').addEventListener('change', () => requery(true));
$('clear-scope').addEventListener('click', () => { scope = null; handlerFilter = ''; $('scope').textContent = ''; $('clear-scope').hidden = true; requery(true); });
$('prev').addEventListener('click', () => { query.page = Math.max(0, query.page - 1); requery(false); });
$('next').addEventListener('click', () => { query.page += 1; requery(false); });
for (const th of document.querySelectorAll('#procs th')) {
  th.addEventListener('click', () => {
    const key = th.dataset.sort;
    if (query.sort === key) query.dir = query.dir === 'asc' ? 'desc' : 'asc';
    else { query.sort = key; query.dir = NUMERIC.includes(key) ? 'desc' : 'asc'; }
    requery(true);
  });
}
// A read-only page has no exit-signal controls at all.
if ($('kill')) {
  $('reason').addEventListener('change', () => { $('reason-custom').hidden = $('reason').value !== 'custom'; });
  $('kill').addEventListener('click', () => {
    if (!selected) return;
    const reason = $('reason').value === 'custom' ? $('reason-custom').value.trim() : $('reason').value;
    if (!reason) { $('kill-result').textContent = 'type a reason first'; return; }
    send({ op: 'kill', pid: selected, reason });
  });
}

// --- the socket ---
function handle(m) {
  if (m.type === 'hello') {
    history = m.history.slice(-HISTORY);
    $('mode').hidden = !m.readOnly;
    $('reports').replaceChildren();
    addReports(m.reports);
    drawCharts();
  } else if (m.type === 'snapshot') {
    renderSummary(m.summary);
    const last = history[history.length - 1];
    if (m.point && (!last || last.t !== m.point.t)) {
      history.push(m.point);
      if (history.length > HISTORY) history.shift();
    }
    drawCharts();
    renderPage(m.page);
    if (m.details) renderDetails(m.details, false);
    if (m.reports.reports.length > 0 || m.reports.dropped > 0) addReports(m.reports);
    document.body.dataset.ticks = String(Number(document.body.dataset.ticks || 0) + 1);
  } else if (m.type === 'page') {
    renderPage(m.page);
  } else if (m.type === 'details') {
    renderDetails(m.details, true);
  } else if (m.type === 'exit_sent' && $('kill-result')) {
    $('kill-result').textContent = 'exit(' + m.pid + ', ' + m.reason + ') sent: ' + (m.alive ? 'it is still alive' : 'it has exited');
  } else if (m.type === 'error') {
    $('error').textContent = m.message;
  }
}
function connect() {
  const url = new URL(SOCKET_PATH, location.href);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const token = new URLSearchParams(location.search).get('token');
  if (token) url.searchParams.set('token', token);
  ws = new WebSocket(url);
  ws.addEventListener('open', () => {
    retry = 0;
    $('conn').textContent = 'live';
    $('conn').className = 'live';
    query = buildQuery();
    send({ op: 'query', query });
    if (selected) send({ op: 'select', pid: selected });
  });
  ws.addEventListener('message', (ev) => handle(JSON.parse(ev.data)));
  ws.addEventListener('close', (ev) => {
    $('conn').textContent = 'disconnected (' + ev.code + '), retrying';
    $('conn').className = 'down';
    setTimeout(connect, Math.min(5000, 500 * Math.pow(2, retry++)));
  });
}
connect();
`;

/**
 * The observer page, talking to the WebSocket at `socketPath` (same origin; a
 * `?token=` in the page's own address is passed on to it). A read-only page
 * carries no exit-signal controls.
 *
 * @example
 * res.end(observerPage('/observer/ws', { readOnly: true }));
 */
export function observerPage(socketPath: string, opts: { readonly readOnly: boolean }): string {
  // JSON is a JavaScript literal; escaping '<' keeps '</script>' in a path from ending the script.
  const literal = JSON.stringify(socketPath).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>beamsock observer</title>
<style>${STYLE}</style>
</head>
<body>${BODY.replace('KILLBOX', opts.readOnly ? '<p class="muted">read-only: exit signals are off</p>' : KILLBOX)}
<script>
const SOCKET_PATH = ${literal};
${SCRIPT}
</script>
</body>
</html>`;
}
