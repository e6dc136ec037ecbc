import { after, describe, test } from 'node:test';
import { exitForRows } from '../../src/cli/health.js';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Workspace, handlerEntry, type BuiltPackage, type LogLine } from '../helpers/handlers.js';
import { killLeftovers, liveProcesses } from '../helpers/fleet.js';
import { runCli } from '../helpers/cli.js';
import { dirFlags, startDaemon, waitFor, type RunningDaemon } from '../helpers/daemon.js';
import { closePackagePool } from '../../src/supervisor/packages/pool.js';
import { SessionStore, type SessionDoc } from '../../src/storage/sessions.js';

after(() => closePackagePool());

/** Sequence numbers of the handler's enable starts, in the order they ran. */
const enables = (lines: readonly LogLine[], handler: string): string[] =>
  lines.filter((l) => l.handler === handler && l.op === 'enable' && l.phase === 'start').map((l) => l.fields['seq'] ?? '?');
const enableEnds = (lines: readonly LogLine[], handler: string): number =>
  lines.filter((l) => l.handler === handler && l.op === 'enable' && l.phase === 'end').length;

async function cliJson(ws: Workspace, args: readonly string[]): Promise<any> {
  const r = await runCli([...args, '--json', ...dirFlags(ws)]);
  const doc = JSON.parse(r.stdout);
  // ps and status answer with systemctl's codes: 0 at goal, 1 Failed, 3 not running as its goal says.
  if (args[0] === 'ps') assert.equal(r.code, exitForRows(doc), `the exit code follows the rows' health: ${r.stderr}`);
  else assert.ok([0, 1, 3].includes(r.code ?? -1), `exit ${r.code}: ${r.stderr}`);
  return doc;
}

/** Every session as written, handlers included (`sessions --json` leaves them out), newest first. */
const sessionDocs = async (ws: Workspace): Promise<SessionDoc[]> => (await new SessionStore(ws.libDir).list()).reverse();

const row = async (ws: Workspace, name: string): Promise<Record<string, any> | undefined> =>
  (await cliJson(ws, ['ps']) as Array<Record<string, any>>).find((r) => r.name === name);

function goalDoc(etag: string, a: BuiltPackage, seqA: number, b: BuiltPackage, seqB: number): unknown {
  const ext = (seq: number) => ({ extensions: [{ name: 'default', sequenceNumber: seq, publicSettings: { greeting: `greeting ${seq}` } }] });
  return { etag, handlers: [handlerEntry('A', [a], ext(seqA)), handlerEntry('B', [b], ext(seqB))] };
}

/** B's settings change reached B: its enable ran with sequence number `seq`, and `status B` and its settings file say so. */
async function assertBApplied(ws: Workspace, seq: number): Promise<void> {
  await waitFor(async () => (await row(ws, 'B'))?.status === 'Ready' && (await cliJson(ws, ['status', 'B'])).record?.enabledExtensions?.default?.sequenceNumber === seq,
    60_000, `B enabled with sequence number ${seq}`);
  const detail = await cliJson(ws, ['status', 'B']);
  const settings = JSON.parse(await readFile(join(detail.paths.configFolder, `${seq}.settings`), 'utf8'));
  assert.equal(settings.runtimeSettings[0].handlerSettings.publicSettings.greeting, `greeting ${seq}`);
  assert.deepEqual(enables(await ws.log(), 'B'), ['1', String(seq)]);
}

describe('supervisor run: goal states do not wait for each other', () => {
  test("one handler's long enable does not hold back another's settings change; stop cancels the long enable", async () => {
    const ws = await Workspace.create('exts-hol-');
    let daemon: RunningDaemon | undefined;
    try {
      const a = await ws.package({ name: 'A', version: '1.0', behavior: { enable: 'sleep 3600' } });
      const b = await ws.package({ name: 'B', version: '1.0' });
      const goalFile = await ws.goalState(goalDoc('one', a, 1, b, 1));
      daemon = await startDaemon(ws, goalFile, ['--stop-grace', '0.5']);
      await waitFor(async () => enables(await ws.log(), 'A').length === 1 && (await row(ws, 'B'))?.status === 'Ready', 60_000, "A's enable running, B Ready");

      await writeFile(goalFile, JSON.stringify(goalDoc('two', a, 2, b, 2)));
      await assertBApplied(ws, 2);
      // ... while A's first enable still runs, and A's goal two waits for it.
      const lines = await ws.log();
      assert.equal(enableEnds(lines, 'A'), 0, "A's enable is still running");
      assert.deepEqual(enables(lines, 'A'), ['1']);
      const rowA = (await row(ws, 'A'))!;
      assert.equal(rowA.lastOperation?.name, 'enable');
      assert.equal(rowA.lastOperation?.result, 'running');
      const running = await sessionDocs(ws);
      assert.deepEqual(running.map((s) => [s.etag, s.result]), [['two', 'running'], ['one', 'running']], 'both sessions wait for A');
      assert.equal(running[0]!.handlers['B']!.reached, null, 'outcomes are written when the session ends');

      const exit = await daemon.stop();
      assert.equal(exit.code, 0, exit.stderr);
      assert.equal((await liveProcesses(ws)).get('A'), undefined, "stop ended A's enable");
      assert.deepEqual(enables(await ws.log(), 'A'), ['1'], 'the goal A had not started was dropped at stop');
      const ended = await sessionDocs(ws);
      assert.deepEqual(ended.map((s) => [s.etag, s.result]), [['two', 'interrupted'], ['one', 'interrupted']]);
      assert.equal(ended[0]!.handlers['B']!.reached, true);
      assert.equal(ended[0]!.handlers['A']!.action, 'superseded');
      assert.match(ended[0]!.handlers['A']!.message ?? '', /not applied: the supervisor stopped/);
    } finally {
      await daemon?.stop();
      await killLeftovers(ws);
      await ws.dispose();
    }
  });

  test('a busy handler gets only the newest goal when its enable ends; the goal it skipped ends its session as superseded', async () => {
    const ws = await Workspace.create('exts-hol-');
    let daemon: RunningDaemon | undefined;
    try {
      const gate = join(ws.root, 'gate');
      const a = await ws.package({ name: 'A', version: '1.0', behavior: {
        enable: `if [ "$ConfigSequenceNumber" = 1 ]; then while [ ! -f ${JSON.stringify(gate)} ]; do sleep 0.05; done; fi` } });
      const b = await ws.package({ name: 'B', version: '1.0' });
      const goalFile = await ws.goalState(goalDoc('one', a, 1, b, 1));
      daemon = await startDaemon(ws, goalFile);
      await waitFor(async () => enables(await ws.log(), 'A').length === 1 && (await row(ws, 'B'))?.status === 'Ready', 60_000, "A's enable running, B Ready");

      await writeFile(goalFile, JSON.stringify(goalDoc('two', a, 2, b, 2)));
      await assertBApplied(ws, 2);
      await writeFile(goalFile, JSON.stringify(goalDoc('three', a, 3, b, 2)));
      // Goal two's share for A, never started, is answered at once: its session ends while A's enable still runs.
      await waitFor(async () => (await sessionDocs(ws)).some((s) => s.etag === 'two' && s.result !== 'running'),
        60_000, 'session two ended');
      const two = (await sessionDocs(ws)).find((s) => s.etag === 'two')!;
      assert.equal(two.result, 'superseded');
      assert.deepEqual(two.counts, { handlers: 2, reached: 1, failed: 0 });
      assert.equal(two.handlers['A']!.message, 'superseded by goal state etag three');
      assert.equal(enableEnds(await ws.log(), 'A'), 0, "A's first enable is still running");

      await writeFile(gate, '');
      await waitFor(async () => {
        const sessions = await sessionDocs(ws);
        return sessions.length === 3 && sessions.every((s) => s.result !== 'running');
      }, 60_000, 'every session ended');
      const sessions = await sessionDocs(ws);
      assert.deepEqual(sessions.map((s) => [s.etag, s.result]), [['three', 'succeeded'], ['two', 'superseded'], ['one', 'succeeded']]);
      assert.deepEqual(enables(await ws.log(), 'A'), ['1', '3'], 'A went from goal one straight to goal three');
      assert.equal(sessions[2]!.handlers['A']!.operations.filter((o) => o.name === 'enable').length, 1, "goal one's session kept A's first enable");
      assert.deepEqual(sessions[0]!.handlers['A']!.operations.map((o) => o.name), ['enable'], "goal three's session has A's second");
      const log = await readFile(join(ws.logDir, 'supervisor.log'), 'utf8');
      assert.match(log, /goal state etag two applied: 1\/2 reached their goal; superseded by a newer goal: A/);
    } finally {
      await daemon?.stop();
      await killLeftovers(ws);
      await ws.dispose();
    }
  });
});
