import type { FolderEvent } from '../../../src/supervisor/monitor/folder-watcher.js';
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, watch, type FSWatcher } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ActorSystem, type ActorFailure } from '../../../src/actors/actor.js';
import { ManualClock } from '../../../src/core/clock.js';
import {
  statusCollectorBehavior, type ExtensionStatusEvent, type FolderWatch, type StatusCollectorStats, type StatusMessage,
} from '../../../src/supervisor/monitor/status-actor.js';
import type { WatchSpec } from '../../../src/supervisor/monitor/types.js';
import { FolderWatcher } from '../../../src/supervisor/monitor/folder-watcher.js';
import { makeTempDir, removeDir, waitFor } from '../process/kit.js';

/** A FolderWatch on fs.watch (inotify), standing in for the chokidar FolderWatcher with the same shape. */
class FsFolderWatch implements FolderWatch {
  readonly #watchers = new Set<FSWatcher>();

  get active(): number {
    return this.#watchers.size;
  }

  add(folder: string, listener: (event: FolderEvent) => void): () => void {
    const w = watch(folder, (kind, name) => {
      if (name === null) return;
      const path = join(folder, name.toString());
      listener({ kind: kind === 'change' ? 'change' : existsSync(path) ? 'add' : 'unlink', path });
    });
    w.on('error', () => w.close());
    this.#watchers.add(w);
    return () => { w.close(); this.#watchers.delete(w); };
  }

  closeAll(): void {
    for (const w of this.#watchers) w.close();
    this.#watchers.clear();
  }
}

function statusDoc(status: unknown, code: unknown, message: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify([{ version: 1, timestampUTC: '2024-01-01T00:00:00Z',
    status: { name: 'x', operation: 'Enable', status, code, formattedMessage: { lang: 'en-US', message }, ...extra } }]);
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function harness(opts: { settleMs?: number; minIntervalMs?: number } = {}) {
  const root = await makeTempDir('ext-sup-status-actor-');
  const clock = new ManualClock(1_000_000);
  const failures: ActorFailure[] = [];
  const system = new ActorSystem({ clock, askTimeoutMs: Infinity, onUnhandledFailure: (f) => failures.push(f) });
  const watcher = new FsFolderWatch();
  const events: ExtensionStatusEvent[] = [];
  const actor = system.spawn<StatusMessage>('status', statusCollectorBehavior({ watcher, emit: (e) => events.push(e), ...opts }));
  cleanups.push(async () => { await system.stop(); watcher.closeAll(); await removeDir(root); });

  const stats = (): Promise<StatusCollectorStats> => actor.ask((reply) => ({ type: 'stats', reply }));
  /** Folder for a handler, and the spec the lead would send for it. */
  async function handler(name: string, over: Partial<WatchSpec> = {}): Promise<WatchSpec> {
    const dir = join(root, `${name}-1.0`);
    await mkdir(join(dir, 'status'), { recursive: true });
    return {
      name, version: '1.0', form: 'command', dir, statusFolder: join(dir, 'status'), heartbeatFile: join(dir, 'heartbeat.log'), state: 'Enabled',
      reportHeartbeat: false, heartbeatTimeoutSec: 600, onUnresponsive: 'report', extensions: [], multiConfig: false, enabledAt: null, ...over,
    };
  }
  /** Sends a spec and waits until its initial reads are done (the stats ask queues behind them). */
  async function watchSpec(name: string, spec: WatchSpec | null): Promise<void> {
    actor.tell({ type: 'watch', handler: name, spec });
    await stats();
  }
  /** Writes a status file the way careful handlers do (temp file + rename), then lets the coalesced read run. */
  async function write(spec: WatchSpec, fileName: string, content: string, how: 'atomic' | 'inPlace' = 'atomic'): Promise<void> {
    const seen = (await stats()).events;
    const target = join(spec.statusFolder, fileName);
    if (how === 'inPlace') await writeFile(target, content);
    else {
      const tmp = join(spec.dir, `.${fileName}.tmp`);
      await writeFile(tmp, content);
      await rename(tmp, target);
    }
    await waitFor('the watcher to report the write', async () => ((await stats()).events > seen ? true : undefined));
  }
  /** Moves time past any coalescing delay and waits for the reads that fall due. */
  async function settle(ms = 600): Promise<StatusCollectorStats> {
    await clock.advanceAsync(ms);
    return stats();
  }
  return { root, clock, actor, watcher, events, failures, stats, handler, watchSpec, write, settle };
}

describe('status actor: the status rules end to end, on real files', () => {
  test('missing → transitioning; written statuses read as the contract says; unchanged content emits nothing', async () => {
    const h = await harness();
    const spec = await h.handler('A', { extensions: [{ name: 'default', sequenceNumber: 3 }] });
    await h.watchSpec('A', spec);
    assert.equal(h.events.length, 1);
    assert.deepEqual([h.events[0]!.handler, h.events[0]!.extension, h.events[0]!.sequenceNumber, h.events[0]!.file],
      ['A', 'default', 3, join(spec.statusFolder, '3.status')]);
    assert.deepEqual([h.events[0]!.status.status, h.events[0]!.status.code], ['transitioning', 0]);

    const steps: [string, string, number][] = [
      [statusDoc('success', 0, 'ok'), 'success', 0],
      [statusDoc('warning', 3, 'hmm'), 'warning', 3],
      [statusDoc('error', 9, 'bad'), 'error', 9],
      [statusDoc('on fire', 0, 'unknown value'), 'error', 0],
      [statusDoc('success', '0', 'code as a string'), 'success', 0],
      ['{ "status": oops', 'error', 1012],
    ];
    for (const [content, status, code] of steps) {
      const emittedBefore: number = h.events.length;
      await h.write(spec, '3.status', content);
      await h.settle();
      assert.equal(h.events.length, emittedBefore + 1, content);
      const last = h.events.at(-1)!.status;
      assert.deepEqual([last.status, last.code], [status, code], content);
    }
    assert.match(h.events.at(-1)!.status.message, /3\.status is malformed.*content starts with: \{ "status": oops/);

    // Same content written again (a new file, a new inode): compared by content, so no event.
    const emittedSoFar = h.events.length;
    await h.write(spec, '3.status', '{ "status": oops');
    const stats = await h.settle();
    assert.equal(h.events.length, emittedSoFar);
    assert.ok(stats.reads > steps.length + 1);
  });

  test('a 200 KiB status file is truncated, not rejected', async () => {
    const h = await harness();
    const spec = await h.handler('Big');
    await h.watchSpec('Big', spec);
    const substatus = Array.from({ length: 40 }, (_, i) => ({ name: `s${i}`, status: 'success', code: 0, formattedMessage: { lang: 'en', message: 'y'.repeat(5000) } }));
    const doc = statusDoc('success', 0, 'x'.repeat(3000), { substatus });
    assert.ok(Buffer.byteLength(doc) > 200 * 1024);
    await h.write(spec, '0.status', doc);
    await h.settle();
    const last = h.events.at(-1)!.status;
    assert.deepEqual([last.status, last.code, last.truncated], ['success', 0, true]);
    assert.ok(last.message.endsWith(' ... [TRUNCATED]'));
  });

  test('multiConfig: <ext>.<seq>.status per extension, and a write to one emits only for it', async () => {
    const h = await harness();
    const spec = await h.handler('Multi', { multiConfig: true, extensions: [{ name: 'one', sequenceNumber: 1 }, { name: 'two', sequenceNumber: 5 }] });
    await h.watchSpec('Multi', spec);
    assert.deepEqual(h.events.map((e) => [e.extension, e.sequenceNumber, e.file]), [
      ['one', 1, join(spec.statusFolder, 'one.1.status')], ['two', 5, join(spec.statusFolder, 'two.5.status')],
    ]);
    await h.write(spec, 'two.5.status', statusDoc('success', 0, 'two ok'));
    await h.write(spec, '5.status', statusDoc('error', 1, 'single-config name: not this handler\'s file'));
    await h.settle();
    assert.equal(h.events.length, 3);
    assert.deepEqual([h.events[2]!.extension, h.events[2]!.status.status, h.events[2]!.status.message], ['two', 'success', 'two ok']);
  });

  test('one handler\'s malformed file does not affect another handler\'s events', async () => {
    const h = await harness();
    const a = await h.handler('A');
    const b = await h.handler('B');
    await h.watchSpec('A', a);
    await h.watchSpec('B', b);
    await h.write(a, '0.status', 'garbage');
    await h.write(b, '0.status', statusDoc('success', 0, 'b fine'));
    await h.settle();
    await h.write(b, '0.status', statusDoc('warning', 2, 'b warns'));
    await h.settle();
    const forA = h.events.filter((e) => e.handler === 'A').map((e) => [e.status.status, e.status.code]);
    const forB = h.events.filter((e) => e.handler === 'B').map((e) => [e.status.status, e.status.code]);
    assert.deepEqual(forA, [['transitioning', 0], ['error', 1012]]);
    assert.deepEqual(forB, [['transitioning', 0], ['success', 0], ['warning', 2]]);
    assert.equal(h.failures.length, 0);
  });
});

describe('status actor: coalescing, spec changes and cleanup', () => {
  test('a file rewritten 10 times a second is read about twice a second, and the last write is reported', async (t) => {
    const h = await harness({ settleMs: 50, minIntervalMs: 500 });
    const spec = await h.handler('Chatty');
    await h.watchSpec('Chatty', spec);
    const start = await h.stats();
    const writes = 20; // 2 simulated seconds at 10 writes/s, written in place as careless handlers do
    for (let i = 0; i < writes; i += 1) {
      await h.write(spec, '0.status', statusDoc('transitioning', 0, `progress ${i}`), 'inPlace');
      await h.clock.advanceAsync(100);
    }
    const end = await h.settle();
    const reads = end.reads - start.reads;
    t.diagnostic(`${writes} writes, ${end.events - start.events} watcher events, ${reads} reads, ${end.emits - start.emits} events emitted`);
    assert.ok(reads >= 3, `kept reading while the writes went on (${reads} reads)`);
    assert.ok(reads <= 2 * 2 + 1, `at most ~2 reads/s for 2 s plus the trailing read (got ${reads})`);
    assert.ok(end.events - start.events >= writes, 'every write was seen as an event');
    // Every read saw new content, except perhaps one trailing follow-up after a late watcher event.
    assert.ok(end.emits - start.emits >= reads - 1 && end.emits - start.emits <= reads, `${end.emits - start.emits} emits for ${reads} reads`);
    assert.equal(h.events.at(-1)!.status.message, `progress ${writes - 1}`);
    assert.equal(end.pendingReads, 0);
  });

  test('an event shortly before a due read brings one follow-up read, so a change the watcher dropped is not missed', async () => {
    const h = await harness({ settleMs: 50, minIntervalMs: 500 });
    const spec = await h.handler('Dropped');
    await h.watchSpec('Dropped', spec);
    await h.clock.advanceAsync(1000); // the initial read is long past: the first event waits only the settle time
    const start = await h.stats();
    await h.write(spec, '0.status', statusDoc('transitioning', 0, 'first'), 'inPlace');
    await h.clock.advanceAsync(30);
    await h.write(spec, '0.status', statusDoc('success', 0, 'second'), 'inPlace');
    const afterRead = await h.settle(20);
    assert.equal(afterRead.reads - start.reads, 1);
    assert.equal(h.events.at(-1)!.status.message, 'second');
    assert.equal(afterRead.pendingReads, 1, 'the event 20 ms before the read asks for one more');
    const end = await h.settle(600);
    assert.equal(end.reads - start.reads, 2);
    assert.equal(end.emits - start.emits, 1, 'the follow-up found nothing new');
    assert.equal(end.pendingReads, 0, 'and asks for no further read');
  });

  test('a new sequence number reads its new file; spec null stops watching; stop leaves no timer and no watcher', async () => {
    const h = await harness();
    const spec = await h.handler('Seq', { extensions: [{ name: 'default', sequenceNumber: 1 }] });
    await writeFile(join(spec.statusFolder, '2.status'), statusDoc('success', 0, 'seq 2 done')); // before any watching
    await h.watchSpec('Seq', spec);
    assert.deepEqual(h.events.map((e) => [e.sequenceNumber, e.status.status]), [[1, 'transitioning']]);
    await h.watchSpec('Seq', { ...spec, extensions: [{ name: 'default', sequenceNumber: 2 }] });
    assert.deepEqual(h.events.map((e) => [e.sequenceNumber, e.status.status]), [[1, 'transitioning'], [2, 'success']]);
    assert.equal(h.watcher.active, 1, 'the same folder is watched once');

    // A change is pending when the handler goes away: its timer is dropped, nothing more is read.
    await h.write(spec, '2.status', statusDoc('error', 4, 'late'));
    assert.equal((await h.stats()).pendingReads, 1);
    await h.watchSpec('Seq', null);
    const gone = await h.settle();
    assert.deepEqual([gone.handlers, gone.files, gone.pendingReads], [0, 0, 0]);
    assert.equal(h.events.length, 2);
    assert.equal(h.watcher.active, 0);

    await h.watchSpec('Seq', spec);
    await h.write(spec, '1.status', statusDoc('success', 0, 'pending at stop'));
    assert.equal(h.clock.pending(), 1);
    await h.actor.stop();
    assert.equal(h.clock.pending(), 0);
    assert.equal(h.watcher.active, 0);
  });

  test('a status folder that cannot be watched fails loudly, still reports the status, and is retried', async () => {
    const h = await harness();
    const spec = await h.handler('NoFolder');
    const missing = { ...spec, statusFolder: join(spec.dir, 'not-yet') };
    await h.watchSpec('NoFolder', missing);
    assert.equal(h.failures.length, 1);
    const err = h.failures[0]!.error as { code?: string; message: string };
    assert.equal(err.code, 'E_STATUS_WATCH');
    assert.match(err.message, /NoFolder/);
    assert.deepEqual(h.events.map((e) => e.status.status), ['transitioning']);
    await mkdir(missing.statusFolder);
    await h.watchSpec('NoFolder', missing);
    assert.equal(h.failures.length, 1);
    assert.equal(h.watcher.active, 1);
    await h.write(missing, '0.status', statusDoc('success', 0, 'there now'));
    await h.settle();
    assert.equal(h.events.at(-1)!.status.status, 'success');
  });
});

describe('status actor with the real chokidar FolderWatcher', () => {
  test('a status folder that appears later is picked up, and atomic rewrites are reported', async () => {
    const root = await makeTempDir('ext-sup-status-chokidar-');
    const watcher = new FolderWatcher({ retryMs: 100 });
    const system = new ActorSystem();
    const events: ExtensionStatusEvent[] = [];
    try {
      // Real clock here: chokidar's own timers run on it too.
      const actor = system.spawn<StatusMessage>('status', statusCollectorBehavior({ watcher, emit: (e) => events.push(e), settleMs: 20, minIntervalMs: 100 }));
      const dir = join(root, 'Late-1.0');
      const statusFolder = join(dir, 'status');
      const spec: WatchSpec = { name: 'Late', version: '1.0', form: 'command', dir, statusFolder, heartbeatFile: join(dir, 'heartbeat.log'), state: 'Enabled',
        reportHeartbeat: false, heartbeatTimeoutSec: 600, onUnresponsive: 'report', extensions: [{ name: 'main', sequenceNumber: 2 }], multiConfig: false, enabledAt: null };
      actor.tell({ type: 'watch', handler: 'Late', spec });
      await waitFor('the initial status', () => (events.length === 1 ? true : undefined));
      assert.equal(events[0]!.status.status, 'transitioning');

      await mkdir(statusFolder, { recursive: true });
      await writeFile(join(dir, 'tmp'), statusDoc('transitioning', 0, 'installing'));
      await rename(join(dir, 'tmp'), join(statusFolder, '2.status'));
      await waitFor('the status written into the new folder', () => (events.at(-1)?.status.message === 'installing' ? true : undefined));

      await writeFile(join(dir, 'tmp'), statusDoc('success', 0, 'done'));
      await rename(join(dir, 'tmp'), join(statusFolder, '2.status'));
      await waitFor('the rewrite', () => (events.at(-1)?.status.status === 'success' ? true : undefined));
      assert.deepEqual(events.map((e) => e.status.message), ['status file not yet written', 'installing', 'done']);
      assert.ok(events.every((e) => e.extension === 'main' && e.sequenceNumber === 2 && e.file === join(statusFolder, '2.status')));
      await system.stop();
      assert.equal(watcher.stats.listeners, 0, 'the actor disposed its watch on stop');
    } finally {
      await system.stop();
      await watcher.close();
      await removeDir(root);
    }
  });
});
