import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ResultCodes, ScriptCodes, exitStatusOf, formatCode, mapProcessEnd, mapResultFile, restartRequestOf,
} from '../../../src/supervisor/script/script-result-map.js';
import type { ProcessEnd } from '../../../src/supervisor/script/script-result-map.js';

const exited = (exitCode: number | null, signal: NodeJS.Signals | null = null): ProcessEnd =>
  ({ outcome: 'exited', exitCode, signal, error: null });
const text = (t: string) => ({ kind: 'text' as const, text: t });

describe('mapProcessEnd', () => {
  test('exit 0 leaves the decision to the result file', () => {
    assert.equal(mapProcessEnd('install', exited(0), 1000), null);
  });

  test('a run the kernel killed at the memory limit fails with 1013 naming the limit; the ADU code stays the exit status\'s', () => {
    for (const end of [{ ...exited(137), memoryLimitKill: 64 }, { ...exited(null, 'SIGKILL'), memoryLimitKill: 64 }]) {
      const m = mapProcessEnd('enable', end, 1000);
      assert.ok(m);
      assert.equal(m.succeeded, false);
      assert.equal(m.code, 1013);
      assert.equal(m.extendedResultCode, ScriptCodes.childProcessExit + 137);
      assert.equal(m.resultCode, ResultCodes.failure);
      assert.match(m.reason, /^killed by the kernel: memory limit 64 MB reached \((exit code 137|killed by SIGKILL), extendedResultCode 0x30501089;/);
      assert.equal(m.decidedBy, 'exit');
    }
  });

  test('a non-zero exit fails with 0x30501000 + exit code, result file not read', () => {
    for (const code of [1, 3, 42, 255]) {
      const m = mapProcessEnd('install', exited(code), 1000);
      assert.ok(m);
      assert.equal(m.succeeded, false);
      assert.equal(m.code, 0x30501000 + code);
      assert.equal(m.extendedResultCode, m.code);
      assert.equal(m.resultCode, 0);
      assert.equal(m.decidedBy, 'exit');
      assert.match(m.reason, new RegExp(`exit code ${code} \\(extendedResultCode ${formatCode(0x30501000 + code)}; result file not read\\)`));
    }
    assert.equal(formatCode(0x30501000 + 3), '0x30501003');
  });

  test('a process ended by a signal counts as 128 + signal number', () => {
    assert.equal(exitStatusOf({ exitCode: null, signal: 'SIGKILL' }), 137);
    const m = mapProcessEnd('enable', exited(null, 'SIGSEGV'), 1000);
    assert.equal(m?.code, 0x30501000 + 139);
    assert.match(m?.reason ?? '', /killed by SIGSEGV/);
  });

  test('timeout is 1011; cancel the op code; a failed start 126/127 as a shell says', () => {
    const t = mapProcessEnd('install', { outcome: 'timedOut', exitCode: null, signal: 'SIGKILL', error: 'x' }, 900_000);
    assert.deepEqual([t?.code, t?.decidedBy, t?.succeeded], [1011, 'timedOut', false]);
    assert.match(t?.reason ?? '', /timed out after 900 s/);
    const c = mapProcessEnd('enable', { outcome: 'canceled', exitCode: null, signal: null, error: 'x' }, 1);
    assert.deepEqual([c?.code, c?.decidedBy], [1009, 'canceled']);
    const missing = mapProcessEnd('install', { outcome: 'spawnFailed', exitCode: null, signal: null, error: 'spawn /x ENOENT' }, 1);
    assert.equal(missing?.code, 0x30501000 + 127);
    assert.match(missing?.reason ?? '', /ENOENT/);
    const denied = mapProcessEnd('install', { outcome: 'spawnFailed', exitCode: null, signal: null, error: 'spawn /x EACCES' }, 1);
    assert.equal(denied?.code, 0x30501000 + 126);
  });
});

describe('mapResultFile', () => {
  test('resultCode > 0 succeeds, keeping extendedResultCode and resultDetails', () => {
    const m = mapResultFile('install', 'f', text('{"resultCode":600,"extendedResultCode":0,"resultDetails":"ok"}'));
    assert.deepEqual([m.succeeded, m.code, m.resultCode, m.resultDetails, m.request], [true, 0, 600, 'ok', null]);
  });

  test('a missing result file is 0x30500205, except for cancel', () => {
    const m = mapResultFile('install', '/w/action_install_aduc_result.json', { kind: 'missing' });
    assert.deepEqual([m.succeeded, m.code, m.extendedResultCode], [false, ScriptCodes.resultFile, 0x30500205]);
    assert.match(m.reason, /wrote no result file \/w\/action_install_aduc_result\.json \(extendedResultCode 0x30500205\)/);
    const c = mapResultFile('cancel', 'f', { kind: 'missing' });
    assert.deepEqual([c.succeeded, c.code, c.resultCode], [true, 0, ResultCodes.cancelSuccess]);
    assert.match(c.reason, /counted as success for cancel/);
  });

  test('malformed, empty, non-object or unreadable result files are 0x30500205', () => {
    for (const content of [text('{"resultCode": 600'), text(''), text('[600]'), text('not json at all'),
      { kind: 'unreadable' as const, reason: 'EISDIR' }]) {
      const m = mapResultFile('apply', 'f', content);
      assert.equal(m.succeeded, false, JSON.stringify(content));
      assert.equal(m.code, 0x30500205);
    }
  });

  test('missing or non-numeric fields read as 0: a failure with extended 0 reports 0x30500206', () => {
    for (const body of ['{}', '{"resultCode":0,"extendedResultCode":0}', '{"resultCode":"abc","extendedResultCode":"zz"}']) {
      const m = mapResultFile('install', 'f', text(body));
      assert.deepEqual([m.succeeded, m.code, m.extendedResultCode, m.resultCode], [false, 0x30500206, 0x30500206, 0], body);
      assert.match(m.reason, /extendedResultCode 0x30500206 \(the script reported failure with extendedResultCode 0\)/);
    }
  });

  test("a failure's own extendedResultCode is the operation code, hex or decimal", () => {
    const m = mapResultFile('install', 'f', text('{"resultCode":0,"extendedResultCode":"0x30500400","resultDetails":"bad"}'));
    assert.deepEqual([m.succeeded, m.code, m.resultDetails], [false, 0x30500400, 'bad']);
    assert.equal(mapResultFile('install', 'f', text('{"resultCode":-5,"extendedResultCode":7}')).code, 7);
  });

  test('shell-interpolated JSON with raw quotes and newlines in resultDetails is repaired, details kept verbatim', () => {
    const m = mapResultFile('apply', 'f', text('{"resultCode":0,"extendedResultCode":12,"resultDetails":"he said "no"\nsecond line"}'));
    assert.equal(m.resultDetails, 'he said "no"\nsecond line');
    assert.equal(m.code, 12);
  });

  test('605/606/705/706 request a reboot, 607/608/707/708 an agent restart, still successes', () => {
    for (const rc of [605, 606, 705, 706]) {
      const m = mapResultFile('install', 'f', text(`{"resultCode":${rc}}`));
      assert.deepEqual([m.succeeded, m.request], [true, 'reboot'], String(rc));
    }
    for (const rc of [607, 608, 707, 708]) assert.equal(mapResultFile('apply', 'f', text(`{"resultCode":${rc}}`)).request, 'agentRestart');
    for (const rc of [0, 600, 700, 900, 609]) assert.equal(restartRequestOf(rc), null);
  });
});

test('formatCode renders 8 upper-case hex digits, negatives as their 32-bit pattern', () => {
  assert.equal(formatCode(0x30500205), '0x30500205');
  assert.equal(formatCode(1011), '0x000003F3');
  assert.equal(formatCode(-1), '0xFFFFFFFF');
});
