/** A command still running after a supervisor restart keeps its own deadline, counted from when its process started. */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ManualClock, type Clock } from '../../../src/core/clock.js';
import { RUN_ENV } from '../../../src/supervisor/process/attribution.js';
import { readProcStat } from '../../../src/supervisor/process/proc.js';
import { alive } from '../../helpers/isolation.js';
import { loadProcConstants } from '../../../src/supervisor/monitor/proc-usage.js';
import { recoverCommand } from '../../../src/supervisor/lifecycle/recover-command.js';

const dirs: string[] = [];
after(async () => { for (const d of dirs) await rm(d, { recursive: true, force: true }); });

describe('recoverCommand', () => {
  test('the deadline of a command still running counts from its process start, not from the checkpoint of its request', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'exts-recover-'));
    dirs.push(dir);
    const runId = randomBytes(8).toString('hex');
    const child = spawn('sh', ['-c', 'exec sleep 300'], { detached: true, stdio: 'ignore', env: { ...process.env, [RUN_ENV]: runId } });
    const pid = child.pid!;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      const exitFile = join(dir, 'enable.exit');
      await writeFile(`${exitFile}.pid`, `${pid}\n`);
      const c = await loadProcConstants();
      const processStart = c.bootTimeMs + (readProcStat(pid)!.startTicks / c.clockTicks) * 1000;
      // The request was checkpointed 10 s before its process existed (a spawner queue); the timeout is 12 s.
      const running = { step: 0, op: 'enable' as const, runId, exitFile, startedAt: processStart - 10_000 };
      const base = { libId: randomBytes(6).toString('hex'), handler: 'H.Recover', timeoutMs: 12_000, graceMs: 200, pollMs: 10 };

      // 5 s after its start: within its own 12 s (from the request, 15 s would have passed).
      const stop = new AbortController();
      const clock = { now: () => { stop.abort(); return processStart + 5000; } } as unknown as Clock;
      const waited = await recoverCommand(running, { ...base, clock, signal: stop.signal });
      assert.equal(waited.kind, 'unknown', 'still running within its deadline: waited for, not ended');
      assert.ok(alive(pid), 'the command was left running');

      // 13 s after its start: past its deadline, ended as a timeout.
      const late = await recoverCommand(running, { ...base, clock: new ManualClock(processStart + 13_000), signal: new AbortController().signal });
      assert.equal(late.kind, 'timedOut');
      await exited;
      assert.ok(!alive(pid), 'the command was ended');
    } finally {
      try { process.kill(-pid, 'SIGKILL'); } catch { /* already gone */ }
    }
  });
});
