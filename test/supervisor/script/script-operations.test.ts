import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Gate } from '../../../src/supervisor/lifecycle/gate.js';
import { actionsFor, runScriptOperation } from '../../../src/supervisor/script/script-operations.js';
import { killAllMarked, liveMarked, waitFor } from '../process/kit.js';
import { makeHandlerDir, operationInput, runContext, scriptManifest, type ScriptHandlerDir } from './kit.js';

let dir: ScriptHandlerDir;
let ctx: ReturnType<typeof runContext>;
beforeEach(async () => {
  dir = await makeHandlerDir();
  ctx = runContext();
});
afterEach(async () => {
  await killAllMarked(ctx.libId);
  await dir.remove();
});

const component = { id: 'comp-1', name: 'Motor Controller', manufacturer: 'Contoso Ltd', 'properties.path': '/opt/motor firmware' };

describe('install', () => {
  test('runs is-installed, download, install with the argv of CONTRACT section 5', async () => {
    const manifest = scriptManifest({ arguments: '--id --component-id-val --path --component-prop-val path --mf --component-manufacturer-val --x --component-prop-val nope',
      installedCriteria: '1.2.3' });
    const r = await runScriptOperation(operationInput(dir, { manifest, component }), ctx);
    assert.equal(r.result, 'succeeded', r.message);
    assert.deepEqual(await dir.calls(), ['is-installed', 'download', 'install']);
    const wf = dir.workFolder;
    for (const action of ['is-installed', 'download', 'install']) {
      assert.deepEqual(await dir.argv(action), [`--action-${action}`, '--id', 'comp-1', '--path', '/opt/motor firmware',
        '--mf', 'Contoso Ltd', '--x', 'n/a', '--work-folder', wf, '--result-file', join(wf, `action_${action}_aduc_result.json`),
        '--installed-criteria', '1.2.3']);
    }
    assert.deepEqual([r.code, r.resultCode, r.extendedResultCode, r.exitCode, r.op, r.extension], [0, 600, 0, 0, 'install', null]);
    assert.deepEqual(r.actions.map((a) => [a.action, a.resultCode]), [['is-installed', 901], ['download', 500], ['install', 600]]);
    assert.equal(r.pids.length, 3);
    assert.equal(r.message, 'install succeeded: is-installed: resultCode 901; download: resultCode 500; install: resultCode 600');
    // One operationStarted per action, each naming its pid, all with the operation's start time.
    assert.deepEqual(ctx.starts.map((s) => s.pid), r.pids);
    assert.ok(ctx.starts.every((s) => s.startedAt === r.startedAt) && r.endedAt >= r.startedAt);
    assert.equal(ctx.gate.running, 0);
  });

  test('no component and no installedCriteria: placeholders are n/a and --installed-criteria is absent', async () => {
    const manifest = scriptManifest({ arguments: '--component-name-val --component-prop-val path' });
    await runScriptOperation(operationInput(dir, { op: 'enable', manifest }), ctx);
    assert.deepEqual(await dir.argv('apply'), ['--action-apply', 'n/a', 'n/a', '--work-folder', dir.workFolder,
      '--result-file', join(dir.workFolder, 'action_apply_aduc_result.json')]);
  });

  test('is-installed answering 900 skips download and install', async () => {
    await dir.behave('is-installed', 'write_result 900 0 "version $installed_criteria present"');
    const r = await runScriptOperation(operationInput(dir, { installedCriteria: '2.0' }), ctx);
    assert.deepEqual(await dir.calls(), ['is-installed']);
    assert.deepEqual([r.result, r.code, r.resultCode, r.resultDetails], ['succeeded', 0, 900, 'version 2.0 present']);
    assert.equal(r.message, 'install succeeded: already installed (is-installed resultCode 900), download and install skipped; resultDetails: version 2.0 present');
  });

  test('a failing is-installed (exit 2, or no result file) goes on with download and install', async () => {
    await dir.behave('is-installed', 'exit 2');
    const r = await runScriptOperation(operationInput(dir), ctx);
    assert.deepEqual(await dir.calls(), ['is-installed', 'download', 'install']);
    assert.equal(r.result, 'succeeded');
    assert.match(r.message, /is-installed: exit code 2 \(extendedResultCode 0x30501002; result file not read\); download: resultCode 500/);
  });

  test('a failed download stops the sequence: 0x30501000 + exit, tails in the message', async () => {
    await dir.behave('download', 'echo "fetching payload"; echo "disk full" >&2; exit 4');
    const r = await runScriptOperation(operationInput(dir), ctx);
    assert.deepEqual(await dir.calls(), ['is-installed', 'download']);
    assert.deepEqual([r.result, r.code, r.extendedResultCode, r.exitCode], ['failed', 0x30501004, 0x30501004, 4]);
    assert.equal(r.message, 'install failed at --action-download: exit code 4 (extendedResultCode 0x30501004; result file not read)'
      + ' (before it: is-installed: resultCode 901)\n[stdout]\nfetching payload\n[stderr]\ndisk full');
  });

  test('a failure result keeps resultDetails with quotes and newlines in the one message string', async () => {
    await dir.behave('install', 'write_result 0 0 "package \\"motor\\" rejected\nsee log"');
    const r = await runScriptOperation(operationInput(dir), ctx);
    assert.deepEqual([r.result, r.code, r.resultDetails], ['failed', 0x30500206, 'package "motor" rejected\nsee log']);
    assert.match(r.message, /^install failed at --action-install: resultCode 0, extendedResultCode 0x30500206 \(the script reported failure with extendedResultCode 0\)/);
    assert.ok(r.message.includes('; resultDetails: package "motor" rejected\nsee log'));
  });

  test('update runs the new version\'s install sequence', async () => {
    const r = await runScriptOperation(operationInput(dir, { op: 'update' }), ctx);
    assert.deepEqual(actionsFor('update'), ['is-installed', 'download', 'install']);
    assert.deepEqual(await dir.calls(), ['is-installed', 'download', 'install']);
    assert.match(r.message, /^update \(the new version's install sequence\) succeeded/);
    assert.equal(r.op, 'update');
  });

  test('the timeout bounds the whole sequence: a slow is-installed leaves download less time', async () => {
    // Margins, not timings: is-installed uses half the budget (with 1 s left for a loaded machine to start
    // bash), and download alone would sleep 30 s, so an end well before that proves it got only the rest.
    await dir.behave('is-installed', 'sleep 1; write_result 901 0 ""');
    await dir.behave('download', 'sleep 30; write_result 500 0 ""');
    const t0 = Date.now();
    const r = await runScriptOperation(operationInput(dir, { timeoutMs: 2000 }), ctx);
    assert.ok(Date.now() - t0 < 15_000, `took ${Date.now() - t0} ms`);
    assert.deepEqual([r.result, r.code], ['timedOut', 1011]);
    assert.deepEqual(await dir.calls(), ['is-installed', 'download']);
    assert.match(r.message, /^install timed out at --action-download: timed out after 2 s/);
    assert.deepEqual(await liveMarked(ctx.libId), []);
  });
});

describe('enable, disable, uninstall', () => {
  test('enable is apply; 705 is recorded as a reboot request', async () => {
    await dir.behave('apply', 'write_result 705 0 "reboot to finish"');
    const r = await runScriptOperation(operationInput(dir, { op: 'enable' }), ctx);
    assert.deepEqual(await dir.calls(), ['apply']);
    assert.deepEqual([r.result, r.rebootRequested, r.agentRestartRequested, r.resultCode], ['succeeded', true, false, 705]);
    assert.match(r.message, /reboot requested by apply \(resultCode 705; recorded, not acted on\)/);
  });

  test('install 605 asks for a reboot, apply 707 for an agent restart', async () => {
    await dir.behave('install', 'write_result 605 0 ""');
    assert.equal((await runScriptOperation(operationInput(dir), ctx)).rebootRequested, true);
    await dir.behave('apply', 'write_result 707 0 ""');
    const r = await runScriptOperation(operationInput(dir, { op: 'enable' }), ctx);
    assert.deepEqual([r.rebootRequested, r.agentRestartRequested], [false, true]);
    assert.match(r.message, /agent restart requested by apply \(resultCode 707/);
  });

  test('disable is cancel: exit 0 without a result file succeeds, and leftover processes are ended', async () => {
    await dir.behave('apply', 'sleep 30 & write_result 700 0 ""');
    assert.equal((await runScriptOperation(operationInput(dir, { op: 'enable' }), ctx)).result, 'succeeded');
    // The background `sleep` may still be inside its exec, when /proc/<pid>/environ reads empty: look again.
    await waitFor('the leftover sleep to be seen', async () => ((await liveMarked(ctx.libId)).length === 1 ? true : undefined));
    await dir.behave('cancel', ':');
    const r = await runScriptOperation(operationInput(dir, { op: 'disable' }), ctx);
    assert.deepEqual(await dir.calls(), ['apply', 'cancel']);
    assert.deepEqual([r.result, r.resultCode], ['succeeded', 800]);
    assert.match(r.message, /cancel: exited 0 without a result file \(counted as success for cancel\); ended 1 leftover process$/);
    assert.deepEqual(await liveMarked(ctx.libId), []);
  });

  test('uninstall runs nothing, needs no script, and says so', async () => {
    const manifest = scriptManifest({ scriptFileName: 'already-removed.sh' });
    const r = await runScriptOperation(operationInput(dir, { op: 'uninstall', manifest }), ctx);
    assert.deepEqual(await dir.calls(), []);
    assert.deepEqual([r.result, r.code, r.actions.length, r.pids.length], ['succeeded', 0, 0, 0]);
    assert.equal(r.message, 'uninstall: script handlers have no uninstall action (Device Update defines none); nothing was run');
    assert.deepEqual(ctx.starts.map((s) => s.pid), [null]);
  });

  test('a canceled operation (supervisor stopping) fails with the op code and ends the script', async () => {
    const stop = new AbortController();
    ctx = runContext({ signal: stop.signal });
    await dir.behave('apply', 'sleep 30; write_result 700 0 ""');
    const pending = runScriptOperation(operationInput(dir, { op: 'enable' }), ctx);
    setTimeout(() => stop.abort(), 200);
    const r = await pending;
    assert.deepEqual([r.result, r.code], ['failed', 1009]);
    assert.match(r.message, /canceled: the supervisor is stopping/);
    assert.deepEqual(await liveMarked(ctx.libId), []);
  });
});

describe('setup', () => {
  test('the work folder is created 0700, and tightened to 0700 when it existed looser', async () => {
    await runScriptOperation(operationInput(dir, { op: 'enable' }), ctx);
    assert.equal((await stat(dir.workFolder)).mode & 0o777, 0o700);
    const other = join(dir.root, 'loose');
    await mkdir(other, { mode: 0o755 });
    await runScriptOperation(operationInput(dir, { op: 'enable', workFolder: other }), ctx);
    assert.equal((await stat(other)).mode & 0o777, 0o700);
  });

  test('a missing script fails with 0x30500004 before anything runs', async () => {
    const r = await runScriptOperation(operationInput(dir, { manifest: scriptManifest({ scriptFileName: 'nope.sh' }) }), ctx);
    assert.deepEqual([r.result, r.code, r.pids.length], ['failed', 0x30500004, 0]);
    assert.match(r.message, /nope\.sh.*missing or not a file \(extendedResultCode 0x30500004\)/);
    assert.deepEqual(ctx.starts.map((s) => s.pid), [null]);
  });

  test('a component value with NUL fails with 0x30500007 naming the field', async () => {
    const manifest = scriptManifest({ arguments: '--component-model-val' });
    const r = await runScriptOperation(operationInput(dir, { manifest, component: { model: 'M\0' } }), ctx);
    assert.deepEqual([r.result, r.code], ['failed', 0x30500007]);
    assert.match(r.message, /component\.model/);
    assert.deepEqual(await dir.calls(), []);
  });

  test('the gate slot is held for the whole sequence: two installs never interleave', async () => {
    const other = await makeHandlerDir();
    try {
      const gate = new Gate('install', 1);
      const ctxA = runContext({ gate, libId: ctx.libId });
      await dir.behave('download', 'sleep 0.1; write_result 500 0 ""');
      await other.behave('download', 'sleep 0.1; write_result 500 0 ""');
      const [a, b] = await Promise.all([
        runScriptOperation(operationInput(dir), ctxA),
        runScriptOperation(operationInput(other, { handler: 'Contoso.Other' }), ctxA),
      ]);
      assert.equal(gate.peak, 1);
      const span = (r: typeof a) => [Math.min(...r.actions.map((x) => x.startedAt)), Math.max(...r.actions.map((x) => x.endedAt))] as const;
      const [sa, ea] = span(a);
      const [sb, eb] = span(b);
      assert.ok(ea <= sb || eb <= sa, `sequences overlap: A ${sa}-${ea}, B ${sb}-${eb}`);
    } finally {
      await other.remove();
    }
  });
});
