// The lifecycle decision, one row per case of CONTRACT section 4: a step's outcome in, the event and effects out.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { commandSkipped, decide, type Decision, type DecisionInput, type Effect, type Next, type StepOutcome } from '../../../src/supervisor/lifecycle/decide.js';
import { emptyRecord, transition, type HandlerRecord, type LifecycleEvent } from '../../../src/supervisor/lifecycle/record.js';
import { planHandler } from '../../../src/supervisor/lifecycle/plan.js';
import { enabledSnapshot, type ExtensionSettings } from '../../../src/supervisor/lifecycle/settings-hash.js';
import type { CommandName, HandlerPlan, PlanStep } from '../../../src/supervisor/lifecycle/steps.js';
import type { OperationResult } from '../../../src/supervisor/lifecycle/events.js';
import type { CommandManifest, HandlerManifest, ScriptManifest } from '../../../src/protocol/manifest.js';

const AT = 1_700_000_000_000;
const ext = (name: string, seq: number, a = 1): ExtensionSettings =>
  ({ name, sequenceNumber: seq, publicSettings: { a }, protectedSettings: null, protectedSettingsCertThumbprint: null });

function rec(state: HandlerRecord['state'], version = '1.0', exts: ExtensionSettings[] = [ext('default', 1)]): HandlerRecord {
  const r = emptyRecord('H');
  if (state === 'NotInstalled') return r;
  const installed = transition(r, { type: 'installed', version, form: 'command' });
  if (state === 'Enabled') return transition(installed, { type: 'enabled', extensions: enabledSnapshot(exts), at: 1 });
  // FailedUpgrade: `version` is the new version that failed, 1.0 the old one still on disk.
  if (state === 'FailedUpgrade') return transition(installed, { type: 'upgradeFailed', version, previousVersion: '1.0', form: 'command' });
  return installed;
}

const cmd = (over: Partial<CommandManifest> = {}): CommandManifest => ({ form: 'command', name: 'H', version: '1.0',
  installCommand: 'i', uninstallCommand: 'u', updateCommand: 'up', enableCommand: 'e', disableCommand: 'd', reportHeartbeat: false,
  updateMode: 'UpdateWithInstall', continueOnUpdateFailure: false, supportsMultipleExtensions: false, rebootAfterInstall: false, ...over });
const script: ScriptManifest = { form: 'script', name: 'H', version: '1.0', scriptFileName: 'x.sh', arguments: '', installedCriteria: null, reportHeartbeat: false };
const continueOnUpdateFailure = cmd({ continueOnUpdateFailure: true });

type Plan = Pick<HandlerPlan, 'action' | 'targetVersion' | 'fromVersion'>;
const INSTALL: Plan = { action: 'install', targetVersion: '1.0', fromVersion: null };
const ENABLE: Plan = { action: 'enable', targetVersion: '1.0', fromVersion: null };
const DISABLE: Plan = { action: 'disable', targetVersion: '1.0', fromVersion: null };
const UNINSTALL: Plan = { action: 'uninstall', targetVersion: null, fromVersion: '1.0' };
const UNINSTALL_FAILED: Plan = { action: 'uninstall', targetVersion: null, fromVersion: '2.0' };
const UPGRADE: Plan = { action: 'upgrade', targetVersion: '2.0', fromVersion: '1.0' };
const DOWNGRADE: Plan = { action: 'downgrade', targetVersion: '0.9', fromVersion: '1.0' };
const ROLLBACK: Plan = { action: 'rollback', targetVersion: '1.0', fromVersion: '2.0' };

const command = (op: CommandName, version: string, role: 'current' | 'old' | 'new' = 'current', extensions: string[] = []): PlanStep =>
  ({ kind: 'command', op, version, role, extensions });
const dropped = (names: string[]): PlanStep => ({ kind: 'command', op: 'disable', version: '1.0', role: 'current', extensions: names,
  dropped: names.map((name) => ({ name, sequenceNumber: 1 })) });
const failure = (op: CommandName | 'fetch', exitCode: number | null, code: number): OperationResult => ({ op, version: '1.0', extension: null,
  result: exitCode === null ? 'timedOut' : 'failed', exitCode, signal: null, code, message: `${op} failed`, startedAt: 1, endedAt: 2, pids: [], unkillable: [] });

const ok = (exitCode = 0): StepOutcome => ({ kind: 'succeeded', exitCode });
const failed = (f: OperationResult): StepOutcome => ({ kind: 'failed', failure: f });
const DONE: StepOutcome = { kind: 'done' };
const stepDone: Effect = { type: 'stepDone' };
const code = (command: 'disable' | 'uninstall', exitCode: number): Effect => ({ type: 'upgradeExitCode', command, exitCode });
const go: Next = { kind: 'continue' };
const ends = (f: OperationResult): Next => ({ kind: 'endPlan', failure: f });

interface Row {
  readonly name: string;
  readonly record: HandlerRecord;
  readonly plan: Plan;
  readonly step: PlanStep;
  readonly outcome: StepOutcome;
  readonly manifest?: HandlerManifest;
  readonly newManifest?: HandlerManifest | null;
  readonly extensions?: ExtensionSettings[];
  readonly expect: Decision;
}

const row = (name: string, given: Omit<Row, 'name' | 'expect'>, event: LifecycleEvent | null, effects: Effect[], next: Next): Row =>
  ({ name, ...given, expect: { event, effects, next } });

function inputOf(r: Row): DecisionInput {
  return { record: r.record, plan: r.plan, step: r.step, outcome: r.outcome, manifest: r.manifest ?? cmd(), newManifest: r.newManifest ?? null,
    extensions: r.extensions ?? [ext('default', 1)], at: AT };
}

const installFailed = failure('install', 4, 1007);
const enableFailed = failure('enable', 1, 1009);
const disableFailed = failure('disable', 7, 1010);
const disableTimedOut = failure('disable', null, 1011);
const updateFailed = failure('update', 3, 1008);
const uninstallFailed = failure('uninstall', 5, 1000);
const fetchFailed = failure('fetch', null, 1001);
const manifestMissing = failure('install', null, 1002);
const stopping = failure('fetch', null, 1000);
const gone = (op: CommandName): StepOutcome => ({ kind: 'gone', failure: failure(op, null, 1002) });
const three = [ext('a', 2), ext('b', 1)];

const groups: Record<string, Row[]> = {
  'enabled: NotInstalled → fetch, settings, install, enable': [
    row('fetch, prepare done: go on, nothing to write', { record: rec('NotInstalled'), plan: INSTALL, step: { kind: 'prepare', version: '1.0' }, outcome: DONE }, null, [], go),
    row('install succeeds: Installed', { record: rec('NotInstalled'), plan: INSTALL, step: command('install', '1.0'), outcome: ok() },
      { type: 'installed', version: '1.0', form: 'command' }, [stepDone], go),
    row('install of a script-form handler: Installed, form script', { record: rec('NotInstalled'), plan: INSTALL, step: command('install', '1.0'), outcome: ok(), manifest: script },
      { type: 'installed', version: '1.0', form: 'script' }, [stepDone], go),
    row('install fails (1007): the plan ends, NotInstalled (its staged dir remembered for uninstall), enable not run',
      { record: rec('NotInstalled'), plan: INSTALL, step: command('install', '1.0'), outcome: failed(installFailed) },
      { type: 'installFailed', version: '1.0', form: 'command' }, [], ends(installFailed)),
    row('enable succeeds: Enabled with the settings it saw', { record: rec('Installed'), plan: INSTALL, step: command('enable', '1.0', 'current', ['default']), outcome: ok() },
      { type: 'enabled', extensions: enabledSnapshot([ext('default', 1)]), at: AT }, [stepDone], go),
    row('enable fails (1009): the plan ends, still Installed', { record: rec('Installed'), plan: ENABLE, step: command('enable', '1.0', 'current', ['default']), outcome: failed(enableFailed) },
      null, [], ends(enableFailed)),
    row('every uri fails (1001): the plan ends, nothing changes', { record: rec('NotInstalled'), plan: INSTALL, step: { kind: 'fetch', version: '1.0', pkg: { version: '1.0', sha256: '', uris: [] } },
      outcome: { kind: 'error', failure: fetchFailed } }, null, [], ends(fetchFailed)),
    row('bad manifest (1002) before a command: the plan ends, the staged dir remembered', { record: rec('NotInstalled'), plan: INSTALL, step: command('install', '1.0'), outcome: { kind: 'error', failure: manifestMissing } },
      { type: 'installFailed', version: '1.0', form: 'command' }, [], ends(manifestMissing)),
    row('settings cannot be written (prepare): the plan ends, the staged dir remembered', { record: rec('NotInstalled'), plan: INSTALL, step: { kind: 'prepare', version: '1.0' },
      outcome: { kind: 'error', failure: manifestMissing } }, { type: 'installFailed', version: '1.0', form: 'command' }, [], ends(manifestMissing)),
  ],
  'enabled: Enabled → enable again when a sequence number rose or settings changed (multi-config: per extension)': [
    row('enable of the changed extension: its snapshot replaced, the others kept, dropped ones forgotten',
      { record: rec('Enabled', '1.0', [ext('a', 1), ext('b', 1), ext('c', 1)]), plan: ENABLE, step: command('enable', '1.0', 'current', ['a']), outcome: ok(), extensions: three },
      { type: 'enabled', extensions: { ...enabledSnapshot([ext('b', 1)]), ...enabledSnapshot([ext('a', 2)]) }, at: AT }, [stepDone], go),
    row('one extension\'s enable fails: the plan ends, no snapshot changes',
      { record: rec('Enabled', '1.0', [ext('a', 1), ext('b', 1)]), plan: ENABLE, step: command('enable', '1.0', 'current', ['a', 'b']), outcome: failed(enableFailed), extensions: three },
      null, [], ends(enableFailed)),
  ],
  'enabled: an extension the goal dropped (multi-config) → its own disable, then its files removed': [
    row('disable of the dropped extension succeeds: forgotten, files removed, the handler stays Enabled',
      { record: rec('Enabled', '1.0', [ext('a', 1), ext('b', 1)]), plan: DISABLE, step: dropped(['b']), outcome: ok(), manifest: cmd({ supportsMultipleExtensions: true }), extensions: [ext('a', 1)] },
      { type: 'enabled', extensions: enabledSnapshot([ext('a', 1)]), at: 1 }, [{ type: 'removeExtensionFiles', version: '1.0', extensions: ['b'] }, stepDone], go),
    row('single-config: not run, the extension only forgotten',
      { record: rec('Enabled', '1.0', [ext('a', 1)]), plan: DISABLE, step: dropped(['a']), outcome: { kind: 'skipped' }, extensions: [ext('z', 1)] },
      { type: 'enabled', extensions: {}, at: 1 }, [stepDone], go),
    row('its disable fails (1010): the plan ends, the extension kept for the next goal',
      { record: rec('Enabled', '1.0', [ext('a', 1), ext('b', 1)]), plan: DISABLE, step: dropped(['b']), outcome: failed(disableFailed), manifest: cmd({ supportsMultipleExtensions: true }) },
      null, [], ends(disableFailed)),
  ],
  'disabled: Enabled → disable': [
    row('disable succeeds: Installed', { record: rec('Enabled'), plan: DISABLE, step: command('disable', '1.0', 'current', ['default']), outcome: ok() }, { type: 'disabled' }, [stepDone], go),
    row('multi-config disable of every extension succeeds: Installed', { record: rec('Enabled', '1.0', three), plan: DISABLE, step: command('disable', '1.0', 'current', ['a', 'b']),
      outcome: ok(), extensions: three }, { type: 'disabled' }, [stepDone], go),
    row('disable fails (1010): the plan ends, still Enabled', { record: rec('Enabled'), plan: DISABLE, step: command('disable', '1.0', 'current', ['default']), outcome: failed(disableFailed) },
      null, [], ends(disableFailed)),
    row('disable of a handler that is not Enabled: the step is done, no event', { record: rec('Installed'), plan: DISABLE, step: command('disable', '1.0'), outcome: ok() }, null, [stepDone], go),
  ],
  'uninstall: disable if Enabled, uninstall, then remove the handler dir and its state': [
    row('disable succeeds: Installed', { record: rec('Enabled'), plan: UNINSTALL, step: command('disable', '1.0', 'current', ['default']), outcome: ok() }, { type: 'disabled' }, [stepDone], go),
    row('uninstall succeeds: the step is done', { record: rec('Installed'), plan: UNINSTALL, step: command('uninstall', '1.0'), outcome: ok() }, null, [stepDone], go),
    row('uninstall fails (1000): the plan ends, still Installed', { record: rec('Installed'), plan: UNINSTALL, step: command('uninstall', '1.0'), outcome: failed(uninstallFailed) },
      null, [], ends(uninstallFailed)),
    row('the handler dir removed: NotInstalled', { record: rec('Installed'), plan: UNINSTALL, step: { kind: 'removeDir', version: '1.0', uninstalled: true }, outcome: DONE },
      { type: 'uninstalled' }, [stepDone], go),
    row('after a failed upgrade: old uninstall fails, no upgrade env, the plan ends', { record: rec('FailedUpgrade', '2.0'), plan: UNINSTALL_FAILED, step: command('uninstall', '1.0', 'old'),
      outcome: failed(uninstallFailed), newManifest: continueOnUpdateFailure }, null, [], ends(uninstallFailed)),
    row('after a failed upgrade: the old dir removed, no event', { record: rec('FailedUpgrade', '2.0'), plan: UNINSTALL_FAILED, step: { kind: 'removeDir', version: '1.0' }, outcome: DONE },
      null, [], go),
    row('the handler deleted its dir: disable not run, Installed, goes on', { record: rec('Enabled'), plan: UNINSTALL, step: command('disable', '1.0', 'current', ['default']),
      outcome: gone('disable') }, { type: 'disabled' }, [stepDone], go),
    row('the handler deleted its dir: uninstall not run, goes on to remove what is left', { record: rec('Installed'), plan: UNINSTALL, step: command('uninstall', '1.0'),
      outcome: gone('uninstall') }, null, [stepDone], go),
    row('after a failed upgrade, the old dir gone: its uninstall not run, goes on', { record: rec('FailedUpgrade', '2.0'), plan: UNINSTALL_FAILED,
      step: command('uninstall', '1.0', 'old'), outcome: gone('uninstall') }, null, [stepDone], go),
    row('the dir gone outside an uninstall (disable): the plan ends (1002), still Enabled', { record: rec('Enabled'), plan: DISABLE,
      step: command('disable', '1.0', 'current', ['default']), outcome: gone('disable') }, null, [], ends(failure('disable', null, 1002))),
    row('the dir gone outside an uninstall (enable): the plan ends (1002)', { record: rec('Installed'), plan: ENABLE,
      step: command('enable', '1.0', 'current', ['default']), outcome: gone('enable') }, null, [], ends(failure('enable', null, 1002))),
    row('after a failed upgrade: the new dir removed is the uninstall, not a rollback', { record: rec('FailedUpgrade', '2.0'), plan: UNINSTALL_FAILED,
      step: { kind: 'removeDir', version: '2.0', uninstalled: true }, outcome: DONE }, { type: 'uninstalled' }, [stepDone], go),
  ],
  'upgrade: old disable, copy, new update, old uninstall, remove old, new install, new enable': [
    row('old disable succeeds: Installed, its exit code handed to the new side', { record: rec('Enabled'), plan: UPGRADE, step: command('disable', '1.0', 'old', ['default']), outcome: ok(),
      newManifest: cmd() }, { type: 'disabled' }, [code('disable', 0), stepDone], go),
    row('old disable fails without continueOnUpdateFailure: the upgrade aborts, the fetched new dir is removed', { record: rec('Enabled'), plan: UPGRADE,
      step: command('disable', '1.0', 'old', ['default']), outcome: failed(disableFailed), newManifest: cmd() }, null, [code('disable', 7), { type: 'removeDir', version: '2.0' }], ends(disableFailed)),
    row('old disable fails with continueOnUpdateFailure of the NEW manifest: Installed, goes on, the new side sees its code', { record: rec('Enabled'), plan: UPGRADE,
      step: command('disable', '1.0', 'old', ['default']), outcome: failed(disableFailed), newManifest: continueOnUpdateFailure }, { type: 'disabled' }, [code('disable', 7), stepDone], go),
    row('old disable fails, continueOnUpdateFailure only in the OLD manifest: the upgrade aborts', { record: rec('Enabled'), plan: UPGRADE,
      step: command('disable', '1.0', 'old', ['default']), outcome: failed(disableFailed), manifest: continueOnUpdateFailure, newManifest: cmd() },
      null, [code('disable', 7), { type: 'removeDir', version: '2.0' }], ends(disableFailed)),
    row('old disable fails, the new manifest unreadable: the upgrade aborts', { record: rec('Enabled'), plan: UPGRADE, step: command('disable', '1.0', 'old', ['default']),
      outcome: failed(disableFailed), newManifest: null }, null, [code('disable', 7), { type: 'removeDir', version: '2.0' }], ends(disableFailed)),
    row('old disable times out (1011): exit code -1 for the new side', { record: rec('Enabled'), plan: UPGRADE, step: command('disable', '1.0', 'old', ['default']),
      outcome: failed(disableTimedOut), newManifest: continueOnUpdateFailure }, { type: 'disabled' }, [code('disable', -1), stepDone], go),
    row('copy mrseq and status: go on, nothing to write', { record: rec('Installed'), plan: UPGRADE, step: { kind: 'copyState', from: '1.0', to: '2.0' }, outcome: DONE }, null, [], go),
    row('new update succeeds: the step is done', { record: rec('Installed'), plan: UPGRADE, step: command('update', '2.0', 'new'), outcome: ok() }, null, [stepDone], go),
    row('new update fails: FailedUpgrade (1008), both dirs kept', { record: rec('Installed'), plan: UPGRADE, step: command('update', '2.0', 'new'), outcome: failed(updateFailed) },
      { type: 'upgradeFailed', version: '2.0', previousVersion: '1.0', form: 'command' }, [], ends(updateFailed)),
    row('old uninstall succeeds: its exit code handed to the new install', { record: rec('Installed'), plan: UPGRADE, step: command('uninstall', '1.0', 'old'), outcome: ok(),
      newManifest: cmd() }, null, [code('uninstall', 0), stepDone], go),
    row('old uninstall fails without continueOnUpdateFailure: FailedUpgrade, both dirs kept', { record: rec('Installed'), plan: UPGRADE, step: command('uninstall', '1.0', 'old'),
      outcome: failed(uninstallFailed), newManifest: cmd() }, { type: 'upgradeFailed', version: '2.0', previousVersion: '1.0', form: 'command' }, [code('uninstall', 5)], ends(uninstallFailed)),
    row('old uninstall fails with continueOnUpdateFailure: goes on', { record: rec('Installed'), plan: UPGRADE, step: command('uninstall', '1.0', 'old'), outcome: failed(uninstallFailed),
      newManifest: continueOnUpdateFailure }, null, [code('uninstall', 5), stepDone], go),
    row('old dir removed: no event (the next command\'s start writes the progress)', { record: rec('Installed'), plan: UPGRADE, step: { kind: 'removeDir', version: '1.0' }, outcome: DONE },
      null, [], go),
    row('new install succeeds (updateMode UpdateWithInstall): Installed at the new version', { record: rec('Installed'), plan: UPGRADE, step: command('install', '2.0', 'new'), outcome: ok() },
      { type: 'upgraded', version: '2.0', form: 'command' }, [stepDone], go),
    row('updateMode UpdateWithoutInstall: the new install is not run, Installed at the new version', { record: rec('Installed'), plan: UPGRADE, step: command('install', '2.0', 'new'),
      outcome: { kind: 'skipped' }, manifest: cmd({ updateMode: 'UpdateWithoutInstall' }) }, { type: 'upgraded', version: '2.0', form: 'command' }, [stepDone], go),
    row('new install fails after the old version was removed: NotInstalled, the new dir kept', { record: rec('Installed'), plan: UPGRADE, step: command('install', '2.0', 'new'),
      outcome: failed(installFailed) }, { type: 'uninstalled' }, [], ends(installFailed)),
    row('new enable succeeds: Enabled', { record: rec('Installed', '2.0'), plan: UPGRADE, step: command('enable', '2.0', 'new', ['default']), outcome: ok() },
      { type: 'enabled', extensions: enabledSnapshot([ext('default', 1)]), at: AT }, [stepDone], go),
    row('new enable fails: the plan ends, Installed at the new version', { record: rec('Installed', '2.0'), plan: UPGRADE, step: command('enable', '2.0', 'new', ['default']),
      outcome: failed(enableFailed) }, null, [], ends(enableFailed)),
  ],
  'FailedUpgrade: retried from update, or abandoned when the goal goes back to the old version': [
    row('retry: update fails again, still FailedUpgrade (no new event)', { record: rec('FailedUpgrade', '2.0'), plan: UPGRADE, step: command('update', '2.0', 'new'), outcome: failed(updateFailed) },
      null, [], ends(updateFailed)),
    row('retry: update succeeds: the step is done', { record: rec('FailedUpgrade', '2.0'), plan: UPGRADE, step: command('update', '2.0', 'new'), outcome: ok() }, null, [stepDone], go),
    row('retry: old disable fails while FailedUpgrade: the new dir is kept for the next retry', { record: rec('FailedUpgrade', '2.0'), plan: UPGRADE,
      step: command('disable', '1.0', 'old'), outcome: failed(disableFailed), newManifest: cmd() }, null, [code('disable', 7)], ends(disableFailed)),
    row('retry: new install succeeds: Installed at the new version', { record: rec('FailedUpgrade', '2.0'), plan: UPGRADE, step: command('install', '2.0', 'new'), outcome: ok() },
      { type: 'upgraded', version: '2.0', form: 'command' }, [stepDone], go),
    row('goal back to the old version: the failed new dir removed, Installed at the old version', { record: rec('FailedUpgrade', '2.0'), plan: ROLLBACK,
      step: { kind: 'removeDir', version: '2.0' }, outcome: DONE }, { type: 'rolledBack' }, [stepDone], go),
    row('goal back to the old version: its enable succeeds, Enabled', { record: transition(rec('FailedUpgrade', '2.0'), { type: 'rolledBack' }), plan: ROLLBACK,
      step: command('enable', '1.0', 'current', ['default']), outcome: ok() }, { type: 'enabled', extensions: enabledSnapshot([ext('default', 1)]), at: AT }, [stepDone], go),
    row('goal names a third version: the failed new dir removed first, back to the old version', { record: rec('FailedUpgrade', '2.0'), plan: { action: 'upgrade', targetVersion: '3.0', fromVersion: '1.0' },
      step: { kind: 'removeDir', version: '2.0' }, outcome: DONE }, { type: 'rolledBack' }, [stepDone], go),
  ],
  'downgrade (allowDowngrade): the upgrade order, to a lower version': [
    row('old disable succeeds: its exit code handed to the new side', { record: rec('Enabled'), plan: DOWNGRADE, step: command('disable', '1.0', 'old', ['default']), outcome: ok(3),
      newManifest: cmd() }, { type: 'disabled' }, [code('disable', 3), stepDone], go),
    row('update fails: FailedUpgrade at the lower version', { record: rec('Installed'), plan: DOWNGRADE, step: command('update', '0.9', 'new'), outcome: failed(updateFailed) },
      { type: 'upgradeFailed', version: '0.9', previousVersion: '1.0', form: 'command' }, [], ends(updateFailed)),
    row('new install succeeds: Installed at the lower version', { record: rec('Installed'), plan: DOWNGRADE, step: command('install', '0.9', 'new'), outcome: ok() },
      { type: 'upgraded', version: '0.9', form: 'command' }, [stepDone], go),
  ],
  'durability: stopping between steps keeps the checkpoint': [
    row('the supervisor is stopping: this run suspends, the next start goes on from this step', { record: rec('Installed'), plan: UPGRADE, step: command('update', '2.0', 'new'),
      outcome: { kind: 'stopping', failure: stopping } }, null, [], { kind: 'suspend', failure: stopping }),
  ],
};

for (const [contract, rows] of Object.entries(groups)) {
  describe(`decide: ${contract}`, () => {
    for (const r of rows) test(r.name, () => assert.deepEqual(decide(inputOf(r)), r.expect));
  });
}

describe('decide: what holds for every row', () => {
  const all = Object.values(groups).flat();
  test('an event is always written: with the step\'s end, or with the plan\'s end', () => {
    for (const r of all) {
      const d = decide(inputOf(r));
      if (d.event) assert.ok(d.effects.some((e) => e.type === 'stepDone') || d.next.kind === 'endPlan', r.name);
      assert.ok(!(d.effects.some((e) => e.type === 'stepDone') && d.next.kind !== 'continue'), `${r.name}: a step that ends the plan is not marked done`);
    }
  });
  test('every event is allowed in the record\'s state', () => {
    for (const r of all) {
      const d = decide(inputOf(r));
      if (d.event) assert.doesNotThrow(() => transition(r.record, d.event!), r.name);
    }
  });
});

describe('commandSkipped: updateMode', () => {
  const cases: Array<[string, PlanStep, HandlerManifest, boolean]> = [
    ['UpdateWithoutInstall: the new install is skipped', command('install', '2.0', 'new'), cmd({ updateMode: 'UpdateWithoutInstall' }), true],
    ['UpdateWithInstall: the new install runs', command('install', '2.0', 'new'), cmd(), false],
    ['UpdateWithoutInstall does not skip a fresh install', command('install', '2.0'), cmd({ updateMode: 'UpdateWithoutInstall' }), false],
    ['UpdateWithoutInstall does not skip the new update or enable', command('update', '2.0', 'new'), cmd({ updateMode: 'UpdateWithoutInstall' }), false],
    ['script form has no updateMode: its install runs', command('install', '2.0', 'new'), script, false],
    ['a dropped extension of a multi-config handler: its disable runs', dropped(['b']), cmd({ supportsMultipleExtensions: true }), false],
    ['a dropped extension of a single-config handler: no disable (the agent keeps no per-extension state)', dropped(['b']), cmd(), true],
  ];
  for (const [name, step, manifest, skipped] of cases) {
    test(name, () => assert.equal(commandSkipped(step as Extract<PlanStep, { kind: 'command' }>, manifest), skipped));
  }
});

describe('decide: disabled when not installed', () => {
  test('the planner makes no step, so nothing is decided and nothing runs (the agent\'s handle_disable)', () => {
    const plan = planHandler({ name: 'H', version: '1.0', upgradePolicy: 'manual', state: 'disabled', allowDowngrade: false,
      packages: [{ version: '1.0', sha256: 'a'.repeat(64), uris: ['file:///h.zip'] }], extensions: [ext('default', 1)] }, rec('NotInstalled'));
    assert.equal(plan.action, 'none');
    assert.deepEqual(plan.steps, []);
  });
});
