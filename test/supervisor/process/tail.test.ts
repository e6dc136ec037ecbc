import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readTail } from '../../../src/supervisor/process/tail.js';
import { makeTempDir, removeDir } from './kit.js';

let dir: string;
before(async () => { dir = await makeTempDir('ext-sup-tail-'); });
after(async () => { await removeDir(dir); });

test('a missing file has an empty tail', async () => {
  assert.equal(await readTail(join(dir, 'nope.txt')), '');
});

test('a small file comes back whole, an empty one as ""', async () => {
  await writeFile(join(dir, 'small.txt'), 'hello\nworld\n');
  await writeFile(join(dir, 'empty.txt'), '');
  assert.equal(await readTail(join(dir, 'small.txt')), 'hello\nworld\n');
  assert.equal(await readTail(join(dir, 'empty.txt')), '');
});

test('a big file gives exactly its last bytes', async () => {
  const lines = Array.from({ length: 2000 }, (_, i) => `line ${i}`).join('\n');
  await writeFile(join(dir, 'big.txt'), lines);
  const t = await readTail(join(dir, 'big.txt'), 100);
  assert.equal(t, lines.slice(-100));
  assert.ok(t.endsWith('line 1999'));
});

test('the tail starts at a UTF-8 character boundary, never with a broken character', async () => {
  // "é" is 2 bytes, "€" 3 and "𝄞" 4: a 10-byte window can start inside any of them.
  const text = 'ab' + 'é€𝄞'.repeat(20);
  await writeFile(join(dir, 'utf8.txt'), text);
  for (let n = 1; n <= 30; n += 1) {
    const t = await readTail(join(dir, 'utf8.txt'), n);
    assert.ok(!t.includes('\uFFFD'), `window ${n} gave a replacement character: ${JSON.stringify(t)}`);
    assert.ok(text.endsWith(t), `window ${n} is a suffix`);
    assert.ok(Buffer.byteLength(t) <= n && Buffer.byteLength(t) > n - 4);
  }
});

test('bad maxBytes and unreadable paths are coded errors naming the value', async () => {
  await assert.rejects(readTail(join(dir, 'small.txt'), -1), (e: Error & { code?: string }) => e.code === 'E_TAIL_OPTIONS' && /-1/.test(e.message));
  await mkdir(join(dir, 'sub'));
  await assert.rejects(readTail(join(dir, 'sub')), (e: Error & { code?: string }) => e.code === 'E_TAIL_READ' && e.message.includes('sub'));
});
