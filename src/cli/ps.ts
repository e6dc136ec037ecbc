/** `supervisor ps [--json] [--watch]`: one line per handler, from the daemon or from disk. */
import type { HandlerRow } from '../supervisor/monitor/types.js';
import { EXIT, type CliIO } from './io.js';
import { dirsOf, existingDirsOf, noDaemonNote, tryConnect, type DirFlags } from './connect.js';
import { exitForRows } from './health.js';
import { colorStatus, formatBytes, formatDuration, formatLastOp, formatPids } from './format.js';
import { renderTable } from './table.js';

export interface PsFlags extends DirFlags { readonly json?: boolean; readonly watch?: boolean; readonly interval?: number }

export function renderPs(rows: readonly HandlerRow[], tty: boolean): string {
  const lines = rows.map((r) => [
    r.name, r.version ?? '-', r.desiredState === 'orphaned' ? `${r.state}(orphaned)` : r.state, r.status,
    formatPids(r.pids), r.cpuPercent.toFixed(1), formatBytes(r.memoryBytes), formatDuration(r.uptimeSeconds),
    r.heartbeatAgeSeconds === null ? '-' : formatDuration(r.heartbeatAgeSeconds), String(r.restarts), formatLastOp(r),
  ]);
  return renderTable(['NAME', 'VERSION', 'STATE', 'STATUS', 'PIDS', 'CPU%', 'MEM', 'UPTIME', 'HEARTBEAT', 'RESTARTS', 'LAST-OP'], lines,
    (padded, col, i) => (col === 3 ? colorStatus(padded, rows[i]!.status, tty) : padded));
}

function print(rows: readonly HandlerRow[], flags: PsFlags, io: CliIO): void {
  if (flags.json) io.stdout(`${JSON.stringify(rows)}\n`);
  else io.stdout(rows.length ? renderPs(rows, io.isTTY) : 'no handlers\n');
}

async function offline(flags: PsFlags): Promise<HandlerRow[]> {
  const { offlineRows } = await import('../supervisor/monitor/offline-view.js');
  return offlineRows(dirsOf(flags));
}

/** Exit code: 0 every handler at its goal, 1 one is Failed, 3 one is not running as it should (health.ts). */
export async function psCommand(flags: PsFlags, io: CliIO): Promise<number> {
  const dirs = existingDirsOf(flags);
  const client = await tryConnect(dirs);
  if (!flags.watch) {
    let rows: readonly HandlerRow[];
    if (client) {
      try {
        if (flags.json) {
          const raw = await client.callRaw('ps', {});
          io.stdout(`${raw}\n`);
          rows = JSON.parse(raw) as HandlerRow[];
        } else {
          rows = await client.call('ps', {});
          print(rows, flags, io);
        }
      } finally { await client.close(); }
    } else {
      io.stderr(noDaemonNote('ps', dirs));
      rows = await offline(flags);
      print(rows, flags, io);
    }
    return exitForRows(rows);
  }
  const redraw = (rows: readonly HandlerRow[]): void => {
    if (io.isTTY && !flags.json) io.stdout('\u001b[H\u001b[2J');
    if (!flags.json) io.stdout(`${new Date().toLocaleTimeString()}  ${rows.length} handlers\n`);
    print(rows, flags, io);
  };
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    if (client) {
      const s = client.stream('watchPs', { intervalMs: Math.round((flags.interval ?? 1) * 1000) }, (rows) => redraw(rows as readonly HandlerRow[]));
      stop.signal.addEventListener('abort', () => s.cancel(), { once: true });
      await s.done.catch((err: unknown) => { if (!stop.signal.aborted) throw err; });
    } else {
      io.stderr(noDaemonNote('ps', dirs));
      while (!stop.signal.aborted) {
        redraw(await offline(flags));
        await new Promise<void>((r) => { const t = setTimeout(r, (flags.interval ?? 1) * 1000); stop.signal.addEventListener('abort', () => { clearTimeout(t); r(); }, { once: true }); });
      }
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await client?.close();
  }
  return EXIT.ok;
}
