// Issue 15.5: a lock naming a pid that now belongs to an unrelated process (crash, power loss under
// Restart=always) must not keep the daemon from starting; the true owner, alive, still refuses it.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Workspace } from '../helpers/handlers.js';
import { runCli } from '../helpers/cli.js';
import { dirFlags, startDaemon, waitFor } from '../helpers/daemon.js';
import { bootId, ownerAlive, processStartTime } from '../../src/storage/lock.js';

const children: ChildProcess[] = [];
after(() => { for (const c of children) c.kill('SIGKILL'); });

/** An unrelated live process whose pid a stale lock can name. */
async function bystander(): Promise<number> {
  const child = spawn('sleep', ['300'], { stdio: 'ignore' });
  children.push(child);
  await new Promise<void>((resolve, reject) => { child.once('spawn', resolve); child.once('error', reject); });
  return child.pid!;
}

async function writeLock(ws: Workspace, lock: Record<string, unknown>): Promise<void> {
  await mkdir(ws.libDir, { recursive: true });
  await writeFile(join(ws.libDir, 'supervisor.lock'), JSON.stringify({ command: 'run', startedAt: '2026-01-01T00:00:00.000Z', ...lock }));
}

/** Past start-up (the daemon's signal handlers are set once it logs this), so SIGTERM stops it gracefully. */
async function running(ws: Workspace): Promise<void> {
  await waitFor(async () => (await readFile(join(ws.logDir, 'supervisor.log'), 'utf8').catch(() => '')).includes('supervisor running on'),
    30_000, 'the daemon to finish starting');
}

describe('supervisor.lock: a reused pid is not the owner', () => {
  test('the owner is told apart by its start time and the boot id', async () => {
    const pid = await bystander();
    const start = processStartTime(pid);
    assert.ok(start !== null && /^\d+$/.test(start), `start time of ${pid}: ${start}`);
    assert.equal(ownerAlive({ pid, command: 'run', startedAt: '', procStart: start!, bootId: bootId()! }), true);
    assert.equal(ownerAlive({ pid, command: 'run', startedAt: '', procStart: String(Number(start) + 1), bootId: bootId()! }), false);
    assert.equal(ownerAlive({ pid, command: 'run', startedAt: '', procStart: start!, bootId: 'another-boot' }), false);
    // A lock written before start times were recorded still counts its live pid as the owner.
    assert.equal(ownerAlive({ pid, command: 'run', startedAt: '' }), true);
  });

  test('a lock naming a live unrelated process (another start time) is taken over; the live owner then refuses a second daemon', async () => {
    const ws = await Workspace.create('exts-lock-');
    let daemon;
    try {
      const pid = await bystander();
      await writeLock(ws, { pid, procStart: String(Number(processStartTime(pid)) + 1), bootId: bootId() });
      const goal = await ws.goalState({ handlers: [] });
      daemon = await startDaemon(ws, goal);
      await running(ws);
      const lock = JSON.parse(await readFile(join(ws.libDir, 'supervisor.lock'), 'utf8'));
      assert.equal(lock.pid, daemon.child.pid, 'the daemon holds the lock now');
      assert.equal(lock.procStart, processStartTime(daemon.child.pid!));
      assert.equal(lock.bootId, bootId());

      const second = await runCli(['run', '--goal-state', goal, ...dirFlags(ws)]);
      assert.equal(second.code, 2, second.stderr);
      assert.match(second.stderr, new RegExp(`another supervisor \\(run, pid ${daemon.child.pid}\\)`));
      const exit = await daemon.stop();
      daemon = undefined;
      assert.equal(exit.code, 0, exit.stderr);
    } finally {
      await daemon?.stop();
      await ws.dispose();
    }
  });

  test('a lock from before a reboot (another boot id) is stale even when its pid and start time match a live process', async () => {
    const ws = await Workspace.create('exts-lock-boot-');
    try {
      const pid = await bystander();
      await writeLock(ws, { pid, procStart: processStartTime(pid), bootId: 'd0d0d0d0-0000-4000-8000-000000000000' });
      const goal = await ws.goalState({ handlers: [] });
      const daemon = await startDaemon(ws, goal);
      await running(ws);
      const lock = JSON.parse(await readFile(join(ws.libDir, 'supervisor.lock'), 'utf8'));
      assert.equal(lock.pid, daemon.child.pid, 'the daemon holds the lock now');
      assert.equal((await daemon.stop()).code, 0);
    } finally {
      await ws.dispose();
    }
  });
});
