import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmod, copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { systemClock } from '../../../src/core/clock.js';
import { buildScriptArgs, resultFilePath, type ScriptAction } from '../../../src/supervisor/script/script-args.js';
import { readResultFile, runScriptAction, type ActionContext } from '../../../src/supervisor/script/run-script-action.js';
import { killAllMarked, liveMarked, waitFor } from '../process/kit.js';
import { FIXTURES, killWithEnv, makeHandlerDir, pidsWithEnv, uniqueLibId, type ScriptHandlerDir } from './kit.js';

let dir: ScriptHandlerDir;
let ctx: ActionContext;
beforeEach(async () => {
  dir = await makeHandlerDir();
  await mkdir(dir.workFolder, { recursive: true, mode: 0o700 });
  ctx = { libId: uniqueLibId(), graceMs: 200, signal: new AbortController().signal, clock: systemClock };
});
afterEach(async () => {
  await killAllMarked(ctx.libId);
  await dir.remove();
});

function run(action: ScriptAction, extra: { script?: string; args?: string[]; env?: Record<string, string>; timeoutMs?: number } = {}) {
  return runScriptAction({
    handler: 'Contoso.Script', op: 'install', action, script: extra.script ?? join(dir.handlerDir, 'adu-script.sh'),
    args: extra.args ?? buildScriptArgs({ action, arguments: '', component: null, workFolder: dir.workFolder, installedCriteria: null }),
    cwd: dir.handlerDir, env: extra.env ?? {}, workFolder: dir.workFolder, outputFolder: dir.outputFolder,
    timeoutMs: extra.timeoutMs ?? 10_000, operationTimeoutMs: extra.timeoutMs ?? 10_000,
  }, ctx);
}

describe('result codes from real scripts', () => {
  test('exit 0 with a result file: success, output captured per action', async () => {
    await dir.behave('install', 'echo "installing to $work"; echo warn >&2; write_result 600 0 "fine"');
    const { record, stdoutTail, stderrTail } = await run('install');
    assert.deepEqual([record.succeeded, record.resultCode, record.resultDetails, record.code], [true, 600, 'fine', 0]);
    assert.equal(await readFile(join(dir.outputFolder, 'install.install.stdout'), 'utf8'), `installing to ${dir.workFolder}\n`);
    assert.equal(stdoutTail, `installing to ${dir.workFolder}\n`);
    assert.equal(stderrTail, 'warn\n');
    assert.equal(record.resultFile, resultFilePath(dir.workFolder, 'install'));
  });

  test('a non-zero exit is 0x30501000 + code even when a success result file was written', async () => {
    await dir.behave('download', 'write_result 500 0 ""; exit 3');
    const { record } = await run('download');
    assert.deepEqual([record.succeeded, record.code, record.exitCode, record.decidedBy], [false, 0x30501003, 3, 'exit']);
  });

  test('exit 0 with no result file is 0x30500205, a stale one from an earlier run is never read', async () => {
    await writeFile(resultFilePath(dir.workFolder, 'install'), '{"resultCode":600}');
    await dir.behave('install', ':');
    const { record } = await run('install');
    assert.deepEqual([record.succeeded, record.code], [false, 0x30500205]);
    assert.match(record.reason, /wrote no result file/);
  });

  test('a malformed result file is 0x30500205; resultCode 0 with extended 0 is 0x30500206', async () => {
    await dir.behave('apply', 'printf \'{"resultCode": 7\' > "$result_file"');
    assert.equal((await run('apply')).record.code, 0x30500205);
    await dir.behave('apply', 'write_result 0 0 "nope"');
    const { record } = await run('apply');
    assert.deepEqual([record.succeeded, record.code, record.resultDetails], [false, 0x30500206, 'nope']);
  });

  test('cancel exiting 0 without a result file succeeds', async () => {
    await dir.behave('cancel', ':');
    const { record } = await run('cancel');
    assert.deepEqual([record.succeeded, record.resultCode], [true, 800]);
  });

  test('resultDetails with quotes and newlines, written by interpolation or by cat, arrive verbatim', async () => {
    await dir.behave('apply', 'write_result 0 77 "it said \\"stop\\"\nat line 2"');
    const interpolated = (await run('apply')).record;
    assert.equal(interpolated.resultDetails, 'it said "stop"\nat line 2');
    assert.equal(interpolated.code, 77);
    await dir.behave('apply', `cat > "$result_file" <<'JSON'\n{"resultCode": 700, "resultDetails": "quote \\" back\\\\slash\\nnext"}\nJSON`);
    assert.equal((await run('apply')).record.resultDetails, 'quote " back\\slash\nnext');
  });
});

describe('processes', () => {
  test('a script that backgrounds a child holding stdout open does not hang the action', async () => {
    await dir.behave('install', 'sleep 30 & echo started; write_result 600 0 ""');
    const t0 = Date.now();
    const { record } = await run('install');
    assert.ok(Date.now() - t0 < 15_000, `took ${Date.now() - t0} ms (the background child sleeps 30 s)`);
    assert.equal(record.succeeded, true);
    // The child outlives the action and stays attributed (the afterEach hook ends it).
    const child = await waitFor('the background sleep', async () => (await liveMarked(ctx.libId)).find((p) => p.comm === 'sleep'));
    assert.ok(child.pid > 0);
  });

  test('a script that never exits, ignoring SIGTERM with a child, is killed at its timeout and nothing survives', async () => {
    const token = randomBytes(8).toString('hex');
    await dir.behave('install', "trap '' TERM; (trap '' TERM; while :; do sleep 0.05; done) & while :; do sleep 0.05; done");
    try {
      const t0 = Date.now();
      const { record } = await run('install', { env: { SCRIPT_TEST_TOKEN: token }, timeoutMs: 300 });
      assert.deepEqual([record.succeeded, record.code, record.outcome, record.decidedBy], [false, 1011, 'timedOut', 'timedOut']);
      assert.ok(Date.now() - t0 < 15_000, `took ${Date.now() - t0} ms (the script never exits by itself)`);
      assert.deepEqual(pidsWithEnv('SCRIPT_TEST_TOKEN', token), [], 'no process with the token survives');
    } finally {
      await killWithEnv('SCRIPT_TEST_TOKEN', token);
    }
  });

  test('a script that cannot start: not executable is 0x3050107E, a missing #! interpreter 0x3050107F', async () => {
    const script = join(dir.handlerDir, 'adu-script.sh');
    await chmod(script, 0o644);
    assert.equal((await run('install')).record.code, 0x30501000 + 126);
    await writeFile(script, '#!/nonexistent/interpreter\n', { mode: 0o755 });
    await chmod(script, 0o755);
    const { record } = await run('install');
    assert.equal(record.code, 0x30501000 + 127);
    assert.equal(record.decidedBy, 'spawnFailed');
  });

  test('run directly by its #! line (python3): arguments with spaces and shell characters are single words', async () => {
    await copyFile(join(FIXTURES, 'argv-recorder.py'), join(dir.handlerDir, 'argv-recorder.py'));
    await chmod(join(dir.handlerDir, 'argv-recorder.py'), 0o755);
    const component = { name: 'Motor $(touch pwned) "x"', manufacturer: "Contoso; echo 'hi'" };
    const args = buildScriptArgs({ action: 'apply', arguments: '--n --component-name-val --m --component-manufacturer-val',
      component, workFolder: dir.workFolder, installedCriteria: 'v 1 * ?' });
    const { record } = await run('apply', { script: join(dir.handlerDir, 'argv-recorder.py'), args });
    assert.deepEqual([record.succeeded, record.resultDetails], [true, 'python ran']);
    const seen = JSON.parse(await readFile(join(dir.workFolder, 'argv_apply.json'), 'utf8')) as { argv: string[]; interpreter: string };
    assert.deepEqual(seen.argv, args);
    assert.match(seen.interpreter, /^python/);
    await assert.rejects(readFile(join(dir.handlerDir, 'pwned')), { code: 'ENOENT' });
  });
});

test('readResultFile: missing, not a file, over the cap, text', async () => {
  const p = join(dir.workFolder, 'r.json');
  assert.deepEqual(await readResultFile(p), { kind: 'missing' });
  await mkdir(p);
  assert.equal((await readResultFile(p)).kind, 'unreadable');
  const big = join(dir.workFolder, 'big.json');
  await writeFile(big, Buffer.alloc(1024 * 1024 + 1, 32));
  const r = await readResultFile(big);
  assert.ok(r.kind === 'unreadable' && /cap/.test(r.reason));
  await writeFile(p + '2', '{"resultCode":1}');
  const t = await readResultFile(p + '2');
  assert.ok(t.kind === 'text' && Buffer.from(t.text).toString() === '{"resultCode":1}');
});
