import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_RESTART_POLICY, RestartBook, restartDelay, decideRestart, formatDuration, restartPolicy, restartsInWindow,
} from '../../../src/supervisor/monitor/restart-policy.js';
import { ValidationError } from '../../../src/core/errors.js';

const S = 1000;
const MIN = 60 * S;
const H = 60 * MIN;
const T0 = 1_700_000_000_000;

describe('restart policy defaults', () => {
  test('3 restarts within 1 h, backoff 10 s doubling, capped at 5 min', () => {
    assert.deepEqual({ ...DEFAULT_RESTART_POLICY }, { maxRestarts: 3, windowMs: H, initialDelayMs: 10 * S, multiplier: 2, maxDelayMs: 5 * MIN });
    assert.ok(Object.isFrozen(DEFAULT_RESTART_POLICY));
    assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 10].map((n) => restartDelay(n)), [10 * S, 20 * S, 40 * S, 80 * S, 160 * S, 5 * MIN, 5 * MIN, 5 * MIN]);
  });
});

describe('decideRestart', () => {
  test('backoff grows with the restarts already in the window', () => {
    assert.deepEqual(decideRestart([], T0), { action: 'restart', delayMs: 10 * S, attempt: 1 });
    assert.deepEqual(decideRestart([T0 - 5 * MIN], T0), { action: 'restart', delayMs: 20 * S, attempt: 2 });
    assert.deepEqual(decideRestart([T0 - 10 * MIN, T0 - 5 * MIN], T0), { action: 'restart', delayMs: 40 * S, attempt: 3 });
  });

  test('gives up once the window holds the budget, with the message the reporter shows', () => {
    const history = [T0 - 30 * MIN, T0 - 20 * MIN, T0 - 10 * MIN];
    assert.deepEqual(decideRestart(history, T0), { action: 'giveUp', reason: 'restart budget exhausted: 3 restarts within 1 h; left alone' });
  });

  test('the window slides: a restart counts while now - t < window, and drops out at exactly the window', () => {
    const history = [T0, T0 + 10 * MIN, T0 + 20 * MIN];
    assert.equal(decideRestart(history, T0 + H - 1).action, 'giveUp');
    const slid = decideRestart(history, T0 + H);
    assert.deepEqual(slid, { action: 'restart', delayMs: 40 * S, attempt: 3 });
    assert.deepEqual(decideRestart(history, T0 + 20 * MIN + H), { action: 'restart', delayMs: 10 * S, attempt: 1 });
    assert.deepEqual(restartsInWindow([T0 + 20 * MIN, T0, T0 + 10 * MIN], T0 + H + 1), [T0 + 10 * MIN, T0 + 20 * MIN]);
  });

  test('a custom policy: 2 restarts per minute, 100 ms doubling, capped at 150 ms', () => {
    const policy = restartPolicy({ maxRestarts: 2, windowMs: MIN, initialDelayMs: 100, maxDelayMs: 150 });
    assert.deepEqual(decideRestart([], T0, policy), { action: 'restart', delayMs: 100, attempt: 1 });
    assert.deepEqual(decideRestart([T0 - 1], T0, policy), { action: 'restart', delayMs: 150, attempt: 2 });
    assert.deepEqual(decideRestart([T0 - 2, T0 - 1], T0, policy),
      { action: 'giveUp', reason: 'restart budget exhausted: 2 restarts within 1 min; left alone' });
    assert.equal(decideRestart([T0 - 2 * MIN, T0 - MIN], T0, policy).action, 'restart');
  });

  test('maxRestarts 0 never restarts', () => {
    const d = decideRestart([], T0, restartPolicy({ maxRestarts: 0 }));
    assert.equal(d.action, 'giveUp');
    assert.match(d.action === 'giveUp' ? d.reason : '', /disabled/);
  });
});

describe('restartPolicy validation', () => {
  test('every bad field is named with its value; unknown keys are refused', () => {
    let caught: unknown;
    try {
      restartPolicy({ maxRestarts: 1.5, windowMs: 0, multiplier: 0.5, initialDelayMs: 100, maxDelayMs: 10, extra: 1 } as never, 'goal.json');
    } catch (err) {
      caught = err;
    }
    assert.ok(caught instanceof ValidationError);
    const byPath = new Map(caught.problems.map((p) => [p.path, p]));
    assert.deepEqual([...byPath.keys()].sort(), ['extra', 'maxDelayMs', 'maxRestarts', 'multiplier', 'windowMs']);
    assert.equal(byPath.get('maxRestarts')?.value, 1.5);
    assert.equal(byPath.get('maxDelayMs')?.reason, 'must be >= initialDelayMs');
    assert.ok(caught.problems.every((p) => p.source === 'goal.json'));
    assert.match(caught.message, /windowMs: must be a finite number > 0 \(got 0\)/);
  });

  test('the result is frozen and fully defaulted', () => {
    const p = restartPolicy({ maxRestarts: 5 });
    assert.ok(Object.isFrozen(p));
    assert.deepEqual({ ...p }, { ...DEFAULT_RESTART_POLICY, maxRestarts: 5 });
  });
});

describe('RestartBook: the per-handler state machine over the policy', () => {
  const policy = restartPolicy({ maxRestarts: 2, windowMs: MIN, initialDelayMs: 100, maxDelayMs: 1000 });

  test('schedule, run, finish; backoff grows; give up past the budget; the total stays visible', () => {
    const book = new RestartBook(policy);
    assert.deepEqual(book.unresponsive(T0, 5), { action: 'restart', delayMs: 100, attempt: 1 });
    assert.equal(book.phase, 'scheduled');
    assert.equal(book.unresponsive(T0 + 1, 5), null, 'already scheduled: no second decision');
    assert.equal(book.start(T0 + 100, true), true);
    assert.equal(book.phase, 'running');
    assert.equal(book.total, 1);
    assert.equal(book.unresponsive(T0 + 150, 5), null, 'running: no decision');
    assert.equal(book.finish(), true);
    assert.equal(book.finish(), false, 'nothing running any more');
    assert.deepEqual(book.unresponsive(T0 + 2000, 5), { action: 'restart', delayMs: 200, attempt: 2 });
    assert.equal(book.start(T0 + 2200, true), true);
    book.finish();
    const gaveUp = book.unresponsive(T0 + 4000, 5);
    assert.equal(gaveUp?.action, 'giveUp');
    assert.equal(book.phase, 'gaveUp');
    assert.equal(book.unresponsive(T0 + 2 * MIN, 5), null, 'left alone, even once the window slid');
    book.enabled(5);
    assert.equal(book.phase, 'gaveUp', 'the same enable does not lift it');
    book.enabled(T0 + 2 * MIN);
    assert.equal(book.phase, 'idle');
    assert.deepEqual(book.unresponsive(T0 + 2 * MIN, T0 + 2 * MIN), { action: 'restart', delayMs: 100, attempt: 1 }, 'a fresh budget');
    assert.equal(book.total, 2);
  });

  test('a handler that recovered during the backoff is not restarted and spends nothing; cancel drops a scheduled restart', () => {
    const book = new RestartBook(policy);
    book.unresponsive(T0, 1);
    assert.equal(book.start(T0 + 100, false), false);
    assert.equal(book.phase, 'idle');
    assert.equal(book.total, 0);
    assert.deepEqual(book.unresponsive(T0 + 200, 1), { action: 'restart', delayMs: 100, attempt: 1 });
    book.cancel();
    assert.equal(book.phase, 'idle');
    assert.equal(book.start(T0 + 300, true), false, 'nothing scheduled any more');
  });
});

test('formatDuration', () => {
  assert.deepEqual([H, 2 * H, 5 * MIN, 90 * MIN, 10 * S, 1500, 250].map(formatDuration), ['1 h', '2 h', '5 min', '90 min', '10 s', '1.5 s', '250 ms']);
});

test('reset (supervisor retry): a give-up is lifted for the same enable and the budget starts afresh; RESTARTS keeps counting', () => {
  const book = new RestartBook(restartPolicy({ maxRestarts: 1 }));
  assert.equal(book.unresponsive(0, 7)?.action, 'restart');
  assert.equal(book.start(10 * S, true), true);
  book.finish();
  assert.equal(book.unresponsive(20 * S, 7)?.action, 'giveUp');
  assert.equal(book.enabled(7), false, 'the same enable does not lift it');
  book.reset();
  assert.equal(book.phase, 'idle');
  assert.equal(book.state.gaveUp, null);
  assert.deepEqual(book.state.history, []);
  assert.equal(book.total, 1);
  assert.equal(book.unresponsive(30 * S, 7)?.action, 'restart', 'a fresh budget');
});
