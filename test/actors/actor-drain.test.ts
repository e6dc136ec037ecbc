import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { ActorSystem, type ActorRef } from '../../src/actors/actor.js';
import { ManualClock } from '../../src/core/clock.js';

type Hop = { readonly type: 'hop'; readonly left: number };

test('drain resolves at once when nothing is queued, and again after the system stopped', async () => {
  const system = new ActorSystem();
  system.spawn('idle', { receive() {} });
  await system.drain();
  await system.stop();
  await system.drain();
});

test('drain waits for a chain of messages between two actors, through async handlers and real I/O', async () => {
  const system = new ActorSystem();
  const seen: string[] = [];
  const refs: { ping?: ActorRef<Hop>; pong?: ActorRef<Hop> } = {};
  const hop = (name: 'ping' | 'pong', other: 'ping' | 'pong') => async (msg: Hop): Promise<void> => {
    await readFile(new URL(import.meta.url)); // a thread-pool round trip: the handler is running meanwhile
    seen.push(`${name}${msg.left}`);
    if (msg.left > 0) refs[other]!.tell({ type: 'hop', left: msg.left - 1 });
  };
  refs.ping = system.spawn<Hop>('ping', { receive: hop('ping', 'pong') });
  refs.pong = system.spawn<Hop>('pong', { receive: hop('pong', 'ping') });
  refs.ping.tell({ type: 'hop', left: 5 });
  await system.drain();
  assert.deepEqual(seen, ['ping5', 'pong4', 'ping3', 'pong2', 'ping1', 'pong0']);
  await system.stop();
});

test('drain sees a message told from a microtask after the handler returned, and children count', async () => {
  const system = new ActorSystem();
  const seen: number[] = [];
  const parent = system.spawn<Hop>('parent', {
    receive(msg, ctx) {
      const child = ctx.spawn<Hop>(`child${msg.left}`, { receive: (m) => { seen.push(m.left); } });
      // Told once a promise settles, as the heartbeat watchdog reports a restart it did not await.
      void Promise.resolve().then(() => Promise.resolve()).then(() => {
        child.tell({ type: 'hop', left: msg.left });
        if (msg.left > 0) parent.tell({ type: 'hop', left: msg.left - 1 });
      });
    },
  });
  parent.tell({ type: 'hop', left: 3 });
  await system.drain();
  assert.deepEqual(seen, [3, 2, 1, 0]);
  await system.stop();
});

test('drain does not wait for a timer that is not due: the injected clock decides when it fires', async () => {
  const clock = new ManualClock(0);
  const system = new ActorSystem({ clock });
  let fired = 0;
  const ref = system.spawn<'arm' | 'fire'>('timer', {
    receive(msg, ctx) {
      if (msg === 'arm') ctx.clock.setTimeout(() => ctx.self.tell('fire'), 100);
      else fired++;
    },
  });
  ref.tell('arm');
  await system.drain();
  assert.equal(clock.pending(), 1);
  clock.advance(99);
  await system.drain();
  assert.equal(fired, 0, 'not due yet');
  clock.advance(1);
  await system.drain();
  assert.equal(fired, 1);
  await system.stop();
});
