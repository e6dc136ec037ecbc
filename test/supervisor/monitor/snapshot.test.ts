import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Snapshot } from '../../../src/supervisor/monitor/snapshot.js';
import { ageSeconds, shownStatus, type HeartbeatEvent, type StatusInputs } from '../../../src/supervisor/monitor/handler-status.js';
import type { MonitorEvent, ProcessSample, WatchSpec } from '../../../src/supervisor/monitor/types.js';
import type { HandlerRecord, LifecycleState } from '../../../src/supervisor/lifecycle/record.js';
import type { LifecycleStatus, OperationResult, Work } from '../../../src/supervisor/lifecycle/events.js';
import type { ExtensionStatus } from '../../../src/protocol/status-file.js';
import { SupervisorError } from '../../../src/core/errors.js';

const T0 = Date.UTC(2024, 4, 1, 12, 0, 0);

const record = (name: string, state: LifecycleState, version: string | null = state === 'NotInstalled' ? null : '1.0'): HandlerRecord =>
  ({ schema: 1, name, state, version, previousVersion: null, form: 'command', enabledExtensions: {}, enabledAt: state === 'Enabled' ? T0 - 1000 : null, pending: null });
const rec = (name: string, state: LifecycleState, version?: string | null): MonitorEvent =>
  ({ type: 'recordChanged', handler: name, record: record(name, state, version) });
const goal = (...handlers: [string, 'enabled' | 'disabled' | 'uninstall'][]): MonitorEvent =>
  ({ type: 'goalApplied', etag: null, source: 'goal.json', handlers: handlers.map(([name, desiredState]) => ({ name, version: '1.0', desiredState })) });
/** The handler actor's fact that its work ended: with a failure (code, message) or without. */
const settled = (name: string, failure: [number, string] | null = null, note: string | null = null): MonitorEvent =>
  ({ type: 'workSettled', handler: name, outcome: { failure: failure ? { code: failure[0], message: failure[1] } : null, note } });
const working = (name: string, action: Work['action'], targetVersion: string | null = '1.0', fromVersion: string | null = null): MonitorEvent =>
  ({ type: 'workStarted', handler: name, work: { action, targetVersion, fromVersion } });
const hb = (name: string, state: HeartbeatEvent['state'], extra: Partial<HeartbeatEvent> = {}): HeartbeatEvent =>
  ({ type: 'heartbeat', handler: name, state, heartbeat: null, mtimeMs: null, problem: null, ...extra });
const extStatus = (status: ExtensionStatus['status'], code = 0, message = '', substatus: ExtensionStatus['substatus'] = []): ExtensionStatus =>
  ({ status, code, message, operation: null, name: null, timestampUTC: null, substatus, truncated: false });
const ext = (handler: string, extension: string, sequenceNumber: number, status: ExtensionStatus): MonitorEvent =>
  ({ type: 'extensionStatus', handler, extension, sequenceNumber, status, file: `/lib/${handler}/status/${sequenceNumber}.status` });
const spec = (name: string, over: Partial<WatchSpec> = {}): WatchSpec => ({
  name, version: '1.0', form: 'command', dir: `/lib/${name}-1.0`, statusFolder: `/lib/${name}-1.0/status`, heartbeatFile: `/lib/${name}-1.0/heartbeat.log`,
  state: 'Enabled', reportHeartbeat: true, heartbeatTimeoutSec: 600, onUnresponsive: 'report', extensions: [{ name: 'default', sequenceNumber: 0 }],
  multiConfig: false, enabledAt: T0, ...over,
});
const sample = (at: number, handlers: Record<string, ProcessSample>): MonitorEvent =>
  ({ type: 'processSample', at, handlers: new Map(Object.entries(handlers)) });

function fold(...events: MonitorEvent[]): Snapshot {
  const s = new Snapshot();
  for (const e of events) s.fold(e);
  return s;
}
const names = (s: Snapshot): string[] => s.rows(T0).map((r) => r.name);
const rowOf = (s: Snapshot, name: string, now = T0) => {
  const r = s.row(name, now);
  assert.ok(r, `row ${name} expected`);
  return r;
};

describe('goal and visibility', () => {
  test('goalApplied sets desiredState; installed handlers the goal does not name are orphaned', () => {
    const s = fold(rec('A', 'Enabled'), rec('B', 'Installed'), rec('C', 'Enabled'), goal(['A', 'enabled'], ['B', 'disabled']));
    assert.deepEqual(s.rows(T0).map((r) => [r.name, r.desiredState]), [['A', 'enabled'], ['B', 'disabled'], ['C', 'orphaned']]);
  });

  test('before any goal every installed handler is orphaned', () => {
    assert.equal(rowOf(fold(rec('A', 'Enabled')), 'A').desiredState, 'orphaned');
  });

  test('a handler the goal wants but that is not installed yet shows as NotInstalled, version null, Plugin not installed', () => {
    const r = rowOf(fold(goal(['New', 'enabled'])), 'New');
    assert.deepEqual([r.state, r.version, r.status, r.code, r.message, r.desiredState], ['NotInstalled', null, 'NotReady', 0, 'Plugin not installed', 'enabled']);
  });

  test('a failed first install stays visible with its failure', () => {
    const s = fold(goal(['New', 'enabled']), settled('New', [1001, 'no uri delivered the package']));
    assert.deepEqual([rowOf(s, 'New').status, rowOf(s, 'New').code, rowOf(s, 'New').message], ['Failed', 1001, 'no uri delivered the package']);
  });

  test('uninstall: shown while it runs, gone once the record is NotInstalled, stray late events do not bring it back', () => {
    const s = fold(rec('A', 'Enabled'), goal(['A', 'uninstall']), working('A', 'uninstall', null));
    assert.deepEqual([rowOf(s, 'A').desiredState, rowOf(s, 'A').status, rowOf(s, 'A').message], ['uninstall', 'NotReady', 'uninstalling']);
    s.fold(rec('A', 'NotInstalled'));
    assert.equal(s.row('A', T0), null);
    s.fold(settled('A'));
    s.fold({ type: 'watch', handler: 'A', spec: null });
    assert.deepEqual(names(s), []);
    s.fold(goal());
    assert.deepEqual(names(s), []);
  });

  test('a goal naming a never-installed handler as uninstall shows nothing', () => {
    assert.deepEqual(names(fold(goal(['Gone', 'uninstall']))), []);
  });

  test('a handler dropped from the goal before it was ever installed disappears', () => {
    const s = fold(goal(['X', 'enabled']), goal());
    assert.deepEqual(names(s), []);
  });

  test('rows are sorted by name whatever the event order; row() of an unknown handler is null', () => {
    const s = fold(rec('zeta', 'Enabled'), rec('Alpha', 'Enabled'), rec('beta', 'Enabled'), rec('alpha', 'Enabled'));
    assert.deepEqual(names(s), ['Alpha', 'alpha', 'beta', 'zeta']);
    s.fold(rec('gamma', 'Installed'));
    assert.deepEqual(names(s), ['Alpha', 'alpha', 'beta', 'gamma', 'zeta']);
    assert.equal(s.row('nope', T0), null);
  });

  test('an unknown event type is a programming error', () => {
    assert.throws(() => new Snapshot().fold({ type: 'bogus' } as unknown as MonitorEvent),
      (e: unknown) => e instanceof SupervisorError && e.code === 'E_UNKNOWN_MONITOR_EVENT' && /bogus/.test(e.message));
  });
});

describe('lifecycle events', () => {
  test('recordChanged sets state and version; work facts set status, code, message', () => {
    const s = fold(rec('A', 'Installed', '1.2.3'));
    assert.deepEqual([rowOf(s, 'A').state, rowOf(s, 'A').version, rowOf(s, 'A').status, rowOf(s, 'A').message], ['Installed', '1.2.3', 'NotReady', 'Plugin disabled']);
    s.fold(working('A', 'enable', '1.3'));
    assert.deepEqual([rowOf(s, 'A').status, rowOf(s, 'A').code, rowOf(s, 'A').message], ['NotReady', 0, 'enabling']);
    s.fold(rec('A', 'Enabled', '1.3'));
    s.fold(settled('A'));
    const r = rowOf(s, 'A');
    assert.deepEqual([r.state, r.version, r.status, r.code, r.message], ['Enabled', '1.3', 'Ready', 0, 'Plugin enabled']);
    s.fold(settled('A', [1009, 'enable exited 3']));
    assert.deepEqual([rowOf(s, 'A').status, rowOf(s, 'A').code, rowOf(s, 'A').message], ['Failed', 1009, 'enable exited 3']);
    s.fold(settled('A', null, 'enable completed while the supervisor was down'));
    assert.deepEqual([rowOf(s, 'A').status, rowOf(s, 'A').message], ['Ready', 'Plugin enabled (enable completed while the supervisor was down)']);
  });

  test('work under way: Installing for package work, NotReady naming the rest; FailedUpgrade at rest is 1008', () => {
    const cases: [Work['action'], string | null, string | null, LifecycleStatus][] = [
      ['install', '1.0', null, { status: 'Installing', code: 0, message: 'installing 1.0' }],
      ['upgrade', '2.0', '1.0', { status: 'Installing', code: 0, message: 'upgrading 1.0 -> 2.0' }],
      ['downgrade', '1.0', '2.0', { status: 'Installing', code: 0, message: 'downgrading 2.0 -> 1.0' }],
      ['uninstall', null, null, { status: 'NotReady', code: 0, message: 'uninstalling' }],
      ['disable', '1.0', null, { status: 'NotReady', code: 0, message: 'disabling' }],
      ['enable', '1.0', null, { status: 'NotReady', code: 0, message: 'enabling' }],
      ['restart', '1.0', null, { status: 'NotReady', code: 0, message: 'restarting: heartbeat unresponsive' }],
    ];
    for (const [action, to, from, expected] of cases) {
      const r = rowOf(fold(rec('A', 'Enabled'), working('A', action, to, from)), 'A');
      assert.deepEqual({ status: r.status, code: r.code, message: r.message }, expected, action);
    }
    const failedUpgrade = rowOf(fold(rec('A', 'FailedUpgrade', '2.0'), settled('A')), 'A');
    assert.deepEqual([failedUpgrade.status, failedUpgrade.code, failedUpgrade.message], ['Failed', 1008, 'upgrade to 2.0 failed']);
  });

  test('operationStarted shows running; operationEnded shows the result, exit code and both times', () => {
    const s = fold(rec('A', 'Installed'), { type: 'operationStarted', handler: 'A', op: 'enable', version: '1.0', extension: null, startedAt: T0, pid: 42 });
    assert.deepEqual(rowOf(s, 'A').lastOperation, { name: 'enable', result: 'running', exitCode: null, startedAt: '2024-05-01T12:00:00.000Z', endedAt: null });
    const result: OperationResult = { op: 'enable', version: '1.0', extension: null, result: 'timedOut', exitCode: null, signal: 'SIGKILL',
      code: 1011, message: 'timed out', startedAt: T0, endedAt: T0 + 2500, pids: [42], unkillable: [] };
    s.fold({ type: 'operationEnded', handler: 'A', result });
    assert.deepEqual(rowOf(s, 'A').lastOperation, { name: 'enable', result: 'timedOut', exitCode: null, startedAt: '2024-05-01T12:00:00.000Z', endedAt: '2024-05-01T12:00:02.500Z' });
    s.fold({ type: 'operationEnded', handler: 'A', result: { ...result, result: 'failed', exitCode: 3 } });
    assert.deepEqual([rowOf(s, 'A').lastOperation?.result, rowOf(s, 'A').lastOperation?.exitCode], ['failed', 3]);
  });
});

describe('status precedence (shownStatus)', () => {
  const ready: LifecycleStatus = { status: 'Ready', code: 0, message: 'Plugin enabled' };
  const base: StatusInputs = { state: 'Enabled', lifecycle: ready, heartbeat: null, heartbeatTimeoutSec: 600, enabledAt: T0, gaveUp: null, now: T0 + 700_000 };
  const fresh = (status: string, code = 0, message = 'hb says'): HeartbeatEvent => hb('A', 'fresh', { heartbeat: { status, code, message }, mtimeMs: T0 });
  const stale = hb('A', 'stale', { mtimeMs: T0 + 30_000 });
  const table: [string, Partial<StatusInputs>, LifecycleStatus][] = [
    ['no heartbeat watched: lifecycle', {}, ready],
    ['missing heartbeat: lifecycle', { heartbeat: hb('A', 'missing') }, ready],
    ['stale: Unresponsive with the time of the last heartbeat and the timeout', { heartbeat: stale }, { status: 'Unresponsive', code: -1, message: 'no heartbeat since 2024-05-01T12:00:30Z (timeout 600 s)' }],
    ['stale, never written: since the enable', { heartbeat: hb('A', 'stale'), heartbeatTimeoutSec: 60 }, { status: 'Unresponsive', code: -1, message: 'no heartbeat since 2024-05-01T12:00:00Z (timeout 60 s)' }],
    ['stale, never written, enable time unknown', { heartbeat: hb('A', 'stale'), enabledAt: null }, { status: 'Unresponsive', code: -1, message: 'no heartbeat (timeout 600 s)' }],
    ['lifecycle Failed beats stale', { heartbeat: stale, lifecycle: { status: 'Failed', code: 1009, message: 'x' } }, { status: 'Failed', code: 1009, message: 'x' }],
    ['lifecycle Installing beats stale', { heartbeat: stale, lifecycle: { status: 'Installing', code: 0, message: 'upgrading' } }, { status: 'Installing', code: 0, message: 'upgrading' }],
    ['lifecycle Failed beats a fresh Ready heartbeat', { heartbeat: fresh('ready'), lifecycle: { status: 'Failed', code: 1007, message: 'y' } }, { status: 'Failed', code: 1007, message: 'y' }],
    ['not Enabled: stale heartbeat ignored', { state: 'Installed', lifecycle: { status: 'NotReady', code: 0, message: 'Plugin disabled' }, heartbeat: stale },
      { status: 'NotReady', code: 0, message: 'Plugin disabled' }],
    ['not Enabled: fresh heartbeat ignored', { state: 'Installed', lifecycle: { status: 'NotReady', code: 0, message: 'Plugin disabled' }, heartbeat: fresh('ready') },
      { status: 'NotReady', code: 0, message: 'Plugin disabled' }],
    ['fresh ready', { heartbeat: fresh('ready', 0, 'all good') }, { status: 'Ready', code: 0, message: 'all good' }],
    ['fresh notready with its code', { heartbeat: fresh('notready', 7, 'warming up') }, { status: 'NotReady', code: 7, message: 'warming up' }],
    ['fresh installing', { heartbeat: fresh('installing') }, { status: 'Installing', code: 0, message: 'hb says' }],
    ['fresh unresponsive (the handler says so itself)', { heartbeat: fresh('unresponsive', 5) }, { status: 'Unresponsive', code: 5, message: 'hb says' }],
    ['fresh with an empty message keeps the lifecycle message', { heartbeat: fresh('ready', 0, '') }, { status: 'Ready', code: 0, message: 'Plugin enabled' }],
    ['fresh with an unknown status: NotReady naming it', { heartbeat: fresh('happy', 3, 'm') }, { status: 'NotReady', code: 3, message: 'unknown heartbeat status "happy": m' }],
    ['malformed: NotReady, 1012', { heartbeat: hb('A', 'malformed', { problem: 'not valid JSON' }) }, { status: 'NotReady', code: 1012, message: 'malformed heartbeat: not valid JSON' }],
    ['watchdog gave up: Failed, -1', { heartbeat: stale, gaveUp: 'restart budget exhausted (3 in 1 h)' }, { status: 'Failed', code: -1, message: 'restart budget exhausted (3 in 1 h)' }],
    ['gave up beats a fresh heartbeat', { heartbeat: fresh('ready'), gaveUp: 'gave up' }, { status: 'Failed', code: -1, message: 'gave up' }],
    ['lifecycle Failed beats gave up', { gaveUp: 'gave up', lifecycle: { status: 'Failed', code: 1009, message: 'z' } }, { status: 'Failed', code: 1009, message: 'z' }],
  ];
  for (const [name, over, expected] of table) {
    test(name, () => assert.deepEqual(shownStatus({ ...base, ...over }), expected));
  }

  test('ageSeconds floors and never goes negative', () => {
    assert.equal(ageSeconds(T0, T0 + 1999), 1);
    assert.equal(ageSeconds(T0, T0 - 5000), 0);
  });
});

describe('heartbeat, watch and restarts through the snapshot', () => {
  test('heartbeatAgeSeconds is computed at read time; null without a heartbeat', () => {
    const s = fold(rec('A', 'Enabled'), rec('B', 'Enabled'), hb('A', 'fresh', { heartbeat: { status: 'ready', code: 0, message: 'ok' }, mtimeMs: T0 - 4_000 }));
    assert.equal(rowOf(s, 'A', T0).heartbeatAgeSeconds, 4);
    assert.equal(rowOf(s, 'A', T0 + 10_000).heartbeatAgeSeconds, 14);
    assert.deepEqual(rowOf(s, 'A').heartbeat, { status: 'ready', code: 0, message: 'ok' });
    assert.equal(rowOf(s, 'B').heartbeatAgeSeconds, null);
    assert.equal(rowOf(s, 'B').heartbeat, null);
  });

  test('stale then fresh again: Unresponsive, then recovered', () => {
    const s = fold(rec('A', 'Enabled'), { type: 'watch', handler: 'A', spec: spec('A', { heartbeatTimeoutSec: 30 }) }, hb('A', 'stale', { mtimeMs: T0 - 45_000 }));
    assert.deepEqual([rowOf(s, 'A').status, rowOf(s, 'A').code, rowOf(s, 'A').message], ['Unresponsive', -1, 'no heartbeat since 2024-05-01T11:59:15Z (timeout 30 s)']);
    s.fold(hb('A', 'fresh', { heartbeat: { status: 'ready', code: 0, message: 'back' }, mtimeMs: T0 }));
    assert.deepEqual([rowOf(s, 'A').status, rowOf(s, 'A').message], ['Ready', 'back']);
  });

  test('a heartbeat never written is missed since the enable: the spec\'s, else the record\'s', () => {
    const s = fold(rec('A', 'Enabled'), hb('A', 'stale'));
    assert.equal(rowOf(s, 'A', T0 + 9_000).message, 'no heartbeat since 2024-05-01T11:59:59Z (timeout 600 s)', 'record enabledAt is T0 - 1 s');
    s.fold({ type: 'watch', handler: 'A', spec: spec('A', { enabledAt: T0 - 60_000, heartbeatTimeoutSec: 30 }) });
    s.fold(hb('A', 'stale'));
    assert.equal(rowOf(s, 'A').message, 'no heartbeat since 2024-05-01T11:59:00Z (timeout 30 s)');
  });

  test('a watch spec without reportHeartbeat, or none, drops the heartbeat', () => {
    const s = fold(rec('A', 'Enabled'), hb('A', 'stale', { mtimeMs: T0 - 900_000 }));
    assert.equal(rowOf(s, 'A').status, 'Unresponsive');
    s.fold({ type: 'watch', handler: 'A', spec: spec('A', { reportHeartbeat: false }) });
    assert.deepEqual([rowOf(s, 'A').status, rowOf(s, 'A').heartbeatAgeSeconds], ['Ready', null]);
    s.fold(hb('A', 'stale', { mtimeMs: T0 - 900_000 }));
    s.fold({ type: 'watch', handler: 'A', spec: null });
    assert.equal(rowOf(s, 'A').status, 'Ready');
  });

  test('restarts show the watchdog\'s count; a give-up shows Failed until another enable', () => {
    const enabledAt = T0 - 1000; // the record's
    const restart = (outcome: Extract<MonitorEvent, { type: 'restart' }>['outcome'], restarts: number, message = ''): MonitorEvent =>
      ({ type: 'restart', handler: 'A', restarts, outcome, message, enabledAt });
    const s = fold(rec('A', 'Enabled'), restart('scheduled', 0), restart('started', 1), restart('succeeded', 1), restart('started', 2), restart('failed', 2));
    assert.equal(rowOf(s, 'A').restarts, 2);
    s.fold(restart('gaveUp', 2, 'restart budget of 3 in 3600 s spent'));
    assert.deepEqual([rowOf(s, 'A').status, rowOf(s, 'A').code, rowOf(s, 'A').message], ['Failed', -1, 'restart budget of 3 in 3600 s spent']);
    s.fold(restart('gaveUp', 2));
    assert.equal(rowOf(s, 'A').message, 'restart budget exhausted');
    s.fold(settled('A'));
    assert.deepEqual([rowOf(s, 'A').status, rowOf(s, 'A').code], ['Failed', -1], 'an apply that changed nothing leaves the handler given up');
    s.fold({ type: 'recordChanged', handler: 'A', record: { ...record('A', 'Enabled'), enabledAt: T0 } });
    assert.deepEqual([rowOf(s, 'A').status, rowOf(s, 'A').restarts], ['Ready', 2], 'a new enable lifts it');
  });

  test('heartbeatSeen moves the heartbeat\'s age only; the report need not change unless a row counts time', () => {
    const s = fold(rec('A', 'Enabled'), hb('A', 'fresh', { heartbeat: { status: 'ready', code: 0, message: 'ok' }, mtimeMs: T0 - 30_000 }));
    assert.equal(rowOf(s, 'A').heartbeatAgeSeconds, 30);
    assert.equal(s.fold({ type: 'heartbeatSeen', handler: 'A', mtimeMs: T0 - 2000 }), false);
    assert.deepEqual([rowOf(s, 'A').heartbeatAgeSeconds, rowOf(s, 'A').status, rowOf(s, 'A').message], [2, 'Ready', 'ok']);
    assert.equal(s.fold({ type: 'heartbeatSeen', handler: 'Nobody', mtimeMs: T0 }), false);
    assert.equal(s.row('Nobody', T0), null, 'an age alone never makes a handler');
  });
});

describe('operations and journals', () => {
  const ended = (op: string, result: OperationResult['result'], code: number, message: string, at: number): MonitorEvent =>
    ({ type: 'operationEnded', handler: 'A', result: { op: op as OperationResult['op'], version: '1.0', extension: null, result,
      exitCode: result === 'succeeded' ? 0 : 1, signal: null, code, message, startedAt: at, endedAt: at + 100, pids: [7], unkillable: [] } });
  const started = (op: string, at: number): MonitorEvent =>
    ({ type: 'operationStarted', handler: 'A', op: op as OperationResult['op'], version: '1.0', extension: null, startedAt: at, pid: 9 });

  test('facts list the operations (a start replaced by its end); lastOperation is the newest', () => {
    const s = fold(goal(['A', 'enabled']), started('fetch', T0), ended('fetch', 'succeeded', 0, 'fetched', T0), started('install', T0 + 200));
    const f = s.facts('A', T0);
    assert.ok(f);
    assert.deepEqual(f.operations.map((o) => [o.name, o.result, o.pid]), [['fetch', 'succeeded', 7], ['install', 'running', 9]]);
    assert.equal(f.row.lastOperation?.result, 'running');
    s.fold(ended('install', 'failed', 1007, 'install failed with exit code 1\n[stderr]\ndisk full', T0 + 200));
    const g = s.facts('A', T0)!;
    assert.deepEqual(g.operations.map((o) => [o.name, o.result, o.code]), [['fetch', 'succeeded', 0], ['install', 'failed', 1007]]);
    assert.deepEqual(g.row.lastOperation, { name: 'install', result: 'failed', exitCode: 1, startedAt: '2024-05-01T12:00:00.200Z', endedAt: '2024-05-01T12:00:00.300Z' });
    assert.equal(g.record, null, 'nothing installed');
    assert.equal(s.facts('B', T0), null);
  });

  test('takeJournals: each settled handler once, with its ended operations and outcome; restored facts rebuild the same row', () => {
    const s = fold(goal(['A', 'enabled']));
    assert.equal(s.journalsPending, false, 'a goal changes no journal');
    s.fold(started('install', T0));
    assert.equal(s.journalsPending, false, 'a running operation is not written');
    s.fold(working('A', 'install'));
    s.fold(ended('install', 'failed', 1007, 'install failed: disk full', T0));
    assert.equal(s.journalsPending, false, 'written when the work settles, once for all its operations');
    s.fold(settled('A', [1007, 'install failed: disk full']));
    const batch = s.takeJournals();
    assert.equal(s.journalsPending, false);
    assert.deepEqual(batch.map((b) => b.name), ['A']);
    const journal = batch[0]!.journal!;
    assert.deepEqual(journal.outcome, { failure: { code: 1007, message: 'install failed: disk full' }, note: null });
    assert.deepEqual(journal.operations.map((o) => [o.name, o.result, o.message]), [['install', 'failed', 'install failed: disk full']]);

    const again = fold(goal(['A', 'enabled']), { type: 'restored', handler: 'A', operations: journal.operations, outcome: journal.outcome, restarts: 0, gaveUp: null });
    assert.deepEqual(again.rows(T0), s.rows(T0), 'the same row from the journal');
    assert.equal(again.journalsPending, false, 'restoring writes nothing');
  });

  test('a handler no longer shown has its journal removed (null); before any goal nothing is forgotten', () => {
    const s = fold({ type: 'restored', handler: 'Old', operations: [], outcome: { failure: { code: 1007, message: 'x' }, note: null }, restarts: 0, gaveUp: null });
    s.fold(sample(T0, {}));
    assert.equal(s.journalsPending, false, 'kept until a goal says whether it is wanted');
    s.fold(goal(['Old', 'enabled']));
    assert.deepEqual([rowOf(s, 'Old').status, rowOf(s, 'Old').code], ['Failed', 1007]);
    s.fold(goal());
    assert.deepEqual(s.takeJournals(), [{ name: 'Old', journal: null }]);
  });
});

describe('process samples', () => {
  test('a sample sets pids, cpu, memory and uptime; handlers absent from the next sample get zeros', () => {
    const s = fold(rec('A', 'Enabled'), rec('B', 'Enabled'));
    assert.deepEqual([rowOf(s, 'A').pids, rowOf(s, 'A').cpuPercent, rowOf(s, 'A').memoryBytes, rowOf(s, 'A').uptimeSeconds], [[], 0, 0, null]);
    s.fold(sample(T0, { A: { pids: [10, 11], cpuPercent: 12.5, memoryBytes: 4096, oldestStartMs: T0 - 90_000 }, B: { pids: [20], cpuPercent: 1, memoryBytes: 1, oldestStartMs: null } }));
    const a = rowOf(s, 'A', T0 + 10_000);
    assert.deepEqual([a.pids, a.cpuPercent, a.memoryBytes, a.uptimeSeconds], [[10, 11], 12.5, 4096, 100]);
    assert.equal(rowOf(s, 'B').uptimeSeconds, null);
    s.fold(sample(T0 + 5000, { B: { pids: [20], cpuPercent: 2, memoryBytes: 2, oldestStartMs: T0 } }));
    const a2 = rowOf(s, 'A');
    assert.deepEqual([a2.pids, a2.cpuPercent, a2.memoryBytes, a2.uptimeSeconds], [[], 0, 0, null]);
    assert.equal(rowOf(s, 'B').cpuPercent, 2);
  });

  test('an uninstalled handler whose processes live on stays shown until they exit', () => {
    const s = fold(rec('A', 'Enabled'), goal(['A', 'uninstall']), rec('A', 'NotInstalled'));
    assert.deepEqual(names(s), []);
    s.fold(sample(T0, { A: { pids: [77], cpuPercent: 0, memoryBytes: 10, oldestStartMs: T0 } }));
    const r = rowOf(s, 'A');
    assert.deepEqual([r.state, r.pids, r.desiredState], ['NotInstalled', [77], 'uninstall']);
    s.fold(sample(T0 + 1000, {}));
    assert.deepEqual(names(s), []);
  });

  test('apply says whether the report may have changed: a sample only when it shows or hides a handler, or a row counts time', () => {
    const s = fold(rec('A', 'Enabled'), goal(['A', 'enabled'], ['B', 'uninstall']), rec('B', 'NotInstalled'));
    assert.equal(s.fold(settled('A')), true, 'every other event may');
    const pids = (p: number[]): ProcessSample => ({ pids: p, cpuPercent: 1, memoryBytes: 1, oldestStartMs: T0 });
    assert.equal(s.fold(sample(T0, { A: pids([10]) })), false, 'A was shown already: cpu and pids are not in the report');
    assert.equal(s.fold(sample(T0 + 5000, { A: pids([10, 11]) })), false);
    assert.equal(s.fold(sample(T0 + 10_000, { A: pids([10]), B: pids([20]) })), true, 'B shows again while its processes live');
    assert.equal(s.fold(sample(T0 + 15_000, { A: pids([10]), B: pids([20]) })), false);
    assert.equal(s.fold(sample(T0 + 20_000, { A: pids([10]) })), true, 'B is gone');
    s.fold({ type: 'watch', handler: 'A', spec: spec('A') });
    s.fold(hb('A', 'stale', { mtimeMs: T0 }));
    assert.equal(s.fold(sample(T0 + 25_000, { A: pids([10]) })), false, 'a stale heartbeat names a time, not an age: time alone changes no report');
    assert.equal(s.fold({ type: 'heartbeatSeen', handler: 'A', mtimeMs: T0 }), false);
  });
});

describe('extension statuses', () => {
  test('an extension status becomes an extension row with its substatus', () => {
    const s = fold(rec('A', 'Enabled'), ext('A', 'default', 3, extStatus('success', 0, 'done', [{ name: 'step1', status: 'warning', code: 2, message: 'meh' }])));
    assert.deepEqual(rowOf(s, 'A').extensions, [{ name: 'default', sequenceNumber: 3, status: 'success', code: 0, message: 'done',
      substatus: [{ name: 'step1', status: 'warning', code: 2, message: 'meh' }] }]);
  });

  test('a newer sequence number replaces the older one; a late older one does not come back', () => {
    const s = fold(rec('A', 'Enabled'), ext('A', 'default', 3, extStatus('success')), ext('A', 'default', 4, extStatus('transitioning')));
    assert.deepEqual(rowOf(s, 'A').extensions.map((x) => [x.sequenceNumber, x.status]), [[4, 'transitioning']]);
    s.fold(ext('A', 'default', 3, extStatus('error', 1012)));
    assert.deepEqual(rowOf(s, 'A').extensions.map((x) => [x.sequenceNumber, x.status]), [[4, 'transitioning']]);
    s.fold(ext('A', 'default', 4, extStatus('success', 0, 'ok')));
    assert.deepEqual(rowOf(s, 'A').extensions.map((x) => [x.sequenceNumber, x.status]), [[4, 'success']]);
  });

  test('a lower sequence number the watch spec names as current is accepted (a sequence reset)', () => {
    const s = fold(rec('A', 'Enabled'), ext('A', 'default', 9, extStatus('success')),
      { type: 'watch', handler: 'A', spec: spec('A', { extensions: [{ name: 'default', sequenceNumber: 0 }] }) }, ext('A', 'default', 0, extStatus('transitioning')));
    assert.deepEqual(rowOf(s, 'A').extensions.map((x) => x.sequenceNumber), [0]);
  });

  test('several extensions are sorted by name; a watch spec that no longer names one drops its row', () => {
    const s = fold(rec('A', 'Enabled'), ext('A', 'zeta', 1, extStatus('success')), ext('A', 'alpha', 2, extStatus('error', 5, 'bad')));
    assert.deepEqual(rowOf(s, 'A').extensions.map((x) => x.name), ['alpha', 'zeta']);
    s.fold({ type: 'watch', handler: 'A', spec: spec('A', { multiConfig: true, extensions: [{ name: 'zeta', sequenceNumber: 1 }] }) });
    assert.deepEqual(rowOf(s, 'A').extensions.map((x) => x.name), ['zeta']);
  });

  test('an uninstall that is reinstalled starts with no old extension rows or heartbeat', () => {
    const s = fold(goal(['A', 'enabled']), rec('A', 'Enabled'), ext('A', 'default', 5, extStatus('success')),
      hb('A', 'fresh', { heartbeat: { status: 'ready', code: 0, message: '' }, mtimeMs: T0 }), rec('A', 'NotInstalled'));
    const r = rowOf(s, 'A');
    assert.deepEqual([r.state, r.extensions, r.heartbeat, r.heartbeatAgeSeconds], ['NotInstalled', [], null, null]);
  });
});
