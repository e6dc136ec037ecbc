import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { SupervisorError } from '../../../src/core/errors.js';
import { ManualClock } from '../../../src/core/clock.js';
import { SupervisorMetrics } from '../../../src/supervisor/metrics/metrics.js';
import { parseListen, startMetricsServer } from '../../../src/supervisor/metrics/metrics-server.js';
import type { HandlerRow } from '../../../src/supervisor/monitor/types.js';

interface Reply { status: number; headers: Record<string, string | string[] | undefined>; body: string }

/** One HTTP request on its own connection (or the agent's); resolves with the whole reply. */
function call(url: string, opts: { method?: string; path?: string; agent?: Agent | false } = {}): Promise<Reply> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port, path: opts.path ?? u.pathname,
      method: opts.method ?? 'GET', agent: opts.agent ?? false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

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
        assert.match(err.message, /^--metrics-listen: /);
        assert.ok(err.message.includes(`(got ${JSON.stringify(value)})`), err.message);
        assert.match(err.message, reason);
        assert.equal(err.details['value'], value);
        return true;
      });
    });
  }
});

describe('startMetricsServer', () => {
  test('GET /metrics serves the registry in the Prometheus text format; HEAD, query strings, 404 and 405', async () => {
    const metrics = new SupervisorMetrics({ rows: async () => [enabledRow] });
    const server = await startMetricsServer({ host: '127.0.0.1', port: 0, metrics });
    try {
      assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      const ok = await call(server.url);
      assert.equal(ok.status, 200);
      assert.equal(ok.headers['content-type'], metrics.registry.contentType);
      assert.match(String(ok.headers['content-type']), /^text\/plain; version=0\.0\.4/);
      assert.match(ok.body, /^ext_supervisor_handlers\{state="Enabled"\} 1$/m);
      assert.match(ok.body, /^ext_supervisor_handler_memory_bytes\{handler="Contoso\.A"\} 2048$/m);

      const head = await call(server.url, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(head.body, '');
      assert.equal((await call(server.url, { path: '/metrics?name[]=x' })).status, 200);

      const missing = await call(server.url, { path: '/' });
      assert.equal(missing.status, 404);
      assert.match(missing.body, /not found: \/; metrics are at \/metrics/);
      assert.equal((await call(server.url, { path: '/metrics/extra' })).status, 404);

      const post = await call(server.url, { method: 'POST' });
      assert.equal(post.status, 405);
      assert.equal(post.headers['allow'], 'GET, HEAD');
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
    const server = await startMetricsServer({ host: '127.0.0.1', port: 0, metrics });
    try {
      const bad = await call(server.url);
      assert.equal(bad.status, 500);
      assert.match(bad.body, /^scrape failed: reporter did not answer/);
      fail = false;
      assert.equal((await call(server.url)).status, 200);
    } finally {
      await server.close();
    }
  });

  test('an address in use is refused with E_METRICS_LISTEN naming it', async () => {
    const blocker = createServer();
    blocker.listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    const { port } = blocker.address() as AddressInfo;
    try {
      const metrics = new SupervisorMetrics({ rows: async () => [] });
      await assert.rejects(startMetricsServer({ host: '127.0.0.1', port, metrics }), (err: unknown) => {
        assert.ok(err instanceof SupervisorError);
        assert.equal(err.code, 'E_METRICS_LISTEN');
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
    const metrics = new SupervisorMetrics({ rows: async () => [] });
    const clock = new ManualClock(0);
    const server = await startMetricsServer({ host: '127.0.0.1', port: 0, metrics, closeGraceMs: 10_000, clock });
    const agent = new Agent({ keepAlive: true });
    try {
      assert.equal((await call(server.url, { agent })).status, 200);
      const closing = server.close();
      assert.equal(server.close(), closing, 'a second close returns the same promise');
      // The grace runs on a clock that never moves: close cannot have waited for it.
      await closing;
      assert.equal(clock.pending(), 0, 'an idle connection does not hold close for the grace; the grace timer is cleared');
      await assert.rejects(call(server.url), /ECONNREFUSED/);
    } finally {
      agent.destroy();
    }
  });

  test('close is bounded: a scrape that never finishes is cut after the grace', async () => {
    let entered!: () => void;
    const inScrape = new Promise<void>((r) => { entered = r; });
    const metrics = new SupervisorMetrics({ rows: () => { entered(); return new Promise<readonly HandlerRow[]>(() => {}); } });
    const clock = new ManualClock(0);
    const server = await startMetricsServer({ host: '127.0.0.1', port: 0, metrics, closeGraceMs: 150, clock });
    const stuck = call(server.url).then(() => 'answered', (err: Error) => err.message);
    await inScrape;
    let closed = false;
    const closing = server.close().then(() => { closed = true; });
    await clock.advanceAsync(149);
    assert.equal(clock.pending(), 1, 'the scrape is not cut before the grace');
    assert.equal(closed, false);
    await clock.advanceAsync(1);
    await closing; // once the grace is over, close ends by itself
    assert.equal(clock.pending(), 0);
    assert.match(await stuck, /socket hang up|ECONNRESET/);
  });

  test('an IPv6 address is shown in brackets in the url', async (t) => {
    const metrics = new SupervisorMetrics({ rows: async () => [] });
    let server;
    try {
      server = await startMetricsServer({ host: '::1', port: 0, metrics });
    } catch (err) {
      if ((err as SupervisorError).details?.['errno'] === 'EADDRNOTAVAIL') return t.skip('no IPv6 loopback here');
      throw err;
    }
    try {
      assert.match(server.url, /^http:\/\/\[::1\]:\d+\/metrics$/);
      assert.equal((await call(server.url)).status, 200);
    } finally {
      await server.close();
    }
  });
});
