import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { REDACTED, isProtectedKey, maskJsonText, pathIsProtected, redactProtected } from '../../../src/supervisor/goal/protected-values.js';

describe('isProtectedKey', () => {
  test('protectedSettings in any case or spelling', () => {
    for (const key of ['protectedSettings', 'ProtectedSettings', 'PROTECTEDSETTINGS', 'protected_settings', 'protected-settings',
      'protectedSetting', 'protectedSetings', 'protectdSettings', 'protectedSettingsJson', 'ProtectedSettingsThumbprint', 'protected']) {
      assert.equal(isProtectedKey(key), true, key);
    }
  });

  test('other keys, the certificate thumbprint among them, are not', () => {
    for (const key of ['publicSettings', 'settings', 'name', 'sequenceNumber', 'protectedSettingsCertThumbprint',
      'ProtectedSettingsCertThumbprint', 'token', '']) {
      assert.equal(isProtectedKey(key), false, key);
    }
  });

  test('a path through a protected key', () => {
    assert.equal(pathIsProtected(['handlers', 0, 'extensions', 0, 'protectedSettings', 'a']), true);
    assert.equal(pathIsProtected(['handlers', 0, 'extensions', 0, 'protectedSettingsCertThumbprint']), false);
  });
});

describe('redactProtected', () => {
  test('replaces the value of every protected key at any depth, leaves the rest, never edits its input', () => {
    const input = { a: [1, { ProtectedSettings: { t: 's' } }], protected_settings: ['s'], b: { c: 'public' }, protectedSettingsCertThumbprint: 'AB' };
    const before = JSON.stringify(input);
    assert.deepEqual(redactProtected(input), {
      a: [1, { ProtectedSettings: REDACTED }], protected_settings: REDACTED, b: { c: 'public' }, protectedSettingsCertThumbprint: 'AB' });
    assert.equal(JSON.stringify(input), before);
    for (const v of [null, 1, 'protectedSettings', true, []]) assert.deepEqual(redactProtected(v), v);
  });
});

describe('maskJsonText', () => {
  const same = (text: string, masked: string): void => {
    assert.equal(maskJsonText(text), masked);
    assert.equal(masked.length, text.length, 'every character stays in place');
  };

  test('string values masked, keys and other values kept', () => {
    same('{"name": "abc", "n": 12, "ok": true, "l": ["x", 3]}', '{"name": "***", "n": 12, "ok": true, "l": ["*", 3]}');
  });

  test('everything under a protected key, keys and numbers too, until its value ends', () => {
    same('{"protectedSettings": {"pin": 1234, "l": [5, "x"]}, "n": 7}', '{"protectedSettings": {"***": ****, "*": [*, "*"]}, "n": 7}');
    same('{"protectedSettings": 1234, "n": 7}', '{"protectedSettings": ****, "n": 7}');
    same('[{"protected_settings": abc}, 5]', '[{"protected_settings": ***}, 5]');
  });

  test('broken text: a string value before a colon, a missing colon, an open string, an open value', () => {
    same('{"a": "secret": 1}', '{"a": "******": 1}');
    same('{"protectedSettings" secret, "n": 1}', '{"*****************" ******, "n": 1}');
    same('{"a": "sec\n"b": 1', '{"a": "***\n"b": 1');
    same('{"protectedSettings": {"a": 1, "b": 2', '{"protectedSettings": {"*": *, "*": *');
    same('{"a": "abc\\', '{"a": "****');
  });

  test('a long document, cut short: every piece masked, nothing moved', () => {
    const big = `{"handlers": [${'{"protectedSettings": {"k": [1, "v"]}}, '.repeat(5_000)}`;
    const masked = maskJsonText(big);
    assert.equal(masked.length, big.length);
    assert.ok(masked.endsWith('{"protectedSettings": {"*": [*, "*"]}}, '));
  });

  test('a protected value over several lines is masked on each, also when only a later line is asked for', () => {
    const text = '{"protectedSettings": {\n  "pin": 1234\n}, "n": 1}';
    same(text, '{"protectedSettings": {\n  "***": ****\n}, "n": 1}');
    assert.equal(maskJsonText(text, text.indexOf('  "pin"')), '  "***": ****\n}, "n": 1}');
  });
});
