import { test, describe, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readlink, rm, stat, writeFile, lstat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { extractArchive, detectFormat } from '../../../src/supervisor/packages/extract.js';
import { SupervisorError } from '../../../src/core/errors.js';
import { rawTarGz, rawZip, tarGzOfDir, walk, writeTree, yazlZip } from '../../helpers/packages-archives.js';

const LIMITS = { maxEntries: 1000, maxUncompressedBytes: 64 * 1024 * 1024 };
let base: string;
let out: string;

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'pkg-extract-'));
  out = join(base, 'out');
  await mkdir(out);
});
afterEach(async () => { await rm(base, { recursive: true, force: true }); });

async function extract(archive: Buffer, limits = LIMITS, aborted?: () => boolean) {
  const file = join(base, 'package.bin');
  await writeFile(file, archive);
  await rm(out, { recursive: true, force: true });
  await mkdir(out);
  return extractArchive(file, out, limits, aborted);
}

async function rejects(archive: Buffer, code: string, pattern: RegExp, limits = LIMITS): Promise<SupervisorError> {
  try {
    await extract(archive, limits);
  } catch (err) {
    assert.ok(err instanceof SupervisorError, `not a SupervisorError: ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.match(err.message, pattern);
    // Nothing ever lands beside the extraction folder.
    assert.deepEqual((await walk(base)).filter((p) => !p.startsWith('out/') && p !== 'out/'), ['package.bin']);
    return err;
  }
  assert.fail('expected the archive to be rejected');
}

describe('extractArchive: good archives', () => {
  test('a yazl zip: folders, nested files, modes kept minus group/other write and setuid', async () => {
    const zip = await yazlZip([
      { name: 'HandlerManifest.json', data: '[]' },
      { name: 'bin/', dir: true, mode: 0o040750 },
      { name: 'bin/run.sh', data: '#!/bin/sh\necho hi\n', mode: 0o104777 },
      { name: 'lib/deep/data.txt', data: 'x'.repeat(5000) },
    ]);
    const result = await extract(zip);
    assert.deepEqual(result, { format: 'zip', entries: 4, bytes: 2 + 18 + 5000 });
    assert.deepEqual(await walk(out), ['HandlerManifest.json', 'bin/', 'bin/run.sh', 'lib/', 'lib/deep/', 'lib/deep/data.txt']);
    assert.equal((await stat(join(out, 'bin/run.sh'))).mode & 0o7777, 0o755);
    assert.equal((await stat(join(out, 'bin'))).mode & 0o777, 0o750);
    assert.equal(await readFile(join(out, 'lib/deep/data.txt'), 'utf8'), 'x'.repeat(5000));
  });

  test('a node-tar .tar.gz of a real folder, with a symlink and a hard link that stay inside', async () => {
    const src = join(base, 'src');
    await writeTree(src, { 'HandlerManifest.json': '[]', 'bin/a.sh': { content: 'echo a', mode: 0o700 }, 'cur': { symlink: 'bin' } });
    await writeFile(join(base, 'package.bin'), '');
    const tgz = join(base, 'src.tgz');
    await tarGzOfDir(src, tgz);
    const result = await extract(await readFile(tgz));
    assert.equal(result.format, 'tar.gz');
    assert.equal(await readlink(join(out, 'cur')), 'bin');
    assert.equal(await readFile(join(out, 'cur/a.sh'), 'utf8'), 'echo a');
    const linked = rawTarGz([{ path: 'f', body: 'data' }, { path: 'g', type: 'Link', linkpath: 'f' }]);
    await extract(linked);
    assert.equal((await stat(join(out, 'g'))).ino, (await stat(join(out, 'f'))).ino);
  });

  test('format is told by magic bytes, not the name; anything else is refused', async () => {
    const file = join(base, 'pkg.tar.gz');
    await writeFile(file, await yazlZip([{ name: 'a', data: 'b' }]));
    assert.equal(await detectFormat(file), 'zip');
    await rm(file);
    await rejects(Buffer.from('hello world'), 'E_PACKAGE_FORMAT', /not a \.zip or \.tar\.gz package \(first bytes 68656c6c\)/);
  });
});

describe('extractArchive: escapes', () => {
  test('zip-slip ../evil', async () => {
    const err = await rejects(rawZip([{ name: 'ok.txt', data: 'ok' }, { name: '../evil', data: 'pwned' }]), 'E_PACKAGE_ESCAPE', /entry "\.\.\/evil"/);
    assert.equal(err.details['entry'], '../evil');
  });
  test('zip with an absolute path, and with a Windows-style ..\\ name', async () => {
    await rejects(rawZip([{ name: '/tmp/evil', data: 'x' }]), 'E_PACKAGE_ESCAPE', /"\/tmp\/evil" has an absolute path/);
    await rejects(rawZip([{ name: '..\\evil', data: 'x' }]), 'E_PACKAGE_ESCAPE', /"\.\.\/evil"/);
  });
  test('zip symlink pointing outside, relative and absolute', async () => {
    await rejects(rawZip([{ name: 'a/link', data: '../../outside', mode: 0o120777 }]), 'E_PACKAGE_ESCAPE',
      /symbolic link "a\/link" points outside the package: "\.\.\/\.\.\/outside"/);
    await rejects(rawZip([{ name: 'link', data: '/etc/passwd', mode: 0o120777 }]), 'E_PACKAGE_ESCAPE', /"\/etc\/passwd"/);
  });
  test('zip symlink chain that escapes only when followed (b -> ., a -> b/..)', async () => {
    await rejects(rawZip([{ name: 'b', data: '.', mode: 0o120777 }, { name: 'a', data: 'b/..', mode: 0o120777 }]),
      'E_PACKAGE_ESCAPE', /symbolic link "a"/);
    assert.deepEqual(await walk(out), [], 'no link is created before every link is checked');
  });
  test('a file is never written through a link: link then file below it collides', async () => {
    await rejects(rawZip([{ name: 'd', data: 'sub', mode: 0o120777 }, { name: 'd/x', data: 'x' }]), 'E_PACKAGE_FORMAT', /entry "d" appears twice/);
  });
  test('tar with an absolute path and with a ../ path', async () => {
    await rejects(rawTarGz([{ path: '/etc/evil', body: 'x' }]), 'E_PACKAGE_ESCAPE', /"\/etc\/evil" has an absolute path/);
    await rejects(rawTarGz([{ path: 'a/../../evil', body: 'x' }]), 'E_PACKAGE_ESCAPE', /"a\/\.\.\/\.\.\/evil"/);
  });
  test('tar symlink pointing outside', async () => {
    await rejects(rawTarGz([{ path: 'up', type: 'SymbolicLink', linkpath: '../../../etc' }]), 'E_PACKAGE_ESCAPE',
      /symbolic link "up" points outside the package: "\.\.\/\.\.\/\.\.\/etc"/);
  });
  test('tar hard links pointing outside, relative and absolute', async () => {
    await rejects(rawTarGz([{ path: 'h', type: 'Link', linkpath: '../../etc/passwd' }]), 'E_PACKAGE_ESCAPE',
      /hard link "h" points outside the package: "\.\.\/\.\.\/etc\/passwd"/);
    await rejects(rawTarGz([{ path: 'h', type: 'Link', linkpath: '/etc/passwd' }]), 'E_PACKAGE_ESCAPE', /"\/etc\/passwd"/);
  });
  test('a hard link through a symbolic link is refused', async () => {
    await rejects(rawTarGz([{ path: 'l', type: 'SymbolicLink', linkpath: '.' }, { path: 'h', type: 'Link', linkpath: 'l/x' }]),
      'E_PACKAGE_FORMAT', /hard link through a symbolic link/);
  });
});

describe('extractArchive: entry types and limits', () => {
  test('fifo and device entries are refused (tar and zip)', async () => {
    await rejects(rawTarGz([{ path: 'pipe', type: 'FIFO' }]), 'E_PACKAGE_FORMAT', /"pipe" is a FIFO/);
    await rejects(rawTarGz([{ path: 'dev', type: 'CharacterDevice' }]), 'E_PACKAGE_FORMAT', /"dev" is a CharacterDevice/);
    await rejects(rawZip([{ name: 'pipe', mode: 0o010644 }]), 'E_PACKAGE_FORMAT', /"pipe" is a device, fifo or socket/);
  });
  test('more entries than the cap', async () => {
    const many = Array.from({ length: 6 }, (_, i) => ({ name: `f${i}`, data: 'x' }));
    await rejects(await yazlZip(many), 'E_PACKAGE_TOO_LARGE', /more than 5 entries \(at entry "f5"\)/, { ...LIMITS, maxEntries: 5 });
    await rejects(rawTarGz(many.map((m) => ({ path: m.name, body: m.data }))), 'E_PACKAGE_TOO_LARGE', /more than 5 entries/,
      { ...LIMITS, maxEntries: 5 });
  });
  test('more bytes than the cap, counted as written: a small deflate bomb and a tar.gz of zeros', async () => {
    const zeros = Buffer.alloc(2 * 1024 * 1024);
    const bomb = rawZip([{ name: 'zeros', data: zeros, deflate: true }]);
    assert.ok(bomb.length < 10_000);
    await rejects(bomb, 'E_PACKAGE_TOO_LARGE', /more than 1048576 bytes once extracted \(at entry "zeros"\)/,
      { ...LIMITS, maxUncompressedBytes: 1024 * 1024 });
    await rejects(rawTarGz([{ path: 'zeros', body: zeros }]), 'E_PACKAGE_TOO_LARGE', /1048576 bytes/,
      { ...LIMITS, maxUncompressedBytes: 1024 * 1024 });
  });
  test('duplicate entries, truncated and corrupt archives are format errors', async () => {
    await rejects(rawZip([{ name: 'a', data: '1' }, { name: 'a', data: '2' }]), 'E_PACKAGE_FORMAT', /entry "a" appears twice/);
    const tgz = rawTarGz([{ path: 'big', body: Buffer.alloc(100_000, 1) }]);
    await rejects(gzipSync(Buffer.from(gunzipHead(tgz, 20_000))), 'E_PACKAGE_FORMAT', /corrupt tar|Truncated/);
    await rejects(Buffer.concat([Buffer.from([0x1f, 0x8b]), Buffer.alloc(50, 7)]), 'E_PACKAGE_FORMAT', /corrupt gzip/);
    await rejects(Buffer.concat([Buffer.from('PK\x03\x04'), Buffer.alloc(50)]), 'E_PACKAGE_FORMAT', /not a readable zip/);
  });
  test('the abort flag stops extraction with E_PACKAGE_ABORTED', async () => {
    const zip = await yazlZip([{ name: 'a', data: 'x' }]);
    await assert.rejects(extract(zip, LIMITS, () => true), (err: SupervisorError) => err.code === 'E_PACKAGE_ABORTED');
  });
  test('the root entry "./" of a tar is accepted and the links are real links', async () => {
    await extract(rawTarGz([{ path: './', type: 'Directory' }, { path: './x', body: 'x' }, { path: 'y', type: 'SymbolicLink', linkpath: 'x' }]));
    assert.deepEqual(await walk(out), ['x', 'y']);
    assert.ok((await lstat(join(out, 'y'))).isSymbolicLink());
  });
});

function gunzipHead(tgz: Buffer, n: number): Buffer {
  return gunzipSync(tgz).subarray(0, n);
}
