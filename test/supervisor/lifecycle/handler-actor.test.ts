import { after, afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ActorSystem, type ActorRef } from '../../../src/actors/actor.js';
import { ManualClock } from '../../../src/core/clock.js';
import { ensureDir, libIdOf } from '../../../src/storage/dirs.js';
import { parseGoalState, type HandlerGoal } from '../../../src/supervisor/goal/goal-state.js';
import { Gate } from '../../../src/supervisor/lifecycle/gate.js';
import { handlerBehavior, type Dependency, type HandlerApplyResult, type HandlerMessage } from '../../../src/supervisor/lifecycle/handler-actor.js';
import { StateStore } from '../../../src/supervisor/lifecycle/record-store.js';
import type { HandlerRecord } from '../../../src/supervisor/lifecycle/record.js';
import type { MonitorEvent } from '../../../src/supervisor/monitor/types.js';
import { closePackagePool } from '../../../src/supervisor/packages/pool.js';
import { Workspace, handlerEntry, opsOf, maxOverlap, type BuiltPackage } from '../../helpers/handlers.js';
import { killLeftovers, liveProcesses } from '../../helpers/fleet.js';

after(() => closePackagePool());

const T0 = Date.UTC(2024, 4, 1, 12, 0, 0, 0);

/**
 * One line per fact the actor tells (operations, records, watch specs), or null for the rest. How a
 * handler's visible status is told is being reworked; the status is checked on the apply's result.
 */
function line(e: MonitorEvent): string | null {
  switch (e.type) {
    case 'operationStarted': return `started ${e.op} ${e.version}${e.extension ? ` ${e.extension}` : ''}`;
    case 'operationEnded': return `ended ${e.result.op} ${e.result.result}`;
    case 'recordChanged': return `record ${e.record.state} ${e.record.version ?? '-'}${e.record.pending ? ` pending ${e.record.pending.done}/${e.record.pending.steps.length}` : ''}`;
    case 'watch': return `watch ${e.spec ? `${e.spec.state} ${e.spec.version}` : 'none'}`;
    default: return null;
  }
}

class Rig {
  readonly clock = new ManualClock(T0);
  readonly events: MonitorEvent[] = [];
  readonly abort = new AbortController();
  readonly system = new ActorSystem({ clock: this.clock, askTimeoutMs: Infinity });
  readonly store: StateStore;
  readonly gates = { install: new Gate('install', 1), enable: new Gate('enable', 16), fetch: new Gate('fetch', 8) };
  readonly #refs = new Map<string, ActorRef<HandlerMessage>>();
  #waiters: Array<{ pred: (e: MonitorEvent) => boolean; resolve: (e: MonitorEvent) => void }> = [];
  readonly #emit = (e: MonitorEvent): void => {
    this.events.push(e);
    this.#waiters = this.#waiters.filter((w) => (w.pred(e) ? (w.resolve(e), false) : true));
  };

  constructor(readonly ws: Workspace) {
    this.store = new StateStore(ws.dirs);
  }

  ref(name: string): ActorRef<HandlerMessage> {
    let ref = this.#refs.get(name);
    if (!ref) {
      ref = this.system.spawn<HandlerMessage>(`handler:${name}`, handlerBehavior(name, {
        // A long grace on the manual clock: driveClock must not reach SIGKILL before SIGTERM has worked.
        dirs: this.ws.dirs, libId: libIdOf(this.ws.libDir), gates: this.gates, graceMs: 5000, clock: this.clock,
        signal: this.abort.signal, store: this.store, emit: this.#emit,
      }));
      this.#refs.set(name, ref);
    }
    return ref;
  }

  apply(goal: HandlerGoal, dependencies: readonly Dependency[] = []): Promise<HandlerApplyResult> {
    return this.ref(goal.name).ask<HandlerApplyResult>((reply) => ({ type: 'apply', goal, dependencies, reply }));
  }

  describe(name: string, goal: HandlerGoal | null = null): Promise<HandlerRecord> {
    return this.ref(name).ask<HandlerRecord>((reply) => ({ type: 'describe', goal, reply }));
  }

  restart(name: string): Promise<{ ok: boolean; message: string }> {
    return this.ref(name).ask((reply) => ({ type: 'restart', reply }));
  }

  /** Fact lines of one handler from event index `from` on. */
  lines(handler: string, from = 0): string[] {
    return this.events.slice(from).filter((e) => 'handler' in e && e.handler === handler).map(line).filter((l): l is string => l !== null);
  }

  of<T extends MonitorEvent['type']>(type: T, handler: string): Extract<MonitorEvent, { type: T }>[] {
    return this.events.filter((e): e is Extract<MonitorEvent, { type: T }> => e.type === type && 'handler' in e && e.handler === handler);
  }

  /** Resolves with the first event (from index `from`) that matches: waiting for something to happen, never for time. */
  until(pred: (e: MonitorEvent) => boolean, from = 0): Promise<MonitorEvent> {
    const found = this.events.slice(from).find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve) => this.#waiters.push({ pred, resolve }));
  }

  /** The record as a restarted supervisor would read it. */
  onDisk(name: string): Promise<HandlerRecord> {
    return new StateStore(this.ws.dirs).load(name);
  }
}

function goalOf(name: string, pkgs: readonly BuiltPackage[], over: Record<string, unknown> = {}): HandlerGoal {
  return parseGoalState(JSON.stringify({ handlers: [handlerEntry(name, pkgs, over)] }), 'goal.json').handlers[0]!;
}

/** Dep and App (which depends on Dep) from one goal state, as the fleet would hand them out. */
function dependentGoals(dep: BuiltPackage, app: BuiltPackage): { dep: HandlerGoal; app: HandlerGoal } {
  const goal = parseGoalState(JSON.stringify({ handlers: [handlerEntry('Dep', [dep]), handlerEntry('App', [app], { dependsOn: ['Dep'] })] }), 'goal.json');
  return { dep: goal.handlers[0]!, app: goal.handlers[1]! };
}

/**
 * Moves the injected clock on while `p` is unsettled, but only when a timer waits on it: a command
 * being ended polls for its processes on the clock, and time must not run ahead of those real looks.
 */
async function driveClock<T>(clock: ManualClock, p: Promise<T>): Promise<T> {
  let settled = false;
  void p.then(() => { settled = true; }, () => { settled = true; });
  while (!settled) {
    if (clock.pending() > 0) await clock.advanceAsync(10);
    else await new Promise((resolve) => setImmediate(resolve));
  }
  return p;
}

const started = (handler: string, op: string) => (e: MonitorEvent): boolean =>
  e.type === 'operationStarted' && e.handler === handler && e.op === op;

/** Consecutive duplicates dropped: the states a record went through. */
const path = (xs: readonly string[]): string[] => xs.filter((x, i) => x !== xs[i - 1]);

/** "handler op" of every command start in the fixture log, in the order they ran. */
const commands = async (ws: Workspace): Promise<string[]> =>
  (await ws.log()).filter((l) => l.phase === 'start').map((l) => `${l.handler} ${l.op}`);

describe('handler actor', () => {
  let ws: Workspace;
  let r: Rig;

  beforeEach(async () => {
    ws = await Workspace.create('handler-actor-');
    await ensureDir(ws.libDir, 0o700);
    await ensureDir(ws.logDir, 0o700);
    r = new Rig(ws);
  });
  afterEach(async () => {
    await r.system.stop();
    await killLeftovers(ws);
    await ws.dispose();
  });

  test('a fresh install: fetch, install, enable in order, told as events; the record on disk is the last one announced', async () => {
    const pkg = await ws.package({ name: 'Contoso.A', version: '1.0.0' });
    const res = await r.apply(goalOf('Contoso.A', [pkg]));

    assert.equal(res.reached, true, res.status.message);
    assert.equal(res.action, 'install');
    assert.equal(res.failure, null);
    assert.deepEqual(res.operations.map((o) => `${o.op} ${o.result}`), ['fetch succeeded', 'install succeeded', 'enable succeeded']);
    assert.deepEqual(opsOf(await ws.log()), ['install 1.0.0', 'enable 1.0.0']);

    const lines = r.lines('Contoso.A');
    assert.deepEqual(lines.filter((l) => l.startsWith('started') || l.startsWith('ended')), [
      'started fetch 1.0.0', 'ended fetch succeeded', 'started install 1.0.0', 'ended install succeeded', 'started enable 1.0.0', 'ended enable succeeded',
    ]);
    assert.deepEqual(res.status, { status: 'Ready', code: 0, message: 'Plugin enabled' });
    for (const e of r.of('operationStarted', 'Contoso.A')) assert.equal(e.startedAt, T0, 'times come from the injected clock');

    const records = r.of('recordChanged', 'Contoso.A').map((e) => e.record);
    assert.deepEqual(path(records.map((x) => x.state)).slice(-2), ['Installed', 'Enabled'], 'installed, then enabled, never back');
    const last = records.at(-1)!;
    assert.equal(last.pending, null, 'the plan is over');
    assert.equal(last.enabledAt, T0);
    assert.deepEqual(await r.onDisk('Contoso.A'), last);
    assert.deepEqual(res.record, last);

    assert.equal(lines.at(-1), 'watch Enabled 1.0.0', 'the monitors are told last, once the handler is at rest');
    const spec = r.of('watch', 'Contoso.A').at(-1)!.spec!;
    assert.equal(spec.dir, join(ws.libDir, 'Contoso.A-1.0.0'));
    assert.equal(spec.enabledAt, T0);
    assert.deepEqual(spec.extensions, [{ name: 'default', sequenceNumber: 1 }]);
  });

  test('the same goal again runs nothing, writes nothing, and says Ready', async () => {
    const pkg = await ws.package({ name: 'Contoso.A', version: '1.0.0' });
    const goal = goalOf('Contoso.A', [pkg]);
    await r.apply(goal);
    const stateFile = join(ws.libDir, 'state', 'Contoso.A.json');
    const before = { text: await readFile(stateFile, 'utf8'), log: (await ws.log()).length, events: r.events.length };
    const res = await r.apply(goal);
    assert.equal(res.action, 'none');
    assert.equal(res.reached, true);
    assert.deepEqual(res.operations, []);
    assert.deepEqual(r.lines('Contoso.A', before.events), ['watch Enabled 1.0.0'], 'no operation, no record change: the monitors are told again');
    assert.deepEqual(res.status, { status: 'Ready', code: 0, message: 'Plugin enabled' });
    assert.equal((await ws.log()).length, before.log);
    assert.equal(await readFile(stateFile, 'utf8'), before.text);
  });

  test('a failing enable: Failed with the enable code and exit code; the install is kept; the next apply tries enable again', async () => {
    const pkg = await ws.package({ name: 'Contoso.B', version: '1.0.0', behavior: { enable: 'echo broken >&2\nrc=3' } });
    const goal = goalOf('Contoso.B', [pkg]);
    const res = await r.apply(goal);
    assert.equal(res.reached, false);
    assert.equal(res.failure?.op, 'enable');
    assert.equal(res.failure?.exitCode, 3);
    assert.equal(res.status.status, 'Failed');
    assert.equal(res.status.code, 1009);
    assert.match(res.status.message, /^enable failed with exit code 3/);
    assert.match(res.status.message, /broken/, 'the tail of stderr says why');
    const lines = r.lines('Contoso.B');
    assert.ok(lines.includes('ended enable failed'));
    const disk = await r.onDisk('Contoso.B');
    assert.equal(disk.state, 'Installed');
    assert.equal(disk.version, '1.0.0');
    assert.equal(disk.pending, null);
    assert.equal(lines.at(-1), 'watch Installed 1.0.0');

    const again = await r.apply(goal);
    assert.equal(again.reached, false);
    assert.deepEqual(opsOf(await ws.log()), ['install 1.0.0', 'enable 1.0.0', 'enable 1.0.0'], 'install is not repeated; enable is');
  });

  test('a failing fresh install leaves a NotInstalled record naming its dir and says Failed with the install code', async () => {
    const pkg = await ws.package({ name: 'Contoso.C', version: '1.0.0', behavior: { install: 'rc=4' } });
    const res = await r.apply(goalOf('Contoso.C', [pkg]));
    assert.equal(res.reached, false);
    assert.equal(res.status.status, 'Failed');
    assert.equal(res.status.code, 1007);
    assert.match(res.status.message, /^install failed with exit code 4/);
    assert.deepEqual(opsOf(await ws.log()), ['install 1.0.0'], 'enable is not attempted');
    assert.deepEqual(await r.store.names(), ['Contoso.C'], 'the record keeps the failure (issue 17 item 3)');
    assert.equal((await r.store.load('Contoso.C')).version, '1.0.0', 'so that uninstall removes the staged dir');
    assert.equal(r.of('recordChanged', 'Contoso.C').at(-1)?.record.state, 'NotInstalled');
    assert.equal(r.lines('Contoso.C').at(-1), 'watch none');
  });

  test('a goal no package satisfies fails at once, naming the version, and runs nothing', async () => {
    const pkg = await ws.package({ name: 'Contoso.D', version: '1.0.0' });
    const res = await r.apply(goalOf('Contoso.D', [pkg], { version: '2.0' }));
    assert.equal(res.reached, false);
    assert.equal(res.action, 'error');
    assert.equal(res.status.code, 1000);
    assert.match(res.status.message, /^no package matches version 2\.0 .*available: 1\.0\.0$/);
    assert.deepEqual(await ws.log(), []);
    assert.deepEqual(r.lines('Contoso.D'), [], 'no operation, no record');
  });

  test('a dependency that did not reach its goal blocks the dependent: nothing of it runs, and its status names the dependency', async () => {
    const dep = await ws.package({ name: 'Dep', version: '1.0.0', behavior: { enable: 'echo first line\necho second line\nrc=2' } });
    const app = await ws.package({ name: 'App', version: '1.0.0' });
    const goals = dependentGoals(dep, app);
    const depResult = r.apply(goals.dep);
    const res = await r.apply(goals.app, [{ name: 'Dep', result: depResult }]);
    const depStatus = (await depResult).status.message;
    assert.equal(res.action, 'blocked');
    assert.equal(res.reached, false);
    assert.equal(res.status.status, 'Failed');
    assert.equal(res.status.code, 1000);
    assert.equal(res.status.message, `not attempted: dependency "Dep" (${depStatus.split('\n')[0]}) did not reach its goal`);
    assert.deepEqual(await commands(ws), ['Dep install', 'Dep enable']);
    assert.deepEqual(await r.store.names(), ['Dep']);
    assert.deepEqual(r.lines('App'), [], 'no operation, no record');
  });

  test('a dependent starts only once its dependency is done', async () => {
    const dep = await ws.package({ name: 'Dep', version: '1.0.0' });
    const app = await ws.package({ name: 'App', version: '1.0.0' });
    const goals = dependentGoals(dep, app);
    const depResult = r.apply(goals.dep);
    const res = await r.apply(goals.app, [{ name: 'Dep', result: depResult }]);
    assert.equal(res.reached, true, res.status.message);
    assert.deepEqual(await commands(ws), ['Dep install', 'Dep enable', 'App install', 'App enable']);
    const firstOfApp = r.events.findIndex((e) => 'handler' in e && e.handler === 'App');
    const lastOfDep = r.events.findLastIndex((e) => 'handler' in e && e.handler === 'Dep');
    assert.ok(firstOfApp > lastOfDep, 'App says nothing before Dep is at rest');
  });

  test('messages sent during an apply wait their turn: describe sees its outcome, a second goal runs after it', async () => {
    const pkg = await ws.package({ name: 'Contoso.Q', version: '1.0.0' });
    const first = r.apply(goalOf('Contoso.Q', [pkg]));
    const described = r.describe('Contoso.Q');
    const second = r.apply(goalOf('Contoso.Q', [pkg], { state: 'disabled' }));
    const [one, record, two] = await Promise.all([first, described, second]);
    assert.equal(one.record.state, 'Enabled');
    assert.equal(record.state, 'Enabled', 'describe ran after the first apply, not beside it');
    assert.equal(two.action, 'disable');
    assert.equal(two.record.state, 'Installed');
    const log = await ws.log();
    assert.deepEqual(opsOf(log), ['install 1.0.0', 'enable 1.0.0', 'disable 1.0.0']);
    assert.equal(maxOverlap(log), 1, 'never two commands of one handler at once');
    const lines = r.lines('Contoso.Q');
    const settled = lines.indexOf('watch Enabled 1.0.0');
    const describedAt = lines.indexOf('record Enabled 1.0.0', settled);
    const disabling = lines.indexOf('started disable 1.0.0');
    assert.ok(settled >= 0 && settled < describedAt && describedAt < disabling, lines.join('\n'));
    assert.equal(lines.at(-1), 'watch Installed 1.0.0');
  });

  test('describe announces a handler as it is on disk and runs nothing', async () => {
    const pkg = await ws.package({ name: 'Contoso.A', version: '1.0.0' });
    await r.apply(goalOf('Contoso.A', [pkg]));
    // A restarted supervisor: a new actor over the same lib dir.
    await r.system.stop();
    r = new Rig(ws);
    const logBefore = (await ws.log()).length;
    const record = await r.describe('Contoso.A');
    assert.equal(record.state, 'Enabled');
    assert.deepEqual(r.lines('Contoso.A'), ['record Enabled 1.0.0', 'watch Enabled 1.0.0']);
    assert.deepEqual(r.of('watch', 'Contoso.A')[0]!.spec!.extensions, [{ name: 'default', sequenceNumber: 1 }], 'from the record when no goal is known');
    assert.equal((await ws.log()).length, logBefore);

    assert.equal((await r.describe('Nobody')).state, 'NotInstalled');
    assert.deepEqual(r.lines('Nobody'), ['record NotInstalled -', 'watch none']);
  });

  test('restart (the heartbeat watchdog) runs disable then enable and says so; without a goal it refuses', async () => {
    const pkg = await ws.package({ name: 'Contoso.R', version: '1.0.0' });
    assert.deepEqual(await r.restart('Contoso.R'), { ok: false, message: 'not restarted: Contoso.R is NotInstalled' });
    await r.apply(goalOf('Contoso.R', [pkg]));
    const from = r.events.length;
    assert.deepEqual(await r.restart('Contoso.R'), { ok: true, message: 'restarted (disable + enable)' });
    assert.deepEqual(opsOf(await ws.log()), ['install 1.0.0', 'enable 1.0.0', 'disable 1.0.0', 'enable 1.0.0']);
    assert.deepEqual(r.lines('Contoso.R', from).filter((l) => !l.startsWith('record')),
      ['started disable 1.0.0', 'ended disable succeeded', 'started enable 1.0.0', 'ended enable succeeded', 'watch Enabled 1.0.0']);
    assert.equal((await r.onDisk('Contoso.R')).state, 'Enabled');
  });

  test('a command past its timeout on the injected clock is ended: timedOut, code 1011, nothing left running', async () => {
    const pkg = await ws.package({ name: 'Contoso.T', version: '1.0.0', behavior: { enable: 'sleep 60' } });
    const applied = r.apply(goalOf('Contoso.T', [pkg], { timeouts: { enable: 5 } }));
    await r.until(started('Contoso.T', 'enable'));
    r.clock.advance(5000);
    const res = await driveClock(r.clock, applied);
    assert.equal(res.failure?.result, 'timedOut');
    assert.equal(res.status.status, 'Failed');
    assert.equal(res.status.code, 1011);
    assert.match(res.status.message, /^enable timed out after 5 s/);
    // The kill was sent; the driven clock skips the real wait for the kernel to carry it out, which
    // a loaded machine can take a moment to do (a CI run saw the sleep still there): wait for it, bounded.
    // A `sleep 60` never ends by itself within the bound, so its absence still proves the kill.
    for (const until = Date.now() + 10_000; (await liveProcesses(ws)).get('Contoso.T') !== undefined && Date.now() < until;) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal((await liveProcesses(ws)).get('Contoso.T'), undefined);
    assert.equal((await r.onDisk('Contoso.T')).state, 'Installed');
  });

  test('cancelling (the supervisor stopping) ends the running command; what is queued behind it runs nothing; stop then resolves', async () => {
    const pkg = await ws.package({ name: 'Contoso.S', version: '1.0.0', behavior: { enable: 'sleep 60' } });
    const applied = r.apply(goalOf('Contoso.S', [pkg]));
    const queued = r.apply(goalOf('Contoso.S', [pkg], { extensions: [{ name: 'default', sequenceNumber: 2 }] }));
    await r.until(started('Contoso.S', 'enable'));
    r.abort.abort(new Error('the supervisor is stopping'));
    const stopped = r.ref('Contoso.S').stop();
    const [res, next] = await driveClock(r.clock, Promise.all([applied, queued]));
    await stopped;
    assert.equal(res.status.status, 'Failed');
    assert.match(res.status.message, /^enable canceled: the supervisor is stopping/);
    assert.equal(next.reached, false);
    assert.equal(next.status.message, 'not run: the supervisor is stopping');
    // The enable may be ended before its script logged a line: the events say what was started.
    assert.deepEqual(r.of('operationStarted', 'Contoso.S').map((e) => e.op), ['fetch', 'install', 'enable'], 'the queued goal started nothing');
    assert.ok(opsOf(await ws.log()).filter((o) => o.startsWith('enable')).length <= 1);
    assert.equal((await liveProcesses(ws)).get('Contoso.S'), undefined);
    assert.equal(r.ref('Contoso.S').stopped, true);
    const dead = r.system.deadLetters;
    r.ref('Contoso.S').tell({ type: 'restart', reply: { resolve: () => {}, reject: () => {} } });
    assert.equal(r.system.deadLetters, dead + 1, 'a stopped handler actor takes no more work');
  });

  test('an I/O error of the supervisor itself fails that apply as a result; the actor goes on', async () => {
    const pkg = await ws.package({ name: 'Contoso.IO', version: '1.0.0' });
    const stateDir = join(ws.libDir, 'state');
    await writeFile(stateDir, 'a file where the state folder goes');
    const res = await r.apply(goalOf('Contoso.IO', [pkg]));
    assert.equal(res.action, 'error');
    assert.equal(res.reached, false);
    assert.equal(res.status.status, 'Failed');
    assert.equal(res.status.code, 1000);
    assert.match(res.status.message, /^supervisor error: .*state/);
    await rm(stateDir);
    const again = await r.apply(goalOf('Contoso.IO', [pkg]));
    assert.equal(again.reached, true, again.status.message);
    assert.equal((await r.onDisk('Contoso.IO')).state, 'Enabled');
  });
});
