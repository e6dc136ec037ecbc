import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay } from '../../src/core/backoff.js';

describe('backoffDelay', () => {
  test('grows by the multiplier from the initial wait and stops at the cap', () => {
    assert.deepEqual([0, 1, 2, 3, 4, 5].map((n) => backoffDelay(n, { initialMs: 100, multiplier: 3, maxMs: 5000 })), [100, 300, 900, 2700, 5000, 5000]);
  });

  test('doubles when no multiplier is given', () => {
    assert.deepEqual([0, 1, 2].map((n) => backoffDelay(n, { initialMs: 500, maxMs: 10_000 })), [500, 1000, 2000]);
  });

  test('a negative, fractional, huge or infinite attempt stays within [initial, cap]', () => {
    const p = { initialMs: 10, maxMs: 1000 };
    assert.equal(backoffDelay(-5, p), 10);
    assert.equal(backoffDelay(1.9, p), 20);
    assert.equal(backoffDelay(1e9, p), 1000);
    assert.equal(backoffDelay(Infinity, p), 1000);
    assert.equal(backoffDelay(Number.NaN, p), 1000);
  });

  test('an initial wait of 0 stays 0 at any attempt (no Infinity * 0)', () => {
    assert.equal(backoffDelay(1e9, { initialMs: 0, maxMs: 1000 }), 0);
  });
});
