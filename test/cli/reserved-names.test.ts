// Issue 15.5: a handler's log folder is <log>/<name>/, beside the daemon's own <log>/supervisor.log.
// A handler named like that log (or a rotated copy) is refused, naming the handler, and the daemon's
// log stays a file of JSON lines.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Workspace, handlerEntry } from '../helpers/handlers.js';
import { runCli } from '../helpers/cli.js';
import { dirFlags, startDaemon, waitFor } from '../helpers/daemon.js';
import { closePackagePool } from '../../src/supervisor/packages/pool.js';

after(() => closePackagePool());

describe('handler names that are the daemon\'s own files', () => {
  test('"supervisor.log" is refused by validate, apply and run; the daemon\'s log is intact', async () => {
    const ws = await Workspace.create('exts-reserved-');
    let daemon;
    try {
      const evil = await ws.package({ name: 'supervisor.log', version: '1.0' });
      const rotated = await ws.package({ name: 'supervisor1.log', version: '1.0' });
      const fine = await ws.package({ name: 'supervisor.logs', version: '1.0' });
      const goal = await ws.goalState({ etag: 'e1', handlers: [handlerEntry('supervisor.log', [evil]), handlerEntry('supervisor1.log', [rotated]),
        handlerEntry('supervisor.logs', [fine])] });

      const checked = await runCli(['validate', goal]);
      assert.equal(checked.code, 2);
      assert.match(checked.stderr, /handlers\[0\]\.name: is reserved: <log dir>\/supervisor\.log is the supervisor's own log.*\(got "supervisor\.log"\)/);
      assert.match(checked.stderr, /handlers\[1\]\.name: is reserved.*\(got "supervisor1\.log"\)/);
      assert.doesNotMatch(checked.stderr, /handlers\[2\]/, 'a name that only starts like the log is a handler name');

      const applied = await runCli(['apply', '--goal-state', goal, ...dirFlags(ws)]);
      assert.equal(applied.code, 2);
      assert.match(applied.stderr, /handlers\[0\]\.name: is reserved/);
      await assert.rejects(stat(join(ws.logDir, 'supervisor.log')), 'apply ran nothing, so made no folder there');

      daemon = await startDaemon(ws, goal);
      await waitFor(async () => {
        const r = await runCli(['report', ...dirFlags(ws)]);
        return r.code === 0 && JSON.parse(r.stdout).supervisor.status === 'Error';
      }, 30_000, 'the daemon to reject the goal state');
      const report = JSON.parse((await runCli(['report', ...dirFlags(ws)])).stdout);
      assert.match(report.supervisor.message, /invalid goal state .*: 2 problems/);
      assert.deepEqual(report.handlers, [], 'nothing of the document was applied');
      assert.equal((await daemon.stop()).code, 0);
      daemon = undefined;

      const log = join(ws.logDir, 'supervisor.log');
      assert.ok((await stat(log)).isFile(), 'the daemon\'s log is still a file');
      const lines = (await readFile(log, 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l) as { message: string });
      assert.ok(lines.some((l) => /goal state: .*handlers\[0\]\.name: is reserved/s.test(l.message)), 'the refusal is in the daemon\'s log');
      assert.ok(lines.some((l) => /stopped|stopping/.test(l.message)), 'the daemon logged to the end');
    } finally {
      await daemon?.stop();
      await ws.dispose();
    }
  });
});
