import { test, describe, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  atomicWrite, atomicWriteJson, folderFsyncs, pendingAtomicWrites, removeLeftovers, syncDir,
} from '../../src/storage/atomic-write.js';
import { SupervisorError } from '../../src/core/errors.js';

let dir = '';
beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'atomic-write-')); });
afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

function isCode(code: string) {
  return (e: unknown): boolean => e instanceof SupervisorError && e.code === code;
}

/** Content whose integrity a reader can check: the pad length is stated inside. */
function payload(i: number): string {
  const size = (i * 7919) % 60_000;
  return `${JSON.stringify({ i, size, pad: 'x'.repeat(size) })}\n`;
}

const READER = `
const fs = require('node:fs');
const [file, stop] = process.argv.slice(1);
let reads = 0, bad = 0, missing = 0, last = '';
while (!fs.existsSync(stop)) {
  let text;
  try { text = fs.readFileSync(file, 'utf8'); } catch (e) { missing++; continue; }
  reads++;
  try {
    const doc = JSON.parse(text);
    if (doc.pad.length !== doc.size) { bad++; last = 'size mismatch ' + doc.i; }
  } catch (e) { bad++; last = String(e.message) + ' at length ' + text.length; }
}
process.stdout.write(JSON.stringify({ reads, bad, missing, last }));
`;

describe('atomicWrite', () => {
  test('writes the content with mode 0600 and leaves no .next behind', async () => {
    const file = join(dir, 'state.json');
    await atomicWrite(file, 'first');
    await atomicWrite(file, new Uint8Array(Buffer.from('second')));
    assert.equal(await readFile(file, 'utf8'), 'second');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.deepEqual(await readdir(dir), ['state.json']);
    assert.equal(pendingAtomicWrites(), 0);
  });

  test('applies the requested mode exactly, whatever the umask', async () => {
    const previous = process.umask(0o077);
    try {
      const file = join(dir, 'report.json');
      await atomicWrite(file, '{}', { mode: 0o644 });
      assert.equal((await stat(file)).mode & 0o777, 0o644);
    } finally {
      process.umask(previous);
    }
  });

  test('a crash leftover .next is removed, reported, and the write goes on', async () => {
    const file = join(dir, 'session');
    await writeFile(`${file}.next`, 'half-writ');
    const reported: string[] = [];
    await atomicWrite(file, 'complete', { onLeftover: (p) => reported.push(p) });
    assert.deepEqual(reported, [`${file}.next`]);
    assert.equal(await readFile(file, 'utf8'), 'complete');
    assert.deepEqual(await readdir(dir), ['session']);
  });

  test('100 concurrent writes to one path run in call order: the last one wins', async () => {
    const file = join(dir, 'status-report.json');
    const writes = Array.from({ length: 100 }, (_, i) => atomicWrite(file, payload(i)));
    assert.equal(pendingAtomicWrites(), 1, 'one queue entry for one path');
    await Promise.all(writes);
    assert.equal(await readFile(file, 'utf8'), payload(99));
    assert.equal(pendingAtomicWrites(), 0, 'the queue entry is dropped once it drains');
    assert.deepEqual(await readdir(dir), ['status-report.json']);
  });

  test('writes to many files of one folder share folder fsyncs (group commit), and each is complete', async () => {
    const before = folderFsyncs();
    await Promise.all(Array.from({ length: 200 }, (_, i) => atomicWrite(join(dir, `h${i}.json`), payload(i))));
    const used = folderFsyncs() - before;
    // How many renames land while one fsync runs is up to the disk and the scheduler: counted below instead.
    assert.ok(used >= 1 && used <= 200, `${used} folder fsyncs for 200 renames`);
    for (let i = 0; i < 200; i += 37) assert.equal(await readFile(join(dir, `h${i}.json`), 'utf8'), payload(i));
    // A call made while one runs waits for a later one (that one may have started before its rename).
    const first = syncDir(dir);
    let secondDone = false;
    const second = syncDir(dir).then(() => { secondDone = true; });
    const third = syncDir(dir);
    await first;
    assert.equal(secondDone, false, 'the second call does not ride on the fsync already running');
    await Promise.all([second, third]);
    assert.equal(folderFsyncs() - before - used, 2, 'the second and third share one');
    // 200 callers while one runs (200 renames landing during one fsync) cost 2 fsyncs, not 200.
    const burst = folderFsyncs();
    await Promise.all(Array.from({ length: 200 }, () => syncDir(dir)));
    assert.equal(folderFsyncs() - burst, 2, '199 callers share the one fsync after the running one');
  });

  test('paths are keyed after resolution, so two spellings share one queue', async () => {
    const file = join(dir, 'a.json');
    const alias = join(dir, '.', 'sub', '..', 'a.json');
    await Promise.all([atomicWrite(file, '1'), atomicWrite(alias, '2'), atomicWrite(file, '3')]);
    assert.equal(await readFile(file, 'utf8'), '3');
  });

  test('readers in another process and in this one never see partial content during 200 writes', async () => {
    const file = join(dir, 'watched.json');
    const stopFile = join(dir, 'stop');
    await atomicWrite(file, payload(0));
    const child = spawn(process.execPath, ['-e', READER, file, stopFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString(); });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    let localReads = 0;
    let localBad = 0;
    let writing = true;
    const localReader = (async () => {
      while (writing) {
        const text = await readFile(file, 'utf8');
        localReads += 1;
        try {
          const doc = JSON.parse(text) as { pad: string; size: number };
          if (doc.pad.length !== doc.size) localBad += 1;
        } catch { localBad += 1; }
      }
    })();
    try {
      for (let i = 1; i <= 200; i += 1) await atomicWrite(file, payload(i));
    } finally {
      writing = false;
      await localReader;
      await writeFile(stopFile, '');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    const result = JSON.parse(out) as { reads: number; bad: number; missing: number; last: string };
    assert.equal(result.bad, 0, result.last);
    assert.equal(result.missing, 0, 'the file never disappears');
    assert.ok(result.reads > 0, 'the other process did read');
    assert.equal(localBad, 0);
    assert.ok(localReads > 0);
    assert.equal(await readFile(file, 'utf8'), payload(200));
  });

  test('a failed write rejects with a typed error naming the path, and the queue goes on', async () => {
    const file = join(dir, 'missing-folder', 'state.json');
    await assert.rejects(atomicWrite(file, 'x'), (e: unknown) => isCode('E_ATOMIC_WRITE')(e) && (e as SupervisorError).details['path'] === `${file}.next`);
    await mkdir(join(dir, 'missing-folder'));
    await atomicWrite(file, 'y');
    assert.equal(await readFile(file, 'utf8'), 'y');
    assert.equal(pendingAtomicWrites(), 0);
  });

  test('a failed rename removes its .next file', async () => {
    const target = join(dir, 'is-a-folder');
    await mkdir(join(target, 'child'), { recursive: true });
    await assert.rejects(atomicWrite(target, 'x'), isCode('E_ATOMIC_WRITE'));
    assert.deepEqual((await readdir(dir)).sort(), ['is-a-folder']);
  });
});

describe('atomicWriteJson', () => {
  test('compact with a trailing newline, or pretty', async () => {
    const file = join(dir, 'doc.json');
    await atomicWriteJson(file, { a: [1, 2] });
    assert.equal(await readFile(file, 'utf8'), '{"a":[1,2]}\n');
    await atomicWriteJson(file, { a: 1 }, { pretty: true, mode: 0o640 });
    assert.equal(await readFile(file, 'utf8'), '{\n  "a": 1\n}\n');
    assert.equal((await stat(file)).mode & 0o777, 0o640);
  });

  test('refuses a value with no JSON form', async () => {
    await assert.rejects(atomicWriteJson(join(dir, 'u.json'), undefined), isCode('E_NOT_JSON'));
    assert.deepEqual(await readdir(dir), []);
  });
});

describe('removeLeftovers and syncDir', () => {
  test('removes *.next files, recursively when asked, and returns their paths', async () => {
    await mkdir(join(dir, 'sessions', '3'), { recursive: true });
    await writeFile(join(dir, 'state.json.next'), '');
    await writeFile(join(dir, 'state.json'), '{}');
    await writeFile(join(dir, 'sessions', '3', 'session.next'), '');
    assert.deepEqual(await removeLeftovers(dir), [join(dir, 'state.json.next')]);
    assert.deepEqual(await removeLeftovers(dir, { recursive: true }), [join(dir, 'sessions', '3', 'session.next')]);
    assert.deepEqual(await removeLeftovers(dir, { recursive: true }), []);
    assert.deepEqual((await readdir(dir)).sort(), ['sessions', 'state.json']);
    assert.deepEqual(await removeLeftovers(join(dir, 'nope')), []);
  });

  test('never removes the .next of a write in progress', async () => {
    const file = join(dir, 'busy.json');
    const writes = Array.from({ length: 20 }, (_, i) => atomicWrite(file, payload(i + 1000)));
    const removed: string[] = [];
    for (let i = 0; i < 20; i += 1) removed.push(...await removeLeftovers(dir));
    await Promise.all(writes);
    assert.deepEqual(removed, []);
    assert.equal(await readFile(file, 'utf8'), payload(1019));
  });

  test('syncDir flushes an existing folder and reports a missing one', async () => {
    await syncDir(dir);
    await assert.rejects(syncDir(join(dir, 'absent')), (e: unknown) => isCode('E_FSYNC_DIR')(e) && (e as SupervisorError).details['errno'] === 'ENOENT');
  });
});
