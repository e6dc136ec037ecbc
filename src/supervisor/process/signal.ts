import { readProcStat, isGone } from './proc.js';
import type { ProcInfo } from './proc.js';

/** How signals are sent; injectable only so a test can simulate a process that survives SIGKILL. */
export type SendSignal = (pid: number, sig: NodeJS.Signals) => void;

/** The real thing: process.kill (a negative pid addresses a process group). */
export const defaultSendSignal: SendSignal = (pid, sig) => {
  process.kill(pid, sig);
};

/**
 * Sends a signal and says whether it was delivered. ESRCH (already gone) and EPERM (not ours
 * to signal: it will show up as a survivor) are answers, not failures; anything else is a bug.
 */
export function trySignal(send: SendSignal, pid: number, sig: NodeJS.Signals): boolean {
  try {
    send(pid, sig);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ESRCH' || code === 'EPERM') return false;
    throw err;
  }
}

/**
 * Signals a process seen in an earlier scan only if its pid still names the same process
 * (same start time, not a zombie): between scan and kill the pid may have been reused.
 */
export function signalIfSame(send: SendSignal, proc: ProcInfo, sig: NodeJS.Signals): boolean {
  const now = readProcStat(proc.pid);
  if (now === null || now.startTicks !== proc.startTicks || isGone(now.state)) return false;
  return trySignal(send, proc.pid, sig);
}

/** Identity of one process over time: a pid plus its start time. */
export function procKey(proc: ProcInfo): string {
  return `${proc.pid}:${proc.startTicks}`;
}
