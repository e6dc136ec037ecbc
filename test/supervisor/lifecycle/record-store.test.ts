import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StateStore } from '../../../src/supervisor/lifecycle/record-store.js';
import { emptyRecord, transition, type HandlerRecord } from '../../../src/supervisor/lifecycle/record.js';
import { planHandler } from '../../../src/supervisor/lifecycle/plan.js';
import { planStarted, stepsDone } from '../../../src/supervisor/lifecycle/progress.js';
import { parseGoalState } from '../../../src/supervisor/goal/goal-state.js';
import type { SupervisorDirs } from '../../../src/storage/layout.js';

type Corruption = { file: string; movedTo: string; rebuilt: HandlerRecord; error: string };

const SHA = 'a'.repeat(64);

function enabled(name: string, version: string): HandlerRecord {
  const installed = transition(emptyRecord(name), { type: 'installed', version, form: 'command' });
  return transition(installed, { type: 'enabled', extensions: { default: { sequenceNumber: 3, settingsHash: 'h' } }, at: 1_700_000_000_000 });
}

/** A fresh install half done: the plan and its progress, as a supervisor restart would find it. */
function midInstall(name: string): HandlerRecord {
  const goal = parseGoalState(JSON.stringify({ handlers: [{ name, version: '2.0',
    packages: [{ version: '2.0', sha256: SHA, uris: ['file:///nowhere.zip'] }], extensions: [{ sequenceNumber: 1 }] }] }), 'goal.json');
  const record = emptyRecord(name);
  return stepsDone(planStarted(record, planHandler(goal.handlers[0]!, record)), 1);
}

describe('StateStore: handler records under <lib>/state', () => {
  let root: string;
  let dirs: SupervisorDirs;
  let corrupt: Corruption[];
  let store: StateStore;
  const stateDir = (): string => join(dirs.libDir, 'state');

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'record-store-'));
    dirs = { libDir: join(root, 'lib'), logDir: join(root, 'log') };
    corrupt = [];
    store = new StateStore(dirs, { onCorrupt: (c) => corrupt.push(c) });
  });
  afterEach(async () => { await rm(root, { recursive: true, force: true }); });

  test('a handler without a record loads as NotInstalled, and loading creates nothing', async () => {
    assert.deepEqual(await store.load('Contoso.A'), emptyRecord('Contoso.A'));
    assert.deepEqual(await store.names(), [], 'no state folder is no records, not an error');
    await assert.rejects(stat(stateDir()), { code: 'ENOENT' });
    assert.equal(corrupt.length, 0);
  });

  test('a saved record loads back equal, from a private file in a private folder', async () => {
    const rec = enabled('Contoso.A', '1.2.0');
    await store.save(rec);
    assert.deepEqual(await new StateStore(dirs).load('Contoso.A'), rec, 'a second store (a restarted supervisor) reads the same');
    const file = join(stateDir(), 'Contoso.A.json');
    assert.deepEqual(JSON.parse(await readFile(file, 'utf8')), rec);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal((await stat(stateDir())).mode & 0o777, 0o700);
  });

  test('a plan in progress survives the round trip (what a restarted supervisor resumes from)', async () => {
    const rec = midInstall('Contoso.B');
    assert.ok(rec.pending, 'the fixture has a pending plan');
    await store.save(rec);
    const back = await new StateStore(dirs).load('Contoso.B');
    assert.deepEqual(back, rec);
    assert.equal(back.pending?.done, 1);
    assert.equal(back.pending?.targetVersion, '2.0');
  });

  test('names() lists every record, sorted, and nothing else in the folder', async () => {
    for (const name of ['Zeta', 'Alpha', 'Mid.Name']) await store.save(enabled(name, '1.0'));
    await writeFile(join(stateDir(), 'Alpha.json.corrupt-123'), 'old junk');
    await writeFile(join(stateDir(), 'notes.txt'), 'x');
    await mkdir(join(stateDir(), 'sub'));
    assert.deepEqual(await store.names(), ['Alpha', 'Mid.Name', 'Zeta']);
  });

  test('remove deletes the record (it loads as NotInstalled again); removing a missing one is fine', async () => {
    await store.save(enabled('A', '1.0'));
    await store.save(enabled('B', '1.0'));
    await store.remove('A');
    assert.deepEqual(await store.names(), ['B']);
    assert.deepEqual(await store.load('A'), emptyRecord('A'));
    await store.remove('A');
    await store.remove('Never');
    assert.deepEqual(await store.names(), ['B']);
  });

  test('every save replaces the file whole: no partial file and no .next left behind', async () => {
    const versions = Array.from({ length: 25 }, (_, i) => `1.${i}`);
    // Saves issued at once land in call order, each one complete.
    await Promise.all(versions.map((v) => store.save(enabled('Busy', v))));
    assert.equal((await store.load('Busy')).version, '1.24');
    assert.deepEqual((await readdir(stateDir())).sort(), ['Busy.json']);
    assert.equal(corrupt.length, 0);
  });

  test('a crash leftover <name>.json.next is no record and is cleared by the next save', async () => {
    await store.save(enabled('A', '1.0'));
    await writeFile(join(stateDir(), 'A.json.next'), '{"schema":1,"na');
    assert.deepEqual(await store.names(), ['A']);
    assert.equal((await store.load('A')).version, '1.0', 'the old complete record is what counts');
    await store.save(enabled('A', '1.1'));
    assert.deepEqual(await readdir(stateDir()), ['A.json']);
    assert.equal((await store.load('A')).version, '1.1');
  });

  test('a state folder removed behind the store is made again on the next save', async () => {
    await store.save(enabled('A', '1.0'));
    await rm(stateDir(), { recursive: true });
    await store.save(enabled('A', '1.1'));
    assert.equal((await store.load('A')).version, '1.1');
    assert.equal((await stat(stateDir())).mode & 0o777, 0o700);
  });
});

describe('StateStore: a record that does not parse', () => {
  let root: string;
  let dirs: SupervisorDirs;
  let corrupt: Corruption[];
  let store: StateStore;
  const file = (name: string): string => join(dirs.libDir, 'state', `${name}.json`);
  /** A handler dir as an install leaves it; `manifest: false` is an interrupted extraction. */
  const handlerDir = async (dirName: string, manifest = true): Promise<void> => {
    await mkdir(join(dirs.libDir, dirName), { recursive: true });
    if (manifest) await writeFile(join(dirs.libDir, dirName, 'HandlerManifest.json'), '[]');
  };

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'record-store-corrupt-'));
    dirs = { libDir: join(root, 'lib'), logDir: join(root, 'log') };
    corrupt = [];
    store = new StateStore(dirs, { onCorrupt: (c) => corrupt.push(c) });
    await mkdir(join(dirs.libDir, 'state'), { recursive: true });
  });
  afterEach(async () => { await rm(root, { recursive: true, force: true }); });

  test('is moved aside intact, reported, and rebuilt as the newest complete version on disk', async () => {
    await handlerDir('Contoso.A-1.9.0');
    await handlerDir('Contoso.A-1.10.0');
    await handlerDir('Contoso.A-2.0.0', false);
    await handlerDir('Contoso.A-notaversion');
    await handlerDir('Contoso.A.Other-9.0.0');
    await writeFile(file('Contoso.A'), '{"schema": 1, "name": "Contoso.A", "sta');

    const rec = await store.load('Contoso.A');
    assert.equal(rec.state, 'Installed');
    assert.equal(rec.version, '1.10.0', 'numeric order, and only dirs holding a manifest');
    assert.equal(rec.pending, null);
    assert.equal(corrupt.length, 1);
    const c = corrupt[0]!;
    assert.equal(c.file, file('Contoso.A'));
    assert.match(c.movedTo, /Contoso\.A\.json\.corrupt-\d+$/);
    assert.deepEqual(c.rebuilt, rec);
    assert.match(c.error, /JSON/);
    assert.equal(await readFile(c.movedTo, 'utf8'), '{"schema": 1, "name": "Contoso.A", "sta', 'never deleted: kept for a person to read');

    assert.deepEqual(await store.load('Contoso.A'), rec, 'the rebuilt record was saved');
    assert.equal(corrupt.length, 1, 'and it is reported once, not on every load');
    assert.deepEqual(await store.names(), ['Contoso.A']);
  });

  test('with no handler dir on disk it is rebuilt as NotInstalled', async () => {
    await writeFile(file('Gone'), 'not json at all');
    assert.deepEqual(await store.load('Gone'), emptyRecord('Gone'));
    assert.equal(corrupt.length, 1);
    assert.deepEqual(corrupt[0]!.rebuilt, emptyRecord('Gone'));
  });

  test('valid JSON that is not a record is reported naming the file', async () => {
    await writeFile(file('Odd'), JSON.stringify({ schema: 2, name: 'Odd', state: 'Enabled' }));
    await store.load('Odd');
    assert.equal(corrupt.length, 1);
    assert.equal(corrupt[0]!.error, `${file('Odd')}: not a handler state record`);
  });

  test('a record naming another handler is not trusted', async () => {
    await handlerDir('A-1.0');
    await writeFile(file('A'), JSON.stringify(enabled('B', '3.0')));
    const rec = await store.load('A');
    assert.equal(rec.name, 'A');
    assert.equal(rec.version, '1.0');
    assert.equal(corrupt[0]!.error, 'names handler "B", expected "A"');
  });

  test('without an onCorrupt listener the record is still rebuilt', async () => {
    await handlerDir('Quiet-1.0');
    await writeFile(file('Quiet'), '');
    const rec = await new StateStore(dirs).load('Quiet');
    assert.equal(rec.state, 'Installed');
    assert.equal(rec.version, '1.0');
  });
});
