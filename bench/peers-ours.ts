/**
 * The ext-supervisor side of the peer comparison: a running daemon (empty goal) is given N
 * service handlers (enable starts bench/fixtures/loop.sh in the background) by rewriting its
 * goal-state file, then `ps`, then all disabled (the leftover loops are ended), enabled again
 * (warm: already installed), and uninstalled.
 */
import type { BenchContext } from './context.js';
import { startDaemon, waitRows } from './daemon.js';
import { BenchWorkspace, goalState } from './fixtures.js';
import { marked, supervisorStats, runCli, sleep } from './proc-tools.js';
import { median } from './stats.js';

/** What one contender did with N processes (ms, bytes); null where it has no such operation. */
export interface PeerFigures {
  readonly name: string;
  readonly version: string;
  readonly startMs: number;
  readonly warmStartMs: number | null;
  readonly listMs: number;
  readonly stopMs: number;
  readonly deleteMs: number | null;
  readonly daemonRssBytes: number;
  readonly notes: string[];
}

/** Runs the start/list/stop comparison through the CLI and the goal-state file. */
export async function runOurs(ctx: BenchContext, n: number): Promise<PeerFigures> {
  const ws = await BenchWorkspace.create('peers-ours');
  ctx.cleanups.push(() => ws.dispose());
  ctx.libIds.add(ws.libId);
  const handlers = await ws.buildHandlers('service', n, { prefix: 'Svc' });
  const goal = await ws.writeGoal({ etag: 'empty', handlers: [] });
  const daemon = await startDaemon(ws, goal, { extraArgs: ['--concurrency', '16', '--install-concurrency', '16'] });
  ctx.cleanups.push(async () => { await daemon.stop(30_000); });
  const ours = new Set([ws.libId]);
  const until = 300_000;
  try {
    await sleep(1000);
    // Everything is timed from the moment the new goal state is in place (the daemon watches the file).
    const apply = async (state: 'enabled' | 'disabled' | 'uninstall', etag: string, done: (procs: number) => boolean, what: string): Promise<number> => {
      const t0 = Date.now();
      await ws.writeGoal(goalState(handlers, { state, etag }));
      const want = state === 'enabled' ? 'Enabled' : state === 'disabled' ? 'Installed' : null;
      await waitRows(daemon, (rows) => (want === null ? rows.every((r) => r.state === 'NotInstalled') : rows.length === n && rows.every((r) => r.state === want
        && (want !== 'Enabled' || r.status === 'Ready'))), until, what, 100);
      while (!done((await marked(ours)).length)) {
        if (Date.now() - t0 > until) throw new Error(`${what}: processes not as expected`);
        await sleep(50);
      }
      return Date.now() - t0;
    };
    const startMs = await apply('enabled', 'start-1', (p) => p >= n, `${n} handlers Enabled and Ready`);
    ctx.log(`ours: cold start of ${n} in ${startMs} ms`);
    await sleep(6000); // one sampler round, so RSS includes the tracked processes
    const rss = supervisorStats(daemon.pid)?.rssBytes ?? 0;
    const list: number[] = [];
    for (let i = 0; i < 5; i += 1) list.push((await runCli(['ps', ...ws.dirFlags])).ms);
    const stopMs = await apply('disabled', 'stop-1', (p) => p === 0, `${n} handlers disabled`);
    const warmStartMs = await apply('enabled', 'start-2', (p) => p >= n, `${n} handlers enabled again`);
    const deleteMs = await apply('uninstall', 'delete-1', (p) => p === 0, `${n} handlers uninstalled`);
    const version = daemon.client.server.version;
    return { name: 'ext-supervisor', version, startMs, warmStartMs, listMs: median(list), stopMs, deleteMs, daemonRssBytes: rss,
      notes: ['ext-supervisor: `supervisor run --concurrency 16 --install-concurrency 16`, already running with an empty goal state; start = the goal-state file rewritten with N enabled handlers '
        + '→ every one Enabled/Ready in ps and its loop running (cold: fetch + verify + extract + install + enable; warm: enable of installed handlers); '
        + 'stop = all `disabled` → no process left; delete = all `uninstall`; list = `supervisor ps`.'] };
  } finally {
    await daemon.stop(30_000);
  }
}
