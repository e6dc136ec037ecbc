/**
 * Multi-config is the manifest's supportsMultipleExtensions (as the Azure agent decides it), so a
 * handler's file names never change with the number of its extensions; a dropped extension is
 * disabled with its own ConfigExtensionName and its files are removed (issue 17, items 1 and 2).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Workspace, handlerEntry, type BuiltPackage } from '../../helpers/handlers.js';
import { applyDoc, killLeftovers, resultOf } from '../../helpers/fleet.js';
import { offlineRows } from '../../../src/supervisor/monitor/offline-view.js';
import { closePackagePool } from '../../../src/supervisor/packages/pool.js';

after(() => closePackagePool());

// What a real multi-config extension does (RunCommand v2): it names its status file from ConfigExtensionName.
const WRITE_STATUS = `name="\${ConfigExtensionName:-}"; file="\${name:+$name.}$ConfigSequenceNumber.status"
printf '[{"version":1.0,"timestampUTC":"2026-01-01T00:00:00Z","status":{"name":"%s","operation":"Enable","status":"success","code":0,"formattedMessage":{"lang":"en-US","message":"ok %s"}}}]' "$name" "$name" > "$here/status/$file"`;

const ext = (name: string, seq: number) => ({ name, sequenceNumber: seq, publicSettings: { of: name } });

describe('multi-config from the manifest', () => {
  let ws: Workspace;
  let mc: BuiltPackage;
  before(async () => {
    ws = await Workspace.create();
    mc = await ws.package({ name: 'Mc.Run', version: '1.0', manifest: { supportsMultipleExtensions: true }, behavior: { enable: WRITE_STATUS } });
  });
  after(async () => { await killLeftovers(ws); await ws.dispose(); });

  const apply = (extensions: unknown[]) => applyDoc(ws, { handlers: [handlerEntry('Mc.Run', [mc], { extensions })] });
  const files = async (folder: string) => (await readdir(join(ws.libDir, 'Mc.Run-1.0', folder))).sort();
  const extensionRows = async () => {
    const row = (await offlineRows(ws.dirs)).find((r) => r.name === 'Mc.Run')!;
    return Object.fromEntries(row.extensions.map((e) => [e.name, `${e.status}:${e.message}`]));
  };

  test('1 -> 2 -> 1 extensions: names never flip, the unchanged extension keeps its status', async () => {
    const one = await apply([ext('first', 1)]);
    assert.equal(resultOf(one, 'Mc.Run').reached, true, resultOf(one, 'Mc.Run').status.message);
    assert.deepEqual(await files('config'), ['first.1.settings'], 'one extension of a multi-config handler is already named');
    assert.deepEqual(await files('status'), ['first.1.status']);
    assert.deepEqual(await extensionRows(), { first: 'success:ok first' });
    const install = (await ws.log()).find((l) => l.op === 'install' && l.phase === 'start')!;
    assert.equal(install.fields['ext'], 'first', 'install is told ConfigExtensionName too');
    assert.equal(install.fields['seq'], '1');

    const two = await apply([ext('first', 1), ext('second', 1)]);
    assert.equal(resultOf(two, 'Mc.Run').reached, true);
    assert.deepEqual(await files('config'), ['first.1.settings', 'second.1.settings']);
    assert.deepEqual(await extensionRows(), { first: 'success:ok first', second: 'success:ok second' },
      'the unchanged first extension is read where it wrote its status');
    const enables = (await ws.log()).filter((l) => l.op === 'enable' && l.phase === 'start').map((l) => l.fields['ext']);
    assert.deepEqual(enables, ['first', 'second'], 'only the new extension was enabled');

    const back = await apply([ext('first', 1)]);
    assert.equal(resultOf(back, 'Mc.Run').reached, true, resultOf(back, 'Mc.Run').status.message);
    assert.equal(resultOf(back, 'Mc.Run').record.state, 'Enabled');
    assert.deepEqual(Object.keys(resultOf(back, 'Mc.Run').record.enabledExtensions), ['first']);
    const disables = (await ws.log()).filter((l) => l.op === 'disable' && l.phase === 'start');
    assert.deepEqual(disables.map((l) => `${l.fields['ext']}:${l.fields['seq']}`), ['second:1'], 'the dropped extension is disabled under its own name');
    assert.deepEqual(await files('config'), ['first.1.settings'], 'its settings file is gone');
    assert.deepEqual(await files('status'), ['first.1.status'], 'its status file is gone');
    assert.deepEqual(await extensionRows(), { first: 'success:ok first' });

    const again = await apply([ext('first', 1)]);
    assert.equal(resultOf(again, 'Mc.Run').action, 'none', 'nothing is left to do once the extension is gone');
  });

  test('uninstall of a multi-config handler names an extension on every command', async () => {
    const s = await applyDoc(ws, { handlers: [handlerEntry('Mc.Run', [mc], { state: 'uninstall', extensions: [ext('first', 1)] })] });
    assert.equal(resultOf(s, 'Mc.Run').reached, true);
    const tail = (await ws.log()).filter((l) => l.phase === 'start').slice(-2);
    assert.deepEqual(tail.map((l) => `${l.op}:${l.fields['ext']}`), ['disable:first', 'uninstall:first']);
  });

  test('a single-config handler keeps 1.settings with one extension and refuses two, as the agent does', async () => {
    const sc = await ws.package({ name: 'Sc.Run', version: '1.0', behavior: { enable: WRITE_STATUS } });
    const one = await applyDoc(ws, { handlers: [handlerEntry('Sc.Run', [sc], { extensions: [ext('only', 1)] })] });
    assert.equal(resultOf(one, 'Sc.Run').reached, true);
    assert.deepEqual((await readdir(join(ws.libDir, 'Sc.Run-1.0', 'config'))).sort(), ['1.settings']);
    const enable = (await ws.log()).filter((l) => l.handler === 'Sc.Run' && l.op === 'enable' && l.phase === 'start');
    assert.deepEqual(enable.map((l) => l.fields['ext']), ['-'], 'no ConfigExtensionName for a single-config handler');
    const two = await applyDoc(ws, { handlers: [handlerEntry('Sc.Run', [sc], { extensions: [ext('only', 2), ext('other', 1)] })] });
    const r = resultOf(two, 'Sc.Run');
    assert.equal(r.reached, false);
    assert.match(r.failure!.message, /2 extensions \(only, other\).*supportsMultipleExtensions/);
    assert.deepEqual((await readdir(join(ws.libDir, 'Sc.Run-1.0', 'config'))).sort(), ['1.settings'], 'nothing was written for the refused goal');
  });
});
