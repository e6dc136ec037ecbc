/**
 * `supervisor logs NAME --lib-dir L` without --log-dir finds the logs where the daemon writes them
 * (it was started with another log dir): from the daemon while it runs, from the lib dir after.
 * Run as root here, where the default would be /var/log/ext-supervisor.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Workspace, handlerEntry } from '../helpers/handlers.js';
import { killLeftovers } from '../helpers/fleet.js';
import { runCli } from '../helpers/cli.js';
import { dirFlags, startDaemon, waitFor } from '../helpers/daemon.js';
import { closePackagePool } from '../../src/supervisor/packages/pool.js';

after(() => closePackagePool());

describe('logs: the log dir comes from the daemon; start-up says what it adopted', () => {
  test('a custom --log-dir given to run only: logs finds it, with and without the daemon', async () => {
    const ws = await Workspace.create('exts-logdir-');
    let daemon;
    const noEnv = { SUPERVISOR_LOG_DIR: '', SUPERVISOR_LIB_DIR: '' };
    try {
      const a = await ws.package({ name: 'L.A', version: '1.0', behavior: { enable: 'sleep 300 >/dev/null 2>&1 &' } });
      const goal = await ws.goalState({ etag: 'one', handlers: [handlerEntry('L.A', [a])] });
      daemon = await startDaemon(ws, goal);
      assert.match(await readFile(join(ws.logDir, 'supervisor.log'), 'utf8'), /adopted 0 running processes of 0 handlers/);
      assert.ok(ws.logDir !== join(ws.libDir, 'log') && ws.logDir !== '/var/log/ext-supervisor', 'a log dir no default would find');
      await waitFor(async () => /L\.A enable 1\.0 succeeded/.test((await runCli(['logs', 'L.A', ...dirFlags(ws)])).stdout), 60_000, 'L.A enabled');
      const live = await runCli(['logs', 'L.A', '--lib-dir', ws.libDir], noEnv);
      assert.equal(live.code, 0, live.stderr);
      assert.match(live.stdout, /L\.A enable 1\.0 succeeded/);
      await daemon.stop();
      const offline = await runCli(['logs', 'L.A', '--lib-dir', ws.libDir], noEnv);
      assert.equal(offline.code, 0, offline.stderr);
      assert.match(offline.stdout, /L\.A enable 1\.0 succeeded/, 'from the log dir recorded in the lib dir');

      // A restarted daemon says what it adopted: enable left one process running.
      daemon = await startDaemon(ws, goal);
      await waitFor(async () => /adopted 1 running process of 1 handler: L\.A/.test(await readFile(join(ws.logDir, 'supervisor.log'), 'utf8')), 30_000, 'the adoption line');
    } finally {
      await daemon?.stop();
      await killLeftovers(ws);
      await ws.dispose();
    }
  });
});
