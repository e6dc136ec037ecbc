/** Starts a real `supervisor run` for a test workspace and waits until its control socket answers. */
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { startCli, type CliResult } from './cli.js';
import type { Workspace } from './handlers.js';
import type { ChildProcess } from 'node:child_process';

export interface RunningDaemon {
  readonly child: ChildProcess;
  readonly done: Promise<CliResult>;
  readonly args: readonly string[];
  stop(): Promise<CliResult>;
}

export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

export function dirFlags(ws: Workspace): string[] {
  return ['--lib-dir', ws.libDir, '--log-dir', ws.logDir];
}

/**
 * Waits until the daemon `child` (ending with `done`) has opened its control socket, and returns
 * its stop: SIGTERM, then SIGKILL past the stop and kill graces. One that exits first, or is not
 * listening by the deadline, is killed and the wait throws.
 */
export async function whenListening(ws: Workspace, child: ChildProcess, done: Promise<CliResult>): Promise<() => Promise<CliResult>> {
  let exited = false;
  void done.then(() => { exited = true; });
  try {
    // The deadline only bounds a failure: on a loaded 2-core machine a cold start can take seconds.
    await waitFor(async () => {
      if (exited) throw new Error(`supervisor run exited early: ${JSON.stringify(await done)}`);
      return access(join(ws.libDir, 'supervisor.sock')).then(() => true, () => false);
    }, 60_000, 'the control socket');
  } catch (err) {
    // A daemon that starts after the deadline must not outlive its test.
    if (!exited) { child.kill('SIGKILL'); await done; }
    throw err;
  }
  return async () => {
    if (!exited) child.kill('SIGTERM');
    // A daemon that does not stop (a defect under test) must not keep the test file, and the
    // whole run, alive: past its stop grace (30 s) and kill grace, it is killed.
    const timer = setTimeout(() => child.kill('SIGKILL'), 45_000);
    try {
      return await done;
    } finally {
      clearTimeout(timer);
    }
  };
}

export async function startDaemon(ws: Workspace, goalSource: string, extra: readonly string[] = []): Promise<RunningDaemon> {
  const args = ['run', '--goal-state', goalSource, ...dirFlags(ws), '--kill-grace', '0.3', '--sample-interval', '0.5', ...extra];
  const { child, done } = startCli(args);
  const stop = await whenListening(ws, child, done);
  return { child, done, args, stop };
}
