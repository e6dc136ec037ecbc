import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../../src/core/clock.js';
import { SessionStore } from '../../../src/storage/sessions.js';
import { SessionRecorder } from '../../../src/supervisor/sessions/session-recorder.js';
import { parseGoalState, type GoalState } from '../../../src/supervisor/goal/goal-state.js';
import { emptyRecord } from '../../../src/supervisor/lifecycle/record.js';
import { supersededResult } from '../../../src/supervisor/lifecycle/handler-actor.js';
import type { HandlerApplyResult } from '../../../src/supervisor/lifecycle/handler-actor.js';

const T0 = Date.UTC(2024, 4, 1, 12, 0, 0, 0);
const SHA = 'c'.repeat(64);

function goalDoc(etag: string): GoalState {
  const h = (name: string) => ({ name, version: '1.0', packages: [{ version: '1.0', sha256: SHA, uris: ['file:///pkgs/x.zip'] }] });
  return parseGoalState(JSON.stringify({ etag, handlers: [h('A'), h('B')] }), '/etc/ext/goal.json');
}

const reachedResult = (goal: GoalState, name: string): HandlerApplyResult => {
  const g = goal.handlers.find((h) => h.name === name)!;
  const record = emptyRecord(name);
  return { name, goal: g, reached: true, action: 'none', record, status: { status: 'Ready', code: 0, message: 'ok' }, operations: [], failure: null };
};

describe('overlapping sessions', () => {
  let root: string;
  let store: SessionStore;
  let clock: ManualClock;
  const errors: unknown[] = [];
  const onError = (err: unknown): void => { errors.push(err); };

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'session-overlap-'));
    store = new SessionStore(root);
    clock = new ManualClock(T0);
    errors.length = 0;
  });
  afterEach(async () => {
    assert.deepEqual(errors, [], 'no write failed');
    await rm(root, { recursive: true, force: true });
  });

  test('a session waits for each handler until it settles; superseded handlers end it as superseded, not failed', async () => {
    const one = goalDoc('one');
    const rec = await SessionRecorder.open(store, one, 'run', clock, onError);
    await rec.begin();
    assert.equal(rec.awaits('A'), true);
    assert.equal(rec.awaits('Z'), false, 'not in its goal');
    rec.settled('B');
    assert.equal(rec.awaits('B'), false, "B's later operations belong to a newer session");
    assert.equal(rec.names('B'), true);
    const a = supersededResult(one.handlers[0]!, emptyRecord('A'), { etag: 'three', source: '/etc/ext/goal.json' });
    const doc = await rec.finish({ source: one.source, etag: one.etag, startedAt: T0, endedAt: T0, ok: false, results: [a, reachedResult(one, 'B')] });
    assert.equal(doc.result, 'superseded');
    assert.deepEqual(doc.counts, { handlers: 2, reached: 1, failed: 0 });
    assert.equal(doc.handlers['A']!.action, 'superseded');
    assert.equal(doc.handlers['A']!.message, 'superseded by goal state etag three');
    assert.equal(rec.awaits('A'), false, 'a finished session waits for nothing');
  });

  test('after a crash, the sessions that overlapped the last one are marked interrupted too', async () => {
    const first = await SessionRecorder.open(store, goalDoc('one'), 'run', clock, onError);
    await first.begin();
    clock.advance(1000);
    const second = new SessionRecorder(store, goalDoc('two'), 'run', clock, onError, [first.id]);
    await second.begin();
    assert.deepEqual((await store.read(second.id))?.alongside, [first.id]);
    assert.equal((await store.last())?.id, second.id);
    // The daemon is killed with both running; the restarted one applies goal two again: it continues that session.
    clock.advance(1000);
    const resumed = await SessionRecorder.open(store, goalDoc('two'), 'run', clock, onError);
    assert.equal(resumed.id, second.id);
    assert.equal((await store.read(first.id))?.result, 'interrupted');
    // Not finished by this run either: a third start with another goal marks it interrupted and begins anew.
    const third = await SessionRecorder.open(store, goalDoc('three'), 'run', clock, onError);
    assert.notEqual(third.id, second.id);
    assert.equal((await store.read(second.id))?.result, 'interrupted');
  });
});
