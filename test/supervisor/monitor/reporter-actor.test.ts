import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ActorSystem, type ActorRef } from '../../../src/actors/actor.js';
import { ManualClock, systemClock, type Clock } from '../../../src/core/clock.js';
import { askReport, askReporterStats, askRow, askRows, flushReport, reporterBehavior, reportWindowMs, type ReporterDeps, type ReporterMessage,
  type ReporterStats } from '../../../src/supervisor/monitor/reporter-actor.js';
import { SupervisorError } from '../../../src/core/errors.js';
import type { LifecycleState } from '../../../src/supervisor/lifecycle/record.js';
import type { MonitorEvent } from '../../../src/supervisor/monitor/types.js';

const T0 = Date.UTC(2024, 4, 1, 12, 0, 0);
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function tempLib(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'reporter-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function start(deps: Partial<ReporterDeps> & { libDir: string; clock?: Clock }): ActorRef<ReporterMessage> {
  const clock = deps.clock ?? systemClock;
  const system = new ActorSystem({ clock });
  cleanups.push(() => system.stop());
  return system.spawn<ReporterMessage>('reporter', reporterBehavior({ supervisorVersion: '0.1.0', ...deps, clock }));
}

const rec = (name: string, state: LifecycleState, version = '1.0'): MonitorEvent =>
  ({ type: 'recordChanged', handler: name, record: { schema: 1, name, state, version, previousVersion: null, form: 'command', enabledExtensions: {}, enabledAt: null, pending: null } });
/** How the handler's last work ended: 'Plugin enabled' (no failure), else a failure whose message the report carries. */
const status = (name: string, message: string, code = 1000): MonitorEvent =>
  ({ type: 'workSettled', handler: name, outcome: { failure: message === 'Plugin enabled' ? null : { code, message }, note: null } });
const goal = (...names: string[]): MonitorEvent =>
  ({ type: 'goalApplied', etag: null, source: 'goal.json', handlers: names.map((name) => ({ name, version: '1.0', desiredState: 'enabled' as const })) });

const reportFile = (lib: string): string => join(lib, 'status-report.json');
const readReport = async (lib: string): Promise<{ handlers: { name: string; message: string; code: number }[]; supervisor: { status: string } }> =>
  JSON.parse(await readFile(reportFile(lib), 'utf8'));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitStats(ref: ActorRef<ReporterMessage>, cond: (s: ReporterStats) => boolean, what: string, ms = 60_000): Promise<ReporterStats> {
  const deadline = Date.now() + ms;
  for (;;) {
    const s = await askReporterStats(ref);
    if (cond(s)) return s;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}: ${JSON.stringify(s)}`);
    await sleep(2);
  }
}

describe('asks', () => {
  test('rows, row and report answer from the snapshot', async () => {
    const clock = new ManualClock(T0);
    const ref = start({ libDir: await tempLib(), clock });
    ref.tell(goal('B', 'A'));
    ref.tell(rec('A', 'Enabled', '2.0'));
    ref.tell(status('A', 'Plugin enabled'));
    const rows = await askRows(ref);
    assert.deepEqual(rows.map((r) => [r.name, r.state, r.status, r.desiredState]), [['A', 'Enabled', 'Ready', 'enabled'], ['B', 'NotInstalled', 'NotReady', 'enabled']]);
    assert.equal((await askRow(ref, 'A'))?.version, '2.0');
    assert.equal(await askRow(ref, 'nope'), null);
    const report = await askReport(ref);
    assert.equal(report.timestampUTC, '2024-05-01T12:00:00Z');
    assert.deepEqual(report.supervisor, { version: '0.1.0', status: 'Ready', message: 'supervisor is running' });
    assert.deepEqual(report.handlers.map((h) => h.name), ['A', 'B']);
    ref.tell({ type: 'supervisorStatus', status: 'Stopping', message: 'SIGTERM received' });
    assert.deepEqual((await askReport(ref)).supervisor, { version: '0.1.0', status: 'Stopping', message: 'SIGTERM received' });
  });

  test('bad deps are refused at spawn time, naming the field and value', async () => {
    const libDir = await tempLib();
    assert.throws(() => reporterBehavior({ libDir, clock: systemClock, supervisorVersion: '1', coalesceMs: 5000 }),
      (e: unknown) => e instanceof SupervisorError && e.code === 'E_INVALID_ARGUMENT' && /coalesceMs.*5000/.test(e.message));
    assert.throws(() => reporterBehavior({ libDir, clock: systemClock, supervisorVersion: '1', reportUrl: 'file:///tmp/x' }),
      (e: unknown) => e instanceof SupervisorError && e.code === 'E_INVALID_REPORT_URL' && e.message.includes('file:///tmp/x'));
  });
});

describe('writing the report', () => {
  test('1000 events within 1 s cause at most 2 writes, the file shows the latest state, unchanged content is not rewritten', async () => {
    const clock = new ManualClock(T0);
    const lib = await tempLib();
    const ref = start({ libDir: lib, clock });
    ref.tell(rec('A', 'Enabled'));
    for (let i = 0; i < 1000; i++) {
      ref.tell(status('A', `message ${i}`));
      await clock.advanceAsync(1);
    }
    // The window fired at t=500 (a mid-burst state); the tail goes out one window after that write began.
    await waitStats(ref, (x) => x.writes >= 1, 'the first write');
    await clock.advanceAsync(1000); // in case the first write finished only after t=1000
    const after = await waitStats(ref, (x) => x.writes >= 2, 'the second write');
    await clock.advanceAsync(1000);
    // A flush waits for a write in flight, and writes nothing new when nothing changed: a drain of the writes.
    await flushReport(ref);
    assert.equal((await askReporterStats(ref)).writes, 2, 'a 1 s burst of 1000 events costs 2 writes');
    const doc = await readReport(lib);
    assert.equal(doc.handlers[0]?.message, 'message 999');
    // Nothing the report shows changes: no write.
    ref.tell(status('A', 'message 999'));
    ref.tell({ type: 'processSample', at: clock.now(), handlers: new Map([['A', { pids: [1], cpuPercent: 50, memoryBytes: 9, oldestStartMs: T0 }]]) });
    await clock.advanceAsync(2000);
    await flushReport(ref);
    assert.equal((await askReporterStats(ref)).writes, after.writes);
    assert.deepEqual((await readdir(lib)).sort(), ['history', 'status-report.json'], 'no .next leftover');
    assert.deepEqual(await readdir(join(lib, 'history')), ['A.json'], 'the journal of A, and no .next leftover');
    assert.equal(JSON.parse(await readFile(join(lib, 'history', 'A.json'), 'utf8')).outcome.failure.message, 'message 999');
  });

  test('a change is on disk within 1 s (injected clock, default window)', async () => {
    const clock = new ManualClock(T0);
    const lib = await tempLib();
    const ref = start({ libDir: lib, clock });
    ref.tell(rec('Contoso.Monitor', 'Enabled'));
    await clock.advanceAsync(1000);
    // The clock never moves again: the write lands only if it was started within that 1 s.
    await waitStats(ref, (s) => s.writes === 1, 'the write started within 1 s to land');
    assert.ok((await readFile(reportFile(lib), 'utf8')).includes('Contoso.Monitor'));
    assert.equal((await stat(reportFile(lib))).mode & 0o777, 0o600);
  });

  test('a large report waits longer between writes, never past 800 ms (the contract\'s 1 s holds)', () => {
    assert.equal(reportWindowMs(500, 20_000), 500, 'a few handlers: the coalescing window');
    assert.equal(reportWindowMs(500, 1_400_000), 700, 'about 5000 handlers: 1 ms per 2 KB');
    assert.equal(reportWindowMs(500, 10_000_000), 800, 'bounded');
    assert.equal(reportWindowMs(50, 0), 50);
  });

  test('flush writes now without waiting for the timer, and stop writes what is still pending', async () => {
    const clock = new ManualClock(T0);
    const lib = await tempLib();
    const ref = start({ libDir: lib, clock });
    await flushReport(ref);
    assert.deepEqual((await readReport(lib)).handlers, [], 'the first flush writes even an empty fleet');
    ref.tell(rec('A', 'Enabled'));
    await flushReport(ref);
    assert.deepEqual((await readReport(lib)).handlers.map((h) => h.name), ['A']);
    await flushReport(ref);
    assert.equal((await askReporterStats(ref)).writes, 2, 'a flush with nothing new writes nothing');
    ref.tell(status('A', 'last words'));
    ref.tell({ type: 'supervisorStatus', status: 'Stopped', message: 'bye' });
    await ref.stop();
    const doc = await readReport(lib);
    assert.deepEqual([doc.handlers[0]?.message, doc.supervisor.status], ['last words', 'Stopped']);
    assert.equal(clock.pending(), 0, 'no timer left behind');
  });

  test('a failed write is reported, retried, and a flush waiting for it is rejected', async () => {
    const clock = new ManualClock(T0);
    const parent = await tempLib();
    const lib = join(parent, 'not-yet');
    const errors: unknown[] = [];
    const ref = start({ libDir: lib, clock, onWriteError: (e) => errors.push(e) });
    ref.tell(rec('A', 'Enabled'));
    await assert.rejects(flushReport(ref), (e: unknown) => e instanceof SupervisorError && e.code === 'E_ATOMIC_WRITE');
    await waitStats(ref, (s) => s.writeFailures === 1, 'the failure');
    assert.ok(errors[0] instanceof SupervisorError && errors[0].code === 'E_REPORT_WRITE' && errors[0].message.includes(lib));
    await mkdir(lib);
    await clock.advanceAsync(5000);
    await waitStats(ref, (s) => s.writes === 1, 'the retry');
    assert.deepEqual((await readReport(lib)).handlers.map((h) => h.name), ['A']);
  });
});

describe('atomicity', () => {
  test('readers polling in a tight loop (in process and in a child process) never see partial JSON during 5000 events', async () => {
    const lib = await tempLib();
    const file = reportFile(lib);
    const stopFile = join(lib, 'stop-reader');
    const ref = start({ libDir: lib, coalesceMs: 2 });
    ref.tell(goal(...Array.from({ length: 50 }, (_, i) => `H${i}`)));
    await flushReport(ref);
    const script = `
      const fs = require('node:fs');
      let reads = 0, bad = 0, sample = '';
      const deadline = Date.now() + 20000;
      for (let i = 0; Date.now() < deadline; i++) {
        if (i % 50 === 0 && fs.existsSync(process.argv[2])) break;
        let text;
        try { text = fs.readFileSync(process.argv[1], 'utf8'); } catch { continue; }
        try { JSON.parse(text); reads++; } catch { bad++; sample = text.slice(-80); }
      }
      process.stdout.write(JSON.stringify({ reads, bad, sample }));`;
    const child = spawn(process.execPath, ['-e', script, file, stopFile], { stdio: ['ignore', 'pipe', 'inherit'] });
    cleanups.push(async () => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
    let out = '';
    child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
    const exited = new Promise<void>((r) => child.on('exit', () => r()));

    let done = false;
    let inProcess = { reads: 0, bad: 0 };
    const reader = (async () => {
      while (!done) {
        const text = await readFile(file, 'utf8');
        try { JSON.parse(text); inProcess.reads++; } catch { inProcess.bad++; }
      }
    })();
    const long = 'x'.repeat(2000); // ~100 KB report: a torn write would show
    let writes = (await askReporterStats(ref)).writes;
    for (let i = 0; i < 5000; i++) {
      ref.tell(status(`H${i % 50}`, `${long} ${i}`, i % 7));
      // Pace the batches on real rewrites, so the readers race ~50 of them whatever the disk speed.
      if (i % 100 === 99) writes = (await waitStats(ref, (s) => s.writes > writes, 'a rewrite')).writes;
    }
    // Two readers spin on the file meanwhile: on a loaded machine the last write may take a while.
    await flushReport(ref, 180_000);
    done = true;
    await reader;
    await writeFile(stopFile, '');
    await exited;
    const childResult = JSON.parse(out) as { reads: number; bad: number; sample: string };
    const stats = await askReporterStats(ref);
    assert.ok(stats.writes >= 50, `expected ~50 rewrites, got ${stats.writes}`);
    assert.equal(inProcess.bad, 0, 'in-process reader saw partial JSON');
    assert.equal(childResult.bad, 0, `child reader saw partial JSON: ${childResult.sample}`);
    assert.ok(inProcess.reads > 10 && childResult.reads > 10, `readers were too slow: ${inProcess.reads}, ${childResult.reads}`);
    const doc = await readReport(lib);
    assert.equal(doc.handlers.find((h) => h.name === 'H49')?.message, `${long} 4999`);
  });
});

describe('pushing to --report-url', () => {
  async function server(respond: (n: number, res: ServerResponse) => void): Promise<{ url: string; bodies: string[] }> {
    const bodies: string[] = [];
    const srv: Server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => { body += c.toString(); });
      req.on('end', () => { bodies.push(body); respond(bodies.length, res); });
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => { srv.closeAllConnections(); srv.close(() => r()); }));
    return { url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}/status`, bodies };
  }

  test('two 500s then 200: the latest report arrives, failures are counted, asks are answered while pushes fail', async () => {
    // The first answer is held until the asks below are answered: they cannot be waiting for the push.
    let release!: () => void;
    const held = new Promise<void>((r) => { release = r; });
    const srv = await server((n, res) => {
      const answer = (): void => { res.statusCode = n <= 2 ? 500 : 200; res.end(); };
      if (n === 1) void held.then(answer); else answer();
    });
    const lib = await tempLib();
    const pushErrors: SupervisorError[] = [];
    const ref = start({ libDir: lib, coalesceMs: 10, reportUrl: srv.url, onPushError: (e) => pushErrors.push(e), push: { baseDelayMs: 50, timeoutMs: 2000 } });
    ref.tell(rec('A', 'Enabled'));
    await flushReport(ref);
    const deadline = Date.now() + 10_000;
    while (srv.bodies.length < 1) { assert.ok(Date.now() < deadline); await sleep(2); }
    ref.tell(status('A', 'the newest state'));
    for (let i = 0; i < 5; i++) { // the first PUT is still unanswered: the actor must not care
      const rows = await askRows(ref);
      assert.equal(rows.length, 1);
      await sleep(10);
    }
    release();
    await flushReport(ref);
    const stats = await waitStats(ref, (s) => s.pushes === 1, 'the accepted push');
    assert.equal(stats.pushFailures, 2);
    assert.equal(pushErrors.length, 2);
    assert.equal(srv.bodies.length, 3);
    assert.deepEqual(JSON.parse(srv.bodies[2] ?? ''), await readReport(lib), 'the server holds what the file holds');
    assert.equal((await readReport(lib)).handlers[0]?.message, 'the newest state');
  });

  test('a push endpoint that never answers times out, is counted, and does not hold up writes or stop', async () => {
    const srv = await server(() => { /* never answers */ });
    const lib = await tempLib();
    const ref = start({ libDir: lib, coalesceMs: 10, reportUrl: srv.url, push: { timeoutMs: 100, maxAttempts: 2, baseDelayMs: 20 } });
    ref.tell(rec('A', 'Enabled'));
    await flushReport(ref);
    assert.deepEqual((await readReport(lib)).handlers.map((h) => h.name), ['A']);
    const stats = await waitStats(ref, (s) => s.pushesDropped === 1, 'the push to be given up');
    assert.equal(stats.pushFailures, 2);
    assert.equal(stats.pushes, 0);
    await ref.stop();

    // A push that would hang for 60 s is in flight when stop comes: stop writes the last report and
    // returns without waiting for it (on a clock that never moves, so the timeout cannot end the wait).
    const lib2 = await tempLib();
    const clock2 = new ManualClock(T0);
    const ref2 = start({ libDir: lib2, clock: clock2, coalesceMs: 10, reportUrl: srv.url, push: { timeoutMs: 60_000, maxAttempts: 1, baseDelayMs: 20 } });
    const seen = srv.bodies.length;
    ref2.tell(rec('A', 'Enabled'));
    await flushReport(ref2);
    const deadline = Date.now() + 5000;
    while (srv.bodies.length === seen) { assert.ok(Date.now() < deadline, 'the push to reach the server'); await sleep(5); }
    ref2.tell(status('A', 'again'));
    await ref2.stop();
    // Its clock never moved: stop could not have waited for the 60 s push timeout, and cleared it.
    assert.equal(clock2.pending(), 0, 'stop left no timer behind');
    assert.equal((await readReport(lib2)).handlers[0]?.message, 'again');
  });
});
