import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Spawner } from '../../../src/supervisor/process/spawner.js';
import { runCommand } from '../../../src/supervisor/process/run-command.js';
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
});
