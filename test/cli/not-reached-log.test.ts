/** supervisor.log says why a handler did not reach its goal, not only that it did not (issue 18: a refused downgrade). */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Workspace, handlerEntry } from '../helpers/handlers.js';
import { killLeftovers } from '../helpers/fleet.js';
import { runCli } from '../helpers/cli.js';
import { dirFlags, startDaemon, waitFor, type RunningDaemon } from '../helpers/daemon.js';
import { closePackagePool } from '../../src/supervisor/packages/pool.js';

after(() => closePackagePool());

const logText = (ws: Workspace): Promise<string> => readFile(join(ws.logDir, 'supervisor.log'), 'utf8').catch(() => '');

describe('not reached, with the reason', () => {
  test('a refused downgrade is logged with its reason', async () => {
    const ws = await Workspace.create('exts-notreached-');
    const v1 = await ws.package({ name: 'N.Down', version: '1.0' });
    const v2 = await ws.package({ name: 'N.Down', version: '2.0' });
    let daemon: RunningDaemon | undefined;
    try {
      const goal = await ws.goalState({ etag: 'g1', handlers: [handlerEntry('N.Down', [v2, v1])] });
      daemon = await startDaemon(ws, goal);
      await waitFor(async () => {
        const rows = JSON.parse((await runCli(['ps', '--json', ...dirFlags(ws)])).stdout || '[]') as Array<{ name: string; version: string; state: string }>;
        return rows.some((r) => r.name === 'N.Down' && r.version === '2.0' && r.state === 'Enabled');
      }, 60_000, '2.0 enabled');
      await ws.goalState({ etag: 'g2', handlers: [handlerEntry('N.Down', [v1, v2])] });
      // The reason comes first, the summary line last: once the summary is there, so is the reason.
      await waitFor(async () => /etag g2 applied: 0\/1 reached their goal; not reached: N\.Down/.test(await logText(ws)), 60_000, 'the summary line');
      const log = await logText(ws);
      assert.match(log, /N\.Down: not reached \(error\): refusing to downgrade from 2\.0 to 1\.0: set \\"allowDowngrade\\": true/);
      assert.ok(log.indexOf('N.Down: not reached') < log.indexOf('etag g2 applied'), 'the reason before the summary');
    } finally {
      await daemon?.stop();
      await killLeftovers(ws);
      await ws.dispose();
    }
  });
});
