import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { ActorSystem, type ActorRef, type Reply } from '../../src/actors/actor.js';
import { ManualClock } from '../../src/core/clock.js';
import { SupervisorError } from '../../src/core/errors.js';
import { recordUnhandledRejections } from '../helpers/unhandled.js';

const unhandled = recordUnhandledRejections();

const isCode = (code: string) => (err: unknown): boolean => err instanceof SupervisorError && err.code === code;
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

type Counter =
  | { type: 'add'; n: number }
  | { type: 'get'; reply: Reply<number[]> };

test('a burst of 10,000 tells is processed in FIFO order, one at a time, even with an async receive', async () => {
  const system = new ActorSystem();
  const seen: number[] = [];
  let active = 0;
  let maxActive = 0;
  const ref = system.spawn<Counter>('counter', {
    async receive(msg) {
      active++;
      maxActive = Math.max(maxActive, active);
      if (msg.type === 'get') msg.reply.resolve(seen);
      else {
        if (msg.n % 7 === 0) await tick(); // a real macrotask hop, not just a microtask
        else await Promise.resolve();
        seen.push(msg.n);
      }
      active--;
    },
  });
  for (let n = 0; n < 10_000; n++) ref.tell({ type: 'add', n });
  assert.equal(ref.queueLength, 10_000, 'tell only queues; nothing runs inside the sender');
  assert.equal(seen.length, 0);
  const result = await ref.ask<number[]>((reply) => ({ type: 'get', reply }));
  assert.equal(result.length, 10_000);
  assert.ok(result.every((n, i) => n === i), 'strict FIFO');
  assert.equal(maxActive, 1, 'never two messages in receive at once');
  await system.stop();
});

test('messages an actor tells itself go behind what is already queued', async () => {
  const system = new ActorSystem();
  const log: string[] = [];
  type M = { type: 'start' } | { type: 'echo'; text: string } | { type: 'done'; reply: Reply<string[]> };
  const ref = system.spawn<M>('self-teller', {
    receive(msg, ctx) {
      if (msg.type === 'start') { ctx.self.tell({ type: 'echo', text: 'from-self' }); log.push('start'); }
      else if (msg.type === 'echo') log.push(msg.text);
      else msg.reply.resolve(log);
    },
  });
  ref.tell({ type: 'start' });
  ref.tell({ type: 'echo', text: 'queued-before' });
  await tick();
  assert.deepEqual(await ref.ask<string[]>((reply) => ({ type: 'done', reply })), ['start', 'queued-before', 'from-self']);
  await system.stop();
});

test('ask resolves with the reply, also when the reply comes later from async work; reply.reject rejects', async () => {
  const system = new ActorSystem();
  type M = { type: 'double'; n: number; reply: Reply<number> } | { type: 'fail'; reply: Reply<number> };
  const ref = system.spawn<M>('math', {
    receive(msg) {
      if (msg.type === 'double') setImmediate(() => msg.reply.resolve(msg.n * 2));
      else msg.reply.reject(new Error('no can do'));
    },
  });
  assert.equal(await ref.ask<number>((reply) => ({ type: 'double', n: 21, reply })), 42);
  await assert.rejects(ref.ask<number>((reply) => ({ type: 'fail', reply })), /no can do/);
  await system.stop();
});

test('ctx exposes self, name, path and the system clock', async () => {
  const clock = new ManualClock(77);
  const system = new ActorSystem({ clock });
  type M = { type: 'probe'; reply: Reply<string> };
  let selfIsRef = false;
  const parent: ActorRef<M> = system.spawn<M>('parent', {
    receive(msg, ctx): void {
      const child = ctx.spawn<M>('child', {
        receive(m, c) { m.reply.resolve(`${c.name} ${c.path} ${c.clock.now()} ${c.self.path}`); },
      });
      void child.ask<string>((reply) => ({ type: 'probe', reply })).then(msg.reply.resolve, msg.reply.reject);
      selfIsRef = ctx.self === parent && ctx.name === 'parent' && ctx.path === 'parent';
    },
  });
  assert.equal(await parent.ask<string>((reply) => ({ type: 'probe', reply })), 'child parent/child 77 parent/child');
  assert.ok(selfIsRef);
  await system.stop();
});

type Ping = { type: 'ping'; reply: Reply<string> };

test('ask times out on the system clock with E_ASK_TIMEOUT naming actor and message; a late reply is ignored', async () => {
  const clock = new ManualClock();
  const system = new ActorSystem({ clock });
  const held: Reply<string>[] = [];
  const ref = system.spawn<Ping>('silent', { receive(msg) { held.push(msg.reply); } });
  const state: { outcome: unknown } = { outcome: 'pending' };
  const answer = ref.ask<string>((reply) => ({ type: 'ping', reply }), 1_000)
    .then((v) => { state.outcome = v; }, (err: unknown) => { state.outcome = err; });
  await clock.advanceAsync(999);
  const current = (): unknown => state.outcome; // read through a call: assert.equal would narrow the field for good
  assert.equal(current(), 'pending');
  assert.equal(clock.pending(), 1);
  await clock.advanceAsync(1);
  await answer;
  const outcome = current();
  assert.ok(outcome instanceof SupervisorError, 'rejected');
  assert.equal(outcome.code, 'E_ASK_TIMEOUT');
  assert.match(outcome.message, /"ping".*"silent".*1000 ms/);
  assert.deepEqual(outcome.details, { actor: 'silent', messageType: 'ping', timeoutMs: 1_000 });
  assert.equal(held.length, 1);
  held[0]!.resolve('too late'); // must neither throw nor change the outcome
  held[0]!.reject(new Error('also too late'));
  await tick();
  assert.equal(current(), outcome);
  assert.equal(clock.pending(), 0);
  await system.stop();
});

test('a reply clears its timeout timer, and only the first reply counts', async () => {
  const clock = new ManualClock();
  const system = new ActorSystem({ clock });
  const ref = system.spawn<Ping>('twice', { receive(msg) { msg.reply.resolve('first'); msg.reply.resolve('second'); } });
  assert.equal(await ref.ask<string>((reply) => ({ type: 'ping', reply }), 5_000), 'first');
  assert.equal(clock.pending(), 0);
  await system.stop();
});

test('the default ask timeout comes from the system, and works on the real clock too', async () => {
  const clock = new ManualClock();
  const manual = new ActorSystem({ clock, askTimeoutMs: 50 });
  const quiet = manual.spawn<Ping>('quiet', { receive() {} });
  const rejected = assert.rejects(quiet.ask<string>((reply) => ({ type: 'ping', reply })), isCode('E_ASK_TIMEOUT'));
  await clock.advanceAsync(49);
  assert.equal(clock.pending(), 1);
  await clock.advanceAsync(1);
  await rejected;
  await manual.stop();

  const real = new ActorSystem({ askTimeoutMs: 20 });
  const mute = real.spawn<Ping>('mute', { receive() {} });
  const started = Date.now();
  await assert.rejects(mute.ask<string>((reply) => ({ type: 'ping', reply })), isCode('E_ASK_TIMEOUT'));
  assert.ok(Date.now() - started >= 15, 'waited for the timeout');
  await real.stop();
});

test('a bad ask timeout is rejected with E_INVALID_ARGUMENT; Infinity means no timer', async () => {
  const clock = new ManualClock();
  const system = new ActorSystem({ clock });
  const ref = system.spawn<Ping>('p', { receive(msg) { setImmediate(() => msg.reply.resolve('pong')); } });
  for (const bad of [0, -5, Number.NaN]) {
    await assert.rejects(ref.ask<string>((reply) => ({ type: 'ping', reply }), bad), isCode('E_INVALID_ARGUMENT'));
  }
  const answer = ref.ask<string>((reply) => ({ type: 'ping', reply }), Infinity);
  assert.equal(clock.pending(), 0);
  assert.equal(await answer, 'pong');
  assert.throws(() => new ActorSystem({ askTimeoutMs: -1 }), isCode('E_INVALID_ARGUMENT'));
  await system.stop();
});

test('an ask whose build throws rejects with that error and sends nothing', async () => {
  const clock = new ManualClock();
  const system = new ActorSystem({ clock });
  let received = 0;
  const ref = system.spawn<Ping>('p', { receive() { received++; } });
  await assert.rejects(ref.ask<string>(() => { throw new Error('cannot build'); }), /cannot build/);
  await tick();
  assert.equal(received, 0);
  assert.equal(clock.pending(), 0);
  await system.stop();
});

test('no unhandledRejection fired anywhere in this file', async () => {
  await tick();
  assert.deepEqual(unhandled, []);
});
