import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ActorSystem, STOP_MESSAGE, actorFailedError, type ActorFailure, type Reply } from '../../src/actors/actor.js';
import { recordUnhandledRejections } from '../helpers/unhandled.js';

const unhandled = recordUnhandledRejections();

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

type Job = { type: 'job'; id: number; mode: 'ok' | 'throw' | 'reject' };
type Sync = { type: 'sync'; reply: Reply<void> };
type ParentMsg = { type: 'spawn'; reply: Reply<void> } | { type: 'slow' } | Sync;

/** A parent with one child 'worker' that fails on demand; records every child failure and everything it did. */
function supervised(opts: { onChildFailed?: boolean; childOnStopThrows?: boolean } = {}) {
  const failures: ActorFailure[] = [];
  const unobserved: ActorFailure[] = [];
  const log: string[] = [];
  const system = new ActorSystem({ onUnhandledFailure: (f) => unobserved.push(f) });
  let worker: ReturnType<typeof system.spawn<Job>> | undefined;
  const parent = system.spawn<ParentMsg>('parent', {
    async receive(msg, ctx) {
      if (msg.type === 'spawn') {
        worker = ctx.spawn<Job>('worker', {
          async receive(job) {
            if (job.mode === 'throw') throw new Error(`sync ${job.id}`);
            if (job.mode === 'reject') { await tick(); throw new Error(`async ${job.id}`); }
            log.push(`worker:${job.id}`);
          },
          onStop() { if (opts.childOnStopThrows) throw new Error('onStop broke'); },
        });
        msg.reply.resolve();
      } else if (msg.type === 'slow') {
        log.push('parent:slow:start');
        await tick();
        await tick();
        log.push('parent:slow:end');
      } else msg.reply.resolve();
    },
    ...(opts.onChildFailed === false ? {} : {
      onChildFailed(f: ActorFailure) { failures.push(f); log.push(`parent:failed:${String((f.error as Error).message)}`); },
    }),
  });
  const start = async () => {
    await parent.ask<void>((reply) => ({ type: 'spawn', reply }));
    return worker!;
  };
  const sync = () => parent.ask<void>((reply) => ({ type: 'sync', reply }));
  return { system, parent, start, sync, failures, unobserved, log };
}

test('a sync throw in receive reaches the parent as actorFailed with the error and the message; the child goes on', async () => {
  const s = supervised();
  const worker = await s.start();
  const bad: Job = { type: 'job', id: 1, mode: 'throw' };
  worker.tell(bad);
  worker.tell({ type: 'job', id: 2, mode: 'ok' });
  await tick();
  await s.sync();
  assert.equal(s.failures.length, 1);
  const f = s.failures[0]!;
  assert.equal(f.type, 'actorFailed');
  assert.equal(f.actor, 'worker');
  assert.equal(f.path, 'parent/worker');
  assert.equal((f.error as Error).message, 'sync 1');
  assert.equal(f.message, bad, 'the very message being handled');
  assert.deepEqual(s.log, ['parent:failed:sync 1', 'worker:2']);
  assert.equal(worker.status, 'running');
  assert.deepEqual(s.unobserved, []);
  await s.system.stop();
});

test('an async rejection in receive is delivered the same way', async () => {
  const s = supervised();
  const worker = await s.start();
  const bad: Job = { type: 'job', id: 7, mode: 'reject' };
  worker.tell(bad);
  worker.tell({ type: 'job', id: 8, mode: 'ok' });
  await tick(); await tick(); await tick();
  await s.sync();
  assert.equal(s.failures.length, 1);
  assert.equal((s.failures[0]!.error as Error).message, 'async 7');
  assert.equal(s.failures[0]!.message, bad);
  assert.deepEqual(s.log, ['parent:failed:async 7', 'worker:8']);
  await s.system.stop();
});

test('a failure waits in the parent\'s mailbox behind the message the parent is handling', async () => {
  const s = supervised();
  const worker = await s.start();
  s.parent.tell({ type: 'slow' });
  await Promise.resolve(); // the parent is now inside 'slow'
  worker.tell({ type: 'job', id: 3, mode: 'throw' });
  await tick(); await tick(); await tick(); await tick();
  await s.sync();
  assert.deepEqual(s.log, ['parent:slow:start', 'parent:slow:end', 'parent:failed:sync 3']);
  await s.system.stop();
});

test('a parent without onChildFailed leaves the failure unobserved: it goes to onUnhandledFailure', async () => {
  const s = supervised({ onChildFailed: false });
  const worker = await s.start();
  worker.tell({ type: 'job', id: 4, mode: 'throw' });
  await tick();
  assert.equal(s.unobserved.length, 1);
  assert.equal(s.unobserved[0]!.path, 'parent/worker');
  const wrapped = actorFailedError(s.unobserved[0]!);
  assert.equal(wrapped.code, 'E_ACTOR_FAILED');
  assert.match(wrapped.message, /actor "parent\/worker" failed handling "job": sync 4/);
  assert.equal((wrapped.cause as Error).message, 'sync 4');
  await s.system.stop();
});

test('a top-level failure goes to onUnhandledFailure; a throwing onChildFailed fails the parent in turn', async () => {
  const unobserved: ActorFailure[] = [];
  const system = new ActorSystem({ onUnhandledFailure: (f) => unobserved.push(f) });
  const top = system.spawn<Job>('top', {
    receive(job, ctx) {
      ctx.spawn<Job>('kid', { receive() { throw new Error('kid broke'); } }).tell(job);
    },
    onChildFailed() { throw new Error('handler broke'); },
  });
  top.tell({ type: 'job', id: 1, mode: 'ok' });
  await tick(); await tick();
  assert.equal(unobserved.length, 1);
  const f = unobserved[0]!;
  assert.equal(f.path, 'top');
  assert.equal((f.error as Error).message, 'handler broke');
  const inner = f.message as ActorFailure;
  assert.equal(inner.type, 'actorFailed');
  assert.equal(inner.path, 'top/kid');
  await system.stop();
});

test('a throwing onStop is reported to the parent with STOP_MESSAGE, and the stop still completes', async () => {
  const s = supervised({ childOnStopThrows: true });
  const worker = await s.start();
  await worker.stop();
  assert.equal(worker.stopped, true);
  await s.sync();
  assert.equal(s.failures.length, 1);
  assert.equal(s.failures[0]!.message, STOP_MESSAGE);
  assert.equal((s.failures[0]!.error as Error).message, 'onStop broke');
  await s.system.stop();
});

test('failures of children while the parent stops are handled before the parent\'s own onStop', async () => {
  const failures: string[] = [];
  const system = new ActorSystem({ onUnhandledFailure: () => assert.fail('should have been observed') });
  const parent = system.spawn<Job>('parent', {
    receive(job, ctx) {
      const kid = ctx.spawn<Job>('kid', { async receive(j) { await tick(); if (j.mode !== 'ok') throw new Error(`kid ${j.id}`); } });
      kid.tell(job);
      kid.tell({ type: 'job', id: job.id + 1, mode: 'throw' });
    },
    onChildFailed(f) { failures.push((f.error as Error).message); },
    onStop() { failures.push('parent:onStop'); },
  });
  parent.tell({ type: 'job', id: 1, mode: 'throw' });
  await parent.stop();
  assert.deepEqual(failures, ['kid 1', 'kid 2', 'parent:onStop']);
  await system.stop();
});

test('by default an unobserved failure is rethrown asynchronously as E_ACTOR_FAILED, never as an unhandled rejection', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'actors-rethrow-'));
  try {
    const script = join(dir, 'crash.ts');
    const actorUrl = pathToFileURL(join(process.cwd(), 'src/actors/actor.ts')).href;
    await writeFile(script, [
      `import { ActorSystem } from ${JSON.stringify(actorUrl)};`,
      `process.on('unhandledRejection', () => { console.log('UNHANDLED_REJECTION'); process.exit(3); });`,
      `const system = new ActorSystem();`,
      `system.spawn('boom', { receive() { throw new Error('kaput'); } }).tell({ type: 'hit' });`,
      `setTimeout(() => { console.log('SURVIVED'); process.exit(0); }, 2000);`,
    ].join('\n'));
    const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    clearTimeout(killer);
    assert.equal(code, 1, out);
    assert.match(out, /actor "boom" failed handling "hit": kaput/);
    assert.match(out, /E_ACTOR_FAILED/);
    assert.doesNotMatch(out, /UNHANDLED_REJECTION|SURVIVED/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('no unhandledRejection fired anywhere in this file', async () => {
  await tick();
  assert.deepEqual(unhandled, []);
});
