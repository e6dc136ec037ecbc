/** RawJson: serialised once, sent as bytes, its text the same before and after the bytes were made. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RawJson } from '../../src/core/raw-json.js';

test('the text is the same before and after the bytes are made, multi-byte characters included', () => {
  const value = [{ name: 'B.Ünï', message: 'résumé … "quoted"\n', pids: [1, 2] }, { name: '日本', heartbeatAgeSeconds: null }];
  const raw = RawJson.of(value);
  const text = JSON.stringify(value);
  assert.equal(raw.json, text);
  const bytes = raw.bytes;
  assert.deepEqual(bytes, Buffer.from(text, 'utf8'));
  assert.equal(raw.bytes, bytes, 'the bytes are made once and kept');
  assert.equal(raw.json, text, 'the text, decoded from the bytes');
  assert.deepEqual(JSON.parse(raw.json), value);
});

test('a value JSON cannot carry is refused', () => {
  assert.throws(() => RawJson.of(undefined), TypeError);
  assert.throws(() => RawJson.of(() => 1), TypeError);
});
