import type { Clock } from '../../core/clock.js';
import { SupervisorError, showValue } from '../../core/errors.js';
import { checkMarkParts } from './attribution.js';
import type { SendSignal } from './signal.js';
import type { TerminationReport } from './terminate.js';
import type { Spawner } from './spawner.js';
import type { HandlerLimits } from './cgroup/index.js';

/** What to run for one handler operation, and where its output goes. */
export interface RunSpec {
  readonly libId: string;
  readonly handler: string;
  readonly operation: string;
  /** shell: `/bin/sh -c <line>` (command form); file: exec'd directly, no shell (script handlers). */
  readonly command: { readonly shell: string } | { readonly file: string; readonly args: readonly string[] };
  readonly cwd: string;
  /** Added on top of process.env; the attribution mark is added last and cannot be overridden. */
  readonly env: Readonly<Record<string, string>>;
  /** Created or truncated, opened by us and handed to the child as fds (never pipes). */
  readonly stdoutFile: string;
  readonly stderrFile: string;
  readonly timeoutMs: number;
  /** Between SIGTERM and SIGKILL on timeout or cancel; default 5000. */
  readonly graceMs?: number;
  readonly signal?: AbortSignal;
  readonly clock?: Clock;
  /** Default process.kill; injectable ONLY so a test can simulate a process that survives SIGKILL. */
  readonly sendSignal?: SendSignal;
  /** Names this run in EXT_SUPERVISOR_RUN (random when absent): a restarted supervisor finds its processes by it. */
  readonly runId?: string;
  /**
   * Shell form only: the shell writes the command's exit status here (atomically, from an EXIT
   * trap) when it finishes, even if the supervisor died meanwhile, so recovery can tell a
   * command that completed from one that was interrupted.
   */
  readonly exitFile?: string;
  /** Fork through this small helper process instead of from this (possibly large) one. */
  readonly spawner?: Spawner;
  /** Written to the handler's group (cgroup mode) before the command enters it. */
  readonly limits?: HandlerLimits | null;
}

/** A started command: its pid (null when it never started) and the promise of its result. */
export interface RunningCommand {
  readonly pid: number | null;
  /** Never rejects: every failure is an outcome. */
  readonly done: Promise<RunResult>;
  /**
   * Resolves once the command's process has ended (or never started), before its output tails
   * are read and its group removed: what a concurrency gate waits for. Never rejects.
   */
  readonly ended: Promise<void>;
}

/** How a command ended, with the tails of its output for error messages. */
export interface RunResult {
  readonly pid: number | null;
  readonly outcome: 'exited' | 'timedOut' | 'canceled' | 'spawnFailed';
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly startedAt: number;
  readonly endedAt: number;
  readonly durationMs: number;
  readonly stdoutTail: string;
  readonly stderrTail: string;
  readonly error: string | null;
  readonly termination: TerminationReport | null;
  /** cgroup mode: the kernel killed a process of this run at the handler's memory limit (MB). */
  readonly memoryLimitKill?: number;
}

/** The default grace between SIGTERM and SIGKILL (CONTRACT section 4). */
export const DEFAULT_GRACE_MS = 5000;

function bad(field: string, value: unknown, want: string): never {
  throw new SupervisorError('E_RUN_SPEC', `runCommand: ${field} must be ${want} (got ${showValue(value)})`, { field, value });
}

function nonEmpty(field: string, value: unknown): void {
  if (typeof value !== 'string' || value.length === 0 || value.includes('\0')) bad(field, value, 'a non-empty string without NUL');
}

/** Checks a RunSpec at the runner's boundary; a bad spec is a caller bug, so it throws at once. */
export function checkRunSpec(spec: RunSpec): void {
  checkMarkParts(spec.libId, spec.handler);
  nonEmpty('operation', spec.operation);
  if ('shell' in spec.command) {
    nonEmpty('command.shell', spec.command.shell);
  } else {
    nonEmpty('command.file', spec.command.file);
    const args: unknown = spec.command.args;
    if (!Array.isArray(args)) bad('command.args', args, 'an array of strings');
    args.forEach((a: unknown, i: number) => {
      if (typeof a !== 'string' || a.includes('\0')) bad(`command.args[${i}]`, a, 'a string without NUL');
    });
  }
  nonEmpty('cwd', spec.cwd);
  nonEmpty('stdoutFile', spec.stdoutFile);
  nonEmpty('stderrFile', spec.stderrFile);
  for (const [key, value] of Object.entries(spec.env)) {
    if (key.length === 0 || key.includes('=') || key.includes('\0')) bad(`env[${JSON.stringify(key)}]`, key, 'a name without "=" or NUL');
    if (typeof value !== 'string' || value.includes('\0')) bad(`env.${key}`, value, 'a string without NUL');
  }
  if (!(Number.isFinite(spec.timeoutMs) && spec.timeoutMs > 0)) bad('timeoutMs', spec.timeoutMs, 'a finite number > 0');
  if (spec.graceMs !== undefined && !(Number.isFinite(spec.graceMs) && spec.graceMs >= 0)) {
    bad('graceMs', spec.graceMs, 'a finite number >= 0');
  }
}

/** One-line description of a command for error messages. */
export function describeCommand(command: RunSpec['command']): string {
  return 'shell' in command ? `/bin/sh -c ${showValue(command.shell, 120)}` : showValue(command.file, 120);
}
