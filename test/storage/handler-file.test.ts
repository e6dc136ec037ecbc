/**
 * Files at paths a handler controls: a FIFO, socket, folder, link or shared hard link is refused
 * at once (E_NOT_REGULAR_FILE naming the path and what it is), never waited on, never followed.
 * Every FIFO here has no writer and no reader: an open that blocked would hang the test.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, readFileSync } from 'node:fs';
import { link, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SupervisorError } from '../../src/core/errors.js';
import {
  appendRegular, openRegular, openRegularSync, openTruncatedSync, readRegularFile, rewriteRegular, withReadTimeout,
} from '../../src/storage/handler-file.js';

let dir: string;
let server: Server;
const p = (name: string) => join(dir, name);
const refused = (kind: RegExp) => (err: unknown) => {
  assert.ok(err instanceof SupervisorError, `a SupervisorError, got ${String(err)}`);
  assert.equal(err.code, 'E_NOT_REGULAR_FILE');
  assert.match(err.message, kind);
  return true;
};

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'handler-file-'));
  await writeFile(p('plain'), 'hello\n');
  execFileSync('mkfifo', [p('fifo')]);
  await symlink('plain', p('link'));
  await symlink('fifo', p('link-to-fifo'));
  await mkdir(p('folder'));
  server = createServer();
  await new Promise<void>((resolve) => server.listen(p('sock'), resolve));
});

after(async () => {
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

describe('reading', () => {
  test('a regular file is read; a missing one is null', async () => {
    assert.equal((await readRegularFile(p('plain')))?.toString(), 'hello\n');
    assert.equal(await readRegularFile(p('missing')), null);
    assert.equal(await readRegularFile(join(p('plain'), 'below')), null, 'a path through a file is missing too');
  });

  test('a FIFO, a socket, a folder and a symlink (to a file or to a FIFO) are refused, naming the path and what it is', async () => {
    await assert.rejects(readRegularFile(p('fifo')), refused(new RegExp(`^${p('fifo')} is a FIFO, not a regular file`)));
    await assert.rejects(readRegularFile(p('sock')), refused(/sock is a (socket|FIFO, socket or device)/));
    await assert.rejects(readRegularFile(p('folder')), refused(/folder is a folder/));
    await assert.rejects(readRegularFile(p('link')), refused(/link is a symbolic link/));
    await assert.rejects(readRegularFile(p('link-to-fifo')), refused(/link-to-fifo is a symbolic link/));
  });

  test('the synchronous open refuses the same things and returns the stats of what it opened', () => {
    const { fd, stats } = openRegularSync(p('plain'));
    closeSync(fd);
    assert.equal(stats.size, 6);
    assert.throws(() => openRegularSync(p('fifo')), refused(/is a FIFO/));
    assert.throws(() => openRegularSync(p('link')), refused(/symbolic link/));
    assert.throws(() => openRegularSync(p('folder')), refused(/is a folder/));
    assert.throws(() => openRegularSync(p('missing')), (err: NodeJS.ErrnoException) => err.code === 'ENOENT');
  });

  test('a file over the cap is E_FILE_TOO_LARGE; one at the cap is read', async () => {
    assert.equal((await readRegularFile(p('plain'), { maxBytes: 6 }))?.length, 6);
    await assert.rejects(readRegularFile(p('plain'), { maxBytes: 5 }), (err: SupervisorError) => err.code === 'E_FILE_TOO_LARGE');
  });

  test('a read that does not end is given up with E_TIMEOUT', async () => {
    await assert.rejects(withReadTimeout('somefile', new Promise(() => {}), 10),
      (err: SupervisorError) => err.code === 'E_TIMEOUT' && /reading somefile took longer than 10 ms/.test(err.message));
    assert.equal(await withReadTimeout('x', Promise.resolve(7), 10), 7);
  });

  test('the async open hands back the handle and stats', async () => {
    const { handle, stats } = await openRegular(p('plain'));
    await handle.close();
    assert.ok(stats.isFile());
  });
});

describe('writing', () => {
  test('append creates and appends; a FIFO without a reader, a link and a folder are refused', async () => {
    await appendRegular(p('log'), 'a\n');
    await appendRegular(p('log'), 'b\n');
    assert.equal(await readFile(p('log'), 'utf8'), 'a\nb\n');
    assert.equal((await stat(p('log'))).mode & 0o777, 0o600);
    await assert.rejects(appendRegular(p('fifo'), 'x'), refused(/fifo is a FIFO/));
    await assert.rejects(appendRegular(p('link'), 'x'), refused(/symbolic link/));
    await assert.rejects(appendRegular(p('folder'), 'x'), refused(/is a folder/));
    assert.equal(await readFile(p('plain'), 'utf8'), 'hello\n', 'the link target is untouched');
  });

  test('a FIFO with a reader is refused too, after open, without a byte written', async () => {
    // O_RDWR on Linux opens a FIFO without waiting: this process is its reader.
    const { openSync } = await import('node:fs');
    const reader = openSync(p('fifo'), 'r+');
    try {
      await assert.rejects(appendRegular(p('fifo'), 'x'), refused(/fifo is a FIFO/));
    } finally {
      closeSync(reader);
    }
  });

  test('opening for output empties a regular file, and refuses a link or a shared hard link without emptying its target', async () => {
    await writeFile(p('out'), 'old output');
    closeSync(openTruncatedSync(p('out')));
    assert.equal(readFileSync(p('out'), 'utf8'), '');
    await writeFile(p('manifest'), '[{"precious":true}]');
    await symlink('manifest', p('out-link'));
    await link(p('manifest'), p('out-hard'));
    assert.throws(() => openTruncatedSync(p('out-link')), refused(/symbolic link/));
    assert.throws(() => openTruncatedSync(p('out-hard')), refused(/hard link shared with 1 other name/));
    assert.throws(() => openTruncatedSync(p('fifo')), refused(/FIFO/));
    assert.equal(readFileSync(p('manifest'), 'utf8'), '[{"precious":true}]');
  });

  test('rewrite replaces a regular file\'s content in place and refuses a link', async () => {
    await writeFile(p('big'), 'x'.repeat(100));
    await rewriteRegular(p('big'), Buffer.from('cut\n'));
    assert.equal(await readFile(p('big'), 'utf8'), 'cut\n');
    await assert.rejects(rewriteRegular(p('link'), Buffer.from('no')), refused(/symbolic link/));
    assert.equal(await readFile(p('plain'), 'utf8'), 'hello\n');
  });
});
