import { test, describe, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readlink, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packDirectory } from '../../../src/supervisor/packages/pack.js';
import { installPackage } from '../../../src/supervisor/packages/install-package.js';
import { closePackagePool } from '../../../src/supervisor/packages/pool.js';
import { SupervisorError } from '../../../src/core/errors.js';
import { manifestText, sha256, walk, writeTree } from '../../helpers/packages-archives.js';

let base: string;
let src: string;

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'pkg-pack-'));
  src = join(base, 'monitor');
  await writeTree(src, {
    'HandlerManifest.json': manifestText('Contoso.Monitor', '1.2.3'),
    'bin/enable.sh': { content: '#!/bin/sh\necho enabled\n', mode: 0o750 },
    'bin/lib/common.sh': { content: 'x=1\n', mode: 0o640 },
    'current': { symlink: 'bin' },
    'empty/.keep': '',
  });
});
afterEach(async () => { await rm(base, { recursive: true, force: true }); });
after(async () => { await closePackagePool(); });

async function refused(dir: string, code: string, pattern: RegExp): Promise<void> {
  await assert.rejects(packDirectory(dir, join(base, 'out.zip')), (err: unknown) => {
    assert.ok(err instanceof SupervisorError, String(err));
    assert.equal(err.code, code, err.message);
    assert.match(err.message, pattern);
    return true;
  });
  await assert.rejects(stat(join(base, 'out.zip')), 'no output is written');
}

describe('packDirectory', () => {
  test('pack -> install round trip keeps content, modes and inside links', async () => {
    const out = join(base, 'monitor.zip');
    const packed = await packDirectory(src, out);
    const body = await readFile(out);
    assert.deepEqual(packed, { file: out, sha256: sha256(body), bytes: body.length, entries: 8 });
    const libDir = join(base, 'lib');
    const installed = await installPackage({ libDir, name: 'Contoso.Monitor', pkg: { version: '1.2.3', sha256: packed.sha256, uris: [`file://${out}`] } });
    assert.deepEqual(await walk(installed.dir), ['HandlerManifest.json', 'bin/', 'bin/enable.sh', 'bin/lib/', 'bin/lib/common.sh', 'current', 'empty/', 'empty/.keep']);
    assert.equal((await stat(join(installed.dir, 'bin/enable.sh'))).mode & 0o777, 0o750);
    assert.equal((await stat(join(installed.dir, 'bin/lib/common.sh'))).mode & 0o777, 0o740, 'owner-executable added on install');
    assert.equal(await readlink(join(installed.dir, 'current')), 'bin');
    assert.equal(await readFile(join(installed.dir, 'current/enable.sh'), 'utf8'), '#!/bin/sh\necho enabled\n');
    assert.equal(installed.manifest.name, 'Contoso.Monitor');
  });

  test('packing the same folder twice gives the same bytes', async () => {
    const a = await packDirectory(src, join(base, 'a.zip'));
    const b = await packDirectory(src, join(base, 'b.zip'));
    assert.equal(a.sha256, b.sha256);
    assert.deepEqual(await readFile(a.file), await readFile(b.file));
  });

  test('default output is <folder>-<manifest version>.zip in the current directory', async () => {
    const cwd = process.cwd();
    process.chdir(base);
    try {
      const packed = await packDirectory('monitor');
      assert.equal(packed.file, join(base, 'monitor-1.2.3.zip'));
      assert.equal((await stat(packed.file)).size, packed.bytes);
    } finally {
      process.chdir(cwd);
    }
  });

  test('a symlink leaving the folder is refused', async () => {
    await writeTree(src, { 'bin/escape': { symlink: '../../outside' } });
    await refused(src, 'E_PACKAGE_ESCAPE', /bin\/escape: symbolic link to "\.\.\/\.\.\/outside" leaves the folder/);
    await rm(join(src, 'bin/escape'));
    await writeTree(src, { 'abs': { symlink: '/etc/passwd' } });
    await refused(src, 'E_PACKAGE_ESCAPE', /abs: symbolic link to "\/etc\/passwd"/);
  });

  test('a folder without a manifest, or with an invalid one, is refused', async () => {
    await rm(join(src, 'HandlerManifest.json'));
    await refused(src, 'E_PACKAGE_MANIFEST', /no HandlerManifest\.json/);
    await writeTree(src, { 'HandlerManifest.json': '[{"version": "1.0", "handlerManifest": {}}]' });
    await refused(src, 'E_PACKAGE_MANIFEST', /\[0\]\.handlerManifest\.installCommand: is required/);
    await refused(join(base, 'nope'), 'E_PACKAGE_FORMAT', /nope: not a folder/);
  });
});
