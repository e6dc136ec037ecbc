import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock, systemClock } from '../../src/core/clock.js';
import { SupervisorError } from '../../src/core/errors.js';

describe('ManualClock', () => {
  test('starts at the given time and only moves when advanced', () => {
    const clock = new ManualClock(1_000);
    assert.equal(clock.now(), 1_000);
    clock.advance(250);
    assert.equal(clock.now(), 1_250);
    clock.advance(0);
    assert.equal(clock.now(), 1_250);
  });

  test('fires due timers in deadline order, ties in scheduling order, each seeing its own deadline as now', () => {
    const clock = new ManualClock();
    const fired: string[] = [];
    const at = (label: string, ms: number) => clock.setTimeout(() => fired.push(`${label}@${clock.now()}`), ms);
    at('c', 30);
    at('a', 10);
    at('b1', 20);
    at('b2', 20);
    at('late', 100);
    assert.equal(clock.pending(), 5);
    clock.advance(50);
    assert.deepEqual(fired, ['a@10', 'b1@20', 'b2@20', 'c@30']);
    assert.equal(clock.now(), 50);
    assert.equal(clock.pending(), 1);
    clock.advance(50);
    assert.deepEqual(fired.at(-1), 'late@100');
    assert.equal(clock.pending(), 0);
  });

  test('timers scheduled by fired timers fire in the same advance when still due, not when beyond it', () => {
    const clock = new ManualClock();
    const fired: string[] = [];
    clock.setTimeout(() => {
      fired.push(`first@${clock.now()}`);
      clock.setTimeout(() => fired.push(`chained@${clock.now()}`), 5);
      clock.setTimeout(() => fired.push(`beyond@${clock.now()}`), 50);
      clock.setTimeout(() => fired.push(`zero@${clock.now()}`), 0);
    }, 10);
    clock.advance(20);
    assert.deepEqual(fired, ['first@10', 'zero@10', 'chained@15']);
    assert.equal(clock.pending(), 1);
    clock.advance(40);
    assert.deepEqual(fired.at(-1), 'beyond@60');
  });

  test('clearTimeout cancels, also from inside another timer; pending() counts only live timers', () => {
    const clock = new ManualClock();
    const fired: string[] = [];
    const b = clock.setTimeout(() => fired.push('b'), 20);
    clock.setTimeout(() => { fired.push('a'); clock.clearTimeout(b); }, 10);
    const c = clock.setTimeout(() => fired.push('c'), 30);
    clock.clearTimeout(c);
    clock.clearTimeout(c);
    assert.equal(clock.pending(), 2);
    clock.advance(100);
    assert.deepEqual(fired, ['a']);
    assert.equal(clock.pending(), 0);
  });

  test('negative, zero and NaN delays are due immediately, like Node', () => {
    const clock = new ManualClock(5);
    const fired: number[] = [];
    clock.setTimeout(() => fired.push(1), -10);
    clock.setTimeout(() => fired.push(2), Number.NaN);
    clock.setTimeout(() => fired.push(3), 0);
    clock.advance(0);
    assert.deepEqual(fired, [1, 2, 3]);
    assert.equal(clock.now(), 5);
  });

  test('many cleared timers are compacted away and the rest still fire in order', () => {
    const clock = new ManualClock();
    const ids = Array.from({ length: 5_000 }, (_, i) => clock.setTimeout(() => assert.fail(`timer ${i} was cleared`), 1_000 + i));
    const fired: number[] = [];
    for (let i = 0; i < 10; i++) clock.setTimeout(() => fired.push(i), 2_000 - i * 10);
    for (const id of ids) clock.clearTimeout(id);
    assert.equal(clock.pending(), 10);
    clock.advance(10_000);
    assert.deepEqual(fired, [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
  });

  test('advance rejects a negative, NaN or infinite step with E_INVALID_ARGUMENT', () => {
    const clock = new ManualClock();
    for (const bad of [-1, Number.NaN, Infinity]) {
      assert.throws(() => clock.advance(bad), (err: unknown) => err instanceof SupervisorError && err.code === 'E_INVALID_ARGUMENT');
    }
    assert.equal(clock.now(), 0);
  });

  test('advance from inside a timer is refused with E_CLOCK_BUSY', () => {
    const clock = new ManualClock();
    let inner: unknown;
    clock.setTimeout(() => {
      try { clock.advance(1); } catch (err) { inner = err; }
    }, 1);
    clock.advance(5);
    assert.ok(inner instanceof SupervisorError && inner.code === 'E_CLOCK_BUSY');
    clock.advance(1); // usable again afterwards
    assert.equal(clock.now(), 6);
  });

  test('a throwing timer stops the advance at its deadline and leaves later timers pending', () => {
    const clock = new ManualClock();
    const fired: number[] = [];
    clock.setTimeout(() => { throw new Error('boom'); }, 10);
    clock.setTimeout(() => fired.push(20), 20);
    assert.throws(() => clock.advance(100), /boom/);
    assert.equal(clock.now(), 10);
    assert.equal(clock.pending(), 1);
    clock.advance(10);
    assert.deepEqual(fired, [20]);
  });

  test('advanceAsync lets microtask chains run between timers; advance does not', async () => {
    const run = async (useAsync: boolean) => {
      const clock = new ManualClock();
      const fired: string[] = [];
      clock.setTimeout(() => {
        fired.push('first');
        // like an actor: a few promise hops, then a new timer that is still due
        void Promise.resolve().then(() => Promise.resolve()).then(() => {
          clock.setTimeout(() => fired.push(`second@${clock.now()}`), 5);
        });
      }, 10);
      if (useAsync) await clock.advanceAsync(20);
      else clock.advance(20);
      await new Promise((r) => setImmediate(r));
      return { fired, pending: clock.pending(), now: clock.now() };
    };
    assert.deepEqual(await run(true), { fired: ['first', 'second@15'], pending: 0, now: 20 });
    assert.deepEqual(await run(false), { fired: ['first'], pending: 1, now: 20 });
  });

  test('advanceAsync settles work queued before it starts', async () => {
    const clock = new ManualClock();
    const fired: number[] = [];
    void Promise.resolve().then(() => clock.setTimeout(() => fired.push(clock.now()), 3));
    await clock.advanceAsync(3);
    assert.deepEqual(fired, [3]);
  });
});

describe('systemClock', () => {
  test('now() is the wall clock', () => {
    const before = Date.now();
    const now = systemClock.now();
    assert.ok(now >= before && now <= Date.now());
  });

  test('fires real timers and clearTimeout cancels them', async () => {
    const fired: string[] = [];
    const cancelled = systemClock.setTimeout(() => fired.push('cancelled'), 5);
    systemClock.clearTimeout(cancelled);
    await new Promise<void>((resolve) => { systemClock.setTimeout(() => { fired.push('kept'); resolve(); }, 10); });
    await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(fired, ['kept']);
  });

  test('a delay beyond Node\'s 2^31-1 ms limit does not fire early and can be cleared', async () => {
    let fired = false;
    const id = systemClock.setTimeout(() => { fired = true; }, 2 ** 31 + 10_000);
    await new Promise((r) => setTimeout(r, 20));
    systemClock.clearTimeout(id);
    assert.equal(fired, false);
  });
});
