import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readlink, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../../src/core/clock.js';
import { LAST_SESSION, SessionStore, type SessionDoc } from '../../../src/storage/sessions.js';
import { SessionRecorder, checkpointDelayMs } from '../../../src/supervisor/sessions/session-recorder.js';
import { operationFromSession, sessionEvents } from '../../../src/supervisor/sessions/session-replay.js';
import { parseGoalState, type GoalState, type HandlerGoal } from '../../../src/supervisor/goal/goal-state.js';
import { emptyRecord, transition } from '../../../src/supervisor/lifecycle/record.js';
import type { ApplySummary } from '../../../src/supervisor/lifecycle/fleet.js';
import type { HandlerApplyResult } from '../../../src/supervisor/lifecycle/handler-actor.js';
import type { LifecycleStatus, OperationResult } from '../../../src/supervisor/lifecycle/events.js';
import type { MonitorEvent } from '../../../src/supervisor/monitor/types.js';

const T0 = Date.UTC(2024, 4, 1, 12, 0, 0, 0);
const iso = (ms: number): string => new Date(ms).toISOString();
const SHA = 'b'.repeat(64);

/** The real store, counting whole writes so a test can wait for the Nth instead of sleeping. */
class CountingStore extends SessionStore {
  readonly writes: SessionDoc[] = [];
  #waiters: Array<{ n: number; resolve: () => void }> = [];

  /** Every write ends here (write() serialises, then calls it; the recorder calls it directly). */
  override async writeText(id: string, json: string, first?: false): Promise<void> {
    await super.writeText(id, json, first);
    this.writes.push(JSON.parse(json) as SessionDoc);
    this.#waiters = this.#waiters.filter((w) => (this.writes.length >= w.n ? (w.resolve(), false) : true));
  }

  until(n: number): Promise<void> {
    if (this.writes.length >= n) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ n, resolve }));
  }
}

function goalDoc(etag: string | null = 'e1'): GoalState {
  const pkg = (v: string) => [{ version: v, sha256: SHA, uris: ['file:///pkgs/x.zip'] }];
  return parseGoalState(JSON.stringify({ etag, handlers: [
    { name: 'A', version: '1.0', packages: pkg('1.0'), extensions: [{ sequenceNumber: 1, publicSettings: { a: 1 } }] },
    { name: 'B', version: '2.0', state: 'disabled', packages: pkg('2.0'),
      extensions: [{ sequenceNumber: 4, publicSettings: { b: 2 }, protectedSettings: 'c2VjcmV0IQ==', protectedSettingsCertThumbprint: 'ABCDEF' }] },
  ] }), '/etc/ext/goal.json');
}

const started = (handler: string, op: OperationResult['op'], at: number, extension: string | null = null): MonitorEvent =>
  ({ type: 'operationStarted', handler, op, version: '1.0', extension, startedAt: at, pid: 1234 });

function opResult(op: OperationResult['op'], startedAt: number, endedAt: number, over: Partial<OperationResult> = {}): OperationResult {
  return { op, version: '1.0', extension: null, result: 'succeeded', exitCode: 0, signal: null, code: 0, message: `${op} succeeded`,
    startedAt, endedAt, pids: [1234], unkillable: [], ...over };
}
const ended = (handler: string, result: OperationResult): MonitorEvent => ({ type: 'operationEnded', handler, result });

function applyResult(goal: HandlerGoal, reached: boolean, status: LifecycleStatus, action: HandlerApplyResult['action']): HandlerApplyResult {
  const installed = transition(emptyRecord(goal.name), { type: 'installed', version: goal.version, form: 'command' });
  const record = goal.state === 'enabled' && reached ? transition(installed, { type: 'enabled', extensions: {}, at: T0 }) : installed;
  return { name: goal.name, goal, reached, action, record, status, operations: [], failure: null };
}

describe('SessionRecorder', () => {
  let root: string;
  let store: CountingStore;
  let clock: ManualClock;
  let errors: unknown[];
  const onError = (err: unknown): void => { errors.push(err); };
  const onDisk = async (id: string): Promise<SessionDoc> => JSON.parse(await readFile(join(root, 'sessions', id, 'session'), 'utf8')) as SessionDoc;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'session-recorder-'));
    store = new CountingStore(root);
    clock = new ManualClock(T0);
    errors = [];
  });
  afterEach(async () => {
    assert.deepEqual(errors, [], 'no write failed');
    await rm(root, { recursive: true, force: true });
  });

  test('begin writes a running session naming every handler, and a goal copy without protected settings', async () => {
    const goal = goalDoc();
    const rec = await SessionRecorder.open(store, goal, 'run', clock, onError);
    await rec.begin();
    assert.equal(store.writes.length, 1);
    const doc = await onDisk(rec.id);
    assert.equal(doc.id, rec.id);
    assert.ok(rec.id.startsWith('20240501T120000000Z-'), 'the id is the injected clock time');
    assert.deepEqual({ ...doc, id: 'x' }, {
      schema: 1, id: 'x', kind: 'run', source: '/etc/ext/goal.json', etag: 'e1', startedAt: iso(T0), endedAt: null, result: 'running',
      handlers: {
        A: { desiredState: 'enabled', version: '1.0', action: null, reached: null, status: null, code: null, message: null, operations: [] },
        B: { desiredState: 'disabled', version: '2.0', action: null, reached: null, status: null, code: null, message: null, operations: [] },
      },
      counts: { handlers: 2, reached: 0, failed: 0 },
    });
    const copyText = await store.readGoalText(rec.id);
    assert.ok(copyText);
    assert.doesNotMatch(copyText, /c2VjcmV0IQ|ABCDEF/, 'protected settings stay only in the handler settings files');
    const copy = JSON.parse(copyText) as { etag: string; handlers: HandlerGoal[] };
    assert.equal(copy.etag, 'e1');
    assert.deepEqual(copy.handlers.map((h) => h.name), ['A', 'B']);
    assert.deepEqual(copy.handlers[1]!.extensions[0], { name: 'default', sequenceNumber: 4, publicSettings: { b: 2 },
      protectedSettings: null, protectedSettingsCertThumbprint: null });
    // The copy parses as a goal state again: a restarted supervisor can finish the session from it.
    assert.deepEqual(parseGoalState(copyText, 'copy').handlers.map((h) => h.version), ['1.0', '2.0']);
  });

  test('operations are checkpointed once CHECKPOINT_MS (500) has passed on the clock, coalesced into one write', async () => {
    const rec = await SessionRecorder.open(store, goalDoc(), 'apply', clock, onError);
    await rec.begin();
    rec.onEvent(started('A', 'fetch', T0));
    assert.equal(clock.pending(), 1, 'one checkpoint timer');
    await clock.advanceAsync(100);
    rec.onEvent(ended('A', opResult('fetch', T0, T0 + 100)));
    rec.onEvent(started('A', 'install', T0 + 100));
    assert.equal(clock.pending(), 1, 'still the one timer: events within the interval share a write');
    await clock.advanceAsync(399);
    assert.equal(store.writes.length, 1, 'nothing written before 500 ms');
    assert.deepEqual((await onDisk(rec.id)).handlers['A']!.operations, []);
    await clock.advanceAsync(1);
    await store.until(2);
    assert.equal(clock.pending(), 0);
    assert.deepEqual((await onDisk(rec.id)).handlers['A']!.operations, [
      { name: 'fetch', version: '1.0', extension: null, result: 'succeeded', exitCode: 0, code: 0, startedAt: iso(T0), endedAt: iso(T0 + 100) },
      { name: 'install', version: '1.0', extension: null, result: 'running', exitCode: null, code: 0, startedAt: iso(T0 + 100), endedAt: null },
    ]);
    await clock.advanceAsync(10_000);
    assert.equal(store.writes.length, 2, 'no event, no timer, no write');
  });

  test('a large session is checkpointed less often: 1 ms per KB of its last write, at least 500 ms', () => {
    assert.equal(checkpointDelayMs(0), 500);
    assert.equal(checkpointDelayMs(200_000), 500, '200 KB (a few hundred handlers): the usual 500 ms');
    assert.equal(checkpointDelayMs(2_000_000), 2000, '2 MB (about 5000 handlers): every 2 s');
  });

  test('an end replaces its running start (per extension); an end without a start is appended', async () => {
    const rec = await SessionRecorder.open(store, goalDoc(), 'apply', clock, onError);
    await rec.begin();
    rec.onEvent(started('A', 'enable', T0, 'one'));
    rec.onEvent(started('A', 'enable', T0, 'two'));
    rec.onEvent(ended('A', opResult('enable', T0, T0 + 50, { extension: 'two', result: 'failed', exitCode: 3, code: 1009 })));
    rec.onEvent(ended('B', opResult('disable', T0, T0 + 60)));
    await clock.advanceAsync(500);
    await store.until(2);
    const doc = await onDisk(rec.id);
    assert.deepEqual(doc.handlers['A']!.operations.map((o) => `${o.name}:${o.extension}:${o.result}:${o.exitCode}:${o.code}`),
      ['enable:one:running:null:0', 'enable:two:failed:3:1009']);
    assert.deepEqual(doc.handlers['B']!.operations.map((o) => `${o.name}:${o.result}:${o.endedAt}`), [`disable:succeeded:${iso(T0 + 60)}`]);
  });

  test('events of other kinds or of handlers outside the goal arm no timer and are not recorded', async () => {
    const rec = await SessionRecorder.open(store, goalDoc(), 'apply', clock, onError);
    await rec.begin();
    rec.onEvent({ type: 'watch', handler: 'A', spec: null });
    rec.onEvent({ type: 'recordChanged', handler: 'A', record: emptyRecord('A') });
    rec.onEvent(started('Stranger', 'install', T0));
    assert.equal(clock.pending(), 0);
    const doc = await rec.finish(null, true);
    assert.deepEqual(Object.keys(doc.handlers), ['A', 'B']);
    assert.deepEqual(doc.handlers['A']!.operations, []);
  });

  test("finish writes every handler's outcome, the counts and the result, at once (the pending checkpoint is dropped)", async () => {
    const goal = goalDoc();
    const rec = await SessionRecorder.open(store, goal, 'apply', clock, onError);
    await rec.begin();
    rec.onEvent(started('A', 'enable', T0));
    rec.onEvent(ended('A', opResult('enable', T0, T0 + 20, { result: 'failed', exitCode: 1, code: 1009 })));
    assert.equal(clock.pending(), 1);
    await clock.advanceAsync(200);
    const summary: ApplySummary = { source: goal.source, etag: goal.etag, startedAt: T0, endedAt: T0 + 200, ok: false, results: [
      applyResult(goal.handlers[0]!, false, { status: 'Failed', code: 1009, message: 'enable failed with exit code 1' }, 'install'),
      applyResult(goal.handlers[1]!, true, { status: 'NotReady', code: 0, message: 'Plugin disabled' }, 'none'),
    ] };
    const doc = await rec.finish(summary);
    assert.equal(clock.pending(), 0, 'the checkpoint timer was cleared');
    assert.equal(store.writes.length, 2, 'begin and finish, nothing between');
    assert.deepEqual(await onDisk(rec.id), doc);
    assert.equal(doc.result, 'failed');
    assert.equal(doc.endedAt, iso(T0 + 200));
    assert.deepEqual(doc.counts, { handlers: 2, reached: 1, failed: 1 });
    const a = doc.handlers['A']!;
    assert.deepEqual({ ...a, operations: a.operations.length }, { desiredState: 'enabled', version: '1.0', action: 'install', reached: false,
      status: 'Failed', code: 1009, message: 'enable failed with exit code 1', operations: 1 });
    assert.equal(doc.handlers['B']!.status, 'NotReady');
    // After the end, nothing more is recorded.
    rec.onEvent(started('A', 'disable', T0 + 300));
    assert.equal(clock.pending(), 0);
  });

  test('finish: all reached is succeeded; interrupted wins; no summary at all is failed', async () => {
    const goal = goalDoc();
    const ok: ApplySummary = { source: goal.source, etag: goal.etag, startedAt: T0, endedAt: T0, ok: true,
      results: goal.handlers.map((h) => applyResult(h, true, { status: 'Ready', code: 0, message: 'Plugin enabled' }, 'none')) };
    const outcomes: string[] = [];
    for (const [summary, interrupted] of [[ok, false], [ok, true], [null, false], [null, true]] as const) {
      const rec = new SessionRecorder(store, goal, 'apply', clock, onError);
      await rec.begin();
      const doc = await rec.finish(summary, interrupted);
      outcomes.push(`${doc.result} ${doc.counts.reached}/${doc.counts.failed}`);
      clock.advance(1);
    }
    assert.deepEqual(outcomes, ['succeeded 2/0', 'interrupted 2/0', 'failed 0/0', 'interrupted 0/0']);
  });

  test('after a crash, the same document resumes its unfinished session; another one marks it interrupted', async () => {
    const first = await SessionRecorder.open(store, goalDoc('e1'), 'run', clock, onError);
    await first.begin();
    first.onEvent(started('A', 'install', T0));
    first.onEvent(ended('A', opResult('install', T0, T0 + 10)));
    await clock.advanceAsync(500);
    await store.until(2);
    // The supervisor dies here: the session stays "running". It starts again a minute later.
    await clock.advanceAsync(60_000);
    const again = await SessionRecorder.open(store, goalDoc('e1'), 'run', clock, onError);
    assert.equal(again.id, first.id, 'the same session goes on');
    await again.begin();
    const resumed = await onDisk(first.id);
    assert.deepEqual(resumed.resumedAt, [iso(T0 + 60_500)]);
    assert.equal(resumed.startedAt, iso(T0));
    assert.deepEqual(resumed.handlers['A']!.operations.map((o) => `${o.name}:${o.result}`), ['install:succeeded'], 'what it did is kept');
    assert.deepEqual((await store.list()).map((d) => d.id), [first.id]);

    await clock.advanceAsync(1000);
    const other = await SessionRecorder.open(store, goalDoc('e2'), 'run', clock, onError);
    assert.notEqual(other.id, first.id);
    const old = await store.read(first.id);
    assert.equal(old?.result, 'interrupted');
    assert.equal(old?.endedAt, iso(T0 + 61_500));
    await other.begin();
    assert.equal((await store.last())?.id, other.id);
  });

  test('a session resumed after a crash that came before its last-session link points the link at itself', async () => {
    const first = await SessionRecorder.open(store, goalDoc('e1'), 'run', clock, onError);
    await first.begin();
    await unlink(join(root, 'sessions', LAST_SESSION)); // the crash: its file written, the link not yet made
    await clock.advanceAsync(60_000);
    const again = await SessionRecorder.open(store, goalDoc('e1'), 'run', clock, onError);
    assert.equal(again.id, first.id, 'the same session goes on');
    assert.equal(await readlink(join(root, 'sessions', LAST_SESSION)), first.id);
    await again.begin();
    assert.equal((await readFile(join(root, 'sessions', LAST_SESSION, 'session'), 'utf8')).includes(first.id), true);
  });

  test('a finished last session is left alone; a different kind starts a new session', async () => {
    const done = new SessionRecorder(store, goalDoc('e1'), 'apply', clock, onError);
    await done.begin();
    await done.finish(null, false);
    clock.advance(1000);
    const next = await SessionRecorder.open(store, goalDoc('e1'), 'apply', clock, onError);
    assert.notEqual(next.id, done.id);
    assert.equal((await store.read(done.id))?.result, 'failed');

    const running = new SessionRecorder(store, goalDoc('e1'), 'apply', clock, onError);
    await running.begin();
    clock.advance(1000);
    const run = await SessionRecorder.open(store, goalDoc('e1'), 'run', clock, onError);
    assert.notEqual(run.id, running.id);
    assert.equal((await store.read(running.id))?.result, 'interrupted');
  });

  test('a write that fails is handed to onError; the application itself goes on', async () => {
    const blocked = join(root, 'not-a-dir');
    await writeFile(blocked, 'a file where the lib dir should be');
    const bad = new CountingStore(blocked);
    const seen: unknown[] = [];
    const rec = await SessionRecorder.open(bad, goalDoc(), 'apply', clock, (err) => seen.push(err));
    await rec.begin();
    rec.onEvent(started('A', 'install', T0));
    await clock.advanceAsync(500);
    const doc = await rec.finish(null, false);
    assert.equal(doc.result, 'failed');
    assert.ok(seen.length >= 2, `goal copy and session writes reported (${seen.length})`);
    for (const err of seen) assert.match((err as Error).message, /not-a-dir/);
  });
});

describe('session replay', () => {
  test('every recorded operation becomes an operationEnded event, handler by handler, in order', () => {
    const doc: SessionDoc = { schema: 1, id: 'x', kind: 'run', source: 's', etag: null, startedAt: iso(T0), endedAt: null, result: 'running',
      counts: { handlers: 2, reached: 0, failed: 0 }, handlers: {
        A: { desiredState: 'enabled', version: '1.0', action: null, reached: null, status: null, code: null, message: null, operations: [
          { name: 'install', version: '1.0', extension: null, result: 'succeeded', exitCode: 0, code: 0, startedAt: iso(T0), endedAt: iso(T0 + 5) },
          { name: 'enable', version: '1.0', extension: 'e1', result: 'running', exitCode: null, code: 0, startedAt: iso(T0 + 5), endedAt: null },
        ] },
        B: { desiredState: 'disabled', version: '2.0', action: null, reached: null, status: null, code: null, message: null, operations: [
          { name: 'disable', version: '2.0', extension: null, result: 'timedOut', exitCode: null, code: 1011, startedAt: iso(T0), endedAt: iso(T0 + 9) },
        ] },
      } };
    const events = sessionEvents(doc);
    assert.deepEqual(events.map((e) => `${e.handler} ${e.result.op} ${e.result.result}`), ['A install succeeded', 'A enable failed', 'B disable timedOut']);
    assert.deepEqual(events[0]!.result, { op: 'install', version: '1.0', extension: null, result: 'succeeded', exitCode: 0, signal: null, code: 0,
      message: '', startedAt: T0, endedAt: T0 + 5, pids: [], unkillable: [] });
    assert.equal(events[2]!.result.code, 1011);
  });

  test('an operation still running when the supervisor stopped replays as failed, interrupted, ending when it started', () => {
    const r = operationFromSession({ name: 'enable', version: '1.0', extension: null, result: 'running', exitCode: null, code: 0,
      startedAt: iso(T0), endedAt: null });
    assert.equal(r.result, 'failed');
    assert.equal(r.message, 'interrupted: the supervisor stopped while it ran');
    assert.equal(r.endedAt, T0);
  });

  test('no session replays nothing', () => {
    assert.deepEqual(sessionEvents(null), []);
  });
});
