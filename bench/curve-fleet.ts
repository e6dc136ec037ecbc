/**
 * One point of the cost curve's fleet: a `supervisor run` daemon brings up N heartbeat handlers,
 * then, each next to a floor measured beside it: RSS and CPU over a quiet window (idle `node`, the
 * fleet's work floor), `ps` inside the daemon (the socket's round trip) and `ps --json` end to end
 * (`node -e 0`, the least client), and heartbeat detection with 10 % of the writers SIGKILLed.
 * The same measurements as sections 2, 3 and 5, shortened so five sizes fit one run.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { scanProcesses } from '../src/supervisor/process/attribution.js';
import { defaultSendSignal, signalIfSame } from '../src/supervisor/process/signal.js';
import { checkDeadline, type BenchContext } from './context.js';
import type { BuiltHandler, SupervisorDirs } from './fixtures.js';
import { bringUpFleet, type FleetUp } from './fleet-up.js';
import { marked, procStats, run, runCli, sleep, start, supervisorStats, type ProcStats } from './proc-tools.js';
import { max, median, round } from './stats.js';

const WORK_FLOOR = fileURLToPath(new URL('./fixtures/work-floor.cjs', import.meta.url));
const PS_FLOOR = fileURLToPath(new URL('./fixtures/ps-floor.cjs', import.meta.url));
const SAMPLE_MS = 5000;
const POLL_MS = 200;

export interface FleetPointParams {
  readonly periodSec: number;
  readonly timeoutSec: number;
  readonly settleMs: number;
  readonly steadyMs: number;
  readonly psRuns: number;
  readonly inDaemonRuns: number;
}

/** Everything measured at one N (times in ms, memory in bytes, CPU in % of one core). */
export interface FleetPoint {
  readonly n: number;
  readonly upMs: number;
  readonly upHow: string;
  readonly rssBytes: number;
  readonly idleNodeRssBytes: number;
  readonly cpuPct: number;
  readonly idleNodeCpuPct: number;
  readonly workFloorCpuPct: number;
  readonly workFloorCounts: { watched?: number; heartbeatReads?: number; walks?: number; groupReads?: number };
  readonly fds: number;
  readonly fdsFirst: number;
  readonly inotifyWatches: number;
  readonly threads: number;
  readonly processes: number;
  readonly falseUnresponsiveSteady: number;
  /** The `ps` call from the persistent connection, its answer taken as text (as `ps --json` takes it): the daemon's part. */
  readonly psInDaemonMs: number;
  /** The same call with the rows parsed by the client (the bench's own JSON.parse included). */
  readonly psParsedMs: number;
  readonly psRoundTripMs: number;
  readonly psJsonMs: number;
  readonly nodeMs: number;
  readonly leastClientMs: number;
  readonly psJsonBytes: number;
  readonly hbStopped: number;
  readonly hbDetected: number;
  readonly hbWorstAgeSec: number;
  readonly hbWorstLateSec: number;
  readonly hbMedianLateSec: number;
  readonly hbFalsePositives: number;
  readonly hbPolls: number;
  readonly hbPsMedianMs: number;
  /** The slowest `ps` poll of the detection phase. */
  readonly hbPsMaxMs: number;
  /** When the daemon logged each stopped handler Unresponsive (its supervisor.log), after mtime + timeout: worst and median. */
  readonly hbLoggedWorstLateSec: number | null;
  readonly hbLoggedMedianLateSec: number | null;
}

/**
 * When the daemon itself saw each handler's heartbeat go stale: the `time` of its warn line
 * "NAME: heartbeat stale: Unresponsive" in supervisor.log (and rotated copies), by handler. This
 * splits the lateness `ps` shows into the daemon's detection and the polling that found it.
 */
async function staleLoggedAt(logDir: string, names: ReadonlySet<string>): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const file of ['supervisor.log', 'supervisor1.log', 'supervisor2.log']) {
    const text = await readFile(join(logDir, file), 'utf8').catch(() => '');
    for (const line of text.split('\n')) {
      if (!line.includes('heartbeat stale')) continue;
      try {
        const e = JSON.parse(line) as { time?: string; handler?: string };
        const at = e.time ? Date.parse(e.time) : Number.NaN;
        if (e.handler && names.has(e.handler) && Number.isFinite(at) && !(at >= (out.get(e.handler) ?? Infinity))) out.set(e.handler, at);
      } catch { /* a line cut by rotation */ }
    }
  }
  return out;
}

function cpuPct(a: ProcStats, b: ProcStats, ms: number): number {
  return ((b.cpuNs - a.cpuNs) / 1e6 / ms) * 100;
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

/** The stage a point is in, for a report of where its time budget ran out. */
export interface StageTracker { stage: string }

/** Sets the stage and logs how long the last one took. */
function enter(ctx: BenchContext, tracker: StageTracker & { since?: number }, n: number, stage: string): void {
  const now = performance.now();
  if (tracker.since !== undefined) ctx.log(`curve N=${n}: ${tracker.stage} took ${((now - tracker.since) / 1000).toFixed(1)} s`);
  tracker.stage = stage;
  tracker.since = now;
}

/** Brings up N heartbeat handlers on `dirs` and measures them; the caller stops the daemon and sweeps. */
export async function measureFleetPoint(ctx: BenchContext, dirs: SupervisorDirs, root: string, handlers: readonly BuiltHandler[], p: FleetPointParams,
  tracker: StageTracker, out: Partial<FleetPoint>): Promise<void> {
  const n = handlers.length;
  enter(ctx, tracker, n, 'bringing the fleet up');
  const up = await bringUpFleet(ctx, dirs, root, handlers, { n, timeoutSec: p.timeoutSec }, { env: { BENCH_HEARTBEAT_PERIOD: String(p.periodSec) } });
  try {
    await measureUp(ctx, dirs, handlers, p, tracker, up, out);
  } finally {
    enter(ctx, tracker, n, 'stopping the daemon');
    await up.daemon.stop(60_000);
  }
}

/** Fills `out` stage by stage, so a point cut short by its budget keeps what it measured. */
async function measureUp(ctx: BenchContext, dirs: SupervisorDirs, handlers: readonly BuiltHandler[], p: FleetPointParams, tracker: StageTracker,
  up: FleetUp, out: Partial<FleetPoint>): Promise<void> {
  const n = handlers.length;
  const { daemon } = up;
  Object.assign(out, { n, upMs: up.setupMs, upHow: up.how });
  ctx.log(`curve N=${n}: fleet up in ${(up.setupMs / 1000).toFixed(1)} s (${up.how}); settling`);
  enter(ctx, tracker, n, 'settling');
  await sleep(p.settleMs);
  checkDeadline(ctx, `settling N = ${n}`);

  // Steady window: the daemon next to an idle node and the work floor, sampled at the same instants.
  enter(ctx, tracker, n, 'the steady window');
  const idle = start(process.execPath, ['-e', 'setInterval(() => {}, 1000)']);
  // The floor of the daemon's own mode: given the groups it chose (cgroups.json), the group reads; without, the /proc walk.
  const layoutFile = join(dirs.libDir, 'cgroups.json');
  const inGroups = await readFile(layoutFile, 'utf8').then((t) => JSON.parse(t) !== null, () => false);
  const work = start(process.execPath, [WORK_FLOOR, dirs.libDir, String(SAMPLE_MS), ...(inGroups ? [layoutFile] : [])], { stdio: ['ignore', 'pipe', 'ignore'] });
  let workOut = '';
  work.child.stdout!.setEncoding('utf8').on('data', (d: string) => { workOut += d; });
  const samples: { t: number; d: ProcStats; f: ProcStats; w: ProcStats }[] = [];
  let falseSteady = 0;
  try {
    await sleep(1000);
    const t0 = performance.now();
    for (let next = 0; next <= p.steadyMs; next += SAMPLE_MS) {
      await sleep(Math.max(0, next - (performance.now() - t0)));
      checkDeadline(ctx, `the steady window at N = ${n}`);
      const d = supervisorStats(daemon.pid);
      const f = procStats(idle.child.pid!);
      const w = procStats(work.child.pid!);
      if (!d || !f || !w) throw new Error(`${!d ? 'the daemon' : !f ? 'the idle node' : 'the work floor'} exited during the steady window`);
      samples.push({ t: performance.now() - t0, d, f, w });
    }
    work.child.kill('SIGTERM');
    await work.exited;
  } finally {
    idle.child.kill('SIGKILL');
    work.child.kill('SIGKILL');
    await Promise.all([idle.exited, work.exited]);
  }
  const first = samples[0]!;
  const last = samples[samples.length - 1]!;
  const windowMs = last.t - first.t;
  const processes = (await marked(new Set([dirs.libId]))).length;
  // After the window, not during it: a ps call is work the "idle" figure must not include.
  falseSteady = (await daemon.ps()).filter((r) => r.status === 'Unresponsive').length;
  Object.assign(out, {
    rssBytes: max(samples.map((x) => x.d.rssBytes)), idleNodeRssBytes: max(samples.map((x) => x.f.rssBytes)),
    cpuPct: cpuPct(first.d, last.d, windowMs), idleNodeCpuPct: cpuPct(first.f, last.f, windowMs), workFloorCpuPct: cpuPct(first.w, last.w, windowMs),
    workFloorCounts: JSON.parse(workOut.trim() || '{}') as FleetPoint['workFloorCounts'],
    fds: last.d.fds, fdsFirst: first.d.fds, inotifyWatches: last.d.inotifyWatches, threads: last.d.threads, processes, falseUnresponsiveSteady: falseSteady,
  });

  // ps: inside the daemon from the persistent connection, and end to end, alternating with its floors.
  enter(ctx, tracker, n, 'ps');
  const inDaemon: number[] = [];
  const parsed: number[] = [];
  const roundTrip: number[] = [];
  for (let i = 0; i < p.inDaemonRuns; i += 1) {
    inDaemon.push(await timed(() => daemon.client.callRaw('ps', {})));
    parsed.push(await timed(() => daemon.ps()));
    roundTrip.push(await timed(() => (daemon.client.call as (m: string, q: object) => Promise<unknown>)('bench-noop', {}).catch(() => null)));
  }
  const psJson: number[] = [];
  const node: number[] = [];
  const least: number[] = [];
  let bytes = 0;
  for (let i = 0; i < p.psRuns; i += 1) {
    checkDeadline(ctx, `ps at N = ${n}`);
    node.push((await run(process.execPath, ['-e', '0'])).ms);
    const b = await run(process.execPath, [PS_FLOOR, join(dirs.libDir, 'supervisor.sock')]);
    if (b.code !== 0) throw new Error(`the least ps client exited ${b.code}: ${b.stderr.slice(-300)}`);
    least.push(b.ms);
    const r = await runCli(['ps', '--json', ...dirs.dirFlags]);
    if (r.code !== 0 && r.stdout.trim() === '') throw new Error(`supervisor ps --json exited ${r.code}: ${r.stderr.slice(-300)}`);
    const rows = JSON.parse(r.stdout) as unknown[];
    if (rows.length !== n) throw new Error(`supervisor ps --json printed ${rows.length} rows, expected ${n}`);
    bytes = Buffer.byteLength(r.stdout);
    psJson.push(r.ms);
  }
  Object.assign(out, { psInDaemonMs: median(inDaemon), psParsedMs: median(parsed), psRoundTripMs: median(roundTrip), psJsonMs: median(psJson), nodeMs: median(node), leastClientMs: median(least), psJsonBytes: bytes });

  // Heartbeat detection: 10 % of the writers SIGKILLed at once (loops first, then their sleeps).
  enter(ctx, tracker, n, 'heartbeat detection');
  const step = 10;
  const stopped = new Set(handlers.filter((_, i) => i % step === 0).map((h) => h.name));
  for (let round = 0; ; round += 1) {
    const left = (await scanProcesses()).procs.filter((x) => x.mark?.libId === dirs.libId && stopped.has(x.mark.handler))
      .sort((a, b) => Number(b.comm === 'sh') - Number(a.comm === 'sh'));
    if (left.length === 0) break;
    if (round > 100) throw new Error('heartbeat writers survived SIGKILL');
    for (const x of left) signalIfSame(defaultSendSignal, x, 'SIGKILL');
    await sleep(20);
  }
  const deadlines = new Map<string, number>();
  for (const name of stopped) deadlines.set(name, (await stat(join(dirs.libDir, `${name}-1.0.0`, 'heartbeat.log'))).mtimeMs + p.timeoutSec * 1000);
  const detected = new Map<string, number>();
  const falsePositive = new Set<string>();
  const giveUpAt = max([...deadlines.values()]) + 15_000;
  const psTimes: number[] = [];
  let polls = 0;
  while (detected.size < stopped.size && Date.now() < giveUpAt) {
    checkDeadline(ctx, `heartbeat detection at N = ${n}`);
    const t = performance.now();
    const rows = await daemon.ps();
    psTimes.push(performance.now() - t);
    const at = Date.now();
    polls += 1;
    for (const r of rows) {
      if (r.status !== 'Unresponsive') continue;
      if (stopped.has(r.name)) { if (!detected.has(r.name)) detected.set(r.name, at); } else falsePositive.add(r.name);
    }
    await sleep(POLL_MS);
  }
  const late = [...detected].map(([name, at]) => at - deadlines.get(name)!);
  const logged = await staleLoggedAt(dirs.logDir, stopped);
  const loggedLate = [...logged].map(([name, at]) => at - deadlines.get(name)!);
  const ages = [...detected].map(([name, at]) => at - (deadlines.get(name)! - p.timeoutSec * 1000));
  Object.assign(out, {
    hbStopped: stopped.size, hbDetected: detected.size, hbWorstAgeSec: round(max(ages) / 1000, 2), hbWorstLateSec: round(max(late) / 1000, 2),
    hbMedianLateSec: round(median(late) / 1000, 2), hbFalsePositives: falsePositive.size, hbPolls: polls, hbPsMedianMs: median(psTimes),
    hbPsMaxMs: max(psTimes), hbLoggedWorstLateSec: loggedLate.length > 0 ? round(max(loggedLate) / 1000, 2) : null,
    hbLoggedMedianLateSec: loggedLate.length > 0 ? round(median(loggedLate) / 1000, 2) : null,
  });
}
