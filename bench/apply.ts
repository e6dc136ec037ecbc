/**
 * 1. `supervisor apply` of N trivial handlers (zip package, install + enable, one extension with a
 * status file), with --concurrency 16 --install-concurrency 16 and with the defaults (install
 * concurrency 1), each next to its floor: a Node process running N `sh -c 'exit 0'` at the install
 * concurrency then N at the enable concurrency, measured just before and just after the apply.
 */
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkDeadline, newSection, type BenchContext, type Benchmark, type SectionOutput } from './context.js';
import { summarizeProfiles, type ProfileSummary } from './cpuprofile.js';
import { BenchWorkspace, goalState, type BuiltHandler } from './fixtures.js';
import { nodeStartFloor, spawnFloor } from './floors.js';
import { marked, run, runCli } from './proc-tools.js';
import { max, median, quantile, ratio, round, sum } from './stats.js';

const CONFIGS = [
  { id: 'parallel', label: '16 / 16', concurrency: 16, installConcurrency: 16 },
  { id: 'default', label: '16 / 1 (defaults)', concurrency: 16, installConcurrency: 1 },
] as const;
type Config = (typeof CONFIGS)[number];

interface ApplyJson {
  ok: boolean;
  startedAt: string;
  endedAt: string;
  handlers: { name: string; reached: boolean; operations: { name: string; startedAt: string; endedAt: string; result: string }[] }[];
}

/** Where the time of one apply went, from its --json operations (ms, relative to the spawn of the CLI). */
export interface ApplyPhases {
  readonly startupMs: number;
  readonly ops: Record<string, { count: number; spanMs: number; busyMs: number; meanMs: number; p95Ms: number }>;
  readonly lastOpEndMs: number;
  readonly finishMs: number;
  readonly reportWrittenMs: number | null;
}

/** Splits an apply into start-up, per-operation spans and busy time, and the finish (status settle, report, exit). */
export function phasesOf(out: ApplyJson, spawnedAt: number, exitedAt: number, reportMtime: number | null): ApplyPhases {
  const groups = new Map<string, { s: number[]; e: number[]; d: number[] }>();
  for (const h of out.handlers) {
    for (const o of h.operations) {
      const g = groups.get(o.name) ?? { s: [], e: [], d: [] };
      const s = Date.parse(o.startedAt);
      const e = Date.parse(o.endedAt);
      g.s.push(s); g.e.push(e); g.d.push(e - s);
      groups.set(o.name, g);
    }
  }
  const ops: ApplyPhases['ops'] = {};
  let lastEnd = Date.parse(out.startedAt);
  for (const [name, g] of groups) {
    const first = Math.min(...g.s);
    const last = max(g.e);
    lastEnd = Math.max(lastEnd, last);
    ops[name] = { count: g.d.length, spanMs: last - first, busyMs: sum(g.d), meanMs: round(sum(g.d) / g.d.length, 1), p95Ms: quantile(g.d, 0.95) };
  }
  return { startupMs: Date.parse(out.startedAt) - spawnedAt, ops, lastOpEndMs: lastEnd - spawnedAt, finishMs: exitedAt - lastEnd,
    reportWrittenMs: reportMtime === null ? null : round(reportMtime - lastEnd, 0) };
}

interface OneRun {
  readonly n: number;
  /** Why this apply did not complete (the CLI's own error line), when it did not. */
  readonly error?: string;
  readonly config: Config['id'];
  readonly wallMs: number;
  readonly floorMs: number;
  readonly floorSamplesMs: readonly number[];
  readonly floorInsideMs: number;
  readonly ratio: number | null;
  readonly reached: number;
  readonly phases: ApplyPhases | null;
  readonly leftover: number;
}

/** An apply that did not finish: the bench records it and goes on. */
class ApplyFailed extends Error {
  constructor(message: string, readonly wallMs: number, readonly short: string) { super(message); }
}

/** The line of a CLI's stderr that says what went wrong (an uncaught error's stack names it first). */
export function errorLine(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean);
  return lines.find((l) => /^\w*Error\b/.test(l) || l.startsWith('supervisor')) ?? lines.slice(-2).join(' ');
}

/** How many lifecycle records (<lib>/state/<name>.json) say Enabled: how far an apply that died got. */
async function enabledOnDisk(libDir: string): Promise<number> {
  const dir = join(libDir, 'state');
  let n = 0;
  for (const f of await readdir(dir).catch(() => [] as string[])) {
    if (!f.endsWith('.json')) continue;
    const state = await readFile(join(dir, f), 'utf8').then((t) => (JSON.parse(t) as { state?: unknown }).state, () => null);
    if (state === 'Enabled') n += 1;
  }
  return n;
}

async function applyOnce(ctx: BenchContext, ws: BenchWorkspace, handlers: readonly BuiltHandler[], cfg: Config, goal: string,
  nodeFlags: readonly string[] = []): Promise<{ wallMs: number; out: ApplyJson; phases: ApplyPhases; leftover: number }> {
  const dirs = ws.instance(`${cfg.id}-${handlers.length}-${Math.random().toString(36).slice(2, 6)}`);
  ctx.libIds.add(dirs.libId);
  try {
    const r = await runCli(['apply', '--goal-state', goal, ...dirs.dirFlags, '--json', '--concurrency', String(cfg.concurrency),
      '--install-concurrency', String(cfg.installConcurrency)], { nodeFlags, timeoutMs: 300_000 });
    if (r.code !== 0) {
      const short = `exited ${r.code ?? r.signal} after ${(r.ms / 1000).toFixed(1)} s, with ${await enabledOnDisk(dirs.libDir)} of ${handlers.length} handlers Enabled on disk`;
      throw new ApplyFailed(`supervisor apply ${short}: ${errorLine(r.stderr)}`, r.ms, short);
    }
    const out = JSON.parse(r.stdout) as ApplyJson;
    const reportMtime = await stat(join(dirs.libDir, 'status-report.json')).then((s) => s.mtimeMs, () => null);
    const leftover = (await marked(new Set([dirs.libId]))).length;
    return { wallMs: r.ms, out, phases: phasesOf(out, r.startedAt, r.endedAt, reportMtime), leftover };
  } finally {
    await rm(dirs.libDir, { recursive: true, force: true });
    await rm(dirs.logDir, { recursive: true, force: true });
  }
}

async function measure(ctx: BenchContext, ws: BenchWorkspace, handlers: readonly BuiltHandler[], cfg: Config, goal: string): Promise<OneRun> {
  const n = handlers.length;
  const phases = [{ count: n, concurrency: cfg.installConcurrency }, { count: n, concurrency: cfg.concurrency }];
  const before = await spawnFloor(phases);
  checkDeadline(ctx, `applying ${n} handlers`);
  let applied: Awaited<ReturnType<typeof applyOnce>> | null = null;
  let error: string | undefined;
  let wallMs = Number.NaN;
  try {
    applied = await applyOnce(ctx, ws, handlers, cfg, goal);
    wallMs = applied.wallMs;
  } catch (err) {
    if (!(err instanceof ApplyFailed)) throw err;
    error = err.message;
    wallMs = err.wallMs;
  }
  const after = await spawnFloor(phases);
  const floorMs = (before.wallMs + after.wallMs) / 2;
  const reached = applied ? applied.out.handlers.filter((h) => h.reached).length : 0;
  ctx.log(`apply N=${n} ${cfg.label}: ${(wallMs / 1000).toFixed(1)} s, floor ${(floorMs / 1000).toFixed(1)} s, ${error ?? `${reached}/${n} reached`}`);
  return { n, config: cfg.id, ...(error ? { error } : {}), wallMs: round(wallMs, 0), floorMs: round(floorMs, 0), floorSamplesMs: [round(before.wallMs, 0), round(after.wallMs, 0)],
    floorInsideMs: round((before.insideMs + after.insideMs) / 2, 0), ratio: applied ? ratio(wallMs, floorMs) : null, reached, phases: applied?.phases ?? null,
    leftover: applied?.leftover ?? 0 };
}

function phaseRow(r: OneRun): (string | number | null)[] {
  if (!r.phases) return [r.n, r.config, `failed after ${(r.wallMs / 1000).toFixed(1)} s`, null, null, null, null, null, null];
  const phases = r.phases;
  const op = (name: string): string => {
    const o = phases.ops[name];
    return o ? `${(o.spanMs / 1000).toFixed(2)} s / ${(o.busyMs / 1000).toFixed(1)} s / ${o.meanMs} ms` : '–';
  };
  return [r.n, r.config, `${(r.wallMs / 1000).toFixed(2)} s`, `${(phases.startupMs / 1000).toFixed(2)} s`, op('fetch'), op('install'), op('enable'),
    `${(phases.finishMs / 1000).toFixed(2)} s`, phases.reportWrittenMs === null ? '–' : `${(phases.reportWrittenMs / 1000).toFixed(2)} s`];
}

const TITLE = '1. Parallel apply of N trivial handlers';
const APPLY_FLOOR = fileURLToPath(new URL('./fixtures/apply-floor.mjs', import.meta.url));

/**
 * bench/fixtures/apply-floor.mjs over these handlers at `concurrency`, in a temp folder removed
 * after; `env` is its environment (and its commands'): a mark lets the caller end what enable left
 * running. Wall time of the whole process and the time inside its loop, in ms.
 */
export async function runApplyFloor(ws: BenchWorkspace, handlers: readonly BuiltHandler[], concurrency: number,
  env: NodeJS.ProcessEnv = process.env, installConcurrency = concurrency): Promise<{ wallMs: number; insideMs: number }> {
  const root = await mkdtemp(join(ws.root, 'apply-floor-'));
  try {
    const specFile = join(root, 'spec.json');
    await writeFile(specFile, JSON.stringify({ root, concurrency, installConcurrency,
      handlers: handlers.map((h) => ({ name: h.name, version: h.version, zip: fileURLToPath(h.uri), sha256: h.sha256 })) }));
    const r = await run(process.execPath, [APPLY_FLOOR, specFile], { timeoutMs: 600_000, env });
    if (r.code !== 0) throw new Error(`apply work floor exited ${r.code}: ${r.stderr.slice(-500)}`);
    return { wallMs: r.ms, insideMs: (JSON.parse(r.stdout) as { insideMs: number }).insideMs };
  } finally {
    await rm(root, { recursive: true, force: true, maxRetries: 3 });
  }
}

/**
 * The apply's work floor (bench/fixtures/apply-floor.mjs) for these handlers, between two spawn
 * floors of the same shape as the apply's (installs at `installConcurrency`, then enables at `concurrency`); wall times in ms.
 */
async function workFloor(ws: BenchWorkspace, handlers: readonly BuiltHandler[], concurrency: number, installConcurrency: number): Promise<{ wallMs: number; insideMs: number; spawnFloorMs: number }> {
  const phases = [{ count: handlers.length, concurrency: installConcurrency }, { count: handlers.length, concurrency }];
  const before = await spawnFloor(phases);
  const r = await runApplyFloor(ws, handlers, concurrency, process.env, installConcurrency);
  const after = await spawnFloor(phases);
  return { ...r, spawnFloorMs: (before.wallMs + after.wallMs) / 2 };
}

/** Benchmark 1: `supervisor apply` at N = 100, 500, 1000 in both concurrency settings, next to its floors. */
export const applyBench: Benchmark = {
  name: 'apply',
  sections: [{ name: 'apply', title: TITLE }],
  budgetMs: ({ quick, profile }) => (quick ? 240_000 : 900_000) + (profile ? 300_000 : 0),
  async run(ctx: BenchContext): Promise<SectionOutput[]> {
    const out = newSection('apply', TITLE);
    const sizes = ctx.quick ? [20, 60] : [100, 500, 1000];
    const top = sizes[sizes.length - 1]!;
    const ws = await BenchWorkspace.create('apply');
    ctx.cleanups.push(() => ws.dispose());
    const all = await ws.buildHandlers('trivial', top);
    const runs: OneRun[] = [];
    const validate: { n: number; medianMs: number; nodeMs: number }[] = [];
    for (const n of sizes) {
      const handlers = all.slice(0, n);
      const goal = await ws.writeGoal(goalState(handlers), `goal-${n}.json`);
      const v: number[] = [];
      for (let i = 0; i < 3; i += 1) {
        const r = await runCli(['validate', goal]);
        if (r.code !== 0) throw new Error(`supervisor validate ${goal} exited ${r.code}: ${r.stderr.slice(-500)}`);
        v.push(r.ms);
      }
      validate.push({ n, medianMs: round(median(v), 0), nodeMs: round((await nodeStartFloor(3)).medianMs, 0) });
      for (const cfg of CONFIGS) runs.push(await measure(ctx, ws, handlers, cfg, goal));
    }
    for (const r of runs) {
      const atTop = r.n === top;
      const cfg = CONFIGS.find((c) => c.id === r.config)!;
      out.figures.push({ name: `apply wall, N = ${r.n}, concurrency ${cfg.label}${r.error ? ' — FAILED' : ''}`, value: r.error ? null : round(r.wallMs / 1000, 2), unit: 's',
        floor: round(r.floorMs / 1000, 2), floorLabel: `node spawning ${r.n} sh -c at ${cfg.installConcurrency} then ${r.n} at ${cfg.concurrency}`,
        ratio: r.ratio, target: atTop ? '≤ 2.0 × floor' : undefined, met: atTop || r.error ? r.ratio !== null && r.ratio <= 2.0 : null });
    }
    // What any Node implementation pays for the same work, in each configuration: the bare loop of apply-floor.mjs.
    const floors = [];
    for (const cfg of CONFIGS) {
      const wf = await workFloor(ws, all, cfg.concurrency, cfg.installConcurrency);
      const ours = runs.find((r) => r.n === top && r.config === cfg.id);
      ctx.log(`apply work floor N=${top} ${cfg.label}: ${(wf.wallMs / 1000).toFixed(1)} s, spawn floor ${(wf.spawnFloorMs / 1000).toFixed(1)} s`);
      out.figures.push({ name: `apply work floor, N = ${top}, concurrency ${cfg.label}: a bare Node loop doing the contract's per-handler work (see below)`,
        value: round(wf.wallMs / 1000, 2), unit: 's', floor: round(wf.spawnFloorMs / 1000, 2),
        floorLabel: `node spawning ${top} sh -c at ${cfg.installConcurrency} then ${top} at ${cfg.concurrency}, around it`,
        ratio: ratio(wf.wallMs, wf.spawnFloorMs), target: undefined, met: null });
      floors.push({ ...wf, n: top, concurrency: cfg.concurrency, installConcurrency: cfg.installConcurrency, config: cfg.id,
        oursOverFloor: ours && !ours.error ? round(ours.wallMs / wf.wallMs, 2) : null, label: cfg.label });
    }
    out.notes.push(`The apply work floor (bench/fixtures/apply-floor.mjs) is the least the contract asks per handler, in a bare Node loop with the same zip library, `
      + 'at the apply\'s concurrency (install commands at its install concurrency): '
      + 'read the package and check its sha256, extract it into a staging folder and rename it into place, make config/, status/ and the log folder, write HandlerEnvironment.json '
      + 'and the settings file, run install then enable with `sh -c`, and persist the state after each; every file written durably (temp, fsync, rename, fsync of the folder). '
      + 'No actors, goal-state checks, logs, report, retries or timeouts.'
      + floors.filter((f) => f.oursOverFloor !== null).map((f) => ` supervisor apply at N = ${top}, ${f.label} took ${f.oursOverFloor} × its floor's time.`).join(''));
    const wf = floors[0]!;
    out.data['workFloor'] = wf;
    out.data['workFloors'] = floors;
    for (const r of runs) {
      if (r.error) out.notes.push(`**N = ${r.n}, ${r.config}: ${r.error}**`);
      else if (r.reached !== r.n || r.leftover !== 0) out.notes.push(`N=${r.n} ${r.config}: ${r.reached}/${r.n} reached their goal, ${r.leftover} processes left after exit`);
    }
    out.tables.push({
      title: 'Where the time went (from `apply --json` operation times; each phase as span first start → last end / sum of durations / mean per handler; fetch = download + sha256 + extract + stage, including the wait for a pool thread):',
      header: ['N', 'config', 'wall', 'start-up (spawn → apply start: node, modules, goal validation, lock)', 'fetch', 'install', 'enable',
        'finish (last command → exit: status settle, sample, print, report flush)', 'report written (after last command)'],
      rows: runs.map(phaseRow),
    });
    out.tables.push({ title: '`supervisor validate goal.json` alone (median of 3), next to `node -e 0` (median of 3) in the same run:',
      header: ['N', 'validate', 'node -e 0', 'ratio'], rows: validate.map((v) => [v.n, `${v.medianMs} ms`, `${v.nodeMs} ms`, `${ratio(v.medianMs, v.nodeMs)} ×`]) });
    out.data['runs'] = runs;
    out.data['validate'] = validate;
    if (ctx.profile) {
      const dir = join(ctx.profileDir, `apply-${top}`);
      const cfg = CONFIGS[0];
      const goal = join(ws.root, `goal-${top}.json`);
      // A crashed apply still leaves its profile (node writes it on the way out): what it did until then.
      const how = await applyOnce(ctx, ws, all, cfg, goal, ['--cpu-prof', '--cpu-prof-dir', dir]).then((p) => `wall ${(p.wallMs / 1000).toFixed(1)} s`,
        (err: unknown) => { if (err instanceof ApplyFailed) return err.short; throw err; });
      const profiles: ProfileSummary[] = await summarizeProfiles(dir);
      out.data['profiles'] = profiles.map((s) => ({ label: `supervisor apply, N = ${top}, ${cfg.label} under --cpu-prof (${how})`, summary: s }));
    }
    return [out];
  },
};
