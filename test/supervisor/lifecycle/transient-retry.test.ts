// Work that failed on a resource of the machine: which errors count, what the message says, and the backoff.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../../src/core/clock.js';
import { SupervisorError } from '../../../src/core/errors.js';
import { TransientRetry, transientFailure, transientMessage } from '../../../src/supervisor/lifecycle/transient-retry.js';

const errno = (code: string, path?: string) => Object.assign(new Error(`${code}: failed`), { code, ...(path ? { path } : {}) });

describe('transientFailure', () => {
  test('a resource errno anywhere in the cause chain, with the path the supervisor was writing', () => {
    const wrapped = new SupervisorError('E_ATOMIC_WRITE', 'cannot write /l/state/H.json.next: ENOSPC', { path: '/l/state/H.json', errno: 'ENOSPC' },
      { cause: errno('ENOSPC', '/l/state/H.json.next') });
    assert.deepEqual(transientFailure(wrapped), { errno: 'ENOSPC', path: '/l/state/H.json' });
    assert.deepEqual(transientFailure(new Error('outer', { cause: errno('EMFILE', '/x') })), { errno: 'EMFILE', path: '/x' });
    assert.deepEqual(transientFailure(errno('EDQUOT')), { errno: 'EDQUOT', path: null });
  });
  test('other errors are not transient', () => {
    for (const e of [errno('EACCES', '/x'), errno('ENOENT'), new Error('plain'), null, 'ENOSPC']) assert.equal(transientFailure(e), null);
  });
  test('the message names the file, the reason and the errno, and when it is retried', () => {
    assert.equal(transientMessage({ errno: 'ENOSPC', path: '/l/H-1.0/config/2.settings' }, 4000),
      'could not write /l/H-1.0/config/2.settings: no space left on device (ENOSPC); retrying in 4 s');
    assert.equal(transientMessage({ errno: 'EMFILE', path: null }, null), 'could not use a file: too many open files (EMFILE)');
  });
});

describe('TransientRetry', () => {
  test('doubles from 2 s, fires with its generation; a new goal makes a pending retry stale and starts over', async () => {
    const clock = new ManualClock(0);
    const retry = new TransientRetry(clock, { initialMs: 2000, maxMs: 5000 });
    const fired: number[] = [];
    retry.reset();
    assert.equal(retry.schedule((g) => fired.push(g)), 2000);
    clock.advance(1999);
    assert.equal(fired.length, 0);
    clock.advance(1);
    assert.equal(fired.length, 1);
    assert.equal(retry.current(fired[0]!), true);
    assert.equal(retry.schedule((g) => fired.push(g)), 4000);
    assert.equal(retry.schedule((g) => fired.push(g)), 5000, 'capped; the earlier timer is replaced');
    assert.equal(clock.pending(), 1);
    retry.reset();
    assert.equal(clock.pending(), 0, 'a new goal cancels the pending retry');
    assert.equal(retry.current(fired[0]!), false);
    assert.equal(retry.schedule(() => {}), 2000);
    retry.cancel();
    assert.equal(clock.pending(), 0);
  });
  test('without a policy (one-shot apply) nothing is scheduled', () => {
    const clock = new ManualClock(0);
    assert.equal(new TransientRetry(clock, null).schedule(() => {}), null);
    assert.equal(clock.pending(), 0);
  });
});
