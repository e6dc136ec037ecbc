import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import {
  ProcUsageTracker, readRunSeconds, loadProcConstants, readProcConstants, readUptimeSec, summarizeHandlers, type ProcConstants,
} from '../../../src/supervisor/monitor/proc-usage.js';
import { scanProcesses, groupByHandler, MARK_ENV } from '../../../src/supervisor/process/attribution.js';
import type { ProcInfo } from '../../../src/supervisor/process/proc.js';
import { SupervisorError } from '../../../src/core/errors.js';
import { killAllMarked, liveMarked, uniqueLibId, waitFor } from '../process/kit.js';

const CONSTANTS: ProcConstants = Object.freeze({ clockTicks: 100, pageSize: 4096, bootTimeMs: 1_700_000_000_000 });

function proc(pid: number, startTicks: number, cpuTicks: number, rssPages = 10): ProcInfo {
  return { pid, ppid: 1, pgid: pid, sid: pid, state: 'S', startTicks, comm: 'x', utimeTicks: cpuTicks - 1, stimeTicks: 1, rssPages };
}

describe('constants from the system', () => {
  test('clock ticks and page size are what getconf says; boot time agrees with /proc/uptime', async () => {
    const c = await readProcConstants();
    assert.equal(c.clockTicks, Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()));
    assert.equal(c.pageSize, Number(execFileSync('getconf', ['PAGESIZE'], { encoding: 'utf8' }).trim()));
    // btime is in whole seconds and NTP may have slewed since boot: a couple of seconds of slack.
    assert.ok(Math.abs(c.bootTimeMs - (Date.now() - readUptimeSec() * 1000)) < 3000);
    assert.equal(loadProcConstants(), loadProcConstants(), 'read once, then shared');
    assert.deepEqual(await loadProcConstants(), c);
  });

  test('uptime moves forward; an unreadable /proc is a coded error', async () => {
    const a = readUptimeSec();
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.ok(readUptimeSec() > a);
    assert.throws(() => readUptimeSec('/nonexistent-proc'), (e: unknown) => e instanceof SupervisorError && e.code === 'E_PROC_UNAVAILABLE');
  });
});

describe('readRunSeconds', () => {
  test('reads the exact on-CPU time from schedstat, and it grows with work; a gone pid is null', () => {
    const a = readRunSeconds(process.pid);
    assert.ok(a !== null && a > 0);
    // Burn 50 ms of this process's own CPU time (not wall time: on a loaded machine 50 ms of wall
    // clock may hold much less CPU).
    const cpu0 = process.cpuUsage();
    while (process.cpuUsage(cpu0).user < 50_000) { /* burn CPU */ }
    const b = readRunSeconds(process.pid)!;
    assert.ok(b - a >= 0.03, `schedstat grew by ${b - a} s over 50 ms of work`);
    assert.equal(readRunSeconds(2 ** 22 + 999), null);
  });
});

describe('ProcUsageTracker', () => {
  test('first sight: the average over the life so far; then the delta between samples', () => {
    const t = new ProcUsageTracker(CONSTANTS, { runSeconds: () => null });
    // Started 10 s after boot, 5 s of CPU by uptime 20 s: 50 %.
    const first = t.sample([proc(42, 1000, 500)], 20).get(42)!;
    assert.deepEqual(first, { pid: 42, cpuPercent: 50, cpuSecondsUsed: 5, memoryBytes: 40960, startMs: CONSTANTS.bootTimeMs + 10_000 });
    // 1.5 s more CPU in 2 s: 75 %.
    assert.equal(t.sample([proc(42, 1000, 650)], 22).get(42)!.cpuPercent, 75);
    // A multi-threaded process can use more than one core.
    assert.equal(t.sample([proc(42, 1000, 850)], 23).get(42)!.cpuPercent, 200);
  });

  test('CPU seconds used: the whole life at first sight, then each delta, so their sum is the CPU time (a counter)', () => {
    const t = new ProcUsageTracker(CONSTANTS, { runSeconds: () => null });
    assert.equal(t.sample([proc(42, 1000, 500)], 20).get(42)!.cpuSecondsUsed, 5);
    assert.equal(t.sample([proc(42, 1000, 650)], 22).get(42)!.cpuSecondsUsed, 1.5);
    assert.equal(t.sample([proc(42, 1000, 650)], 23).get(42)!.cpuSecondsUsed, 0);
    assert.equal(t.sample([proc(42, 9000, 10)], 100).get(42)!.cpuSecondsUsed, 0.1, 'a reused pid is a new process');
  });

  test('a reused pid (same pid, new start time) starts afresh instead of a delta against the old process', () => {
    const t = new ProcUsageTracker(CONSTANTS, { runSeconds: () => null });
    t.sample([proc(42, 1000, 5000)], 100);
    const reused = t.sample([proc(42, 9000, 10)], 100.5).get(42)!;
    // Lifetime of the new process: 0.1 s CPU in 10.5 s; a delta against the old one would be negative.
    assert.ok(Math.abs(reused.cpuPercent - (0.1 / 10.5) * 100) < 1e-9);
    assert.equal(reused.startMs, CONSTANTS.bootTimeMs + 90_000);
  });

  test('vanished pids are forgotten at once; no time passing never divides by zero', () => {
    const t = new ProcUsageTracker(CONSTANTS, { runSeconds: () => null });
    t.sample([proc(1, 0, 0), proc(2, 0, 0), proc(3, 0, 0)], 10);
    assert.equal(t.tracked, 3);
    t.sample([proc(2, 0, 10)], 11);
    assert.equal(t.tracked, 1);
    assert.equal(t.sample([proc(2, 0, 10)], 11).get(2)!.cpuPercent, (0.1 / 11) * 100, 'same instant: lifetime average');
    assert.equal(t.sample([proc(7, 2000, 5)], 10).get(7)!.cpuPercent, 0, 'start time after the uptime read: 0, not negative or infinite');
    t.sample([], 12);
    assert.equal(t.tracked, 0);
  });

  test('schedstat is read again only for a process that ran or was charged a tick since the last sample', () => {
    const reads: number[] = [];
    const ns = new Map([[1, 2.0], [2, 3.0], [3, 4.0]]);
    const t = new ProcUsageTracker(CONSTANTS, { runSeconds: (pid) => { reads.push(pid); return ns.get(pid) ?? null; } });
    const sleeping = (pid: number, ticks: number, state = 'S'): ProcInfo => ({ ...proc(pid, 100, ticks), state });
    t.sample([sleeping(1, 200), sleeping(2, 300), sleeping(3, 400)], 50);
    assert.deepEqual(reads, [1, 2, 3], 'first sight: every one read');
    reads.length = 0;
    ns.set(1, 2.5).set(2, 3.001).set(3, 4.2);
    const usage = t.sample([sleeping(1, 250), sleeping(2, 300), sleeping(3, 400, 'R')], 55);
    assert.deepEqual(reads, [1, 3], 'pid 2 slept and was charged no tick: its last exact figure stands');
    assert.equal(usage.get(1)!.cpuPercent, 10);
    assert.equal(usage.get(2)!.cpuPercent, 0);
    assert.ok(Math.abs(usage.get(3)!.cpuPercent - 4) < 1e-9, 'a running process is always read');
    reads.length = 0;
    // Charged a tick later: the exact figure catches up with everything since the last read.
    assert.ok(Math.abs(t.sample([sleeping(2, 301)], 60).get(2)!.cpuPercent - (0.001 / 5) * 100) < 1e-9);
    assert.deepEqual(reads, [2]);
  });

  test('summarizeHandlers sums per handler, sorts pids, finds the oldest start and rounds CPU', () => {
    const t = new ProcUsageTracker(CONSTANTS, { runSeconds: () => null });
    const a = [proc(30, 500, 100), proc(10, 300, 100)];
    const b = [proc(20, 100, 0, 0)];
    const usage = t.sample([...a, ...b], 10);
    const out = summarizeHandlers(new Map([['A', a], ['B', b], ['C', []]]), usage);
    const sumA = usage.get(30)!.cpuPercent + usage.get(10)!.cpuPercent;
    assert.deepEqual(out.get('A'), { pids: [10, 30], cpuPercent: Math.round(sumA * 10) / 10, cpuSecondsUsed: 2, memoryBytes: 2 * 40960, oldestStartMs: CONSTANTS.bootTimeMs + 3000 });
    assert.deepEqual(out.get('B'), { pids: [20], cpuPercent: 0, cpuSecondsUsed: 0, memoryBytes: 0, oldestStartMs: CONSTANTS.bootTimeMs + 1000 });
    assert.deepEqual(out.get('C'), { pids: [], cpuPercent: 0, cpuSecondsUsed: 0, memoryBytes: 0, oldestStartMs: null });
  });
});

describe('sampling real processes', () => {
  test('300 marked processes sampled repeatedly: every one measured, no fd held, and forgotten once gone', async () => {
    const libId = uniqueLibId();
    const count = 300;
    const parent = spawn('sh', ['-c', `i=0; while [ $i -lt ${count} ]; do sleep 600 & i=$((i+1)); done; wait`],
      { stdio: 'ignore', env: { ...process.env, [MARK_ENV]: `${libId}:Many` } });
    try {
      // Every child asleep in sleep(1), not merely forked: a fork of the shell that has not run yet
      // (a loaded machine) reads rss 0, since the kernel folds its per-CPU RSS counts in batches.
      const asleep = (ps: readonly ProcInfo[]): number => ps.filter((p) => p.comm === 'sleep' && p.state === 'S').length;
      await waitFor('the sleeps to start', async () => {
        const marked = await liveMarked(libId);
        return marked.length === count + 1 && asleep(marked) === count ? true : undefined;
      }, 20_000);
      const tracker = new ProcUsageTracker(await loadProcConstants());
      const fdsBefore = readdirSync('/proc/self/fd').length;
      for (let round = 0; round < 3; round += 1) {
        const groups = groupByHandler(await scanProcesses(), libId);
        const usage = tracker.sample(groups.get('Many') ?? [], readUptimeSec());
        assert.equal(usage.size, count + 1);
        for (const u of usage.values()) {
          assert.ok(u.memoryBytes > 0 && u.cpuPercent >= 0 && u.cpuPercent < 50, JSON.stringify(u));
        }
      }
      assert.equal(readdirSync('/proc/self/fd').length, fdsBefore, 'sampling holds no descriptor per process');
      assert.equal(tracker.tracked, count + 1);
      await waitFor('the sleeps to be gone', async () => {
        await killAllMarked(libId);
        return (await liveMarked(libId)).length === 0 ? true : undefined;
      });
      tracker.sample(groupByHandler(await scanProcesses(), libId).get('Many') ?? [], readUptimeSec());
      assert.equal(tracker.tracked, 0);
    } finally {
      parent.kill('SIGKILL');
      await waitFor('the sleeps to be gone', async () => {
        await killAllMarked(libId);
        return (await liveMarked(libId)).length === 0 ? true : undefined;
      });
    }
    assert.deepEqual(await liveMarked(libId), []);
  });
});
