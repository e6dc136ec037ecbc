import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  emptySettings, formatSettings, parseSeqFileName, parseSettings, settingsFileName, statusFileName,
} from '../../src/protocol/settings.js';
import { SupervisorError, ValidationError } from '../../src/core/errors.js';

describe('formatSettings', () => {
  test('writes runtimeSettings[0].handlerSettings with all three keys', () => {
    const text = formatSettings({ publicSettings: { a: 1 }, protectedSettings: 'MIIB...', protectedSettingsCertThumbprint: 'ABCDEF' });
    assert.deepEqual(JSON.parse(text), {
      runtimeSettings: [{ handlerSettings: { publicSettings: { a: 1 }, protectedSettings: 'MIIB...', protectedSettingsCertThumbprint: 'ABCDEF' } }],
    });
  });

  test('keeps missing protected fields as null, as the agent does', () => {
    const text = formatSettings({ publicSettings: undefined, protectedSettings: null, protectedSettingsCertThumbprint: null });
    assert.equal(text, '{"runtimeSettings":[{"handlerSettings":{"publicSettings":null,"protectedSettings":null,"protectedSettingsCertThumbprint":null}}]}');
  });

  test('round trips through parseSettings', () => {
    const settings = { publicSettings: { commandToExecute: 'echo "hi"\n', n: [1, 2] }, protectedSettings: null, protectedSettingsCertThumbprint: null };
    assert.deepEqual(parseSettings(formatSettings(settings), '3.settings'), settings);
    assert.deepEqual(parseSettings(Buffer.from(formatSettings(settings)), '3.settings'), settings);
  });

  test('the no-extension 0.settings is empty and reads back as null', () => {
    assert.equal(emptySettings(), '');
    assert.equal(parseSettings(emptySettings(), '0.settings'), null);
  });

  test('parseSettings names the file and field of a bad document', () => {
    assert.throws(() => parseSettings('{', 'c/1.settings'), (e: unknown) => e instanceof ValidationError && /c\/1\.settings/.test(e.message));
    assert.throws(() => parseSettings('{"runtimeSettings":[]}', 'c/1.settings'),
      (e: unknown) => e instanceof ValidationError && e.problems[0]?.path === 'runtimeSettings[0].handlerSettings');
    assert.throws(() => parseSettings('{"runtimeSettings":[{"handlerSettings":{"protectedSettingsCertThumbprint":5}}]}', 'c/1.settings'),
      (e: unknown) => e instanceof ValidationError && e.problems[0]?.value === 5);
  });
});

describe('settings and status file names', () => {
  test('single config: <seq>.settings and <seq>.status', () => {
    assert.equal(settingsFileName('default', 3, false), '3.settings');
    assert.equal(statusFileName('default', 3, false), '3.status');
    assert.equal(settingsFileName('', 0, false), '0.settings');
  });

  test('multi config: <ext>.<seq>.settings and <ext>.<seq>.status', () => {
    assert.equal(settingsFileName('ext1', 3, true), 'ext1.3.settings');
    assert.equal(statusFileName('ext-1.b', 12, true), 'ext-1.b.12.status');
  });

  test('refuses bad sequence numbers and unsafe extension names', () => {
    for (const seq of [-1, 1.5, Number.NaN]) {
      assert.throws(() => settingsFileName('e', seq, false), (e: unknown) => e instanceof SupervisorError && e.code === 'E_BAD_FILE_NAME');
    }
    for (const ext of ['', '../x', 'a/b', '..', '.hidden', 'a..b']) {
      assert.throws(() => statusFileName(ext, 1, true), (e: unknown) => e instanceof SupervisorError && e.code === 'E_BAD_FILE_NAME', ext);
    }
  });

  test('parseSeqFileName reverses both forms', () => {
    assert.deepEqual(parseSeqFileName('3.settings'), { ext: null, seq: 3, kind: 'settings' });
    assert.deepEqual(parseSeqFileName('ext.b.12.status'), { ext: 'ext.b', seq: 12, kind: 'status' });
    assert.deepEqual(parseSeqFileName(statusFileName('x', 7, true)), { ext: 'x', seq: 7, kind: 'status' });
    assert.equal(parseSeqFileName('HandlerState'), null);
    assert.equal(parseSeqFileName('3.status.next'), null);
  });
});
