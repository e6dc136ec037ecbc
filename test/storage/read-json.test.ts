import { test, describe, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileCapped, readJsonFile } from '../../src/storage/read-json.js';
import { SupervisorError } from '../../src/core/errors.js';

let dir = '';
beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'read-json-')); });
afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

describe('readFileCapped', () => {
  test('reads a whole file, and null when it does not exist', async () => {
    const file = join(dir, 'f');
    const data = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
    await writeFile(file, data);
    assert.ok((await readFileCapped(file))?.equals(data));
    assert.equal(await readFileCapped(join(dir, 'absent')), null);
  });

  test('a file exactly at the cap is fine, one byte over is refused', async () => {
    const file = join(dir, 'f');
    await writeFile(file, 'x'.repeat(100));
    assert.equal((await readFileCapped(file, 100))?.length, 100);
    await assert.rejects(readFileCapped(file, 99), (e: unknown) => e instanceof SupervisorError && e.code === 'E_FILE_TOO_LARGE' && e.details['path'] === file);
  });

  test('a folder is a typed read error', async () => {
    await assert.rejects(readFileCapped(dir), (e: unknown) => e instanceof SupervisorError && e.code === 'E_READ' && e.details['errno'] === 'EISDIR');
  });
});

describe('readJsonFile', () => {
  test('parses, drops a byte-order mark, undefined when missing', async () => {
    const file = join(dir, 'state.json');
    await writeFile(file, '\uFEFF{"state":"Enabled"}\n');
    assert.deepEqual(await readJsonFile(file), { state: 'Enabled' });
    assert.equal(await readJsonFile(join(dir, 'absent.json')), undefined);
  });

  test('bad JSON names the file and shows the start of the content', async () => {
    const file = join(dir, 'broken.json');
    await writeFile(file, '{"state":\n  "Enab');
    await assert.rejects(readJsonFile(file), (e: unknown) => e instanceof SupervisorError && e.code === 'E_JSON_PARSE'
      && e.message.includes(file) && e.message.includes('content starts with: {"state": "Enab'));
  });
});
