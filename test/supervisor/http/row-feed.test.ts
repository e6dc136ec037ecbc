/**
 * The live page's feed: one diff shared by every client, driven by pokes (never by a timer of its
 * own), at most one per interval, ignoring ages unless a heartbeat was written again.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../../src/core/clock.js';
import { RowFeed, type FeedClient } from '../../../src/supervisor/http/row-feed.js';
import type { HandlerRow } from '../../../src/supervisor/monitor/types.js';

const row = (name: string, over: Partial<HandlerRow> = {}): HandlerRow => ({
  name, version: '1.0', desiredState: 'enabled', state: 'Enabled', status: 'Ready', code: 0, message: 'Plugin enabled',
  pids: [], cpuPercent: 0, memoryBytes: 0, uptimeSeconds: null, heartbeatAgeSeconds: null, heartbeat: null,
  restarts: 0, lastOperation: null, extensions: [], ...over,
});

interface Parsed { event: string; data: any }

function parse(text: string): Parsed[] {
  return text.split('\n\n').filter((b) => b !== '').map((block) => {
    const lines = block.split('\n');
    return { event: lines.find((l) => l.startsWith('event: '))!.slice(7), data: JSON.parse(lines.find((l) => l.startsWith('data: '))!.slice(6)) };
  });
}

function setup() {
  const clock = new ManualClock(Date.parse('2026-12-04T10:00:00Z'));
  let rows: HandlerRow[] = [row('A'), row('B')];
  let reads = 0;
  const feed = new RowFeed({ clock, onError: (err) => { throw err; },
    source: { rows: async () => { reads++; return rows; }, freshen: async (r) => r } });
  const client = (): FeedClient & { got: Parsed[] } => {
    const got: Parsed[] = [];
    return { got, write: (text) => got.push(...parse(text)) };
  };
  return { clock, feed, client, set: (r: HandlerRow[]) => { rows = r; }, reads: () => reads };
}

describe('RowFeed', () => {
  test('without clients a poke costs nothing: no diff, no timer', async () => {
    const { clock, feed, reads } = setup();
    for (let i = 0; i < 10; i++) feed.poke();
    await clock.advanceAsync(5000);
    assert.equal(reads(), 0);
    assert.equal(feed.diffs, 0);
    assert.equal(clock.pending(), 0);
  });

  test('a client gets its snapshot, then only the rows that changed, at most one event per interval', async () => {
    const { clock, feed, client, set } = setup();
    const c = client();
    await feed.attach(c);
    assert.equal(c.got.length, 1);
    assert.equal(c.got[0]!.event, 'snapshot');
    assert.equal(c.got[0]!.data.at, '2026-12-04T10:00:00.000Z');
    assert.deepEqual(c.got[0]!.data.rows.map((r: HandlerRow) => r.name), ['A', 'B']);
    assert.equal(clock.pending(), 0, 'nothing scheduled while nothing happened');

    set([row('A', { status: 'Unresponsive', code: -1 }), row('B')]);
    feed.poke();
    set([row('A', { status: 'Unresponsive', code: -1 }), row('B', { pids: [42] })]);
    feed.poke();
    feed.poke();
    await clock.advanceAsync(499);
    assert.equal(c.got.length, 1, 'not before the interval since the last diff');
    await clock.advanceAsync(1);
    assert.equal(c.got.length, 2, 'three pokes, one event');
    assert.equal(c.got[1]!.event, 'rows');
    assert.equal(c.got[1]!.data.at, '2026-12-04T10:00:00.500Z');
    assert.deepEqual(c.got[1]!.data.rows.map((r: HandlerRow) => [r.name, r.status, r.pids]), [['A', 'Unresponsive', []], ['B', 'Ready', [42]]]);
    assert.equal(feed.diffs, 2, 'the snapshot diff and one more');
    assert.equal(clock.pending(), 0);

    // Later, a poke after a quiet while is diffed at once.
    await clock.advanceAsync(10_000);
    set([row('A', { status: 'Ready' }), row('B', { pids: [42] })]);
    feed.poke();
    await clock.advanceAsync(0);
    assert.equal(c.got.length, 3);
    assert.deepEqual(c.got[2]!.data.rows.map((r: HandlerRow) => r.name), ['A']);
  });

  test('ages alone are no change; a heartbeat written again (its age went back) is; a row gone is "removed"', async () => {
    const { clock, feed, client, set } = setup();
    set([row('A', { heartbeatAgeSeconds: 5, uptimeSeconds: 100 }), row('B')]);
    const c = client();
    await feed.attach(c);
    await clock.advanceAsync(10_000);
    set([row('A', { heartbeatAgeSeconds: 15, uptimeSeconds: 110 }), row('B')]);
    feed.poke();
    await clock.advanceAsync(0);
    assert.equal(feed.diffs, 2);
    assert.equal(c.got.length, 1, 'ages that grew with time are not sent');

    await clock.advanceAsync(10_000);
    set([row('A', { heartbeatAgeSeconds: 1, uptimeSeconds: 120 }), row('B')]);
    feed.poke();
    await clock.advanceAsync(0);
    assert.equal(c.got.length, 2);
    assert.equal(c.got[1]!.event, 'rows');
    assert.deepEqual(c.got[1]!.data.rows.map((r: HandlerRow) => [r.name, r.heartbeatAgeSeconds]), [['A', 1]]);

    await clock.advanceAsync(1000);
    set([row('A', { heartbeatAgeSeconds: 2, uptimeSeconds: 121 })]);
    feed.poke();
    await clock.advanceAsync(0);
    assert.equal(c.got.length, 3);
    assert.equal(c.got[2]!.event, 'removed');
    assert.deepEqual(c.got[2]!.data.names, ['B']);
  });

  test('one diff serves every client; a client that left gets nothing, and with none left nothing runs', async () => {
    const { clock, feed, client, set, reads } = setup();
    const a = client();
    const b = client();
    await feed.attach(a);
    await feed.attach(b);
    assert.equal(reads(), 1, 'the second client\'s snapshot is the first diff\'s rows');
    set([row('A', { status: 'Failed' }), row('B')]);
    feed.poke();
    await clock.advanceAsync(500);
    assert.equal(reads(), 2, 'one read for both clients');
    assert.deepEqual(a.got.slice(1), b.got.slice(1));
    assert.equal(a.got.length, 2);

    feed.detach(a);
    set([row('A', { status: 'Ready' }), row('B')]);
    feed.poke();
    await clock.advanceAsync(500);
    assert.equal(a.got.length, 2);
    assert.equal(b.got.length, 3);
    feed.detach(b);
    feed.poke();
    await clock.advanceAsync(5000);
    assert.equal(reads(), 3);
    assert.equal(clock.pending(), 0);
  });
});
