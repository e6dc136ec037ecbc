// Issue 15.5: a handler that deletes its own folder could never be uninstalled (its disable and
// uninstall failed with 1002 on every goal state). Uninstall now skips the commands it cannot run,
// says so, ends what the handler left running and removes the rest: NotInstalled, no record.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Workspace, handlerEntry, opsOf } from '../helpers/handlers.js';
import { killLeftovers, liveProcesses } from '../helpers/fleet.js';
import { runCli } from '../helpers/cli.js';
import { dirFlags, startDaemon, waitFor } from '../helpers/daemon.js';
import { closePackagePool } from '../../src/supervisor/packages/pool.js';

after(() => closePackagePool());

const exists = (path: string) => access(path).then(() => true, () => false);

describe('uninstall of a handler whose folder is gone', () => {
  test('the commands that cannot run are skipped with a clear line, leftovers ended, the rest removed', async () => {
    const ws = await Workspace.create('exts-gone-');
    let daemon;
    try {
      // Its enable leaves a service running and deletes the handler's own folder.
      const pkg = await ws.package({ name: 'Gone.H', version: '1.0', behavior: { enable: 'sleep 300 >/dev/null 2>&1 &\nrm -rf "$here"' } });
      const goal = await ws.goalState({ etag: 'e1', handlers: [handlerEntry('Gone.H', [pkg])] });
      daemon = await startDaemon(ws, goal);
      const dir = join(ws.libDir, 'Gone.H-1.0');
      const record = join(ws.libDir, 'state', 'Gone.H.json');
      await waitFor(async () => !(await exists(dir)) && JSON.parse(await readFile(record, 'utf8').catch(() => '{}')).state === 'Enabled',
        30_000, 'Gone.H enabled, its folder deleted');
      assert.equal((await liveProcesses(ws)).get('Gone.H')?.length, 1, 'the service it started runs');

      await ws.goalState({ etag: 'e2', handlers: [handlerEntry('Gone.H', [pkg], { state: 'uninstall' })] });
      await waitFor(async () => !(await exists(record)), 30_000, 'the record of Gone.H removed');
      assert.equal((await liveProcesses(ws)).get('Gone.H'), undefined, 'what the handler left running is ended');
      assert.deepEqual(opsOf(await ws.log(), 'Gone.H'), ['install 1.0', 'enable 1.0'], 'no command ran for the uninstall');
      assert.equal(await exists(dir), false);
      assert.equal(await exists(join(ws.logDir, 'Gone.H', 'CommandExecution.log')), true, 'the log folder is kept, as after any uninstall');

      type Session = { etag: string; result: string };
      const e2 = async (): Promise<Session | undefined> =>
        (JSON.parse((await runCli(['sessions', '--json', ...dirFlags(ws)])).stdout) as Session[]).find((x) => x.etag === 'e2');
      await waitFor(async () => ((await e2())?.result ?? 'running') !== 'running', 30_000, 'the e2 session to end');
      assert.equal((await e2())!.result, 'succeeded', 'the uninstall reached its goal');

      assert.equal((await daemon.stop()).code, 0);
      daemon = undefined;
      const log = (await readFile(join(ws.logDir, 'supervisor.log'), 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l) as { message: string });
      for (const op of ['disable', 'uninstall']) {
        assert.ok(log.some((l) => new RegExp(`^Gone\\.H: ${op} not run: .*HandlerManifest\\.json: cannot read the handler manifest.*uninstalled without it`).test(l.message)),
          `the daemon's log says ${op} was not run and why`);
      }
      const commands = await readFile(join(ws.logDir, 'Gone.H', 'CommandExecution.log'), 'utf8');
      assert.match(commands, /uninstall 1\.0 failed code=1002[\s\S]*uninstall not run: /);
    } finally {
      await daemon?.stop();
      await killLeftovers(ws);
      await ws.dispose();
    }
  });
});
