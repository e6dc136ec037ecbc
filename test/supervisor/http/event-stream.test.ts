/**
 * /events over real HTTP: the protocol's first lines, keepalive comments on the injected clock,
 * the bound on clients, and a client that does not read dropped instead of buffered for.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { ManualClock } from '../../../src/core/clock.js';
import { EventStreams } from '../../../src/supervisor/http/event-stream.js';
import { RowFeed } from '../../../src/supervisor/http/row-feed.js';
import type { HandlerRow } from '../../../src/supervisor/monitor/types.js';
import { call, openEvents, startTestServer } from '../../helpers/http.js';
import { waitFor } from '../../helpers/daemon.js';

const row = (name: string, message = ''): HandlerRow => ({
  name, version: '1.0', desiredState: 'enabled', state: 'Enabled', status: 'Ready', code: 0, message,
  pids: [], cpuPercent: 0, memoryBytes: 0, uptimeSeconds: null, heartbeatAgeSeconds: null, heartbeat: null,
  restarts: 0, lastOperation: null, extensions: [],
});

function build(opts: { maxClients?: number; maxBufferBytes?: number } = {}) {
  const clock = new ManualClock(Date.parse('2026-12-04T10:00:00Z'));
  let rows: HandlerRow[] = [row('A')];
  const feed = new RowFeed({ clock, onError: (err) => { throw err; }, source: { rows: async () => rows, freshen: async (r) => r } });
  const events = new EventStreams({ feed, clock, ...opts });
  return { clock, feed, events, set: (r: HandlerRow[]) => { rows = r; } };
}

describe('/events', () => {
  test('retry, snapshot, then keepalive comments every 15 s of the clock; HEAD answers the headers only', async () => {
    const { clock, feed, events } = build();
    const server = await startTestServer({ events }, {});
    const stream = await openEvents(`${server.url}events`);
    try {
      assert.equal(stream.response.statusCode, 200);
      assert.equal(stream.response.headers['content-type'], 'text/event-stream; charset=utf-8');
      assert.equal(stream.response.headers['cache-control'], 'no-cache');
      assert.equal(stream.response.headers['content-security-policy'], "default-src 'self'");
      const snapshot = await stream.next((e) => e.event === 'snapshot');
      assert.equal(stream.events[0]!.retry, 3000, 'retry comes first');
      assert.deepEqual(JSON.parse(snapshot.data), { at: '2026-12-04T10:00:00.000Z', rows: [row('A')] });
      await clock.advanceAsync(14_999);
      assert.ok(!stream.events.some((e) => e.comment === 'keepalive'));
      await clock.advanceAsync(1);
      await stream.next((e) => e.comment === 'keepalive');
      await clock.advanceAsync(15_000);
      await waitFor(() => stream.events.filter((e) => e.comment === 'keepalive').length === 2, 60_000, 'a second keepalive');
      const head = await call(`${server.url}events`, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(head.body, '');
      assert.equal(feed.clients, 1, 'HEAD is no client');
    } finally {
      stream.close();
      await stream.closed;
      await server.close();
    }
    await waitFor(() => feed.clients === 0, 60_000, 'the client to be dropped');
    assert.equal(clock.pending(), 0, 'no keepalive without clients');
  });

  test('beyond maxClients: 503 with Retry-After; a client that left frees its place', async () => {
    const { events, feed } = build({ maxClients: 2 });
    const server = await startTestServer({ events });
    const a = await openEvents(`${server.url}events`);
    const b = await openEvents(`${server.url}events`);
    try {
      await a.next((e) => e.event === 'snapshot');
      await b.next((e) => e.event === 'snapshot');
      const refused = await call(`${server.url}events`);
      assert.equal(refused.status, 503);
      assert.equal(refused.headers['retry-after'], '10');
      assert.equal(JSON.parse(refused.body).error, 'E_BUSY');
      assert.equal(events.stats.refused, 1);
      a.close();
      await a.closed;
      await waitFor(() => events.stats.clients === 1 && feed.clients === 1, 60_000, 'the place to be freed');
      const c = await openEvents(`${server.url}events`);
      await c.next((e) => e.event === 'snapshot');
      c.close();
      await c.closed;
    } finally {
      b.close();
      await server.close();
    }
  });

  test('a client that does not read is dropped once its unsent output passes the bound; the others go on', async () => {
    const { clock, feed, events, set } = build({ maxBufferBytes: 64 * 1024 });
    const server = await startTestServer({ events });
    const reader = await openEvents(`${server.url}events`);
    const { port } = new URL(server.url);
    // A raw connection that asks for the stream and then never reads.
    const stalled = connect(Number(port), '127.0.0.1');
    await new Promise<void>((r) => stalled.once('connect', () => r()));
    stalled.write('GET /events HTTP/1.1\r\nHost: x\r\n\r\n');
    stalled.pause();
    const stalledClosed = new Promise<void>((r) => stalled.once('close', () => r()));
    try {
      await reader.next((e) => e.event === 'snapshot');
      await waitFor(() => feed.clients === 2, 60_000, 'both clients attached');
      const big = 'x'.repeat(256 * 1024);
      let rounds = 0;
      // Each round is one changed row of 256 KiB for every client: the stalled one's buffers fill.
      while (events.stats.dropped === 0 && rounds < 400) {
        rounds++;
        set([row('A', `${rounds}${big}`)]);
        feed.poke();
        await clock.advanceAsync(500);
        const want = rounds;
        await reader.next((e) => e.event === 'rows' && JSON.parse(e.data).rows[0].message.startsWith(`${want}x`));
      }
      assert.equal(events.stats.dropped, 1, `dropped after ${rounds} rounds`);
      stalled.resume();
      stalled.on('data', () => {});
      await stalledClosed;
      await waitFor(() => feed.clients === 1 && events.stats.clients === 1, 60_000, 'the stalled client gone');
      set([row('A', 'after')]);
      feed.poke();
      await clock.advanceAsync(500);
      await reader.next((e) => e.event === 'rows' && JSON.parse(e.data).rows[0].message === 'after');
    } finally {
      stalled.destroy();
      reader.close();
      await server.close();
    }
  });
});
