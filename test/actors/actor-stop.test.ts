import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { ActorSystem, type ActorRef, type Behavior, type DeadLetter, type Reply } from '../../src/actors/actor.js';
import { ManualClock } from '../../src/core/clock.js';
import { SupervisorError } from '../../src/core/errors.js';
import { recordUnhandledRejections } from '../helpers/unhandled.js';

const unhandled = recordUnhandledRejections();

const isCode = (code: string) => (err: unknown): boolean => err instanceof SupervisorError && err.code === code;
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => { resolve = r; });
  return { promise, resolve };
}

type Note = { type: 'note'; text: string };

/** A behavior that logs every message and its stop into `log`, with an optional async pause per message. */
function logger(log: string[], label: string, pause?: () => Promise<void>): Behavior<Note> {
  return {
    async receive(msg) {
      if (pause) await pause();
      log.push(`${label}:${msg.text}`);
    },
    onStop() { log.push(`${label}:onStop`); },
  };
}

test('stop runs after what is queued; later tells are dropped as dead letters', async () => {
  const letters: DeadLetter[] = [];
  const system = new ActorSystem({ onDeadLetter: (d) => letters.push(d) });
  const log: string[] = [];
  const ref = system.spawn('worker', logger(log, 'w', tick));
  for (const text of ['1', '2', '3']) ref.tell({ type: 'note', text });
  const stopping = ref.stop();
  assert.equal(ref.status, 'stopping');
  assert.equal(ref.stopped, false);
  ref.tell({ type: 'note', text: '4' });
  ref.tell({ type: 'note', text: '5' });
  await stopping;
  assert.deepEqual(log, ['w:1', 'w:2', 'w:3', 'w:onStop']);
  assert.equal(ref.status, 'stopped');
  assert.equal(ref.stopped, true);
  ref.tell({ type: 'note', text: '6' });
  assert.deepEqual(letters.map((d) => [d.actor, (d.message as Note).text]), [['worker', '4'], ['worker', '5'], ['worker', '6']]);
  assert.equal(system.deadLetters, 3);
  await system.stop();
});

test('stop is idempotent: the same promise every time, onStop once, and last', async () => {
  const system = new ActorSystem();
  const log: string[] = [];
  const gate = deferred();
  const ref = system.spawn('slow', logger(log, 's', () => gate.promise));
  ref.tell({ type: 'note', text: 'busy' });
  const first = ref.stop();
  assert.equal(ref.stop(), first);
  await tick();
  assert.deepEqual(log, [], 'stop waits for the message in progress');
  gate.resolve();
  await first;
  assert.equal(ref.stop(), first);
  await ref.stop();
  assert.deepEqual(log, ['s:busy', 's:onStop']);
  await system.stop();
});

test('ask while stopping or stopped rejects with E_ACTOR_STOPPED; a pending ask is rejected at stop and its timer cleared', async () => {
  const clock = new ManualClock();
  const system = new ActorSystem({ clock });
  type M = { type: 'hold'; reply: Reply<string> };
  const ref = system.spawn<M>('holder', { receive() { /* keeps the reply: never answers */ } });
  const held = ref.ask<string>((reply) => ({ type: 'hold', reply }), 60_000);
  const heldRejected = assert.rejects(held, (err: unknown) => isCode('E_ACTOR_STOPPED')(err) && /"hold"/.test((err as Error).message));
  await tick();
  assert.equal(clock.pending(), 1);
  const stopping = ref.stop();
  await assert.rejects(ref.ask<string>((reply) => ({ type: 'hold', reply })), isCode('E_ACTOR_STOPPED'));
  await stopping;
  await heldRejected;
  await assert.rejects(ref.ask<string>((reply) => ({ type: 'hold', reply })), isCode('E_ACTOR_STOPPED'));
  assert.equal(clock.pending(), 0);
  await system.stop();
});

test('stopping a parent stops its children first, after their queues drain', async () => {
  const system = new ActorSystem();
  const log: string[] = [];
  type P = { type: 'spawn'; reply: Reply<ActorRef<Note>[]> };
  const parent = system.spawn<P>('parent', {
    receive(msg, ctx) {
      const a = ctx.spawn('a', logger(log, 'a', tick));
      const b = ctx.spawn<Note>('b', {
        receive(m, c) {
          log.push(`b:${m.text}`);
          if (m.text === '1') c.spawn('grandchild', logger(log, 'g')).tell({ type: 'note', text: 'x' });
        },
        onStop() { log.push('b:onStop'); },
      });
      msg.reply.resolve([a, b]);
    },
    onStop() { log.push('parent:onStop'); },
  });
  const [a, b] = await parent.ask<ActorRef<Note>[]>((reply) => ({ type: 'spawn', reply }));
  assert.ok(a && b);
  for (const text of ['1', '2', '3']) { a.tell({ type: 'note', text }); b.tell({ type: 'note', text }); }
  await parent.stop();
  assert.deepEqual(log.filter((l) => l.startsWith('a:')), ['a:1', 'a:2', 'a:3', 'a:onStop']);
  assert.deepEqual(log.filter((l) => l.startsWith('b:')), ['b:1', 'b:2', 'b:3', 'b:onStop']);
  assert.ok(log.indexOf('g:onStop') < log.indexOf('b:onStop'), 'grandchild before child');
  assert.equal(log.at(-1), 'parent:onStop');
  assert.ok(a.stopped && b.stopped && parent.stopped);
  await system.stop();
});

test('a child spawned while its parent drains is stopped too; spawning from onStop is refused', async () => {
  const system = new ActorSystem();
  const log: string[] = [];
  let refused: unknown;
  const parent = system.spawn<Note>('parent', {
    receive(msg, ctx) { ctx.spawn(msg.text, logger(log, msg.text)).tell({ type: 'note', text: 'hi' }); },
    onStop(ctx) {
      try { ctx.spawn('too-late', logger(log, 'late')); } catch (err) { refused = err; }
    },
  });
  parent.tell({ type: 'note', text: 'kid' });
  await parent.stop();
  assert.deepEqual(log, ['kid:hi', 'kid:onStop']);
  assert.ok(isCode('E_ACTOR_STOPPED')(refused));
  await system.stop();
});

test('names: bad or duplicate names are refused; a stopped actor frees its name', async () => {
  const system = new ActorSystem();
  const log: string[] = [];
  for (const bad of ['', 'a/b']) assert.throws(() => system.spawn(bad, logger(log, 'x')), isCode('E_ACTOR_NAME'));
  const first = system.spawn('solo', logger(log, 'first'));
  assert.throws(() => system.spawn('solo', logger(log, 'dup')), isCode('E_ACTOR_NAME_TAKEN'));
  await first.stop();
  const second = system.spawn('solo', logger(log, 'second'));
  second.tell({ type: 'note', text: 'ok' });
  await system.stop();
  assert.deepEqual(log, ['first:onStop', 'second:ok', 'second:onStop']);
});

test('system.stop stops every actor, is idempotent, and refuses new spawns', async () => {
  const system = new ActorSystem();
  const log: string[] = [];
  const refs = ['x', 'y', 'z'].map((n) => system.spawn(n, logger(log, n)));
  for (const r of refs) r.tell({ type: 'note', text: 'm' });
  const stopping = system.stop();
  assert.equal(system.stop(), stopping);
  assert.throws(() => system.spawn('late', logger(log, 'late')), isCode('E_SYSTEM_STOPPED'));
  await stopping;
  assert.ok(refs.every((r) => r.stopped));
  assert.equal(system.size, 0);
  assert.deepEqual([...log].sort(), ['x:m', 'x:onStop', 'y:m', 'y:onStop', 'z:m', 'z:onStop']);
});

test('an actor may request its own stop from receive; what it queued before still runs', async () => {
  const system = new ActorSystem();
  const log: string[] = [];
  const ref = system.spawn<Note>('quitter', {
    receive(msg, ctx) {
      log.push(msg.text);
      if (msg.text === 'quit') void ctx.self.stop();
    },
    onStop() { log.push('onStop'); },
  });
  for (const text of ['a', 'quit', 'b']) ref.tell({ type: 'note', text });
  await tick();
  await ref.stop();
  assert.deepEqual(log, ['a', 'quit', 'b', 'onStop']);
  await system.stop();
});

test('2000 actors (each with an ask in flight) spawn and stop quickly, leaving no timer behind', async () => {
  const clock = new ManualClock();
  const system = new ActorSystem({ clock });
  type M = Note | { type: 'ask'; reply: Reply<number> };
  let handled = 0;
  let stops = 0;
  const refs: ActorRef<M>[] = [];
  const started = performance.now();
  for (let i = 0; i < 2_000; i++) {
    refs.push(system.spawn<M>(`handler-${i}`, {
      receive(msg) {
        handled++;
        if (msg.type === 'ask' && i % 2 === 0) msg.reply.resolve(i); // odd ones never answer
      },
      onStop() { stops++; },
    }));
  }
  const asks = refs.map((r) => r.ask<number>((reply) => ({ type: 'ask', reply }), 60_000).then(() => 'answered', () => 'rejected'));
  for (const r of refs) r.tell({ type: 'note', text: 'hello' });
  assert.equal(clock.pending(), 2_000);
  await system.stop();
  const outcomes = await Promise.all(asks);
  const elapsed = performance.now() - started;
  assert.equal(handled, 4_000);
  assert.equal(stops, 2_000);
  assert.equal(outcomes.filter((o) => o === 'answered').length, 1_000);
  assert.equal(outcomes.filter((o) => o === 'rejected').length, 1_000);
  assert.ok(refs.every((r) => r.stopped));
  assert.equal(system.size, 0);
  assert.equal(clock.pending(), 0, 'no ask timer left behind');
  assert.ok(elapsed < 30_000, `took ${elapsed.toFixed(0)} ms (the asks time out only after 60 s of the fake clock)`);
});

test('no unhandledRejection fired anywhere in this file', async () => {
  await tick();
  assert.deepEqual(unhandled, []);
});
