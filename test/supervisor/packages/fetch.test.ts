import { test, describe, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { downloadToFile, type DownloadOptions } from '../../../src/supervisor/packages/fetch.js';
import { SupervisorError } from '../../../src/core/errors.js';
import { bytes, redirect, startServer, type TestServer } from '../../helpers/packages-server.js';

let server: TestServer;
let base: string;
let dest: string;
const OPTS: DownloadOptions = { maxBytes: 1024 * 1024, timeoutMs: 5_000, maxRedirects: 5 };
const BODY = Buffer.from('package bytes\n');

before(async () => { server = await startServer(); server.route('/pkg', bytes(BODY)); });
after(async () => { await server.close(); });
beforeEach(async () => { base = await mkdtemp(join(tmpdir(), 'pkg-fetch-')); dest = join(base, 'download'); });
afterEach(async () => { await rm(base, { recursive: true, force: true }); });

async function fails(uri: string, code: string, pattern: RegExp, opts: DownloadOptions = OPTS): Promise<void> {
  await assert.rejects(downloadToFile(uri, dest, opts), (err: unknown) => {
    assert.ok(err instanceof SupervisorError, String(err));
    assert.equal(err.code, code, err.message);
    assert.match(err.message, pattern);
    return true;
  });
}

describe('downloadToFile', () => {
  test('http: the bytes land in a new 0600 file', async () => {
    const result = await downloadToFile(`${server.base}/pkg`, dest, OPTS);
    assert.deepEqual(result, { bytes: BODY.length, finalUri: `${server.base}/pkg` });
    assert.deepEqual(await readFile(dest), BODY);
    assert.equal((await stat(dest)).mode & 0o777, 0o600);
    await fails(`${server.base}/pkg`, 'E_PACKAGE_DOWNLOAD', /EEXIST/);
  });

  test('file:// reads from disk; a missing file or a folder fails', async () => {
    const src = join(base, 'src.zip');
    await writeFile(src, BODY);
    assert.equal((await downloadToFile(`file://${src}`, dest, OPTS)).bytes, BODY.length);
    await rm(dest);
    await fails(`file://${join(base, 'missing.zip')}`, 'E_PACKAGE_DOWNLOAD', /ENOENT/);
    await fails(`file://${base}`, 'E_PACKAGE_DOWNLOAD', /is not a regular file/);
    await fails(`file://${src}`, 'E_PACKAGE_TOO_LARGE', /is 14 bytes, over the 10 byte cap/, { ...OPTS, maxBytes: 10 });
  });

  test('a redirect chain of 5 hops is followed, relative locations too', async () => {
    server.route('/r1', redirect('/r2', 301));
    server.route('/r2', redirect(`${server.base}/r3`, 302));
    server.route('/r3', redirect('r4', 303));
    server.route('/r4', redirect('/r5', 307));
    server.route('/r5', redirect('/pkg', 308));
    const result = await downloadToFile(`${server.base}/r1`, dest, OPTS);
    assert.equal(result.finalUri, `${server.base}/pkg`);
    assert.deepEqual(await readFile(dest), BODY);
  });

  test('a sixth redirect, a loop, a missing Location and a redirect to file:// fail', async () => {
    server.route('/loop', redirect('/loop'));
    await fails(`${server.base}/r1`, 'E_PACKAGE_DOWNLOAD', /more than 4 redirects \(last to \/pkg\)/, { ...OPTS, maxRedirects: 4 });
    await fails(`${server.base}/loop`, 'E_PACKAGE_DOWNLOAD', /more than 5 redirects/);
    server.route('/noloc', (_req, res) => { res.writeHead(302); res.end(); });
    await fails(`${server.base}/noloc`, 'E_PACKAGE_DOWNLOAD', /HTTP 302 redirect without a Location header/);
    server.route('/tofile', redirect('file:///etc/passwd'));
    await fails(`${server.base}/tofile`, 'E_PACKAGE_DOWNLOAD', /redirect to a non-http uri file:\/\/\/etc\/passwd refused/);
  });

  test('HTTP errors name the status', async () => {
    await fails(`${server.base}/nothing-here`, 'E_PACKAGE_DOWNLOAD', /^HTTP 404 Not Found$/);
    server.route('/gone', redirect('/nothing-here'));
    await fails(`${server.base}/gone`, 'E_PACKAGE_DOWNLOAD', /HTTP 404 Not Found from http:\/\/127\.0\.0\.1:\d+\/nothing-here/);
  });

  test('a server that stalls before headers, or mid-body, times out', async () => {
    server.route('/stall-head', () => { /* never answers */ });
    server.route('/stall-body', (_req, res) => { res.writeHead(200, { 'content-length': 1000 }); res.write('partial'); });
    const started = Date.now();
    await fails(`${server.base}/stall-head`, 'E_PACKAGE_DOWNLOAD', /timed out after 150 ms/, { ...OPTS, timeoutMs: 150 });
    await rm(dest, { force: true });
    await fails(`${server.base}/stall-body`, 'E_PACKAGE_DOWNLOAD', /timed out after 150 ms/, { ...OPTS, timeoutMs: 150 });
    assert.ok(Date.now() - started < 2_000);
  });

  test('an abort signal ends a stalled download with E_PACKAGE_ABORTED', async () => {
    server.route('/stall-abort', () => { /* never answers */ });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    await fails(`${server.base}/stall-abort`, 'E_PACKAGE_ABORTED', /aborted/, { ...OPTS, signal: ac.signal });
    await fails(`${server.base}/pkg`, 'E_PACKAGE_ABORTED', /aborted/, { ...OPTS, signal: AbortSignal.abort() });
  });

  test('unsupported schemes and invalid uris fail clearly', async () => {
    await fails('ftp://example.com/x.zip', 'E_PACKAGE_DOWNLOAD', /unsupported uri scheme "ftp:"/);
    await fails('not a uri', 'E_PACKAGE_DOWNLOAD', /not a valid uri/);
  });

  test('a connection refused is a download error', async () => {
    const dead = await startServer();
    const uri = `${dead.base}/pkg`;
    await dead.close();
    await fails(uri, 'E_PACKAGE_DOWNLOAD', /ECONNREFUSED/);
  });
});
