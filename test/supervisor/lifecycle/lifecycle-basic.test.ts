import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Workspace, handlerEntry, opsOf, type BuiltPackage } from '../../helpers/handlers.js';
import { applyDoc, killLeftovers, liveProcesses, resultOf } from '../../helpers/fleet.js';
import { closePackagePool } from '../../../src/supervisor/packages/pool.js';

after(() => closePackagePool());

describe('lifecycle: install, enable, re-enable, disable, uninstall', () => {
  let ws: Workspace;
  let pkg: BuiltPackage;
  before(async () => {
    ws = await Workspace.create();
    pkg = await ws.package({ name: 'Contoso.Hello', version: '1.0.0', behavior: {
      // enable leaves a daemon behind, as real services do; disable must end it
      enable: 'sleep 300 >/dev/null 2>&1 &\necho enabled-ok',
    } });
  });
  after(async () => { await killLeftovers(ws); await ws.dispose(); });

  test('fresh install runs install then enable, writes the handler files, and is Ready', async () => {
    const s = await applyDoc(ws, { handlers: [handlerEntry('Contoso.Hello', [pkg], { version: '1.0' })] });
    const r = resultOf(s, 'Contoso.Hello');
    assert.equal(r.reached, true, r.status.message);
    assert.equal(r.record.state, 'Enabled');
    assert.equal(r.status.status, 'Ready');
    assert.equal(r.status.message, 'Plugin enabled');
    assert.deepEqual(opsOf(await ws.log()), ['install 1.0.0', 'enable 1.0.0']);
    const dir = join(ws.libDir, 'Contoso.Hello-1.0.0');
    const env = JSON.parse(await readFile(join(dir, 'HandlerEnvironment.json'), 'utf8'));
    assert.equal(env[0].name, 'Contoso.Hello');
    assert.equal(env[0].handlerEnvironment.configFolder, join(dir, 'config'));
    assert.equal(env[0].handlerEnvironment.logFolder, join(ws.logDir, 'Contoso.Hello'));
    assert.match(await readFile(join(dir, 'HandlerEnvironment.json'), 'utf8'), /"version":\s*1\.0/);
    const settingsFile = join(dir, 'config', '1.settings');
    const settings = JSON.parse(await readFile(settingsFile, 'utf8'));
    assert.deepEqual(settings.runtimeSettings[0].handlerSettings.publicSettings, { greeting: 'hello' });
    assert.equal((await stat(settingsFile)).mode & 0o777, 0o600);
    assert.equal((await stat(join(dir, 'config'))).mode & 0o777, 0o700);
    for (const f of ['status', 'config']) assert.ok((await stat(join(dir, f))).isDirectory());
    assert.ok((await stat(join(ws.logDir, 'Contoso.Hello'))).isDirectory());
    const enableLine = (await ws.log()).find((l) => l.op === 'enable' && l.phase === 'start')!;
    assert.equal(enableLine.fields['seq'], '1');
    assert.equal(enableLine.fields['op_env'], 'enable');
    assert.equal(enableLine.fields['cwd'], dir);
    assert.match(await readFile(join(dir, '.supervisor', 'enable.stdout'), 'utf8'), /enabled-ok/);
    assert.equal((await liveProcesses(ws)).get('Contoso.Hello')?.length, 1, 'the daemon enable started stays attributed');
  });

  test('re-applying the same goal runs nothing', async () => {
    const before = (await ws.log()).length;
    const s = await applyDoc(ws, { handlers: [handlerEntry('Contoso.Hello', [pkg], { version: '1.0' })] });
    assert.equal(resultOf(s, 'Contoso.Hello').action, 'none');
    assert.equal(resultOf(s, 'Contoso.Hello').reached, true);
    assert.equal((await ws.log()).length, before);
  });

  test('a higher sequence number runs enable again, with new settings', async () => {
    const before = (await ws.log()).length;
    const s = await applyDoc(ws, { handlers: [handlerEntry('Contoso.Hello', [pkg], { version: '1.0',
      extensions: [{ name: 'default', sequenceNumber: 2, publicSettings: { greeting: 'again' } }] })] });
    assert.equal(resultOf(s, 'Contoso.Hello').reached, true);
    assert.deepEqual(opsOf((await ws.log()).slice(before)), ['enable 1.0.0']);
    const settings = JSON.parse(await readFile(join(ws.libDir, 'Contoso.Hello-1.0.0', 'config', '2.settings'), 'utf8'));
    assert.equal(settings.runtimeSettings[0].handlerSettings.publicSettings.greeting, 'again');
  });

  test('disabled runs disable and ends what the handler left running', async () => {
    assert.ok(((await liveProcesses(ws)).get('Contoso.Hello')?.length ?? 0) >= 1);
    const before = (await ws.log()).length;
    const s = await applyDoc(ws, { handlers: [handlerEntry('Contoso.Hello', [pkg], { version: '1.0', state: 'disabled' })] });
    const r = resultOf(s, 'Contoso.Hello');
    assert.equal(r.reached, true);
    assert.equal(r.record.state, 'Installed');
    assert.equal(r.status.status, 'NotReady');
    assert.deepEqual(opsOf((await ws.log()).slice(before)), ['disable 1.0.0']);
    assert.equal((await liveProcesses(ws)).get('Contoso.Hello'), undefined, 'no process of the handler survives disable');
  });

  test('enabled again from Installed runs enable only', async () => {
    const before = (await ws.log()).length;
    const s = await applyDoc(ws, { handlers: [handlerEntry('Contoso.Hello', [pkg], { version: '1.0' })] });
    assert.equal(resultOf(s, 'Contoso.Hello').record.state, 'Enabled');
    assert.deepEqual(opsOf((await ws.log()).slice(before)), ['enable 1.0.0']);
  });

  test('uninstall runs disable and uninstall, then removes the dir and the state', async () => {
    const before = (await ws.log()).length;
    const s = await applyDoc(ws, { handlers: [handlerEntry('Contoso.Hello', [pkg], { version: '1.0', state: 'uninstall' })] });
    const r = resultOf(s, 'Contoso.Hello');
    assert.equal(r.reached, true);
    assert.equal(r.record.state, 'NotInstalled');
    assert.deepEqual(opsOf((await ws.log()).slice(before)), ['disable 1.0.0', 'uninstall 1.0.0']);
    await assert.rejects(stat(join(ws.libDir, 'Contoso.Hello-1.0.0')), { code: 'ENOENT' });
    await assert.rejects(stat(join(ws.libDir, 'state', 'Contoso.Hello.json')), { code: 'ENOENT' });
    assert.equal((await liveProcesses(ws)).get('Contoso.Hello'), undefined);
  });
});

describe('lifecycle: settings files', () => {
  let ws: Workspace;
  before(async () => { ws = await Workspace.create(); });
  after(async () => { await killLeftovers(ws); await ws.dispose(); });

  test('no extensions: an empty 0.settings and ConfigSequenceNumber 0', async () => {
    const pkg = await ws.package({ name: 'NoExt', version: '1.0' });
    const s = await applyDoc(ws, { handlers: [handlerEntry('NoExt', [pkg], { extensions: [] })] });
    assert.equal(resultOf(s, 'NoExt').reached, true);
    assert.equal(await readFile(join(ws.libDir, 'NoExt-1.0', 'config', '0.settings'), 'utf8'), '');
    assert.equal((await ws.log()).find((l) => l.handler === 'NoExt' && l.op === 'enable')!.fields['seq'], '0');
  });

  test('several extensions: multi-config names, one enable per extension with ConfigExtensionName', async () => {
    const pkg = await ws.package({ name: 'Multi', version: '1.0', manifest: { supportsMultipleExtensions: true } });
    const s = await applyDoc(ws, { handlers: [handlerEntry('Multi', [pkg], { extensions: [
      { name: 'first', sequenceNumber: 3, publicSettings: { n: 1 }, protectedSettings: 'c2VjcmV0', protectedSettingsCertThumbprint: 'ABCD' },
      { name: 'second', sequenceNumber: 5, publicSettings: { n: 2 } },
    ] })] });
    assert.equal(resultOf(s, 'Multi').reached, true);
    const first = JSON.parse(await readFile(join(ws.libDir, 'Multi-1.0', 'config', 'first.3.settings'), 'utf8'));
    assert.equal(first.runtimeSettings[0].handlerSettings.protectedSettings, 'c2VjcmV0');
    assert.equal(first.runtimeSettings[0].handlerSettings.protectedSettingsCertThumbprint, 'ABCD');
    await stat(join(ws.libDir, 'Multi-1.0', 'config', 'second.5.settings'));
    const enables = (await ws.log()).filter((l) => l.handler === 'Multi' && l.op === 'enable' && l.phase === 'start');
    assert.deepEqual(enables.map((l) => `${l.fields['ext']}:${l.fields['seq']}`), ['first:3', 'second:5']);
    const install = (await ws.log()).find((l) => l.handler === 'Multi' && l.op === 'install')!;
    assert.equal(install.fields['ext'], 'first', 'handler-level commands run once, named after the first extension (as the agent)');
    assert.equal((await ws.log()).filter((l) => l.handler === 'Multi' && l.op === 'install' && l.phase === 'start').length, 1);
  });
});
