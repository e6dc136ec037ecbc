import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ActorSystem, type ActorRef } from '../../../src/actors/actor.js';
import { ManualClock, systemClock, type Clock, type TimerId } from '../../../src/core/clock.js';
import { HeartbeatActor, readHeartbeatNow, type HeartbeatMessage, type ParsedContent } from '../../../src/supervisor/monitor/heartbeat-actor.js';
import { FolderWatcher } from '../../../src/supervisor/monitor/folder-watcher.js';
import { DEFAULT_SETTLE_MS, type HeartbeatView } from '../../../src/supervisor/monitor/heartbeat-tracker.js';
import { restartPolicy, type RestartPolicy } from '../../../src/supervisor/monitor/restart-policy.js';
import type { MonitorEvent, WatchSpec } from '../../../src/supervisor/monitor/types.js';
import type { RestartRequest } from '../../../src/supervisor/lifecycle/events.js';
import type { HandlerFiles } from '../../../src/supervisor/monitor/handler-files.js';
import { restartBookFiles } from '../../../src/supervisor/monitor/persisted.js';
import type { RestartBookState } from '../../../src/supervisor/monitor/restart-policy.js';

type HeartbeatEvent = Extract<MonitorEvent, { type: 'heartbeat' }>;
type RestartEvent = Extract<MonitorEvent, { type: 'restart' }>;
interface Seen { readonly event: MonitorEvent; readonly at: number }

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const HOUR = 3_600_000;
const body = (status = 'ready', message = 'ok'): string =>
  JSON.stringify([{ heartbeat: { status, code: 0, formattedMessage: { lang: 'en-US', message } } }]);

/** Every event the actor emitted, with its time on the actor's clock; waits for the next one matching. */
class Events {
  readonly list: Seen[] = [];
  #wake: (() => void)[] = [];
  constructor(private readonly clock: Clock) {}
  readonly emit = (event: MonitorEvent): void => {
    this.list.push({ event, at: this.clock.now() });
    for (const w of this.#wake.splice(0)) w();
  };

  heartbeats(handler: string): HeartbeatEvent[] {
    return this.list.map((s) => s.event).filter((e): e is HeartbeatEvent => e.type === 'heartbeat' && e.handler === handler);
  }

  restarts(handler: string): RestartEvent[] {
    return this.list.map((s) => s.event).filter((e): e is RestartEvent => e.type === 'restart' && e.handler === handler);
  }

  /** The first event at index >= from that matches; rejects after `ms`, listing what was seen. */
  async waitFor(pred: (e: MonitorEvent) => boolean, what: string, from = 0, ms = 10_000): Promise<Seen & { index: number }> {
    const deadline = Date.now() + ms;
    for (;;) {
      const index = this.list.findIndex((s, i) => i >= from && pred(s.event));
      if (index >= 0) return { ...this.list[index]!, index };
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${what} within ${ms} ms; saw ${JSON.stringify(this.list.map((s) => s.event))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#wake.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }
}

const heartbeat = (handler: string, state: HeartbeatEvent['state']) => (e: MonitorEvent): boolean =>
  e.type === 'heartbeat' && e.handler === handler && e.state === state;
const restart = (handler: string, outcome: RestartEvent['outcome']) => (e: MonitorEvent): boolean =>
  e.type === 'restart' && e.handler === handler && e.outcome === outcome;

/** The real clock, counting the timers set on it and not yet fired or cleared. */
class CountedClock implements Clock {
  readonly #live = new Set<TimerId>();
  get live(): number { return this.#live.size; }
  now(): number { return systemClock.now(); }
  setTimeout(fn: () => void, ms: number): TimerId {
    const id: TimerId = systemClock.setTimeout(() => { this.#live.delete(id); fn(); }, ms);
    this.#live.add(id);
    return id;
  }
  clearTimeout(id: TimerId): void {
    this.#live.delete(id);
    systemClock.clearTimeout(id);
  }
}

/**
 * A manual clock an hour behind the files' real mtimes: a write then counts from when the
 * watchdog first saw it (a later mtime is never trusted), so every age is on this clock.
 */
const behindTheFiles = (): ManualClock => new ManualClock(Date.now() - HOUR);

/** Every heartbeat event of `handler` from index `from` on, by state. */
const statesSince = (events: Events, handler: string, from: number): string[] =>
  events.list.slice(from).map((s) => s.event).filter((e): e is HeartbeatEvent => e.type === 'heartbeat' && e.handler === handler).map((e) => e.state);

function watchSpec(dir: string, name: string, over: Partial<WatchSpec> = {}): WatchSpec {
  return {
    name, version: '1.0', form: 'command', dir, statusFolder: join(dir, 'status'), heartbeatFile: join(dir, 'heartbeat.log'),
    state: 'Enabled', reportHeartbeat: true, heartbeatTimeoutSec: 1, onUnresponsive: 'report',
    extensions: [], multiConfig: false, enabledAt: Date.now(), ...over,
  };
}

interface Rig {
  readonly root: string;
  readonly events: Events;
  readonly watcher: FolderWatcher;
  readonly system: ActorSystem;
  readonly ref: ActorRef<HeartbeatMessage>;
  handlerDir(name: string): Promise<string>;
  watch(name: string, over?: Partial<WatchSpec>): Promise<WatchSpec>;
  close(): Promise<void>;
}

interface RigOptions {
  clock?: Clock;
  policy?: RestartPolicy;
  /** What the fleet does when asked for a restart. */
  restart?: (h: string) => Promise<{ ok: boolean; message: string }>;
  /** Where restart books are kept (a restarted daemon reads them back). */
  books?: HandlerFiles<RestartBookState>;
}

async function rig(opts: RigOptions = {}): Promise<Rig> {
  const root = await mkdtemp(join(tmpdir(), 'heartbeat-actor-'));
  const clock = opts.clock ?? systemClock;
  const events = new Events(clock);
  const watcher = new FolderWatcher();
  const system = new ActorSystem({ clock });
  const restartFn = opts.restart ?? (async () => ({ ok: true, message: 'restarted' }));
  // The fleet's side of the conversation: a request in, a 'restartDone' message back.
  const fleet = { tell: (req: RestartRequest): void => {
    void Promise.resolve().then(() => restartFn(req.handler)).then((res) => req.replyTo.tell({ type: 'restartDone', handler: req.handler, ...res }));
  } };
  const ref = system.spawn('heartbeat', new HeartbeatActor({
    clock, watcher, emit: events.emit, policy: opts.policy, fleet,
    ...(opts.books ? { books: opts.books } : {}),
  }));
  if (opts.books) ref.tell({ type: 'restoreBooks', books: await opts.books.loadAll() });
  const handlerDir = async (name: string): Promise<string> => {
    const dir = join(root, `${name}-1.0`);
    await mkdir(dir, { recursive: true });
    return dir;
  };
  return {
    root, events, watcher, system, ref, handlerDir,
    async watch(name, over = {}) {
      const spec = watchSpec(await handlerDir(name), name, { enabledAt: clock.now(), ...over });
      ref.tell({ type: 'watch', handler: name, spec });
      return spec;
    },
    async close() {
      await system.stop();
      await watcher.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}

describe('HeartbeatActor with real files (timeout 1 s, injected clock)', () => {
  let r: Rig;
  let clock: ManualClock;
  before(async () => { clock = behindTheFiles(); r = await rig({ clock }); });
  after(async () => { await r.close(); });

  test('fresh; stale within timeout + 1 s of the last write; back on a plain write; back on a write by rename', async () => {
    const dir = await r.handlerDir('A');
    const file = join(dir, 'heartbeat.log');
    await writeFile(file, body('ready', 'first'));
    const written = clock.now(); // the clock stands still until the test moves it
    await r.watch('A');
    const fresh = await r.events.waitFor(heartbeat('A', 'fresh'), 'fresh');
    assert.deepEqual((fresh.event as HeartbeatEvent).heartbeat, { status: 'ready', code: 0, message: 'first' });
    await clock.advanceAsync(1000);
    await r.system.drain();
    assert.deepEqual(statesSince(r.events, 'A', fresh.index + 1), [], 'not stale at the timeout itself');
    await clock.advanceAsync(1000);
    const stale = await r.events.waitFor(heartbeat('A', 'stale'), 'stale', fresh.index);
    assert.ok(stale.at - written >= 1000, `stale ${stale.at - written} ms after the write: too early`);
    assert.ok(stale.at - written <= 2000, `stale ${stale.at - written} ms after the write: too late`);
    assert.match((stale.event as HeartbeatEvent).problem ?? '', /not written for more than 1 s/);

    const beforePlain = clock.now();
    await writeFile(file, body('ready', 'plain'));
    const back = await r.events.waitFor(heartbeat('A', 'fresh'), 'fresh after a plain write', stale.index);
    assert.equal((back.event as HeartbeatEvent).heartbeat?.message, 'plain');
    assert.equal(back.at, beforePlain, 'seen by its watch event, with no timer due');

    await clock.advanceAsync(2000);
    const stale2 = await r.events.waitFor(heartbeat('A', 'stale'), 'stale again', back.index);
    await writeFile(`${file}.tmp`, body('ready', 'renamed'));
    await rename(`${file}.tmp`, file);
    const renamed = await r.events.waitFor(heartbeat('A', 'fresh'), 'fresh after a rename', stale2.index);
    assert.equal((renamed.event as HeartbeatEvent).heartbeat?.message, 'renamed');
  });

  test('never written: missing at once, stale timeout after enabledAt', async () => {
    const spec = await r.watch('Never');
    const missing = await r.events.waitFor(heartbeat('Never', 'missing'), 'missing');
    assert.ok(missing.at - spec.enabledAt! < 1000);
    await clock.advanceAsync(1000);
    await r.system.drain();
    assert.deepEqual(statesSince(r.events, 'Never', missing.index + 1), [], 'not stale at the timeout itself');
    await clock.advanceAsync(1000);
    const stale = await r.events.waitFor(heartbeat('Never', 'stale'), 'stale', missing.index);
    const after = stale.at - spec.enabledAt!;
    assert.ok(after >= 1000 && after <= 2000, `stale ${after} ms after enable`);
    assert.match((stale.event as HeartbeatEvent).problem ?? '', /not written within 1 s of enable/);
  });

  test('malformed JSON makes that handler malformed; a second handler is unaffected', async () => {
    const [bad, good] = [await r.handlerDir('Bad'), await r.handlerDir('Good')];
    await writeFile(join(bad, 'heartbeat.log'), body());
    await writeFile(join(good, 'heartbeat.log'), body());
    const from = r.events.list.length;
    await r.watch('Bad');
    await r.watch('Good');
    await r.events.waitFor(heartbeat('Bad', 'fresh'), 'Bad fresh', from);
    await r.events.waitFor(heartbeat('Good', 'fresh'), 'Good fresh', from);
    const views = (): Promise<ReadonlyMap<string, HeartbeatView>> => r.ref.ask((reply) => ({ type: 'inspect', reply }));
    await writeFile(join(bad, 'heartbeat.log'), '[{"heartbeat": {"status": "ready",');
    await writeFile(join(good, 'heartbeat.log'), body()); // Good keeps writing meanwhile
    const goodMtime = (await stat(join(good, 'heartbeat.log'))).mtimeMs;
    // Read whole (a read between the truncate and the write would see an empty file, also malformed).
    await waitUntil(async () => (await views()).get('Bad')?.problem?.includes('not valid JSON') === true, 'the malformed write to be read');
    await clock.advanceAsync(DEFAULT_SETTLE_MS); // the settle check finds it unchanged: malformed, reported
    const m = await r.events.waitFor(heartbeat('Bad', 'malformed'), 'malformed', from);
    assert.match((m.event as HeartbeatEvent).problem ?? '', /heartbeat\.log is malformed: not valid JSON/);
    await writeFile(join(bad, 'heartbeat.log'), body('ready', 'fixed'));
    await r.events.waitFor(heartbeat('Bad', 'fresh'), 'Bad fresh again', m.index);
    await waitUntil(async () => (await views()).get('Good')?.mtimeMs === goodMtime, "Good's write to be read");
    await r.system.drain();
    assert.deepEqual(r.events.heartbeats('Good').map((e) => e.state), ['fresh']);
  });

  test('staleness direction: an mtime in the future is fresh, one in the past is stale (old enable) or gets the grace (new enable)', async () => {
    const now = clock.now();
    const hour = 3_600_000;
    for (const [name, mtime] of [['Future', now + hour], ['Past', now - hour], ['PastNewEnable', now - hour]] as const) {
      const file = join(await r.handlerDir(name), 'heartbeat.log');
      await writeFile(file, body());
      await utimes(file, mtime / 1000, mtime / 1000);
    }
    const from = r.events.list.length;
    await r.watch('Future', { enabledAt: now - 2 * hour });
    await r.watch('Past', { enabledAt: now - 2 * hour });
    await r.watch('PastNewEnable', { enabledAt: now });
    // "At once": with the clock standing still.
    await r.events.waitFor(heartbeat('Past', 'stale'), 'Past stale at once', from);
    await r.events.waitFor(heartbeat('Future', 'fresh'), 'Future fresh', from);
    const graced = await r.events.waitFor(heartbeat('PastNewEnable', 'fresh'), 'PastNewEnable fresh in its grace', from);
    assert.equal(r.events.heartbeats('Past')[0]?.state, 'stale', 'no fresh first: the old mtime is old');
    await clock.advanceAsync(1000);
    await r.system.drain();
    assert.deepEqual([...statesSince(r.events, 'PastNewEnable', from), ...statesSince(r.events, 'Future', from)], ['fresh', 'fresh'], 'none stale at the timeout itself');
    await clock.advanceAsync(1000);
    const stale = await r.events.waitFor(heartbeat('PastNewEnable', 'stale'), 'PastNewEnable stale after the grace', graced.index);
    assert.ok(stale.at - now >= 1000);
    // A future mtime counts from when it was first seen: without writes, it goes stale too (within timeout + 1 s).
    await r.events.waitFor(heartbeat('Future', 'stale'), 'Future stale after a timeout without writes', from);
  });

  test('paused (the supervisor is disabling it): never judged stale, no timer; the next watch spec judges it again', async () => {
    const file = join(await r.handlerDir('Paused'), 'heartbeat.log');
    await writeFile(file, body());
    const from = r.events.list.length;
    const spec = await r.watch('Paused');
    const fresh = await r.events.waitFor(heartbeat('Paused', 'fresh'), 'Paused fresh', from);
    const timers = clock.pending();
    r.ref.tell({ type: 'pause', handler: 'Paused' });
    await r.system.drain();
    assert.equal(clock.pending(), timers - 1, 'its timer is gone');
    await clock.advanceAsync(5000); // far past its 1 s timeout
    await r.system.drain();
    assert.deepEqual(statesSince(r.events, 'Paused', fresh.index + 1), [], 'nothing reported while paused');
    // The disable failed and the handler is still Enabled: the same spec again, watched again.
    // A new look: the write counts from when it is seen again (a full timeout), then it goes stale.
    r.ref.tell({ type: 'watch', handler: 'Paused', spec });
    const again = await r.events.waitFor(heartbeat('Paused', 'fresh'), 'Paused seen again', fresh.index + 1);
    await clock.advanceAsync(2000);
    await r.events.waitFor(heartbeat('Paused', 'stale'), 'Paused stale once watched again', again.index);
  });
});

describe('HeartbeatActor restarts', () => {
  test("onUnresponsive 'restart' calls the restart function (which rewrites the heartbeat) and gives up past the budget", async () => {
    const calls: number[] = [];
    let dir = '';
    const clock = new CountedClock();
    const r = await rig({
      clock,
      policy: restartPolicy({ maxRestarts: 2, windowMs: 60_000, initialDelayMs: 100, maxDelayMs: 1000 }),
      restart: async () => {
        calls.push(Date.now());
        await writeFile(join(dir, 'heartbeat.log'), body('ready', `restarted ${calls.length}`));
        return { ok: true, message: 'disable + enable succeeded' };
      },
    });
    try {
      dir = await r.handlerDir('Svc');
      await writeFile(join(dir, 'heartbeat.log'), body());
      await r.watch('Svc', { onUnresponsive: 'restart' });
      const gaveUp = await r.events.waitFor(restart('Svc', 'gaveUp'), 'give-up', 0, 6000);
      assert.equal((gaveUp.event as RestartEvent).message, 'restart budget exhausted: 2 restarts within 1 min; left alone');
      assert.deepEqual(r.events.restarts('Svc').map((e) => `${e.outcome}:${e.restarts}`),
        ['scheduled:0', 'started:1', 'succeeded:1', 'scheduled:1', 'started:2', 'succeeded:2', 'gaveUp:2']);
      assert.match(r.events.restarts('Svc')[3]?.message ?? '', /restart in 200 ms \(restart 2 of at most 2 within 1 min\)/);
      assert.equal(calls.length, 2);
      const messages = r.events.heartbeats('Svc').filter((e) => e.state === 'fresh').map((e) => e.heartbeat?.message);
      assert.deepEqual(messages, ['ok', 'restarted 1', 'restarted 2']);
      await r.system.drain();
      assert.equal(clock.live, 1, 'left alone after giving up: no restart is due, only the heartbeat deadline');
      assert.equal(calls.length, 2, 'left alone after giving up');
    } finally {
      await r.close();
    }
  });

  test('failed restarts count against the budget; a new enable lifts a give-up (injected clock)', async () => {
    const clock = new ManualClock(Date.now());
    let calls = 0;
    const r = await rig({
      clock,
      policy: restartPolicy({ maxRestarts: 2, windowMs: 60_000, initialDelayMs: 100, maxDelayMs: 1000 }),
      restart: async () => { calls++; return { ok: false, message: 'enable exited 1' }; },
    });
    try {
      await r.watch('Dead', { onUnresponsive: 'restart', enabledAt: clock.now() });
      await r.events.waitFor(heartbeat('Dead', 'missing'), 'missing');
      clock.advance(1001);
      await r.events.waitFor(restart('Dead', 'scheduled'), 'scheduled');
      clock.advance(100);
      const failed = await r.events.waitFor(restart('Dead', 'failed'), 'failed');
      const second = await r.events.waitFor(restart('Dead', 'scheduled'), 'second schedule', failed.index);
      assert.match((second.event as RestartEvent).message, /restart in 200 ms/);
      clock.advance(199);
      await r.system.drain();
      assert.equal(calls, 1, 'backoff not over yet');
      clock.advance(1);
      await r.events.waitFor(restart('Dead', 'gaveUp'), 'give-up');
      assert.equal(calls, 2);
      assert.equal(clock.pending(), 1, 'only the heartbeat timer is left');
      for (let i = 0; i < 5; i++) {
        clock.advance(1000);
        await r.system.drain();
      }
      assert.equal(calls, 2);
      assert.deepEqual(r.events.restarts('Dead').map((e) => e.outcome), ['scheduled', 'started', 'failed', 'scheduled', 'started', 'failed', 'gaveUp']);

      const from = r.events.list.length;
      await r.watch('Dead', { onUnresponsive: 'restart', enabledAt: clock.now() });
      await r.events.waitFor(heartbeat('Dead', 'missing'), 'missing after the new enable', from);
      clock.advance(1001);
      const again = await r.events.waitFor(restart('Dead', 'scheduled'), 'scheduled after the new enable', from);
      assert.equal((again.event as RestartEvent).restarts, 2, 'the count of restarts done so far stays visible');
      assert.match((again.event as RestartEvent).message, /restart in 100 ms/);
    } finally {
      await r.close();
    }
    assert.equal(clock.pending(), 0, 'stop cleared every timer');
  });
});

describe('HeartbeatActor restart books', () => {
  test('a restarted watchdog goes on with the budget on disk; a give-up holds for the same enable, a new enable lifts it', async () => {
    const clock = new ManualClock(Date.now());
    const lib = await mkdtemp(join(tmpdir(), 'heartbeat-books-'));
    const books = restartBookFiles(lib);
    const policy = restartPolicy({ maxRestarts: 2, windowMs: 60_000, initialDelayMs: 100, maxDelayMs: 1000 });
    const enabledAt = clock.now();
    let calls = 0;
    const failing = async (): Promise<{ ok: boolean; message: string }> => { calls++; return { ok: false, message: 'enable exited 1' }; };
    try {
      // The first daemon: one restart, then it dies during the next backoff.
      const first = await rig({ clock, policy, books, restart: failing });
      await first.watch('Dead', { onUnresponsive: 'restart', enabledAt });
      await first.events.waitFor(heartbeat('Dead', 'missing'), 'missing');
      clock.advance(1001);
      await first.events.waitFor(restart('Dead', 'scheduled'), 'scheduled');
      clock.advance(100);
      const failed = await first.events.waitFor(restart('Dead', 'failed'), 'failed');
      await first.events.waitFor(restart('Dead', 'scheduled'), 'the second schedule', failed.index);
      await first.close();
      assert.deepEqual(await books.load('Dead'), { history: [enabledAt + 1101], total: 1, gaveUp: null }, 'the spent restart is on disk');

      // The second daemon: the budget is not reset; one restart is left, then it gives up.
      const second = await rig({ clock, policy, books, restart: failing });
      await second.watch('Dead', { onUnresponsive: 'restart', enabledAt });
      const scheduled = await second.events.waitFor(restart('Dead', 'scheduled'), 'scheduled by the second watchdog');
      assert.match((scheduled.event as RestartEvent).message, /restart in 200 ms \(restart 2 of at most 2 within 1 min\)/);
      clock.advance(200);
      const gaveUp = await second.events.waitFor(restart('Dead', 'gaveUp'), 'give-up');
      assert.equal((gaveUp.event as RestartEvent).message, 'restart budget exhausted: 2 restarts within 1 min; left alone');
      assert.deepEqual([(gaveUp.event as RestartEvent).restarts, (gaveUp.event as RestartEvent).enabledAt, calls], [2, enabledAt, 2]);
      await second.close();
      assert.deepEqual((await books.load('Dead'))?.gaveUp, { enabledAt, message: 'restart budget exhausted: 2 restarts within 1 min; left alone' });

      // The third daemon: still given up for that enable, so a stale heartbeat restarts nothing.
      const third = await rig({ clock, policy, books, restart: failing });
      await third.watch('Dead', { onUnresponsive: 'restart', enabledAt });
      await third.events.waitFor(heartbeat('Dead', 'stale'), 'stale');
      await third.ref.ask((reply) => ({ type: 'inspect', reply })); // the stale look, and any decision it made, are done
      assert.deepEqual(third.events.restarts('Dead'), [], 'left alone');
      const from = third.events.list.length;
      await third.watch('Dead', { onUnresponsive: 'restart', enabledAt: clock.now() });
      clock.advance(1001);
      const lifted = await third.events.waitFor(restart('Dead', 'scheduled'), 'scheduled after a new enable', from);
      assert.match((lifted.event as RestartEvent).message, /restart in 100 ms/);
      await waitUntil(async () => (await books.load('Dead'))?.gaveUp === null, 'the lifted give-up to be written');
      await third.close();
    } finally {
      await rm(lib, { recursive: true, force: true });
    }
  });

  test('a handler that is removed has its book removed', async () => {
    const clock = new ManualClock(Date.now());
    const lib = await mkdtemp(join(tmpdir(), 'heartbeat-books-'));
    const books = restartBookFiles(lib);
    await books.save('Gone', { history: [clock.now()], total: 1, gaveUp: null });
    const r = await rig({ clock, books });
    try {
      r.ref.tell({ type: 'watch', handler: 'Gone', spec: null });
      await r.ref.ask((reply) => ({ type: 'inspect', reply }));
      await waitForFile(books.file('Gone'), false);
    } finally {
      await r.close();
      await rm(lib, { recursive: true, force: true });
    }
  });
});

async function waitUntil(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

const waitForFile = (file: string, present: boolean): Promise<void> =>
  waitUntil(async () => (await stat(file).then(() => true, () => false)) === present, `${file} to be ${present ? 'written' : 'removed'}`);

describe('HeartbeatActor resources', () => {
  test('one timer per watched handler, re-armed, never more; stop disposes every listener and timer', async () => {
    const clock = new ManualClock(Date.now());
    const r = await rig({ clock });
    const names = Array.from({ length: 30 }, (_, i) => `H${i}`);
    try {
      for (const n of names) await writeFile(join(await r.handlerDir(n), 'heartbeat.log'), body());
      for (const n of names) await r.watch(n, { enabledAt: clock.now(), heartbeatTimeoutSec: 5 });
      for (const n of names) await r.events.waitFor(heartbeat(n, 'fresh'), `${n} fresh`);
      assert.equal(clock.pending(), 30);
      for (let round = 0; round < 3; round++) {
        await Promise.all(names.map((n) => writeFile(join(r.root, `${n}-1.0`, 'heartbeat.log'), body('ready', `round ${round}`))));
        // Past the settle check: a write that landed before a folder's OS watch was live is found by its stat.
        clock.advance(DEFAULT_SETTLE_MS + 1);
        for (const n of names) await r.events.waitFor((e) => heartbeat(n, 'fresh')(e) && (e as HeartbeatEvent).heartbeat?.message === `round ${round}`, `${n} round ${round}`);
        await r.system.drain();
        assert.equal(clock.pending(), 30, `round ${round}`);
      }
      const views = await r.ref.ask<ReadonlyMap<string, HeartbeatView>>((reply) => ({ type: 'inspect', reply }));
      assert.equal(views.size, 30);
      assert.ok([...views.values()].every((v) => v.state === 'fresh' && v.heartbeat?.message === 'round 2'));
      for (const n of names.slice(0, 10)) r.ref.tell({ type: 'watch', handler: n, spec: watchSpec(join(r.root, `${n}-1.0`), n, { state: 'Installed' }) });
      for (const n of names.slice(10, 15)) r.ref.tell({ type: 'watch', handler: n, spec: null });
      await r.ref.ask((reply) => ({ type: 'inspect', reply }));
      assert.equal(clock.pending(), 15);
      assert.equal(r.watcher.stats.listeners, 15);
      await r.system.stop();
      assert.equal(clock.pending(), 0);
      assert.equal(r.watcher.stats.listeners, 0);
    } finally {
      await r.close();
    }
  });

  test('200 handlers rewritten every 0.5 s by another process: no false stale over 3 s with a 2 s timeout, no flood', async (t) => {
    const r = await rig();
    const names = Array.from({ length: 200 }, (_, i) => `Fleet.${i}`);
    const files = await Promise.all(names.map(async (n) => join(await r.handlerDir(n), 'heartbeat.log')));
    const list = join(r.root, 'files.json');
    await writeFile(list, JSON.stringify(files));
    const script = `const fs = require('fs');
      const files = JSON.parse(fs.readFileSync(process.argv[1], 'utf8'));
      const body = process.argv[2];
      let first = true;
      const round = () => {
        files.forEach((f, i) => {
          if (i % 2) fs.writeFileSync(f, body);
          else { fs.writeFileSync(f + '.tmp', body); fs.renameSync(f + '.tmp', f); }
        });
        if (first) { first = false; process.stdout.write('ready\\n'); }
      };
      round();
      setInterval(round, 500);`;
    const writer = spawn(process.execPath, ['-e', script, list, body()], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = once(writer, 'exit');
    try {
      await once(writer.stdout, 'data');
      const started = Date.now();
      for (const n of names) await r.watch(n, { heartbeatTimeoutSec: 2 });
      for (const n of names) await r.events.waitFor(heartbeat(n, 'fresh'), `${n} fresh`, 0, 5000);
      t.diagnostic(`200 handlers fresh ${Date.now() - started} ms after the first watch`);
      await sleep(3000);
      const bad = r.events.list.filter((s) => s.event.type === 'heartbeat' && s.event.state !== 'fresh');
      assert.deepEqual(bad, [], 'no stale, missing or malformed');
      for (const n of names) assert.equal(r.events.heartbeats(n).length, 1, `${n}: one event, not one per write`);
      const views = await r.ref.ask<ReadonlyMap<string, HeartbeatView>>((reply) => ({ type: 'inspect', reply }));
      assert.equal(views.size, 200);
      const oldest = Math.min(...[...views.values()].map((v) => v.mtimeMs ?? 0));
      assert.ok(Date.now() - oldest < 2000, `the newest mtimes are known (oldest ${Date.now() - oldest} ms ago)`);
    } finally {
      writer.kill('SIGKILL');
      await exited;
      await r.close();
    }
  });
});

describe('readHeartbeatNow', () => {
  test('reads stamp and content together; the same bytes again reuse the parse, other bytes are parsed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hb-read-'));
    try {
      const file = join(dir, 'heartbeat.log');
      assert.deepEqual(readHeartbeatNow(file), { kind: 'absent' });
      const beat = (message: string): string => JSON.stringify([{ heartbeat: { status: 'ready', code: '0', formattedMessage: { lang: 'en-US', message } } }]);
      await writeFile(file, beat('one'));
      const parsed: ParsedContent = { current: null };
      const first = readHeartbeatNow(file, 64 * 1024, parsed);
      assert.equal(first.kind, 'read');
      assert.deepEqual(first.kind === 'read' && first.result, { ok: true, heartbeat: { status: 'ready', code: 0, message: 'one' } });
      assert.equal(first.kind === 'read' && first.stamp.size, beat('one').length);
      await writeFile(file, beat('one'));
      const again = readHeartbeatNow(file, 64 * 1024, parsed);
      assert.ok(first.kind === 'read' && again.kind === 'read' && again.result === first.result, 'same bytes: the earlier result object');
      await writeFile(file, beat('two'));
      const other = readHeartbeatNow(file, 64 * 1024, parsed);
      assert.deepEqual(other.kind === 'read' && other.result, { ok: true, heartbeat: { status: 'ready', code: 0, message: 'two' } });
      await writeFile(file, beat('x'.repeat(200)));
      const big = readHeartbeatNow(file, 100, parsed);
      assert.match(big.kind === 'read' && !big.result.ok ? big.result.problem : '', /larger than 100 bytes/);
      await writeFile(file, '');
      const empty = readHeartbeatNow(file, 64 * 1024, parsed);
      assert.match(empty.kind === 'read' && !empty.result.ok ? empty.result.problem : '', /the file is empty/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
