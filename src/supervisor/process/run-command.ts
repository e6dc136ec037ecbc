import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, constants as fsConstants, openSync } from 'node:fs';
import { systemClock } from '../../actors/clock.js';
import { MARK_ENV, RUN_ENV, formatMark } from './attribution.js';
import { DEFAULT_GRACE_MS, checkRunSpec, describeCommand } from './run-spec.js';
import type { RunResult, RunSpec, RunningCommand } from './run-spec.js';
import { defaultSendSignal, trySignal } from './signal.js';
import { readTail } from './tail.js';
import { terminateHandler } from './terminate.js';
import type { TerminationReason, TerminationReport } from './terminate.js';

export type { RunResult, RunSpec, RunningCommand } from './run-spec.js';

// How long to wait for the exit event after a termination saw the child gone (it may be an unreaped zombie).
const EXIT_EVENT_WAIT_MS = 1000;

type Ending = Pick<RunResult, 'outcome' | 'exitCode' | 'signal' | 'error' | 'termination'>;

function childEnv(spec: RunSpec, runId: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  Object.assign(env, spec.env);
  // Last, so nothing the handler configures can hide it from attribution.
  env[MARK_ENV] = formatMark(spec.libId, spec.handler);
  env[RUN_ENV] = runId;
  return env;
}

async function tail(file: string): Promise<string> {
  try {
    return await readTail(file);
  } catch (err) {
    return `[cannot read ${file}: ${(err as Error).message}]`;
  }
}

/** Opens (creating or truncating) the output files; one fd when both name the same file, so writes do not overwrite each other. */
// O_APPEND: when the output is cut down to size while a daemon still writes it, its next write
// lands at the new end instead of leaving a hole the size of what was cut.
const OUTPUT_FLAGS = fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_TRUNC | fsConstants.O_APPEND;

function openOutputs(spec: RunSpec): [number, number] {
  const out = openSync(spec.stdoutFile, OUTPUT_FLAGS, 0o600);
  if (spec.stderrFile === spec.stdoutFile) return [out, out];
  try {
    return [out, openSync(spec.stderrFile, OUTPUT_FLAGS, 0o600)];
  } catch (err) {
    closeSync(out);
    throw err;
  }
}

/**
 * Starts a handler command in its own session and process group, marked for attribution,
 * stdin closed and output to files; ends it (two-phase) on timeout or abort.
 */
export function runCommand(spec: RunSpec): RunningCommand {
  checkRunSpec(spec);
  const clock = spec.clock ?? systemClock;
  const startedAt = clock.now();
  const what = `${spec.handler} ${spec.operation} (${describeCommand(spec.command)})`;

  // Output files are only read when a process ran: otherwise they may hold an older run's output.
  const finish = async (pid: number | null, ending: Ending): Promise<RunResult> => {
    const [stdoutTail, stderrTail] = pid === null ? ['', ''] : await Promise.all([tail(spec.stdoutFile), tail(spec.stderrFile)]);
    const endedAt = clock.now();
    return { pid, ...ending, startedAt, endedAt, durationMs: endedAt - startedAt, stdoutTail, stderrTail };
  };
  const failed = (error: string): RunningCommand => ({
    pid: null,
    done: finish(null, { outcome: 'spawnFailed', exitCode: null, signal: null, error, termination: null }),
  });

  if (spec.signal?.aborted) {
    return { pid: null, done: finish(null, { outcome: 'canceled', exitCode: null, signal: null, error: `${what} canceled before it started`, termination: null }) };
  }
  const runId = spec.runId ?? randomBytes(8).toString('hex');
  let child: ChildProcess;
  try {
    const [outFd, errFd] = openOutputs(spec);
    try {
      const [file, args] = 'shell' in spec.command
        ? ['/bin/sh', ['-c', spec.exitFile ? withExitFile(spec.command.shell, spec.exitFile) : spec.command.shell]]
        : [spec.command.file, [...spec.command.args]];
      child = spawn(file, args, { cwd: spec.cwd, env: childEnv(spec, runId), detached: true, stdio: ['ignore', outFd, errFd] });
    } finally {
      // The child has its own copies now; ours would only keep the files open.
      closeSync(outFd);
      if (errFd !== outFd) closeSync(errFd);
    }
  } catch (err) {
    return failed(`cannot start ${what}: ${(err as Error).message}`);
  }
  const pid = child.pid;
  if (pid === undefined) {
    // ENOENT/EACCES/bad cwd: Node reports them on the next tick as an 'error' event.
    const error = new Promise<string>((resolve) => child.once('error', (err) => resolve(err.message)));
    return { pid: null, done: error.then((message) => finish(null, { outcome: 'spawnFailed', exitCode: null, signal: null, error: `cannot start ${what}: ${message}`, termination: null })) };
  }
  return { pid, done: supervise(spec, child, pid, runId, what, finish) };
}

/** Single-quotes a word for /bin/sh. */
function shQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/**
 * Records the shell's pid in `<exitFile>.pid`, then runs the line under an EXIT trap that
 * writes its status to `exitFile` (write, then rename: a reader never sees half a number).
 * The trap runs for `exit N` inside the line too; only an `exec` of the shell itself skips
 * it, which recovery treats as "status unknown".
 */
export function withExitFile(line: string, exitFile: string): string {
  const q = (t: string): string => shQuote(t).replace(/'/g, `'\\''`);
  return `printf '%s\\n' "$$" > ${shQuote(`${exitFile}.pid`)}\n`
    + `trap 'printf "%s\\n" "$?" > ${q(`${exitFile}.tmp`)} && mv -f ${q(`${exitFile}.tmp`)} ${q(exitFile)}' EXIT\n${line}`;
}

interface Supervision {
  exit: { code: number | null; signal: NodeJS.Signals | null } | null;
  reason: TerminationReason | null;
  termination: Promise<{ report: TerminationReport; error: string | null }> | null;
}

async function supervise(
  spec: RunSpec, child: ChildProcess, pid: number, runId: string, what: string,
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

  const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
    state.exit = { code, signal };
    exited();
    wake();
  };
  const onError = (): void => { /* spawn succeeded: later errors come from child.kill(), which is never called */ };
  child.once('exit', onExit);
  child.on('error', onError);
  life.signal.addEventListener('abort', () => {
    child.off('exit', onExit);
    child.off('error', onError);
  }, { once: true });

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
  const timer = clock.setTimeout(() => stop('timeout'), spec.timeoutMs);
  life.signal.addEventListener('abort', () => clock.clearTimeout(timer), { once: true });
  spec.signal?.addEventListener('abort', () => stop('cancel'), { signal: life.signal, once: true });

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
    life.abort();
  }
}
