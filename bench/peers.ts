/**
 * 6. `--peers`: the same start/list/stop with ext-supervisor, PM2 (npm) and supervisord (Debian
 * package) at N = 300, then at N = 1000 for each contender that finished 300, next to the floor:
 * Node itself starting N `sh loop.sh` and ending them. A contender that cannot finish (an error,
 * or over its time limit) keeps its column, marked failed, with its error.
 */
import { randomBytes } from 'node:crypto';
import { newSection, type BenchContext, type Benchmark, type SectionOutput } from './context.js';
import { runApplyFloor } from './apply.js';
import { BenchWorkspace, FIXTURES } from './fixtures.js';
import { nodeStartFloor } from './floors.js';
import { runPm2 } from './peers-pm2.js';
import { runOurs, type PeerFigures } from './peers-ours.js';
import { runSupervisord } from './peers-supervisord.js';
import { killChildren, killMarked, markEnv, marked, sleep, start } from './proc-tools.js';
import { ratio, round } from './stats.js';

const TITLE = '6. Peers: start / list / stop of N = 300 and 1000 processes with ext-supervisor, PM2 and supervisord';
const SIZES = [300, 1000];
const QUICK_SIZES = [30];

/** How long one contender may take for everything at N (install included): past it, it is stopped and reported failed. */
export function peerLimitMs(n: number): number {
  return 240_000 + 600 * n;
}

/**
 * What the handler protocol adds to a stop: every handler's disable command runs before its
 * processes are ended. Node running N `sh -c 'exit 0'` (a disable that does nothing), 16 at a
 * time as the daemon's --concurrency 16, until the last exited.
 */
async function disableCommandsFloor(ctx: BenchContext, n: number): Promise<number> {
  const libId = randomBytes(6).toString('hex');
  ctx.libIds.add(libId);
  const t0 = Date.now();
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      await start('/bin/sh', ['-c', 'exit 0'], { env: markEnv(libId, `D${i}`) }).exited;
    }
  };
  await Promise.all(Array.from({ length: 16 }, lane));
  return Date.now() - t0;
}

/**
 * What the handler protocol asks of a cold start, as the least Node does it: the apply's work floor
 * (bench/fixtures/apply-floor.mjs: verify, extract, HandlerEnvironment and settings, install,
 * enable, state written durably) over N of the same service packages at 16, its commands marked
 * so the loops enable started are ended after. PM2 and supervisord fetch, verify, extract and
 * install nothing.
 */
async function coldStartFloor(ctx: BenchContext, n: number): Promise<number> {
  const ws = await BenchWorkspace.create('peers-floor');
  const libId = randomBytes(6).toString('hex');
  ctx.libIds.add(libId);
  try {
    const handlers = await ws.buildHandlers('service', n, { prefix: 'Floor' });
    return (await runApplyFloor(ws, handlers, 16, markEnv(libId, 'W'))).wallMs;
  } finally {
    await killMarked(new Set([libId]), 60_000).catch(() => 0);
    await ws.dispose();
  }
}

/** Node starting N loop.sh (each in its own group) until all spawned, then SIGTERM to each group until all exited. */
async function processFloor(ctx: BenchContext, n: number): Promise<{ startMs: number; stopMs: number; protocolStopMs: number; protocolStartMs: number }> {
  const libId = randomBytes(6).toString('hex');
  ctx.libIds.add(libId);
  const t0 = Date.now();
  const procs = Array.from({ length: n }, (_, i) => start('/bin/sh', [`${FIXTURES}loop.sh`], { detached: true, env: markEnv(libId, `F${i}`) }));
  await Promise.all(procs.map((p) => new Promise<void>((resolve) => { if (p.child.pid !== undefined) resolve(); else p.child.once('spawn', () => resolve()); })));
  const startMs = Date.now() - t0;
  await sleep(1000);
  const t1 = Date.now();
  for (const p of procs) process.kill(-p.child.pid!, 'SIGTERM');
  await Promise.all(procs.map((p) => p.exited));
  while ((await marked(new Set([libId]))).length > 0) await sleep(20);
  const stopMs = Date.now() - t1;
  return { startMs, stopMs, protocolStopMs: stopMs + await disableCommandsFloor(ctx, n), protocolStartMs: await coldStartFloor(ctx, n) };
}

const fmt = (ms: number | null): string | null => (ms === null ? null : `${(ms / 1000).toFixed(2)} s`);

type Contender = readonly [string, (ctx: BenchContext, n: number) => Promise<PeerFigures>];
const CONTENDERS: readonly Contender[] = [['ext-supervisor', runOurs], ['PM2', runPm2], ['supervisord', runSupervisord]];

/** One contender at one N: its figures, or why it has none. */
type Outcome = { readonly name: string; readonly figures: PeerFigures } | { readonly name: string; readonly error: string };

/** Runs one contender within its time limit; past it, what it started is killed so its waits end, and it is reported failed. */
async function runLimited(ctx: BenchContext, name: string, runOne: Contender[1], n: number): Promise<Outcome> {
  const limit = peerLimitMs(n);
  let over = false;
  const timer = setTimeout(() => {
    over = true;
    ctx.log(`${name} at N = ${n}: over its limit of ${limit / 1000} s: stopping it`);
    killChildren();
    void killMarked(ctx.libIds).catch(() => {});
  }, limit);
  try {
    return { name, figures: await runOne(ctx, n) };
  } catch (err) {
    ctx.log(`${name} at N = ${n} failed: ${(err as Error).stack ?? String(err)}`);
    const msg = (err as Error).message.replace(/\s+/g, ' ').slice(0, 400);
    return { name, error: over ? `over its time limit of ${limit / 1000} s (${msg})` : msg };
  } finally {
    clearTimeout(timer);
    await killMarked(ctx.libIds, 60_000).catch(() => 0);
  }
}

/** The table, figures and notes of one N. */
export function renderN(s: SectionOutput, n: number, outcomes: readonly Outcome[], floor: { startMs: number; stopMs: number; protocolStopMs?: number; protocolStartMs?: number },
  listFloor: number): void {
  const contenders = outcomes.flatMap((o) => ('figures' in o ? [o.figures] : []));
  const ours = contenders.find((c) => c.name === 'ext-supervisor');
  const others = contenders.filter((c) => c !== ours);
  const cellOf = (o: Outcome, f: (c: PeerFigures) => string | null): string | null => ('figures' in o ? f(o.figures) : '**failed**');
  const rows: [string, keyof PeerFigures, number | null][] = [
    ['start N (cold)', 'startMs', floor.startMs], ['start N again (warm)', 'warmStartMs', floor.startMs], ['list (median of 5)', 'listMs', listFloor],
    ['stop all', 'stopMs', floor.stopMs], ['delete / uninstall all', 'deleteMs', null],
  ];
  const protocolStop = floor.protocolStopMs ?? null;
  const protocolStart = floor.protocolStartMs ?? null;
  s.tables.push({ title: `N = ${n}; "× floor" is ext-supervisor's figure over the floor, "× ours" each peer's over ext-supervisor's (above 1: ext-supervisor is faster):`,
    header: ['operation', 'floor (Node itself)', ...outcomes.map((o) => ('figures' in o ? `${o.name} ${o.figures.version}` : o.name)), 'ext-supervisor × floor', ...others.map((c) => `${c.name} × ours`)],
    rows: [
      ['finished', null, ...outcomes.map((o) => ('figures' in o ? 'yes' : `**no**: ${o.error}`)), null, ...others.map(() => null)],
      ...rows.map(([label, key, fl]) => {
        const mine = ours ? (ours[key] as number | null) : null;
        return [label, fmt(fl), ...outcomes.map((o) => cellOf(o, (c) => fmt(c[key] as number | null))), mine !== null && fl !== null ? `${ratio(mine, fl)} ×` : null,
          ...others.map((c) => (mine !== null && c[key] !== null ? `${ratio(c[key] as number, mine)} ×` : null))];
      }),
      ...(protocolStart !== null ? [['start N (cold), protocol floor: the apply\'s work floor over the same N packages at 16 (verify, extract, install, enable, durable state; fixtures/apply-floor.mjs)', fmt(protocolStart),
        ...outcomes.map(() => null), ours ? `${ratio(ours.startMs, protocolStart)} ×` : null, ...others.map(() => null)]] : []),
      ...(protocolStop !== null ? [['stop all, protocol floor: the signals + N disable commands (`sh -c \'exit 0\'`, 16 at a time)', fmt(protocolStop),
        ...outcomes.map(() => null), ours ? `${ratio(ours.stopMs, protocolStop)} ×` : null, ...others.map(() => null)]] : []),
      ['daemon RSS with N running', null, ...outcomes.map((o) => cellOf(o, (c) => `${(c.daemonRssBytes / 1e6).toFixed(1)} MB`)), null,
        ...others.map((c) => (ours ? `${ratio(c.daemonRssBytes, ours.daemonRssBytes)} ×` : null))],
    ] });
  if (ours) {
    for (const [label, key] of [['start N (cold)', 'startMs'], ['start N (warm)', 'warmStartMs'], ['list', 'listMs'], ['stop all', 'stopMs']] as const) {
      const mine = ours[key];
      if (mine === null) continue;
      const best = Math.min(...others.map((c) => c[key] ?? Number.POSITIVE_INFINITY));
      const fl = key === 'listMs' ? listFloor : key === 'stopMs' ? floor.stopMs : floor.startMs;
      s.figures.push({ name: `ext-supervisor ${label}, N = ${n}`, value: round(mine / 1000, 2), unit: 's', floor: round(fl / 1000, 2),
        ratio: ratio(mine, fl), target: others.length ? `faster than every peer that finished (best ${(best / 1000).toFixed(2)} s)` : undefined,
        met: others.length ? mine < best : null });
    }
    if (protocolStart !== null) {
      // PM2 and supervisord fetch, verify, extract and install nothing: when the protocol's cold start alone is slower than the fastest peer, the row is out of reach.
      const best = Math.min(...others.map((c) => c.startMs));
      s.figures.push({ name: `start N (cold), N = ${n}: protocol floor (the apply's work floor over the same packages at 16)`, value: round(protocolStart / 1000, 2), unit: 's',
        target: others.length ? `below the fastest peer's cold start (${(best / 1000).toFixed(2)} s), else "faster than every peer" is out of reach for a handler-protocol supervisor` : undefined,
        met: others.length ? protocolStart < best : null });
      s.figures.push({ name: `ext-supervisor cold start over the protocol floor, N = ${n}`, value: ratio(ours.startMs, protocolStart), unit: '×' });
    }
    if (protocolStop !== null) {
      // supervisord and PM2 run no disable command: when that alone takes longer than the fastest peer's stop, the row is out of reach.
      const best = Math.min(...others.map((c) => c.stopMs));
      s.figures.push({ name: `stop all, N = ${n}: protocol floor (signals + N disable commands at 16)`, value: round(protocolStop / 1000, 2), unit: 's',
        target: others.length ? `below the fastest peer's stop (${(best / 1000).toFixed(2)} s), else "faster than every peer" is out of reach for a handler-protocol supervisor` : undefined,
        met: others.length ? protocolStop < best : null });
      s.figures.push({ name: `ext-supervisor stop all over the protocol floor, N = ${n}`, value: ratio(ours.stopMs, protocolStop), unit: '×' });
    }
    s.figures.push({ name: `ext-supervisor daemon RSS with N = ${n} running`, value: round(ours.daemonRssBytes / 1e6, 1), unit: 'MB',
      target: others.length ? 'smaller than every peer that finished' : undefined, met: others.length ? others.every((c) => ours.daemonRssBytes < c.daemonRssBytes) : null });
  }
  for (const o of outcomes) if (!('figures' in o)) s.notes.push(`**${o.name} could not finish N = ${n}:** ${o.error}`);
}

/** Benchmark 6 (--peers): ext-supervisor, PM2 and supervisord with the same processes, at 300 then 1000. */
export const peersBench: Benchmark = {
  name: 'peers',
  sections: [{ name: 'peers', title: TITLE }],
  budgetMs: ({ quick }) => (quick ? 900_000 : 300_000 + CONTENDERS.length * (quick ? QUICK_SIZES : SIZES).reduce((a, n) => a + peerLimitMs(n), 0)),
  async run(ctx: BenchContext): Promise<SectionOutput[]> {
    const s = newSection('peers', TITLE);
    const sizes = ctx.quick ? QUICK_SIZES : SIZES;
    const failedAt = new Map<string, number>();
    const all: { n: number; outcomes: Outcome[]; floor: { startMs: number; stopMs: number; protocolStopMs: number; protocolStartMs: number; listMs: number } }[] = [];
    for (const n of sizes) {
      if (CONTENDERS.every(([name]) => failedAt.has(name))) {
        for (const [name] of CONTENDERS) s.notes.push(`**${name} was not run at N = ${n}:** it could not finish N = ${failedAt.get(name)}.`);
        continue;
      }
      const floor = await processFloor(ctx, n);
      const listFloor = (await nodeStartFloor(5)).medianMs;
      const outcomes: Outcome[] = [];
      for (const [name, runOne] of CONTENDERS) {
        const earlier = failedAt.get(name);
        if (earlier !== undefined) { outcomes.push({ name, error: `not run: it could not finish N = ${earlier}` }); continue; }
        const o = await runLimited(ctx, name, runOne, n);
        if (!('figures' in o)) failedAt.set(name, n);
        outcomes.push(o);
      }
      renderN(s, n, outcomes, floor, listFloor);
      all.push({ n, outcomes, floor: { ...floor, listMs: listFloor } });
    }
    const notes = new Set<string>();
    for (const { outcomes } of all) for (const o of outcomes) if ('figures' in o) for (const note of o.figures.notes) notes.add(note);
    s.notes.unshift(...notes);
    s.notes.push(`Floor: Node spawning N \`/bin/sh loop.sh\` (start: until every spawn event), then SIGTERM to each process group until every one exited (stop); list floor: \`node -e 0\`. `
      + 'Protocol floor of a stop: that SIGTERM floor plus Node running N `sh -c \'exit 0\'` 16 at a time: the disable command the handler protocol runs for every handler before ending its processes, which PM2 and supervisord do not have. '
      + 'Protocol floor of a cold start: bench/fixtures/apply-floor.mjs over N of the same service packages, 16 at a time: read and check the sha256, extract, write HandlerEnvironment.json and the settings, run install and enable, persist the state durably after each, in a bare Node loop; PM2 and supervisord are given a script already on disk.');
    s.notes.push(`Each contender has ${peerLimitMs(300) / 1000} s at N = 300 and ${peerLimitMs(1000) / 1000} s at N = 1000 for everything (its install included); past it, or on an error, it is reported as not finished with its error, and not tried at a larger N.`);
    s.data['sizes'] = all;
    s.data['contenders'] = all.flatMap((x) => x.outcomes.flatMap((o) => ('figures' in o ? [{ n: x.n, ...o.figures }] : [])));
    // A contender that could not finish is a row of the table (with its error), not a failed section: the floors and the others still count.
    return [s];
  },
};
