import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closeJsonPrefix, type PrefixWork } from '../../../src/supervisor/monitor/json-prefix.js';
import { STATUS_READ_LIMIT, readExtensionStatus } from '../../../src/supervisor/monitor/status-collector.js';
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

/** The first version of closeJsonPrefix (closers rebuilt at every cut: quadratic in depth), kept as the reference. */
function referenceClose(text: string): string | null {
  const stack: string[] = [];
  let inString = false;
  let escaped = false;
  let cut = -1;
  let cutClosers = '';
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i]!;
    if (inString) {
      if (escaped) escaped = false;
      else if (c === '\\') escaped = true;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '{' || c === '[') {
      stack.push(c === '{' ? '}' : ']');
      cut = i + 1;
      cutClosers = [...stack].reverse().join('');
    } else if (c === '}' || c === ']') {
      if (stack.pop() !== c) return null;
      if (stack.length === 0) return text.slice(0, i + 1);
    } else if (c === ',' && stack.length > 0) {
      cut = i;
      cutClosers = [...stack].reverse().join('');
    }
  }
  return cut === -1 ? null : text.slice(0, cut) + cutClosers;
}

test('every cut of nested documents closes exactly as the reference does, pops below the cut included', () => {
  const docs = [
    '{"a": [[1, 2], [3, {"b": [4, 5]}], "c"], "d": {"e": [{"f": "x,]}"}, 6]}}',
    '[[[1]], [[2, [3]]], {"k": [[], {}]}, "s\\"t", 7]',
    '{"x": {"y": {"z": [1, [2, [3, [4]]]]}}, "w": [{}]}',
  ];
  let compared = 0;
  for (const doc of docs) {
    for (let at = 0; at <= doc.length; at += 1) {
      assert.equal(closeJsonPrefix(doc.slice(0, at)), referenceClose(doc.slice(0, at)), `${doc} cut at ${at}`);
      compared += 1;
    }
  }
  assert.ok(compared > 150);
});

test('a run of brackets costs work linear in its length: twice the input, twice the steps', () => {
  const work = (n: number): { steps: number; closed: string | null } => {
    const meter: PrefixWork = { steps: 0 };
    const closed = closeJsonPrefix('['.repeat(n), meter);
    return { steps: meter.steps, closed };
  };
  const mib = work(1024 * 1024);
  const twice = work(2 * 1024 * 1024);
  // One step per character scanned and one per closer written; the old code rebuilt every closer at every bracket.
  assert.equal(mib.steps, 2 * 1024 * 1024);
  assert.equal(twice.steps, 2 * mib.steps);
  assert.equal(mib.closed, '['.repeat(1024 * 1024) + ']'.repeat(1024 * 1024));
  const mixed: PrefixWork = { steps: 0 };
  const text = '{"a": ['.repeat(50_000) + '1, 2';
  closeJsonPrefix(text, mixed);
  assert.ok(mixed.steps <= text.length + 100_000, `${mixed.steps} steps for ${text.length} characters`);
});

test('a status file of 1 MiB of "[" past the read limit: error 1012 naming the file and the depth', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ext-sup-prefix-'));
  try {
    const file = join(dir, '0.status');
    writeFileSync(file, '['.repeat(STATUS_READ_LIMIT + 1));
    assert.equal(statSync(file).size, STATUS_READ_LIMIT + 1);
    const s = await readExtensionStatus(file);
    assert.deepEqual([s.status, s.code], ['error', 1012]);
    assert.ok(s.message.startsWith(`status file ${file} is malformed`), s.message);
    assert.match(s.message, /nested too deep: more than 128 levels of arrays and objects, the limit/);
    assert.match(s.message, /only the first 1048576 of 1048577 bytes were read/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
