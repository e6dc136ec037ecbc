/**
 * `--profile` for the fleet: after the measured fleet is gone, a second daemon brings up the same N
 * heartbeat handlers under `node --cpu-prof --heapsnapshot-signal=SIGUSR2` (so the measured figures
 * carry no profiler overhead). Its profile is cut into the apply and a steady window; a heap
 * snapshot is taken at steady state.
 */
import { mkdir, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { BenchContext, SectionOutput } from './context.js';
import { summarizeProfiles } from './cpuprofile.js';
import type { BenchWorkspace, BuiltHandler } from './fixtures.js';
import { bringUpFleet } from './fleet-up.js';
import { summarizeHeapSnapshot } from './heap-snapshot.js';
import { killMarked, processStartedAt, supervisorStats, sleep } from './proc-tools.js';

/** Waits until the daemon has written a new .heapsnapshot in `dir` and it stopped growing; returns its path. */
async function takeHeapSnapshot(pid: number, dir: string): Promise<string> {
  const before = new Set(await readdir(dir));
  process.kill(pid, 'SIGUSR2');
  const until = Date.now() + 120_000;
  let size = -1;
  while (Date.now() < until) {
    await sleep(1000);
    const file = (await readdir(dir)).find((f) => f.endsWith('.heapsnapshot') && !before.has(f));
    if (file === undefined) continue;
    const now = (await stat(join(dir, file))).size;
    if (now === size && now > 0) return join(dir, file);
    size = now;
  }
  throw new Error('the daemon wrote no complete heap snapshot within 120 s');
}

/** Runs the profiled fleet and adds its profiles (data.profiles) and heap table to `section`. */
export async function profileFleet(ctx: BenchContext, ws: BenchWorkspace, handlers: readonly BuiltHandler[], timeoutSec: number, section: SectionOutput,
  periodSec?: number): Promise<void> {
  const n = handlers.length;
  const dirOf = (attempt: number): string => join(ctx.profileDir, `daemon-${n}-${attempt}`);
  for (const a of [1, 2]) await mkdir(dirOf(a), { recursive: true });
  const dirs = ws.instance('profiled');
  ctx.libIds.add(dirs.libId);
  const up = await bringUpFleet(ctx, dirs, ws.root, handlers, { n, timeoutSec },
    { nodeFlags: (a) => ['--cpu-prof', '--cpu-prof-dir', dirOf(a), '--heapsnapshot-signal=SIGUSR2'], cwd: dirOf,
      ...(periodSec !== undefined ? { env: { BENCH_HEARTBEAT_PERIOD: String(periodSec) } } : {}) });
  const { daemon } = up;
  const attempt = up.crash ? 2 : 1;
  // The profile's clock starts with the process: windows are measured from its start in /proc.
  const t0 = (await processStartedAt(daemon.pid)) ?? up.startedAt;
  try {
    const steadyFrom = Date.now() + 5000;
    await sleep(steadyFrom - Date.now() + (ctx.quick ? 10_000 : 30_000));
    const steadyTo = Date.now();
    await sleep(1000);
    const rss = supervisorStats(daemon.pid)?.rssBytes ?? 0;
    const snapshot = await takeHeapSnapshot(daemon.pid, dirOf(attempt));
    const heap = await summarizeHeapSnapshot(snapshot);
    section.tables.push({ title: `Heap snapshot of a daemon with ${n} handlers at steady state (profiled run, RSS ${(rss / 1e6).toFixed(1)} MB before the snapshot; `
      + `JS heap ${(heap.totalBytes / 1e6).toFixed(1)} MB in ${heap.nodes} objects; self size by constructor):`,
      header: ['what', 'count', 'self MB', '%'], rows: heap.top.map((t) => [t.what, t.count, (t.selfBytes / 1e6).toFixed(2), t.pct]) });
    section.data['heap'] = heap;
    await daemon.stop(60_000);
    // Without a crash the apply is the start of this daemon's profile; after one, the whole profile of the daemon that died applying.
    section.notes.push(`Profiled daemon: steady window ${((steadyFrom - t0) / 1000).toFixed(1)}–${((steadyTo - t0) / 1000).toFixed(1)} s after its start (fleet up at ${((up.upAt - t0) / 1000).toFixed(1)} s).`);
    const apply = up.crash ? await summarizeProfiles(dirOf(1), 15) : await summarizeProfiles(dirOf(1), 15, { fromMs: 0, toMs: up.upAt - t0 });
    const steady = await summarizeProfiles(dirOf(attempt), 15, { fromMs: steadyFrom - t0, toMs: steadyTo - t0 });
    section.data['profiles'] = [
      ...apply.map((summary) => ({ label: up.crash ? `supervisor run daemon given ${n} heartbeat handlers at once, until it crashed`
        : `supervisor run daemon: apply of ${n} heartbeat handlers (first ${((up.upAt - t0) / 1000).toFixed(0)} s)`, summary })),
      ...steady.map((summary) => ({ label: `supervisor run daemon: steady state with ${n} heartbeat handlers (${((steadyTo - steadyFrom) / 1000).toFixed(0)} s window)`, summary })),
    ];
  } finally {
    await daemon.stop(60_000);
    await killMarked(new Set([dirs.libId]));
  }
}
