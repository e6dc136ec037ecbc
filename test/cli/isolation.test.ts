// Kernel isolation through the real daemon, on this machine's cgroups: each test has its own
// --cgroup-root subtree, removed (with everything in it) after the test.
import { exitForRows } from '../../src/cli/health.js';
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Workspace, handlerEntry } from '../helpers/handlers.js';
import { killLeftovers } from '../helpers/fleet.js';
import { askDaemon } from '../helpers/cli.js';
import { dirFlags, startDaemon, waitFor, type RunningDaemon } from '../helpers/daemon.js';
import { testCgroupRoot } from '../helpers/cgroups.js';
import { readProcStat } from '../../src/supervisor/process/proc.js';
import { closePackagePool } from '../../src/supervisor/packages/pool.js';
import { alive } from '../helpers/isolation.js';

after(() => closePackagePool());

async function psJson(ws: Workspace): Promise<Array<Record<string, any>>> {
  const r = await askDaemon(['ps', '--json', ...dirFlags(ws)]);
  let rows;
  try {
    rows = JSON.parse(r.stdout);
  } catch {
    throw new Error(`ps --json gave no JSON (exit ${r.code}): ${r.stderr}`);
  }
  assert.equal(r.code, exitForRows(rows), `the exit code follows the rows' health: ${r.stderr}`);
  return rows;
}
const row = async (ws: Workspace, name: string) => (await psJson(ws)).find((r) => r.name === name);

/** A workspace, a daemon on its own cgroup subtree, and the clean-up of all three. */
async function setup(prefix: string): Promise<{ ws: Workspace; root: string; start: (goal: string, extra?: string[]) => Promise<RunningDaemon>; end: () => Promise<void> }> {
  const ws = await Workspace.create(prefix);
  const cg = testCgroupRoot();
  const daemons: RunningDaemon[] = [];
  return {
    ws, root: cg.root,
    start: async (goal, extra = []) => { const d = await startDaemon(ws, goal, ['--cgroup-root', cg.root, ...extra]); daemons.push(d); return d; },
    end: async () => {
      for (const d of daemons) await d.stop();
      await killLeftovers(ws);
      await cg.cleanup();
      await ws.dispose();
    },
  };
}

// Leaves a process with no mark, in its own session: the escape the issue names.
const ESCAPE = 'env -i setsid sleep 1000 >/dev/null 2>&1 &';

describe('isolation by cgroups, through the daemon', () => {
  test('an env -i + setsid child is in ps while enabled; disable, then uninstall end it', async () => {
    const t = await setup('exts-cg-escape-');
    try {
      const pkg = await t.ws.package({ name: 'Esc', version: '1.0', behavior: { enable: ESCAPE } });
      const goalFile = await t.ws.goalState({ etag: 'one', handlers: [handlerEntry('Esc', [pkg])] });
      await t.start(goalFile);
      await waitFor(async () => (await row(t.ws, 'Esc'))?.pids.length === 1, 60_000, 'the escaped sleep in ps');
      const [pid] = (await row(t.ws, 'Esc'))!.pids as number[];
      assert.equal(readProcStat(pid!)!.comm, 'sleep');
      assert.ok(!readFileSync(`/proc/${pid}/environ`, 'latin1').includes('EXT_SUPERVISOR_MARK'), 'it carries no mark');
      const status = await askDaemon(['status', 'Esc', ...dirFlags(t.ws)]);
      assert.match(status.stdout, /isolation:\s+cgroup2/);
      assert.match(status.stdout, /limits:\s+none/);

      await writeFile(goalFile, JSON.stringify({ etag: 'two', handlers: [handlerEntry('Esc', [pkg], { state: 'disabled' })] }));
      await waitFor(() => !alive(pid!), 60_000, 'the escaped sleep ended by disable');
      await waitFor(async () => (await row(t.ws, 'Esc'))?.lastOperation?.name === 'disable', 60_000, 'the disable recorded');
      assert.equal((await row(t.ws, 'Esc'))!.lastOperation.result, 'succeeded');

      // Enabled again (a new escape), then uninstalled: the uninstall ends it.
      await writeFile(goalFile, JSON.stringify({ etag: 'three', handlers: [handlerEntry('Esc', [pkg])] }));
      await waitFor(async () => (await row(t.ws, 'Esc'))?.pids.length === 1, 60_000, 'a new escaped sleep');
      const [again] = (await row(t.ws, 'Esc'))!.pids as number[];
      await writeFile(goalFile, JSON.stringify({ etag: 'four', handlers: [handlerEntry('Esc', [pkg], { state: 'uninstall' })] }));
      await waitFor(() => !alive(again!), 60_000, 'the escaped sleep ended by uninstall');
    } finally {
      await t.end();
    }
  });

  test('a timeout ends the escaped children of its own run', async () => {
    const t = await setup('exts-cg-timeout-');
    try {
      const pkg = await t.ws.package({ name: 'Hang', version: '1.0', behavior: { enable: `${ESCAPE} echo $! > "$here/escaped.pid"; sleep 1000` } });
      const goalFile = await t.ws.goalState({ etag: 'one', handlers: [handlerEntry('Hang', [pkg], { timeouts: { enable: 2 } })] });
      await t.start(goalFile);
      await waitFor(async () => (await row(t.ws, 'Hang'))?.lastOperation?.result === 'timedOut', 60_000, 'the enable to time out');
      // The result is recorded when the run's group is killed; the row's pids follow at the next sample.
      await waitFor(async () => (await row(t.ws, 'Hang'))!.pids.length === 0, 60_000, 'no process of Hang left in ps');
      const pidFile = (await readdir(t.ws.libDir, { recursive: true })).find((f) => f.endsWith('escaped.pid'));
      const escaped = pidFile ? Number((await readFile(join(t.ws.libDir, pidFile), 'utf8')).trim()) : NaN;
      assert.ok(Number.isInteger(escaped) && escaped > 0, 'the escaped child wrote its pid');
      assert.equal(alive(escaped), false, `the escaped child ${escaped} is gone (/proc)`);
    } finally {
      await t.end();
    }
  });

  test('320 MB under memoryMB 64 is killed by the kernel and reported as a memory failure; the neighbour is untouched', async () => {
    const t = await setup('exts-cg-oom-');
    try {
      const hog = await t.ws.package({ name: 'Hog', version: '1.0', behavior: {
        enable: 'python3 -c "b = bytearray(b\'a\') * (320 * 1024 * 1024)"; rc=$?' } });
      const calm = await t.ws.package({ name: 'Calm', version: '1.0', behavior: { enable: 'sleep 1000 >/dev/null 2>&1 &' } });
      const goalFile = await t.ws.goalState({ etag: 'one', handlers: [
        handlerEntry('Hog', [hog], { limits: { memoryMB: 64 } }), handlerEntry('Calm', [calm], { limits: { memoryMB: 64 } })] });
      await t.start(goalFile);
      await waitFor(async () => (await row(t.ws, 'Hog'))?.lastOperation?.result === 'failed', 90_000, 'Hog enable to fail');
      await waitFor(async () => (await row(t.ws, 'Calm'))?.pids.length === 1, 60_000, 'Calm running');
      const h = (await row(t.ws, 'Hog'))!;
      assert.equal(h.code, 1013);
      assert.match(h.message, /killed by the kernel: memory limit 64 MB reached/);
      const [calmPid] = (await row(t.ws, 'Calm'))!.pids as number[];
      assert.ok(alive(calmPid!));
      const status = await askDaemon(['status', 'Hog', ...dirFlags(t.ws)]);
      assert.match(status.stdout, /limits:\s+memory 64 MB \(cgroup v1\)/);
    } finally {
      await t.end();
    }
  });

  test('a Device Update script killed by the kernel for memory fails with its own result: code 1013, naming the limit', async () => {
    const t = await setup('exts-cg-oom-script-');
    try {
      // apply (the enable) allocates 320 MB under a 64 MB limit; the kernel kills python, the script exits with its status.
      const hog = await t.ws.scriptPackage({ name: 'ScriptHog', version: '1.0', behavior: {
        apply: 'python3 -c "b = bytearray(b\'a\') * (320 * 1024 * 1024)"; exit $?' } });
      const goalFile = await t.ws.goalState({ etag: 'one', handlers: [handlerEntry('ScriptHog', [hog], { limits: { memoryMB: 64 } })] });
      await t.start(goalFile);
      await waitFor(async () => (await row(t.ws, 'ScriptHog'))?.lastOperation?.result === 'failed', 90_000, 'ScriptHog enable to fail');
      const h = (await row(t.ws, 'ScriptHog'))!;
      assert.equal(h.lastOperation.name, 'enable');
      assert.equal(h.code, 1013);
      assert.match(h.message, /enable failed at --action-apply: killed by the kernel: memory limit 64 MB reached \(exit code 137, extendedResultCode 0x30501089/);
      const status = await askDaemon(['status', 'ScriptHog', ...dirFlags(t.ws)]);
      assert.match(status.stdout, /killed by the kernel: memory limit 64 MB reached/);
    } finally {
      await t.end();
    }
  });

  test('a spinner under cpuPercent 20 gets about 20 % of a core, and status shows the throttling', async () => {
    const t = await setup('exts-cg-cpu-');
    try {
      const pkg = await t.ws.package({ name: 'Spin', version: '1.0', behavior: { enable: 'setsid sh -c "while :; do :; done" >/dev/null 2>&1 &' } });
      const goalFile = await t.ws.goalState({ etag: 'one', handlers: [handlerEntry('Spin', [pkg], { limits: { cpuPercent: 20 } })] });
      await t.start(goalFile);
      await waitFor(async () => (await row(t.ws, 'Spin'))?.pids.length === 1, 60_000, 'the spinner');
      const [pid] = (await row(t.ws, 'Spin'))!.pids as number[];
      // Its own CPU time over a wall-clock window: a ratio, so a loaded machine can only lower it.
      const ticks = (): number => { const s = readProcStat(pid!)!; return s.utimeTicks + s.stimeTicks; };
      const [t0, c0] = [process.hrtime.bigint(), ticks()];
      await new Promise((resolve) => setTimeout(resolve, 3000));
      const share = (ticks() - c0) / 100 / (Number(process.hrtime.bigint() - t0) / 1e9);
      assert.ok(share <= 0.25, `the spinner used ${(share * 100).toFixed(1)} % of a core`);
      await waitFor(async () => /cpu throttled [1-9]/.test((await askDaemon(['status', 'Spin', ...dirFlags(t.ws)])).stdout), 30_000, 'throttling in status');
    } finally {
      await t.end();
    }
  });

  test('the daemon SIGKILLed and restarted adopts the members of every group', async () => {
    const t = await setup('exts-cg-adopt-');
    try {
      const pkg = await t.ws.package({ name: 'Svc', version: '1.0', behavior: { enable: ESCAPE } });
      const goalFile = await t.ws.goalState({ etag: 'one', handlers: [handlerEntry('Svc', [pkg])] });
      const first = await t.start(goalFile);
      await waitFor(async () => (await row(t.ws, 'Svc'))?.pids.length === 1, 60_000, 'the escaped sleep');
      const pids = (await row(t.ws, 'Svc'))!.pids as number[];
      first.child.kill('SIGKILL');
      await first.done;
      await t.start(goalFile);
      await waitFor(async () => JSON.stringify((await row(t.ws, 'Svc'))?.pids) === JSON.stringify(pids), 60_000, 'the same pids adopted');
      assert.ok(alive(pids[0]!));
    } finally {
      await t.end();
    }
  });

  test('--no-cgroups: marks only, as before; status says so and why', async () => {
    const t = await setup('exts-cg-marks-');
    try {
      const pkg = await t.ws.package({ name: 'M', version: '1.0', behavior: { enable: 'sleep 1000 >/dev/null 2>&1 &' } });
      const goalFile = await t.ws.goalState({ etag: 'one', handlers: [handlerEntry('M', [pkg], { limits: { memoryMB: 64 } })] });
      const daemon = await t.start(goalFile, ['--no-cgroups']);
      await waitFor(async () => (await row(t.ws, 'M'))?.pids.length === 1, 60_000, 'the marked sleep');
      const [pid] = (await row(t.ws, 'M'))!.pids as number[];
      const status = await askDaemon(['status', 'M', ...dirFlags(t.ws)]);
      assert.match(status.stdout, /isolation:\s+marks only/);
      assert.match(status.stdout, /limits:\s+memory 64 MB not enforced \(no memory cgroup\)/);
      await writeFile(goalFile, JSON.stringify({ etag: 'two', handlers: [handlerEntry('M', [pkg], { state: 'disabled', limits: { memoryMB: 64 } })] }));
      await waitFor(() => !alive(pid!), 60_000, 'the marked sleep ended by disable');
      const { stderr } = await daemon.stop();
      const line = stderr.split('\n').find((l) => / isolation: marks only/.test(l));
      assert.ok(line, `the choice is logged once at start:\n${stderr}`);
      assert.doesNotMatch(line, /isolation=marks only/, 'said once, not again as a field');
    } finally {
      await t.end();
    }
  });
});
