import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Workspace, handlerEntry, type LogLine } from '../../helpers/handlers.js';
import { killLeftovers, liveProcesses } from '../../helpers/fleet.js';
import { waitFor } from '../../helpers/daemon.js';
import { Fleet, type ApplySummary } from '../../../src/supervisor/lifecycle/fleet.js';
import type { HandlerApplyResult } from '../../../src/supervisor/lifecycle/handler-actor.js';
import { parseGoalState } from '../../../src/supervisor/goal/goal-state.js';
import { closePackagePool } from '../../../src/supervisor/packages/pool.js';

after(() => closePackagePool());

/** An enable that, for sequence number 1 only, runs until the test creates `gate`: a long operation the test ends when it wants. */
const gatedEnable = (gate: string): string =>
  `if [ "$ConfigSequenceNumber" = 1 ]; then while [ ! -f ${JSON.stringify(gate)} ]; do sleep 0.05; done; fi`;

const ext = (seq: number, greeting = `seq ${seq}`) => ({ extensions: [{ name: 'default', sequenceNumber: seq, publicSettings: { greeting } }] });

/**
 * The sequence number of every start (or end) of the handler's op, in the order the fixture log has
 * them. End lines carry no seq: a handler's commands run one at a time, so the n-th end is the n-th start's.
 */
function seqs(lines: readonly LogLine[], handler: string, op: string, phase: 'start' | 'end' = 'start'): string[] {
  const mine = lines.filter((l) => l.handler === handler && l.op === op);
  const starts = mine.filter((l) => l.phase === 'start').map((l) => l.fields['seq'] ?? '?');
  return phase === 'start' ? starts : starts.slice(0, mine.filter((l) => l.phase === 'end').length);
}

/** Index in the log of the handler's enable start or end for that sequence number. */
function indexOf(lines: readonly LogLine[], handler: string, seq: string, phase: 'start' | 'end'): number {
  const n = seqs(lines, handler, 'enable').indexOf(seq);
  const mine = lines.map((l, i) => ({ l, i })).filter(({ l }) => l.handler === handler && l.op === 'enable' && l.phase === phase);
  return mine[n]?.i ?? -1;
}

/** Resolves with a reconcile's summary and tells, without waiting, whether it has settled. */
function track(p: Promise<ApplySummary>): { readonly settled: () => boolean; readonly summary: Promise<ApplySummary> } {
  let done = false;
  const summary = p.finally(() => { done = true; });
  return { settled: () => done, summary };
}

const by = (s: ApplySummary, name: string): HandlerApplyResult => s.results.find((r) => r.name === name)!;

describe('goal states do not wait for each other', () => {
  test('an idle handler takes a newer goal at once; a busy one gets only the newest when its operation ends; dependents wait within their goal', async () => {
    const ws = await Workspace.create('goal-overlap-');
    const fleet = new Fleet({ dirs: ws.dirs, graceMs: 300 });
    try {
      const gate = join(ws.root, 'gate');
      const a = await ws.package({ name: 'A', version: '1.0', behavior: { enable: gatedEnable(gate) } });
      const b = await ws.package({ name: 'B', version: '1.0' });
      const c = await ws.package({ name: 'C', version: '1.0' });
      const goal = (etag: string, seqA: number, seqB: number, seqC: number) => parseGoalState(JSON.stringify({ etag, handlers: [
        handlerEntry('A', [a], ext(seqA)), handlerEntry('B', [b], ext(seqB, `greeting ${seqB}`)),
        handlerEntry('C', [c], { ...ext(seqC), dependsOn: ['A'] }),
      ] }), `${ws.root}/goal.json`);

      const one = track(fleet.reconcile(goal('one', 1, 1, 1)));
      await waitFor(async () => seqs(await ws.log(), 'A', 'enable').includes('1'), 60_000, "A's first enable");
      await waitFor(async () => seqs(await ws.log(), 'B', 'enable', 'end').includes('1'), 60_000, "B's first enable");

      // Goal two changes every handler's settings: B is idle and takes it now, A is busy with goal one.
      const heard: string[] = [];
      const two = track(fleet.reconcile(goal('two', 2, 2, 2), (name) => heard.push(name)));
      await waitFor(() => heard.includes('B'), 60_000, "B's outcome in goal two");
      let lines = await ws.log();
      assert.deepEqual(seqs(lines, 'B', 'enable'), ['1', '2'], 'B ran enable with the new settings');
      assert.deepEqual(seqs(lines, 'A', 'enable', 'end'), [], "while A's first enable is still running");
      assert.deepEqual(seqs(lines, 'C', 'enable'), [], 'C waits for A');
      assert.equal(one.settled(), false);
      assert.equal(two.settled(), false, "goal two waits for A's turn");

      // Goal three comes while A is still busy: A's goal two, never started, is superseded now, and C's with it.
      const three = track(fleet.reconcile(goal('three', 3, 2, 3)));
      await waitFor(() => heard.includes('A') && heard.includes('C'), 60_000, "goal two's outcome for A and C");
      const s2 = await two.summary;
      assert.equal(by(s2, 'A').action, 'superseded');
      assert.equal(by(s2, 'A').status.message, 'superseded by goal state etag three');
      assert.deepEqual(by(s2, 'A').supersededBy, { etag: 'three', source: `${ws.root}/goal.json` });
      assert.equal(by(s2, 'C').action, 'superseded', "a dependent whose dependency's goal was overtaken is overtaken too");
      assert.equal(by(s2, 'B').reached, true);
      assert.equal(s2.ok, false);
      assert.deepEqual(seqs(await ws.log(), 'A', 'enable', 'end'), [], "answered without waiting for A's running enable");
      assert.equal(one.settled(), false);

      await writeFile(gate, '');
      const s1 = await one.summary;
      const s3 = await three.summary;
      assert.equal(by(s1, 'A').reached, true, by(s1, 'A').status.message);
      assert.equal(by(s1, 'B').reached, true, by(s1, 'B').status.message);
      // C had not started goal one (it waited for A): goal two took its place, and goal three that one's.
      assert.equal(by(s1, 'C').status.message, 'superseded by goal state etag two');
      assert.equal(s3.ok, true, s3.results.map((r) => r.status.message).join('\n'));
      lines = await ws.log();
      assert.deepEqual(seqs(lines, 'A', 'enable'), ['1', '3'], 'A got only the newest goal after its enable ended');
      assert.deepEqual(seqs(lines, 'C', 'enable'), ['3'], 'C too got only the newest goal');
      assert.deepEqual(seqs(lines, 'B', 'enable'), ['1', '2'], 'goal three changed nothing for B');
      const at = (handler: string, seq: string, phase: 'start' | 'end'): number => indexOf(lines, handler, seq, phase);
      assert.ok(at('A', '3', 'end') >= 0 && at('A', '3', 'end') < at('C', '3', 'start'), 'within goal three, C enabled after A');
    } finally {
      fleet.cancel();
      await fleet.stop();
      await killLeftovers(ws);
      await ws.dispose();
    }
  });

  test('a stop withdraws goals not started (nothing new runs) and cancels the running operation', async () => {
    const ws = await Workspace.create('goal-withdraw-');
    const fleet = new Fleet({ dirs: ws.dirs, graceMs: 300 });
    try {
      const a = await ws.package({ name: 'A', version: '1.0', behavior: { enable: 'sleep 3600' } });
      const goal = (etag: string, seq: number) => parseGoalState(JSON.stringify({ etag, handlers: [handlerEntry('A', [a], ext(seq))] }), `${ws.root}/goal.json`);
      const one = fleet.reconcile(goal('one', 1));
      await waitFor(async () => seqs(await ws.log(), 'A', 'enable').includes('1'), 60_000, "A's enable");
      const two = fleet.reconcile(goal('two', 2));
      fleet.withdraw();
      const s2 = await two;
      assert.equal(by(s2, 'A').action, 'superseded');
      assert.equal(by(s2, 'A').supersededBy, null);
      assert.match(by(s2, 'A').status.message, /not applied: the supervisor stopped/);
      const s3 = await fleet.reconcile(goal('three', 3));
      assert.equal(by(s3, 'A').action, 'superseded', 'after a stop began, no goal starts');
      fleet.cancel();
      const s1 = await one;
      assert.equal(by(s1, 'A').reached, false, 'the running enable was cancelled');
      assert.deepEqual(seqs(await ws.log(), 'A', 'enable'), ['1'], 'the withdrawn goals never ran');
      assert.equal((await liveProcesses(ws)).get('A'), undefined, "no process of A's enable is left");
    } finally {
      fleet.cancel();
      await fleet.stop();
      await killLeftovers(ws);
      await ws.dispose();
    }
  });
});
