/**
 * Floors measured in the same run as the figure they divide, because this 2-core machine is
 * shared and noisy: a Node process spawning the same number of `sh -c 'exit 0'` with the same
 * concurrency structure, and `node -e 0` (the cost of starting any Node CLI at all).
 */
import { run } from './proc-tools.js';
import { median } from './stats.js';

/** One stretch of a floor: `count` commands, at most `concurrency` at once. */
export interface FloorPhase { readonly count: number; readonly concurrency: number }

// A standalone ES module (no tsx, no project imports): what Node itself costs to run the commands.
const SPAWN_FLOOR = `
import { spawn } from 'node:child_process';
const phases = JSON.parse(process.argv[1]);
const t0 = performance.now();
const perPhase = [];
for (const { count, concurrency } of phases) {
  const p0 = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next += 1;
      await new Promise((resolve, reject) => {
        const c = spawn('/bin/sh', ['-c', 'exit 0'], { stdio: 'ignore', detached: true });
        c.once('error', reject);
        c.once('exit', (code) => (code === 0 ? resolve() : reject(new Error('exit ' + code))));
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  perPhase.push(performance.now() - p0);
}
process.stdout.write(JSON.stringify({ insideMs: performance.now() - t0, perPhase }));
`;

export interface SpawnFloor {
  /** Wall time of the whole Node process, start to exit (ms). */
  readonly wallMs: number;
  /** Time spent spawning inside it (ms). */
  readonly insideMs: number;
  readonly perPhaseMs: readonly number[];
}

/** Wall time of a Node process that runs the phases one after the other, then exits. */
export async function spawnFloor(phases: readonly FloorPhase[]): Promise<SpawnFloor> {
  const r = await run(process.execPath, ['--input-type=module', '-e', SPAWN_FLOOR, JSON.stringify(phases)], { timeoutMs: 300_000 });
  if (r.code !== 0) throw new Error(`spawn floor failed (exit ${r.code}): ${r.stderr.slice(-500)}`);
  const inner = JSON.parse(r.stdout) as { insideMs: number; perPhase: number[] };
  return { wallMs: r.ms, insideMs: inner.insideMs, perPhaseMs: inner.perPhase };
}

/** Median wall time of `node -e 0` over `runs` runs (ms), and every sample. */
export async function nodeStartFloor(runs: number): Promise<{ medianMs: number; samples: number[] }> {
  const samples: number[] = [];
  for (let i = 0; i < runs; i += 1) samples.push((await run(process.execPath, ['-e', '0'])).ms);
  return { medianMs: median(samples), samples };
}
