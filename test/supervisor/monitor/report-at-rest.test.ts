/**
 * A fleet at rest writes and pushes no report (issue 17, item 7): an Unresponsive handler's message
 * names the time of its last heartbeat, not its age, so a minute of samples and heartbeat checks
 * on the injected clock changes nothing on disk or at the report URL.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ActorSystem } from '../../../src/actors/actor.js';
import { ManualClock } from '../../../src/core/clock.js';
import { askReporterStats, askRows, flushReport, reporterBehavior, type ReporterMessage } from '../../../src/supervisor/monitor/reporter-actor.js';
import type { MonitorEvent, WatchSpec } from '../../../src/supervisor/monitor/types.js';

const T0 = Date.UTC(2026, 11, 4, 12, 0, 0);
const cleanups: Array<() => Promise<void>> = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

const record = (name: string): MonitorEvent => ({ type: 'recordChanged', handler: name,
  record: { schema: 1, name, state: 'Enabled', version: '1.0', previousVersion: null, form: 'command', enabledExtensions: {}, enabledAt: T0 - 600_000, pending: null } });
const spec = (name: string): WatchSpec => ({ name, version: '1.0', form: 'command', dir: `/lib/${name}-1.0`, statusFolder: `/lib/${name}-1.0/status`,
  heartbeatFile: `/lib/${name}-1.0/heartbeat.log`, state: 'Enabled', reportHeartbeat: true, heartbeatTimeoutSec: 30, onUnresponsive: 'report',
  extensions: [], multiConfig: false, enabledAt: T0 - 600_000 });

describe('a fleet at rest', () => {
  test('writes and pushes no report for a minute, though one handler is Unresponsive and samples keep coming', async () => {
    const lib = await mkdtemp(join(tmpdir(), 'exts-rest-'));
    cleanups.push(() => rm(lib, { recursive: true, force: true }));
    let puts = 0;
    const server = createServer((req, res) => { puts += 1; req.resume(); req.on('end', () => res.end()); });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => server.close(() => r())));
    const clock = new ManualClock(T0);
    const system = new ActorSystem({ clock });
    cleanups.push(() => system.stop());
    const ref = system.spawn<ReporterMessage>('reporter', reporterBehavior({ supervisorVersion: '0.1.0', libDir: lib, clock,
      reportUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/report` }));

    ref.tell({ type: 'goalApplied', etag: null, source: 'goal.json', handlers: ['Quiet', 'Stuck'].map((name) => ({ name, version: '1.0', desiredState: 'enabled' as const })) });
    for (const name of ['Quiet', 'Stuck']) {
      ref.tell(record(name));
      ref.tell({ type: 'watch', handler: name, spec: spec(name) });
      ref.tell({ type: 'workSettled', handler: name, outcome: { failure: null, note: null } });
    }
    ref.tell({ type: 'heartbeat', handler: 'Quiet', state: 'fresh', heartbeat: { status: 'ready', code: 0, message: 'all good' }, mtimeMs: T0, problem: null });
    ref.tell({ type: 'heartbeat', handler: 'Stuck', state: 'stale', heartbeat: null, mtimeMs: T0 - 67_000, problem: null });
    await flushReport(ref);
    const start = await askReporterStats(ref);
    const report = await readFile(join(lib, 'status-report.json'), 'utf8');
    const stuck = (await askRows(ref)).find((r) => r.name === 'Stuck')!;
    assert.equal(stuck.message, 'no heartbeat since 2026-12-04T11:58:53Z (timeout 30 s)');
    assert.equal(stuck.heartbeatAgeSeconds, 67, 'the age is its own field, computed from the timestamp');

    for (let t = 5_000; t <= 60_000; t += 5_000) {
      await clock.advanceAsync(5_000);
      ref.tell({ type: 'processSample', at: T0 + t, handlers: new Map([['Quiet', { pids: [100], cpuPercent: t % 3, memoryBytes: 1000 + t, oldestStartMs: T0 - 1 }]]) });
      ref.tell({ type: 'heartbeatSeen', handler: 'Quiet', mtimeMs: T0 + t });
    }
    const rows = await askRows(ref);
    assert.equal(rows.find((r) => r.name === 'Stuck')!.heartbeatAgeSeconds, 127, 'ps still shows the live age');
    await flushReport(ref);
    const end = await askReporterStats(ref);
    assert.equal(end.writes, start.writes, 'no report written in a minute at rest');
    assert.equal(await readFile(join(lib, 'status-report.json'), 'utf8'), report);
    await system.stop();
    assert.equal(puts, 1, 'one PUT: the first report; none while at rest');
  });
});
