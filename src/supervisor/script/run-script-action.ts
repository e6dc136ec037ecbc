/**
 * Runs one script action (`--action-<action>`) through the same runner as command-form
 * handlers (own process group, attribution mark, timeout with SIGTERM/SIGKILL, output to
 * files) and maps its ending and result file to a Device Update result.
 */
import type { HandlerLimits } from '../process/cgroup/index.js';
import type { Spawner } from '../process/spawner.js';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../../core/clock.js';
import type { CommandName } from '../lifecycle/steps.js';
import { runCommand, type RunResult } from '../process/run-command.js';
import { openRegular, withReadTimeout } from '../../storage/handler-file.js';
import { resultFilePath, type ScriptAction } from './script-args.js';
import {
  formatCode, mapProcessEnd, mapResultFile, ScriptCodes, setupFailure, type ActionOutcome, type ResultFileContent,
} from './script-result-map.js';

/** A result file is a few hundred bytes; a bigger one is a broken script, not something to load. */
export const MAX_RESULT_FILE_BYTES = 1024 * 1024;

export interface ScriptActionInvocation {
  readonly handler: string;
  readonly op: CommandName;
  readonly action: ScriptAction;
  /** Absolute path of the script, exec'd directly (its own #! line, no shell). */
  readonly script: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  readonly workFolder: string;
  readonly outputFolder: string;
  /** What is left of the operation's time budget: the whole sequence shares one timeout. */
  readonly timeoutMs: number;
  /** The operation's full timeout, named in a timeout message. */
  readonly operationTimeoutMs: number;
}

export interface ActionContext {
  readonly libId: string;
  readonly graceMs: number;
  readonly signal: AbortSignal;
  readonly clock: Clock;
  /** Forks through this helper process (the daemon's); from this process otherwise. */
  readonly spawner?: Spawner;
  readonly limits?: HandlerLimits | null;
}

/** What one action did, kept in the operation's record (`status` shows it). */
export interface ActionRecord extends ActionOutcome {
  readonly action: ScriptAction;
  readonly pid: number | null;
  readonly outcome: RunResult['outcome'] | 'notRun';
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly startedAt: number;
  readonly endedAt: number;
  readonly resultFile: string;
  readonly stdoutFile: string;
  readonly stderrFile: string;
}

/** An action's record plus the output tails a failure message quotes. */
export interface ActionRun {
  readonly record: ActionRecord;
  readonly stdoutTail: string;
  readonly stderrTail: string;
  readonly unkillable: readonly number[];
}

/**
 * Reads a result file without trusting it: missing, unreadable, or at most MAX_RESULT_FILE_BYTES
 * of text. A FIFO, link or other non-regular file is unreadable, found without blocking.
 */
export async function readResultFile(path: string): Promise<ResultFileContent> {
  return withReadTimeout(path, readResultNow(path)).catch((err: unknown) => ({ kind: 'unreadable', reason: (err as Error).message }));
}

async function readResultNow(path: string): Promise<ResultFileContent> {
  let handle, info;
  try {
    ({ handle, stats: info } = await openRegular(path));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? { kind: 'missing' } : { kind: 'unreadable', reason: (err as Error).message };
  }
  try {
    if (info.size > MAX_RESULT_FILE_BYTES) return { kind: 'unreadable', reason: `${info.size} bytes, over the ${MAX_RESULT_FILE_BYTES}-byte cap` };
    return { kind: 'text', text: await handle.readFile() };
  } catch (err) {
    return { kind: 'unreadable', reason: (err as Error).message };
  } finally {
    await handle.close();
  }
}

/** The record of an action that never started (setup failed, or no time was left). */
export function notRun(inv: Pick<ScriptActionInvocation, 'op' | 'action' | 'workFolder' | 'outputFolder'>, clock: Clock, outcome: ActionOutcome): ActionRun {
  const now = clock.now();
  return {
    record: { ...outcome, action: inv.action, pid: null, outcome: 'notRun', exitCode: null, signal: null, startedAt: now, endedAt: now,
      ...outputFiles(inv) },
    stdoutTail: '', stderrTail: '', unkillable: [],
  };
}

function outputFiles(inv: Pick<ScriptActionInvocation, 'op' | 'action' | 'workFolder' | 'outputFolder'>) {
  const base = `${inv.op}.${inv.action}`;
  return {
    resultFile: resultFilePath(inv.workFolder, inv.action),
    stdoutFile: join(inv.outputFolder, `${base}.stdout`),
    stderrFile: join(inv.outputFolder, `${base}.stderr`),
  };
}

/** Runs the action to its end; never throws for anything the script does, only reports it. */
export async function runScriptAction(inv: ScriptActionInvocation, ctx: ActionContext,
  onStart: (pid: number | null) => void = () => {}): Promise<ActionRun> {
  const files = outputFiles(inv);
  const { resultFile, stdoutFile, stderrFile } = files;
  try {
    // A result left by an earlier run must never be read as this run's answer.
    await rm(resultFile, { force: true });
  } catch (err) {
    const reason = `cannot clear the previous result file ${resultFile}: ${(err as Error).message} (extendedResultCode ${formatCode(ScriptCodes.sandbox)})`;
    return notRun(inv, ctx.clock, setupFailure(ScriptCodes.sandbox, reason));
  }
  const running = await runCommand({
    libId: ctx.libId, handler: inv.handler, operation: `${inv.op} (--action-${inv.action})`,
    command: { file: inv.script, args: inv.args }, cwd: inv.cwd, env: inv.env, stdoutFile, stderrFile,
    timeoutMs: inv.timeoutMs, graceMs: ctx.graceMs, signal: ctx.signal, clock: ctx.clock,
    ...(ctx.spawner ? { spawner: ctx.spawner } : {}), ...(ctx.limits ? { limits: ctx.limits } : {}),
  });
  onStart(running.pid);
  const r = await running.done;
  const outcome = mapProcessEnd(inv.op, r, inv.operationTimeoutMs) ?? mapResultFile(inv.action, resultFile, await readResultFile(resultFile));
  return {
    record: { ...outcome, action: inv.action, pid: r.pid, outcome: r.outcome, exitCode: r.exitCode, signal: r.signal,
      startedAt: r.startedAt, endedAt: r.endedAt, ...files },
    stdoutTail: r.stdoutTail, stderrTail: r.stderrTail, unkillable: r.termination?.unkillable ?? [],
  };
}
