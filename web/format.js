// Formatting as `supervisor ps` does (src/cli/format.ts), for the browser.

/** @param {number} n */
export function formatBytes(n) {
  if (!Number.isFinite(n) || n <= 0) return '0';
  const units = ['B', 'K', 'M', 'G', 'T'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v >= 100 || i === 0 ? Math.round(v) : v.toFixed(1)}${units[i]}`;
}

/** @param {number|null|undefined} seconds */
export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '-';
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86400)}d${String(Math.floor((s % 86400) / 3600)).padStart(2, '0')}h`;
}

/** @param {readonly number[]} pids */
export function formatPids(pids, max = 3) {
  if (pids.length === 0) return '-';
  const shown = pids.slice(0, max).join(',');
  return pids.length > max ? `${shown},+${pids.length - max}` : shown;
}

export function formatLastOp(row) {
  const op = row.lastOperation;
  return op ? `${op.name}:${op.result}` : '-';
}

export function stateText(row) {
  return row.desiredState === 'orphaned' ? `${row.state}(orphaned)` : row.state;
}

/** The first line of a message (the table shows one line; the detail view and the tooltip all of it). */
export function firstLine(s) {
  const i = s.indexOf('\n');
  return i < 0 ? s : `${s.slice(0, i)} …`;
}

/** Local time of an ISO instant, or '-'. */
export function formatTime(iso) {
  if (!iso) return '-';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}
