import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Mailbox } from '../../src/actors/mailbox.js';
import { SupervisorError } from '../../src/core/errors.js';

test('Mailbox is FIFO across compactions and interleaved push/take', () => {
  const box = new Mailbox<number>();
  const out: number[] = [];
  let next = 0;
  // take fewer than pushed each round so the head passes the compaction threshold many times
  for (let round = 0; round < 50; round++) {
    for (let i = 0; i < 300; i++) box.enqueue(next++);
    for (let i = 0; i < 200; i++) out.push(box.take());
  }
  while (box.length > 0) out.push(box.take());
  assert.equal(out.length, next);
  assert.ok(out.every((n, i) => n === i), 'messages came out in the order they went in');
});

test('Mailbox.take on an empty mailbox throws E_MAILBOX_EMPTY instead of returning undefined', () => {
  const box = new Mailbox<string>();
  box.enqueue('x');
  assert.equal(box.take(), 'x');
  assert.equal(box.length, 0);
  assert.throws(() => box.take(), (err: unknown) => err instanceof SupervisorError && err.code === 'E_MAILBOX_EMPTY');
});
