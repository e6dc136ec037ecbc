import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock, type Clock } from '../../../src/core/clock.js';
import { ProcScanner } from '../../../src/supervisor/process/scanner.js';
import type { ProcSnapshot } from '../../../src/supervisor/process/attribution.js';

/** A scan function whose every run the test finishes by hand, to see who shares which scan. */
function manualScans(): { scan: () => Promise<ProcSnapshot>; finish: (i: number) => void; fail: (i: number) => void; started: () => number } {
  const pending: Array<{ resolve: (s: ProcSnapshot) => void; reject: (e: Error) => void }> = [];
  return {
    scan: () => new Promise<ProcSnapshot>((resolve, reject) => { pending.push({ resolve, reject }); }),
    finish: (i) => pending[i]!.resolve({ startedAt: i, procs: [], durationMs: 0, maxBlockMs: 0 }),
    fail: (i) => pending[i]!.reject(new Error(`scan ${i} failed`)),
    started: () => pending.length,
  };
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test('callers at the same moment share one scan', async () => {
  const m = manualScans();
  const scanner = new ProcScanner(m.scan, { minGapMs: 0 });
  const first = scanner.fresh();
  // These arrive while scan 0 runs: it may predate their last kill, so they share scan 1.
  const waiting = Array.from({ length: 200 }, () => scanner.fresh());
  assert.equal(m.started(), 1);
  m.finish(0);
  assert.equal((await first).startedAt, 0);
  await tick();
  assert.equal(m.started(), 2, 'one follow-up scan for all 200 waiters');
  m.finish(1);
  const results = await Promise.all(waiting);
  assert.ok(results.every((r) => r.startedAt === 1));
  assert.equal(scanner.scansRun, 2);
});

test('a call after a scan finished starts a new one; a failed scan does not wedge the scanner', async () => {
  const m = manualScans();
  const scanner = new ProcScanner(m.scan, { minGapMs: 0 });
  const a = scanner.fresh();
  const b = scanner.fresh();
  m.fail(0);
  await assert.rejects(a, /scan 0 failed/);
  await tick();
  assert.equal(m.started(), 2);
  m.finish(1);
  assert.equal((await b).startedAt, 1);
  const c = scanner.fresh();
  assert.equal(m.started(), 3);
  m.finish(2);
  assert.equal((await c).startedAt, 2);
});

test('scans keep a minimum idle gap, and callers during the gap share the scan that follows', async () => {
  const m = manualScans();
  const clock = new ManualClock(1000);
  const scanner = new ProcScanner(m.scan, { minGapMs: 25, clock });
  const first = scanner.fresh();
  m.finish(0);
  await first;
  await clock.advanceAsync(10);
  const a = scanner.fresh();
  await clock.advanceAsync(10);
  const b = scanner.fresh();
  await tick();
  assert.equal(m.started(), 1, 'no scan inside the gap');
  await clock.advanceAsync(5);
  await tick();
  assert.equal(m.started(), 2, 'one scan once the gap has passed');
  m.finish(1);
  assert.deepEqual([(await a).startedAt, (await b).startedAt], [1, 1]);
  await clock.advanceAsync(25);
  const c = scanner.fresh();
  assert.equal(m.started(), 3, 'after the gap a caller starts a scan at once');
  m.finish(2);
  assert.equal((await c).startedAt, 2);
});

test('a clock that ticks between two readings of one call cannot wedge the scanner on an old snapshot', async () => {
  const m = manualScans();
  // Timers on a manual clock; readings from `t`, which moves `step` ms after each one (a loaded machine's Date.now()).
  const timers = new ManualClock(0);
  let t = 1000;
  let step = 0;
  const clock: Clock = {
    now: () => { const v = t; t += step; return v; },
    setTimeout: (fn, ms) => timers.setTimeout(fn, ms),
    clearTimeout: (id) => timers.clearTimeout(id),
  };
  const scanner = new ProcScanner(m.scan, { minGapMs: 10, clock });
  const first = scanner.fresh();
  m.finish(0);
  await first; // the scan ended at t = 1000
  t = 1009;
  step = 1; // this call reads 1009 (inside the gap); any later reading says 1010 (the gap is over)
  const a = scanner.fresh();
  step = 0;
  await timers.advanceAsync(1);
  assert.equal(m.started(), 2, 'the scan after the gap');
  m.finish(1);
  assert.equal((await a).startedAt, 1);
  t += 100;
  const b = scanner.fresh();
  assert.equal(m.started(), 3, 'a later call starts a new scan, not the promise of the old one');
  m.finish(2);
  assert.equal((await b).startedAt, 2);
});
