/**
 * An idle spawner leaves: after `idleMs` without a command the spawner process is asked to go, goes
 * when it drains no output, stays (and serves on) when a process a command left behind still holds
 * an output pipe, and a command that arrives while it is going is started by a new spawner.
 */
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Spawner } from '../../../src/supervisor/process/spawner.js';
import { runCommand, type RunSpec } from '../../../src/supervisor/process/run-command.js';
import { readProcStat } from '../../../src/supervisor/process/proc.js';
import { killAllMarked, liveMarked, makeTempDir, removeDir, uniqueLibId, waitFor } from './kit.js';

let dir: string;
const libIds: string[] = [];
const spawners: Spawner[] = [];
before(async () => { dir = await makeTempDir('ext-sup-spawner-idle-'); });
afterEach(async () => {
  for (const id of libIds.splice(0)) await killAllMarked(id);
  for (const s of spawners.splice(0)) await s.close();
});
after(async () => { await removeDir(dir); });

let seq = 0;
function spec(spawner: Spawner, shell: string): RunSpec {
  seq += 1;
  const libId = uniqueLibId();
  libIds.push(libId);
  return { libId, handler: 'Contoso.Idle', operation: 'enable', command: { shell }, cwd: dir, env: {}, spawner,
    stdoutFile: join(dir, `${seq}.stdout`), stderrFile: join(dir, `${seq}.stderr`), timeoutMs: 10_000, graceMs: 300 };
}

function own(opts: ConstructorParameters<typeof Spawner>[0]): Spawner {
  const s = new Spawner(opts);
  spawners.push(s);
  return s;
}

const gone = (pid: number): boolean => readProcStat(pid) === null;

describe('spawner: leaving when idle', () => {
  test('no command for idleMs: the spawner process leaves; the next command starts a new one', async () => {
    const spawner = own({ idleMs: 50 });
    const first = await (await runCommand(spec(spawner, 'echo one'))).done;
    assert.equal(first.stdoutTail, 'one\n');
    const pid = spawner.pid!;
    assert.ok(pid > 0);
    await waitFor('the idle spawner to leave', () => (gone(pid) ? true : undefined));
    assert.equal(spawner.pid, null);
    assert.deepEqual(spawner.retirements, { asked: 1, left: 1, stayed: 0 });
    const second = await (await runCommand(spec(spawner, 'echo two; exit 4'))).done;
    assert.deepEqual([second.exitCode, second.stdoutTail], [4, 'two\n'], 'a new spawner serves as the first did');
    assert.equal(spawner.starts, 2);
    assert.notEqual(spawner.pid, pid);
  });

  test('a process left behind holding the output pipe keeps the spawner, which serves on and leaves once the pipe closes', async () => {
    const spawner = own({ idleMs: 50 });
    // The background sleep inherits the command's stdout: the spawner must keep draining it.
    const s = spec(spawner, 'sleep 1000 & echo started');
    const r = await (await runCommand(s)).done;
    assert.equal(r.exitCode, 0);
    const pid = spawner.pid!;
    await waitFor('the spawner to be asked and to stay', () => (spawner.retirements.stayed >= 1 ? true : undefined));
    assert.equal(spawner.pid, pid, 'the same spawner, kept');
    assert.ok(!gone(pid));
    const again = await (await runCommand(spec(spawner, 'echo served'))).done;
    assert.equal(again.stdoutTail, 'served\n');
    assert.equal(spawner.starts, 1, 'no second spawner');
    await killAllMarked(s.libId);
    assert.deepEqual(await liveMarked(s.libId), []);
    await waitFor('the spawner to leave once the pipe closed', () => (gone(pid) ? true : undefined));
    assert.equal(spawner.retirements.left, 1);
  });

  test('a command that comes while the spawner is leaving is started by a new spawner, and its exit is told', async () => {
    const spawner = own({ idleMs: 60_000 });
    assert.equal((await (await runCommand(spec(spawner, 'exit 0'))).done).exitCode, 0);
    const pid = spawner.pid!;
    assert.equal(spawner.retireIfIdle(), true);
    // Written right behind the retire request, before any answer: it must not go to the leaving spawner.
    const r = await (await runCommand(spec(spawner, 'echo late; exit 6'))).done;
    assert.deepEqual([r.outcome, r.exitCode, r.stdoutTail], ['exited', 6, 'late\n']);
    assert.equal(spawner.starts, 2);
    await waitFor('the old spawner to leave', () => (gone(pid) ? true : undefined));
    assert.equal(spawner.retirements.left, 1);
    assert.equal(spawner.retireIfIdle(), true, 'the new one idle too');
    assert.equal(spawner.retireIfIdle(), false, 'nothing left to ask');
  });

  test('not while a command runs: retireIfIdle refuses, and the idle timer waits for the last exit', async () => {
    const spawner = own({ idleMs: 50 });
    const running = await runCommand(spec(spawner, 'sleep 0.3; exit 2'));
    assert.equal(spawner.retireIfIdle(), false);
    assert.equal((await running.done).exitCode, 2);
    assert.equal(spawner.retirements.asked, 0, 'the timer starts at the last exit, not at the start');
  });
});
