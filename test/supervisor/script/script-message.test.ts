import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ActionRecord } from '../../../src/supervisor/script/run-script-action.js';
import { requestNotes, scriptOperationMessage } from '../../../src/supervisor/script/script-message.js';

function record(over: Partial<ActionRecord>): ActionRecord {
  return { action: 'install', pid: 1, outcome: 'exited', exitCode: 0, signal: null, startedAt: 0, endedAt: 1,
    resultFile: '/w/r', stdoutFile: '/o/out', stderrFile: '/o/err', succeeded: true, code: 0, resultCode: 600,
    extendedResultCode: 0, resultDetails: '', reason: 'resultCode 600', request: null, decidedBy: 'resultFile', ...over };
}
const noTails = { stdoutTail: '', stderrTail: '' };

test('a success lists every action and adds resultDetails and restart requests', () => {
  const actions = [record({ action: 'is-installed', resultCode: 901, reason: 'resultCode 901' }),
    record({ resultCode: 606, reason: 'resultCode 606', resultDetails: 'a "b"\nc', request: 'reboot' })];
  const text = scriptOperationMessage({ what: 'install', actions, decisive: actions[1]!, succeeded: true, skipped: false, tails: noTails, unkillable: [] });
  assert.equal(text, 'install succeeded: is-installed: resultCode 901; install: resultCode 606; resultDetails: a "b"\nc; '
    + 'reboot requested by install (resultCode 606; recorded, not acted on)');
});

test('a failure names the action, what ran before it, unkillable pids and ends with the output tails', () => {
  const before = record({ action: 'is-installed', resultCode: 901, reason: 'resultCode 901' });
  const failing = record({ action: 'download', succeeded: false, code: 1011, decidedBy: 'timedOut', reason: 'timed out after 1 s' });
  const text = scriptOperationMessage({ what: 'install', actions: [before, failing], decisive: failing, succeeded: false, skipped: false,
    tails: { stdoutTail: 'working\n', stderrTail: 'stuck\n' }, unkillable: [42] });
  assert.equal(text, 'install timed out at --action-download: timed out after 1 s (before it: is-installed: resultCode 901); '
    + 'unkillable: 42\n[stdout]\nworking\n[stderr]\nstuck');
});

test('requestNotes is empty without requests and names agent restarts', () => {
  assert.deepEqual(requestNotes([record({})]), []);
  assert.deepEqual(requestNotes([record({ action: 'apply', resultCode: 708, request: 'agentRestart' })]),
    ['agent restart requested by apply (resultCode 708; recorded, not acted on)']);
});
