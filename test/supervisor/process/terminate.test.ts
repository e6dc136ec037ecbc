import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { runCommand } from '../../../src/supervisor/process/run-command.js';
import type { RunSpec } from '../../../src/supervisor/process/run-command.js';
import { MARK_ENV, scanAttributed, scanProcesses, sharedScanner } from '../../../src/supervisor/process/attribution.js';
import { ProcScanner } from '../../../src/supervisor/process/scanner.js';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readProcStat } from '../../../src/supervisor/process/proc.js';
import { KILL_WAIT_MS, terminateHandler } from '../../../src/supervisor/process/terminate.js';
import { systemClock, type Clock, type TimerId } from '../../../src/core/clock.js';
import { HeldClock, killAllMarked, liveMarked, makeTempDir, removeDir, uniqueLibId, waitFor } from './kit.js';

let dir: string;
before(async () => { dir = await makeTempDir('ext-sup-term-'); });
after(async () => { await removeDir(dir); });

let seq = 0;
function spec(libId: string, handler: string, shell: string, extra: Partial<RunSpec> = {}): RunSpec {
  seq += 1;
  return {
    libId, handler, operation: 'enable', command: { shell }, cwd: dir, env: {},
    stdoutFile: join(dir, `${seq}.out`), stderrFile: join(dir, `${seq}.err`), timeoutMs: 10_000, ...extra,
  };
}

const exists = (file: string) => async () => (await readFile(file).then(() => true, () => undefined));

/**
 * The one process of `handler` once it has become `sleep`: a scan during its execve reads a blank
 * environ (no mark), so a scan right after the ready file can miss it.
 */
function sleeperOf(libId: string, handler: string) {
  return waitFor(`${handler}'s daemon in a scan, as sleep`, async () => {
    const found = (await scanAttributed(libId)).get(handler) ?? [];
    const comm = found.length === 1 ? (() => { try { return readFileSync(`/proc/${found[0]!.pid}/comm`, 'utf8'); } catch { return ''; } })() : '';
    return comm === 'sleep\n' ? found : undefined;
  });
}

describe('terminateHandler', () => {
  test('cleanup ends a daemon a finished command left behind, with SIGTERM alone', async () => {
    const libId = uniqueLibId();
    try {
      const ready = join(dir, 'daemon.ready');
      const r = await (await runCommand(spec(libId, 'Daemon', `sh -c ': > ${JSON.stringify(ready)}; exec sleep 1000' &`))).done;
      assert.equal(r.outcome, 'exited');
      await waitFor('the daemon', exists(ready));
      const daemon = await sleeperOf(libId, 'Daemon');
      assert.equal(daemon.length, 1);

      const report = await terminateHandler({ libId, handler: 'Daemon', graceMs: 3000, reason: 'cleanup' });
      assert.deepEqual(report.termed, daemon.map((p) => p.pid));
      assert.deepEqual([report.reason, report.killed, report.unkillable], ['cleanup', [], []]);
      assert.deepEqual(await liveMarked(libId), []);

      const nothing = await terminateHandler({ libId, handler: 'Daemon', graceMs: 3000, reason: 'cleanup' });
      assert.deepEqual([nothing.termed, nothing.killed, nothing.unkillable], [[], [], []]);
    } finally {
      await killAllMarked(libId);
    }
  });

  test('a timeout ends only its own run: an earlier daemon of the same handler is left alone', async () => {
    const libId = uniqueLibId();
    try {
      const ready = join(dir, 'own-run.ready');
      await (await runCommand(spec(libId, 'H', `sh -c ': > ${JSON.stringify(ready)}; exec sleep 1000' &`))).done;
      await waitFor('the daemon', exists(ready));
      const [daemon] = await sleeperOf(libId, 'H');
      assert.ok(daemon);
      const hung = await (await runCommand(spec(libId, 'H', 'setsid sleep 1000 & sleep 1000', { timeoutMs: 200, graceMs: 300 }))).done;
      assert.equal(hung.outcome, 'timedOut');
      assert.ok(!hung.termination?.termed.includes(daemon.pid));
      assert.deepEqual((await liveMarked(libId)).map((p) => p.pid), [daemon.pid]);
    } finally {
      await killAllMarked(libId);
    }
  });

  test('processes forked during the grace, in new sessions, are found again and killed', async () => {
    const libId = uniqueLibId();
    try {
      // A forker outside the group that ignores TERM and keeps starting setsid children (each
      // inherits the ignored TERM). The timeout counts only once it has started four of them and
      // the command's own shell ignores TERM too (HeldClock), so a loaded machine changes nothing.
      const kids = await makeTempDir('ext-sup-forker-');
      const started = join(kids, 'shell.ready');
      const clock = new HeldClock();
      const running = await runCommand(spec(libId, 'Forker',
        `setsid sh -c 'trap "" TERM; while :; do setsid sleep 1000 & : > "$0/$!"; sleep 0.03; done' ${JSON.stringify(kids)} & trap '' TERM; : > ${JSON.stringify(started)}; sleep 1000`,
        { timeoutMs: 300, graceMs: 300, clock }));
      await waitFor('four children and the shell ready', async () => ((await readdir(kids)).length >= 5 ? true : undefined), 120_000);
      clock.release();
      const r = await running.done;
      assert.equal(r.outcome, 'timedOut');
      assert.ok(await exists(started)());
      await removeDir(kids);
      assert.ok((r.termination?.killed.length ?? 0) > 3, 'the children forked during the grace got SIGKILL too');
      assert.deepEqual(r.termination?.unkillable, []);
      assert.deepEqual(await liveMarked(libId), []);
    } finally {
      await killAllMarked(libId);
    }
  });

  test('a process that survives SIGKILL is reported unkillable, not waited for forever', async () => {
    const libId = uniqueLibId();
    const pidFile = join(dir, 'survivor.pid');
    const shellReady = join(dir, 'survivor-shell.ready');
    const clock = new HeldClock();
    const survivor = (): number => {
      try { return Number(readFileSync(pidFile, 'utf8').trim()); } catch { return Number.NaN; }
    };
    try {
      const running = await runCommand(spec(libId, 'Stuck',
        `setsid sh -c 'trap "" TERM; echo $$ > ${JSON.stringify(pidFile)}.tmp; mv ${JSON.stringify(pidFile)}.tmp ${JSON.stringify(pidFile)}; exec sleep 1000' & trap '' TERM; : > ${JSON.stringify(shellReady)}; sleep 1000`,
        {
          timeoutMs: 300, graceMs: 300, clock,
          // Simulates a process in uninterruptible sleep: SIGKILL to it is lost.
          sendSignal: (pid, sig) => {
            if (sig === 'SIGKILL' && pid === survivor()) return;
            process.kill(pid, sig);
          },
        }));
      await waitFor('the survivor to start', exists(pidFile), 120_000);
      await waitFor('the shell to ignore TERM', exists(shellReady), 120_000);
      clock.release();
      const r = await running.done;
      assert.equal(r.outcome, 'timedOut');
      assert.deepEqual(r.termination?.unkillable, [survivor()]);
      assert.ok(r.termination?.killed.includes(survivor()));
      assert.match(r.error ?? '', new RegExp(`unkillable: ${survivor()}`));
      assert.ok((r.termination?.durationMs ?? 0) >= KILL_WAIT_MS, 'it waited the bounded kill wait, then gave up');
      assert.equal(readProcStat(survivor())?.state, 'S', 'the survivor really is still alive');
      assert.deepEqual((await liveMarked(libId)).map((p) => p.pid), [survivor()]);
    } finally {
      await killAllMarked(libId);
    }
    assert.deepEqual(await liveMarked(libId), []);
  });

  test('50 hung commands timing out together all end, sharing /proc scans', async () => {
    const libId = uniqueLibId();
    const ready = await makeTempDir('ext-sup-hung-');
    // Hung means: TERM ignored and the setsid child started. The timeouts wait for that (a loaded
    // machine may not even have run a shell 300 ms after its spawn: SIGTERM then just ends it).
    const clock = new HeldClock();
    try {
      const runs = Array.from({ length: 50 }, (_, i) => runCommand(spec(libId, `Hung.${i}`,
        `trap '' TERM; setsid sleep 1000 & : > ${JSON.stringify(join(ready, String(i)))}; sleep 1000`, { timeoutMs: 300, graceMs: 300, clock })));
      await waitFor('all 50 commands to be hung', async () => ((await readdir(ready)).length === 50 ? true : undefined), 60_000);
      const scansBefore = sharedScanner.scansRun;
      const t0 = Date.now();
      clock.release();
      const results = await Promise.all(runs.map(async (r) => (await r).done));
      const ms = Date.now() - t0;
      const scans = sharedScanner.scansRun - scansBefore;
      const slowest = Math.max(...results.map((r) => r.termination?.durationMs ?? 0));
      const longest = Math.max(...results.map((r) => r.durationMs));
      console.log(`50 hung commands (timeout 300 ms, grace 300 ms): all ended ${ms} ms after their timeouts were let go; `
        + `slowest termination ${slowest} ms, longest run ${longest} ms; ${scans} /proc scans`);
      for (const r of results) {
        assert.equal(r.outcome, 'timedOut');
        assert.ok((r.termination?.killed.length ?? 0) >= 2);
        assert.deepEqual(r.termination?.unkillable, []);
      }
      // Unshared, each termination would scan ~10 times (500 in all); shared, at most one per 10 ms gap.
      assert.ok(scans <= Math.ceil(ms / 10) + 2, `terminations shared their scans (${scans} in ${ms} ms)`);
      assert.deepEqual(await liveMarked(libId), []);
    } finally {
      await killAllMarked(libId);
      await removeDir(ready);
    }
  });

  test('options that could signal the wrong processes are refused with a code', async () => {
    const base = { libId: uniqueLibId(), handler: 'H', graceMs: 10, reason: 'cleanup' as const };
    for (const pgid of [0, 1, -4, 2.5, process.pid]) {
      await assert.rejects(terminateHandler({ ...base, pgid }), (e: Error & { code?: string }) => e.code === 'E_TERMINATE_OPTIONS' && e.message.includes(String(pgid)));
    }
    await assert.rejects(terminateHandler({ ...base, graceMs: -1 }), /graceMs/);
    await assert.rejects(terminateHandler({ ...base, libId: 'x' }), (e: Error & { code?: string }) => e.code === 'E_BAD_LIB_ID');
  });
});

describe('a process whose mark could not be read', () => {
  test('a kill scan that finds nothing while some environ read empty looks once more, and ends what it then sees', async () => {
    const libId = uniqueLibId();
    const child = spawn('sleep', ['1000'], { stdio: 'ignore', detached: true, env: { ...process.env, [MARK_ENV]: `${libId}:Mid.Exec` } });
    await once(child, 'spawn');
    try {
      await waitFor('the marked sleep', async () => ((await scanAttributed(libId)).get('Mid.Exec')?.length === 1 ? true : undefined));
      // The first walk stands for one taken while the process was inside execve: no mark seen, one blank environ.
      const walks = (blankFirst: number) => {
        let n = 0;
        return new ProcScanner(async () => (n++ === 0
          ? { startedAt: Date.now(), procs: [], durationMs: 0, maxBlockMs: 0, blankEnviron: blankFirst }
          : scanProcesses()));
      };
      const trusted = await terminateHandler({ libId, handler: 'Mid.Exec', graceMs: 2000, reason: 'cleanup', scanner: walks(0) });
      assert.deepEqual(trusted.termed, [], 'no blank environ: an empty scan is believed (no second walk for every cleanup)');
      const report = await terminateHandler({ libId, handler: 'Mid.Exec', graceMs: 2000, reason: 'cleanup', scanner: walks(1) });
      assert.deepEqual(report.termed, [child.pid]);
      assert.deepEqual(report.unkillable, []);
      // The sleep is this test's own child: gone from the scan, it is reaped here.
      if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
      assert.deepEqual(await liveMarked(libId), []);
    } finally {
      child.kill('SIGKILL');
      await killAllMarked(libId);
    }
  });
});
