// The ps table, virtualised: only the rows in view (and a few either side) are in the DOM, in a
// pool of <tr> elements that are refilled as the view scrolls; spacer rows above and below keep
// the scroll height of the whole list. Renders at most once per animation frame.
import { formatBytes, formatDuration, formatLastOp, formatPids, firstLine, stateText } from './format.js';
import { compileFilter } from './filter.js';

const SEVERITY = { Failed: 0, Unresponsive: 1, Installing: 2, NotReady: 3, Ready: 4 };
const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

/** Columns: what each shows, and the value it sorts by (null sorts last either way). */
export const COLUMNS = [
  { key: 'name', label: 'NAME', text: (r) => r.name, value: (r) => r.name },
  { key: 'version', label: 'VERSION', text: (r) => r.version ?? '-', value: (r) => r.version },
  { key: 'state', label: 'STATE', text: stateText, value: stateText },
  { key: 'status', label: 'STATUS', text: (r) => r.status, value: (r) => SEVERITY[r.status] ?? 9 },
  { key: 'heartbeat', label: 'HEARTBEAT', num: true, ticks: 'heartbeatAgeSeconds' },
  { key: 'uptime', label: 'UPTIME', num: true, ticks: 'uptimeSeconds' },
  { key: 'cpu', label: 'CPU%', num: true, text: (r) => r.cpuPercent.toFixed(1), value: (r) => r.cpuPercent },
  { key: 'mem', label: 'MEM', num: true, text: (r) => formatBytes(r.memoryBytes), value: (r) => r.memoryBytes },
  { key: 'pids', label: 'PIDS', text: (r) => formatPids(r.pids), value: (r) => r.pids.length },
  { key: 'restarts', label: 'RESTARTS', num: true, text: (r) => String(r.restarts), value: (r) => r.restarts },
  { key: 'lastop', label: 'LAST OP', text: formatLastOp, value: (r) => (r.lastOperation ? formatLastOp(r) : null) },
  { key: 'message', label: 'MESSAGE', text: (r) => firstLine(r.message), value: (r) => r.message || null },
];

const OVERSCAN = 10;

export class PsTable {
  /**
   * @param {{scroller: HTMLElement, table: HTMLTableElement, cols: HTMLElement, head: HTMLElement, body: HTMLElement, empty: HTMLElement}} els
   * @param {import('./model.js').Fleet} fleet
   * @param {(name: string) => void} onOpen
   */
  constructor(els, fleet, onOpen) {
    this.els = els;
    this.fleet = fleet;
    this.onOpen = onOpen;
    this.sort = { key: 'name', dir: 1 };
    this.filterText = '';
    this.filter = null;
    /** @type {any[]} entries in view order */
    this.view = [];
    this.viewVersion = -1;
    this.viewDirty = true;
    this.frame = 0;
    this.rowH = 0;
    this.activeName = null;
    this.openName = null;
    /** Frames rendered and rows written, for the bench (window.__statusPage). */
    this.stats = { frames: 0, rowsFilled: 0, lastRenderMs: 0, snapshotAt: 0, snapshotRenderedAt: 0 };
    this.#build();
  }

  #build() {
    const { cols, head, body, scroller } = this.els;
    for (const c of COLUMNS) {
      const col = document.createElement('col');
      col.className = `c-${c.key}`;
      cols.append(col);
      const th = document.createElement('th');
      th.scope = 'col';
      th.dataset.key = c.key;
      if (c.num) th.className = 'num';
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = c.label;
      b.title = `Sort by ${c.label.toLowerCase()}`;
      b.addEventListener('click', () => this.sortBy(c.key));
      th.append(b);
      head.append(th);
    }
    this.top = this.#spacer();
    this.bottom = this.#spacer();
    body.append(this.top, this.bottom);
    /** @type {HTMLTableRowElement[]} */
    this.pool = [];
    scroller.addEventListener('scroll', () => this.schedule(), { passive: true });
    window.addEventListener('resize', () => this.schedule());
    body.addEventListener('click', (ev) => {
      const tr = /** @type {HTMLElement} */ (ev.target).closest('tr.row');
      if (tr?.dataset.name) { this.activeName = tr.dataset.name; this.onOpen(tr.dataset.name); }
    });
    body.addEventListener('keydown', (ev) => this.#onKey(ev));
    this.#markSort();
  }

  #spacer() {
    const tr = document.createElement('tr');
    tr.className = 'spacer';
    tr.setAttribute('aria-hidden', 'true');
    const td = document.createElement('td');
    td.colSpan = COLUMNS.length;
    tr.append(td);
    return tr;
  }

  setFilter(text) {
    if (text === this.filterText) return;
    this.filterText = text;
    this.filter = compileFilter(text);
    this.viewDirty = true;
    this.schedule();
  }

  sortBy(key) {
    this.sort = this.sort.key === key ? { key, dir: -this.sort.dir } : { key, dir: 1 };
    this.#markSort();
    this.viewDirty = true;
    this.schedule();
  }

  #markSort() {
    for (const th of this.els.head.children) {
      const k = /** @type {HTMLElement} */ (th).dataset.key;
      if (k === this.sort.key) th.setAttribute('aria-sort', this.sort.dir > 0 ? 'ascending' : 'descending');
      else th.removeAttribute('aria-sort');
    }
  }

  /** Rows changed (or time passed, for a sort by a ticking column). */
  invalidate() { this.viewDirty = true; this.schedule(); }

  /** Only the cells in view need redrawing (the clock ticked). */
  tick() {
    const col = COLUMNS.find((c) => c.key === this.sort.key);
    if (col?.ticks) this.viewDirty = true;
    this.schedule();
  }

  setOpen(name) { this.openName = name; if (name) this.activeName = name; this.schedule(); }

  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => { this.frame = 0; this.render(); });
  }

  #value(col, entry) {
    return col.ticks ? this.fleet.ticked(entry, col.ticks) : col.value(entry.row);
  }

  #rebuildView() {
    const entries = [...this.fleet.byName.values()];
    const f = this.filter;
    const shown = f ? entries.filter((e) => f(e.row)) : entries;
    const col = COLUMNS.find((c) => c.key === this.sort.key) ?? COLUMNS[0];
    const dir = this.sort.dir;
    const keyed = shown.map((e) => ({ e, v: this.#value(col, e) }));
    keyed.sort((a, b) => {
      if (a.v === null || a.v === undefined) return b.v === null || b.v === undefined ? collator.compare(a.e.row.name, b.e.row.name) : 1;
      if (b.v === null || b.v === undefined) return -1;
      const c = typeof a.v === 'number' && typeof b.v === 'number' ? a.v - b.v : collator.compare(String(a.v), String(b.v));
      return c !== 0 ? c * dir : collator.compare(a.e.row.name, b.e.row.name);
    });
    this.view = keyed.map((k) => k.e);
    this.viewDirty = false;
  }

  render() {
    const t0 = performance.now();
    if (this.viewDirty) this.#rebuildView();
    const { scroller, table, empty } = this.els;
    const n = this.view.length;
    table.setAttribute('aria-rowcount', String(n + 1));
    empty.hidden = n > 0;
    empty.textContent = this.fleet.byName.size === 0 ? 'No handlers.' : 'No handler matches the filter.';
    const rowH = this.rowH || 26;
    const headH = this.els.head.getBoundingClientRect().height || rowH;
    const first = Math.max(0, Math.floor((scroller.scrollTop - headH) / rowH) - OVERSCAN);
    const count = Math.ceil(scroller.clientHeight / rowH) + 2 * OVERSCAN;
    const last = Math.min(n, first + count);
    while (this.pool.length < last - first) this.pool.push(this.#newRow());
    const body = this.els.body;
    const focusedName = body.contains(document.activeElement) ? this.activeName : null;
    for (let i = 0; i < this.pool.length; i++) {
      const tr = this.pool[i];
      const idx = first + i;
      if (idx < last) {
        if (!tr.isConnected) body.insertBefore(tr, this.bottom);
        this.#fill(tr, this.view[idx], idx);
      } else if (tr.isConnected) tr.remove();
    }
    this.top.firstChild.style.height = `${first * rowH}px`;
    this.bottom.firstChild.style.height = `${(n - last) * rowH}px`;
    if (!this.rowH && last > first) {
      const h = this.pool[0].getBoundingClientRect().height;
      if (h > 0) { this.rowH = h; if (h !== rowH) this.schedule(); }
    }
    if (focusedName) this.#rowOf(focusedName)?.focus({ preventScroll: true });
    this.stats.frames++;
    const t1 = performance.now();
    this.stats.lastRenderMs = t1 - t0;
    if (this.stats.snapshotAt && !this.stats.snapshotRenderedAt) this.stats.snapshotRenderedAt = t1;
  }

  #newRow() {
    const tr = document.createElement('tr');
    tr.className = 'row';
    tr.tabIndex = -1;
    for (const c of COLUMNS) {
      const td = document.createElement('td');
      td.className = c.num ? `${c.key} num` : c.key;
      tr.append(td);
    }
    return tr;
  }

  #fill(tr, entry, idx) {
    const r = entry.row;
    tr.dataset.name = r.name;
    tr.setAttribute('aria-rowindex', String(idx + 2));
    tr.tabIndex = r.name === (this.activeName ?? this.view[0]?.row.name) ? 0 : -1;
    tr.classList.toggle('open', r.name === this.openName);
    const cells = tr.children;
    for (let i = 0; i < COLUMNS.length; i++) {
      const c = COLUMNS[i];
      const td = /** @type {HTMLElement} */ (cells[i]);
      const text = c.ticks ? formatDuration(this.fleet.ticked(entry, c.ticks)) : c.text(r);
      if (td.textContent !== text) { td.textContent = text; this.stats.rowsFilled++; }
    }
    const status = /** @type {HTMLElement} */ (cells[3]);
    const sc = `status st-${r.status}`;
    if (status.className !== sc) status.className = sc;
    const state = /** @type {HTMLElement} */ (cells[2]);
    const stc = `state state-${r.state}`;
    if (state.className !== stc) state.className = stc;
    const msg = /** @type {HTMLElement} */ (cells[COLUMNS.length - 1]);
    if (msg.title !== r.message) msg.title = r.message;
  }

  #rowOf(name) {
    return this.pool.find((tr) => tr.isConnected && tr.dataset.name === name) ?? null;
  }

  /** Brings row `idx` into view and makes it the focused one. */
  #focusIndex(idx) {
    if (this.view.length === 0) return;
    const i = Math.max(0, Math.min(this.view.length - 1, idx));
    this.activeName = this.view[i].row.name;
    const { scroller } = this.els;
    const rowH = this.rowH || 26;
    const headH = this.els.head.getBoundingClientRect().height || rowH;
    const top = headH + i * rowH;
    if (top - headH < scroller.scrollTop) scroller.scrollTop = top - headH;
    else if (top + rowH > scroller.scrollTop + scroller.clientHeight) scroller.scrollTop = top + rowH - scroller.clientHeight;
    this.render();
    this.#rowOf(this.activeName)?.focus({ preventScroll: true });
  }

  #onKey(ev) {
    const tr = /** @type {HTMLElement} */ (ev.target).closest('tr.row');
    if (!tr?.dataset.name) return;
    const idx = this.view.findIndex((e) => e.row.name === tr.dataset.name);
    const page = Math.max(1, Math.floor(this.els.scroller.clientHeight / (this.rowH || 26)) - 1);
    const moves = { ArrowDown: idx + 1, ArrowUp: idx - 1, PageDown: idx + page, PageUp: idx - page, Home: 0, End: this.view.length - 1 };
    if (ev.key in moves) { ev.preventDefault(); this.#focusIndex(moves[ev.key]); return; }
    if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); this.activeName = tr.dataset.name; this.onOpen(tr.dataset.name); }
  }

  /** Focus the row of `name` (after the detail view closes), if it is in view. */
  focusRow(name) {
    const idx = this.view.findIndex((e) => e.row.name === name);
    if (idx >= 0) this.#focusIndex(idx);
  }
}
