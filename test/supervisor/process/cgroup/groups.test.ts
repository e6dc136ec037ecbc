import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { detectLayout, describeLayout, findMounts } from '../../../../src/supervisor/process/cgroup/detect.js';
import { CgroupGroups } from '../../../../src/supervisor/process/cgroup/groups.js';
import { enterGroups } from '../../../../src/supervisor/process/cgroup/index.js';
import { readProcStat } from '../../../../src/supervisor/process/proc.js';
import { GroupUsageTracker } from '../../../../src/supervisor/monitor/group-usage.js';
import { loadProcConstants, readUptimeSec } from '../../../../src/supervisor/monitor/proc-usage.js';
import { systemClock } from '../../../../src/core/clock.js';
import { testCgroupRoot } from '../../../helpers/cgroups.js';
import { uniqueLibId, waitFor } from '../kit.js';

const roots: Array<() => Promise<void>> = [];
after(async () => { for (const cleanup of roots) await cleanup(); });

function groupsFor(opts: { cgroupKill?: boolean } = {}): { groups: CgroupGroups; libId: string } {
  const t = testCgroupRoot();
  roots.push(t.cleanup);
  const libId = uniqueLibId();
  return { groups: new CgroupGroups(detectLayout({ libId, root: t.root }), () => {}, opts), libId };
}

/** Starts `sh -c line` inside a run's groups, as the spawner does; resolves with its exit. */
function startIn(groups: CgroupGroups, handler: string, runId: string, line: string, limits = null as Parameters<CgroupGroups['prepareRun']>[2]) {
  const { procsFiles, problems } = groups.prepareRun(handler, runId, limits);
  assert.deepEqual(problems, []);
  const { file, args } = enterGroups(procsFiles, '/bin/sh', ['-c', line]);
  const child = spawn(file, args, { detached: true, stdio: 'ignore' });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { pid: child.pid!, exit };
}

const alive = (pid: number): boolean => { const s = readProcStat(pid); return s !== null && s.state !== 'Z' && s.state !== 'X'; };

describe('cgroup backend', () => {
  test('this machine: cgroup2 for membership, v1 for the controllers it lacks', () => {
    const { groups } = groupsFor();
    const mounts = findMounts();
    assert.ok(mounts.v2 !== null);
    assert.match(describeLayout(groups.layout), /^cgroup2/);
    assert.deepEqual(groups.controllers, ['memory', 'cpu', 'pids']);
  });

  test('an env -i + setsid child is a member, and kill ends it with its group', async () => {
    const { groups } = groupsFor();
    const run = startIn(groups, 'h1', 'run1', 'env -i setsid sleep 1000 & echo started; wait');
    // Until its exec the child is still `env` or `setsid`: wait for the sleep itself.
    const escaped = await waitFor('the escaped sleep', () => groups.members('h1').find((p) => p !== run.pid && readProcStat(p)?.comm === 'sleep'), 30_000);
    const members = groups.members('h1');
    assert.notEqual(readProcStat(escaped)!.sid, run.pid, 'setsid left the session');
    assert.deepEqual(groups.members('h1', 'run1').sort(), members.sort());
    assert.deepEqual(groups.handlers(), ['h1']);
    groups.kill('h1');
    assert.equal(await groups.waitEmpty('h1', undefined, 30_000, systemClock), true);
    await run.exit;
    assert.equal(alive(escaped), false);
    groups.release('h1', 'run1');
    assert.equal(existsSync(join(groups.layout.v2!, 'h-h1')), false, 'empty groups are removed');
  });

  test('without cgroup.kill (kernels before 5.14): freeze, kill each member, thaw; a forking loop ends too', async () => {
    const { groups } = groupsFor({ cgroupKill: false });
    const run = startIn(groups, 'f', 'r', 'while :; do setsid sleep 1000 & sleep 0.01; done');
    await waitFor('a few forks', () => (groups.members('f').length >= 5 ? true : undefined), 30_000);
    groups.kill('f');
    assert.equal(await groups.waitEmpty('f', undefined, 30_000, systemClock), true);
    assert.deepEqual(await run.exit, { code: null, signal: 'SIGKILL' });
    assert.equal(readFileSync(join(groups.layout.v2!, 'h-f', 'cgroup.freeze'), 'latin1').trim(), '0', 'thawed again');
  });

  test('a run kill ends that run only', async () => {
    const { groups } = groupsFor();
    const a = startIn(groups, 'h', 'a', 'exec sleep 1000');
    const b = startIn(groups, 'h', 'b', 'exec sleep 1000');
    await waitFor('both in', () => (groups.members('h').length === 2 ? true : undefined), 30_000);
    groups.kill('h', 'a');
    assert.deepEqual(await a.exit, { code: null, signal: 'SIGKILL' });
    assert.deepEqual(groups.members('h'), [b.pid]);
    groups.kill('h');
    await b.exit;
  });

  test('320 MB under a 64 MB limit: the kernel kills it and counts the kill', async () => {
    const { groups } = groupsFor();
    const hog = startIn(groups, 'hog', 'r', 'exec python3 -c "b = bytearray(b\'a\') * (320 * 1024 * 1024)"', { memoryMB: 64 });
    const neighbour = startIn(groups, 'calm', 'r', 'exec sleep 1000');
    assert.deepEqual(await hog.exit, { code: null, signal: 'SIGKILL' });
    assert.ok(groups.oomKills('hog', 'r') >= 1);
    assert.equal(groups.oomKills('calm', 'r'), 0);
    assert.ok(alive(neighbour.pid));
    groups.kill('calm');
    await neighbour.exit;
  });

  test('a fork bomb under tasksMax 50 is bounded, then ended', async () => {
    const { groups } = groupsFor();
    const bomb = startIn(groups, 'bomb', 'r', 'while :; do sleep 1000 & done', { tasksMax: 50 });
    // dash gives up when fork fails: the bomb's shell ends at the bound, its children stay.
    assert.deepEqual(await bomb.exit, { code: 2, signal: null });
    assert.equal(Number(require_('pids', groups, 'bomb', 'pids.max')), 50);
    const members = groups.members('bomb').length;
    assert.ok(members >= 40 && members <= 50, `${members} members`);
    // No room for a command's shell and one fork: a disable must make room first (run-operation.ts).
    assert.deepEqual(groups.tasksAtLimit('bomb'), { current: Number(require_('pids', groups, 'bomb', 'pids.current')), max: 50 });
    assert.equal(groups.tasksAtLimit('no-such-handler'), null);
    groups.kill('bomb');
    assert.equal(await groups.waitEmpty('bomb', undefined, 30_000, systemClock), true);
  });

  test('prune: members of the runs it made or adopted; an ended run\'s group removed; one removed by another dropped', async () => {
    const { groups } = groupsFor();
    const a = startIn(groups, 'p', 'a', 'exec sleep 1000');
    const b = startIn(groups, 'p', 'b', 'exec sleep 1000');
    // Entered in every tree: the entering shell writes itself into each group, then runs the line (exec sleep).
    // A release before that would remove a v1 run group it has not entered yet, and it would exit 125.
    await waitFor('both sleeping in their groups', () => ([a.pid, b.pid].every((pid) => readProcStat(pid)?.comm === 'sleep')
      && groups.members('p').length === 2 ? true : undefined), 30_000);
    groups.release('p', 'a'); // entered: no longer "prepared", and still holds its process, so it stays
    groups.release('p', 'b');
    assert.deepEqual(groups.prune('p').sort((x, y) => x - y), [a.pid, b.pid].sort((x, y) => x - y));
    // A second daemon over the same groups (adoption): it lists the runs once, then reads them.
    const adopter = new CgroupGroups(groups.layout, () => {});
    assert.deepEqual(adopter.prune('p').sort((x, y) => x - y), [a.pid, b.pid].sort((x, y) => x - y));
    groups.kill('p', 'a');
    assert.equal(await groups.waitEmpty('p', 'a', 30_000, systemClock), true);
    await a.exit;
    assert.deepEqual(adopter.prune('p'), [b.pid], 'the ended run left, its group removed');
    assert.equal(existsSync(join(groups.layout.v2 ?? groups.layout.v1.get('pids')!, 'h-p', 'r-a')), false);
    assert.deepEqual(groups.prune('p'), [b.pid], 'the first instance drops the run another removed');
    groups.kill('p');
    await b.exit;
    assert.equal(await groups.waitEmpty('p', undefined, 30_000, systemClock), true);
    assert.deepEqual(groups.prune('p'), []);
  });

  test('limits are written once per handler group and change, not for every run; a group made again gets them again', () => {
    const { groups } = groupsFor();
    const where = groups.layout.where.memory;
    assert.ok(where !== null, 'this machine has a memory controller');
    const file = where === 'v2' ? join(groups.layout.v2!, 'h-l', 'memory.max') : join(groups.layout.v1.get('memory')!, 'h-l', 'memory.limit_in_bytes');
    const mb = (n: number): string => String(n * 1024 * 1024);
    const limit = (): string => readFileSync(file, 'latin1').trim();
    groups.prepareRun('l', 'a', { memoryMB: 64 });
    assert.equal(limit(), mb(64));
    writeFileSync(file, mb(48)); // by hand (lower: v1 refuses a memory limit above its memory+swap one), to see whether the next run writes it again
    groups.prepareRun('l', 'b', { memoryMB: 64 });
    assert.equal(limit(), mb(48), 'the same limits: not written again');
    groups.prepareRun('l', 'c', { memoryMB: 32 });
    assert.equal(limit(), mb(32), 'changed limits: written');
    for (const run of ['a', 'b', 'c']) groups.release('l', run);
    assert.equal(existsSync(file), false, 'the empty handler group was removed');
    groups.prepareRun('l', 'd', { memoryMB: 32 });
    assert.equal(limit(), mb(32), 'a group made again gets its limits again');
    groups.prepareRun('l', 'e', null);
    assert.notEqual(limit(), mb(32), 'no limits on a group that had some: lifted');
    const unlimited = limit();
    for (const run of ['d', 'e']) groups.release('l', run);
    groups.prepareRun('l', 'f', null);
    assert.equal(limit(), unlimited, 'a group made anew without limits is unlimited (nothing written)');
    groups.release('l', 'f');
  });

  test('usage: a member newer than one already seen has no /proc read; its start is read once no earlier member is left', async () => {
    const { groups } = groupsFor();
    const constants = await loadProcConstants();
    const statReads: number[] = [];
    const tracker = new GroupUsageTracker(groups, constants, (pid) => { statReads.push(pid); return readProcStat(pid); });
    const first = startIn(groups, 'u', 'a', 'exec sleep 1000');
    await waitFor('the first member in', () => (groups.members('u').includes(first.pid) ? true : undefined), 30_000);
    const startOf = (pid: number): number => Math.round(constants.bootTimeMs + (readProcStat(pid)!.startTicks / constants.clockTicks) * 1000);
    assert.equal(tracker.sample(readUptimeSec()).get('u')!.oldestStartMs, startOf(first.pid));
    assert.deepEqual(statReads, [first.pid]);

    const second = startIn(groups, 'u', 'b', 'exec sleep 1000');
    await waitFor('the second member in', () => (groups.members('u').includes(second.pid) ? true : undefined), 30_000);
    const both = tracker.sample(readUptimeSec()).get('u')!;
    assert.deepEqual([...both.pids], [first.pid, second.pid].sort((x, y) => x - y));
    assert.equal(both.oldestStartMs, startOf(first.pid));
    assert.deepEqual(statReads, [first.pid], 'no read for the newer member');

    groups.kill('u', 'a');
    assert.equal(await groups.waitEmpty('u', 'a', 30_000, systemClock), true);
    await first.exit;
    assert.equal(tracker.sample(readUptimeSec()).get('u')!.oldestStartMs, startOf(second.pid));
    assert.deepEqual(statReads, [first.pid, second.pid], 'read once the earlier member was gone');
    groups.kill('u');
    await second.exit;
  });

  test('usage in chunks: the same sample as in one piece, with turns of the event loop between chunks', async () => {
    const { groups } = groupsFor();
    const constants = await loadProcConstants();
    const runs = ['c1', 'c2', 'c3', 'c4', 'c5'].map((h) => ({ h, ...startIn(groups, h, 'r', 'exec sleep 1000') }));
    try {
      await waitFor('all five in their groups', () => (runs.every((r) => groups.members(r.h).includes(r.pid)) ? true : undefined), 30_000);
      const whole = new GroupUsageTracker(groups, constants).sample(readUptimeSec());
      // A callback queued for the event loop's next turn runs before the chunked sample ends: it yields.
      let turned = false;
      setImmediate(() => { turned = true; });
      let uptimes = 0;
      const got = await new GroupUsageTracker(groups, constants).sampleChunked(() => { uptimes += 1; return readUptimeSec(); }, 2);
      assert.equal(turned, true, 'the event loop turned during the sample');
      assert.equal(uptimes, 3, 'five handlers in chunks of two: three chunks, each measured when it is read');
      assert.deepEqual([...got.keys()].sort(), [...whole.keys()].sort());
      for (const r of runs) {
        assert.deepEqual(got.get(r.h)!.pids, whole.get(r.h)!.pids);
        assert.equal(got.get(r.h)!.oldestStartMs, whole.get(r.h)!.oldestStartMs);
      }
    } finally {
      for (const r of runs) groups.kill(r.h);
      await Promise.all(runs.map((r) => r.exit));
    }
  });
});

function require_(controller: 'pids', groups: CgroupGroups, handler: string, file: string): string {
  const root = groups.layout.where[controller] === 'v2' ? groups.layout.v2! : groups.layout.v1.get(controller)!;
  return readFileSync(join(root, `h-${handler}`, file), 'latin1').trim();
}
