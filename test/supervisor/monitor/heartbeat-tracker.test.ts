import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_SETTLE_MS, HeartbeatTracker, assessStaleness, sameView, type FileStamp, type HeartbeatRead,
} from '../../../src/supervisor/monitor/heartbeat-tracker.js';
import { parseHeartbeat } from '../../../src/protocol/heartbeat.js';

const T0 = 1_700_000_000_000;
const FILE = '/lib/Contoso.Monitor-1.2/heartbeat.log';
const TIMEOUT = 10_000;

const good = (status = 'ready', message = 'all fine'): string =>
  JSON.stringify([{ heartbeat: { status, code: 0, formattedMessage: { lang: 'en-US', message } } }]);
const stamp = (mtimeMs: number, size = 80, ino = 7): FileStamp => ({ mtimeMs, size, ino });
const read = (mtimeMs: number, text = good(), ino = 7): HeartbeatRead =>
  ({ kind: 'read', stamp: stamp(mtimeMs, text.length, ino), result: parseHeartbeat(text, FILE) });
const tracker = (enabledAt: number | null = T0, now = T0): HeartbeatTracker =>
  new HeartbeatTracker({ file: FILE, timeoutMs: TIMEOUT, enabledAt }, now);

describe('assessStaleness: age = now - max(written, graceStart); stale iff age > timeout', () => {
  test('both sides of the boundary, and the first instant it flips is the check time', () => {
    const base = { timeoutMs: TIMEOUT, graceStart: T0 - 60_000 };
    assert.deepEqual(assessStaleness({ ...base, writtenAt: T0, now: T0 + TIMEOUT }), { state: 'fresh', ageMs: TIMEOUT, checkAt: T0 + TIMEOUT + 1 });
    assert.equal(assessStaleness({ ...base, writtenAt: T0, now: T0 + TIMEOUT + 1 }).state, 'stale');
    assert.equal(assessStaleness({ ...base, writtenAt: T0, now: T0 + 1 }).state, 'fresh');
  });

  test('an mtime in the future is young (negative age), one in the past is old', () => {
    const base = { timeoutMs: TIMEOUT, graceStart: T0 - 2 * 3_600_000, now: T0 };
    const future = assessStaleness({ ...base, writtenAt: T0 + 3_600_000 });
    assert.equal(future.state, 'fresh');
    assert.ok(future.ageMs < 0);
    const past = assessStaleness({ ...base, writtenAt: T0 - 3_600_000 });
    assert.equal(past.state, 'stale');
    assert.equal(past.ageMs, 3_600_000);
    assert.equal(past.checkAt, T0 + TIMEOUT, 'once stale, re-checked slowly (every timeout), not every second');
    const tiny = assessStaleness({ timeoutMs: 5, graceStart: T0 - 100, writtenAt: T0 - 100, now: T0 });
    assert.equal(tiny.checkAt, T0 + 1000, 'never faster than once a second, whatever the timeout');
  });

  test('no file: missing until timeout after the grace start, then stale', () => {
    assert.deepEqual(assessStaleness({ timeoutMs: TIMEOUT, graceStart: T0, writtenAt: null, now: T0 + 5000 }),
      { state: 'missing', ageMs: 5000, checkAt: T0 + TIMEOUT + 1 });
    assert.equal(assessStaleness({ timeoutMs: TIMEOUT, graceStart: T0, writtenAt: null, now: T0 + TIMEOUT + 1 }).state, 'stale');
  });

  test('an old file counts from the grace start (an enable gets a full timeout)', () => {
    const s = assessStaleness({ timeoutMs: TIMEOUT, graceStart: T0, writtenAt: T0 - 3_600_000, now: T0 + 1000 });
    assert.equal(s.state, 'fresh');
    assert.equal(s.checkAt, T0 + TIMEOUT + 1);
  });
});

describe('HeartbeatTracker', () => {
  test('fresh, then silent rewrites of the same content, then stale exactly after the timeout', () => {
    const t = tracker();
    const first = t.afterRead(read(T0), T0);
    assert.deepEqual(first.emit, { state: 'fresh', heartbeat: { status: 'ready', code: 0, message: 'all fine' }, mtimeMs: T0, problem: null });
    assert.equal(first.checkAt, T0 + DEFAULT_SETTLE_MS, 'a settle check follows the first read (the OS watch may not be live yet)');
    const settled = t.afterUnchanged(T0 + DEFAULT_SETTLE_MS);
    assert.equal(settled.emit, null);
    assert.equal(settled.checkAt, T0 + TIMEOUT + 1);
    for (let i = 1; i <= 5; i++) {
      const d = t.afterRead(read(T0 + i * 2000), T0 + i * 2000);
      assert.equal(d.emit, null, 'same content: no event');
      assert.equal(d.checkAt, T0 + i * 2000 + TIMEOUT + 1, 'a later good read needs no second look: the next write is an event');
    }
    assert.equal(t.current?.mtimeMs, T0 + 10_000, 'the newest mtime is still known');
    const last = T0 + 10_000;
    assert.equal(t.afterUnchanged(last + TIMEOUT).emit, null, 'age == timeout is not stale');
    const stale = t.afterUnchanged(last + TIMEOUT + 1);
    assert.equal(stale.emit?.state, 'stale');
    assert.match(stale.emit?.problem ?? '', /not written for more than 10 s \(last write /);
    assert.equal(stale.checkAt, last + 2 * TIMEOUT + 1);
    assert.equal(t.afterUnchanged(last + 2 * TIMEOUT + 1).emit, null, 'still stale: no repeat');
    const back = t.afterRead(read(last + 30_000), last + 30_000);
    assert.equal(back.emit?.state, 'fresh', 'recovers on the next write');
  });

  test('a content change is reported even while fresh', () => {
    const t = tracker();
    t.afterRead(read(T0), T0);
    const changed = t.afterRead(read(T0 + 1000, good('notready', 'warming up')), T0 + 1000);
    assert.deepEqual(changed.emit?.heartbeat, { status: 'notready', code: 0, message: 'warming up' });
  });

  test('never written: missing, then stale timeout after the enable', () => {
    const t = tracker(T0 - 2000, T0);
    const m = t.afterRead({ kind: 'absent' }, T0);
    assert.equal(m.emit?.state, 'missing');
    assert.equal(m.checkAt, T0 - 2000 + TIMEOUT + 1);
    assert.equal(t.afterUnchanged(m.checkAt).emit?.state, 'stale');
    assert.match(t.reported?.problem ?? '', /not written within 10 s of enable/);
  });

  test('malformed is reported only once a settle check finds the file unchanged (a half-written file is no news)', () => {
    const t = tracker();
    t.afterRead(read(T0), T0);
    const half = t.afterRead(read(T0 + 1000, ''), T0 + 1000);
    assert.equal(half.emit, null);
    assert.equal(half.checkAt, T0 + 1000 + DEFAULT_SETTLE_MS);
    assert.equal(t.needsRead(stamp(T0 + 1001, 80)), true, 'the write finished: read again');
    assert.equal(t.afterRead(read(T0 + 1001), T0 + 1000 + DEFAULT_SETTLE_MS).emit, null, 'same content as reported: nothing to say');
    const bad = t.afterRead(read(T0 + 2000, '{"heartbeat":'), T0 + 2000);
    assert.equal(bad.emit, null);
    const confirmed = t.afterUnchanged(T0 + 2000 + DEFAULT_SETTLE_MS);
    assert.equal(confirmed.emit?.state, 'malformed');
    assert.match(confirmed.emit?.problem ?? '', /not valid JSON/);
  });

  test('an unreadable file is malformed at once and re-checked slowly', () => {
    const t = tracker();
    const d = t.afterRead({ kind: 'unreadable', problem: 'cannot open x: EACCES' }, T0);
    assert.equal(d.emit?.state, 'malformed');
    assert.equal(d.checkAt, T0 + TIMEOUT);
  });

  test('an mtime in the future counts from when it was first seen, so the handler still goes stale', () => {
    const t = tracker(T0 - 3_600_000, T0);
    assert.equal(t.afterRead(read(T0 + 3_600_000), T0).emit?.state, 'fresh');
    assert.equal(t.afterRead(read(T0 + 3_600_000), T0 + 5000).emit, null, 'the same write seen again keeps its first-seen time');
    assert.equal(t.afterUnchanged(T0 + TIMEOUT).emit, null);
    assert.equal(t.afterUnchanged(T0 + TIMEOUT + 1).emit?.state, 'stale');
  });

  test('an mtime in the past is stale at once when the enable is old too', () => {
    const t = tracker(T0 - 2 * 3_600_000, T0);
    assert.equal(t.afterRead(read(T0 - 3_600_000), T0).emit?.state, 'stale');
  });

  test('a new enable (spec) or a restart gives a full timeout again', () => {
    const t = tracker(T0 - 3_600_000, T0);
    assert.equal(t.afterRead(read(T0 - 3_600_000), T0).emit?.state, 'stale');
    t.updateSpec({ file: FILE, timeoutMs: TIMEOUT, enabledAt: T0 + 100 }, T0 + 100);
    const again = t.afterUnchanged(T0 + 100);
    assert.equal(again.emit?.state, 'fresh');
    assert.equal(again.checkAt, T0 + 100 + TIMEOUT + 1);
    assert.equal(t.afterUnchanged(T0 + 100 + TIMEOUT + 1).emit?.state, 'stale');
    t.restarted(T0 + 20_000);
    assert.equal(t.afterUnchanged(T0 + 20_000).emit?.state, 'fresh');
    assert.equal(t.afterUnchanged(T0 + 20_000 + TIMEOUT + 1).emit?.state, 'stale');
  });

  test('needsRead compares mtime, size and inode with the last read', () => {
    const t = tracker();
    assert.equal(t.needsRead(stamp(T0)), true, 'nothing read yet');
    t.afterRead(read(T0, good(), 7), T0);
    const size = good().length;
    assert.equal(t.needsRead(stamp(T0, size, 7)), false);
    assert.equal(t.needsRead(stamp(T0, size, 8)), true, 'renamed onto: another inode');
    assert.equal(t.needsRead(stamp(T0, size + 1, 7)), true);
    assert.equal(t.needsRead(null), true, 'removed');
    t.afterRead({ kind: 'absent' }, T0 + 1);
    assert.equal(t.needsRead(null), false);
  });
});

test('sameView ignores the mtime alone', () => {
  const v = { state: 'fresh' as const, heartbeat: { status: 'ready', code: 0, message: 'm' }, mtimeMs: 1, problem: null };
  assert.equal(sameView(v, { ...v, mtimeMs: 2 }), true);
  assert.equal(sameView(v, { ...v, heartbeat: { ...v.heartbeat, code: 1 } }), false);
  assert.equal(sameView(v, { ...v, state: 'stale' }), false);
  assert.equal(sameView(null, v), false);
  assert.equal(sameView(null, null), true);
});
