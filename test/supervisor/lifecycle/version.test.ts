import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import semver from 'semver';
import { SupervisorError } from '../../../src/core/errors.js';
import {
  compareVersions, formatVersion, isVersion, majorOf, parseVersion, versionStartsWith,
} from '../../../src/supervisor/lifecycle/version.js';

describe('parseVersion', () => {
  const valid: Array<[string | number, number[]]> = [
    ['1', [1]],
    ['1.0', [1, 0]],
    ['2.2.53.1', [2, 2, 53, 1]],
    ['0.0.0.0', [0, 0, 0, 0]],
    ['01.002', [1, 2]],
    ['1.0.0.10', [1, 0, 0, 10]],
    ['9007199254740991', [Number.MAX_SAFE_INTEGER]],
    [1.3, [1, 3]],
    [2, [2]],
    [0, [0]],
    [1.25, [1, 25]],
    // a JSON number loses trailing zeros: 1.10 is the float 1.1, read as "1.1" (as the Azure agent does)
    [1.10, [1, 1]],
  ];
  for (const [input, parts] of valid) {
    test(`accepts ${JSON.stringify(input)}`, () => {
      assert.deepEqual([...parseVersion(input)], parts);
    });
  }

  const invalid: Array<string | number> = [
    '', '1.', '.1', '1..2', '1.2.3.4.5', '+1.0', '-1', ' 1.0', '1.0 ', '1.0-beta', '1.0.0-rc.1',
    'v1.0', '1,0', '1.a', '1e3', '0x10', '1_000', '１.０', '9007199254740992',
    -1, -0.5, Number.NaN, Number.POSITIVE_INFINITY, 1e21,
  ];
  for (const input of invalid) {
    test(`rejects ${typeof input === 'number' ? String(input) : JSON.stringify(input)} with E_VERSION naming the value`, () => {
      assert.throws(() => parseVersion(input), (err: unknown) => {
        assert.ok(err instanceof SupervisorError);
        assert.equal(err.code, 'E_VERSION');
        // A number JSON cannot spell (NaN, Infinity) is named as itself, not as JSON's "null".
        assert.ok(err.message.includes(typeof input === 'string' || Number.isFinite(input) ? JSON.stringify(input) : String(input)),
          err.message);
        return true;
      });
      assert.equal(isVersion(input), false);
    });
  }

  test('rejects values of other types', () => {
    for (const v of [null, undefined, true, {}, ['1']]) {
      assert.throws(() => parseVersion(v as unknown as string), { code: 'E_VERSION' });
      assert.equal(isVersion(v), false);
    }
  });

  test('returns frozen parts', () => {
    const v = parseVersion('1.2');
    assert.ok(Object.isFrozen(v));
  });
});

describe('compareVersions', () => {
  const table: Array<[string | number, string | number, -1 | 0 | 1]> = [
    ['1.0', '1.0.0.0', 0],
    ['1', '1.0', 0],
    ['01.2', '1.2', 0],
    ['2.2.53.1', '2.2.53', 1],
    ['2.2.53', '2.2.9', 1],
    ['2.2.53.1', '2.2.9', 1],
    ['1.0.0.10', '1.0.0.9', 1],
    ['1.10', '1.9', 1],
    ['1.2', '1.20', -1],
    ['0.9.9.9', '1', -1],
    ['1.0.0.1', '1', 1],
    ['3', '2.99.99.99', 1],
    [1.3, '1.3.0', 0],
    [2, '1.9', 1],
  ];
  for (const [a, b, want] of table) {
    test(`${a} vs ${b} is ${want}`, () => {
      assert.equal(compareVersions(a, b), want);
      assert.equal(compareVersions(b, a), -want || 0);
    });
  }

  test('sorts a list numerically part by part', () => {
    const list = ['2.2.9', '1.0.0.10', '2.2.53.1', '1.0', '2.2.53', '1.0.0.9', '10.0', '9.9'];
    assert.deepEqual([...list].sort(compareVersions), ['1.0', '1.0.0.9', '1.0.0.10', '2.2.9', '2.2.53', '2.2.53.1', '9.9', '10.0']);
  });

  test('accepts parsed parts too', () => {
    assert.equal(compareVersions(parseVersion('1.2.3'), [1, 2, 3, 0]), 0);
  });

  test('throws E_VERSION for an invalid operand', () => {
    assert.throws(() => compareVersions('1.0', 'latest'), { code: 'E_VERSION' });
  });
});

describe('semver is not trusted with 4-part versions', () => {
  test('semver.coerce drops the 4th part, so it cannot tell 2.2.53.1 from 2.2.53.2', () => {
    assert.equal(semver.coerce('2.2.53.1')?.version, '2.2.53');
    assert.equal(semver.coerce('2.2.53.2')?.version, '2.2.53');
    assert.equal(semver.compare(semver.coerce('2.2.53.2')!, semver.coerce('2.2.53.1')!), 0);
    assert.equal(semver.valid('2.2.53.1'), null);
    assert.equal(semver.valid('1.0'), null);
    // what this module does instead
    assert.equal(compareVersions('2.2.53.2', '2.2.53.1'), 1);
    assert.equal(compareVersions('1.0', '1.0.0'), 0);
  });
});

describe('formatVersion, majorOf, versionStartsWith', () => {
  test('formatVersion writes canonical parts, as many as given', () => {
    assert.equal(formatVersion('01.002.0'), '1.2.0');
    assert.equal(formatVersion(1.3), '1.3');
    assert.equal(formatVersion([2, 2, 53, 1]), '2.2.53.1');
  });

  test('majorOf is the first part', () => {
    assert.equal(majorOf('2.2.53.1'), 2);
    assert.equal(majorOf('07'), 7);
  });

  const prefixes: Array<[string, string, boolean]> = [
    ['1.2', '1.2', true],
    ['1.2.0', '1.2', true],
    ['1.2.3', '1.2', true],
    ['1.2.3.4', '1.2', true],
    ['1.20', '1.2', false],
    ['1.3', '1.2', false],
    ['1.2', '1.2.0', true],
    ['1.2', '1.2.1', false],
    ['2.2', '1', false],
    ['1.2.3.4', '1.2.3.4', true],
  ];
  for (const [v, prefix, want] of prefixes) {
    test(`${v} ${want ? 'starts' : 'does not start'} with ${prefix}`, () => {
      assert.equal(versionStartsWith(v, prefix), want);
    });
  }
});
