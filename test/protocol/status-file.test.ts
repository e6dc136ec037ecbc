import { SAMPLES_DIR } from '../helpers/samples.js';
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  MAX_STATUS_FILE_BYTES, STATUS_FILE_MALFORMED_CODE, TRUNCATED_SUFFIX, missingStatus, parseStatusFile, truncateField,
  type ExtensionStatus, type ExtensionStatusResult,
} from '../../src/protocol/status-file.js';

const SAMPLES = join(SAMPLES_DIR, 'azure-agent/status');

function sample(file: string): ExtensionStatusResult {
  const path = join(SAMPLES, file);
  return parseStatusFile(readFileSync(path), path);
}

function ok(result: ExtensionStatusResult): ExtensionStatus {
  assert.ok(result.ok, `expected ok, got ${result.ok ? '' : result.problem}`);
  return result.status;
}

/** What the result adds up to, counted as the agent counts it after truncation. */
function truncatedSize(s: ExtensionStatus): number {
  return Buffer.byteLength(s.message) + s.substatus.reduce((n, sub) => n + Buffer.byteLength(sub.name ?? '') + Buffer.byteLength(sub.message), 0);
}

function statusDoc(status: Record<string, unknown>, extra: Record<string, unknown> = {}): string {
  return JSON.stringify([{ version: '1.0', timestampUTC: '2024-01-02T03:04:05Z', status, ...extra }]);
}

describe('parseStatusFile on the Azure agent samples', () => {
  test('every sample parses without throwing, bad ones as error 1012', () => {
    const files = readdirSync(SAMPLES).filter((f) => f.endsWith('.json'));
    assert.equal(files.length, 6);
    for (const file of files) {
      const result = sample(file);
      const bad = file.includes('invalid');
      assert.equal(result.ok, !bad, file);
      if (!result.ok) {
        assert.equal(result.status.status, 'error');
        assert.equal(result.status.code, STATUS_FILE_MALFORMED_CODE);
      }
    }
  });

  test('a normal status: code numbers, "0" strings and formattedMessage null', () => {
    const s = ok(sample('sample-status.json'));
    assert.equal(s.status, 'success');
    assert.equal(s.code, 1);
    assert.equal(s.message, 'Aenean semper nunc nisl, vitae sollicitudin felis consequat at. In lobortis elementum sapien, non commodo odio semper ac.');
    assert.equal(s.operation, 'Enable');
    assert.equal(s.name, 'Microsoft.Azure.Extension.VMExtension');
    assert.equal(s.timestampUTC, '2019-06-06T23:52:59Z');
    assert.equal(s.truncated, false);
    assert.equal(s.substatus.length, 1);
    const sub = s.substatus[0];
    assert.equal(sub?.status, 'success');
    assert.equal(sub?.code, 0);
    assert.equal(sub?.message, '');
    assert.equal(sub?.name?.length, 2565);
    assert.ok(Object.isFrozen(s) && Object.isFrozen(s.substatus) && Object.isFrozen(sub));
  });

  test('invalid JSON: the message names the file, the reason and the start of the content', () => {
    const result = sample('sample-status-invalid-json-format.json');
    assert.equal(result.ok, false);
    assert.ok(!result.ok);
    assert.match(result.problem, /sample-status-invalid-json-format\.json/);
    assert.match(result.problem, /not valid JSON/);
    assert.match(result.problem, /content starts with: \[ \{ "_comment": "This is an invalid status file/);
    assert.ok(!result.problem.includes('\n'), 'single line');
    assert.ok(result.problem.length < 600, 'bounded');
    assert.equal(result.status.message, result.problem);
  });

  test('an empty key on line 7 is malformed', () => {
    const result = sample('sample-status-invalid-format-emptykey-line7.json');
    assert.ok(!result.ok);
    assert.match(result.problem, /emptykey-line7\.json.*not valid JSON/);
  });

  test('a missing status.status is malformed, as the agent says', () => {
    const result = sample('sample-status-invalid-status-no-status-status-key.json');
    assert.ok(!result.ok);
    assert.match(result.problem, /missing "status\.status"/);
  });

  test('the 143 KB file is truncated, not rejected: message to 1 KiB, the huge substatus name to 10 KiB', () => {
    const s = ok(sample('sample-status-very-large.json'));
    assert.equal(s.truncated, true);
    assert.equal(s.status, 'success');
    assert.equal(s.message.length, 1024 + TRUNCATED_SUFFIX.length);
    assert.ok(s.message.endsWith(TRUNCATED_SUFFIX));
    assert.equal(s.substatus.length, 1);
    assert.equal(s.substatus[0]?.name?.length, 10 * 1024 + TRUNCATED_SUFFIX.length);
    assert.ok(s.substatus[0]?.name?.endsWith(TRUNCATED_SUFFIX));
    assert.equal(s.substatus[0]?.message.length, 1102, 'a substatus message under 10 KiB is kept whole');
    assert.ok(truncatedSize(s) <= MAX_STATUS_FILE_BYTES);
  });

  test('the 470 KB file keeps the substatuses that fit, in order, as the agent computes', () => {
    const s = ok(sample('sample-status-very-large-multiple-substatuses.json'));
    assert.equal(s.truncated, true);
    assert.equal(s.message.length, 1024 + TRUNCATED_SUFFIX.length);
    // Agent arithmetic: 1040 for the message, then 9485 + 1102 per substatus while the total stays <= 131072.
    const expected = Math.floor((MAX_STATUS_FILE_BYTES - (1024 + TRUNCATED_SUFFIX.length)) / (9485 + 1102));
    assert.equal(expected, 12);
    assert.equal(s.substatus.length, expected);
    for (const sub of s.substatus) {
      assert.equal(sub.name?.length, 9485);
      assert.equal(sub.message.length, 1102);
      assert.equal(sub.status, 'success');
    }
    assert.ok(truncatedSize(s) <= MAX_STATUS_FILE_BYTES);
  });
});

describe('parseStatusFile rules', () => {
  test('a generated 200 KiB file is truncated to fit', () => {
    const subs = Array.from({ length: 30 }, (_, i) => ({ name: `step-${i}`, status: 'transitioning', code: String(i), formattedMessage: { lang: 'en-US', message: 'é'.repeat(3000) } }));
    const text = statusDoc({ status: 'warning', code: '7', formattedMessage: { lang: 'en-US', message: 'm'.repeat(20_000) }, substatus: subs });
    // Trailing whitespace is valid JSON: pad to exactly 200 KiB.
    const big = text.padEnd(200 * 1024 - (Buffer.byteLength(text) - text.length), ' ');
    assert.equal(Buffer.byteLength(big), 200 * 1024);
    const s = ok(parseStatusFile(big, '/h/status/3.status'));
    assert.equal(s.status, 'warning');
    assert.equal(s.code, 7);
    assert.equal(s.truncated, true);
    assert.equal(s.message, `${'m'.repeat(1024)}${TRUNCATED_SUFFIX}`);
    assert.ok(s.substatus.length > 0 && s.substatus.length < 30);
    assert.deepEqual(s.substatus.map((x) => x.name), subs.slice(0, s.substatus.length).map((x) => x.name));
    assert.equal(s.substatus[2]?.code, 2);
    assert.ok(truncatedSize(s) <= MAX_STATUS_FILE_BYTES, 'fits in UTF-8 bytes');
  });

  test('under the cap nothing is truncated, and maxBytes lowers the cap', () => {
    const text = statusDoc({ status: 'success', formattedMessage: { lang: 'en-US', message: 'x'.repeat(2000) } });
    assert.equal(ok(parseStatusFile(text, 's')).message.length, 2000);
    const small = ok(parseStatusFile(text, 's', { maxBytes: 1000 }));
    assert.equal(small.truncated, true);
    assert.equal(small.message.length, 1024 + TRUNCATED_SUFFIX.length);
  });

  test('code: a number, a numeric string, missing or unreadable', () => {
    assert.equal(ok(parseStatusFile(statusDoc({ status: 'success', code: '0' }), 's')).code, 0);
    assert.equal(ok(parseStatusFile(statusDoc({ status: 'success', code: ' 42 ' }), 's')).code, 42);
    assert.equal(ok(parseStatusFile(statusDoc({ status: 'error', code: -3 }), 's')).code, -3);
    assert.equal(ok(parseStatusFile(statusDoc({ status: 'success' }), 's')).code, 0);
    assert.equal(ok(parseStatusFile(statusDoc({ status: 'success', code: 'E42' }), 's')).code, 0);
  });

  test('status: any case of the four, anything else is error', () => {
    const cases: Array<[unknown, string]> = [['SUCCESS', 'success'], ['Transitioning', 'transitioning'], [' warning ', 'warning'],
      ['failed', 'error'], [3, 'error'], ['', 'error']];
    for (const [value, expected] of cases) {
      assert.equal(ok(parseStatusFile(statusDoc({ status: value }), 's')).status, expected, String(value));
    }
  });

  test('message: formattedMessage object, plain string, null with a message fallback', () => {
    assert.equal(ok(parseStatusFile(statusDoc({ status: 'success', formattedMessage: 'plain text' }), 's')).message, 'plain text');
    assert.equal(ok(parseStatusFile(statusDoc({ status: 'success', formattedMessage: null, message: 'fallback' }), 's')).message, 'fallback');
    assert.equal(ok(parseStatusFile(statusDoc({ status: 'success', formattedMessage: null }), 's')).message, '');
  });

  test('substatus: null, odd entries and bad values are tolerated', () => {
    assert.deepEqual(ok(parseStatusFile(statusDoc({ status: 'success', substatus: null }), 's')).substatus, []);
    const s = ok(parseStatusFile(statusDoc({ status: 'success', substatus: [null, 5, { status: 'bogus', code: '9', formattedMessage: 'x' }, { name: 2 }] }), 's'));
    assert.deepEqual(s.substatus, [
      { name: null, status: 'error', code: 9, message: 'x' },
      { name: '2', status: 'error', code: 0, message: '' },
    ]);
  });

  test('a bare object and bytes with a byte-order mark are accepted', () => {
    const text = `\uFEFF${JSON.stringify({ status: { status: 'success', operation: 'Enable' } })}`;
    const s = ok(parseStatusFile(Buffer.from(text, 'utf8'), 's'));
    assert.equal(s.operation, 'Enable');
    assert.equal(s.timestampUTC, null);
  });

  test('malformed documents all give error 1012 naming the file', () => {
    const cases: Array<[string, RegExp]> = [
      ['', /the file is empty/], ['  \n', /the file is empty/], ['[]', /status array is empty/], ['"text"', /expected an array/],
      ['[1]', /expected an array/], ['[{"version":"1.0"}]', /missing "status" object/], ['[{"status":"success"}]', /missing "status" object/],
      ['[{"status":{"status":null}}]', /missing "status\.status"/], ['[{"status":', /not valid JSON/],
    ];
    for (const [text, reason] of cases) {
      const result = parseStatusFile(text, '/lib/h-1.0/status/0.status');
      assert.ok(!result.ok, JSON.stringify(text));
      assert.match(result.problem, /^status file \/lib\/h-1\.0\/status\/0\.status is malformed: /);
      assert.match(result.problem, reason);
      assert.equal(result.status.code, 1012);
      assert.equal(result.status.status, 'error');
    }
  });

  test('missingStatus is transitioning with code 0', () => {
    const s = missingStatus();
    assert.equal(s.status, 'transitioning');
    assert.equal(s.code, 0);
    assert.match(s.message, /not yet written/);
    assert.deepEqual(s.substatus, []);
  });

  test('truncateField follows the agent: at or over the limit gets the suffix, and never splits a surrogate pair', () => {
    assert.equal(truncateField('abc', 4), 'abc');
    assert.equal(truncateField('abcd', 4), `abcd${TRUNCATED_SUFFIX}`);
    const emoji = `a${'😀'.repeat(3)}`;
    const cut = truncateField(emoji, 2);
    assert.equal(cut, `a${TRUNCATED_SUFFIX}`);
    assert.equal(Buffer.from(cut, 'utf8').toString('utf8'), cut);
  });
});
