import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OutputSink } from '../../../src/supervisor/process/output-sink.js';
import { makeTempDir, removeDir } from './kit.js';

let dir: string;
before(async () => { dir = await makeTempDir('ext-sup-sink-'); });
after(async () => { await removeDir(dir); });

const read = (f: string): string => (existsSync(f) ? readFileSync(f, 'utf8') : '');

describe('OutputSink: a file bounded as it is written', () => {
  test('rotates after the last whole line that fits; keeps N rotated files, the oldest dropped', () => {
    const file = join(dir, 'a.stdout');
    const sink = new OutputSink(file, { maxBytes: 20, keep: 2 });
    for (let i = 1; i <= 10; i++) sink.write(Buffer.from(`line ${i}\n`)); // 7-8 bytes a line
    sink.write(Buffer.from('line 11\nline 12\nline 13\n')); // one chunk across a rotation
    sink.close();
    const parts = [`${file}.2`, `${file}.1`, file].map(read);
    for (const p of parts) assert.ok(Buffer.byteLength(p) <= 20, `within the bound: ${JSON.stringify(p)}`);
    for (const p of parts) assert.ok(p.endsWith('\n') && /^line \d+\n/.test(p), `whole lines only: ${JSON.stringify(p)}`);
    const lines = parts.join('').split('\n').filter(Boolean);
    assert.deepEqual(lines, lines.map((_, i) => `line ${13 - lines.length + 1 + i}`), 'the newest lines, in order, none lost between files');
    assert.equal(existsSync(`${file}.3`), false);
  });

  test('a chunk that ends mid-line: the line\'s head moves with its rest to the next file, no line is cut between files', () => {
    const file = join(dir, 'm.stdout');
    const sink = new OutputSink(file, { maxBytes: 20, keep: 3 });
    sink.write(Buffer.from('line 1\nline 2\nli')); // a pipe read ends anywhere
    sink.write(Buffer.from('ne 3\nline 4\n'));
    assert.deepEqual([read(`${file}.1`), read(file)], ['line 1\nline 2\n', 'line 3\nline 4\n']);
    sink.write(Buffer.from('line 5\nline 6\nline 7 is long')); // then a line longer than the whole file
    sink.write(Buffer.from('er than the file\n'));
    sink.close();
    assert.deepEqual([`${file}.3`, `${file}.2`, `${file}.1`, file].map(read),
      ['line 3\nline 4\n', 'line 5\nline 6\n', 'line 7 is long', 'er than the file\n'], 'a line longer than the bound is still split at it');
  });

  test('a line longer than the bound is split at it; keep 0 starts the one file over', () => {
    const file = join(dir, 'b.stdout');
    const sink = new OutputSink(file, { maxBytes: 10, keep: 1 });
    sink.write(Buffer.from('abcdefghijklmnopqrstuvwxy\n'));
    sink.close();
    assert.equal(read(`${file}.1`), 'klmnopqrst');
    assert.equal(read(file), 'uvwxy\n');
    const only = join(dir, 'c.stdout');
    const one = new OutputSink(only, { maxBytes: 10, keep: 0 });
    one.write(Buffer.from('12345\n6789\nabc\n'));
    one.close();
    assert.equal(read(only), '6789\nabc\n');
    assert.equal(existsSync(`${only}.1`), false);
  });

  test('a new run truncates the file and removes the rotations of the run before', () => {
    const file = join(dir, 'd.stdout');
    writeFileSync(file, 'old\n');
    writeFileSync(`${file}.1`, 'older\n');
    writeFileSync(`${file}.3`, 'oldest\n');
    const sink = new OutputSink(file, { maxBytes: 100, keep: 3 });
    sink.write(Buffer.from('new\n'));
    sink.close();
    assert.equal(read(file), 'new\n');
    for (const n of [1, 2, 3]) assert.equal(existsSync(`${file}.${n}`), false);
  });
});
