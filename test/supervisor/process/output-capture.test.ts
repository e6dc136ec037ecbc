import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Spawner } from '../../../src/supervisor/process/spawner.js';
import { runCommand } from '../../../src/supervisor/process/run-command.js';
import { sweepStaleFifoDirs } from '../../../src/supervisor/process/output-capture.js';
import { processStartTime } from '../../../src/storage/lock.js';
import { readProcStat } from '../../../src/supervisor/process/proc.js';
import { killAllMarked, liveMarked, makeTempDir, removeDir, uniqueLibId, waitFor } from './kit.js';

let dir: string;
before(async () => { dir = await makeTempDir('ext-sup-capture-'); });
after(async () => { await removeDir(dir); });

describe('output captured through the spawner', () => {
  test('dash can reopen /dev/stdout and /dev/stderr; no pipe is left in the output folder', async () => {
    const spawner = new Spawner();
    const libId = uniqueLibId();
    try {
      const r = await (await runCommand({ libId, handler: 'C.Dev', operation: 'enable', cwd: dir, env: {}, spawner, timeoutMs: 10_000,
        command: { shell: 'echo to-stdout > /dev/stdout; echo to-stderr > /dev/stderr' },
        stdoutFile: join(dir, 'dev.stdout'), stderrFile: join(dir, 'dev.stderr') })).done;
      assert.deepEqual([r.exitCode, r.stdoutTail, r.stderrTail], [0, 'to-stdout\n', 'to-stderr\n']);
      assert.deepEqual(readdirSync(dir).filter((n) => n.endsWith('.fifo')), []);
    } finally {
      await spawner.close();
      await killAllMarked(libId);
    }
  });

  test('the supervisor closes its spawner while a daemon writes: the spawner stays to drain it, the daemon never gets SIGPIPE', async () => {
    const spawner = new Spawner();
    const libId = uniqueLibId();
    const out = join(dir, 'svc.stdout');
    try {
      const r = await (await runCommand({ libId, handler: 'C.Svc', operation: 'enable', cwd: dir, env: {}, spawner, timeoutMs: 10_000,
        command: { shell: '( i=0; while :; do i=$((i+1)); echo "tick $i"; sleep 0.01; done ) &' },
        stdoutFile: out, stderrFile: join(dir, 'svc.stderr') })).done;
      assert.equal(r.exitCode, 0);
      const spawnerPid = spawner.pid!;
      await spawner.close();
      assert.equal(spawner.pid, null, 'close() returned with the spawner lingering');
      assert.ok(readProcStat(spawnerPid), 'the spawner still runs');
      const ticks = (): number => readFileSync(out, 'utf8').split('\n').filter(Boolean).length;
      const seen = ticks();
      await waitFor('lines written after the close', () => (ticks() > seen + 20 ? true : undefined), 30_000);
      assert.equal((await liveMarked(libId)).length > 0, true, 'the daemon lives on');
      await killAllMarked(libId);
      await waitFor('the spawner to leave once the last pipe closed', () => (readProcStat(spawnerPid) === null ? true : undefined), 30_000);
    } finally {
      await killAllMarked(libId);
    }
  });

  test('a SIGKILLed spawner\'s FIFO folder is removed by the next spawner; a live one\'s is left', async () => {
    const libId = uniqueLibId();
    const run = async (spawner: Spawner, tag: string): Promise<void> => {
      const r = await (await runCommand({ libId, handler: 'C.Fifo', operation: 'enable', cwd: dir, env: {}, spawner, timeoutMs: 10_000,
        command: { shell: `echo ${tag}` }, stdoutFile: join(dir, `${tag}.stdout`), stderrFile: join(dir, `${tag}.stderr`) })).done;
      assert.equal(r.exitCode, 0);
    };
    const foldersOf = (pid: number): string[] => readdirSync(tmpdir()).filter((n) => n.startsWith(`ext-supervisor-pipes-${pid}-`));
    const first = new Spawner();
    const second = new Spawner();
    try {
      await run(first, 'first');
      const pid = first.pid!;
      assert.equal(foldersOf(pid).length, 1, 'the spawner made its folder, named after its pid');
      process.kill(pid, 'SIGKILL');
      await waitFor('the spawner to be gone', () => (first.pid === null && readProcStat(pid) === null ? true : undefined));
      assert.equal(foldersOf(pid).length, 1, 'no exit hook ran: the folder is left');
      await run(second, 'second');
      assert.deepEqual(foldersOf(pid), [], 'the next spawner removed it');
      assert.equal(foldersOf(second.pid!).length, 1, 'and made its own');
    } finally {
      await first.close();
      await second.close();
      await killAllMarked(libId);
    }
  });
});

describe('sweepStaleFifoDirs', () => {
  test('removes folders whose spawner is gone or whose pid now names another process; keeps live ones and other names', () => {
    const root = join(dir, 'tmp');
    mkdirSync(root);
    const me = `ext-supervisor-pipes-${process.pid}-${processStartTime(process.pid)}-aaaaaa`;
    const reused = `ext-supervisor-pipes-${process.pid}-1-bbbbbb`;
    const dead = 'ext-supervisor-pipes-2147483646-5-cccccc';
    const older = 'ext-supervisor-pipes-dddddd';
    const other = 'something-else-1-2-';
    for (const n of [me, reused, dead, older, other]) mkdirSync(join(root, n, 'inner'), { recursive: true });
    assert.deepEqual(sweepStaleFifoDirs(root).sort(), [dead, reused].sort());
    assert.deepEqual(readdirSync(root).sort(), [me, older, other].sort());
    assert.deepEqual(sweepStaleFifoDirs(join(root, 'missing')), []);
  });
});
