/**
 * `npm run bench [-- --only NAME[,NAME]] [--quick] [--peers] [--profile] [--no-build]`: builds dist/,
 * runs the benchmarks one after the other, each bounded in time and followed by a sweep that
 * kills every process carrying its lib ids' mark; writes bench/results/<time>.json and rewrites
 * the matching sections of BENCHMARKS.md with the exact command.
 */
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { applyBench } from './apply.js';
import { curveBench } from './curve.js';
import type { BenchContext, Benchmark, SectionOutput } from './context.js';
import { fleetBench } from './fleet.js';
import { killBench } from './kill.js';
import { watchBench } from './watch.js';
import { peersBench } from './peers.js';
import { pageBench } from './page.js';
import { renderProfileSection } from './profile-section.js';
import { killChildren, killMarked, run } from './proc-tools.js';
import { sweepCgroups } from './cgroups.js';
import { RESULTS_DIR, historyRow, historySection, renderSection, updateBenchmarksMd, writeResultFile, type BenchResult, type RunInfo } from './report.js';

const BENCHES: readonly Benchmark[] = [applyBench, fleetBench, killBench, watchBench, pageBench, curveBench, peersBench];
const ALL_SECTIONS = BENCHES.flatMap((b) => b.sections.map((s) => s.name));

interface Args { only: Set<string> | null; quick: boolean; peers: boolean; profile: boolean; build: boolean; curveN: number[] | null }

function usage(problem: string): never {
  process.stderr.write(`bench: ${problem}\nusage: npm run bench -- [--only ${ALL_SECTIONS.join('|')}[,...]] [--quick] [--peers] [--profile] [--no-build] [--curve-n N[,N...]]\n`);
  process.exit(2);
}

function parseArgs(argv: readonly string[]): Args {
  const a: Args = { only: null, quick: false, peers: false, profile: false, build: true, curveN: null };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i]!;
    if (arg === '--quick') a.quick = true;
    else if (arg === '--peers') a.peers = true;
    else if (arg === '--profile') a.profile = true;
    else if (arg === '--no-build') a.build = false;
    else if (arg === '--curve-n' || arg.startsWith('--curve-n=')) {
      const value = arg === '--curve-n' ? argv[++i] : arg.slice('--curve-n='.length);
      const sizes = (value ?? '').split(',').map((x) => Number(x));
      if (!value || sizes.some((x) => !Number.isInteger(x) || x < 10 || x > 9999)) usage(`--curve-n needs a list of handler counts from 10 to 9999 (got "${value ?? ''}")`);
      a.curveN = sizes;
    }
    else if (arg === '--only' || arg.startsWith('--only=')) {
      const value = arg === '--only' ? argv[++i] : arg.slice('--only='.length);
      if (!value) usage('--only needs a benchmark name');
      a.only ??= new Set();
      for (const name of value.split(',')) {
        if (!ALL_SECTIONS.includes(name)) usage(`unknown benchmark "${name}"`);
        a.only.add(name);
      }
    } else usage(`unknown argument "${arg}"`);
  }
  // The curve reads its sizes where its budget is computed too.
  if (a.curveN) process.env['BENCH_CURVE_N'] = a.curveN.join(',');
  // --peers alone adds the comparison; --only peers needs it too, so asking for it by name is asking.
  if (a.only?.has('peers')) a.peers = true;
  return a;
}

function commandLine(argv: readonly string[]): string {
  const args = argv.map((x) => (/^[\w./,=-]+$/.test(x) ? x : `'${x.replace(/'/g, `'\\''`)}'`)).join(' ');
  if (process.env['npm_lifecycle_event'] === 'bench') return `npm run bench${args ? ` -- ${args}` : ''}`;
  return `node --import tsx bench/run.ts${args ? ` ${args}` : ''}`;
}

async function build(): Promise<void> {
  const tsc = fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url));
  const r = await run(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: fileURLToPath(new URL('..', import.meta.url)), timeoutMs: 300_000 });
  if (r.code !== 0) throw new Error(`npm run build failed:\n${r.stdout}${r.stderr}`);
}

/** The checked-out commit (short), with "+changes" when the tree differs from it: which code the figures are of. */
async function commitOf(): Promise<string> {
  const cwd = fileURLToPath(new URL('..', import.meta.url));
  const head = await run('git', ['rev-parse', '--short', 'HEAD'], { cwd }).catch(() => null);
  if (!head || head.code !== 0) return 'unknown';
  const status = await run('git', ['status', '--porcelain', '--untracked-files=no', '--', 'src'], { cwd }).catch(() => null);
  return `${head.stdout.trim()}${status?.stdout.trim() ? ' + src changes' : ''}`;
}

/** Aborts the running benchmark (set while one runs); a first Ctrl-C calls it, so what was measured is still written. */
const interrupt: { current: (() => void) | null; stopped: boolean } = { current: null, stopped: false };

/** Every lib id any benchmark registered, for the sweep on Ctrl-C. */
const everyLibId = new Set<string>();
/** The running benchmark's abort, so Ctrl-C stops it from starting anything new (a fleet's second daemon) while it is swept. */
const running = new Set<AbortController>();

/** A benchmark's lib ids, also remembered run-wide. */
class TrackedIds extends Set<string> {
  override add(id: string): this {
    everyLibId.add(id);
    return super.add(id);
  }
}

async function runBench(bench: Benchmark, selected: ReadonlySet<string>, args: Args, profileDir: string): Promise<SectionOutput[]> {
  const budget = bench.budgetMs({ quick: args.quick, profile: args.profile });
  const abort = new AbortController();
  running.add(abort);
  const libIds = new TrackedIds();
  const ctx: BenchContext = {
    quick: args.quick, profile: args.profile, profileDir, signal: abort.signal, libIds, cleanups: [],
    log: (m) => process.stderr.write(`[${bench.name} +${((performance.now() - t0) / 1000).toFixed(0)}s] ${m}\n`),
  };
  const t0 = performance.now();
  // Past the budget (or on a first Ctrl-C): abort, and kill what the benchmark waits on so its awaits return.
  const stop = (why: string): void => {
    ctx.log(`${why}: aborting`);
    abort.abort();
    killChildren();
    void killMarked(libIds).catch(() => {});
  };
  const timer = setTimeout(() => stop(`over its budget of ${budget / 1000} s`), budget);
  interrupt.current = () => stop('interrupted');
  try {
    return await bench.run(ctx, selected);
  } catch (err) {
    ctx.log(`failed: ${(err as Error).stack ?? String(err)}`);
    return [...selected].map((name) => ({ name, title: bench.sections.find((s) => s.name === name)!.title, figures: [], tables: [], notes: [], data: {},
      error: (err as Error).message }));
  } finally {
    running.delete(abort);
    clearTimeout(timer);
    interrupt.current = null;
    killChildren();
    const killed = await killMarked(libIds).catch((err: Error) => { ctx.log(`cleanup: ${err.message}`); return -1; });
    if (killed > 0) ctx.log(`cleanup: killed ${killed} leftover processes`);
    // Handlers outlive a daemon on purpose, so their cgroups do too: every group of these lib ids goes (cgroups.ts).
    const groups = await sweepCgroups(libIds).catch((err: Error) => { ctx.log(`cgroup cleanup: ${err.message}`); return null; });
    if (groups && groups.removed > 0) ctx.log(`cleanup: removed ${groups.removed} cgroups${groups.killed ? ` (killed ${groups.killed} processes in them)` : ''}`);
    if (groups && groups.left.length > 0) ctx.log(`cleanup: ${groups.left.length} cgroups could not be removed: ${groups.left.slice(0, 5).join(', ')}`);
    for (const c of ctx.cleanups.reverse()) await c().catch((err: Error) => ctx.log(`cleanup: ${err.message}`));
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const args = parseArgs(argv);
  const startedAt = new Date();
  const t0 = performance.now();
  // The code measured is what is built now: name it before the build, not after a run others may commit during.
  const commit = await commitOf();
  const info0 = { command: commandLine(argv), startedAt: startedAt.toISOString(), quick: args.quick, commit,
    machine: { cpus: cpus().length, node: process.version, kernel: release(), memGiB: Math.round(totalmem() / 2 ** 30), loadAvgAtStart: loadavg() } };
  if (args.build) {
    process.stderr.write('bench: building dist/ (npm run build)\n');
    await build();
  }
  const profileDir = join(RESULTS_DIR, `profiles-${info0.startedAt.replace(/[:.]/g, '-')}`);
  const results: BenchResult[] = [];
  for (const bench of BENCHES) {
    if (interrupt.stopped) break;
    const wanted = new Set(bench.sections.map((s) => s.name).filter((n) => (args.only ? args.only.has(n) : n !== 'peers' || args.peers)));
    if (wanted.size === 0) continue;
    const b0 = performance.now();
    const startedAtIso = new Date().toISOString();
    const sections = await runBench(bench, wanted, args, profileDir);
    for (const s of sections) {
      results.push({ name: s.name, title: s.title, startedAt: startedAtIso, durationMs: Math.round(performance.now() - b0), ok: s.error === undefined,
        ...(s.error !== undefined ? { error: s.error } : {}), figures: s.figures, tables: s.tables, notes: s.notes, data: s.data });
    }
  }
  const info: RunInfo = { ...info0, durationMs: Math.round(performance.now() - t0) };
  const file = await writeResultFile(info, results);
  const rel = file.slice(file.indexOf('bench/results/'));
  const sections = new Map(results.map((r) => [r.name, renderSection(r, info, rel)]));
  const profile = renderProfileSection(results, info, rel);
  if (profile) sections.set('profile', profile);
  const row = historyRow(results, info, commit);
  if (row) sections.set('history', await historySection(row));
  await updateBenchmarksMd(sections);
  const failed = results.filter((r) => !r.ok);
  const missed = results.flatMap((r) => r.figures.filter((f) => f.met === false).map((f) => `${r.name}: ${f.name}`));
  process.stderr.write(`bench: ${results.length} sections in ${(info.durationMs / 1000).toFixed(0)} s; results in ${rel}; BENCHMARKS.md updated\n`);
  if (missed.length) process.stderr.write(`bench: targets missed:\n  ${missed.join('\n  ')}\n`);
  if (failed.length) {
    process.stderr.write(`bench: failed: ${failed.map((r) => `${r.name} (${r.error})`).join('; ')}\n`);
    process.exitCode = 1;
  }
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    // The first: the running benchmark is aborted and swept, the rest skipped, and what was measured is written.
    if (!interrupt.stopped) {
      interrupt.stopped = true;
      process.stderr.write(`bench: ${sig}: stopping; what was measured is still written (again to kill everything at once)\n`);
      interrupt.current?.();
      return;
    }
    process.stderr.write(`bench: ${sig}: killing every process the benchmarks started\n`);
    for (const a of running) a.abort();
    killChildren();
    void killMarked(everyLibId).catch(() => {}).then(() => sweepCgroups(everyLibId)).catch(() => {}).finally(() => process.exit(130));
  });
}

await main();
