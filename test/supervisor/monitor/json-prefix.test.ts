import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { closeJsonPrefix } from '../../../src/supervisor/monitor/json-prefix.js';
import { SAMPLES_DIR } from '../../helpers/samples.js';

const SAMPLE = join(SAMPLES_DIR, 'azure-agent/status/sample-status-very-large-multiple-substatuses.json');

test('a complete document comes back whole, without what follows it', () => {
  assert.equal(closeJsonPrefix('[{"a": [1, 2]}]\n\n'), '[{"a": [1, 2]}]');
});

test('a cut document is closed at its last complete element', () => {
  assert.deepEqual(JSON.parse(closeJsonPrefix('[{"a": 1, "b": "unfinish')!), [{ a: 1 }]);
  assert.deepEqual(JSON.parse(closeJsonPrefix('{"a": 1, "b"')!), { a: 1 });
  assert.deepEqual(JSON.parse(closeJsonPrefix('{"a": 1, "b":')!), { a: 1 });
  assert.deepEqual(JSON.parse(closeJsonPrefix('[1, 2, 3')!), [1, 2], 'a number at the cut may be incomplete: dropped');
  assert.deepEqual(JSON.parse(closeJsonPrefix('{"x": {"y": [')!), { x: { y: [] } });
});

test('brackets, commas and escaped quotes inside strings are not structure', () => {
  const cut = '[{"m": "a, [b] {c} \\" ,]", "n": 2, "o": "x';
  assert.deepEqual(JSON.parse(closeJsonPrefix(cut)!), [{ m: 'a, [b] {c} " ,]', n: 2 }]);
});

test('nothing to salvage: no container opened, or brackets that do not match', () => {
  assert.equal(closeJsonPrefix('"just a string'), null);
  assert.equal(closeJsonPrefix('not json at all'), null);
  assert.equal(closeJsonPrefix('[1, 2}'), null);
  assert.equal(closeJsonPrefix(''), null);
});

test('the real 470 KB agent sample cut anywhere still parses as its complete start', () => {
  const text = readFileSync(SAMPLE, 'utf8');
  let checked = 0;
  for (let at = 1; at < text.length; at += 4099) {
    const closed = closeJsonPrefix(text.slice(0, at));
    assert.ok(closed !== null, `cut at ${at}`);
    assert.doesNotThrow(() => JSON.parse(closed), `cut at ${at}`);
    checked += 1;
  }
  assert.ok(checked > 100);
  const half = JSON.parse(closeJsonPrefix(text.slice(0, text.length >> 1))!) as { status: { status: string; substatus: unknown[] } }[];
  assert.equal(half[0]!.status.status, 'success');
  assert.ok(half[0]!.status.substatus.length > 0 && half[0]!.status.substatus.length < 42);
});
