import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { SupervisorError } from '../../../src/core/errors.js';
import { checkDowngrade, chooseVersion, type UpgradePolicy } from '../../../src/supervisor/lifecycle/version-choice.js';

describe('chooseVersion', () => {
  const available = ['1.0', '1.2', '1.2.0', '1.2.3', '1.2.3.4', '1.20', '1.3', '2.0', '2.2.53', '2.2.53.1', '2.2.9'];
  const table: Array<[string, UpgradePolicy, readonly string[], string]> = [
    // manual: highest whose parts start with the requested parts
    ['1.2', 'manual', available, '1.2.3.4'],
    ['1.2.3', 'manual', available, '1.2.3.4'],
    ['1.2.3.4', 'manual', available, '1.2.3.4'],
    ['1.20', 'manual', available, '1.20'],
    ['1.3', 'manual', available, '1.3'],
    ['1', 'manual', available, '1.20'],
    ['2.2', 'manual', available, '2.2.53.1'],
    ['2.2.53', 'manual', available, '2.2.53.1'],
    ['1.0', 'manual', ['1', '1.0.0.1', '1.1'], '1.0.0.1'],
    ['1.2.0', 'manual', ['1.2', '1.2.1'], '1.2'], // 1.2 == 1.2.0 (missing parts are 0)
    ['01.2', 'manual', ['1.2.5'], '1.2.5'],
    // auto: highest with the requested major
    ['1.0', 'auto', available, '1.20'],
    ['1.2.3', 'auto', available, '1.20'],
    ['2', 'auto', available, '2.2.53.1'],
    ['2.0', 'auto', ['2.0', '2.2.9', '2.2.53', '3.0'], '2.2.53'],
    ['1.0.0.9', 'auto', ['1.0.0.9', '1.0.0.10'], '1.0.0.10'],
  ];
  for (const [requested, policy, list, want] of table) {
    test(`${policy} ${requested} from [${list.join(', ')}] picks ${want}`, () => {
      assert.equal(chooseVersion(requested, policy, list), want);
    });
  }

  test('the first of equal versions wins, so the choice is stable', () => {
    assert.equal(chooseVersion('1.2', 'manual', ['1.2.0', '1.2', '1.2.0.0']), '1.2.0');
    assert.equal(chooseVersion('1', 'auto', ['1.2', '1.2.0']), '1.2');
  });

  const misses: Array<[string, UpgradePolicy, readonly string[]]> = [
    ['1.2', 'manual', ['1.20', '1.3', '2.1.2']],
    ['1.2.4', 'manual', ['1.2', '1.2.3', '1.2.40']],
    ['3', 'auto', ['1.0', '2.9.9.9', '4.0']],
    ['1.0', 'manual', []],
  ];
  for (const [requested, policy, list] of misses) {
    test(`${policy} ${requested} from [${list.join(', ')}] fails with E_NO_MATCHING_PACKAGE listing what is available`, () => {
      assert.throws(() => chooseVersion(requested, policy, list), (err: unknown) => {
        assert.ok(err instanceof SupervisorError);
        assert.equal(err.code, 'E_NO_MATCHING_PACKAGE');
        assert.match(err.message, new RegExp(`version ${requested.replace(/\./g, '\\.')}\\b`));
        assert.match(err.message, new RegExp(`upgradePolicy ${policy}`));
        assert.ok(err.message.includes(`available: ${list.length ? list.join(', ') : 'none'}`), err.message);
        assert.deepEqual(err.details['available'], list);
        return true;
      });
    });
  }

  test('an invalid requested or available version is E_VERSION, never a silent skip', () => {
    assert.throws(() => chooseVersion('latest', 'auto', ['1.0']), { code: 'E_VERSION' });
    assert.throws(() => chooseVersion('1.0', 'manual', ['1.0', '1.0-beta']), { code: 'E_VERSION' });
  });
});

describe('checkDowngrade', () => {
  const table: Array<[string, string, boolean, 'upgrade' | 'same' | 'downgrade']> = [
    ['1.0', '1.1', false, 'upgrade'],
    ['2.2.53', '2.2.53.1', false, 'upgrade'],
    ['1.0.0.9', '1.0.0.10', false, 'upgrade'],
    ['1.0', '1.0.0.0', false, 'same'],
    ['1.2', '1.2', true, 'same'],
    ['1.1', '1.0', true, 'downgrade'],
    ['2.2.53.1', '2.2.9', true, 'downgrade'],
  ];
  for (const [installed, chosen, allow, want] of table) {
    test(`${installed} -> ${chosen} (allowDowngrade ${allow}) is ${want}`, () => {
      assert.equal(checkDowngrade(installed, chosen, allow), want);
    });
  }

  for (const [installed, chosen] of [['1.1', '1.0'], ['2.2.53.1', '2.2.53'], ['1.0.0.10', '1.0.0.9']] as const) {
    test(`${installed} -> ${chosen} without allowDowngrade is refused with E_DOWNGRADE`, () => {
      assert.throws(() => checkDowngrade(installed, chosen, false), (err: unknown) => {
        assert.ok(err instanceof SupervisorError);
        assert.equal(err.code, 'E_DOWNGRADE');
        assert.ok(err.message.includes(`from ${installed} to ${chosen}`), err.message);
        assert.match(err.message, /allowDowngrade/);
        return true;
      });
    });
  }
});
