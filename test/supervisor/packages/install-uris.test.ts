import { test, describe, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { installPackage, type PackageSource } from '../../../src/supervisor/packages/install-package.js';
import { closePackagePool } from '../../../src/supervisor/packages/pool.js';
import type { PackageLimits } from '../../../src/supervisor/packages/limits.js';
import { SupervisorError } from '../../../src/core/errors.js';
import { manifestText, sha256, walk, yazlZip } from '../../helpers/packages-archives.js';
import { bytes, redirect, startServer, type TestServer } from '../../helpers/packages-server.js';

let server: TestServer;
let base: string;
let libDir: string;
let zip: Buffer;
let pkgSha: string;
const NAME = 'Contoso.Uris';

before(async () => {
  server = await startServer();
  zip = await yazlZip([{ name: 'HandlerManifest.json', data: manifestText(NAME, '2.1') }, { name: 'bin/enable.sh', data: 'exit 0' }]);
  pkgSha = sha256(zip);
  server.route('/good.zip', bytes(zip));
  server.route('/corrupt.zip', bytes(Buffer.concat([zip.subarray(0, 100), Buffer.from('X'), zip.subarray(101)])));
});
after(async () => { await server.close(); await closePackagePool(); });
beforeEach(async () => { base = await mkdtemp(join(tmpdir(), 'pkg-uris-')); libDir = join(base, 'lib'); });
afterEach(async () => { await rm(base, { recursive: true, force: true }); });

function pkg(...paths: string[]): PackageSource {
  return { version: '2.1', sha256: pkgSha.toUpperCase(), uris: paths.map((p) => (p.includes('://') ? p : `${server.base}${p}`)) };
}

function hitsOf(start: number): string[] {
  return server.hits.slice(start);
}

async function rejects(p: PackageSource, code: string, patterns: RegExp[], opts: { limits?: Partial<PackageLimits>; signal?: AbortSignal } = {}):
  Promise<SupervisorError> {
  try {
    await installPackage({ libDir, name: NAME, pkg: p, ...opts });
  } catch (err) {
    assert.ok(err instanceof SupervisorError, String(err));
    assert.equal(err.code, code, err.message);
    for (const re of patterns) assert.match(err.message, re);
    assert.deepEqual(await walk(libDir), ['.staging/']);
    return err;
  }
  assert.fail('expected the install to fail');
}

describe('installPackage: uris in order', () => {
  test('a checksum mismatch is retried once on the same uri, then the next uri is used', async () => {
    const start = server.hits.length;
    const lines: string[] = [];
    const installed = await installPackage({ libDir, name: NAME, pkg: pkg('/corrupt.zip', '/good.zip'), log: (l) => lines.push(l) });
    assert.equal(installed.uri, `${server.base}/good.zip`);
    assert.equal(installed.sha256, pkgSha);
    assert.deepEqual(hitsOf(start), ['/corrupt.zip', '/corrupt.zip', '/good.zip']);
    assert.equal(lines.filter((l) => /corrupt\.zip: sha256 mismatch: expected [0-9a-f]{64}, got [0-9a-f]{64}/.test(l)).length, 2);
    assert.deepEqual(await walk(join(libDir, '.staging')), []);
  });

  test('a first uri that 404s falls back to the second', async () => {
    const start = server.hits.length;
    const installed = await installPackage({ libDir, name: NAME, pkg: pkg('/missing.zip', '/good.zip') });
    assert.equal(installed.uri, `${server.base}/good.zip`);
    assert.deepEqual(hitsOf(start), ['/missing.zip', '/good.zip'], 'a 404 is not retried');
  });

  test('a redirect chain leads to the package', async () => {
    server.route('/hop1', redirect('/hop2'));
    server.route('/hop2', redirect('/hop3', 307));
    server.route('/hop3', redirect('/good.zip', 301));
    const installed = await installPackage({ libDir, name: NAME, pkg: pkg('/hop1') });
    assert.equal(installed.uri, `${server.base}/hop1`);
    assert.equal(installed.manifest.version, '2.1');
  });

  test('when every uri fails the error lists each failure; the code is shared when they agree', async () => {
    const err = await rejects(pkg('/corrupt.zip', '/missing.zip', 'ftp://x/y.zip'), 'E_PACKAGE_DOWNLOAD', [
      /every uri failed:/, /\/corrupt\.zip: sha256 mismatch/, /\/missing\.zip: HTTP 404 Not Found/, /ftp:\/\/x\/y\.zip: unsupported uri scheme/,
    ]);
    const failures = err.details['failures'] as { uri: string; code: string }[];
    assert.deepEqual(failures.map((f) => f.code), ['E_PACKAGE_CHECKSUM', 'E_PACKAGE_DOWNLOAD', 'E_PACKAGE_DOWNLOAD']);
    await rejects(pkg('/corrupt.zip'), 'E_PACKAGE_CHECKSUM', [/corrupt\.zip: sha256 mismatch/]);
  });

  test('a stalled server times out and the next uri is used', async () => {
    server.route('/stall.zip', (_req, res) => { res.writeHead(200, { 'content-length': zip.length }); res.write(zip.subarray(0, 10)); });
    // 2 s of silence: long enough for the good uri on a loaded machine, and the stalled one never sends more.
    const installed = await installPackage({ libDir, name: NAME, pkg: pkg('/stall.zip', '/good.zip'), limits: { downloadTimeoutMs: 2000 } });
    assert.equal(installed.uri, `${server.base}/good.zip`);
    await rm(installed.dir, { recursive: true });
    await rejects(pkg('/stall.zip'), 'E_PACKAGE_DOWNLOAD', [/stall\.zip: timed out after 200 ms/], { limits: { downloadTimeoutMs: 200 } });
  });

  test('aborting stops at once, without trying the next uri', async () => {
    const ac = new AbortController();
    // Aborted once the request has reached the server (never answered): no race with a slow start.
    server.route('/hang.zip', () => { ac.abort(); });
    const start = server.hits.length;
    await rejects(pkg('/hang.zip', '/good.zip'), 'E_PACKAGE_ABORTED', [/hang\.zip: download aborted/], { signal: ac.signal });
    assert.deepEqual(hitsOf(start), ['/hang.zip']);
  });

  test('invalid limits are refused with the field and value', async () => {
    await assert.rejects(installPackage({ libDir, name: NAME, pkg: pkg('/good.zip'), limits: { maxEntries: 0 } }),
      /package limit maxEntries must be a whole number >= 1 \(got 0\)/);
  });
});
