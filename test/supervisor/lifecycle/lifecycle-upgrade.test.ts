import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Workspace, handlerEntry, opsOf } from '../../helpers/handlers.js';
import { applyDoc, killLeftovers, resultOf } from '../../helpers/fleet.js';
import { closePackagePool } from '../../../src/supervisor/packages/pool.js';

after(() => closePackagePool());

async function withWorkspace(fn: (ws: Workspace) => Promise<void>): Promise<void> {
  const ws = await Workspace.create();
  try { await fn(ws); } finally { await killLeftovers(ws); await ws.dispose(); }
}

describe('lifecycle: upgrade', () => {
  test('runs old disable, copy, new update, old uninstall, remove old, new install, new enable, with the agent env', () => withWorkspace(async (ws) => {
    const v1 = await ws.package({ name: 'Up', version: '1.0.0' });
    const v2 = await ws.package({ name: 'Up', version: '1.1.0' });
    assert.equal(resultOf(await applyDoc(ws, { handlers: [handlerEntry('Up', [v1, v2], { version: '1.0.0' })] }), 'Up').reached, true);
    // state the handler wrote itself, to be carried over
    await writeFile(join(ws.libDir, 'Up-1.0.0', 'mrseq'), '1');
    await writeFile(join(ws.libDir, 'Up-1.0.0', 'status', '1.status'), '[{"status":{"status":"success"}}]');
    const before = (await ws.log()).length;
    const s = await applyDoc(ws, { handlers: [handlerEntry('Up', [v1, v2], { version: '1.1' })] });
    const r = resultOf(s, 'Up');
    assert.equal(r.reached, true, r.status.message);
    assert.equal(r.action, 'upgrade');
    assert.equal(r.record.version, '1.1.0');
    const lines = (await ws.log()).slice(before);
    assert.deepEqual(opsOf(lines), ['disable 1.0.0', 'update 1.1.0', 'uninstall 1.0.0', 'install 1.1.0', 'enable 1.1.0']);
    const update = lines.find((l) => l.op === 'update' && l.phase === 'start')!;
    assert.equal(update.fields['VERSION'], '1.1.0');
    assert.equal(update.fields['from'], '1.0.0');
    assert.equal(update.fields['disable_rc'], '0');
    assert.equal(update.fields['uninstall_rc'], 'NOT_RUN');
    const install = lines.find((l) => l.op === 'install' && l.phase === 'start')!;
    assert.equal(install.fields['uninstall_rc'], '0');
    assert.equal(await readFile(join(ws.libDir, 'Up-1.1.0', 'mrseq'), 'utf8'), '1');
    await stat(join(ws.libDir, 'Up-1.1.0', 'status', '1.status'));
    await assert.rejects(stat(join(ws.libDir, 'Up-1.0.0')), { code: 'ENOENT' });
  }));

  test('UpdateWithoutInstall (any case) skips the new install', () => withWorkspace(async (ws) => {
    const v1 = await ws.package({ name: 'Uwi', version: '1.0' });
    const v2 = await ws.package({ name: 'Uwi', version: '1.1', manifest: { updateMode: 'updatewithoutinstall' } });
    await applyDoc(ws, { handlers: [handlerEntry('Uwi', [v1, v2], { version: '1.0' })] });
    const before = (await ws.log()).length;
    const r = resultOf(await applyDoc(ws, { handlers: [handlerEntry('Uwi', [v1, v2], { version: '1.1' })] }), 'Uwi');
    assert.equal(r.reached, true, r.status.message);
    assert.deepEqual(opsOf((await ws.log()).slice(before)), ['disable 1.0', 'update 1.1', 'uninstall 1.0', 'enable 1.1']);
  }));

  test('downgrade is refused without allowDowngrade, done with it', () => withWorkspace(async (ws) => {
    const v1 = await ws.package({ name: 'Down', version: '1.0' });
    const v2 = await ws.package({ name: 'Down', version: '2.0' });
    await applyDoc(ws, { handlers: [handlerEntry('Down', [v1, v2], { version: '2.0' })] });
    const before = (await ws.log()).length;
    const refused = resultOf(await applyDoc(ws, { handlers: [handlerEntry('Down', [v1, v2], { version: '1.0' })] }), 'Down');
    assert.equal(refused.reached, false);
    assert.equal(refused.status.status, 'Failed');
    assert.match(refused.status.message, /downgrade/i);
    assert.equal(refused.record.version, '2.0');
    assert.equal((await ws.log()).length, before, 'nothing ran');
    const done = resultOf(await applyDoc(ws, { handlers: [handlerEntry('Down', [v1, v2], { version: '1.0', allowDowngrade: true })] }), 'Down');
    assert.equal(done.reached, true, done.status.message);
    assert.equal(done.action, 'downgrade');
    assert.equal(done.record.version, '1.0');
  }));

  test('a failed old disable aborts the upgrade unless continueOnUpdateFailure', () => withWorkspace(async (ws) => {
    const v1 = await ws.package({ name: 'Stop', version: '1.0', behavior: { disable: 'echo cannot stop >&2; rc=7' } });
    const v2 = await ws.package({ name: 'Stop', version: '1.1' });
    await applyDoc(ws, { handlers: [handlerEntry('Stop', [v1, v2], { version: '1.0' })] });
    const before = (await ws.log()).length;
    const r = resultOf(await applyDoc(ws, { handlers: [handlerEntry('Stop', [v1, v2], { version: '1.1' })] }), 'Stop');
    assert.equal(r.reached, false);
    assert.equal(r.status.code, 1010);
    assert.match(r.status.message, /disable failed with exit code 7[\s\S]*cannot stop/);
    assert.equal(r.record.version, '1.0');
    assert.equal(r.record.state, 'Enabled');
    assert.deepEqual(opsOf((await ws.log()).slice(before)), ['disable 1.0']);
    await assert.rejects(stat(join(ws.libDir, 'Stop-1.1')), { code: 'ENOENT' }, 'the new dir is not left behind');

    const v3 = await ws.package({ name: 'Stop', version: '1.2', manifest: { continueOnUpdateFailure: 'true' } });
    const before2 = (await ws.log()).length;
    const r2 = resultOf(await applyDoc(ws, { handlers: [handlerEntry('Stop', [v1, v3], { version: '1.2' })] }), 'Stop');
    assert.equal(r2.reached, true, r2.status.message);
    const lines = (await ws.log()).slice(before2);
    assert.deepEqual(opsOf(lines), ['disable 1.0', 'update 1.2', 'uninstall 1.0', 'install 1.2', 'enable 1.2']);
    assert.equal(lines.find((l) => l.op === 'update' && l.phase === 'start')!.fields['disable_rc'], '7');
  }));

  test('a failed update leaves FailedUpgrade (1008); the next apply retries from update', () => withWorkspace(async (ws) => {
    const v1 = await ws.package({ name: 'Upd', version: '1.0' });
    const flag = join(ws.root, 'update-ok');
    const v2 = await ws.package({ name: 'Upd', version: '1.1', behavior: { update: `[ -f ${flag} ] || rc=3` } });
    await applyDoc(ws, { handlers: [handlerEntry('Upd', [v1, v2], { version: '1.0' })] });
    const r = resultOf(await applyDoc(ws, { handlers: [handlerEntry('Upd', [v1, v2], { version: '1.1' })] }), 'Upd');
    assert.equal(r.reached, false);
    assert.equal(r.record.state, 'FailedUpgrade');
    assert.equal(r.status.code, 1008);
    await stat(join(ws.libDir, 'Upd-1.0'));
    await stat(join(ws.libDir, 'Upd-1.1'));
    await mkdir(ws.root, { recursive: true });
    await writeFile(flag, '');
    const before = (await ws.log()).length;
    const again = resultOf(await applyDoc(ws, { handlers: [handlerEntry('Upd', [v1, v2], { version: '1.1' })] }), 'Upd');
    assert.equal(again.reached, true, again.status.message);
    assert.deepEqual(opsOf((await ws.log()).slice(before)), ['update 1.1', 'uninstall 1.0', 'install 1.1', 'enable 1.1']);
  }));
});
