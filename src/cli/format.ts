/** Human units for the terminal: sizes, durations, pid lists, coloured statuses (only on a TTY). */
import type { HandlerRow } from '../supervisor/monitor/types.js';

export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n <= 0) return '0';
  const units = ['B', 'K', 'M', 'G', 'T'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v >= 100 || i === 0 ? Math.round(v) : v.toFixed(1)}${units[i]}`;
}

export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '-';
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86400)}d${String(Math.floor((s % 86400) / 3600)).padStart(2, '0')}h`;
}

export function formatPids(pids: readonly number[], max = 3): string {
  if (pids.length === 0) return '-';
  const shown = pids.slice(0, max).join(',');
  return pids.length > max ? `${shown},+${pids.length - max}` : shown;
}

export function formatLastOp(row: Pick<HandlerRow, 'lastOperation'>): string {
  const op = row.lastOperation;
  return op ? `${op.name}:${op.result}` : '-';
}

const COLORS: Readonly<Record<string, number>> = { Ready: 32, NotReady: 33, Installing: 36, Unresponsive: 35, Failed: 31 };

/** https://no-color.org: a NO_COLOR that is set and not empty turns colour off, even on a TTY. */
export function colorWanted(tty: boolean, env: NodeJS.ProcessEnv = process.env): boolean {
  return tty && !env['NO_COLOR'];
}

/** Pads first, then colours, so ANSI codes never break column alignment. */
export function colorStatus(padded: string, status: string, tty: boolean): string {
  const code = COLORS[status];
  return colorWanted(tty) && code ? `\u001b[${code}m${padded}\u001b[0m` : padded;
}
