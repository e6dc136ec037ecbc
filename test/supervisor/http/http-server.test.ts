import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { SupervisorError } from '../../../src/core/errors.js';
import { ManualClock } from '../../../src/core/clock.js';
import { SupervisorMetrics } from '../../../src/supervisor/metrics/metrics.js';
import { isLoopback, parseListen, resolveListen } from '../../../src/supervisor/http/listen.js';
import type { HandlerRow } from '../../../src/supervisor/monitor/types.js';
import { call, startTestServer } from '../../helpers/http.js';

const enabledRow: HandlerRow = {
  name: 'Contoso.A', version: '1.0.0', desiredState: 'enabled', state: 'Enabled', status: 'Ready', code: 0, message: '',
  pids: [], cpuPercent: 1.5, memoryBytes: 2048, uptimeSeconds: null, heartbeatAgeSeconds: null, heartbeat: null,
  restarts: 0, lastOperation: null, extensions: [],
};

describe('parseListen', () => {
  const good: [string, string, number][] = [
    ['9100', '127.0.0.1', 9100],
    ['1', '127.0.0.1', 1],
    ['0.0.0.0:9100', '0.0.0.0', 9100],
    ['192.168.1.10:65535', '192.168.1.10', 65535],
    ['localhost:9200', 'localhost', 9200],
    ['metrics.example.com:80', 'metrics.example.com', 80],
    ['[::1]:9100', '::1', 9100],
    ['[::]:9100', '::', 9100],
  ];
  for (const [value, host, port] of good) {
    test(`${JSON.stringify(value)} → ${host}:${port}`, () => {
      assert.deepEqual(parseListen(value), { host, port });
    });
  }

  const bad: [string, RegExp][] = [
    ['', /no port/],
    ['abc', /no port/],
    ['0', /out of range/],
    ['70000', /out of range/],
    ['127.0.0.1:', /is not a number/],
    ['127.0.0.1:0', /out of range/],
    ['127.0.0.1:65536', /out of range/],
    ['127.0.0.1:91x0', /is not a number/],
    [':9100', /no address before the port/],
    ['::1:9100', /needs brackets/],
    ['[::1]', /no port after the bracketed/],
    ['[::1]9100', /no port after the bracketed/],
    ['[zz]:9100', /not an IPv6 address/],
    ['[127.0.0.1]:9100', /not an IPv6 address/],
    ['bad host:9100', /not an IPv4 address or host name/],
    ['-host:9100', /not an IPv4 address or host name/],
  ];
  for (const [value, reason] of bad) {
    test(`${JSON.stringify(value)} is refused with E_USAGE naming the flag and the value`, () => {
      assert.throws(() => parseListen(value), (err: unknown) => {
        assert.ok(err instanceof SupervisorError);
        assert.equal(err.code, 'E_USAGE');
        assert.match(err.message, /^--http-listen: /);
        assert.ok(err.message.includes(`(got ${JSON.stringify(value)})`), err.message);
        assert.match(err.message, reason);
        assert.equal(err.details['value'], value);
        return true;
      });
    });
  }
});


describe('resolveListen: --http-listen, its alias --metrics-listen, and the token rule', () => {
  test('either flag, or both when they agree; a bare port is loopback', () => {
    assert.deepEqual(resolveListen({ httpListen: '8477' }, false), { host: '127.0.0.1', port: 8477 });
    assert.deepEqual(resolveListen({ metricsListen: '9100' }, false), { host: '127.0.0.1', port: 9100 });
    assert.deepEqual(resolveListen({ httpListen: '127.0.0.1:9100', metricsListen: '127.0.0.1:9100' }, false), { host: '127.0.0.1', port: 9100 });
    assert.equal(resolveListen({}, false), null);
  });

  test('both given and different: a usage error naming both', () => {
    assert.throws(() => resolveListen({ httpListen: '8477', metricsListen: '9100' }, false), (err: SupervisorError) => {
      assert.equal(err.code, 'E_USAGE');
      assert.match(err.message, /--http-listen "8477" and --metrics-listen "9100" differ/);
      return true;
    });
  });

  test('a non-loopback address needs a token; errors name the flag that was given', () => {
    for (const [flags, flag] of [[{ httpListen: '0.0.0.0:8477' }, '--http-listen'], [{ metricsListen: '192.168.1.10:9100' }, '--metrics-listen'],
      [{ httpListen: '[::]:8477' }, '--http-listen'], [{ httpListen: 'host.example:8477' }, '--http-listen']] as const) {
      assert.throws(() => resolveListen(flags, false), (err: SupervisorError) => {
        assert.equal(err.code, 'E_USAGE');
        assert.ok(err.message.startsWith(`${flag} `), err.message);
        assert.match(err.message, /is not a loopback address; listening there needs --http-token-file FILE/);
        return true;
      });
      assert.ok(resolveListen(flags, true), 'with a token it is accepted');
    }
    assert.throws(() => resolveListen({}, true), /--http-token-file needs --http-listen/);
  });

  test('isLoopback', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', 'localhost', 'LOCALHOST', '::ffff:127.0.0.1']) assert.equal(isLoopback(h), true, h);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', '128.0.0.1', 'example.com', '::ffff:10.0.0.1', 'localhost.example']) assert.equal(isLoopback(h), false, h);
  });
});

describe('the HTTP server', () => {
  const SECURITY = { 'content-security-policy': "default-src 'self'", 'x-content-type-options': 'nosniff' };
  const assertSecure = (r: { headers: Record<string, unknown> }, what: string): void => {
    for (const [k, v] of Object.entries(SECURITY)) assert.equal(r.headers[k], v, `${what}: ${k}`);
  };

  test('/metrics serves the registry in the Prometheus text format; HEAD, query strings; 404 JSON and 405', async () => {
    const metrics = new SupervisorMetrics({ rows: async () => [enabledRow] });
    const server = await startTestServer({ metrics });
    try {
      assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
      const ok = await call(server.url, { path: '/metrics' });
      assert.equal(ok.status, 200);
      assert.equal(ok.headers['content-type'], metrics.registry.contentType);
      assert.match(ok.body, /^ext_supervisor_handlers\{state="Enabled"\} 1$/m);
      assert.match(ok.body, /^ext_supervisor_handler_memory_bytes\{handler="Contoso\.A"\} 2048$/m);
      assertSecure(ok, '/metrics');

      const head = await call(server.url, { method: 'HEAD', path: '/metrics' });
      assert.equal(head.status, 200);
      assert.equal(head.body, '');
      assert.equal((await call(server.url, { path: '/metrics?name[]=x' })).status, 200);

      for (const path of ['/metrics/extra', '/api/nothing', '/nothing.html']) {
        const missing = await call(server.url, { path });
        assert.equal(missing.status, 404, path);
        assert.match(String(missing.headers['content-type']), /^application\/json/);
        const body = JSON.parse(missing.body);
        assert.equal(body.error, 'E_NOT_FOUND');
        assert.ok(body.message.includes(path), body.message);
        assertSecure(missing, path);
      }
      for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
        const r = await call(server.url, { method, path: '/api/ps' });
        assert.equal(r.status, 405, method);
        assert.equal(r.headers['allow'], 'GET, HEAD');
        assert.equal(JSON.parse(r.body).error, 'E_METHOD');
      }
    } finally {
      await server.close();
    }
  });

  test('a scrape that fails answers 500 with the reason, and the next scrape works again', async () => {
    let fail = true;
    const metrics = new SupervisorMetrics({ rows: async () => {
      if (fail) throw new Error('reporter did not answer');
      return [];
    } });
    const server = await startTestServer({ metrics });
    try {
      const bad = await call(server.url, { path: '/metrics' });
      assert.equal(bad.status, 500);
      assert.match(bad.body, /^scrape failed: reporter did not answer/);
      fail = false;
      assert.equal((await call(server.url, { path: '/metrics' })).status, 200);
    } finally {
      await server.close();
    }
  });

  test('/api/ps and /api/status/NAME answer what they are given; an unknown name is 404 JSON; /readyz and /healthz', async () => {
    let ready = false;
    const server = await startTestServer({
      ps: async () => '[{"name":"A"}]',
      status: async (name) => {
        if (name !== 'A b') throw new SupervisorError('E_UNKNOWN_HANDLER', `no handler named "${name}"`, { name });
        return '{\n  "row": {}\n}';
      },
      readiness: () => ({ ready, reason: ready ? 'applied' : 'applying the first goal state: 3 handlers' }),
    });
    try {
      const ps = await call(server.url, { path: '/api/ps' });
      assert.equal(ps.status, 200);
      assert.equal(ps.body, '[{"name":"A"}]\n');
      assert.equal(ps.headers['content-type'], 'application/json; charset=utf-8');
      assert.equal(ps.headers['cache-control'], 'no-store');
      assertSecure(ps, '/api/ps');
      const st = await call(server.url, { path: '/api/status/A%20b' });
      assert.equal(st.status, 200);
      assert.equal(st.body, '{\n  "row": {}\n}\n');
      const unknown = await call(server.url, { path: '/api/status/Nope' });
      assert.equal(unknown.status, 404);
      assert.deepEqual(JSON.parse(unknown.body), { error: 'E_UNKNOWN_HANDLER', message: 'no handler named "Nope"' });
      assert.equal((await call(server.url, { path: '/api/status/%E0%A4%A' })).status, 400, 'a malformed escape is a bad request');

      const notYet = await call(server.url, { path: '/readyz' });
      assert.equal(notYet.status, 503);
      assert.deepEqual(JSON.parse(notYet.body), { status: 'not ready', reason: 'applying the first goal state: 3 handlers' });
      ready = true;
      const now = await call(server.url, { path: '/readyz' });
      assert.equal(now.status, 200);
      assert.equal(JSON.parse(now.body).status, 'ready');

      const health = await call(server.url, { path: '/healthz' });
      assert.equal(health.status, 200);
      const h = JSON.parse(health.body);
      assert.equal(h.status, 'ok');
      assert.ok(h.eventLoopDelayMs === null || typeof h.eventLoopDelayMs.p99 === 'number', health.body);
    } finally {
      await server.close();
    }
  });

  test('with a token: every route needs "Authorization: Bearer <token>", else 401 with WWW-Authenticate', async () => {
    const token = 'tok-3f9a0c1d2e';
    const server = await startTestServer({}, { token });
    try {
      for (const path of ['/', '/api/ps', '/events', '/metrics', '/healthz', '/readyz', '/api/status/A', '/nothing']) {
        const missing = await call(server.url, { path });
        assert.equal(missing.status, 401, path);
        assert.equal(missing.headers['www-authenticate'], 'Bearer realm="ext-supervisor"');
        assert.equal(JSON.parse(missing.body).error, 'E_UNAUTHORIZED');
        assert.ok(!missing.body.includes(token));
        for (const wrong of [`Bearer ${token}x`, `Bearer ${token.slice(0, -1)}`, `Basic ${token}`, token, 'Bearer ', `Bearer ${token} extra`]) {
          const r = await call(server.url, { path, headers: { Authorization: wrong } });
          assert.equal(r.status, 401, `${path} with ${wrong}`);
          assert.match(String(r.headers['www-authenticate']), /error="invalid_token"/);
        }
      }
      const ok = await call(server.url, { path: '/api/ps', headers: { Authorization: `Bearer ${token}` } });
      assert.equal(ok.status, 200);
      assert.equal((await call(server.url, { path: '/api/ps', headers: { Authorization: `bearer  ${token}` } })).status, 200, 'the scheme is case-insensitive');
      // A POST without the token learns nothing, not even that the method is refused.
      assert.equal((await call(server.url, { method: 'POST', path: '/api/ps' })).status, 401);
    } finally {
      await server.close();
    }
  });

  test('static files: index, content types, ETag and Last-Modified revalidation, no-cache, no traversal, no symlink out', async () => {
    const root = await mkdtemp(join(tmpdir(), 'exts-web-'));
    const web = join(root, 'web');
    const server = await startTestServer({ webDir: web });
    try {
      await mkdir(join(web, 'sub'), { recursive: true });
      await writeFile(join(web, 'index.html'), '<!doctype html><title>t</title><script src="app.js"></script>');
      await writeFile(join(web, 'app.js'), 'console.log(1)');
      await writeFile(join(web, 'style.css'), 'body{}');
      await writeFile(join(web, 'sub', 'x.svg'), '<svg/>');
      await writeFile(join(web, 'blob.bin'), 'x');
      await writeFile(join(web, '.hidden'), 'no');
      await writeFile(join(root, 'secret.txt'), 'outside');
      await symlink(join(root, 'secret.txt'), join(web, 'link.txt'));
      await symlink(join(web, 'app.js'), join(web, 'inside.js'));
      await utimes(join(web, 'index.html'), new Date('2026-01-02T03:04:05Z'), new Date('2026-01-02T03:04:05Z'));

      const index = await call(server.url);
      assert.equal(index.status, 200);
      assert.equal(index.headers['content-type'], 'text/html; charset=utf-8');
      assert.equal(index.headers['cache-control'], 'no-cache');
      assert.equal(index.headers['last-modified'], 'Fri, 02 Jan 2026 03:04:05 GMT');
      assertSecure(index, '/');
      const etag = String(index.headers['etag']);
      assert.match(etag, /^W\/"[0-9a-f]+-[0-9a-f]+"$/);
      assert.match(index.body, /<script src="app.js">/);
      assert.equal((await call(server.url, { path: '/index.html' })).body, index.body);
      assert.equal((await call(server.url, { headers: { 'If-None-Match': etag } })).status, 304);
      assert.equal((await call(server.url, { headers: { 'If-Modified-Since': 'Fri, 02 Jan 2026 03:04:05 GMT' } })).status, 304);
      assert.equal((await call(server.url, { headers: { 'If-Modified-Since': 'Fri, 02 Jan 2026 03:04:04 GMT' } })).status, 200);
      const head = await call(server.url, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(head.body, '');
      assert.equal(head.headers['content-length'], String(Buffer.byteLength(index.body)));

      for (const [path, type] of [['/app.js', 'text/javascript; charset=utf-8'], ['/style.css', 'text/css; charset=utf-8'],
        ['/sub/x.svg', 'image/svg+xml'], ['/blob.bin', 'application/octet-stream'], ['/inside.js', 'text/javascript; charset=utf-8']]) {
        const r = await call(server.url, { path: path! });
        assert.equal(r.status, 200, path);
        assert.equal(r.headers['content-type'], type, path);
        assertSecure(r, path!);
      }
      for (const path of ['/../secret.txt', '/%2e%2e/secret.txt', '/sub/..%2f..%2fsecret.txt', '/..%2fsecret.txt', '/link.txt', '/.hidden',
        '/sub', '/%00', '/sub%5c..%5c..%5csecret.txt', '//etc/passwd', '/nothing']) {
        const r = await call(server.url, { path });
        assert.equal(r.status, 404, path);
        assert.ok(!r.body.includes('outside'), path);
      }
    } finally {
      await server.close();
      await rm(root, { recursive: true, force: true });
    }
  });

  test('an address in use is refused with E_HTTP_LISTEN naming it', async () => {
    const blocker = createServer();
    blocker.listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    const { port } = blocker.address() as AddressInfo;
    try {
      await assert.rejects(startTestServer({}, { port }), (err: unknown) => {
        assert.ok(err instanceof SupervisorError);
        assert.equal(err.code, 'E_HTTP_LISTEN');
        assert.ok(err.message.includes(`127.0.0.1:${port}`), err.message);
        assert.equal(err.details['errno'], 'EADDRINUSE');
        return true;
      });
    } finally {
      blocker.close();
      await once(blocker, 'close');
    }
  });

  test('close is prompt with an idle keep-alive connection, idempotent, and frees the port', async () => {
    const clock = new ManualClock(0);
    const server = await startTestServer({}, { closeGraceMs: 10_000, clock });
    const agent = new Agent({ keepAlive: true });
    try {
      assert.equal((await call(server.url, { path: '/healthz', agent })).status, 200);
      await server.close();
      assert.equal(clock.pending(), 0, 'an idle connection does not hold close for the grace; the grace timer is cleared');
      await assert.rejects(call(server.url, { path: '/healthz' }), /ECONNREFUSED/);
    } finally {
      agent.destroy();
    }
  });

  test('close is bounded: a scrape that never finishes is cut after the grace', async () => {
    let entered!: () => void;
    const inScrape = new Promise<void>((r) => { entered = r; });
    const metrics = new SupervisorMetrics({ rows: () => { entered(); return new Promise<readonly HandlerRow[]>(() => {}); } });
    const clock = new ManualClock(0);
    const server = await startTestServer({ metrics }, { closeGraceMs: 150, clock });
    const stuck = call(server.url, { path: '/metrics' }).then(() => 'answered', (err: Error) => err.message);
    await inScrape;
    let closed = false;
    const closing = server.close().then(() => { closed = true; });
    await clock.advanceAsync(149);
    assert.equal(clock.pending(), 1, 'the scrape is not cut before the grace');
    assert.equal(closed, false);
    await clock.advanceAsync(1);
    await closing;
    assert.equal(clock.pending(), 0);
    assert.match(await stuck, /socket hang up|ECONNRESET/);
  });

  test('an IPv6 address is shown in brackets in the url', async (t) => {
    let server;
    try {
      server = await startTestServer({}, { host: '::1' });
    } catch (err) {
      if ((err as SupervisorError).details?.['errno'] === 'EADDRNOTAVAIL') return t.skip('no IPv6 loopback here');
      throw err;
    }
    try {
      assert.match(server.url, /^http:\/\/\[::1\]:\d+\/$/);
      assert.equal((await call(server.url, { path: '/healthz' })).status, 200);
    } finally {
      await server.close();
    }
  });
});
