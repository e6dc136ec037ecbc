import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rename, rm, rmdir, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FolderWatcher, type FolderEvent } from '../../../src/supervisor/monitor/folder-watcher.js';
import { SupervisorError } from '../../../src/core/errors.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Collects a listener's events and waits for one matching a predicate (fails after `ms`). */
class Recorder {
  readonly events: FolderEvent[] = [];
  #waiters: { pred: (e: FolderEvent) => boolean; resolve: (e: FolderEvent) => void }[] = [];
  readonly listener = (e: FolderEvent): void => {
    this.events.push(e);
    this.#waiters = this.#waiters.filter((w) => (w.pred(e) ? (w.resolve(e), false) : true));
  };

  async waitFor(pred: (e: FolderEvent) => boolean, what: string, ms = 10_000): Promise<FolderEvent> {
    const seen = this.events.find(pred);
    if (seen) return seen;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await new Promise<FolderEvent>((resolve, reject) => {
        this.#waiters.push({ pred, resolve });
        timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms; saw ${JSON.stringify(this.events)}`)), ms);
      });
    } finally {
      clearTimeout(timer);
    }
  }
}

const is = (kind: FolderEvent['kind'], path: string) => (e: FolderEvent): boolean => e.kind === kind && e.path === path;

/** Writes a probe file until the watcher reports it: proves the OS watch on `folder` is live. */
async function untilLive(folder: string, rec: Recorder): Promise<void> {
  const probe = join(folder, '.probe');
  for (let i = 0; i < 100; i++) {
    await writeFile(probe, String(i));
    if (await rec.waitFor((e) => e.path === probe, 'probe', 50).then(() => true, () => false)) return;
  }
  throw new Error(`watch on ${folder} never became live`);
}

describe('FolderWatcher', () => {
  let root: string;
  let watcher: FolderWatcher;
  const errors: SupervisorError[] = [];

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'folder-watcher-'));
    watcher = new FolderWatcher({ retryMs: 50, onError: (e) => errors.push(e) });
  });
  after(async () => {
    await watcher.close();
    await rm(root, { recursive: true, force: true });
  });

  test('reports add, change and unlink of files directly in the folder, nothing from subfolders or existing files', async () => {
    const dir = join(root, 'plain');
    await mkdir(join(dir, 'sub'), { recursive: true });
    await writeFile(join(dir, 'old.txt'), 'before');
    const rec = new Recorder();
    const dispose = watcher.add(dir, rec.listener);
    await untilLive(dir, rec);
    const file = join(dir, 'heartbeat.log');
    await writeFile(file, '1');
    await rec.waitFor(is('add', file), 'add');
    await sleep(60); // chokidar drops a change within 50 ms of the previous one
    await writeFile(file, '2');
    await rec.waitFor(is('change', file), 'change');
    await writeFile(join(dir, 'sub', 'deep.txt'), 'x');
    await unlink(file);
    await rec.waitFor(is('unlink', file), 'unlink');
    assert.ok(!rec.events.some((e) => e.path.includes('deep.txt') || e.path.endsWith('old.txt')), JSON.stringify(rec.events));
    dispose();
  });

  test('a write to a temp file renamed onto the target is reported as a change of the target', async () => {
    const dir = join(root, 'atomic');
    await mkdir(dir);
    const file = join(dir, 'heartbeat.log');
    await writeFile(file, 'v1');
    const rec = new Recorder();
    const dispose = watcher.add(dir, rec.listener);
    await untilLive(dir, rec);
    for (const v of ['v2', 'v3']) {
      const before = rec.events.length;
      await writeFile(`${file}.tmp`, v);
      await rename(`${file}.tmp`, file);
      await rec.waitFor((e) => rec.events.indexOf(e) >= before && e.path === file && e.kind !== 'unlink', `event for rename ${v}`);
      await sleep(60);
    }
    assert.ok(rec.events.some(is('change', file)));
    dispose();
  });

  test('several listeners share a folder; a disposed one hears nothing more; folders do not leak into each other', async () => {
    const a = join(root, 'shared');
    const b = join(root, 'other');
    await mkdir(a);
    await mkdir(b);
    const first = new Recorder();
    const second = new Recorder();
    const other = new Recorder();
    const disposeFirst = watcher.add(a, first.listener);
    const disposeSecond = watcher.add(a, second.listener);
    const disposeOther = watcher.add(b, other.listener);
    await untilLive(a, first);
    await untilLive(b, other);
    await writeFile(join(a, 'one'), '1');
    await first.waitFor(is('add', join(a, 'one')), 'first sees one');
    await second.waitFor(is('add', join(a, 'one')), 'second sees one');
    disposeFirst();
    disposeFirst(); // idempotent
    await writeFile(join(a, 'two'), '2');
    await second.waitFor(is('add', join(a, 'two')), 'second sees two');
    assert.ok(!first.events.some((e) => e.path === join(a, 'two')));
    assert.ok(!other.events.some((e) => e.path.startsWith(`${a}/`)), JSON.stringify(other.events));
    disposeSecond();
    disposeOther();
  });

  test('leaving a folder does not blind a folder inside it, and coming back to it works', async () => {
    const dir = join(root, 'nested-1.0');
    const status = join(dir, 'status');
    await mkdir(status, { recursive: true });
    const outer = new Recorder();
    const inner = new Recorder();
    const disposeOuter = watcher.add(dir, outer.listener);
    const disposeInner = watcher.add(status, inner.listener);
    await untilLive(dir, outer);
    await untilLive(status, inner);
    disposeOuter();
    await writeFile(join(dir, 'heartbeat.log'), 'unheard');
    await writeFile(join(status, '0.status'), '[]');
    await inner.waitFor(is('add', join(status, '0.status')), 'status file after the outer listener left');
    const back = new Recorder();
    const disposeBack = watcher.add(dir, back.listener);
    await sleep(60);
    await writeFile(join(dir, 'heartbeat.log'), 'heard');
    await back.waitFor((e) => e.path === join(dir, 'heartbeat.log'), 'event after coming back');
    assert.ok(!outer.events.some((e) => e.path.endsWith('heartbeat.log')), 'the disposed listener heard nothing');
    disposeInner();
    disposeBack();
  });

  test('a folder that does not exist yet (nor its parent) is watched once it appears, its first files reported', async () => {
    const handlerDir = join(root, 'later-1.0');
    const status = join(handlerDir, 'status');
    const rec = new Recorder();
    const dispose = watcher.add(status, rec.listener);
    await sleep(120);
    assert.equal(watcher.stats.pending >= 1, true);
    await mkdir(status, { recursive: true });
    await writeFile(join(status, '0.status'), '[]');
    await rec.waitFor(is('add', join(status, '0.status')), 'first status file', 2000);
    await sleep(60);
    await writeFile(join(status, '0.status'), '[1]');
    await rec.waitFor(is('change', join(status, '0.status')), 'change after appearing');
    assert.equal(watcher.stats.pending, 0);
    dispose();
  });

  test('a folder removed and created again is watched again (also when it was empty)', async () => {
    for (const withFile of [true, false]) {
      const dir = join(root, `comeback-${withFile}`);
      await mkdir(dir);
      if (withFile) await writeFile(join(dir, 'keep'), 'x');
      const rec = new Recorder();
      const dispose = watcher.add(dir, rec.listener);
      await untilLive(dir, rec);
      await rm(join(dir, '.probe'));
      await rm(dir, { recursive: true });
      await sleep(150);
      await mkdir(dir);
      const file = join(dir, 'heartbeat.log');
      await writeFile(file, 'back');
      await rec.waitFor((e) => e.path === file && e.kind !== 'unlink', `event after re-create (withFile ${withFile})`, 2000);
      dispose();
    }
    // An empty folder removed with rmdir is noticed through its own watch and looked for again.
    const empty = join(root, 'rmdir-empty');
    await mkdir(empty);
    const rec = new Recorder();
    const dispose = watcher.add(empty, rec.listener);
    await untilLive(empty, rec);
    await unlink(join(empty, '.probe'));
    await sleep(150);
    await rmdir(empty);
    await sleep(150);
    await mkdir(empty);
    await writeFile(join(empty, 'x'), '1');
    await rec.waitFor(is('add', join(empty, 'x')), 'add after rmdir + mkdir', 2000);
    dispose();
  });

  test('a throwing listener is reported and does not stop the others', async () => {
    const dir = join(root, 'throwing');
    await mkdir(dir);
    const rec = new Recorder();
    const disposeBad = watcher.add(dir, () => { throw new Error('boom'); });
    const dispose = watcher.add(dir, rec.listener);
    await untilLive(dir, rec);
    assert.ok(errors.some((e) => e.code === 'E_WATCH_LISTENER' && e.message.includes('boom') && e.message.includes(dir)));
    disposeBad();
    dispose();
  });

  test('300 folders watched at once: every watch goes live, and one write in each is reported, new file and rewrite', async () => {
    // How soon is measured by bench/watch.ts (npm run bench -- --only watch): tests do not time.
    const base = join(root, 'many');
    const dirs = Array.from({ length: 300 }, (_, i) => join(base, `Handler.${i}-1.0`));
    await Promise.all(dirs.map((d) => mkdir(d, { recursive: true })));
    const seen = { add: new Set<string>(), change: new Set<string>() };
    const probes = new Set<string>();
    const disposers = dirs.map((d) => watcher.add(d, (e) => {
      if (e.path.endsWith('.probe')) probes.add(d);
      else if (e.path === join(d, 'heartbeat.log') && (e.kind === 'add' || e.kind === 'change')) seen[e.kind].add(d);
    }));
    /** Polls (real I/O) until `done` holds, rewriting probes meanwhile when asked; fails after 15 s. */
    const until = async (done: () => boolean, what: string, probe = false): Promise<void> => {
      const by = Date.now() + 15_000;
      while (!done()) {
        if (Date.now() > by) assert.fail(`timed out waiting for ${what}`);
        if (probe) await Promise.all(dirs.filter((d) => !probes.has(d)).map((d) => writeFile(join(d, '.probe'), 'p')));
        await sleep(probe ? 50 : 5);
      }
    };
    await until(() => probes.size === dirs.length, 'every folder watch to go live', true);
    await Promise.all(dirs.map((d) => writeFile(join(d, 'heartbeat.log'), '[]')));
    await until(() => seen.add.size === dirs.length, `the 300 new files (saw ${seen.add.size})`);
    seen.change.clear(); // from here on, events that came after the rewrites began
    await Promise.all(dirs.map((d) => writeFile(join(d, 'heartbeat.log'), '[1]')));
    await until(() => seen.change.size === dirs.length, `the 300 rewrites (saw ${seen.change.size})`);
    for (const d of disposers) d();
  });

  test('close is idempotent and add afterwards is refused with a typed error', async () => {
    const w = new FolderWatcher();
    const dispose = w.add(root, () => {});
    const closing = w.close();
    assert.equal(w.close(), closing);
    await closing;
    dispose();
    assert.throws(() => w.add(root, () => {}), (e: unknown) => e instanceof SupervisorError && e.code === 'E_WATCHER_CLOSED');
    assert.throws(() => new FolderWatcher({ retryMs: 0 }), (e: unknown) => e instanceof SupervisorError && e.code === 'E_INVALID_ARGUMENT');
  });
});
