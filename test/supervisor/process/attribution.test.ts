import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import {
  MARK_ENV, formatMark, parseMark, scanAttributed, scanProcesses, sharedScanner,
} from '../../../src/supervisor/process/attribution.js';
import { listPids, readProcStat } from '../../../src/supervisor/process/proc.js';
import { liveMarked, killAllMarked, uniqueLibId, waitFor } from './kit.js';

describe('the mark', () => {
  test('round-trips libId and handler name', () => {
    assert.equal(formatMark('0123456789ab', 'Contoso.Monitor-2_x'), '0123456789ab:Contoso.Monitor-2_x');
    assert.deepEqual(parseMark('0123456789ab:Contoso.Monitor-2_x'), { libId: '0123456789ab', handler: 'Contoso.Monitor-2_x' });
  });

  test('bad parts are refused with a code and the value', () => {
    assert.throws(() => formatMark('XYZ', 'h'), (e: Error & { code?: string }) => e.code === 'E_BAD_LIB_ID' && e.message.includes('"XYZ"'));
    assert.throws(() => formatMark('0123456789ab', '../etc'), (e: Error & { code?: string }) => e.code === 'E_BAD_HANDLER_NAME' && e.message.includes('../etc'));
    for (const v of ['', 'nocolon', '0123456789ab:', 'short:h', '0123456789ab:a:b', '0123456789AB:h']) assert.equal(parseMark(v), null, v);
  });
});

/** Spawns a marked process and resolves once it has exec'd (before that /proc shows the parent's env). */
async function spawnMarked(mark: string, command: string, args: string[]): Promise<ChildProcess> {
  const child = spawn(command, args, { stdio: 'ignore', env: { ...process.env, [MARK_ENV]: mark } });
  await once(child, 'spawn');
  return child;
}

test('scanAttributed groups 300 marked processes by handler, and only ours', async () => {
  const libId = uniqueLibId();
  const other = uniqueLibId();
  const children: ChildProcess[] = [];
  try {
    const expected = new Map<string, Set<number>>();
    const starts = [];
    for (let i = 0; i < 300; i += 1) {
      const handler = `Handler.${i % 3}`;
      starts.push(spawnMarked(formatMark(libId, handler), 'sleep', ['1000']).then((c) => {
        children.push(c);
        const set = expected.get(handler) ?? new Set<number>();
        set.add(c.pid!);
        expected.set(handler, set);
      }));
    }
    // A process of another lib dir with the same handler name must not be counted.
    starts.push(spawnMarked(formatMark(other, 'Handler.0'), 'sleep', ['1000']).then((c) => { children.push(c); }));
    await Promise.all(starts);

    const t0 = performance.now();
    const groups = await scanAttributed(libId);
    const ms = performance.now() - t0;
    const snap = await scanProcesses();
    console.log(`scan of ${snap.procs.length} processes: scanAttributed ${ms.toFixed(1)} ms; plain scan ${snap.durationMs.toFixed(1)} ms, longest block ${snap.maxBlockMs.toFixed(1)} ms`);

    assert.deepEqual([...groups.keys()].sort(), ['Handler.0', 'Handler.1', 'Handler.2']);
    for (const [handler, procs] of groups) {
      assert.deepEqual(new Set(procs.map((p) => p.pid)), expected.get(handler), handler);
      assert.ok(procs.every((p) => p.comm === 'sleep' && p.state !== 'Z' && p.startTicks > 0));
    }
    assert.equal((await scanAttributed(other)).get('Handler.0')?.length, 1);
  } finally {
    for (const c of children) c.kill('SIGKILL');
    await killAllMarked(libId);
    await killAllMarked(other);
  }
  assert.deepEqual(await liveMarked(libId), []);
});

test('zombies, our own process and kernel threads never appear in a scan', async () => {
  const libId = uniqueLibId();
  // `exec sleep` never reaps the short-lived background child, which stays a marked zombie.
  const parent = await spawnMarked(formatMark(libId, 'Z'), '/bin/sh', ['-c', 'sleep 0.05 & exec sleep 1000']);
  try {
    const zombie = await waitFor('a zombie child', () => listPids()
      .map((pid) => readProcStat(pid))
      .find((s) => s !== null && s.ppid === parent.pid && s.state === 'Z') ?? undefined);
    const snap = await scanProcesses();
    const pids = snap.procs.map((p) => p.pid);
    assert.ok(!pids.includes(zombie.pid), 'zombie left out');
    assert.ok(pids.includes(parent.pid!), 'its live parent is there');
    assert.ok(!pids.includes(process.pid), 'our own pid left out');
    assert.ok(snap.procs.every((p) => p.pid !== 2 && p.ppid !== 2 && p.state !== 'Z'), 'no kernel threads, no zombies');
    assert.deepEqual((await scanAttributed(libId)).get('Z')?.map((p) => p.pid), [parent.pid]);
  } finally {
    parent.kill('SIGKILL');
    await killAllMarked(libId);
  }
});

test('the shared scanner serves concurrent callers with one walk of /proc', async () => {
  const before = sharedScanner.scansRun;
  await Promise.all(Array.from({ length: 50 }, () => scanAttributed(uniqueLibId())));
  const ran = sharedScanner.scansRun - before;
  assert.ok(ran >= 1 && ran <= 2, `ran ${ran} scans for 50 callers`);
  await assert.rejects(scanAttributed('nope'), (e: Error & { code?: string }) => e.code === 'E_BAD_LIB_ID');
});

test('marks are read once per process and kept while it lives; an unmarked process that execs into a marked one is seen', async () => {
  const libId = uniqueLibId();
  const mark = `${libId}:Exec.Test`;
  // Starts unmarked as `sh`, then execs a marked `sh` (same pid, start time and comm): only a fresh read sees the mark.
  const child = spawn('/bin/sh', ['-c', `read x; exec env EXT_SUPERVISOR_MARK=${mark} EXT_SUPERVISOR_RUN=r1 /bin/sh -c 'sleep 30'`],
    { stdio: ['pipe', 'ignore', 'ignore'] });
  try {
    await waitFor('the unmarked shell', async () => ((await scanProcesses()).procs.find((p) => p.pid === child.pid && p.comm === 'sh') ? true : undefined));
    const before = (await scanProcesses()).procs.find((p) => p.pid === child.pid);
    assert.equal(before?.mark, null);
    child.stdin!.end('go\n');
    const after = await waitFor('the marked shell', async () => (await scanProcesses()).procs.find((p) => p.pid === child.pid && p.mark !== null));
    assert.deepEqual([after.mark, after.runId], [{ libId, handler: 'Exec.Test' }, 'r1']);
    const again = (await scanProcesses()).procs.find((p) => p.pid === child.pid);
    assert.deepEqual([again?.mark, again?.runId], [{ libId, handler: 'Exec.Test' }, 'r1'], 'kept in the next walk');
  } finally {
    child.kill('SIGKILL');
    await killAllMarked(libId);
  }
});

test('a walk counts the processes whose environ reads empty (an env -i process here; one inside exec or exiting in life)', async () => {
  const child = spawn('env', ['-i', '/bin/sleep', '30'], { stdio: 'ignore' });
  try {
    await waitFor('the blank-environment sleep', async () => ((await scanProcesses()).procs.some((p) => p.pid === child.pid && p.comm === 'sleep') ? true : undefined));
    const snap = await scanProcesses();
    assert.ok((snap.blankEnviron ?? 0) >= 1, `blankEnviron ${snap.blankEnviron}`);
    assert.equal(snap.procs.find((p) => p.pid === child.pid)?.mark, null);
  } finally {
    child.kill('SIGKILL');
    await once(child, 'exit');
  }
});
