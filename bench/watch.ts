/**
 * The folder watcher alone (in this process, no daemon): N handler folders watched at once, one
 * write of heartbeat.log in each, time from the first write until the watcher has reported all
 * N; once for a new file and once for a rewrite of every file. Moved out of the tests, which
 * must not time anything: the test suite checks that every event arrives, this says how soon.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FolderWatcher } from '../src/supervisor/monitor/folder-watcher.js';
import { checkDeadline, newSection, type BenchContext, type Benchmark, type SectionOutput } from './context.js';
import { sleep } from './proc-tools.js';
import { round } from './stats.js';

const TITLE = 'Folder watcher: one heartbeat write in each of N folders, until every event is seen';

interface Round {
  /** ms from the first write until the last folder's event arrived. */
  readonly last: number;
  /** ms the writes themselves took (all issued at once). */
  readonly writes: number;
}

async function measure(ctx: BenchContext, root: string, n: number): Promise<{ created: Round; rewritten: Round }> {
  const watcher = new FolderWatcher();
  try {
    const dirs = Array.from({ length: n }, (_, i) => join(root, `Handler.${i}-1.0`));
    await Promise.all(dirs.map((d) => mkdir(d, { recursive: true })));
    let seen = new Map<string, number>();
    const probes = new Set<string>();
    for (const d of dirs) {
      watcher.add(d, (e) => {
        if (e.path.endsWith('.probe')) probes.add(d);
        else if (e.path.endsWith('heartbeat.log') && !seen.has(d)) seen.set(d, performance.now());
      });
    }
    // Every OS watch live before anything is timed: probe files until each folder has reported one.
    while (probes.size < dirs.length) {
      checkDeadline(ctx, `waiting for ${dirs.length - probes.size} folder watches to go live`);
      await Promise.all(dirs.filter((d) => !probes.has(d)).map((d) => writeFile(join(d, '.probe'), 'p')));
      await sleep(50);
    }
    const round = async (): Promise<Round> => {
      seen = new Map();
      const start = performance.now();
      await Promise.all(dirs.map((d) => writeFile(join(d, 'heartbeat.log'), '[]')));
      const writes = performance.now() - start;
      while (seen.size < dirs.length) {
        checkDeadline(ctx, `waiting for ${dirs.length - seen.size} of ${dirs.length} write events`);
        await sleep(5);
      }
      return { last: Math.max(...seen.values()) - start, writes };
    };
    const created = await round();
    await sleep(100); // a rewrite within 50 ms of the previous event of a file may be folded into it
    const rewritten = await round();
    return { created, rewritten };
  } finally {
    await watcher.close();
  }
}

export const watchBench: Benchmark = {
  name: 'watch',
  sections: [{ name: 'watch', title: TITLE }],
  budgetMs: () => 60_000,
  async run(ctx: BenchContext): Promise<SectionOutput[]> {
    const s = newSection('watch', TITLE);
    const n = 300;
    const root = await mkdtemp(join(tmpdir(), 'bench-watch-'));
    ctx.cleanups.push(() => rm(root, { recursive: true, force: true }));
    const { created, rewritten } = await measure(ctx, root, n);
    ctx.log(`${n} folders: all events ${created.last.toFixed(0)} ms after the writes started (new file), ${rewritten.last.toFixed(0)} ms (rewrite)`);
    s.figures.push(
      { name: `all ${n} events seen, new heartbeat.log in each folder`, value: round(created.last, 0), unit: 'ms',
        floor: round(created.writes, 0), floorLabel: `the ${n} writes alone` },
      { name: `all ${n} events seen, every heartbeat.log rewritten`, value: round(rewritten.last, 0), unit: 'ms',
        floor: round(rewritten.writes, 0), floorLabel: `the ${n} writes alone` },
    );
    s.notes.push(`One FolderWatcher in the bench process watches ${n} folders; every OS watch is proven live (a probe file reported) before the `
      + 'clock starts. Each round issues all writes at once and times from the first write to the last event reported.');
    s.data['watch'] = { n, created, rewritten };
    return [s];
  },
};
