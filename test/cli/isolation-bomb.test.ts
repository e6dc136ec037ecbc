// limits.tasksMax through the real daemon, on this machine's cgroups (pids.max on the handler's
// group): a fork bomb is held at its limit while the supervisor and a neighbour go on, and an
// uninstall ends every process it made. The bomb has a bound of its own (a binary tree of depth 9:
// at most 1023 processes ever), so a limit that does not hold cannot take the machine down, and
// the test ends the subtree at once when it sees more than HARD_CAP members.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Workspace, handlerEntry } from '../helpers/handlers.js';
import { killLeftovers } from '../helpers/fleet.js';
import { askDaemon } from '../helpers/cli.js';
import { dirFlags, startDaemon, waitFor, type RunningDaemon } from '../helpers/daemon.js';
import { processesUnder, savedGroups, testCgroupRoot } from '../helpers/cgroups.js';
import { findMounts } from '../../src/supervisor/process/cgroup/detect.js';
import { closePackagePool } from '../../src/supervisor/packages/pool.js';
import { alive } from '../helpers/isolation.js';

after(() => closePackagePool());

const TASKS_MAX = 50;
const HARD_CAP = 200;

// Every node forks two more until depth 0, where it becomes a sleep. A fork the limit refuses ends
// that shell (dash's "Cannot fork"), which frees a slot for the next one: the tree keeps pushing.
const BOMB = `d=$1
if [ "$d" -le 0 ]; then exec sleep 1000; fi
sh "$0" $((d - 1)) &
sh "$0" $((d - 1)) &
wait
`;

// Fills its group once and stops: waits until the enable's shell ($1) has gone (only it and its sleeps
// count then), forks sleeps until the limit refuses one and exits there, leaving tasksMax - 1 sleeps.
const FILL = `while kill -0 "$1" 2>/dev/null; do :; done
i=0
while [ "$i" -lt 100 ]; do sleep 1000 & i=$((i + 1)); done
`;
const FULL_MAX = 10;

async function rows(ws: Workspace): Promise<Array<Record<string, any>>> {
  const r = await askDaemon(['ps', '--json', ...dirFlags(ws)]);
  try {
    return JSON.parse(r.stdout);
  } catch {
    throw new Error(`ps --json gave no JSON (exit ${r.code}): ${r.stderr}`);
  }
}
const row = async (ws: Workspace, name: string) => (await rows(ws)).find((r) => r.name === name);

function pidsIn(dir: string): number[] {
  try {
    return readFileSync(join(dir, 'cgroup.procs'), 'latin1').split('\n').filter(Boolean).map(Number);
  } catch {
    return []; // a run group removed between the listing and the read
  }
}
function runsOf(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory() && d.name.startsWith('r-')).map((d) => d.name);
  } catch {
    return [];
  }
}
function keyed(file: string): Map<string, number> {
  const out = new Map<string, number>();
  if (!existsSync(file)) return out;
  for (const line of readFileSync(file, 'latin1').split('\n')) { const [k, v] = line.split(' '); if (k && v) out.set(k, Number(v)); }
  return out;
}

test('a fork bomb under tasksMax 50 never has more than 50 tasks; the supervisor and a neighbour go on; uninstall ends it all', async () => {
  const ws = await Workspace.create('exts-cg-bomb-');
  const cg = testCgroupRoot();
  let daemon: RunningDaemon | null = null;
  try {
    const bomb = await ws.package({ name: 'Bomb', version: '1.0', files: { 'bomb.sh': BOMB },
      // Commands that need no fork of their own: the group is full while they run.
      manifest: { enableCommand: 'sh bomb.sh 9 >/dev/null 2>&1 &', disableCommand: 'echo disabled', uninstallCommand: 'echo uninstalled' } });
    const calm = await ws.package({ name: 'Calm', version: '1.0', behavior: { enable: 'sleep 1000 >/dev/null 2>&1 &' } });
    // A group left full: its disable and uninstall fork (sleep), which the kernel would refuse there.
    const full = await ws.package({ name: 'Full', version: '1.0', files: { 'fill.sh': FILL },
      manifest: { enableCommand: 'sh fill.sh $$ >/dev/null 2>&1 &', disableCommand: 'sleep 0 && echo disabled', uninstallCommand: 'sleep 0 && echo uninstalled' } });
    const goal = (bombState: string, calmSeq: number) => ({ etag: `${bombState}-${calmSeq}`, handlers: [
      handlerEntry('Bomb', [bomb], { state: bombState, limits: { tasksMax: TASKS_MAX } }),
      handlerEntry('Full', [full], { state: bombState, limits: { tasksMax: FULL_MAX } }),
      handlerEntry('Calm', [calm], { extensions: [{ name: 'default', sequenceNumber: calmSeq, publicSettings: {} }] })] });
    const goalFile = await ws.goalState(goal('enabled', 1));
    daemon = await startDaemon(ws, goalFile, ['--cgroup-root', cg.root]);
    await waitFor(async () => (await row(ws, 'Calm'))?.pids.length === 1, 60_000, 'Calm running');
    const [calmPid] = (await row(ws, 'Calm'))!.pids as number[];

    // Where the limit lives (v1 pids here, pids.max in cgroup2 where offered) and where membership is read.
    const saved = savedGroups(ws.libDir);
    const v2Bomb = join(saved.v2!, 'h-Bomb');
    const pidsBomb = join(saved.v1.get('pids') ?? saved.v2!, 'h-Bomb');
    const members = (): number[] => [v2Bomb, ...runsOf(v2Bomb).map((r) => join(v2Bomb, r))].flatMap(pidsIn);
    const seen = new Set<number>();
    let samples = 0;
    let most = 0;
    const sample = async (): Promise<void> => {
      const now = members();
      const current = Number(existsSync(join(pidsBomb, 'pids.current')) ? readFileSync(join(pidsBomb, 'pids.current'), 'latin1').trim() : '0');
      if (now.length > HARD_CAP || current > HARD_CAP) {
        await cg.cleanup(); // the limit failed: end the bomb now, before it grows further
        assert.fail(`the bomb grew to ${now.length} members (pids.current ${current}) under tasksMax ${TASKS_MAX}`);
      }
      for (const pid of now) seen.add(pid);
      most = Math.max(most, now.length, current);
      samples += 1;
      assert.ok(now.length <= TASKS_MAX, `${now.length} members in Bomb's groups`);
      assert.ok(current <= TASKS_MAX, `pids.current ${current}`);
    };
    assert.equal(readFileSync(join(pidsBomb, 'pids.max'), 'latin1').trim(), String(TASKS_MAX));
    // The kernel refused forks at the limit: the bomb did push against it. pids.events counts them in the
    // group that forked (the enable's run group, in v1) or at the limit (cgroup2): both are summed.
    const refused = (): number => [pidsBomb, ...runsOf(pidsBomb).map((r) => join(pidsBomb, r))]
      .reduce((n, dir) => n + (keyed(join(dir, 'pids.events')).get('max') ?? 0), 0);
    await waitFor(async () => { await sample(); return refused() > 0; }, 60_000, 'forks refused at pids.max')
      .catch(async (err: Error) => {
        throw new Error(`${err.message}; Bomb: ${JSON.stringify((await row(ws, 'Bomb')) ?? null)}; ${members().length} members, most ${most}`);
      });
    for (let i = 0; i < 20; i += 1) await sample();
    assert.ok(most > TASKS_MAX / 2, `the bomb reached ${most} tasks`);
    // The kernel's own high-water mark, where it keeps one: never above the limit, not only at the samples.
    const peak = join(pidsBomb, 'pids.peak');
    if (existsSync(peak)) assert.ok(Number(readFileSync(peak, 'latin1').trim()) <= TASKS_MAX, `pids.peak ${readFileSync(peak, 'latin1').trim()}`);

    // The supervisor answers (ps above), the neighbour's process lives, and a new enable of it runs to success.
    assert.ok(alive(calmPid!), 'the neighbour\'s process');
    const before = (await row(ws, 'Calm'))!.lastOperation.startedAt;
    await writeFile(goalFile, JSON.stringify(goal('enabled', 2)));
    await waitFor(async () => { const r = await row(ws, 'Calm'); return r?.lastOperation?.startedAt !== before && r?.lastOperation?.result === 'succeeded'; },
      60_000, 'Calm enabled again beside the bomb');
    assert.equal(daemon.child.exitCode, null, 'the daemon runs');

    // Full holds tasksMax - 1 sleeps: no room for a disable's shell and its fork.
    await waitFor(async () => (await row(ws, 'Full'))?.pids.length === FULL_MAX - 1, 60_000, `Full at ${FULL_MAX - 1} processes`)
      .catch(async (err: Error) => { throw new Error(`${err.message}: ${JSON.stringify(await row(ws, 'Full'))}`); });
    const fullPids = (await row(ws, 'Full'))!.pids as number[];

    await writeFile(goalFile, JSON.stringify(goal('uninstall', 2)));
    // Full's disable forks: the supervisor ends its processes first, so it runs and the uninstall completes.
    await waitFor(async () => { const f = await row(ws, 'Full'); return f === undefined || f.state === 'NotInstalled'; }, 60_000, 'Full uninstalled')
      .catch(async (err: Error) => { throw new Error(`${err.message}: ${JSON.stringify(await row(ws, 'Full'))}`); });
    assert.deepEqual(fullPids.filter(alive), [], 'Full\'s processes ended');
    // Uninstalled: its row leaves `ps` and its handler dir is removed (both only after a successful uninstall).
    await waitFor(async () => { const b = await row(ws, 'Bomb'); return b === undefined || b.state === 'NotInstalled'; }, 60_000, 'Bomb uninstalled')
      .catch(async (err: Error) => { throw new Error(`${err.message}: ${JSON.stringify(await row(ws, 'Bomb'))}`); });
    await waitFor(() => !existsSync(join(ws.libDir, 'Bomb-1.0')), 60_000, 'Bomb\'s handler dir removed');
    // Every process the bomb ever had in its group is gone, and no process anywhere is in a group of Bomb (/proc).
    const left = [...seen].filter(alive);
    assert.deepEqual(left, [], `bomb processes still alive: ${left.join(', ')}`);
    const rel = `${v2Bomb.slice(findMounts().v2!.length)}`;
    assert.deepEqual(processesUnder(rel), [], 'no process in a group of Bomb (/proc)');
    await waitFor(() => [v2Bomb, ...[...saved.v1.values()].map((d) => join(d, 'h-Bomb'))].every((d) => !existsSync(d)), 60_000, 'Bomb\'s groups removed');
    assert.ok(alive(calmPid!), 'the neighbour\'s process still runs');
    assert.ok(samples >= 21);
  } finally {
    await daemon?.stop();
    await killLeftovers(ws);
    await cg.cleanup();
    await ws.dispose();
  }
});
