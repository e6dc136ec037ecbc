import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseScriptResult, repairJson, type ScriptResult, type ScriptResultParse } from '../../src/protocol/script-result.js';

const run = promisify(execFile);

function ok(parsed: ScriptResultParse): ScriptResult & { repaired: boolean } {
  assert.ok(parsed.ok, `expected ok, got ${parsed.ok ? '' : parsed.problem}`);
  return { ...parsed.result, repaired: parsed.repaired };
}

describe('parseScriptResult', () => {
  test('strict JSON as the example script writes it', () => {
    const text = '{"resultCode":901, "extendedResultCode":0,"resultDetails":""}';
    assert.deepEqual(ok(parseScriptResult(text, 'r.json')), { resultCode: 901, extendedResultCode: 0, resultDetails: '', repaired: false });
  });

  test('numeric and hex strings, missing and unreadable fields', () => {
    assert.deepEqual(ok(parseScriptResult('{"resultCode":"600","extendedResultCode":"0x30500205","resultDetails":"x"}', 'r')),
      { resultCode: 600, extendedResultCode: 0x30500205, resultDetails: 'x', repaired: false });
    assert.deepEqual(ok(parseScriptResult('{}', 'r')), { resultCode: 0, extendedResultCode: 0, resultDetails: '', repaired: false });
    assert.deepEqual(ok(parseScriptResult('{"resultCode":"abc","extendedResultCode":null,"resultDetails":42}', 'r')),
      { resultCode: 0, extendedResultCode: 0, resultDetails: '42', repaired: false });
    assert.equal(ok(parseScriptResult('{"resultCode":-1}', 'r')).resultCode, -1);
    assert.equal(ok(parseScriptResult(Buffer.from('\uFEFF{"resultCode":700}'), 'r')).resultCode, 700);
  });

  test('a raw newline, tab and carriage return inside resultDetails', () => {
    const r = ok(parseScriptResult('{"resultCode":0, "extendedResultCode":5,"resultDetails":"line one\nline two\tx\r"}', 'r'));
    assert.deepEqual(r, { resultCode: 0, extendedResultCode: 5, resultDetails: 'line one\nline two\tx\r', repaired: true });
  });

  test('unescaped quotes and backslashes inside resultDetails', () => {
    const quoted = ok(parseScriptResult('{"resultCode":0, "extendedResultCode":1,"resultDetails":"file "a b" not found"}', 'r'));
    assert.equal(quoted.resultDetails, 'file "a b" not found');
    assert.equal(quoted.extendedResultCode, 1);
    const slashes = ok(parseScriptResult('{"resultCode":0,"extendedResultCode":0,"resultDetails":"C:\\dir\\x \\u00e9 \\n"}', 'r'));
    assert.equal(slashes.resultDetails, 'C:\\dir\\x é \n');
    assert.equal(slashes.repaired, true);
  });

  test('empty values from unset shell variables and bare hex codes', () => {
    assert.deepEqual(ok(parseScriptResult('{"resultCode":, "extendedResultCode":,"resultDetails":""}', 'r')),
      { resultCode: 0, extendedResultCode: 0, resultDetails: '', repaired: true });
    assert.deepEqual(ok(parseScriptResult('{"resultCode":0, "extendedResultCode":0x30500206,"resultDetails":"bad"}', 'r')),
      { resultCode: 0, extendedResultCode: 0x30500206, resultDetails: 'bad', repaired: true });
  });

  test('broken JSON stays broken and names the file', () => {
    for (const text of ['', 'resultCode=600', '{"resultCode": 600', '[1, 2]', '{"a": 1}; process.exit(3)']) {
      const parsed = parseScriptResult(text, '/work/action_apply_aduc_result.json');
      assert.ok(!parsed.ok, JSON.stringify(text));
      assert.match(parsed.problem, /^result file \/work\/action_apply_aduc_result\.json is malformed: /);
    }
  });

  test('repairJson leaves valid JSON meaning unchanged', () => {
    const valid = '{"a": "x\\n\\"y\\"", "b": [1, 2.5, -3], "c": {"d": null, "e": true}, "f": "\\u0041"}';
    assert.deepEqual(JSON.parse(repairJson(valid)), JSON.parse(valid));
  });
});

describe('a result file written by a real shell script', () => {
  let dir = '';
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'script-result-')); });
  after(async () => { await rm(dir, { recursive: true, force: true }); });

  test('the example script pattern with multi-line, quoted details parses after repair', async () => {
    const resultFile = join(dir, 'action_install_aduc_result.json');
    const script = join(dir, 'install.sh');
    // Mirrors the Device Update example: the JSON is built by interpolating shell variables.
    await writeFile(script, [
      '#!/bin/sh',
      'resultCode=0',
      'extendedResultCode=0x30500205',
      'resultDetails="apt failed:\n E: Unable to locate package \\"foo\\" in C:\\\\x"',
      'printf \'%s\' "{\\"resultCode\\":$resultCode, \\"extendedResultCode\\":$extendedResultCode,\\"resultDetails\\":\\"$resultDetails\\"}" > "$1"',
    ].join('\n'));
    await run('/bin/sh', [script, resultFile], { timeout: 10_000 });
    const text = await readFile(resultFile, 'utf8');
    assert.ok(text.includes('\n'), 'the script wrote a raw newline');
    const r = ok(parseScriptResult(text, resultFile));
    assert.equal(r.repaired, true);
    assert.equal(r.resultCode, 0);
    assert.equal(r.extendedResultCode, 0x30500205);
    assert.equal(r.resultDetails, 'apt failed:\n E: Unable to locate package "foo" in C:\\x');
  });
});
