import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCommand } from '../../../src/supervisor/process/run-command.js';
import type { RunSpec } from '../../../src/supervisor/process/run-command.js';
import { scanAttributed } from '../../../src/supervisor/process/attribution.js';
import { ManualClock, type TimerId } from '../../../src/core/clock.js';
import { HeldClock, killAllMarked, liveMarked, makeTempDir, removeDir, uniqueLibId, waitFor } from './kit.js';

let dir: string;
before(async () => { dir = await makeTempDir('ext-sup-run-'); });
after(async () => { await removeDir(dir); });

/** A manual clock that counts the timers it has fired. */
class CountingClock extends ManualClock {
  fired = 0;
  override setTimeout(fn: () => void, ms: number): TimerId {
    return super.setTimeout(() => { this.fired += 1; fn(); }, ms);
  }
}

let seq = 0;
/** A spec with its own libId and output files; every test kills what is left under that libId. */
function spec(command: RunSpec['command'], extra: Partial<RunSpec> = {}): RunSpec {
  seq += 1;
  return {
    libId: uniqueLibId(), handler: 'Contoso.Test', operation: 'enable', command, cwd: dir, env: {},
    stdoutFile: join(dir, `${seq}.stdout`), stderrFile: join(dir, `${seq}.stderr`), timeoutMs: 10_000, ...extra,
  };
}

/** Runs a spec to the end, then proves by /proc that nothing of it is left running. */
/** Runs a command to its end (`started` runs once it is spawned) and checks that no marked process survives it. */
async function runClean(s: RunSpec, started?: () => Promise<void>) {
  try {
    const running = await runCommand(s);
    await started?.();
    const result = await running.done;
    assert.deepEqual(await liveMarked(s.libId), [], 'no process with the mark survives');
    return result;
  } finally {
    await killAllMarked(s.libId);
  }
}

describe('normal exits', () => {
  test('exit 0 and exit 3 are exited outcomes with their codes', async () => {
    const ok = await runClean(spec({ shell: 'exit 0' }));
    assert.equal(ok.outcome, 'exited');
    assert.equal(ok.exitCode, 0);
    assert.equal(ok.error, null);
    assert.equal(ok.termination, null);
    const three = await runClean(spec({ shell: 'exit 3' }));
    assert.deepEqual([three.outcome, three.exitCode, three.signal], ['exited', 3, null]);
    assert.ok(three.pid !== null && three.endedAt >= three.startedAt && three.durationMs === three.endedAt - three.startedAt);
  });

  test('stdout and stderr land in their files and the tails are their ends', async () => {
    const s = spec({ shell: 'i=0; while [ $i -lt 2000 ]; do echo "out line $i"; i=$((i+1)); done; echo "err: boom" >&2; exit 1' });
    const r = await runClean(s);
    const out = await readFile(s.stdoutFile, 'utf8');
    assert.ok(out.startsWith('out line 0\n') && out.endsWith('out line 1999\n'));
    assert.equal(r.stdoutTail, out.slice(-4096));
    assert.equal(await readFile(s.stderrFile, 'utf8'), 'err: boom\n');
    assert.equal(r.stderrTail, 'err: boom\n');
  });

  test('output files are truncated by each run; one file for both streams keeps both', async () => {
    const s = spec({ shell: 'echo second' });
    await writeFile(s.stdoutFile, 'old content that is longer\n');
    assert.equal((await runClean(s)).stdoutTail, 'second\n');
    const both = join(dir, 'both.log');
    const r = await runClean(spec({ shell: 'echo to-out; echo to-err >&2; echo again' }, { stdoutFile: both, stderrFile: both }));
    assert.equal(await readFile(both, 'utf8'), 'to-out\nto-err\nagain\n');
    assert.equal(r.stderrTail, r.stdoutTail);
  });

  test('stdin is closed: read returns at once with EOF', async () => {
    const r = await runClean(spec({ shell: 'if read x; then echo "got $x"; else echo "eof"; fi' }, { timeoutMs: 5000 }));
    assert.equal(r.outcome, 'exited');
    assert.equal(r.stdoutTail, 'eof\n');
  });

  test('cwd, custom env, the mark, and the run id are what the command sees', async () => {
    const s = spec({ shell: 'pwd; echo "$CUSTOM_VAR|$SUPERVISOR_OPERATION|$EXT_SUPERVISOR_MARK"; echo "${EXT_SUPERVISOR_RUN:-none}"; echo "$PATH" | grep -c /' },
      { env: { CUSTOM_VAR: 'a b "c"', SUPERVISOR_OPERATION: 'enable', EXT_SUPERVISOR_MARK: 'forged' } });
    const r = await runClean(s);
    const [cwd, vars, run, path] = r.stdoutTail.trimEnd().split('\n');
    assert.equal(cwd, dir);
    assert.equal(vars, `a b "c"|enable|${s.libId}:Contoso.Test`, 'a configured env var cannot forge the mark');
    assert.match(run ?? '', /^[0-9a-f]{16}$/);
    assert.equal(path, '1', 'process.env is inherited');
  });

  test('file form execs the script directly with its arguments, no shell', async () => {
    const script = join(dir, 'script.sh');
    await writeFile(script, '#!/bin/sh\nfor a in "$@"; do echo "[$a]"; done\nexit 7\n');
    await chmod(script, 0o755);
    const r = await runClean(spec({ file: script, args: ['--action-apply', 'two words', '$HOME'] }));
    assert.deepEqual([r.outcome, r.exitCode], ['exited', 7]);
    assert.equal(r.stdoutTail, '[--action-apply]\n[two words]\n[$HOME]\n');
  });
});

describe('descendants after a normal exit', () => {
  test('a daemon left behind (sleep &) does not hold the command up and stays attributed', async () => {
    const s = spec({ shell: 'sleep 1000 & echo started' });
    try {
      const r = await (await runCommand(s)).done;
      assert.equal(r.outcome, 'exited');
      assert.equal(r.exitCode, 0);
      // Right after the fork the background child may still be `sh`; it becomes `sleep` on exec.
      const procs = await waitFor('the daemon to exec', async () => {
        const found = (await scanAttributed(s.libId)).get('Contoso.Test') ?? [];
        return found.length === 1 && found[0]?.comm === 'sleep' ? found : undefined;
      });
      assert.notEqual(procs[0]?.pid, r.pid, 'the daemon, not the exited command');
    } finally {
      await killAllMarked(s.libId);
    }
  });

  test('a grandchild holding stdout open does not delay done', async () => {
    const s = spec({ shell: '(sleep 1000; echo late) & echo early' });
    try {
      const r = await (await runCommand(s)).done;
      // Proof without timing: done came while the grandchild, which holds the file open, still runs.
      assert.ok((await liveMarked(s.libId)).length >= 1);
      assert.equal(r.outcome, 'exited');
      assert.equal(r.stdoutTail, 'early\n');
    } finally {
      await killAllMarked(s.libId);
    }
  });
});

describe('spawn failures', () => {
  test('a missing file, a non-executable file and a missing cwd are spawnFailed, never a rejection', async () => {
    const missing = await runClean(spec({ file: join(dir, 'no-such-script'), args: [] }));
    assert.deepEqual([missing.outcome, missing.pid, missing.exitCode], ['spawnFailed', null, null]);
    assert.match(missing.error ?? '', /ENOENT/);
    assert.ok(missing.error?.includes('no-such-script'));

    const plain = join(dir, 'not-executable.sh');
    await writeFile(plain, '#!/bin/sh\nexit 0\n', { mode: 0o644 });
    const eacces = await runClean(spec({ file: plain, args: [] }));
    assert.equal(eacces.outcome, 'spawnFailed');
    assert.match(eacces.error ?? '', /EACCES/);

    const noCwd = await runClean(spec({ shell: 'exit 0' }, { cwd: join(dir, 'gone') }));
    assert.equal(noCwd.outcome, 'spawnFailed');

    const noDir = await runClean(spec({ shell: 'exit 0' }, { stdoutFile: join(dir, 'missing-dir', 'out') }));
    assert.equal(noDir.outcome, 'spawnFailed');
    assert.match(noDir.error ?? '', /missing-dir/);
  });

  test('a bad spec is a caller bug: rejected at once with the field and the value', async () => {
    await assert.rejects(runCommand(spec({ shell: 'exit 0' }, { timeoutMs: -5 })), (e: Error & { code?: string }) => e.code === 'E_RUN_SPEC' && /timeoutMs/.test(e.message) && /-5/.test(e.message));
    await assert.rejects(runCommand(spec({ file: 'x', args: ['ok', 3 as unknown as string] })), /command\.args\[1\]/);
    await assert.rejects(runCommand(spec({ shell: 'exit 0' }, { handler: 'bad/name' })), (e: Error & { code?: string }) => e.code === 'E_BAD_HANDLER_NAME');
  });
});

describe('timeouts and cancellation', () => {
  test('a command that ends on SIGTERM needs no SIGKILL', async () => {
    // The timeout counts once the command runs (HeldClock): a loaded machine may not have run it 200 ms after the spawn.
    const ready = join(dir, 'term-only.ready');
    const clock = new HeldClock();
    const s = spec({ shell: `: > ${JSON.stringify(ready)}; sleep 1000` }, { timeoutMs: 200, graceMs: 60_000, clock });
    const r = await runClean(s, async () => {
      await waitFor('the command to run', async () => (await readFile(ready).then(() => true, () => undefined)));
      clock.release();
    });
    assert.equal(r.outcome, 'timedOut');
    assert.ok(r.termination);
    assert.equal(r.termination.reason, 'timeout');
    assert.ok(r.termination.termed.includes(r.pid!));
    assert.deepEqual(r.termination.killed, []);
    assert.deepEqual(r.termination.unkillable, []);
    assert.ok(r.termination.durationMs < 60_000, 'ended before the grace ran out');
    assert.match(r.error ?? '', /timed out after 200 ms/);
  });

  test('a hung tree (TERM ignored, setsid grandchild, double fork) is fully killed on timeout', async () => {
    const ready = join(dir, 'tree.ready');
    // The timeout counts only once the whole tree is up (HeldClock), whatever the load: each
    // piece marks itself started with a builtin (no short-lived process to count).
    const clock = new HeldClock();
    const s = spec({
      shell: `trap '' TERM
        m=${JSON.stringify(ready)}
        setsid sh -c ': > "$0.1"; exec sleep 1000' "$m" &
        (sh -c ': > "$0.2"; exec sleep 1000' "$m" &) &
        (setsid sh -c 'sh -c ": > \\"\\$0.3\\"; exec sleep 1000" "$0" & wait' "$m" &) &
        while [ ! -e "$m.1" ] || [ ! -e "$m.2" ] || [ ! -e "$m.3" ]; do sleep 0.01; done
        : > "$m"
        while :; do sleep 1000; done`,
    }, { timeoutMs: 300, graceMs: 300, clock });
    try {
      const running = await runCommand(s);
      await waitFor('the whole tree', async () => (await readFile(ready).then(() => true, () => undefined)), 120_000);
      clock.release();
      const r = await running.done;
      assert.equal(r.outcome, 'timedOut');
      assert.ok(r.termination);
      // sh, its loop's sleep, two setsid sleeps or shells and the double-forked sleep: 6 processes.
      assert.ok(r.termination.termed.length >= 5, `termed ${r.termination.termed.join(',')}`);
      assert.ok(r.termination.killed.length >= 5, 'TERM was ignored, so SIGKILL was needed');
      assert.deepEqual(r.termination.unkillable, []);
      assert.deepEqual(await liveMarked(s.libId), [], 'no process with the mark survives');
    } finally {
      await killAllMarked(s.libId);
    }
  });

  test('cancel through an AbortSignal ends the command and reports canceled', async () => {
    const ready = join(dir, 'cancel.ready');
    const ac = new AbortController();
    const s = spec({ shell: `touch ${JSON.stringify(ready)}; sleep 1000` }, { signal: ac.signal, graceMs: 2000 });
    const running = await runCommand(s);
    try {
      await waitFor('the command to start', async () => (await readFile(ready).then(() => true, () => undefined)));
      ac.abort();
      const r = await running.done;
      assert.equal(r.outcome, 'canceled');
      assert.equal(r.termination?.reason, 'cancel');
      assert.equal(r.signal, 'SIGTERM');
      assert.deepEqual(await liveMarked(s.libId), []);
    } finally {
      await killAllMarked(s.libId);
    }
  });

  test('an already aborted signal starts nothing', async () => {
    const ac = new AbortController();
    ac.abort();
    const s = spec({ shell: `touch ${JSON.stringify(join(dir, 'never'))}` }, { signal: ac.signal });
    await writeFile(s.stdoutFile, 'output of an older run\n');
    const r = await runClean(s);
    assert.deepEqual([r.outcome, r.pid, r.stdoutTail], ['canceled', null, '']);
    await assert.rejects(readFile(join(dir, 'never')));
  });

  test('the timeout and the grace run on the injected clock, not on wall time', async () => {
    const clock = new CountingClock(1_000_000);
    const ready = join(dir, 'grace-ready');
    const s = spec({ shell: `trap '' TERM; touch ${JSON.stringify(ready)}; sleep 1000` }, { timeoutMs: 600_000, graceMs: 5000, clock });
    const running = await runCommand(s);
    try {
      let result: Awaited<typeof running.done> | undefined;
      void running.done.then((r) => { result = r; });
      // A SIGTERM before the shell has set its trap would end it at once, before any grace: wait for the trap.
      await waitFor('the command to ignore TERM', async () => (await readFile(ready).then(() => true, () => undefined)));
      await clock.advanceAsync(599_999);
      assert.equal(clock.fired, 0, 'a 10-minute timeout has not fired 1 ms before it is due, whatever the wall time');
      assert.equal(result, undefined);
      await clock.advanceAsync(1);
      assert.equal(clock.fired, 1, 'it fires at 10 minutes on the clock');
      // The termination polls /proc on the same clock: step it until the command is done.
      const r = await waitFor('the timed-out command', async () => {
        await clock.advanceAsync(1000);
        await new Promise((resolve) => setTimeout(resolve, 5));
        return result;
      });
      assert.equal(r.outcome, 'timedOut');
      assert.equal(r.startedAt, 1_000_000);
      assert.ok(r.durationMs >= 600_000 + 5000, 'the grace passed on the clock before SIGKILL');
      assert.ok((r.termination?.killed.length ?? 0) >= 1);
      assert.deepEqual(await liveMarked(s.libId), []);
    } finally {
      await killAllMarked(s.libId);
    }
  });
});
