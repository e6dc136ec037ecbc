import { spawn } from 'node:child_process';
import { onAbort } from '../../core/abort.js';
import { checkExecutable } from './exec-check.js';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { systemClock } from '../../core/clock.js';
import { MARK_ENV, RUN_ENV, formatMark } from './attribution.js';
import { DEFAULT_GRACE_MS, checkRunSpec, describeCommand } from './run-spec.js';
import type { RunResult, RunSpec, RunningCommand } from './run-spec.js';
import { defaultSendSignal, trySignal } from './signal.js';
import { readTail } from './tail.js';
import { readExitFile, withExitFile } from './exit-file.js';
import { closeOutputs, openOutputs } from './output-files.js';
import { handlerBaseEnv } from './daemon-env.js';
import { terminateHandler } from './terminate.js';
import { enterGroups, isolationFor, type CgroupGroups } from './cgroup/index.js';
import type { TerminationReason, TerminationReport } from './terminate.js';

export type { RunResult, RunSpec, RunningCommand } from './run-spec.js';

const SUPERVISION_ENDED = 'supervision ended';

// How long to wait for the exit event after a termination saw the child gone (it may be an unreaped zombie).
const EXIT_EVENT_WAIT_MS = 1000;

type Ending = Pick<RunResult, 'outcome' | 'exitCode' | 'signal' | 'error' | 'termination'>;

/** What the command gets on top of the supervisor's environment; the marks last, so nothing hides them. */
function commandEnv(spec: RunSpec, runId: string): Record<string, string> {
  return { ...spec.env, [MARK_ENV]: formatMark(spec.libId, spec.handler), [RUN_ENV]: runId };
}

async function tail(file: string): Promise<string> {
  try {
    return await readTail(file);
  } catch (err) {
    return `[cannot read ${file}: ${(err as Error).message}]`;
  }
}

/** A started process: its pid and how it ended. */
interface Started {
  readonly pid: number;
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; lost?: boolean }>;
}

/** Forks from this process (tests, one-off commands); the daemon uses its spawner instead. */
function startHere(spec: RunSpec, file: string, args: readonly string[], env: Record<string, string>): Promise<Started> {
  const full = Object.assign(handlerBaseEnv(), env);
  const fds = openOutputs(spec.stdoutFile, spec.stderrFile);
  let child: ChildProcess;
  try {
    child = spawn(file, [...args], { cwd: spec.cwd, env: full, detached: true, stdio: ['ignore', ...fds] });
  } finally {
    closeOutputs(fds); // the child has its own copies now; ours would only keep the files open
  }
  const pid = child.pid;
  if (pid === undefined) {
    // ENOENT/EACCES/bad cwd: Node reports them on the next tick as an 'error' event.
    return new Promise((_, reject) => child.once('error', reject));
  }
  child.on('error', () => { /* spawn succeeded: later errors come from child.kill(), which is never called */ });
  return Promise.resolve({ pid, exit: new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal }))) });
}

/**
 * Starts a handler command in its own session and process group, marked for attribution,
 * stdin closed and output to files; ends it (two-phase) on timeout or abort. Resolves once the
 * process exists (its pid known) or could not be started.
 */
export async function runCommand(spec: RunSpec): Promise<RunningCommand> {
  checkRunSpec(spec);
  const clock = spec.clock ?? systemClock;
  // When the command started: the request until a process exists, then the moment it does (below).
  let startedAt = clock.now();
  const what = `${spec.handler} ${spec.operation} (${describeCommand(spec.command)})`;

  // Output files are only read when a process ran: otherwise they may hold an older run's output.
  const finish = async (pid: number | null, ending: Ending): Promise<RunResult> => {
    const [stdoutTail, stderrTail] = pid === null ? ['', ''] : await Promise.all([tail(spec.stdoutFile), tail(spec.stderrFile)]);
    const endedAt = clock.now();
    return { pid, ...ending, startedAt, endedAt, durationMs: endedAt - startedAt, stdoutTail, stderrTail };
  };

  if (spec.signal?.aborted) {
    return { pid: null, ended: Promise.resolve(), done: finish(null, { outcome: 'canceled', exitCode: null, signal: null, error: `${what} canceled before it started`, termination: null }) };
  }
  const runId = spec.runId ?? randomBytes(8).toString('hex');
  const [file, args] = 'shell' in spec.command
    ? ['/bin/sh', ['-c', spec.exitFile ? withExitFile(spec.command.shell, spec.exitFile) : spec.command.shell]]
    : [spec.command.file, [...spec.command.args]];
  const groups = isolationFor(spec.libId);
  let launch = { file, args };
  let started: Started;
  try {
    if (groups !== null) {
      // Through the entering shell, a program that cannot run would be its exit 126/127: say so as a spawn failure.
      if (file.includes('/')) checkExecutable(file);
      // The run's group exists, with the handler's limits, before the command can run a single instruction.
      launch = enterGroups(groups.prepareRun(spec.handler, runId, spec.limits ?? null).procsFiles, file, args);
    }
    started = spec.spawner
      ? await spec.spawner.spawn({ file: launch.file, args: launch.args, cwd: spec.cwd, env: commandEnv(spec, runId), stdoutFile: spec.stdoutFile, stderrFile: spec.stderrFile })
      : await startHere(spec, launch.file, launch.args, commandEnv(spec, runId));
  } catch (err) {
    groups?.release(spec.handler, runId);
    return { pid: null, ended: Promise.resolve(), done: finish(null, { outcome: 'spawnFailed', exitCode: null, signal: null, error: `cannot start ${what}: ${(err as Error).message}`, termination: null }) };
  }
  // The command's time (its timeout, its duration) runs from here: a burst of 200 forks takes seconds
  // on a slow machine, and the last of them would otherwise be out of time before it ran (kill bench).
  startedAt = clock.now();
  let over!: () => void;
  const ended = new Promise<void>((resolve) => { over = resolve; });
  const done = supervise(spec, started, runId, what, (pid, ending) => { over(); return finish(pid, ending); })
    .finally(over);
  return { pid: started.pid, ended, done: groups === null ? done : done.then((r) => afterGroupRun(groups, spec, runId, r)) };
}

/** Notes a kernel kill at the memory limit, then removes the run's group if nothing of it is left. */
function afterGroupRun(groups: CgroupGroups, spec: RunSpec, runId: string, r: RunResult): RunResult {
  const failed = r.outcome === 'exited' && r.exitCode !== 0;
  // Read only when it can change the result: one synchronous cgroup file read less per command
  // (~1 % of an apply's main thread, docs/decisions.md, "Apply: what each install waits for").
  const oom = failed && spec.limits?.memoryMB !== undefined ? groups.oomKills(spec.handler, runId) : 0;
  groups.release(spec.handler, runId);
  return oom > 0 && spec.limits?.memoryMB !== undefined ? { ...r, memoryLimitKill: spec.limits.memoryMB } : r;
}

interface Supervision {
  exit: { code: number | null; signal: NodeJS.Signals | null } | null;
  reason: TerminationReason | null;
  termination: Promise<{ report: TerminationReport; error: string | null }> | null;
}

async function supervise(
  spec: RunSpec, started: Started, runId: string, what: string,
  finish: (pid: number | null, ending: Ending) => Promise<RunResult>,
): Promise<RunResult> {
  const clock = spec.clock ?? systemClock;
  const graceMs = spec.graceMs ?? DEFAULT_GRACE_MS;
  const send = spec.sendSignal ?? defaultSendSignal;
  // One controller owns every timer and listener of this child; aborting it releases them all.
  const life = new AbortController();
  const state: Supervision = { exit: null, reason: null, termination: null };
  let wake!: () => void;
  const stopped = new Promise<void>((resolve) => { wake = resolve; });
  let exited!: () => void;
  const exitSeen = new Promise<void>((resolve) => { exited = resolve; });

  const pid = started.pid;
  const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
    if (life.signal.aborted) return;
    state.exit = { code, signal };
    exited();
    wake();
  };
  void started.exit.then(async (e) => {
    // The spawner died before it could say how the command ended: the exit file still knows.
    const code = e.lost && spec.exitFile ? await readExitFile(spec.exitFile) : e.code;
    onExit(code, e.signal);
  });

  const stop = (why: TerminationReason): void => {
    if (state.exit !== null || state.termination !== null) return;
    state.reason = why;
    state.termination = terminateHandler({ libId: spec.libId, handler: spec.handler, pgid: pid, runId, graceMs, reason: why, clock, sendSignal: send })
      .then((report) => ({ report, error: null }), (err: Error) => {
        // Without /proc escaped descendants cannot be found; still make sure the group dies.
        let error = err.message;
        try { trySignal(send, -pid, 'SIGKILL'); } catch (killErr) { error += `; SIGKILL to group ${pid} failed: ${(killErr as Error).message}`; }
        return { report: { reason: why, termed: [], killed: [pid], unkillable: [], durationMs: 0 }, error };
      });
    wake();
  };
  // The timeout counts from the moment the process exists (the spawner answers each fork at once).
  const timer = clock.setTimeout(() => stop('timeout'), spec.timeoutMs);
  life.signal.addEventListener('abort', () => clock.clearTimeout(timer), { once: true });
  if (spec.signal) {
    // Called at once when it was aborted while the process was being started.
    const stopWaiting = onAbort(spec.signal, () => stop('cancel'));
    life.signal.addEventListener('abort', stopWaiting, { once: true });
  }

  try {
    await stopped;
    if (state.termination === null) {
      const ended = state.exit ?? { code: null, signal: null };
      return await finish(pid, { outcome: 'exited', exitCode: ended.code, signal: ended.signal, error: null, termination: null });
    }
    const { report, error } = await state.termination;
    if (state.exit === null && !report.unkillable.includes(pid)) {
      // Our scan treats an unreaped zombie as gone; give libuv a moment to reap it and report the status.
      await Promise.race([exitSeen, new Promise<void>((resolve) => {
        const t = clock.setTimeout(resolve, EXIT_EVENT_WAIT_MS);
        life.signal.addEventListener('abort', () => clock.clearTimeout(t), { once: true });
      })]);
    }
    const ended = state.exit ?? { code: null, signal: null };
    const timedOut = state.reason === 'timeout';
    const extra = [
      report.unkillable.length > 0 ? `unkillable: ${report.unkillable.join(', ')}` : '',
      error !== null ? `termination failed: ${error}` : '',
    ].filter(Boolean).join('; ');
    return await finish(pid, {
      outcome: timedOut ? 'timedOut' : 'canceled',
      exitCode: ended.code, signal: ended.signal,
      error: `${what} ${timedOut ? `timed out after ${spec.timeoutMs} ms` : 'canceled'}${extra ? ` (${extra})` : ''}`,
      termination: report,
    });
  } finally {
    // An explicit reason: the default builds a DOMException with a stack, once per command (profiled).
    life.abort(SUPERVISION_ENDED);
  }
}
