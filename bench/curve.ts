/**
 * 7. The cost curve: apply, steady RSS and CPU, `ps` (in the daemon and end to end) and heartbeat
 * detection at N = 100, 300, 1000, 2000, 5000 (`--curve-n` to choose), each next to its floor
 * measured beside it, per handler, and against its per-handler cost at N = 1000, so a reader sees
 * whether a cost grows linearly or worse. Each N has its own time budget: past it, that N is
 * aborted, its processes and cgroups swept, and it (and every larger N) is reported as such.
 */
import { rm } from 'node:fs/promises';
import { newSection, type BenchContext, type Benchmark, type SectionOutput } from './context.js';
import { summarizeProfiles } from './cpuprofile.js';
import { measureApplyPoint, type ApplyPoint } from './curve-apply.js';
import { measureFleetPoint, type FleetPoint, type FleetPointParams, type StageTracker } from './curve-fleet.js';
import { sweepCgroups } from './cgroups.js';
import { BenchWorkspace, type BuiltHandler } from './fixtures.js';
import { profileFleet } from './fleet-profile.js';
import { checkLimits } from './limits.js';
import { killChildren, killMarked } from './proc-tools.js';
import { spawnFloor } from './floors.js';
import { ratio, round } from './stats.js';

const TITLE = '7. Cost curve: apply, steady state, `ps` and heartbeat detection from N = 100 to 5000';
export const CURVE_SIZES = [100, 300, 1000, 2000, 5000] as const;
const QUICK_SIZES = [20, 60];
const REFERENCE_N = 1000;
/** A cost is "linear" while its ratio to its floor at the largest N is within this factor of the ratio at N = 1000. */
const LINEAR_SLACK = 1.25;

const FULL: FleetPointParams = { periodSec: 10, timeoutSec: 20, settleMs: 15_000, steadyMs: 30_000, psRuns: 5, inDaemonRuns: 20 };
const QUICK: FleetPointParams = { periodSec: 2, timeoutSec: 5, settleMs: 3000, steadyMs: 10_000, psRuns: 3, inDaemonRuns: 10 };

/** The heartbeat writes a second the fleet makes at N = 1000 with the full period (10 s). */
const WRITES_PER_SEC = 100;

/**
 * The fleet's parameters at N: past 1000 handlers the heartbeat period grows with N (and the
 * timeout and the steady window with it), so the fleet writes (and its writers fork `sleep`)
 * WRITES_PER_SEC times a second at every N. With a fixed 10 s period, 5000 writers forked 500
 * `sleep`s a second, ~3 cores of work on this 2-core VM, and the fleet never came up: the curve
 * then measured the fixture's saturation, not the supervisor. Each N's work floor watches the
 * same writes, so figures stay comparable through their ratio to it.
 */
export function paramsForN(p: FleetPointParams, n: number, quick: boolean): FleetPointParams {
  if (quick) return p;
  const periodSec = Math.max(p.periodSec, Math.ceil(n / WRITES_PER_SEC));
  const scale = periodSec / p.periodSec;
  return { ...p, periodSec, timeoutSec: Math.round(p.timeoutSec * scale), steadyMs: Math.max(p.steadyMs, periodSec * 1000) };
}

/** Time budget of one N on a quiet machine: apply + its floors, bring-up, windows, detection, teardown (packing is done up front). */
export function budgetForN(n: number, quick: boolean): number {
  return quick ? 360_000 : 180_000 + 160 * n;
}

/** 200 `sh -c 'exit 0'` at 16 take ~0.4 s on this VM when it is quiet (section 1's floor at N = 100). */
const QUIET_CALIBRATION_MS = 400;
const MAX_LOAD_FACTOR = 8;

/**
 * How much slower than quiet the machine is right now: the same 200 spawns timed before each N.
 * The N's budget is multiplied by it (at most 8 ×), so a shared machine under other load gets the
 * time it needs and a hung N still ends.
 */
async function loadFactor(): Promise<{ factor: number; calibrationMs: number }> {
  const r = await spawnFloor([{ count: 200, concurrency: 16 }]);
  return { factor: Math.min(MAX_LOAD_FACTOR, Math.max(1, r.wallMs / QUIET_CALIBRATION_MS)), calibrationMs: r.wallMs };
}

interface Point {
  readonly n: number;
  apply?: ApplyPoint;
  /** What was measured of the fleet, stage by stage (a point cut short keeps its first stages). */
  fleet?: Partial<FleetPoint>;
  /** Why this N has no (or partial) figures: over budget in a stage, failed, or not run. */
  problem?: string;
  elapsedMs?: number;
  budgetMs?: number;
  /** The budget's multiplier for the load of the moment (loadFactor), and the calibration it came from. */
  load?: { factor: number; calibrationMs: number };
  swept?: { processes: number; groups: number; left: number };
  /** The fleet's heartbeat period, timeout and window at this N (paramsForN). */
  params?: FleetPointParams;
}

/** Sizes from --curve-n (via the environment run.ts sets) or the defaults. */
function sizesFor(ctx: BenchContext): number[] {
  const env = process.env['BENCH_CURVE_N'];
  if (env) return env.split(',').map(Number);
  return ctx.quick ? QUICK_SIZES : [...CURVE_SIZES];
}

async function runPoint(ctx: BenchContext, ws: BenchWorkspace, trivial: readonly BuiltHandler[], heartbeat: readonly BuiltHandler[], n: number,
  p: FleetPointParams, point: Point): Promise<void> {
  point.load = await loadFactor();
  const budget = Math.round(budgetForN(n, ctx.quick) * point.load.factor);
  point.budgetMs = budget;
  ctx.log(`curve N=${n}: 200 spawns took ${point.load.calibrationMs.toFixed(0)} ms (quiet: ${QUIET_CALIBRATION_MS} ms): budget ${(budget / 1000).toFixed(0)} s`);
  const local = new AbortController();
  const ids = new Set<string>();
  // The point's lib ids go to the benchmark's set too, so the run-wide sweep also finds them.
  const libIds = new Proxy(ctx.libIds, { get(target, prop) {
    if (prop === 'add') return (id: string) => { ids.add(id); return target.add(id); };
    const v = Reflect.get(target, prop) as unknown;
    return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
  } });
  const sub: BenchContext = { ...ctx, signal: AbortSignal.any([ctx.signal, local.signal]), libIds,
    log: (m) => ctx.log(m) };
  const tracker: StageTracker = { stage: 'applying' };
  const dirsToRemove: string[] = [];
  const t0 = performance.now();
  let abortedIn = '';
  const timer = setTimeout(() => {
    abortedIn = tracker.stage;
    ctx.log(`curve N=${n}: over its budget of ${budget / 1000} s during ${tracker.stage}: aborting`);
    local.abort();
    killChildren();
    void killMarked(ids).catch(() => {});
  }, budget);
  try {
    tracker.stage = 'the apply';
    point.apply = await measureApplyPoint(sub, ws, trivial.slice(0, n), budget);
    ctx.log(`curve N=${n}: apply ${(point.apply.wallMs / 1000).toFixed(1)} s, floor ${(point.apply.floorMs / 1000).toFixed(1)} s, ${point.apply.error ?? `${point.apply.reached}/${n} reached`}`);
    const dirs = ws.instance(`curve-fleet-${n}`);
    sub.libIds.add(dirs.libId);
    dirsToRemove.push(dirs.libDir, dirs.logDir);
    point.fleet = {};
    point.params = paramsForN(p, n, ctx.quick);
    await measureFleetPoint(sub, dirs, ws.root, heartbeat.slice(0, n), point.params, tracker, point.fleet);
    ctx.log(`curve N=${n}: ${JSON.stringify(point.fleet)}`);
  } catch (err) {
    point.problem = ctx.signal.aborted ? `stopped during ${tracker.stage} (the benchmark's budget, or an interrupt); swept`
      : local.signal.aborted ? `over its time budget of ${budget / 1000} s during ${abortedIn}; aborted and swept`
      : `failed during ${tracker.stage}: ${(err as Error).message}`;
    ctx.log(`curve N=${n}: ${point.problem}${local.signal.aborted ? '' : `\n${(err as Error).stack ?? ''}`}`);
  } finally {
    clearTimeout(timer);
    point.elapsedMs = performance.now() - t0;
    const processes = await killMarked(ids, 60_000).catch(() => -1);
    const groups = await sweepCgroups(ids);
    point.swept = { processes, groups: groups.removed, left: groups.left.length };
    ctx.log(`curve N=${n}: ${((performance.now() - t0) / 1000).toFixed(0)} s; swept lib ids ${[...ids].join(', ')}: ${processes} processes, ${groups.removed} cgroups`);
    if (groups.left.length) ctx.log(`curve N=${n}: cgroups left: ${groups.left.slice(0, 5).join(', ')}`);
    // Only once its writers are gone: a heartbeat written into a folder being removed fails the removal.
    for (const d of dirsToRemove) await rm(d, { recursive: true, force: true, maxRetries: 3 }).catch((err: Error) => ctx.log(`curve N=${n}: ${err.message}`));
  }
}

const f2 = (x: number, d = 2): string => (Number.isFinite(x) ? x.toFixed(d) : '–');

/** One metric of the curve: its value, floor and per-handler cost at each N. */
interface Metric {
  readonly name: string;
  readonly unit: string;
  readonly perUnit: string;
  value(pt: Point): number | null;
  floor(pt: Point): number | null;
  floorLabel: string;
  /** The per-handler cost (in perUnit) of a value at N; the floor's too. */
  perHandler(v: number, n: number, pt: Point): number;
  digits?: number;
  /** Not a per-handler cost (a latency): compare the value itself across N. */
  readonly latency?: boolean;
  /** The floor grows with N too (spawns, the work floor): its own per-handler growth is shown beside. */
  readonly scalingFloor?: boolean;
}

const METRICS: readonly Metric[] = [
  { name: 'apply wall, 16 / 16', unit: 's', perUnit: 'ms', value: (pt) => (pt.apply && !pt.apply.error ? pt.apply.wallMs / 1000 : null),
    floor: (pt) => (pt.apply ? pt.apply.floorMs / 1000 : null), floorLabel: 'node spawning N sh -c at 16, twice', perHandler: (v, n) => (v * 1000) / n, scalingFloor: true },
  { name: 'fleet bring-up by the daemon (N heartbeat handlers to Enabled/Ready with a heartbeat)', unit: 's', perUnit: 'ms', value: (pt) => (pt.fleet?.upMs !== undefined ? pt.fleet.upMs / 1000 : null),
    floor: (pt) => (pt.apply ? pt.apply.floorMs / 1000 : null), floorLabel: 'the apply\'s spawn floor at the same N', perHandler: (v, n) => (v * 1000) / n, scalingFloor: true },
  { name: 'daemon RSS + spawner private pages (max over the window)', unit: 'MB', perUnit: 'KB above idle node', value: (pt) => (pt.fleet?.rssBytes !== undefined ? pt.fleet.rssBytes / 1e6 : null),
    floor: (pt) => (pt.fleet?.idleNodeRssBytes !== undefined ? pt.fleet.idleNodeRssBytes / 1e6 : null), floorLabel: 'idle `node`', perHandler: (v, n, pt) => ((v - (pt.fleet?.idleNodeRssBytes ?? 0) / 1e6) * 1000) / n, digits: 1 },
  { name: 'daemon CPU at steady state, % of one core', unit: '%', perUnit: 'µs CPU / s', value: (pt) => pt.fleet?.cpuPct ?? null,
    floor: (pt) => pt.fleet?.workFloorCpuPct ?? null, floorLabel: 'the fleet\'s work floor (fixtures/work-floor.cjs)', perHandler: (v, n) => (v * 10_000) / n, scalingFloor: true },
  { name: '`ps` call inside the daemon (median; the answer taken as text, as `ps --json` does)', unit: 'ms', perUnit: 'µs', value: (pt) => pt.fleet?.psInDaemonMs ?? null,
    floor: (pt) => pt.fleet?.psRoundTripMs ?? null, floorLabel: 'socket round trip of an unknown method', perHandler: (v, n) => (v * 1000) / n },
  { name: 'the same `ps` call, rows parsed by the client (median)', unit: 'ms', perUnit: 'µs', value: (pt) => pt.fleet?.psParsedMs ?? null,
    floor: (pt) => pt.fleet?.psRoundTripMs ?? null, floorLabel: 'socket round trip of an unknown method', perHandler: (v, n) => (v * 1000) / n },
  { name: '`supervisor ps --json` end to end (median)', unit: 'ms', perUnit: 'µs above node -e 0', value: (pt) => pt.fleet?.psJsonMs ?? null,
    floor: (pt) => pt.fleet?.nodeMs ?? null, floorLabel: '`node -e 0`, alternating', perHandler: (v, n, pt) => ((v - (pt.fleet?.nodeMs ?? 0)) * 1000) / n, digits: 0 },
  { name: 'the least ps client (fixtures/ps-floor.cjs, median)', unit: 'ms', perUnit: 'µs above node -e 0', value: (pt) => pt.fleet?.leastClientMs ?? null,
    floor: (pt) => pt.fleet?.nodeMs ?? null, floorLabel: '`node -e 0`, alternating', perHandler: (v, n, pt) => ((v - (pt.fleet?.nodeMs ?? 0)) * 1000) / n, digits: 0 },
  { name: 'heartbeat: worst lateness after mtime + timeout (10 % of writers killed)', unit: 's', perUnit: '', value: (pt) => pt.fleet?.hbWorstLateSec ?? null,
    floor: (pt) => (pt.fleet?.hbPsMedianMs !== undefined ? (200 + pt.fleet.hbPsMedianMs) / 1000 : null), floorLabel: 'resolution: one poll (200 ms) + one ps call', perHandler: (v) => v, latency: true },
];

function curveRows(points: readonly Point[]): { rows: (string | number | null)[][]; verdicts: { metric: Metric; top: number; growth: number | null; floorGrowth: number | null; met: boolean | null }[] } {
  const rows: (string | number | null)[][] = [];
  const verdicts: { metric: Metric; top: number; growth: number | null; floorGrowth: number | null; met: boolean | null }[] = [];
  for (const m of METRICS) {
    const d = m.digits ?? 2;
    const ref = points.find((pt) => pt.n === REFERENCE_N && m.value(pt) !== null);
    const refPer = ref ? m.perHandler(m.value(ref)!, ref.n, ref) : null;
    const refFloor = ref ? m.floor(ref) : null;
    let prev: { n: number; v: number } | null = null;
    for (const pt of points) {
      const v = m.value(pt);
      const fl = m.floor(pt);
      if (v === null) {
        rows.push([m.name, pt.n, pt.problem ? `**not measured**: ${pt.problem}` : '–', null, null, null, fl === null ? null : `${f2(fl, d)} ${m.unit}`, null]);
        continue;
      }
      const per = m.perHandler(v, pt.n, pt);
      const marginal = !m.latency && prev !== null ? ((v - prev.v) * (m.unit === 'MB' ? 1000 : m.unit === '%' ? 10_000 : 1000)) / (pt.n - prev.n) : null;
      rows.push([m.name, pt.n, `${f2(v, d)} ${m.unit}`, m.latency ? '–' : `${f2(per, 1)} ${m.perUnit}`,
        marginal === null ? '–' : `${f2(marginal, 1)}`,
        refPer !== null && refPer !== 0 ? `${f2(m.latency ? v / m.value(ref!)! : per / refPer)} ×` : '–',
        fl === null ? '–' : `${f2(fl, d)} ${m.unit}`, fl !== null && fl > 0 ? `${ratio(v, fl)} ×` : '–']);
      prev = { n: pt.n, v };
    }
    const top = [...points].reverse().find((pt) => m.value(pt) !== null);
    if (top && ref && top.n > REFERENCE_N) {
      const v = m.value(top)!;
      const fl = m.floor(top);
      const growth = m.latency ? v / m.value(ref)! : refPer ? m.perHandler(v, top.n, top) / refPer : null;
      // A floor that itself grows with N (spawns, the work floor) is compared per handler too; a constant one (idle node, node -e 0) is not.
      const floorGrowth = m.scalingFloor && fl !== null && refFloor ? (fl / top.n) / (refFloor / ref.n) : null;
      // Against the floor's own growth, above or below 1: the fleet's writes a second stay the same as N grows (paramsForN), so a floor of those costs less per handler.
      const met = m.latency ? null : growth === null ? null : growth <= LINEAR_SLACK * (floorGrowth ?? 1);
      verdicts.push({ metric: m, top: top.n, growth, floorGrowth, met });
    }
  }
  return { rows, verdicts };
}

function render(s: SectionOutput, points: readonly Point[], p: FleetPointParams, limitRows: Awaited<ReturnType<typeof checkLimits>>['rows']): void {
  const { rows, verdicts } = curveRows(points);
  for (const v of verdicts) {
    const m = v.metric;
    if (m.latency) {
      const worst = Math.max(...points.map((pt) => pt.fleet?.hbWorstLateSec ?? 0));
      s.figures.push({ name: `${m.name}, worst over every N (N = ${REFERENCE_N}: ${points.find((pt) => pt.n === REFERENCE_N)?.fleet?.hbWorstLateSec ?? '–'} s, N = ${v.top}: ${m.value(points.find((pt) => pt.n === v.top)!)} s)`,
        value: round(worst, 2), unit: 's', floorLabel: 'resolution: one poll (200 ms) + one ps call', target: '≤ 1 s at every N', met: worst <= 1 });
      continue;
    }
    s.figures.push({ name: `${m.name}: per-handler cost at N = ${v.top} ÷ at N = ${REFERENCE_N}`,
      value: v.growth === null ? null : round(v.growth, 2), unit: '×', floor: v.floorGrowth === null ? null : round(v.floorGrowth, 2),
      floorLabel: v.floorGrowth === null ? `${m.floorLabel}: constant` : `the same for its floor (${m.floorLabel})`,
      ratio: v.growth !== null && v.floorGrowth ? ratio(v.growth, v.floorGrowth) : null,
      target: `linear: ≤ ${LINEAR_SLACK} ×${m.scalingFloor ? ' × the floor\'s own growth' : ''}`, met: v.met });
  }
  s.tables.push({ title: `How each figure grows with N (one run; "per handler" = value ÷ N, for RSS and ps end to end above their constant floor; "marginal" = (value − value at the previous N) ÷ (N − previous N) in the per-handler unit; `
    + `"× at N = ${REFERENCE_N}" = the per-handler cost over that at N = ${REFERENCE_N}, 1 × staying flat = linear; floor measured beside it, in the same unit as the value):`,
  header: ['figure', 'N', 'value', 'per handler', 'marginal per handler', `× per-handler cost at N = ${REFERENCE_N}`, 'floor (same run)', 'value ÷ floor'], rows });
  s.tables.push({ title: 'The fleet at each N:', header: ['N', 'heartbeat period / timeout / steady window', 'time (budget)', 'bring-up', 'handler processes', 'daemon fds (first → last)', 'inotify watches (per handler)', 'threads',
    'heartbeats stopped → seen Unresponsive', 'worst heartbeat age (timeout)', 'lateness worst / median (in the daemon\'s log)', 'false Unresponsive (window / detection)', 'ps polls (median, max ps ms)', 'ps --json KiB',
    'work floor: folders / heartbeat reads / walks', 'swept after: processes / cgroups'],
  rows: points.map((pt) => {
    const budget = `${((pt.elapsedMs ?? 0) / 1000).toFixed(0)} s (${((pt.budgetMs ?? 0) / 1000).toFixed(0)} s = ${budgetForN(pt.n, p === QUICK) / 1000} s × load ${f2(pt.load?.factor ?? Number.NaN)})`;
    const swept = pt.swept ? `${pt.swept.processes} / ${pt.swept.groups}${pt.swept.left ? ` (**${pt.swept.left} left**)` : ''}` : '–';
    const f = pt.fleet ?? {};
    const c = (x: unknown): string | number | null => (x === undefined || x === null ? null : (x as string | number));
    const has = (x: unknown): boolean => x !== undefined;
    const w = f.workFloorCounts;
    const q = pt.params ?? paramsForN(p, pt.n, p === QUICK);
    return [pt.n, `${q.periodSec} s / ${q.timeoutSec} s / ${q.steadyMs / 1000} s`, budget, has(f.upMs) ? `${(f.upMs! / 1000).toFixed(1)} s` : pt.problem ? `**${pt.problem}**` : null, c(f.processes),
      has(f.fds) ? `${f.fdsFirst} → ${f.fds}` : null, has(f.inotifyWatches) ? `${f.inotifyWatches} (${f2(f.inotifyWatches! / pt.n)})` : null, c(f.threads),
      has(f.hbDetected) ? `${f.hbStopped} → ${f.hbDetected}` : null, has(f.hbWorstAgeSec) ? `${f.hbWorstAgeSec} s (${q.timeoutSec} s)` : null,
      has(f.hbWorstLateSec) ? `${f.hbWorstLateSec} / ${f.hbMedianLateSec} s${has(f.hbLoggedWorstLateSec) && f.hbLoggedWorstLateSec !== null ? ` (${f.hbLoggedWorstLateSec} / ${f.hbLoggedMedianLateSec} s)` : ''}` : null, has(f.falseUnresponsiveSteady) ? `${f.falseUnresponsiveSteady} / ${f.hbFalsePositives ?? '–'}` : null,
      has(f.hbPolls) ? `${f.hbPolls} (${f2(f.hbPsMedianMs!, 1)}${has(f.hbPsMaxMs) ? `, max ${f2(f.hbPsMaxMs!, 0)}` : ''})` : null, has(f.psJsonBytes) ? Math.round(f.psJsonBytes! / 1024) : null,
      w ? `${w.watched ?? '?'} / ${w.heartbeatReads ?? '?'} / ${w.walks ?? '?'}` : null, swept];
  }) });
  s.tables.push({ title: 'System limits checked before the run, for the largest N:', header: ['limit', 'value', 'needed', 'verdict'], rows: limitRows.map((r) => [r.limit, r.value, r.need, r.verdict]) });
  s.notes.push(`Apply: \`supervisor apply --json --concurrency 16 --install-concurrency 16\` of N trivial handlers (as section 1) in a fresh lib dir; its floor is a Node process spawning N \`sh -c 'exit 0'\` at 16 twice, run just before and just after (mean).`);
  s.notes.push(`Fleet: a new \`supervisor run --concurrency 16 --install-concurrency 16\` daemon per N (as sections 2, 3 and 5), given one goal state of N heartbeat handlers (\`sh heartbeat.sh ${p.periodSec}\`, heartbeatTimeout ${p.timeoutSec} s${p === QUICK ? '' : `; past N = ${p.periodSec * WRITES_PER_SEC}, the period grows with N `
      + `(BENCH_HEARTBEAT_PERIOD = N ÷ ${WRITES_PER_SEC} s in the daemon's environment, inherited by the writers), the timeout and the window with it, so the fleet writes ${WRITES_PER_SEC} heartbeats a second at every N, as its work floor reads them`}); `
    + `bring-up ends at the first \`ps\` that shows every handler up, asked every max(1 s, N ms) (each answer is O(N) work in the daemon); `
    + `${p.settleMs / 1000} s to settle, then a ${p.steadyMs / 1000} s window (at least one period) sampled every 5 s beside an idle \`node\` and the work floor; \`ps\` ${p.inDaemonRuns} times from the persistent connection (each time as text, as \`ps --json\` takes it, then with the rows parsed) and ${p.psRuns} times end to end, alternating with \`node -e 0\` and the least client; `
    + `then the writers of every 10th handler SIGKILLed and \`ps\` polled every 200 ms until each is Unresponsive. The daemon runs as the systemd unit runs it (node flags and malloc settings), in cgroup mode when run as root.`);
  s.notes.push(`Budget: each N has 180 s + 0.16 s per handler on a quiet machine (${CURVE_SIZES.map((n) => `${n}: ${budgetForN(n, false) / 1000} s`).join(', ')}), `
    + `multiplied by how much slower than quiet the machine is at that moment (200 \`sh -c 'exit 0'\` at 16 timed just before, over the ${QUIET_CALIBRATION_MS} ms they take on the quiet VM, at most ${MAX_LOAD_FACTOR} ×). `
    + 'Past it the N is aborted (its children and marked processes SIGKILLed); like every N, its processes (by mark) and cgroups (`<mount>/ext-supervisor/<libId>` in every cgroup tree) are then swept, and a larger N is not tried.');
  for (const pt of points) if (pt.problem) s.notes.push(`**N = ${pt.n}: ${pt.problem}.**`);
  s.data['points'] = points;
  s.data['limits'] = limitRows;
}

/** Benchmark 7: the cost curve. */
export const curveBench: Benchmark = {
  name: 'curve',
  sections: [{ name: 'curve', title: TITLE }],
  budgetMs: ({ quick, profile }) => {
    const sizes = process.env['BENCH_CURVE_N']?.split(',').map(Number) ?? (quick ? QUICK_SIZES : [...CURVE_SIZES]);
    // Packing the handlers up front (~20 ms each, twice) plus every N's own budget.
    const top = Math.max(...sizes);
    return (120_000 + 40 * top) * MAX_LOAD_FACTOR + sizes.reduce((a, n) => a + budgetForN(n, quick) * MAX_LOAD_FACTOR, 0) + (profile ? 180_000 + 160 * top : 0);
  },
  async run(ctx: BenchContext): Promise<SectionOutput[]> {
    const s = newSection('curve', TITLE);
    const sizes = sizesFor(ctx);
    const p = ctx.quick ? QUICK : FULL;
    const top = Math.max(...sizes);
    const limits = await checkLimits(top, ctx.log);
    const ws = await BenchWorkspace.create('curve');
    ctx.cleanups.push(() => ws.dispose());
    try {
      // Packed as the sizes grow (names stay unique: each batch has its own prefix), so a run cut short packed only what it used.
      const trivial: BuiltHandler[] = [];
      const heartbeat: BuiltHandler[] = [];
      const packUpTo = async (n: number): Promise<void> => {
        if (trivial.length >= n) return;
        const t0 = performance.now();
        const batch = `B${trivial.length}`;
        trivial.push(...await ws.buildHandlers('trivial', n - trivial.length, { prefix: `Triv${batch}` }));
        heartbeat.push(...await ws.buildHandlers('heartbeat', n - heartbeat.length, { prefix: `Hb${batch}`, heartbeatPeriodSec: p.periodSec }));
        ctx.log(`curve: packed handlers up to ${n} (2 kinds) in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
      };
      const points: Point[] = [];
      let stop: string | null = null;
      for (const n of sizes) {
        const point: Point = { n };
        points.push(point);
        if (stop !== null || ctx.signal.aborted) { point.problem = stop ?? 'not run: the benchmark was stopped (its budget, or an interrupt)'; continue; }
        await packUpTo(n);
        await runPoint(ctx, ws, trivial, heartbeat, n, p, point);
        if (point.problem?.startsWith('over its time budget')) stop = `not run: N = ${n} went over its budget`;
      }
      render(s, points, p, limits.rows);
      if (ctx.profile && !ctx.signal.aborted) {
        ctx.log(`curve: profiled fleet of ${top} (a second daemon under --cpu-prof)`);
        const into = newSection('profile-tmp', '');
        const ids = new Set<string>();
        const libIds = new Proxy(ctx.libIds, { get(target, prop) {
          if (prop === 'add') return (id: string) => { ids.add(id); return target.add(id); };
          const v = Reflect.get(target, prop) as unknown;
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        } });
        try {
          const q = paramsForN(p, top, ctx.quick);
          await profileFleet({ ...ctx, libIds }, ws, heartbeat.slice(0, top), q.timeoutSec, into, q.periodSec);
          renderProfiles(s, into, top);
        } catch (err) {
          s.notes.push(`**Profile at N = ${top} failed:** ${(err as Error).message}`);
        } finally {
          await killMarked(ids, 60_000).catch(() => 0);
          await sweepCgroups(ids);
        }
      }
    } finally {
      limits.restore();
    }
    return [s];
  },
};

/** The profiled daemon's hottest functions, in the curve section (not the run-wide profile section). */
function renderProfiles(s: SectionOutput, from: SectionOutput, n: number): void {
  const profiles = (from.data['profiles'] ?? []) as { label: string; summary: Awaited<ReturnType<typeof summarizeProfiles>>[number] }[];
  for (const { label, summary } of profiles) {
    if (summary.busyMs < 200 || !summary.file.includes('.0.')) continue;
    s.tables.push({ title: `Profile at N = ${n} (node --cpu-prof, a second daemon after the measured one): ${label}, main thread: ${summary.durationMs} ms profiled, ${summary.busyMs} ms busy. `
      + `Own functions by total time: ${summary.ownByTotal.slice(0, 8).map((t) => `\`${t.fn}\` (${t.where}) ${t.totalMs} ms`).join(', ')}.`,
    header: ['self ms', 'self %', 'total ms', 'function', 'where'], rows: summary.top.slice(0, 12).map((t) => [t.selfMs, t.selfPct, t.totalMs, `\`${t.fn}\``, t.where]) });
  }
  s.tables.push(...from.tables);
  s.data['profiles'] = undefined;
  s.data['curveProfiles'] = profiles;
}
