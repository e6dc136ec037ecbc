/** HEARTBEAT in ps and status is the heartbeat file's age when the question is answered, after a disable too (issue 18). */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { Workspace, handlerEntry } from '../helpers/handlers.js';
import { killLeftovers } from '../helpers/fleet.js';
import { runCli } from '../helpers/cli.js';
import { dirFlags, startDaemon, waitFor, type RunningDaemon } from '../helpers/daemon.js';
import { closePackagePool } from '../../src/supervisor/packages/pool.js';

after(() => closePackagePool());

const HEARTBEAT = '[{"version":"1.0","heartbeat":{"status":"ready","code":0,"formattedMessage":{"lang":"en-US","message":"beating"}}}]';

interface Row { name: string; state: string; heartbeatAgeSeconds: number | null }
async function psRow(ws: Workspace, name: string): Promise<Row | undefined> {
  return (JSON.parse((await runCli(['ps', '--json', ...dirFlags(ws)])).stdout || '[]') as Row[]).find((r) => r.name === name);
}
async function statusAge(ws: Workspace, name: string): Promise<number | null> {
  const r = await runCli(['status', name, '--json', ...dirFlags(ws)]);
  return (JSON.parse(r.stdout) as { row: Row }).row.heartbeatAgeSeconds;
}

describe('heartbeat age', () => {
  test("heartbeat age within 1 s of the file's mtime, enabled and after a disable", async () => {
    const ws = await Workspace.create('exts-hbage-');
    const pkg = await ws.package({ name: 'H.Age', version: '1.0', manifest: { reportHeartbeat: true },
      behavior: { enable: `printf '%s' '${HEARTBEAT}' > "$here/heartbeat.log"` } });
    const file = join(ws.libDir, 'H.Age-1.0', 'heartbeat.log');
    let daemon: RunningDaemon | undefined;
    try {
      const goal = await ws.goalState({ etag: 'g1', handlers: [handlerEntry('H.Age', [pkg])] });
      daemon = await startDaemon(ws, goal);
      await waitFor(async () => (await psRow(ws, 'H.Age'))?.heartbeatAgeSeconds != null, 60_000, 'a heartbeat age');

      const check = async (pastSeconds: number, what: string): Promise<void> => {
        const mtime = Date.now() - pastSeconds * 1000;
        await utimes(file, mtime / 1000, mtime / 1000);
        // ps answers from a cache at most 1 s old: wait until it shows the new mtime at all, then compare.
        // The new mtime may be younger than the one before (40 s, then 13 s): wait for an age near it from either side.
        await waitFor(async () => {
          const shown = (await psRow(ws, 'H.Age'))?.heartbeatAgeSeconds;
          return shown != null && Math.abs(shown - (Date.now() - mtime) / 1000) <= 2;
        }, 30_000, `${what}: ps follows the file`);
        // The answer is made somewhere between asking (t0) and receiving (t1): the file's age then is
        // within [t0, t1] - mtime, and the shown age within 1 s of it (ps: its cache adds up to 1 s more).
        let t0 = Date.now();
        const psAge = (await psRow(ws, 'H.Age'))!.heartbeatAgeSeconds!;
        let t1 = Date.now();
        assert.ok(psAge <= (t1 - mtime) / 1000 + 1 && psAge >= (t0 - mtime) / 1000 - 2,
          `${what}: ps ${psAge} s, file ${((t0 - mtime) / 1000).toFixed(1)}-${((t1 - mtime) / 1000).toFixed(1)} s old (answers up to 1 s old)`);
        t0 = Date.now();
        const age = await statusAge(ws, 'H.Age');
        t1 = Date.now();
        assert.ok(age !== null && age <= (t1 - mtime) / 1000 + 1 && age >= (t0 - mtime) / 1000 - 1,
          `${what}: status ${age} s, file ${((t0 - mtime) / 1000).toFixed(1)}-${((t1 - mtime) / 1000).toFixed(1)} s old while it answered`);
      };
      await check(40, 'enabled');

      await ws.goalState({ etag: 'g2', handlers: [handlerEntry('H.Age', [pkg], { state: 'disabled' })] });
      await waitFor(async () => (await psRow(ws, 'H.Age'))?.state === 'Installed', 60_000, 'disabled');
      await check(13, 'after a disable');
      await check(151, 'after a disable, older');
    } finally {
      await daemon?.stop();
      await killLeftovers(ws);
      await ws.dispose();
    }
  });
});
