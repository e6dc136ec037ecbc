/**
 * A handler whose first install fails (issue 17, item 3): its record keeps the failure's version,
 * so `ps` and `status` show the same failure after a one-shot apply and after a daemon stopped,
 * and uninstalling it removes its folder and settings, as the agent's handle_uninstall does.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { access, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Workspace, handlerEntry, type BuiltPackage } from '../helpers/handlers.js';
import { runCli } from '../helpers/cli.js';
import { dirFlags, startDaemon, waitFor } from '../helpers/daemon.js';
import { killLeftovers } from '../helpers/fleet.js';

const NAME = 'Broken.Install';
const SECRET = 'cHJvdGVjdGVkLWJ5LWEtY2VydA==';

async function psRow(ws: Workspace): Promise<Record<string, any> | undefined> {
  const r = await runCli(['ps', '--json', ...dirFlags(ws)]);
  return (JSON.parse(r.stdout) as Array<Record<string, any>>).find((x) => x.name === NAME);
}

const shown = (row: Record<string, any> | undefined) => row && { state: row.state, status: row.status, code: row.code, message: row.message.split('\n')[0] };
const exists = (path: string) => access(path).then(() => true, () => false);

describe('a failed first install', () => {
  let pkg: BuiltPackage;
  const workspaces: Workspace[] = [];
  const workspace = async () => { const ws = await Workspace.create('exts-failinst-'); workspaces.push(ws); return ws; };
  const goal = (ws: Workspace, state: string, file: string) => ws.goalState({ handlers: [handlerEntry(NAME, [pkg], { state,
    extensions: [{ name: 'default', sequenceNumber: 0, publicSettings: {}, protectedSettings: SECRET, protectedSettingsCertThumbprint: 'AB12' }] })] }, file);
  before(async () => {
    const ws = await workspace();
    pkg = await ws.package({ name: NAME, version: '1.0', behavior: { install: 'echo "no disk for the service" >&2; rc=7' } });
  });
  after(async () => { for (const ws of workspaces) { await killLeftovers(ws); await ws.dispose(); } });

  let expected: ReturnType<typeof shown>;
  test('after a one-shot apply, ps shows the failure and the record keeps it', async () => {
    const ws = workspaces[0]!;
    const r = await runCli(['apply', '--goal-state', await goal(ws, 'enabled', 'on.json'), ...dirFlags(ws)]);
    assert.equal(r.code, 1, r.stderr);
    expected = shown(await psRow(ws));
    assert.deepEqual(expected, { state: 'NotInstalled', status: 'Failed', code: 1007, message: 'install failed with exit code 7' });
    assert.deepEqual(await readdir(join(ws.libDir, 'state')), [`${NAME}.json`], 'a record is written for the failed install');
    const status = await runCli(['status', NAME, ...dirFlags(ws)]);
    assert.match(status.stdout, /status:\s+Failed code 1007/);
  });

  test('the same failure is shown by a daemon, and after it stopped', async () => {
    const ws = await workspace();
    const daemon = await startDaemon(ws, await goal(ws, 'enabled', 'on.json'));
    try {
      await waitFor(async () => shown(await psRow(ws))?.status === 'Failed', 60_000, 'the daemon to report the failed install');
      assert.deepEqual(shown(await psRow(ws)), expected, 'the daemon shows what the one-shot apply showed');
    } finally {
      await daemon.stop();
    }
    assert.deepEqual(shown(await psRow(ws)), expected, 'offline, after the daemon stopped: the same');
  });

  test('uninstall of the never-installed handler leaves no folder, no settings and no record', async () => {
    const ws = workspaces[0]!;
    const dir = join(ws.libDir, `${NAME}-1.0`);
    assert.ok(await exists(join(dir, 'config', '0.settings')), 'the failed install left its settings (with the protected settings)');
    const r = await runCli(['apply', '--goal-state', await goal(ws, 'uninstall', 'off.json'), ...dirFlags(ws)]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(await exists(dir), false, 'the handler folder is gone');
    assert.deepEqual(await readdir(join(ws.libDir, 'state')), [], 'and its record');
    const ops = (await ws.log()).filter((l) => l.handler === NAME && l.phase === 'start').map((l) => l.op);
    assert.deepEqual(ops, ['install'], 'no disable or uninstall ran for a handler that never installed (the agent runs none)');
    assert.equal(await psRow(ws), undefined);
  });
});
