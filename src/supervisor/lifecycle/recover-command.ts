/**
 * After a supervisor restart: what became of the command that was running at the last
 * checkpoint? Its shell outlives the supervisor (own session), records its pid when it starts
 * and its exit status when it ends, so the answer is on disk or in /proc.
 */
import { stat } from 'node:fs/promises';
import type { Clock } from '../../core/clock.js';
import { RUN_ENV } from '../process/attribution.js';
import { readExitFile } from '../process/exit-file.js';
import { findEnvVar, readProcFile, readProcStat, isGone } from '../process/proc.js';
import { terminateHandler } from '../process/terminate.js';
import { loadProcConstants } from '../monitor/proc-usage.js';
import type { RunningStep } from './progress.js';

export type Recovered =
  /** It finished while the supervisor was down (or just now): its exit status. */
  | { readonly kind: 'exited'; readonly exitCode: number; readonly endedAt: number }
  /** Still running past its deadline: ended as a timeout. */
  | { readonly kind: 'timedOut'; readonly endedAt: number }
  /** Nothing says it ran to the end: run it again. */
  | { readonly kind: 'unknown' };

/** The shell is alive and is the same run (its environment names the run id): a reused pid is not. */
function aliveAsRun(pid: number, runId: string): boolean {
  const st = readProcStat(pid);
  if (!st || isGone(st.state)) return false;
  const env = readProcFile(`/proc/${pid}/environ`);
  return env !== null && findEnvVar(env, RUN_ENV) === runId;
}

/** When the process started, in ms since the epoch (to /proc's 10 ms and btime's 1 s), or null when gone. */
async function processStartMs(pid: number): Promise<number | null> {
  const st = readProcStat(pid);
  if (!st) return null;
  const c = await loadProcConstants();
  return Math.round(c.bootTimeMs + (st.startTicks / c.clockTicks) * 1000);
}

export interface RecoverOptions {
  readonly libId: string;
  readonly handler: string;
  readonly timeoutMs: number;
  readonly graceMs: number;
  readonly clock: Clock;
  readonly signal: AbortSignal;
  readonly pollMs?: number;
}

export async function recoverCommand(r: RunningStep, opts: RecoverOptions): Promise<Recovered> {
  if (!r.exitFile) return { kind: 'unknown' };
  const exited = async (): Promise<Recovered | null> => {
    const code = await readExitFile(r.exitFile!);
    if (code === null) return null;
    const mtime = await stat(r.exitFile!).then((s) => s.mtimeMs, () => opts.clock.now());
    return { kind: 'exited', exitCode: code, endedAt: mtime };
  };
  const done = await exited();
  if (done) return done;
  const pid = await readExitFile(`${r.exitFile}.pid`);
  if (pid === null || !aliveAsRun(pid, r.runId)) return (await exited()) ?? { kind: 'unknown' };
  // Still running: wait for it as if we had never left, up to its own deadline, which counts from
  // the moment its process existed (docs/contract.md, section 4), not from the checkpoint of its request.
  // (btime is whole seconds, so the start read from /proc may seem up to 1 s early: never before the request.)
  const deadline = Math.max(r.startedAt, await processStartMs(pid) ?? r.startedAt) + opts.timeoutMs;
  while (aliveAsRun(pid, r.runId) && !opts.signal.aborted) {
    if (opts.clock.now() >= deadline) {
      await terminateHandler({ libId: opts.libId, handler: opts.handler, pgid: pid, runId: r.runId, graceMs: opts.graceMs, reason: 'timeout' });
      return { kind: 'timedOut', endedAt: opts.clock.now() };
    }
    await new Promise((resolve) => setTimeout(resolve, opts.pollMs ?? 200));
  }
  return (await exited()) ?? { kind: 'unknown' };
}
