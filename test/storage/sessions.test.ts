import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KEEP_SESSIONS, LAST_SESSION, newSessionId, SessionStore, sessionsDir, type SessionDoc } from '../../src/storage/sessions.js';

const T0 = Date.UTC(2024, 4, 1, 12, 0, 0, 0);

function session(id: string, over: Partial<SessionDoc> = {}): SessionDoc {
  return { schema: 1, id, kind: 'apply', source: '/etc/goal.json', etag: 'e1', startedAt: new Date(T0).toISOString(), endedAt: null,
    result: 'running', handlers: {}, counts: { handlers: 0, reached: 0, failed: 0 }, ...over };
}

describe('newSessionId', () => {
  test('ids sort by time, and two in the same millisecond differ', () => {
    const times = [T0, T0 + 1, T0 + 999, T0 + 1000, T0 + 86_400_000];
    const ids = times.map(newSessionId);
    assert.deepEqual([...ids].sort(), ids);
    assert.match(ids[0]!, /^20240501T120000000Z-[0-9a-f]{6}$/);
    const same = new Set(Array.from({ length: 50 }, () => newSessionId(T0)));
    assert.equal(same.size, 50);
  });
});

describe('SessionStore', () => {
  let root: string;
  let libDir: string;
  let store: SessionStore;
  const dir = (): string => sessionsDir(libDir);

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'sessions-'));
    libDir = join(root, 'lib');
    store = new SessionStore(libDir);
  });
  afterEach(async () => { await rm(root, { recursive: true, force: true }); });

  test('an empty lib dir has no sessions, and asking creates nothing', async () => {
    assert.equal(await store.last(), null);
    assert.deepEqual(await store.list(), []);
    assert.deepEqual(await store.ids(), []);
    assert.equal(await store.read('nope'), null);
    assert.equal(await store.readGoalText('nope'), null);
    await assert.rejects(stat(dir()), { code: 'ENOENT' });
  });

  test('the first write creates <lib>/sessions/<id>/session, private, and points last-session at it', async () => {
    const doc = session(newSessionId(T0));
    await store.write(doc);
    const file = join(dir(), doc.id, 'session');
    assert.deepEqual(JSON.parse(await readFile(file, 'utf8')), doc);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal((await stat(join(dir(), doc.id))).mode & 0o777, 0o700);
    assert.equal(await readlink(join(dir(), LAST_SESSION)), doc.id, 'a relative link: the lib dir can move');
    assert.deepEqual(await store.read(doc.id), doc);
    assert.deepEqual(await store.last(), doc);
  });

  test('checkpoints rewrite the same session in place, whole, with nothing left beside it', async () => {
    const id = newSessionId(T0);
    await store.write(session(id));
    const op = { name: 'enable', version: '1.0', extension: null, result: 'running' as const, exitCode: null, code: 0,
      startedAt: new Date(T0).toISOString(), endedAt: null };
    const checkpoint = session(id, { handlers: { A: { desiredState: 'enabled', version: '1.0', action: null, reached: null, status: null,
      code: null, message: null, operations: [op] } } });
    await store.write(checkpoint);
    const done = session(id, { ...checkpoint, result: 'succeeded', endedAt: new Date(T0 + 5000).toISOString() });
    await store.write(done);
    assert.deepEqual(await store.read(id), done);
    assert.deepEqual(await readdir(join(dir(), id)), ['session'], 'no .next leftover');
    assert.deepEqual(await store.ids(), [id]);
    assert.equal(await readlink(join(dir(), LAST_SESSION)), id);
  });

  test('last-session follows the newest session started; rewriting an older one does not move it', async () => {
    const [a, b] = [newSessionId(T0), newSessionId(T0 + 1000)];
    await store.write(session(a));
    await store.write(session(b));
    assert.equal((await store.last())?.id, b);
    // A crashed session is marked interrupted after the next one started: still not the last.
    await store.write(session(a, { result: 'interrupted', endedAt: new Date(T0 + 2000).toISOString() }));
    assert.equal(await readlink(join(dir(), LAST_SESSION)), b);
    assert.equal((await store.last())?.id, b);
    assert.deepEqual(await readdir(dir()).then((names) => names.sort()), [a, b, LAST_SESSION].sort(), 'no last-session.next left');
  });

  test('without the last-session link, last() is the newest session folder', async () => {
    const ids = [newSessionId(T0), newSessionId(T0 + 1000), newSessionId(T0 + 2000)];
    for (const id of ids) await store.write(session(id));
    await unlink(join(dir(), LAST_SESSION));
    assert.equal((await store.last())?.id, ids[2]);
  });

  // Was a defect: a crash between a session's first write and its link left last-session naming the
  // session before it (or nothing, in a fresh lib dir). last() then missed the newer running session:
  // it was never resumed or marked interrupted, and last-session/session stayed missing for good.
  test('a newer session folder than the link names (a crash before the link was replaced) is the last one', async () => {
    const [a, b] = [newSessionId(T0), newSessionId(T0 + 1000)];
    await store.write(session(a, { result: 'succeeded' }));
    await mkdir(join(dir(), b));
    await writeFile(join(dir(), b, 'session'), JSON.stringify(session(b)));
    assert.equal(await readlink(join(dir(), LAST_SESSION)), a, 'the link was not replaced');
    assert.equal((await store.last())?.id, b);
    await store.ensureLast(b);
    assert.equal(await readlink(join(dir(), LAST_SESSION)), b);
    await store.ensureLast(b);
    assert.deepEqual(await readdir(dir()).then((names) => names.sort()), [a, b, LAST_SESSION].sort(), 'nothing left beside the link');
    // A newer folder without a readable session (a crash before its first write) is passed over.
    const c = newSessionId(T0 + 2000);
    await mkdir(join(dir(), c));
    assert.equal((await store.last())?.id, b);
  });

  test('list() is every session, oldest first; ids() ignores the link and plain files', async () => {
    const ids = [newSessionId(T0 + 2000), newSessionId(T0), newSessionId(T0 + 1000)];
    for (const id of ids) await store.write(session(id));
    await writeFile(join(dir(), 'stray-file'), 'x');
    const sorted = [...ids].sort();
    assert.deepEqual(await store.ids(), sorted);
    assert.deepEqual((await store.list()).map((d) => d.id), sorted);
  });

  test('a corrupt session file reads as null and is left out of list(); last() then falls back to the newest folder', async () => {
    const [a, b] = [newSessionId(T0), newSessionId(T0 + 1000)];
    await store.write(session(a));
    await store.write(session(b));
    await writeFile(join(dir(), b, 'session'), '{"schema":1,"id":');
    assert.equal(await store.read(b), null);
    assert.deepEqual((await store.list()).map((d) => d.id), [a]);
    // The link names b, which does not read; the newest folder is b too, so there is no last session.
    assert.equal(await store.last(), null);
    // A folder without a session file (a crash before the first write) is no session either.
    const c = newSessionId(T0 + 2000);
    await mkdir(join(dir(), c));
    assert.deepEqual((await store.list()).map((d) => d.id), [a]);
  });

  test('the goal-state copy is kept beside its session and read back as text', async () => {
    const id = newSessionId(T0);
    const goal = { etag: 'e7', handlers: [{ name: 'A', version: '1.0' }] };
    await store.writeGoal(id, goal);
    await store.write(session(id));
    const text = await store.readGoalText(id);
    assert.deepEqual(JSON.parse(text ?? 'null'), goal);
    assert.equal((await stat(join(dir(), id, 'goal-state.json'))).mode & 0o777, 0o600);
    assert.equal(await readlink(join(dir(), LAST_SESSION)), id, 'the goal copy first does not stop the session from becoming the last');
  });

  test(`only the newest sessions are kept (default ${KEEP_SESSIONS}), with their goal copies`, async () => {
    const small = new SessionStore(libDir, 3);
    const ids = Array.from({ length: 5 }, (_, i) => newSessionId(T0 + i * 1000));
    for (const id of ids) {
      await small.writeGoal(id, { etag: id, handlers: [] });
      await small.write(session(id));
    }
    assert.deepEqual(await small.ids(), ids.slice(2));
    assert.equal(await small.readGoalText(ids[0]!), null, 'a pruned session takes its goal copy with it');
    assert.equal((await small.last())?.id, ids[4]);
    // Checkpoints of a kept session prune nothing more.
    await small.write(session(ids[2]!, { result: 'succeeded' }));
    assert.deepEqual(await small.ids(), ids.slice(2));
  });

  test(`the default keeps ${KEEP_SESSIONS}`, async () => {
    const ids = Array.from({ length: KEEP_SESSIONS + 2 }, (_, i) => newSessionId(T0 + i * 1000));
    for (const id of ids) await store.write(session(id));
    assert.deepEqual(await store.ids(), ids.slice(2));
  });
});
