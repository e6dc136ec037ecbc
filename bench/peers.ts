/**
 * 6. `--peers`: the same N = 300 start/list/stop with ext-supervisor, PM2 (npm) and supervisord
 * (Debian package) in one run, next to the floor: Node itself starting N `sh loop.sh` and ending them.
 */
import { randomBytes } from 'node:crypto';
import { newSection, type BenchContext, type Benchmark, type SectionOutput } from './context.js';
import { FIXTURES } from './fixtures.js';
import { nodeStartFloor } from './floors.js';
import { runPm2 } from './peers-pm2.js';
import { runOurs, type PeerFigures } from './peers-ours.js';
import { runSupervisord } from './peers-supervisord.js';
import { markEnv, marked, sleep, start } from './proc-tools.js';
import { ratio, round } from './stats.js';

const TITLE = '6. Peers: start / list / stop of N = 300 processes with ext-supervisor, PM2 and supervisord';

/** Node starting N loop.sh (each in its own group) until all spawned, then SIGTERM to each group until all exited. */
async function processFloor(ctx: BenchContext, n: number): Promise<{ startMs: number; stopMs: number }> {
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
  return { startMs, stopMs: Date.now() - t1 };
}

const fmt = (ms: number | null): string | null => (ms === null ? null : `${(ms / 1000).toFixed(2)} s`);

/** Benchmark 6 (--peers): ext-supervisor, PM2 and supervisord with the same 300 processes. */
export const peersBench: Benchmark = {
  name: 'peers',
  sections: [{ name: 'peers', title: TITLE }],
  budgetMs: ({ quick }) => (quick ? 600_000 : 1_200_000),
  async run(ctx: BenchContext): Promise<SectionOutput[]> {
    const s = newSection('peers', TITLE);
    const n = ctx.quick ? 30 : 300;
    const floor = await processFloor(ctx, n);
    const listFloor = (await nodeStartFloor(5)).medianMs;
    const contenders: PeerFigures[] = [];
    const failures: { name: string; error: string }[] = [];
    for (const [name, runOne] of [['ext-supervisor', runOurs], ['PM2', runPm2], ['supervisord', runSupervisord]] as const) {
      try {
        contenders.push(await runOne(ctx, n));
      } catch (err) {
        failures.push({ name, error: (err as Error).message.split('\n')[0]! });
        ctx.log(`${name} failed: ${(err as Error).stack ?? String(err)}`);
      }
    }
    const ours = contenders.find((c) => c.name === 'ext-supervisor');
    const others = contenders.filter((c) => c !== ours);
    const rows: [string, keyof PeerFigures, number | null][] = [
      ['start N (cold)', 'startMs', floor.startMs], ['start N again (warm)', 'warmStartMs', floor.startMs], ['list (median of 5)', 'listMs', listFloor],
      ['stop all', 'stopMs', floor.stopMs], ['delete / uninstall all', 'deleteMs', null],
    ];
    s.tables.push({ title: `N = ${n}; "× floor" is ext-supervisor's figure over the floor, "× ours" each peer's over ext-supervisor's (above 1: ext-supervisor is faster):`,
      // A contender that could not finish keeps its column, saying so (its error is in the notes).
      header: ['operation', 'floor (Node itself)', ...contenders.map((c) => `${c.name} ${c.version}`), ...failures.map((f) => f.name),
        'ext-supervisor × floor', ...others.map((c) => `${c.name} × ours`)],
      rows: [
        ...rows.map(([label, key, fl]) => {
          const mine = ours ? (ours[key] as number | null) : null;
          return [label, fmt(fl), ...contenders.map((c) => fmt(c[key] as number | null)), ...failures.map(() => 'did not finish'),
            mine !== null && fl !== null ? `${ratio(mine, fl)} ×` : null,
            ...others.map((c) => (mine !== null && c[key] !== null ? `${ratio(c[key] as number, mine)} ×` : null))];
        }),
        ['daemon RSS with N running', null, ...contenders.map((c) => `${(c.daemonRssBytes / 1e6).toFixed(1)} MB`), ...failures.map(() => 'did not finish'), null,
          ...others.map((c) => (ours ? `${ratio(c.daemonRssBytes, ours.daemonRssBytes)} ×` : null))],
      ] });
    if (ours) {
      for (const [label, key] of [['start N (cold)', 'startMs'], ['start N (warm)', 'warmStartMs'], ['list', 'listMs'], ['stop all', 'stopMs']] as const) {
        const mine = ours[key];
        if (mine === null) continue;
        const best = Math.min(...others.map((c) => c[key] ?? Number.POSITIVE_INFINITY));
        s.figures.push({ name: `ext-supervisor ${label}, N = ${n}`, value: round(mine / 1000, 2), unit: 's', floor: round((key === 'listMs' ? listFloor : key === 'stopMs' ? floor.stopMs : floor.startMs) / 1000, 2),
          ratio: ratio(mine, key === 'listMs' ? listFloor : key === 'stopMs' ? floor.stopMs : floor.startMs), target: others.length ? `faster than every peer (best peer ${(best / 1000).toFixed(2)} s)` : undefined,
          met: others.length ? mine < best : null });
      }
      s.figures.push({ name: `ext-supervisor daemon RSS with N = ${n} running`, value: round(ours.daemonRssBytes / 1e6, 1), unit: 'MB',
        target: others.length ? 'smaller than every peer' : undefined, met: others.length ? others.every((c) => ours.daemonRssBytes < c.daemonRssBytes) : null });
    }
    for (const c of contenders) s.notes.push(...c.notes);
    s.notes.push(`Floor: Node spawning N \`/bin/sh loop.sh\` (start: until every spawn event), then SIGTERM to each process group until every one exited (stop); list floor: \`node -e 0\`.`);
    for (const f of failures) s.notes.push(`**${f.name} did not finish** at N = ${n}: ${f.error}`);
    s.data['failures'] = failures;
    s.data['contenders'] = contenders;
    s.data['floor'] = { ...floor, listMs: listFloor };
    if (!ours) s.error = failures.map((f) => `${f.name}: ${f.error}`).join('; ');
    return [s];
  },
};
