import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ManualClock, systemClock, type TimerId } from '../../../src/core/clock.js';
import { SupervisorError } from '../../../src/core/errors.js';
import { ReportPusher, pushRetryDelay, parseReportUrl } from '../../../src/supervisor/monitor/report-pusher.js';

interface Received {
  readonly method: string;
  readonly contentType: string | undefined;
  readonly body: string;
}

/** A real server on 127.0.0.1; `respond` decides each answer (or never answers). */
interface TestServer {
  readonly url: string;
  readonly received: Received[];
  /** Requests whose body arrived (before any answer). */
  readonly arrived: number;
  close(): Promise<void>;
}

const servers: TestServer[] = [];
const pushers: ReportPusher[] = [];
afterEach(async () => {
  await Promise.all(pushers.splice(0).map((p) => p.stop()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function startServer(respond: (n: number, req: Received, res: ServerResponse) => void): Promise<TestServer> {
  const received: Received[] = [];
  let arrived = 0;
  const server: Server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r = { method: req.method ?? '', contentType: req.headers['content-type'], body: Buffer.concat(chunks).toString('utf8') };
      received.push(r);
      arrived += 1;
      respond(arrived, r, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const s: TestServer = {
    url: `http://127.0.0.1:${port}/report`,
    received,
    get arrived() { return arrived; },
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
  servers.push(s);
  return s;
}

function pusher(opts: ConstructorParameters<typeof ReportPusher>[0]): ReportPusher {
  const p = new ReportPusher(opts);
  pushers.push(p);
  return p;
}

/** Polls in real time (the I/O is real) until `cond` holds; fails after `ms`. */
async function waitFor(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** A manual clock that notes when each timer was set and for how long; a PUT arms its timeout as it is sent. */
class NotingClock extends ManualClock {
  readonly set: { readonly at: number; readonly ms: number }[] = [];
  override setTimeout(fn: () => void, ms: number): TimerId {
    this.set.push({ at: this.now(), ms });
    return super.setTimeout(fn, ms);
  }

  /** When each PUT with this timeout was sent, on this clock. */
  sentAt(timeoutMs: number): number[] {
    return this.set.filter((t) => t.ms === timeoutMs).map((t) => t.at);
  }
}

const status = (code: number) => (_n: number, _r: Received, res: ServerResponse): void => { res.statusCode = code; res.end('x'); };

describe('policy and validation', () => {
  test('backoff doubles per consecutive failure and is capped', () => {
    assert.deepEqual([1, 2, 3, 4, 5, 6].map((n) => pushRetryDelay(n, 500, 10_000)), [500, 1000, 2000, 4000, 8000, 10_000]);
    assert.equal(pushRetryDelay(1000, 500, 30_000), 30_000);
    assert.equal(pushRetryDelay(0, 500, 30_000), 500);
  });

  test('a report URL must be http(s); the error names the option and the value', () => {
    assert.equal(parseReportUrl('https://example.test/r').hostname, 'example.test');
    for (const bad of ['ftp://example.test/r', 'not a url', '']) {
      assert.throws(() => parseReportUrl(bad), (e: unknown) => e instanceof SupervisorError && e.code === 'E_INVALID_REPORT_URL'
        && e.message.includes('--report-url') && e.message.includes(JSON.stringify(bad)));
    }
  });

  test('bad tuning values are refused, naming the field', () => {
    assert.throws(() => new ReportPusher({ url: 'http://127.0.0.1:1/', clock: systemClock, timeoutMs: 0 }),
      (e: unknown) => e instanceof SupervisorError && e.code === 'E_INVALID_ARGUMENT' && e.message.includes('timeoutMs'));
    assert.throws(() => new ReportPusher({ url: 'http://127.0.0.1:1/', clock: systemClock, maxAttempts: Number.NaN }),
      (e: unknown) => e instanceof SupervisorError && e.message.includes('maxAttempts'));
  });
});

describe('delivery', () => {
  test('a report is PUT as application/json with the exact body', async () => {
    const server = await startServer(status(204));
    const p = pusher({ url: server.url, clock: systemClock });
    p.submit('{"version":"1.0"}');
    await waitFor(() => p.stats.succeeded === 1, 'the push');
    assert.deepEqual(server.received, [{ method: 'PUT', contentType: 'application/json', body: '{"version":"1.0"}' }]);
    assert.ok(p.idle);
  });

  test('two 500s then 200: retried after 0.5 s and 1 s on the injected clock, each failure reported', async () => {
    const clock = new NotingClock(0);
    const errors: SupervisorError[] = [];
    const server = await startServer((n, _r, res) => { res.statusCode = n <= 2 ? 500 : 200; res.end(); });
    const p = pusher({ url: server.url, clock, timeoutMs: 60_000, onError: (e) => errors.push(e) });
    p.submit('A');
    await waitFor(() => p.stats.failures === 1, 'first failure');
    assert.equal(clock.pending(), 1, 'a retry timer, nothing else');
    await clock.advanceAsync(499);
    assert.deepEqual(clock.sentAt(60_000), [0], 'no retry before the backoff delay');
    await clock.advanceAsync(1);
    assert.deepEqual(clock.sentAt(60_000), [0, 500]);
    await waitFor(() => p.stats.failures === 2, 'second failure');
    await clock.advanceAsync(999);
    assert.deepEqual(clock.sentAt(60_000), [0, 500], 'the second delay is twice the first');
    await clock.advanceAsync(1);
    assert.deepEqual(clock.sentAt(60_000), [0, 500, 1500]);
    await waitFor(() => p.stats.succeeded === 1, 'the third attempt');
    assert.deepEqual(server.received.map((r) => r.body), ['A', 'A', 'A']);
    assert.deepEqual(errors.map((e) => [e.code, e.details['attempt'], e.details['status']]), [['E_REPORT_PUSH', 1, 500], ['E_REPORT_PUSH', 2, 500]]);
    assert.match(errors[0]?.message ?? '', /attempt 1 of 5.*HTTP 500.*will retry in 500 ms/);
    assert.deepEqual(p.stats, { succeeded: 1, failures: 2, dropped: 0, superseded: 0 });
    assert.equal(clock.pending(), 0);
  });

  test('only the latest report waits: reports queued behind a slow request are replaced by newer ones', async () => {
    let release: () => void = () => {};
    const held = new Promise<void>((r) => { release = r; });
    const server = await startServer((n, _r, res) => { if (n === 1) void held.then(() => res.end()); else res.end(); });
    const p = pusher({ url: server.url, clock: systemClock });
    p.submit('r1');
    await waitFor(() => server.arrived === 1, 'the first request');
    p.submit('r2');
    p.submit('r3');
    p.submit('r4');
    release();
    await waitFor(() => p.stats.succeeded === 2, 'both deliveries');
    assert.deepEqual(server.received.map((r) => r.body), ['r1', 'r4']);
    assert.equal(p.stats.superseded, 2);
  });

  test('a report that keeps failing is dropped after maxAttempts; nothing more is sent', async () => {
    const clock = new ManualClock(0);
    const server = await startServer(status(503));
    const p = pusher({ url: server.url, clock, timeoutMs: 60_000, maxAttempts: 3, baseDelayMs: 100 });
    p.submit('doomed');
    for (let attempt = 1; attempt <= 3; attempt++) {
      await waitFor(() => p.stats.failures === attempt, `failure ${attempt}`);
      await clock.advanceAsync(10_000);
    }
    // Nothing queued, in flight or waiting for a retry: nothing more can be sent.
    assert.ok(p.idle);
    assert.equal(clock.pending(), 0);
    assert.equal(server.arrived, 3);
    assert.deepEqual(p.stats, { succeeded: 0, failures: 3, dropped: 1, superseded: 0 });
  });

  test('a newer report arriving during a backoff waits for it, then goes instead of the failed one', async () => {
    const clock = new NotingClock(0);
    const server = await startServer((n, _r, res) => { res.statusCode = n === 1 ? 500 : 200; res.end(); });
    const p = pusher({ url: server.url, clock, timeoutMs: 60_000 });
    p.submit('old');
    await waitFor(() => p.stats.failures === 1, 'the failure');
    p.submit('new');
    assert.deepEqual(clock.sentAt(60_000), [0], 'the backoff is kept even for a new report');
    await clock.advanceAsync(500);
    assert.deepEqual(clock.sentAt(60_000), [0, 500]);
    await waitFor(() => p.stats.succeeded === 1, 'the delivery');
    assert.deepEqual(server.received.map((r) => r.body), ['old', 'new']);
  });
});

describe('one retry policy', () => {
  test('newer reports go on the streak of failures: attempt number and delay grow together, and restart together after maxAttempts', async () => {
    const clock = new ManualClock(0);
    const server = await startServer(status(503));
    const errors: SupervisorError[] = [];
    const p = pusher({ url: server.url, clock, timeoutMs: 60_000, maxAttempts: 3, baseDelayMs: 100, onError: (e) => errors.push(e) });
    p.submit('r1');
    await waitFor(() => p.stats.failures === 1, 'failure 1');
    p.submit('r2');
    await clock.advanceAsync(100);
    await waitFor(() => p.stats.failures === 2, 'failure 2');
    p.submit('r3');
    await clock.advanceAsync(200);
    await waitFor(() => p.stats.failures === 3, 'failure 3');
    p.submit('r4');
    await waitFor(() => server.arrived === 4, 'r4, at once: the streak is over');
    await waitFor(() => p.stats.failures === 4, 'failure 4');
    assert.deepEqual(errors.map((e) => e.details['attempt']), [1, 2, 3, 1]);
    assert.deepEqual(errors.map((e) => /in (\d+) ms/.exec(e.message)?.[1] ?? null), ['100', '200', null, '100']);
    assert.match(errors[2]!.message, /attempt 3 of 3.*giving up/);
    await p.stop();
  });
});

describe('failures that must not hang', () => {
  test('a server that never answers: the request times out, the failure is counted, no hang', async () => {
    const server = await startServer(() => { /* never answers */ });
    const errors: SupervisorError[] = [];
    const clock = new ManualClock(0);
    const p = pusher({ url: server.url, clock, timeoutMs: 100, maxAttempts: 1, onError: (e) => errors.push(e) });
    p.submit('r');
    await waitFor(() => server.arrived === 1, 'the request');
    await clock.advanceAsync(99);
    assert.equal(clock.pending(), 1, 'the timeout is not due before 100 ms');
    await clock.advanceAsync(1);
    assert.equal(clock.pending(), 0, 'the timeout fired at 100 ms on the clock');
    await waitFor(() => p.stats.failures === 1, 'the timeout to be counted');
    assert.equal((errors[0]?.cause as SupervisorError | undefined)?.code, 'E_REPORT_PUSH_TIMEOUT');
    assert.deepEqual(p.stats, { succeeded: 0, failures: 1, dropped: 1, superseded: 0 });
    assert.ok(p.idle);
  });

  test('connection refused counts as a failure', async () => {
    const server = await startServer(status(200));
    const url = server.url;
    await server.close();
    const p = pusher({ url, clock: systemClock, maxAttempts: 1 });
    p.submit('r');
    await waitFor(() => p.stats.failures === 1, 'the refusal');
    assert.equal(p.stats.dropped, 1);
  });

  test('stop aborts the request in flight and the retry timer; it is idempotent and later pushes are ignored', async () => {
    const server = await startServer(() => { /* never answers */ });
    const clock = new ManualClock(0);
    const p = pusher({ url: server.url, clock, timeoutMs: 60_000 });
    p.submit('r');
    await waitFor(() => server.arrived === 1, 'the request');
    const stopping = p.stop();
    assert.equal(p.stop(), stopping);
    await stopping; // on a clock that never moved: the 60 s timeout cannot have ended the wait
    assert.equal(p.stats.failures, 0, 'an abort is not a failure of the endpoint');
    assert.equal(clock.pending(), 0, 'the timeout timer is cleared');
    p.submit('late');
    // A request sent would be in flight (not idle) with its timeout armed.
    assert.ok(p.idle);
    assert.equal(clock.pending(), 0);
    assert.equal(server.arrived, 1);
  });
});
