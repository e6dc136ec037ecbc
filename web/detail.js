// The detail view of one handler: `supervisor status NAME --json` from /api/status/NAME, drawn
// as DOM (text only: nothing from the server is ever parsed as HTML).
import { formatBytes, formatDuration, formatPids, formatTime, stateText } from './format.js';

/** `el('dd', {class: 'x'}, 'text', child)` */
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = String(v);
    else e.setAttribute(k, String(v));
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) e.append(c instanceof Node ? c : String(c));
  return e;
}

function table(headers, rows) {
  return el('table', {}, el('thead', {}, el('tr', {}, ...headers.map((h) => el('th', { scope: 'col' }, h)))),
    el('tbody', {}, ...rows.map((cells) => el('tr', {}, ...cells.map((c) => el('td', {}, c))))));
}

function heartbeatText(d, ageSeconds) {
  if (!d.heartbeat) return 'not watched';
  if (!d.heartbeat.watched) return 'not reported (manifest reportHeartbeat is false or the handler is not enabled)';
  const age = ageSeconds === null ? 'not yet written' : `${formatDuration(ageSeconds)} ago`;
  return `${age}, timeout ${d.heartbeat.timeoutSeconds} s`;
}

/**
 * Builds the body of the detail view.
 * @param {any} d the handler detail
 * @param {number|null} ageSeconds the heartbeat's age now (ticked by the page)
 */
export function renderDetail(d, ageSeconds) {
  const r = d.row;
  const frag = document.createDocumentFragment();
  const summary = el('dl', { class: 'summary' },
    el('dt', {}, 'Status'), el('dd', {}, el('span', { class: `badge st-${r.status}`, 'data-field': 'status' }, r.status), ` code ${r.code}`),
    el('dt', {}, 'State'), el('dd', { 'data-field': 'state' }, `${stateText(r)} (goal: ${r.desiredState})`),
    r.message ? el('dt', {}, 'Message') : null, r.message ? el('dd', { 'data-field': 'message' }, r.message) : null,
    el('dt', {}, 'Heartbeat'), el('dd', { 'data-field': 'heartbeat' }, heartbeatText(d, ageSeconds),
      r.heartbeat ? `\n${r.heartbeat.status} code ${r.heartbeat.code}${r.heartbeat.message ? `: ${r.heartbeat.message}` : ''}` : ''),
    el('dt', {}, 'Processes'), el('dd', {}, `${formatPids(r.pids, 10)}  cpu ${r.cpuPercent.toFixed(1)}%  mem ${formatBytes(r.memoryBytes)}  uptime ${formatDuration(r.uptimeSeconds)}`),
    el('dt', {}, 'Restarts'), el('dd', { 'data-field': 'restarts' }, String(r.restarts)),
    el('dt', {}, 'Limits'), el('dd', { 'data-field': 'limits' }, d.limits),
    el('dt', {}, 'Isolation'), el('dd', { 'data-field': 'isolation' }, d.isolation ?? 'none (the daemon has not chosen one)',
      d.throttled ? `; cpu throttled ${d.throttled.count} times, ${(d.throttled.ms / 1000).toFixed(1)} s in all` : ''),
  );
  frag.append(summary);

  const ops = el('section', { 'aria-labelledby': 'ops-h', 'data-section': 'operations' }, el('h3', { id: 'ops-h' }, 'Operations'));
  if (d.operations.length === 0) ops.append(el('p', { class: 'note' }, '(none recorded)'));
  else {
    const rows = [];
    // Newest first: the one an operator looks for is the last.
    for (const o of [...d.operations].reverse()) {
      rows.push([`${o.name}${o.extension ? `(${o.extension})` : ''}`, o.version, el('span', { class: `r-${o.result}` }, o.result),
        o.exitCode === null ? '-' : String(o.exitCode), String(o.code), formatTime(o.startedAt), formatTime(o.endedAt)]);
    }
    const t = table(['Operation', 'Version', 'Result', 'Exit', 'Code', 'Started', 'Ended'], rows);
    // Each operation's message (what failed, with the tail of its output) under its row.
    const trs = [...t.tBodies[0].rows]; // a copy: the live collection shifts as rows are added
    [...d.operations].reverse().forEach((o, i) => {
      if (!o.message) return;
      const tr = el('tr', { class: 'op-output' }, el('td', { colspan: 7 }, el('pre', {}, o.message)));
      trs[i].after(tr);
    });
    ops.append(t);
  }
  frag.append(ops);

  const exts = el('section', { 'data-section': 'extensions' }, el('h3', {}, 'Extensions'));
  if (r.extensions.length === 0) exts.append(el('p', { class: 'note' }, '(no status yet)'));
  else {
    const ul = el('ul');
    for (const e of r.extensions) {
      const li = el('li', {}, el('strong', {}, e.name), ` (sequence ${e.sequenceNumber}): `, el('span', { class: `st-${cap(e.status)}` }, e.status),
        ` code ${e.code}${e.message ? `: ${e.message}` : ''}`);
      if (e.substatus.length) {
        li.append(el('ul', {}, ...e.substatus.map((s) => el('li', { class: 'substatus' }, `${s.name ?? '(unnamed)'}: ${s.status} code ${s.code}${s.message ? `: ${s.message}` : ''}`))));
      }
      ul.append(li);
    }
    exts.append(ul);
  }
  frag.append(exts);

  const procs = el('section', { 'data-section': 'processes' }, el('h3', {}, 'Processes'));
  if (d.processes.length === 0) procs.append(el('p', { class: 'note' }, '(none)'));
  else procs.append(table(['PID', 'PPID', 'PGID', 'State', 'RSS', 'Command'],
    d.processes.map((p) => [String(p.pid), String(p.ppid), String(p.pgid), p.state, formatBytes(p.rssBytes), p.comm])));
  frag.append(procs);

  const paths = el('section', { 'data-section': 'paths' }, el('h3', {}, 'Paths'));
  paths.append(el('dl', {}, ...Object.entries(d.paths).flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)])));
  frag.append(paths);
  return frag;
}

/** Status files say `success`/`error`/`transitioning`: coloured as Ready/Failed/Installing. */
function cap(status) {
  return { success: 'Ready', error: 'Failed', transitioning: 'Installing', warning: 'NotReady' }[status] ?? status;
}

export { el };
