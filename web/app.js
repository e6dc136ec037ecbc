// The status page: the ps table kept live from /events (server-sent events), a filter, sorting,
// the fleet's counts and a detail view per handler (#handler=NAME). Read-only; plain DOM.
import { Fleet } from './model.js';
import { PsTable } from './table.js';
import { renderDetail, el } from './detail.js';
import { formatDuration } from './format.js';

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
const fleet = new Fleet();
const table = new PsTable({ scroller: $('scroller'), table: /** @type {HTMLTableElement} */ ($('ps')), cols: $('cols'), head: $('head'),
  body: $('rows'), empty: $('empty') }, fleet, (name) => openDetail(name));

/** For the browser test and the bench: counters only, nothing to act on. */
window.statusPage = { stats: table.stats, snapshots: 0, events: 0 };

// ---- header: counts, connection, last update -------------------------------------------------
let chromeVersion = -1;
let chromeFrame = 0;
function scheduleChrome() {
  if (chromeFrame) return;
  chromeFrame = requestAnimationFrame(() => {
    chromeFrame = 0;
    if (chromeVersion === fleet.version) return;
    chromeVersion = fleet.version;
    const c = fleet.counts();
    for (const [k, v] of Object.entries(c)) {
      const s = document.querySelector(`[data-count="${k}"]`);
      if (s && s.textContent !== String(v)) s.textContent = String(v);
    }
    const shown = table.filter ? `${table.view.length} of ${c.total} shown` : '';
    if ($('shown').textContent !== shown) $('shown').textContent = shown;
    document.title = `${c.Failed ? `${c.Failed} failed · ` : ''}${c.Unresponsive ? `${c.Unresponsive} unresponsive · ` : ''}ext-supervisor`;
  });
}

function setConn(state, text) {
  document.body.dataset.conn = state;
  $('conn').textContent = text;
}


function noteUpdate(at) {

  $('updated').textContent = `updated ${new Date(at).toLocaleTimeString()}`;
}

// ---- live rows --------------------------------------------------------------------------------
function changed(names) {
  table.invalidate();
  chromeVersion = -1;
  scheduleChrome();
  if (detail.name && (names === null || names.includes(detail.name))) refreshDetailSoon();
}

let source = null;
let retryTimer = 0;
function connect() {
  clearTimeout(retryTimer);
  source?.close();
  setConn('connecting', 'connecting…');
  const es = new EventSource('events');
  source = es;
  es.addEventListener('snapshot', (ev) => {
    table.stats.snapshotAt = performance.now();
    table.stats.snapshotRenderedAt = 0;
    const msg = JSON.parse(ev.data);
    fleet.snapshot(msg);
    window.statusPage.snapshots++;
    document.body.dataset.snapshots = String(window.statusPage.snapshots);
    noteUpdate(msg.at);
    setConn('live', 'live');
    changed(null);
  });
  es.addEventListener('rows', (ev) => {
    const msg = JSON.parse(ev.data);
    window.statusPage.events++;
    noteUpdate(msg.at);
    changed(fleet.update(msg));
  });
  es.addEventListener('removed', (ev) => {
    const msg = JSON.parse(ev.data);
    window.statusPage.events++;
    noteUpdate(msg.at);
    changed(fleet.remove(msg));
  });
  es.addEventListener('error', () => {
    if (source !== es) return;
    if (es.readyState === EventSource.CLOSED) {
      // The browser gave up (an HTTP error or a wrong content type): try again ourselves.
      setConn('offline', 'disconnected; retrying in 3 s');
      retryTimer = setTimeout(connect, 3000);
    } else {
      // EventSource reconnects by itself (the server sent `retry: 3000`) and gets a fresh snapshot.
      setConn('reconnecting', 'reconnecting…');
    }
  });
}

// ---- filter -----------------------------------------------------------------------------------
const filterBox = /** @type {HTMLInputElement} */ ($('filter'));
filterBox.addEventListener('input', () => { table.setFilter(filterBox.value); chromeVersion = -1; scheduleChrome(); });
for (const b of document.querySelectorAll('#counts button')) {
  b.addEventListener('click', () => {
    filterBox.value = /** @type {HTMLElement} */ (b).dataset.filter ?? '';
    table.setFilter(filterBox.value);
    chromeVersion = -1;
    scheduleChrome();
  });
}

// ---- detail view ------------------------------------------------------------------------------
const detail = { name: /** @type {string|null} */ (null), data: null, seq: 0, timer: 0, lastFetch: 0, returnTo: /** @type {string|null} */ (null) };
const panel = $('detail');
const panelBody = $('detail-body');

function nameFromHash() {
  const m = /^#handler=(.+)$/.exec(location.hash);
  if (!m) return null;
  try { return decodeURIComponent(m[1]); } catch { return null; }
}

function openDetail(name) {
  const hash = `#handler=${encodeURIComponent(name)}`;
  if (location.hash !== hash) location.hash = hash; // hashchange shows it
  else showDetail(name);
}

function closeDetail() {
  const name = detail.name;
  history.pushState(null, '', location.pathname + location.search);
  hideDetail();
  if (name) table.focusRow(name);
}

function showDetail(name) {
  const fresh = detail.name !== name;
  detail.name = name;
  table.setOpen(name);
  panel.hidden = false;
  if (fresh) {
    detail.data = null;
    $('detail-title').textContent = name;
    panelBody.replaceChildren(el('p', { class: 'note' }, 'loading…'));
    $('detail-title').focus();
  }
  void loadDetail();
}

function hideDetail() {
  detail.name = null;
  detail.data = null;
  detail.seq++;
  clearTimeout(detail.timer);
  detail.timer = 0;
  panel.hidden = true;
  table.setOpen(null);
}

async function loadDetail() {
  const name = detail.name;
  if (!name) return;
  const seq = ++detail.seq;
  detail.lastFetch = performance.now();
  let body;
  try {
    const res = await fetch(`api/status/${encodeURIComponent(name)}`, { headers: { Accept: 'application/json' } });
    if (seq !== detail.seq) return;
    if (!res.ok) {
      const text = (await res.text()).trim();
      if (seq !== detail.seq) return;
      body = el('p', { class: 'error' }, res.status === 404 ? `No handler named "${name}".` : `Could not load ${name}: HTTP ${res.status} ${text}`);
    } else {
      const d = await res.json();
      if (seq !== detail.seq) return;
      detail.data = d;
      $('detail-title').textContent = `${d.row.name} ${d.row.version ?? ''}`.trim();
      body = renderDetail(d, heartbeatAge());
    }
  } catch (err) {
    if (seq !== detail.seq) return;
    body = el('p', { class: 'error' }, `Could not load ${name}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const scroll = panelBody.scrollTop;
  panelBody.replaceChildren(body);
  panelBody.scrollTop = scroll;
  panel.dataset.loaded = name;
}

/** A row of the open handler changed: load the detail again, at most once a second. */
function refreshDetailSoon() {
  if (detail.timer) return;
  const wait = Math.max(0, 1000 - (performance.now() - detail.lastFetch));
  detail.timer = setTimeout(() => { detail.timer = 0; void loadDetail(); }, wait);
}

function heartbeatAge() {
  const entry = detail.name ? fleet.byName.get(detail.name) : undefined;
  if (entry) return fleet.ticked(entry, 'heartbeatAgeSeconds');
  return detail.data?.row.heartbeatAgeSeconds ?? null;
}

function tickDetail() {
  const d = detail.data;
  if (!d?.heartbeat?.watched) return;
  const dd = panelBody.querySelector('[data-field="heartbeat"]');
  const age = heartbeatAge();
  if (dd?.firstChild) dd.firstChild.textContent = `${age === null ? 'not yet written' : `${formatDuration(age)} ago`}, timeout ${d.heartbeat.timeoutSeconds} s`;
}

$('detail-close').addEventListener('click', closeDetail);
document.addEventListener('keydown', (ev) => {
  if (ev.key === 'Escape' && !panel.hidden) { ev.preventDefault(); closeDetail(); }
});
window.addEventListener('hashchange', () => {
  const name = nameFromHash();
  if (name) showDetail(name); else if (detail.name) hideDetail();
});

// ---- clock: ages and uptimes tick between messages -------------------------------------------
setInterval(() => { table.tick(); tickDetail(); }, 1000);

connect();
const initial = nameFromHash();
if (initial) showDetail(initial);
table.schedule();

