/** `supervisor reload` and SIGHUP against a real daemon: the goal state is read now, the answer says what happened. */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { access, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { Workspace, handlerEntry } from '../helpers/handlers.js';
import { killLeftovers } from '../helpers/fleet.js';
import { runCli } from '../helpers/cli.js';
import { dirFlags, startDaemon, waitFor } from '../helpers/daemon.js';
import { closePackagePool } from '../../src/supervisor/packages/pool.js';

after(() => closePackagePool());

async function stateOf(ws: Workspace, name: string): Promise<string | undefined> {
  const rows = JSON.parse((await runCli(['ps', '--json', ...dirFlags(ws)])).stdout) as Array<{ name: string; state: string }>;
  return rows.find((r) => r.name === name)?.state;
}

const logText = (ws: Workspace): Promise<string> => readFile(join(ws.logDir, 'supervisor.log'), 'utf8').catch(() => '');

describe('reload', () => {
  test('a URL polled hourly: reload and SIGHUP fetch it now; the daemon survives SIGHUP; no daemon is exit 3', async () => {
    const ws = await Workspace.create('exts-reload-');
    const a = await ws.package({ name: 'R.A', version: '1.0' });
    let doc = { etag: 'v1', handlers: [handlerEntry('R.A', [a])] };
    const server: Server = createServer((_req, res) => { res.writeHead(200, { 'content-type': 'application/json' }); res.end(JSON.stringify(doc)); });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/goal`;
    let daemon;
    try {
      const none = await runCli(['reload', ...dirFlags(ws)]);
      assert.equal(none.code, 2, 'no lib dir yet: an error naming it');
      daemon = await startDaemon(ws, url, ['--poll-interval', '3600']);
      await waitFor(async () => (await stateOf(ws, 'R.A')) === 'Enabled', 60_000, 'R.A enabled');

      const same = await runCli(['reload', ...dirFlags(ws)]);
      assert.equal(same.code, 0, same.stderr);
      assert.match(same.stdout, /etag unchanged \(v1\), nothing to do/);

      doc = { etag: 'v2', handlers: [handlerEntry('R.A', [a], { state: 'disabled' })] };
      const changed = await runCli(['reload', ...dirFlags(ws)]);
      assert.equal(changed.code, 0, changed.stderr);
      assert.match(changed.stdout, /new goal state \(etag v2\), applying it/);
      await waitFor(async () => (await stateOf(ws, 'R.A')) === 'Installed', 60_000, 'R.A disabled by the reloaded goal');

      doc = { etag: 'v3', handlers: [handlerEntry('R.A', [a])] };
      daemon.child.kill('SIGHUP');
      await waitFor(async () => (await stateOf(ws, 'R.A')) === 'Enabled', 60_000, 'R.A enabled again after SIGHUP');
      assert.match(await logText(ws), /reloading the goal state: SIGHUP received/);
      await access(join(ws.libDir, 'supervisor.sock'));
      assert.equal(daemon.child.exitCode, null, 'SIGHUP does not end the daemon');

      const stopped = await daemon.stop();
      assert.equal(stopped.code, 0, stopped.stderr);
      const gone = await runCli(['reload', ...dirFlags(ws)]);
      assert.equal(gone.code, 3);
      assert.match(gone.stderr, /no daemon is running on/);
    } finally {
      await daemon?.stop();
      await new Promise((r) => server.close(r));
      await killLeftovers(ws);
      await ws.dispose();
    }
  });

  test('a goal-state file rewritten with the same etag is logged, not ignored in silence', async () => {
    const ws = await Workspace.create('exts-reload-file-');
    const a = await ws.package({ name: 'R.F', version: '1.0' });
    let daemon;
    try {
      const doc = { etag: 'same', handlers: [handlerEntry('R.F', [a])] };
      const goal = await ws.goalState(doc);
      daemon = await startDaemon(ws, goal);
      await waitFor(async () => (await stateOf(ws, 'R.F')) === 'Enabled', 60_000, 'R.F enabled');
      // An edit before the watch is live makes no event (the daemon then looks once, quietly).
      await waitFor(async () => /watching \S+ for changes/.test(await logText(ws)), 60_000, 'the goal-state watch live');
      await writeFile(goal, `${JSON.stringify(doc, null, 4)}\n`);
      await waitFor(async () => /file changed \(.*\), etag unchanged \(same\): nothing to do/.test(await logText(ws)), 60_000, 'the unchanged-etag line');
    } finally {
      await daemon?.stop();
      await killLeftovers(ws);
      await ws.dispose();
    }
  });
});
