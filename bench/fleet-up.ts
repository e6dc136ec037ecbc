/**
 * Bringing a fleet of heartbeat handlers up under a `supervisor run` daemon: the whole goal state
 * at once; if the daemon dies on it, the crash is recorded and a new daemon is given the fleet in
 * steps of STEP handlers (goal-state rewrites), so the steady-state figures can still be measured.
 */
import type { HandlerRow } from '../src/supervisor/monitor/types.js';
import type { BenchContext } from './context.js';
import { startDaemon, waitRows, type BenchDaemon } from './daemon.js';
import { goalState, type BuiltHandler, type SupervisorDirs } from './fixtures.js';
import { sleep } from './proc-tools.js';
import { writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';

export const STEP = 100;
export const DAEMON_ARGS = ['--concurrency', '16', '--install-concurrency', '16'];

/**
 * How often the bench asks `ps` whether the fleet is up: each answer is O(N) work in the daemon
 * (rows, one stat per heartbeat, ~2.7 MB of JSON at 5000), so a fixed 1 s made the bench's own
 * polls a share of the bring-up that grew with N (6 % of the main thread at 5000, --cpu-prof).
 * N ms keeps that share per handler constant: 1 s at 1000, 5 s at 5000.
 */
export const upPollMs = (n: number): number => Math.max(1000, n);

/** A check that every named handler is Enabled, Ready and has a heartbeat (other rows may be orphans of an earlier attempt). */
function allUp(names: ReadonlySet<string>): (rows: readonly HandlerRow[]) => boolean {
  return (rows) => rows.filter((r) => names.has(r.name) && r.state === 'Enabled' && r.status === 'Ready' && r.heartbeatAgeSeconds !== null).length === names.size;
}

/** The error line of a crashed daemon's stderr (its stack trace names the cause first). */
function crashLine(stderr: string): string {
  return stderr.split('\n').find((l) => /^\w*Error\b|^\w+Error:/.test(l.trim()))?.trim() ?? stderr.trim().split('\n').slice(-3).join(' ');
}

export interface FleetUp {
  readonly daemon: BenchDaemon;
  /** Date.now() when the first daemon was spawned, and when the fleet was up. */
  readonly startedAt: number;
  readonly upAt: number;
  readonly setupMs: number;
  /** How it got there: one goal state, or steps after a crash. */
  readonly how: string;
  /** What the first daemon died of, if it did. */
  readonly crash: string | null;
}

export interface FleetParamsLike { readonly n: number; readonly timeoutSec: number }

/** Starts a daemon on `dirs` and brings `handlers` up; `nodeFlags(attempt)` lets a profiled run keep each process's files apart. */
export async function bringUpFleet(ctx: BenchContext, dirs: SupervisorDirs, root: string, handlers: readonly BuiltHandler[], p: FleetParamsLike,
  opts: { nodeFlags?: (attempt: number) => string[]; cwd?: (attempt: number) => string; extraArgs?: readonly string[]; env?: Readonly<Record<string, string>> } = {}): Promise<FleetUp> {
  const goal = join(root, `goal-${dirs.libId}.json`);
  const writeGoal = async (count: number): Promise<void> => {
    await writeFile(`${goal}.tmp`, JSON.stringify(goalState(handlers.slice(0, count), { heartbeatTimeout: p.timeoutSec, etag: `first-${count}` })));
    await rename(`${goal}.tmp`, goal);
  };
  // The socket is up within a second when the machine is quiet; 120 s only bounds a failure on a machine others load heavily.
  const launch = (attempt: number): Promise<BenchDaemon> => startDaemon(dirs, goal, { cwd: opts.cwd?.(attempt) ?? root,
    nodeFlags: opts.nodeFlags?.(attempt) ?? [], extraArgs: [...DAEMON_ARGS, ...(opts.extraArgs ?? [])], timeoutMs: 120_000,
    ...(opts.env ? { env: opts.env } : {}) });
  await writeGoal(p.n);
  const startedAt = Date.now();
  let daemon = await launch(1);
  const current = { daemon };
  ctx.cleanups.push(async () => { await current.daemon.stop(30_000); });
  ctx.log(`daemon pid ${daemon.pid} applying ${p.n} heartbeat handlers`);
  const deadline = ctx.quick ? 120_000 : 600_000;
  try {
    await waitRows(daemon, allUp(new Set(handlers.map((h) => h.name))), deadline, `${p.n} handlers Enabled, Ready, with a heartbeat`, upPollMs(p.n));
    const upAt = Date.now();
    return { daemon, startedAt, upAt, setupMs: upAt - startedAt, how: `one goal state of ${p.n} handlers`, crash: null };
  } catch (err) {
    const died = await Promise.race([daemon.exited.then((e) => e), sleep(3000).then(() => null)]);
    // Killed because the bench is stopping (Ctrl-C, budget): not a crash to recover from with a new daemon.
    if (died === null || ctx.signal.aborted) throw err;
    const crash = `\`supervisor run\` given one goal state of ${p.n} handlers exited (${JSON.stringify(died)}) ${((Date.now() - startedAt) / 1000).toFixed(0)} s after it started: ${crashLine(await daemon.stderrTail(4000))}`;
    ctx.log(crash);
    for (let m = STEP; ; m = Math.min(p.n, m + STEP)) {
      await writeGoal(m);
      if (m === STEP) current.daemon = daemon = await launch(2);
      await waitRows(daemon, allUp(new Set(handlers.slice(0, m).map((h) => h.name))), deadline, `the first ${m} handlers up`, upPollMs(m));
      if (m === p.n) break;
    }
    const upAt = Date.now();
    return { daemon, startedAt, upAt, setupMs: upAt - startedAt, how: `steps of ${STEP} handlers after the crash`, crash };
  }
}
