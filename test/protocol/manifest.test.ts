import { SAMPLES_DIR } from '../helpers/samples.js';
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MANIFEST_MAX_DEPTH, parseManifest, rawFirstVersion, type CommandManifest, type HandlerManifest } from '../../src/protocol/manifest.js';
import { ValidationError } from '../../src/core/errors.js';

const SAMPLES = SAMPLES_DIR;
const AGENT = join(SAMPLES, 'azure-agent/handler_manifest');
const PUBLISHED = join(SAMPLES, 'azure-linux-extensions');

function parseSample(dir: string, file: string): HandlerManifest {
  const path = join(dir, file);
  return parseManifest(readFileSync(path, 'utf8'), path);
}

function command(m: HandlerManifest): CommandManifest {
  assert.equal(m.form, 'command');
  return m as CommandManifest;
}

function problemsOf(text: string): ValidationError {
  try {
    parseManifest(text, 'pkg/HandlerManifest.json');
  } catch (err) {
    assert.ok(err instanceof ValidationError, `expected a ValidationError, got ${String(err)}`);
    assert.equal(err.code, 'E_INVALID');
    return err;
  }
  assert.fail('expected the manifest to be rejected');
}

const GOOD = {
  name: 'Contoso.Monitor', version: '1.2',
  handlerManifest: { installCommand: 'i.sh', uninstallCommand: 'u.sh', updateCommand: 'up.sh', enableCommand: 'e.sh', disableCommand: 'd.sh' },
};

describe('parseManifest: every real sample', () => {
  for (const [dir, files] of [[AGENT, readdirSync(AGENT)], [PUBLISHED, readdirSync(PUBLISHED)]] as const) {
    for (const file of files) {
      test(`parses ${file}`, () => {
        const m = command(parseSample(dir, file));
        assert.match(m.version, /^\d+(\.\d+){1,3}$/);
        for (const c of [m.installCommand, m.uninstallCommand, m.updateCommand, m.enableCommand, m.disableCommand]) {
          assert.ok(c.length > 0 && !c.startsWith('/'));
        }
        assert.ok(Object.isFrozen(m));
      });
    }
  }
  test('the sample sets are the ones expected (17 files)', () => {
    assert.equal(readdirSync(AGENT).length + readdirSync(PUBLISHED).length, 17);
  });
});

describe('parseManifest: booleans as the agent reads them', () => {
  test('"true" strings and "True" are true', () => {
    const m = command(parseSample(AGENT, 'manifest_boolean_fields_strings.json'));
    assert.deepEqual([m.reportHeartbeat, m.continueOnUpdateFailure, m.supportsMultipleExtensions], [true, true, true]);
  });
  test('"false" strings are false', () => {
    const m = command(parseSample(AGENT, 'manifest_boolean_fields_false.json'));
    assert.deepEqual([m.reportHeartbeat, m.continueOnUpdateFailure, m.supportsMultipleExtensions], [false, false, false]);
  });
  test('"invalid" and 1 are false, not errors', () => {
    const m = command(parseSample(AGENT, 'manifest_boolean_fields_invalid.json'));
    assert.deepEqual([m.reportHeartbeat, m.continueOnUpdateFailure, m.supportsMultipleExtensions], [false, false, false]);
  });
  test('real booleans, and absent fields default to false', () => {
    const v = command(parseSample(AGENT, 'valid_manifest.json'));
    assert.deepEqual([v.reportHeartbeat, v.continueOnUpdateFailure, v.supportsMultipleExtensions], [true, true, true]);
    const n = command(parseSample(AGENT, 'manifest_no_optional_fields.json'));
    assert.deepEqual([n.reportHeartbeat, n.continueOnUpdateFailure, n.supportsMultipleExtensions, n.rebootAfterInstall],
      [false, false, false, false]);
    assert.equal(n.updateMode, 'UpdateWithInstall');
  });
  test('TestHandlerLinux reports a heartbeat; OmsAgent continues on update failure from a string', () => {
    assert.equal(parseSample(PUBLISHED, 'TestHandlerLinux.HandlerManifest.json').reportHeartbeat, true);
    assert.equal(command(parseSample(PUBLISHED, 'OmsAgent.HandlerManifest.json')).continueOnUpdateFailure, true);
  });
});

describe('parseManifest: versions and names', () => {
  test('a JSON number keeps its source text: 1.0 stays "1.0", 1.1 stays "1.1"', () => {
    assert.equal(parseSample(AGENT, 'valid_manifest.json').version, '1.0');
    assert.equal(parseSample(PUBLISHED, 'TestHandlerLinux.HandlerManifest.json').version, '1.1');
    assert.equal(parseManifest(JSON.stringify([{ ...GOOD, version: 2 }]).replace('"version":2', '"version" : 2.50'), 's').version, '2.50');
  });
  test('string versions are kept, 4 parts included', () => {
    assert.equal(parseSample(PUBLISHED, 'VMBackup.HandlerManifest.json').version, '1.0.9120.0');
    assert.equal(parseSample(PUBLISHED, 'AzureMonitorAgent.HandlerManifest.json').version, '1.5.124');
  });
  test('a manifest without a name parses with an empty name', () => {
    assert.equal(parseSample(PUBLISHED, 'CustomScript.HandlerManifest.json').name, '');
    assert.equal(parseSample(PUBLISHED, 'DSC.HandlerManifest.json').name, 'DSCForLinux');
  });
  test('rawFirstVersion finds the literal past nested values and takes the last duplicate', () => {
    const text = '[ {"a": {"version": 9.0, "x": [1, "]}"]}, "version": 1.10, "b": "\\"version\\": 3", "version": 2.0 }, {"version": 7.0}]';
    assert.equal(rawFirstVersion(text), '2.0');
    assert.equal(rawFirstVersion('[{"version": "1.0"}]'), undefined);
    assert.equal(rawFirstVersion('{}'), undefined);
  });
});

describe('parseManifest: command form rules', () => {
  test('a leading / on a command is dropped', () => {
    const m = command(parseManifest(JSON.stringify([{ ...GOOD, handlerManifest: { ...GOOD.handlerManifest, enableCommand: '/bin/enable.sh -e' } }]), 's'));
    assert.equal(m.enableCommand, 'bin/enable.sh -e');
  });
  test('updateMode is case-insensitive; anything else means UpdateWithInstall', () => {
    const mode = (updateMode: unknown) =>
      command(parseManifest(JSON.stringify([{ ...GOOD, handlerManifest: { ...GOOD.handlerManifest, updateMode } }]), 's')).updateMode;
    assert.equal(mode('updatewithoutinstall'), 'UpdateWithoutInstall');
    assert.equal(mode('UpdateWithoutInstall'), 'UpdateWithoutInstall');
    assert.equal(mode('updatewithinstall'), 'UpdateWithInstall');
    assert.equal(mode('sometimes'), 'UpdateWithInstall');
    assert.equal(mode(3), 'UpdateWithInstall');
  });
  test('extra fields such as resourceLimits are accepted', () => {
    const m = parseSample(PUBLISHED, 'AzureMonitorAgent.HandlerManifest.json');
    assert.equal(m.name, 'AzureMonitorLinuxAgent');
  });
  test('every missing or bad command is listed with its JSON path and value', () => {
    const err = problemsOf(JSON.stringify([{ name: 'x', version: '1.0', handlerManifest: { installCommand: 5, enableCommand: '/', disableCommand: 'd' } }]));
    const byPath = new Map(err.problems.map((p) => [p.path, p]));
    assert.deepEqual([...byPath.keys()].sort(), [
      '[0].handlerManifest.enableCommand', '[0].handlerManifest.installCommand',
      '[0].handlerManifest.uninstallCommand', '[0].handlerManifest.updateCommand'].sort());
    assert.equal(byPath.get('[0].handlerManifest.installCommand')?.value, 5);
    assert.equal(byPath.get('[0].handlerManifest.updateCommand')?.reason, 'is required');
    assert.ok(err.problems.every((p) => p.source === 'pkg/HandlerManifest.json'));
    assert.match(err.message, /pkg\/HandlerManifest.json: \[0\]\.handlerManifest\.installCommand: must be a string \(got 5\)/);
  });
});

describe('parseManifest: script form', () => {
  const script = (hm: Record<string, unknown>) => JSON.stringify([{ name: 'du', version: '1.0', handlerManifest: { protocol: 'Script', ...hm } }]);
  test('chosen by protocol "script" in any case, with defaults', () => {
    const m = parseManifest(script({ scriptFileName: '/bin/handler.sh' }), 's');
    assert.deepEqual(m, { form: 'script', name: 'du', version: '1.0', scriptFileName: 'bin/handler.sh', arguments: '', installedCriteria: null, reportHeartbeat: false });
  });
  test('arguments and installedCriteria are carried', () => {
    const m = parseManifest(script({ scriptFileName: 'h.sh', arguments: '--a --component-name-val', installedCriteria: '1.2', reportHeartbeat: 'TRUE' }), 's');
    assert.equal(m.form, 'script');
    if (m.form !== 'script') return;
    assert.equal(m.arguments, '--a --component-name-val');
    assert.equal(m.installedCriteria, '1.2');
    assert.equal(m.reportHeartbeat, true);
  });
  test('scriptFileName must stay inside the package', () => {
    for (const bad of ['../h.sh', 'a/../../h.sh', 'a//b', '', './h.sh']) {
      const err = problemsOf(script({ scriptFileName: bad }));
      assert.equal(err.problems[0]?.path, '[0].handlerManifest.scriptFileName');
      assert.equal(err.problems[0]?.value, bad);
    }
  });
  test('missing scriptFileName and wrong types are problems', () => {
    const err = problemsOf(script({ arguments: 3, installedCriteria: {} }));
    assert.deepEqual(err.problems.map((p) => p.path).sort(), [
      '[0].handlerManifest.arguments', '[0].handlerManifest.installedCriteria', '[0].handlerManifest.scriptFileName']);
  });
});

describe('parseManifest: malformed documents', () => {
  test('not JSON', () => {
    const err = problemsOf('[{"name": ');
    assert.equal(err.problems[0]?.path, '(root)');
    assert.match(err.problems[0]?.reason ?? '', /not valid JSON/);
  });
  test('not an array, an empty array, a non-object first element', () => {
    assert.match(problemsOf('{"name": "x"}').problems[0]?.reason ?? '', /must be an array/);
    assert.match(problemsOf('[]').problems[0]?.reason ?? '', /empty array/);
    assert.equal(problemsOf('["x"]').problems[0]?.path, '[0]');
  });
  test('missing handlerManifest, bad version, bad name: all listed at once', () => {
    const err = problemsOf(JSON.stringify([{ name: 7, version: '1.x' }]));
    assert.deepEqual(err.problems.map((p) => p.path), ['[0].name', '[0].version', '[0].handlerManifest']);
    assert.equal(err.problems[1]?.value, '1.x');
  });
  test('a missing version and a version of the wrong type', () => {
    assert.equal(problemsOf(JSON.stringify([{ handlerManifest: GOOD.handlerManifest }])).problems[0]?.reason, 'is required');
    assert.equal(problemsOf(JSON.stringify([{ version: true, handlerManifest: GOOD.handlerManifest }])).problems[0]?.value, true);
  });
  test('nested 100k deep: one problem naming the path, the depth and the limit, no stack overflow', () => {
    assert.equal(MANIFEST_MAX_DEPTH, 64);
    const err = problemsOf('['.repeat(100_000) + ']'.repeat(100_000));
    assert.deepEqual(err.problems, [{ source: 'pkg/HandlerManifest.json', path: '[0][0][0][0][0][0]... (58 levels more)',
      reason: 'nested too deep: more than 64 levels of arrays and objects, the limit (line 1 column 65)' }]);
    const inside = problemsOf(JSON.stringify([{ ...GOOD, handlerManifest: { ...GOOD.handlerManifest, extra: 0 } }])
      .replace('"extra":0', `"extra":${'{"x":'.repeat(100_000)}1${'}'.repeat(100_000)}`));
    assert.equal(inside.problems[0]?.path, '[0].handlerManifest.extra.x.x.x... (58 levels more)');
  });
  test('a manifest nested right up to the limit is read as usual', () => {
    const deepExtra = '['.repeat(MANIFEST_MAX_DEPTH - 3) + ']'.repeat(MANIFEST_MAX_DEPTH - 3);
    const text = JSON.stringify([{ ...GOOD, handlerManifest: { ...GOOD.handlerManifest, extra: 0 } }]).replace('"extra":0', `"extra":${deepExtra}`);
    assert.equal(command(parseManifest(text, 'pkg/HandlerManifest.json')).enableCommand, 'e.sh');
  });
});
