import { test, describe, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { installPackage, type PackageSource } from '../../../src/supervisor/packages/install-package.js';
import { closePackagePool } from '../../../src/supervisor/packages/pool.js';
import type { PackageLimits } from '../../../src/supervisor/packages/limits.js';
import { SupervisorError } from '../../../src/core/errors.js';
import { manifestText, rawTarGz, rawZip, sha256, tarGzOfDir, walk, writeTree, yazlZip } from '../../helpers/packages-archives.js';
import { bytes, startServer, type TestServer } from '../../helpers/packages-server.js';

let server: TestServer;
let base: string;
let libDir: string;

before(async () => { server = await startServer(); });
after(async () => { await server.close(); await closePackagePool(); });
beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'pkg-install-'));
  libDir = join(base, 'lib');
});
afterEach(async () => { await rm(base, { recursive: true, force: true }); });

const NAME = 'Contoso.Test';

/** A good package: manifest, scripts, a nested data file. */
async function goodZip(extra: { name: string; data: string | Buffer; mode?: number }[] = []): Promise<Buffer> {
  return yazlZip([
    { name: 'HandlerManifest.json', data: manifestText(NAME, '1.0') },
    { name: 'bin/enable.sh', data: '#!/bin/sh\nexit 0\n', mode: 0o100644 },
    { name: 'data/config.txt', data: 'x=1\n', mode: 0o100600 },
    ...extra,
  ]);
}

function serve(path: string, body: Buffer): string {
  server.route(path, bytes(body));
  return `${server.base}${path}`;
}

function source(body: Buffer, uris: string[], version = '1.0'): PackageSource {
  return { version, sha256: sha256(body), uris };
}

async function install(pkg: PackageSource, limits?: Partial<PackageLimits>, signal?: AbortSignal) {
  return installPackage({ libDir, name: NAME, pkg, ...(limits ? { limits } : {}), ...(signal ? { signal } : {}) });
}

/** Installs, expects a rejection with `code` and a message matching every pattern, and proves nothing is left. */
async function rejects(pkg: PackageSource, code: string, patterns: RegExp[], limits?: Partial<PackageLimits>, signal?: AbortSignal):
  Promise<SupervisorError> {
  try {
    await install(pkg, limits, signal);
  } catch (err) {
    assert.ok(err instanceof SupervisorError, `not a SupervisorError: ${String(err)}`);
    assert.equal(err.code, code, err.message);
    for (const p of patterns) assert.match(err.message, p);
    assert.deepEqual(await walk(libDir), ['.staging/'], 'only the empty staging folder may remain');
    return err;
  }
  assert.fail('expected the install to fail');
}

describe('installPackage: good packages', () => {
  test('a zip over http lands complete in <lib>/<name>-<version>, owner-executable, 0700', async () => {
    const zip = await goodZip();
    const uri = serve('/good.zip', zip);
    const lines: string[] = [];
    const installed = await installPackage({ libDir, name: NAME, pkg: source(zip, [uri]), log: (l) => lines.push(l) });
    const dir = join(libDir, `${NAME}-1.0`);
    assert.deepEqual({ ...installed, manifest: undefined }, { dir, manifest: undefined, sha256: sha256(zip), uri, bytes: zip.length });
    assert.equal(installed.manifest.form, 'command');
    assert.equal(installed.manifest.version, '1.0');
    assert.deepEqual(await walk(libDir), ['.staging/', `${NAME}-1.0/`, `${NAME}-1.0/HandlerManifest.json`, `${NAME}-1.0/bin/`,
      `${NAME}-1.0/bin/enable.sh`, `${NAME}-1.0/data/`, `${NAME}-1.0/data/config.txt`]);
    assert.equal((await stat(join(dir, 'bin/enable.sh'))).mode & 0o777, 0o744);
    assert.equal((await stat(join(dir, 'data/config.txt'))).mode & 0o777, 0o700);
    assert.equal((await stat(join(dir, 'HandlerManifest.json'))).mode & 0o100, 0o100);
    assert.equal((await stat(dir)).mode & 0o777, 0o700);
    assert.equal((await stat(join(libDir, '.staging'))).mode & 0o777, 0o700);
    assert.ok(lines.some((l) => l.startsWith(`verified ${uri}`)));
  });

  test('a tar.gz from file:// with a single top folder holding the manifest', async () => {
    const src = join(base, 'src');
    await writeTree(src, { 'pkg-1.0/HandlerManifest.json': manifestText(NAME, '1.0'), 'pkg-1.0/bin/enable.sh': 'exit 0' });
    const tgz = join(base, 'pkg.tgz');
    await tarGzOfDir(src, tgz);
    const body = await readFile(tgz);
    const installed = await install(source(body, [`file://${tgz}`]));
    assert.deepEqual(await walk(installed.dir), ['HandlerManifest.json', 'bin/', 'bin/enable.sh']);
    assert.equal((await stat(join(installed.dir, 'bin/enable.sh'))).mode & 0o100, 0o100);
    assert.deepEqual(await walk(join(libDir, '.staging')), []);
  });

  test('a script-form package whose script exists', async () => {
    const zip = await yazlZip([
      { name: 'HandlerManifest.json', data: JSON.stringify([{ name: 'du', version: '2.0', handlerManifest: { protocol: 'script', scriptFileName: 'run.sh' } }]) },
      { name: 'run.sh', data: '#!/bin/sh\n' },
    ]);
    const installed = await install(source(zip, [serve('/script.zip', zip)]));
    assert.equal(installed.manifest.form, 'script');
  });

  test('an existing target is never touched: E_PACKAGE_TARGET_EXISTS', async () => {
    const zip = await goodZip();
    const target = join(libDir, `${NAME}-1.0`);
    await mkdir(target, { recursive: true });
    await writeFile(join(target, 'mine'), 'keep');
    await assert.rejects(install(source(zip, [serve('/t.zip', zip)])), (err: SupervisorError) => {
      assert.equal(err.code, 'E_PACKAGE_TARGET_EXISTS');
      assert.ok(err.message.includes(target));
      return true;
    });
    assert.deepEqual(await walk(libDir), ['.staging/', `${NAME}-1.0/`, `${NAME}-1.0/mine`]);
  });
});

describe('installPackage: rejected packages leave nothing behind', () => {
  test('zip-slip ../evil names the uri and the entry', async () => {
    const zip = rawZip([{ name: 'HandlerManifest.json', data: manifestText() }, { name: '../evil', data: 'x' }]);
    const uri = serve('/slip.zip', zip);
    const err = await rejects(source(zip, [uri]), 'E_PACKAGE_ESCAPE', [new RegExp(`^${uri}: entry "\\.\\./evil"`)]);
    assert.equal(err.details['uri'], uri);
    assert.equal(err.details['entry'], '../evil');
    await assert.rejects(stat(join(base, 'evil')));
  });
  test('a tar entry with an absolute path', async () => {
    const tgz = rawTarGz([{ path: 'HandlerManifest.json', body: manifestText() }, { path: '/tmp/evil-abs', body: 'x' }]);
    await rejects(source(tgz, [serve('/abs.tgz', tgz)]), 'E_PACKAGE_ESCAPE', [/\/abs\.tgz: entry "\/tmp\/evil-abs" has an absolute path/]);
  });
  test('a symlink escaping the root', async () => {
    const zip = rawZip([{ name: 'HandlerManifest.json', data: manifestText() }, { name: 'bin/out', data: '../../..', mode: 0o120777 }]);
    await rejects(source(zip, [serve('/link.zip', zip)]), 'E_PACKAGE_ESCAPE', [/symbolic link "bin\/out" points outside the package: "\.\.\/\.\.\/\.\."/]);
  });
  test('a hard link escaping the root', async () => {
    const tgz = rawTarGz([{ path: 'HandlerManifest.json', body: manifestText() }, { path: 'pw', type: 'Link', linkpath: '../../../etc/passwd' }]);
    await rejects(source(tgz, [serve('/hard.tgz', tgz)]), 'E_PACKAGE_ESCAPE', [/hard link "pw" points outside/]);
  });
  test('a missing manifest', async () => {
    const zip = await yazlZip([{ name: 'a/x.sh', data: '' }, { name: 'b/y.sh', data: '' }]);
    await rejects(source(zip, [serve('/nomanifest.zip', zip)]), 'E_PACKAGE_MANIFEST', [/no HandlerManifest\.json at the package root/]);
  });
  test('a malformed manifest lists the path and value', async () => {
    const bad = JSON.stringify([{ name: NAME, version: '1.0', handlerManifest: { installCommand: 'i', uninstallCommand: 'u', updateCommand: 'up', disableCommand: 'd', enableCommand: 42 } }]);
    const zip = await yazlZip([{ name: 'HandlerManifest.json', data: bad }]);
    const uri = serve('/badmanifest.zip', zip);
    const err = await rejects(source(zip, [uri]), 'E_PACKAGE_MANIFEST',
      [/\[0\]\.handlerManifest\.enableCommand: must be a string \(got 42\)/, /badmanifest\.zip!HandlerManifest\.json/]);
    assert.ok(Array.isArray(err.details['problems']));
  });
  test('a script-form manifest whose script is missing', async () => {
    const zip = await yazlZip([{ name: 'HandlerManifest.json', data: JSON.stringify([{ version: '1.0', handlerManifest: { protocol: 'script', scriptFileName: 'nope.sh' } }]) }]);
    await rejects(source(zip, [serve('/noscript.zip', zip)]), 'E_PACKAGE_MANIFEST', [/scriptFileName: no such file in the package \(got "nope\.sh"\)/]);
  });
  test('an invalid name or sha256 is refused before anything is created', async () => {
    await assert.rejects(installPackage({ libDir, name: '../x', pkg: { version: '1.0', sha256: 'abc', uris: [] } }), (err: SupervisorError) => {
      assert.equal(err.code, 'E_PACKAGE_REF');
      assert.match(err.message, /name "\.\.\/x".*sha256 "abc".*uris is empty/);
      return true;
    });
    await assert.rejects(stat(libDir));
  });
});

describe('installPackage: size caps', () => {
  test('Content-Length over the download cap is refused before the body', async () => {
    const zip = await goodZip([{ name: 'pad.bin', data: randomBytes(50_000) }]);
    await rejects(source(zip, [serve('/big.zip', zip)]), 'E_PACKAGE_TOO_LARGE', [/is \d+ bytes, over the 10000 byte cap/], { maxDownloadBytes: 10_000 });
  });
  test('a body without Content-Length is cut at the cap', async () => {
    const zip = await goodZip([{ name: 'pad.bin', data: randomBytes(50_000) }]);
    server.route('/chunked.zip', (_req, res) => { res.writeHead(200); res.write(zip.subarray(0, 20_000)); res.end(zip.subarray(20_000)); });
    await rejects(source(zip, [`${server.base}/chunked.zip`]), 'E_PACKAGE_TOO_LARGE', [/download passed the 10000 byte cap/], { maxDownloadBytes: 10_000 });
  });
  test('extraction over the uncompressed cap', async () => {
    const zip = rawZip([{ name: 'HandlerManifest.json', data: manifestText() }, { name: 'zeros', data: Buffer.alloc(300_000), deflate: true }]);
    await rejects(source(zip, [serve('/bomb.zip', zip)]), 'E_PACKAGE_TOO_LARGE', [/\/bomb\.zip: more than 100000 bytes once extracted \(at entry "zeros"\)/],
      { maxUncompressedBytes: 100_000 });
  });
});
