import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { planHandler, type PlanGoal } from '../../../src/supervisor/lifecycle/plan.js';
import { describeStep } from '../../../src/supervisor/lifecycle/steps.js';
import { emptyRecord, transition, type HandlerRecord } from '../../../src/supervisor/lifecycle/record.js';
import { enabledSnapshot } from '../../../src/supervisor/lifecycle/settings-hash.js';

const sha = 'a'.repeat(64);
const pkg = (version: string) => ({ version, sha256: sha, uris: [`file:///pkgs/h-${version}.zip`] });
const ext = (seq: number, publicSettings: unknown = { a: 1 }) =>
  ({ name: 'default', sequenceNumber: seq, publicSettings, protectedSettings: null, protectedSettingsCertThumbprint: null });

function goal(over: Partial<PlanGoal> = {}): PlanGoal {
  return { name: 'H', version: '1.0', upgradePolicy: 'manual', state: 'enabled', allowDowngrade: false,
    packages: [pkg('1.0.0'), pkg('1.0.2'), pkg('2.0.0')], extensions: [ext(1)], ...over };
}

function rec(state: HandlerRecord['state'], version: string | null, exts = [ext(1)]): HandlerRecord {
  let r = emptyRecord('H');
  if (state === 'NotInstalled') return r;
  r = transition(r, { type: 'installed', version: version!, form: 'command' });
  if (state === 'Enabled') r = transition(r, { type: 'enabled', extensions: enabledSnapshot(exts), at: 1 });
  if (state === 'FailedUpgrade') r = transition(r, { type: 'upgradeFailed', version: '2.0.0', previousVersion: version!, form: 'command' });
  return r;
}

const steps = (g: PlanGoal, r: HandlerRecord) => planHandler(g, r).steps.map(describeStep);

describe('planHandler: enabled', () => {
  test('not installed: fetch, prepare, install, enable of the highest matching hotfix', () => {
    assert.deepEqual(steps(goal(), rec('NotInstalled', null)), ['fetch 1.0.2', 'prepare 1.0.2', 'install 1.0.2', 'enable 1.0.2']);
  });
  test('installed: settings then enable, no install', () => {
    assert.deepEqual(steps(goal(), rec('Installed', '1.0.2')), ['prepare 1.0.2', 'enable 1.0.2']);
  });
  test('enabled and unchanged: nothing', () => {
    const p = planHandler(goal(), rec('Enabled', '1.0.2'));
    assert.equal(p.action, 'none');
    assert.deepEqual(p.steps, []);
  });
  test('enabled: a higher sequence number enables again', () => {
    assert.deepEqual(steps(goal({ extensions: [ext(2)] }), rec('Enabled', '1.0.2')), ['prepare 1.0.2', 'enable 1.0.2']);
  });
  test('enabled: changed settings with the same sequence number enable again', () => {
    assert.deepEqual(steps(goal({ extensions: [ext(1, { a: 2 })] }), rec('Enabled', '1.0.2')), ['prepare 1.0.2', 'enable 1.0.2']);
  });
  test('enabled: key order alone is not a change', () => {
    const g = goal({ extensions: [ext(1, { x: 1, y: 2 })] });
    const r = rec('Enabled', '1.0.2', [ext(1, { y: 2, x: 1 })]);
    assert.equal(planHandler(g, r).action, 'none');
  });
  test('enabled: an extension the goal dropped is disabled first, with its last sequence number', () => {
    const named = (name: string, seq: number) => ({ ...ext(seq), name });
    const r = rec('Enabled', '1.0.2', [named('a', 1), named('b', 4)]);
    const p = planHandler(goal({ extensions: [named('a', 2)] }), r);
    assert.deepEqual(p.steps.map(describeStep), ['disable 1.0.2 (removed: b)', 'prepare 1.0.2', 'enable 1.0.2']);
    assert.deepEqual(p.steps[0], { kind: 'command', op: 'disable', version: '1.0.2', role: 'current', extensions: ['b'], dropped: [{ name: 'b', sequenceNumber: 4 }] });
    const only = planHandler(goal({ extensions: [named('a', 1)] }), r);
    assert.equal(only.action, 'disable');
    assert.equal(only.reason, 'extensions removed: b');
    assert.equal(planHandler(goal({ extensions: [] }), r).action, 'none', 'a goal with no extensions drops none (the handler runs with 0.settings)');
  });
  test('upgrade runs in the agent order', () => {
    assert.deepEqual(steps(goal({ version: '2.0' }), rec('Enabled', '1.0.2')), [
      'fetch 2.0.0', 'prepare 2.0.0', 'disable 1.0.2 (old)', 'copy state 1.0.2 -> 2.0.0', 'update 2.0.0 (new)',
      'uninstall 1.0.2 (old)', 'remove 1.0.2', 'install 2.0.0 (new)', 'enable 2.0.0 (new)']);
  });
  test('upgrade of an installed (not enabled) handler skips the old disable', () => {
    assert.ok(!steps(goal({ version: '2.0' }), rec('Installed', '1.0.2')).includes('disable 1.0.2 (old)'));
  });
  test('auto policy picks the highest in the major', () => {
    const p = planHandler(goal({ version: '1.0', upgradePolicy: 'auto', packages: [pkg('1.0.0'), pkg('1.9.1'), pkg('2.0.0')] }), rec('NotInstalled', null));
    assert.equal(p.targetVersion, '1.9.1');
  });
  test('downgrade refused unless allowDowngrade', () => {
    assert.throws(() => planHandler(goal({ version: '1.0', packages: [pkg('1.0.0')] }), rec('Enabled', '1.0.2')), { code: 'E_DOWNGRADE' });
    const p = planHandler(goal({ version: '1.0.0', allowDowngrade: true, packages: [pkg('1.0.0')] }), rec('Enabled', '1.0.2'));
    assert.equal(p.action, 'downgrade');
    assert.equal(p.targetVersion, '1.0.0');
  });
  test('no matching package is a typed error', () => {
    assert.throws(() => planHandler(goal({ version: '3.1' }), rec('NotInstalled', null)), { code: 'E_NO_MATCHING_PACKAGE' });
  });
  test('failed upgrade retried from update, old side not disabled again', () => {
    assert.deepEqual(steps(goal({ version: '2.0' }), rec('FailedUpgrade', '1.0.2')), [
      'fetch 2.0.0', 'prepare 2.0.0', 'copy state 1.0.2 -> 2.0.0', 'update 2.0.0 (new)', 'uninstall 1.0.2 (old)', 'remove 1.0.2',
      'install 2.0.0 (new)', 'enable 2.0.0 (new)']);
  });
  test('failed upgrade abandoned when the goal goes back to the old version', () => {
    const p = planHandler(goal({ version: '1.0' }), rec('FailedUpgrade', '1.0.2'));
    assert.equal(p.action, 'rollback');
    assert.deepEqual(p.steps.map(describeStep), ['remove 2.0.0', 'prepare 1.0.2', 'enable 1.0.2']);
  });
});

describe('planHandler: a failed first install (NotInstalled, its dir on disk)', () => {
  const failed = transition(emptyRecord('H'), { type: 'installFailed', version: '1.0.2', form: 'command' });
  test('uninstall runs no command and removes the dir, as the agent', () => {
    const p = planHandler(goal({ state: 'uninstall' }), failed);
    assert.equal(p.action, 'uninstall');
    assert.deepEqual(p.steps, [{ kind: 'removeDir', version: '1.0.2', uninstalled: true }]);
  });
  test('enabled: installs again (the staged dir is reused by fetch)', () => {
    assert.deepEqual(steps(goal(), failed), ['fetch 1.0.2', 'prepare 1.0.2', 'install 1.0.2', 'enable 1.0.2']);
  });
  test('enabled at another version: the leftover dir goes first', () => {
    assert.deepEqual(steps(goal({ version: '2.0' }), failed), ['remove 1.0.2', 'fetch 2.0.0', 'prepare 2.0.0', 'install 2.0.0', 'enable 2.0.0']);
  });
});

describe('planHandler: disabled and uninstall', () => {
  test('disabled: enabled → disable', () => {
    assert.deepEqual(steps(goal({ state: 'disabled' }), rec('Enabled', '1.0.2')), ['disable 1.0.2']);
  });
  test('disabled: not installed or installed → nothing', () => {
    assert.equal(planHandler(goal({ state: 'disabled' }), rec('NotInstalled', null)).action, 'none');
    assert.equal(planHandler(goal({ state: 'disabled' }), rec('Installed', '1.0.2')).action, 'none');
  });
  test('uninstall: enabled → disable, uninstall, remove', () => {
    assert.deepEqual(steps(goal({ state: 'uninstall' }), rec('Enabled', '1.0.2')), ['disable 1.0.2', 'uninstall 1.0.2', 'remove 1.0.2']);
  });
  test('uninstall: installed → uninstall, remove; not installed → nothing', () => {
    assert.deepEqual(steps(goal({ state: 'uninstall' }), rec('Installed', '1.0.2')), ['uninstall 1.0.2', 'remove 1.0.2']);
    assert.equal(planHandler(goal({ state: 'uninstall' }), rec('NotInstalled', null)).action, 'none');
  });
  test('uninstall after a failed upgrade removes both versions', () => {
    assert.deepEqual(steps(goal({ state: 'uninstall' }), rec('FailedUpgrade', '1.0.2')), ['uninstall 1.0.2 (old)', 'remove 1.0.2', 'remove 2.0.0']);
  });
});

describe('transition', () => {
  test('illegal events throw with the state named', () => {
    assert.throws(() => transition(emptyRecord('H'), { type: 'disabled' }), /not allowed in state NotInstalled/);
    assert.throws(() => transition(emptyRecord('H'), { type: 'enabled', extensions: {}, at: 1 }), { code: 'E_ILLEGAL_TRANSITION' });
  });
  test('records are frozen', () => {
    const r = transition(emptyRecord('H'), { type: 'installed', version: '1.0', form: 'command' });
    assert.ok(Object.isFrozen(r));
    assert.equal(r.state, 'Installed');
  });
  test('rolled back returns to the old version as Installed', () => {
    const r = rec('FailedUpgrade', '1.0.2');
    const back = transition(r, { type: 'rolledBack' });
    assert.equal(back.state, 'Installed');
    assert.equal(back.version, '1.0.2');
  });
});
