import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Workspace, handlerEntry } from '../../helpers/handlers.js';
import { applyDoc, killLeftovers, resultOf } from '../../helpers/fleet.js';
import { closePackagePool } from '../../../src/supervisor/packages/pool.js';

after(() => closePackagePool());

async function withWorkspace(fn: (ws: Workspace) => Promise<void>): Promise<void> {
  const ws = await Workspace.create('exts-script-');
  try { await fn(ws); } finally { await killLeftovers(ws); await ws.dispose(); }
}

const calls = async (ws: Workspace, name: string) =>
  (await readFile(join(ws.libDir, 'work', name, 'calls.log'), 'utf8').catch(() => '')).split('\n').filter(Boolean);

describe('lifecycle: script-form handlers through the fleet', () => {
  test('install = is-installed, download, install; enable = apply; disable = cancel; uninstall removes the work folder', () => withWorkspace(async (ws) => {
    const pkg = await ws.scriptPackage({ name: 'Adu.Fw', version: '1.0', arguments: '--component-name-val --mode fast' });
    const comp = { id: 'c1', name: 'camera front', manufacturer: 'contoso', model: 'm1', version: '2.0', group: 'g', properties: { path: '/dev/x' } };
    const s = await applyDoc(ws, { handlers: [handlerEntry('Adu.Fw', [pkg], { component: comp, handlerProperties: { installedCriteria: 'fw-2.0' } })] });
    const r = resultOf(s, 'Adu.Fw');
    assert.equal(r.reached, true, r.status.message);
    assert.equal(r.record.form, 'script');
    assert.deepEqual(await calls(ws, 'Adu.Fw'), ['is-installed', 'download', 'install', 'apply']);
    const argv = (await readFile(join(ws.libDir, 'work', 'Adu.Fw', 'argv_apply.txt'), 'utf8')).split('\n').filter(Boolean);
    const work = join(ws.libDir, 'work', 'Adu.Fw');
    assert.deepEqual(argv, ['--action-apply', 'camera front', '--mode', 'fast', '--work-folder', work,
      '--result-file', join(work, 'action_apply_aduc_result.json'), '--installed-criteria', 'fw-2.0']);
    assert.equal((await stat(work)).mode & 0o777, 0o700);

    const off = resultOf(await applyDoc(ws, { handlers: [handlerEntry('Adu.Fw', [pkg], { state: 'disabled', component: comp })] }), 'Adu.Fw');
    assert.equal(off.reached, true, off.status.message);
    assert.equal((await calls(ws, 'Adu.Fw')).at(-1), 'cancel');

    const gone = resultOf(await applyDoc(ws, { handlers: [handlerEntry('Adu.Fw', [pkg], { state: 'uninstall' })] }), 'Adu.Fw');
    assert.equal(gone.reached, true, gone.status.message);
    await assert.rejects(stat(work), { code: 'ENOENT' });
  }));

  test('is-installed 900 skips download and install', () => withWorkspace(async (ws) => {
    const pkg = await ws.scriptPackage({ name: 'Adu.Done', version: '1.0', behavior: { 'is-installed': 'write_result 900 0 "already there"' } });
    const r = resultOf(await applyDoc(ws, { handlers: [handlerEntry('Adu.Done', [pkg])] }), 'Adu.Done');
    assert.equal(r.reached, true, r.status.message);
    assert.deepEqual(await calls(ws, 'Adu.Done'), ['is-installed', 'apply']);
  }));

  test('a failing apply reports the extended result code and the details; a reboot request is recorded', () => withWorkspace(async (ws) => {
    const bad = await ws.scriptPackage({ name: 'Adu.Bad', version: '1.0', behavior: { apply: 'write_result 0 808452101 "flash \\"failed\\""' } });
    const r = resultOf(await applyDoc(ws, { handlers: [handlerEntry('Adu.Bad', [bad])] }), 'Adu.Bad');
    assert.equal(r.reached, false);
    assert.equal(r.status.code, 808452101);
    assert.match(r.status.message, /flash "failed"/);

    const reboot = await ws.scriptPackage({ name: 'Adu.Reboot', version: '1.0', behavior: { apply: 'write_result 705 0 "reboot needed"' } });
    const rr = resultOf(await applyDoc(ws, { handlers: [handlerEntry('Adu.Reboot', [reboot])] }), 'Adu.Reboot');
    assert.equal(rr.reached, true, rr.status.message);
    const apply = rr.operations.find((o) => o.op === 'enable');
    assert.deepEqual(apply?.requests, { reboot: true, agentRestart: false });
  }));
});
