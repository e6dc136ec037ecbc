import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { LineSplitter } from '../../src/core/ndjson.js';

function feed(splitter: LineSplitter, chunks: Array<string | Buffer>): { lines: string[]; outcomes: string[] } {
  const lines: string[] = [];
  const outcomes = chunks.map((c) => splitter.feed(typeof c === 'string' ? Buffer.from(c) : c, (l) => lines.push(l)));
  return { lines, outcomes };
}

describe('LineSplitter', () => {
  test('splits lines inside and across chunks', () => {
    const { lines, outcomes } = feed(new LineSplitter(100), ['{"a":1}\n{"b"', ':2}\n{"c":3}\n', '{"d"', ':4', '}\n']);
    assert.deepEqual(lines, ['{"a":1}', '{"b":2}', '{"c":3}', '{"d":4}']);
    assert.deepEqual(outcomes, ['ok', 'ok', 'ok', 'ok', 'ok']);
  });

  test('decodes a multi-byte character split between chunks', () => {
    const bytes = Buffer.from('"grüße ✓"\n');
    const cut = bytes.indexOf(0xc3) + 1; // inside the two bytes of ü
    const { lines } = feed(new LineSplitter(100), [bytes.subarray(0, cut), bytes.subarray(cut)]);
    assert.deepEqual(lines, ['"grüße ✓"']);
  });

  test('drops a trailing CR and skips blank lines', () => {
    const { lines } = feed(new LineSplitter(100), ['one\r\n\n  \r\ntwo\n']);
    assert.deepEqual(lines, ['one', 'two']);
  });

  test('holds an unfinished line until its newline arrives', () => {
    const s = new LineSplitter(100);
    const { lines } = feed(s, ['abc']);
    assert.deepEqual(lines, []);
    assert.equal(s.bufferedBytes, 3);
    assert.deepEqual(feed(s, ['def\n']).lines, ['abcdef']);
    assert.equal(s.bufferedBytes, 0);
  });

  test('a line of exactly the limit passes; one byte more is tooLarge', () => {
    assert.deepEqual(feed(new LineSplitter(5), ['12345\n']), { lines: ['12345'], outcomes: ['ok'] });
    assert.deepEqual(feed(new LineSplitter(5), ['123456\n']).outcomes, ['tooLarge']);
  });

  test('an unterminated line is stopped at the limit without waiting for its end', () => {
    const s = new LineSplitter(10);
    const { lines, outcomes } = feed(s, ['ok\n1234', '5678', '90123']);
    assert.deepEqual(lines, ['ok']);
    assert.deepEqual(outcomes, ['ok', 'ok', 'tooLarge']);
    assert.equal(s.bufferedBytes, 0, 'nothing is kept after an overflow');
  });

  test('lines before an oversized one in the same chunk are still delivered', () => {
    const { lines, outcomes } = feed(new LineSplitter(4), ['a\nbb\nccccccc\nd\n']);
    assert.deepEqual(lines, ['a', 'bb']);
    assert.deepEqual(outcomes, ['tooLarge']);
  });

  test('rejects a limit that is not a whole number >= 1', () => {
    assert.throws(() => new LineSplitter(0), /maxLineBytes must be a whole number >= 1 \(got 0\)/);
    assert.throws(() => new LineSplitter(1.5), /got 1.5/);
  });
});
