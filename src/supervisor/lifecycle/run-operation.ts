/**
 * One lifecycle command of one handler: wait for a slot, run it isolated, map the outcome
 * to the agent's error codes, and end stragglers after a successful disable/uninstall.
 */
import type { Spawner } from '../process/spawner.js';
import { isolationFor, type HandlerLimits } from '../process/cgroup/index.js';
import { join } from 'node:path';
import { runCommand, type RunResult } from '../process/run-command.js';
import { terminateHandler } from '../process/terminate.js';
import type { Clock } from '../../core/clock.js';
import type { Gate } from './gate.js';
import { commandFailureCode, ErrorCodes } from './error-codes.js';
import type { OperationResult } from './events.js';
import type { CommandName } from './steps.js';

export interface CommandInvocation {
  readonly handler: string;
  readonly op: CommandName;
  readonly version: string;
  readonly extension: string | null;
  readonly command: { readonly shell: string } | { readonly file: string; readonly args: readonly string[] };
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  readonly outputFolder: string;
  readonly timeoutMs: number;
  /** Checkpointed before the command starts, so a restarted supervisor can find what became of it. */
  readonly runId?: string;
  readonly exitFile?: string;
}

export interface RunContext {
  readonly libId: string;
  readonly gate: Gate;
  readonly graceMs: number;
  readonly signal: AbortSignal;
  readonly clock: Clock;
  readonly onStart: (pid: number | null, startedAt: number) => void;
  /** Forks through this helper process (the daemon's); from this process otherwise. */
  readonly spawner?: Spawner;
  /** The handler's limits, written to its group before the command enters it. */
  readonly limits?: HandlerLimits | null;
}

/** How much of stdout/stderr goes into a failure message. */
const MESSAGE_TAIL_BYTES = 1024;

function tail(text: string): string {
  const t = text.length > MESSAGE_TAIL_BYTES ? `...${text.slice(-MESSAGE_TAIL_BYTES)}` : text;
  return t.trimEnd();
}

/** A failure message carrying what the command said, as the agent's messages do. */
export function failureMessage(head: string, r: Pick<RunResult, 'stdoutTail' | 'stderrTail'>): string {
  const parts = [head];
  const out = tail(r.stdoutTail);
  const err = tail(r.stderrTail);
  if (out) parts.push(`[stdout]\n${out}`);
  if (err) parts.push(`[stderr]\n${err}`);
  return parts.join('\n');
}

function outcomeOf(inv: CommandInvocation, r: RunResult): Pick<OperationResult, 'result' | 'code' | 'message'> {
  const what = `${inv.op}${inv.extension ? ` (${inv.extension})` : ''}`;
  const unkillable = r.termination?.unkillable.length ? `; unkillable: ${r.termination.unkillable.join(', ')}` : '';
  switch (r.outcome) {
    case 'exited':
      if (r.memoryLimitKill !== undefined) {
        return { result: 'failed', code: ErrorCodes.memoryLimit,
          message: failureMessage(`${what} failed: killed by the kernel: memory limit ${r.memoryLimitKill} MB reached`, r) };
      }
      if (r.exitCode === 0) return { result: 'succeeded', code: 0, message: `${what} succeeded` };
      return { result: 'failed', code: commandFailureCode(inv.op),
        message: failureMessage(r.exitCode !== null ? `${what} failed with exit code ${r.exitCode}` : `${what} failed: killed by ${r.signal}`, r) };
    case 'timedOut':
      return { result: 'timedOut', code: ErrorCodes.timeout,
        message: failureMessage(`${what} timed out after ${inv.timeoutMs / 1000} s and was ended (SIGTERM, then SIGKILL)${unkillable}`, r) };
    case 'canceled':
      return { result: 'failed', code: commandFailureCode(inv.op), message: failureMessage(`${what} canceled: the supervisor is stopping${unkillable}`, r) };
    case 'spawnFailed':
      return { result: 'failed', code: commandFailureCode(inv.op), message: `${what} could not start: ${r.error ?? 'unknown error'}` };
  }
}

/**
 * A disable or uninstall of a handler whose group is at its tasksMax could not fork (a fork bomb
 * holds every slot): the handler's processes are ended first, as they would be after it, and the
 * result says so. Returns that note, or '' when there was room.
 */
async function makeRoomToStop(inv: CommandInvocation, ctx: RunContext): Promise<string> {
  if (inv.op !== 'disable' && inv.op !== 'uninstall') return '';
  const full = isolationFor(ctx.libId)?.tasksAtLimit(inv.handler) ?? null;
  if (full === null) return '';
  const t = await terminateHandler({ libId: ctx.libId, handler: inv.handler, graceMs: ctx.graceMs, reason: 'cleanup', clock: ctx.clock });
  const ended = t.termed.length + t.killed.length;
  return `; its group was at tasksMax ${full.max} (${full.current} tasks), so its ${ended} process${ended === 1 ? ' was' : 'es were'} ended before ${inv.op} ran`;
}

/** Runs the command holding a gate slot; never throws for a command failure, only reports it. */
export async function runOperation(inv: CommandInvocation, ctx: RunContext): Promise<OperationResult> {
  const release = await ctx.gate.acquire(ctx.signal);
  let r: RunResult;
  let note = '';
  try {
    note = await makeRoomToStop(inv, ctx);
    const base = `${inv.op}${inv.extension ? `.${inv.extension}` : ''}`;
    const running = await runCommand({
      libId: ctx.libId, handler: inv.handler, operation: inv.op, command: inv.command, cwd: inv.cwd, env: inv.env,
      stdoutFile: join(inv.outputFolder, `${base}.stdout`), stderrFile: join(inv.outputFolder, `${base}.stderr`),
      timeoutMs: inv.timeoutMs, graceMs: ctx.graceMs, signal: ctx.signal, clock: ctx.clock,
      ...(ctx.spawner ? { spawner: ctx.spawner } : {}), ...(ctx.limits ? { limits: ctx.limits } : {}),
      ...(inv.runId ? { runId: inv.runId } : {}), ...(inv.exitFile ? { exitFile: inv.exitFile } : {}),
    });
    ctx.onStart(running.pid, ctx.clock.now());
    // The slot is the command's: the next one may start while this one's output tails are read
    // (threadpool reads queued behind other handlers' fsyncs, measured in the apply benchmark).
    void running.ended.then(release);
    r = await running.done;
  } finally {
    release();
  }
  const result = await completeOperation(inv, r, ctx);
  return note ? { ...result, message: `${result.message}${note}` } : result;
}

/** Maps a finished command to its OperationResult, ending stragglers after a successful disable/uninstall. */
export async function completeOperation(inv: CommandInvocation, r: RunResult, ctx: Pick<RunContext, 'libId' | 'graceMs' | 'clock'>): Promise<OperationResult> {
  const outcome = outcomeOf(inv, r);
  let unkillable = r.termination?.unkillable ?? [];
  let message = outcome.message;
  if (outcome.result === 'succeeded' && (inv.op === 'disable' || inv.op === 'uninstall')) {
    // A disabled handler keeps nothing running: end whatever it started (daemons, double forks).
    const cleanup = await terminateHandler({ libId: ctx.libId, handler: inv.handler, graceMs: ctx.graceMs, reason: 'cleanup', clock: ctx.clock });
    const ended = cleanup.termed.length + cleanup.killed.length;
    if (ended > 0) message += `; ended ${ended} leftover process${ended === 1 ? '' : 'es'}`;
    if (cleanup.unkillable.length) {
      unkillable = cleanup.unkillable;
      message += `; unkillable: ${cleanup.unkillable.join(', ')}`;
    }
  }
  return {
    op: inv.op, version: inv.version, extension: inv.extension, result: outcome.result,
    exitCode: r.exitCode, signal: r.signal, code: outcome.code, message,
    startedAt: r.startedAt, endedAt: r.endedAt, pids: r.pid === null ? [] : [r.pid], unkillable,
  };
}
