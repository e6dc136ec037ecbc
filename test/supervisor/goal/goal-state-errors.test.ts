import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { ValidationError, showValue, type Problem } from '../../../src/core/errors.js';
import { GOAL_STATE_MAX_DEPTH, parseGoalState } from '../../../src/supervisor/goal/goal-state.js';

const SOURCE = '/etc/goal.json';
const HEX = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const pkg = (over: Record<string, unknown> = {}) => ({ version: '1.0', sha256: HEX, uris: ['file:///p.zip'], ...over });
const handler = (over: Record<string, unknown> = {}) => ({ name: 'A', version: '1.0', ...over });
const doc = (...handlers: unknown[]) => JSON.stringify({ handlers });

/** Parses text that must be invalid; returns the error after checking its shape. */
function reject(text: string): ValidationError {
  try {
    parseGoalState(text, SOURCE);
  } catch (err) {
    assert.ok(err instanceof ValidationError, `expected ValidationError, got ${String(err)}`);
    assert.equal(err.code, 'E_INVALID');
    for (const p of err.problems) assert.equal(p.source, SOURCE);
    return err;
  }
  assert.fail('the document was accepted');
}

/** Asserts one problem at `path` whose reason matches, with `value`, and that the message shows all three. */
function expectProblem(err: ValidationError, path: string, reason: RegExp, value?: unknown): Problem {
  const found = err.problems.find((p) => p.path === path && reason.test(p.reason));
  assert.ok(found, `no problem at ${path} matching ${reason}; got:\n${err.message}`);
  const line = err.message.split('\n').find((l) => l.includes(`${SOURCE}: ${path}: ${found.reason}`));
  assert.ok(line, `message does not name ${path}:\n${err.message}`);
  if (value === undefined) {
    assert.equal('value' in found, false);
  } else {
    assert.deepEqual(found.value, value);
    assert.ok(line.endsWith(`(got ${showValue(value)})`), line);
  }
  return found;
}

describe('goal state: one problem per case, with path, reason and value', () => {
  const cases: Array<[string, string, string, RegExp, unknown]> = [
    ['root not an object', '[1, 2]', '(root)', /must be an object/, [1, 2]],
    ['handlers missing', '{"etag": "x"}', 'handlers', /^required$/, undefined],
    ['handlers not an array', '{"handlers": {}}', 'handlers', /must be an array/, {}],
    ['etag not a string', JSON.stringify({ etag: 7, handlers: [] }), 'etag', /must be a string/, 7],
    ['handler not an object', doc('A'), 'handlers[0]', /must be an object/, 'A'],
    ['name missing', doc({ version: '1.0' }), 'handlers[0].name', /^required$/, undefined],
    ['name not a string', doc(handler({ name: 12 })), 'handlers[0].name', /must be a string/, 12],
    ['name is a path', doc(handler({ name: '../etc' })), 'handlers[0].name', /must match .*never a path/, '../etc'],
    ['name with a slash', doc(handler({ name: 'a/b' })), 'handlers[0].name', /must match/, 'a/b'],
    ['name starting with a dot', doc(handler({ name: '.hidden' })), 'handlers[0].name', /must match/, '.hidden'],
    ['name too long', doc(handler({ name: 'x'.repeat(129) })), 'handlers[0].name', /at most 128/, 'x'.repeat(129)],
    ['empty name', doc(handler({ name: '' })), 'handlers[0].name', /must match/, ''],
    ['version missing', doc({ name: 'A' }), 'handlers[0].version', /^required$/, undefined],
    ['version with 5 parts', doc(handler({ version: '1.2.3.4.5' })), 'handlers[0].version', /not a version/, '1.2.3.4.5'],
    ['version with prerelease', doc(handler({ version: '1.0-beta' })), 'handlers[0].version', /not a version/, '1.0-beta'],
    ['version negative number', doc(handler({ version: -1 })), 'handlers[0].version', /not a version/, -1],
    ['version boolean', doc(handler({ version: true })), 'handlers[0].version', /not a version/, true],
    ['bad state', doc(handler({ state: 'running' })), 'handlers[0].state', /must be one of "enabled", "disabled", "uninstall"/, 'running'],
    ['bad upgradePolicy', doc(handler({ upgradePolicy: 'latest' })), 'handlers[0].upgradePolicy', /must be one of "manual", "auto"/, 'latest'],
    ['bad onUnresponsive', doc(handler({ onUnresponsive: 'reboot' })), 'handlers[0].onUnresponsive', /must be one of "report", "restart"/, 'reboot'],
    ['allowDowngrade not boolean', doc(handler({ allowDowngrade: 'yes' })), 'handlers[0].allowDowngrade', /must be a boolean/, 'yes'],
    ['dependsOn not an array', doc(handler({ dependsOn: 'B' })), 'handlers[0].dependsOn', /must be an array/, 'B'],
    ['dependsOn entry not a string', doc(handler({ dependsOn: [3] })), 'handlers[0].dependsOn[0]', /must be a string/, 3],
    ['package version bad', doc(handler({ packages: [pkg({ version: '1.x' })] })), 'handlers[0].packages[0].version', /not a version/, '1.x'],
    ['package version missing', doc(handler({ packages: [pkg({ version: undefined })] })), 'handlers[0].packages[0].version', /^required$/, undefined],
    ['package without sha256', doc(handler({ packages: [pkg({ sha256: undefined })] })), 'handlers[0].packages[0].sha256', /^required$/, undefined],
    ['sha256 too short', doc(handler({ packages: [pkg({ sha256: 'abc123' })] })), 'handlers[0].packages[0].sha256', /64 hex characters/, 'abc123'],
    ['sha256 not hex', doc(handler({ packages: [pkg({ sha256: 'g'.repeat(64) })] })), 'handlers[0].packages[0].sha256', /64 hex characters/, 'g'.repeat(64)],
    ['sha256 too long', doc(handler({ packages: [pkg({ sha256: `${HEX}0` })] })), 'handlers[0].packages[0].sha256', /64 hex characters/, `${HEX}0`],
    ['empty uris', doc(handler({ packages: [pkg({ uris: [] })] })), 'handlers[0].packages[0].uris', /at least one uri/, []],
    ['uris missing', doc(handler({ packages: [pkg({ uris: undefined })] })), 'handlers[0].packages[0].uris', /^required$/, undefined],
    ['ftp uri', doc(handler({ packages: [pkg({ uris: ['file:///ok.zip', 'ftp://mirror/p.zip'] })] })), 'handlers[0].packages[0].uris[1]', /unsupported scheme "ftp:": expected file:, http: or https:/, 'ftp://mirror/p.zip'],
    ['relative uri', doc(handler({ packages: [pkg({ uris: ['pkgs/p.zip'] })] })), 'handlers[0].packages[0].uris[0]', /not a valid URI/, 'pkgs/p.zip'],
    ['uri not a string', doc(handler({ packages: [pkg({ uris: [42] })] })), 'handlers[0].packages[0].uris[0]', /must be a string/, 42],
    ['zero timeout', doc(handler({ timeouts: { install: 0 } })), 'handlers[0].timeouts.install', /> 0/, 0],
    ['negative timeout', doc(handler({ timeouts: { uninstall: -3 } })), 'handlers[0].timeouts.uninstall', /> 0/, -3],
    ['timeout 1e309 (read as Infinity, shown so)', doc(handler({ timeouts: { enable: 1 } })).replace('"enable":1', '"enable":1e309'), 'handlers[0].timeouts.enable', /must be a number/, Infinity],
    ['timeout as text', doc(handler({ timeouts: { enable: '30' } })), 'handlers[0].timeouts.enable', /must be a number/, '30'],
    ['zero heartbeatTimeout', doc(handler({ heartbeatTimeout: 0 })), 'handlers[0].heartbeatTimeout', /> 0/, 0],
    ['negative sequenceNumber', doc(handler({ extensions: [{ sequenceNumber: -1 }] })), 'handlers[0].extensions[0].sequenceNumber', /must be >= 0/, -1],
    ['negative sequenceNumber as text', doc(handler({ extensions: [{ sequenceNumber: '-2' }] })), 'handlers[0].extensions[0].sequenceNumber', /must be >= 0/, '-2'],
    ['fractional sequenceNumber', doc(handler({ extensions: [{ sequenceNumber: 1.5 }] })), 'handlers[0].extensions[0].sequenceNumber', /whole number/, 1.5],
    ['non-numeric sequenceNumber', doc(handler({ extensions: [{ sequenceNumber: 'three' }] })), 'handlers[0].extensions[0].sequenceNumber', /whole number/, 'three'],
    ['extension name is a path', doc(handler({ extensions: [{ name: 'a/../b' }] })), 'handlers[0].extensions[0].name', /must match/, 'a/../b'],
    ['thumbprint not a string', doc(handler({ extensions: [{ protectedSettingsCertThumbprint: 5 }] })), 'handlers[0].extensions[0].protectedSettingsCertThumbprint', /must be a string/, 5],
    ['zero memoryMB', doc(handler({ limits: { memoryMB: 0 } })), 'handlers[0].limits.memoryMB', /must be > 0/, 0],
    ['zero cpuPercent', doc(handler({ limits: { cpuPercent: 0 } })), 'handlers[0].limits.cpuPercent', /must be > 0/, 0],
    ['cpuPercent too high', doc(handler({ limits: { cpuPercent: 10001 } })), 'handlers[0].limits.cpuPercent', /<= 10000/, 10001],
    ['limits not an object', doc(handler({ limits: 512 })), 'handlers[0].limits', /must be an object/, 512],
    ['handlerProperties.arguments not a string', doc(handler({ handlerProperties: { arguments: ['-x'] } })), 'handlers[0].handlerProperties.arguments', /must be a string/, ['-x']],
    ['component not an object', doc(handler({ component: 'motor' })), 'handlers[0].component', /must be an object/, 'motor'],
    ['duplicate handler names', doc(handler(), handler({ version: '2.0' })), 'handlers[1].name', /duplicate name \(also handlers\[0\]\.name\)/, 'A'],
    ['unknown dependency', doc(handler({ dependsOn: ['Ghost'] })), 'handlers[0].dependsOn[0]', /unknown dependency/, 'Ghost'],
    ['depends on itself', doc(handler({ dependsOn: ['A'] })), 'handlers[0].dependsOn[0]', /cannot depend on itself/, 'A'],
    ['duplicate extension names', doc(handler({ extensions: [{ name: 'x' }, { name: 'y' }, { name: 'x' }] })), 'handlers[0].extensions[2].name', /duplicate extension name.*extensions\[0\]/, 'x'],
    ['two unnamed extensions are both "default"', doc(handler({ extensions: [{}, { sequenceNumber: 1 }] })), 'handlers[0].extensions[1].name', /duplicate extension name/, 'default'],
  ];
  for (const [what, text, path, reason, value] of cases) {
    test(what, () => {
      const err = reject(text);
      expectProblem(err, path, reason, value);
      assert.equal(err.problems.length, 1, err.message);
    });
  }
});

describe('goal state: dependency cycles', () => {
  test('a two-handler cycle is named once, "A -> B -> A"', () => {
    const err = reject(doc(handler({ dependsOn: ['B'] }), handler({ name: 'B', dependsOn: ['A'] })));
    expectProblem(err, 'handlers[0].dependsOn', /^dependency cycle: A -> B -> A$/, ['B']);
    assert.equal(err.problems.length, 1, err.message);
  });

  test('a longer cycle is named in order; a handler hanging off it is not part of it', () => {
    const err = reject(doc(
      handler({ name: 'Top', dependsOn: ['A'] }),
      handler({ dependsOn: ['B'] }), handler({ name: 'B', dependsOn: ['C'] }), handler({ name: 'C', dependsOn: ['A'] }),
    ));
    expectProblem(err, 'handlers[1].dependsOn', /^dependency cycle: A -> B -> C -> A$/, ['B']);
    assert.equal(err.problems.length, 1, err.message);
  });

  test('two separate cycles are both named', () => {
    const err = reject(doc(
      handler({ name: 'A', dependsOn: ['B'] }), handler({ name: 'B', dependsOn: ['A'] }),
      handler({ name: 'X', dependsOn: ['Y'] }), handler({ name: 'Y', dependsOn: ['X'] }),
    ));
    expectProblem(err, 'handlers[0].dependsOn', /A -> B -> A/, ['B']);
    expectProblem(err, 'handlers[2].dependsOn', /X -> Y -> X/, ['Y']);
    assert.equal(err.problems.length, 2);
  });

  test('a dependsOn chain of 4,000 handlers validates; closed into a loop, the whole cycle is named', () => {
    const chain = Array.from({ length: 4000 }, (_, i) => handler({ name: `h${i}`, dependsOn: i < 3999 ? [`h${i + 1}`] : [] }));
    assert.equal(parseGoalState(doc(...chain), SOURCE).handlers.length, 4000);
    chain[3999] = handler({ name: 'h3999', dependsOn: ['h0'] });
    const err = reject(doc(...chain));
    const cycle = [...Array.from({ length: 4000 }, (_, i) => `h${i}`), 'h0'].join(' -> ');
    const found = expectProblem(err, 'handlers[0].dependsOn', /^dependency cycle: h0 -> h1 -> h2 -> /, ['h1']);
    assert.equal(found.reason, `dependency cycle: ${cycle}`);
    assert.equal(err.problems.length, 1);
  });
});

describe('goal state: nesting depth', () => {
  test('nested a million deep: one problem naming the path, the depth and the limit, no stack overflow', () => {
    assert.equal(GOAL_STATE_MAX_DEPTH, 100);
    const deep = '['.repeat(1_000_000) + ']'.repeat(1_000_000);
    const err = reject(`{"handlers": [{"name": "A", "version": "1.0", "extensions": [{"publicSettings": ${deep}}]}]}`);
    expectProblem(err, 'handlers[0].extensions[0].publicSettings[0]... (94 levels more)',
      /^nested too deep: more than 100 levels of arrays and objects, the limit \(line 1 column 176\)$/);
    assert.equal(err.problems.length, 1);
    const whole = reject(deep);
    expectProblem(whole, '[0][0][0][0][0][0]... (94 levels more)', /more than 100 levels/);
  });

  test('settings nested right up to the limit are kept as written', () => {
    const settings = '{"a":'.repeat(GOAL_STATE_MAX_DEPTH - 5) + '1' + '}'.repeat(GOAL_STATE_MAX_DEPTH - 5);
    const goal = parseGoalState(`{"handlers": [{"name": "A", "version": "1.0", "extensions": [{"publicSettings": ${settings}}]}]}`, SOURCE);
    assert.deepEqual(goal.handlers[0]!.extensions[0]!.publicSettings, JSON.parse(settings));
  });
});

describe('goal state: not JSON', () => {
  test('a syntax error is reported with line and column (position given by the parser)', () => {
    const err = reject('{\n  "handlers": [\n    {"name": "A" "version": "1.0"}\n  ]\n}');
    // String values are masked in the excerpt: it must never show a (protected) setting.
    const p = expectProblem(err, '(root)', /^not valid JSON: .* at line 3 column 18$/, '{"name": "*" "version": "***"}');
    assert.ok(p.reason.includes("Expected ',' or '}'"), p.reason);
  });

  test('a trailing comma (no position in the message on Node 20) is still located', () => {
    const err = reject('{\n  "handlers": [\n    {"name": "A", "version": "1.0",}\n  ]\n}');
    expectProblem(err, '(root)', /^not valid JSON: .* at line 3 column 36$/, '"name": "*", "version": "***",}');
  });

  test('an unexpected token after a value is located', () => {
    expectProblem(reject('{"handlers": []} x'), '(root)', /at line 1 column 18$/, '{"handlers": []} x');
    expectProblem(reject('{"handlers": [1,]}'), '(root)', /at line 1 column 17$/, '{"handlers": [1,]}');
  });

  test('a truncated document points at its end', () => {
    expectProblem(reject('{"handlers": [\n'), '(root)', /end of JSON input at line 2 column 1$/, '');
  });

  test('an empty document says so', () => {
    expectProblem(reject('  \n'), '(root)', /empty document/, undefined);
    expectProblem(reject(''), '(root)', /empty document/, undefined);
  });
});

describe('goal state: every problem at once', () => {
  test('problems in several handlers and fields are all listed in one error', () => {
    const err = reject(JSON.stringify({
      etag: 1,
      handlers: [
        { name: '../escape', version: '1.2.3.4.5', state: 'running', packages: [pkg({ sha256: 'abc', uris: ['ftp://x/p.zip'] })] },
        { name: 'Twin', version: '1.0', dependsOn: ['Nobody'] },
        { name: 'Twin', version: '1.0', timeouts: { enable: -1 }, limits: { cpuPercent: 0 } },
      ],
    }));
    const expected: Array<[string, RegExp, unknown]> = [
      ['etag', /must be a string/, 1],
      ['handlers[0].name', /must match/, '../escape'],
      ['handlers[0].version', /not a version/, '1.2.3.4.5'],
      ['handlers[0].state', /must be one of/, 'running'],
      ['handlers[0].packages[0].sha256', /64 hex/, 'abc'],
      ['handlers[0].packages[0].uris[0]', /unsupported scheme/, 'ftp://x/p.zip'],
      ['handlers[1].dependsOn[0]', /unknown dependency/, 'Nobody'],
      ['handlers[2].name', /duplicate name/, 'Twin'],
      ['handlers[2].timeouts.enable', /> 0/, -1],
      ['handlers[2].limits.cpuPercent', /> 0/, 0],
    ];
    for (const [path, reason, value] of expected) expectProblem(err, path, reason, value);
    assert.equal(err.problems.length, expected.length, err.message);
    assert.match(err.message, /^invalid goal state \/etc\/goal\.json: 10 problems\n/);
  });
});

describe('goal state: a protected value is never shown, whatever the shape around it', () => {
  const S = 'TOPSECRET-0123456789abcdef';
  const noSecret = (err: ValidationError): void => {
    assert.ok(!err.message.includes(S) && !err.message.includes('0123456789'), err.message);
    assert.ok(!JSON.stringify(err.problems).includes(S), JSON.stringify(err.problems));
    assert.equal(err.cause, undefined, 'no cause: the parser\'s message quotes the document');
  };
  const R = '(redacted)';
  // Each row was a leak the fuzz test (test/security/fuzz-validate.test.ts) found.
  const rows: Array<[string, string, string, RegExp, unknown]> = [
    ['extensions an object (issue 15)', doc(handler({ extensions: { protectedSettings: S } })), 'handlers[0].extensions', /must be an array/, { protectedSettings: R }],
    ['the root an array of extensions', JSON.stringify([{ name: 'x', protectedSettings: S }]), '(root)', /must be an object/, [{ name: 'x', protectedSettings: R }]],
    ['an extension where the etag belongs, key capitalised', JSON.stringify({ etag: { ProtectedSettings: { token: S } }, handlers: [] }), 'etag', /must be a string/, { ProtectedSettings: R }],
    ['misspelled under handlers', JSON.stringify({ handlers: { protectedSetings: S } }), 'handlers', /must be an array/, { protectedSetings: R }],
    ['snake case in a version', doc(handler({ version: { protected_settings: [S, 1] } })), 'handlers[0].version', /not a version/, { protected_settings: R }],
    ['a "__proto__" key stays a key of the value shown', JSON.stringify({ handlers: 'x' }).replace('"x"', `{"__proto__": {"protectedSettings": "${S}"}}`),
      'handlers', /must be an array/, JSON.parse(`{"__proto__": {"protectedSettings": "${R}"}}`)],
    ['deep inside a wrong value', doc(handler({ state: [{ a: { b: [{ protectedSettingsJson: { x: S } }] } }] })), 'handlers[0].state', /must be one of/,
      [{ a: { b: [{ protectedSettingsJson: R }] } }]],
  ];
  for (const [what, text, path, reason, value] of rows) {
    test(what, () => {
      const err = reject(text);
      expectProblem(err, path, reason, value);
      noSecret(err);
    });
  }

  test('a dependency cycle whose dependsOn holds an extension: both problems show it redacted', () => {
    const err = reject(doc(handler({ dependsOn: ['B', { protectedSettings: S }] }), handler({ name: 'B', dependsOn: ['A'] })));
    expectProblem(err, 'handlers[0].dependsOn[1]', /must be a string/, { protectedSettings: R });
    expectProblem(err, 'handlers[0].dependsOn', /dependency cycle: A -> B -> A/, ['B', { protectedSettings: R }]);
    noSecret(err);
  });

  test('nested too deep under protectedSettings: the path stops at the key (the keys inside are the value)', () => {
    const deep = `{"${S}":`.repeat(120) + '1' + '}'.repeat(120);
    const err = reject(`{"handlers": [{"name": "A", "version": "1.0", "extensions": [{"protectedSettings": ${deep}}]}]}`);
    expectProblem(err, 'handlers[0].extensions[0].protectedSettings... (95 levels more)', /nested too deep/);
    noSecret(err);
  });

  test('the thumbprint names a certificate, not a secret: still shown', () => {
    expectProblem(reject(doc(handler({ extensions: [{ protectedSettingsCertThumbprint: 5 }] }))),
      'handlers[0].extensions[0].protectedSettingsCertThumbprint', /must be a string/, 5);
  });

  const ext = (body: string) => `{"handlers": [{"name": "A", "version": "1.0", "extensions": [${body}]}]}`;
  const syntax: Array<[string, string, RegExp, string]> = [
    ['unquoted', ext(`{"protectedSettings": ${S.replace('-', '')}}`), /^not valid JSON: Unexpected token at line 1 column 84$/,
      'ions": [{"protectedSettings": *************************}]}]}'],
    ['followed by a colon (read as a key)', ext(`{"protectedSettings": "${S}": 1}`), /Expected ',' or '}' after property value at line 1 column 112$/,
      ': "**************************": *}]}]}'],
    ['a number', ext('{"protectedSettings": 0123456789 4}'), /^not valid JSON: Unexpected number at line 1 column 85$/, 'ons": [{"protectedSettings": ********** *}]}]}'],
    ['an object over several lines, the error on a later line', ext(`{"protectedSettings": {\n  "user": "x",\n  "pin": 0123456789 1\n}}`),
      /Unexpected number at line 3 column 11$/, '"***": ********** *'],
    ['keys and numbers inside a capitalised key', ext('{"ProtectedSettings": {"pin": 0123456789, "x": 1 "y": 2}}'), /Unexpected number at line 1 column 93$/,
      '"ProtectedSettings": {"***": **********, "*": * "*": *}}]}]}'],
  ];
  for (const [what, text, reason, excerpt] of syntax) {
    test(`not JSON next to a protected value ${what}: the excerpt masks it`, () => {
      const err = reject(text);
      expectProblem(err, '(root)', reason, excerpt);
      noSecret(err);
    });
  }

  test('public numbers around a syntax error stay readable', () => {
    expectProblem(reject(ext('{"publicSettings": {"port": 8080 "x": 1}}')), '(root)', /at line 1 column 95$/, 'ublicSettings": {"port": 8080 "x": 1}}]}]}');
  });
});
