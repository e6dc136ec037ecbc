import { systemClock } from '../../core/clock.js';
import type { Clock } from '../../core/clock.js';
import { SupervisorError, showValue } from '../../core/errors.js';
import { checkMarkParts, sharedScanner } from './attribution.js';
import type { ScannedProc } from './attribution.js';
import { readProcStat } from './proc.js';
import type { ProcSnapshot } from './attribution.js';
import type { ProcScanner } from './scanner.js';
import { defaultSendSignal, procKey, signalIfSame, trySignal } from './signal.js';
import type { SendSignal } from './signal.js';
import { isolationFor } from './cgroup/index.js';
import { terminateGroup } from './terminate-group.js';

import type { TerminationReason, TerminationReport } from './termination.js';
export type { TerminationReason, TerminationReport } from './termination.js';

/** Options for terminateHandler. */
export interface TerminateOptions {
  readonly libId: string;
  readonly handler: string;
  /** The command's process group (its pid: commands are spawned as session and group leaders). */
  readonly pgid?: number;
  /** Only processes of this command run (plus the group); without it, everything attributed to the handler. */
  readonly runId?: string;
  readonly graceMs: number;
  readonly reason: TerminationReason;
  readonly clock?: Clock;
  readonly sendSignal?: SendSignal;
  /** How often /proc is re-read while waiting (default 50 ms). */
  readonly pollMs?: number;
  /** How long to wait for SIGKILLed processes to vanish before calling them unkillable (default KILL_WAIT_MS). */
  readonly killWaitMs?: number;
  readonly scanner?: ProcScanner<ProcSnapshot>;
}

const FIRST_LOOK_MS = 10;
/**
 * A SIGKILLed process still has to be scheduled to exit: on a 2-core host with a load of 200
 * that took over 1 s (the test of 50 hung commands side by side saw it). The wait ends as soon
 * as the processes are gone, so only a truly stuck process (D state) waits it out.
 */
export const KILL_WAIT_MS = 5000;

let ownPgid: number | null | undefined;
function selfPgid(): number | null {
  if (ownPgid === undefined) ownPgid = readProcStat(process.pid)?.pgid ?? null;
  return ownPgid;
}

function checkOptions(o: TerminateOptions): void {
  checkMarkParts(o.libId, o.handler);
  const bad = (field: string, value: unknown, want: string): never => {
    throw new SupervisorError('E_TERMINATE_OPTIONS', `terminateHandler: ${field} must be ${want} (got ${showValue(value)})`, { field, value });
  };
  // kill(-1) signals every process and kill(-0) our own group: never let such a pgid through.
  if (o.pgid !== undefined && (!Number.isInteger(o.pgid) || o.pgid <= 1 || o.pgid === process.pid || o.pgid === selfPgid())) {
    bad('pgid', o.pgid, 'an integer > 1 naming a process group other than ours');
  }
  if (!Number.isFinite(o.graceMs) || o.graceMs < 0) bad('graceMs', o.graceMs, 'a finite number >= 0');
  if (o.pollMs !== undefined && !(Number.isFinite(o.pollMs) && o.pollMs > 0)) bad('pollMs', o.pollMs, 'a finite number > 0');
  if (o.killWaitMs !== undefined && !(Number.isFinite(o.killWaitMs) && o.killWaitMs >= 0)) bad('killWaitMs', o.killWaitMs, 'a finite number >= 0');
}

/** One signal sent across rounds: remembers who already got it so SIGTERM goes to each process once. */
class SignalPhase {
  readonly pids: number[] = [];
  readonly #seen = new Set<string>();
  #groupSent = false;

  constructor(
    private readonly sig: NodeJS.Signals,
    private readonly send: SendSignal,
    private readonly pgid: number | undefined,
  ) {}

  /** Signals the targets not signalled yet (all of them when `again`: SIGKILL is safe to repeat). */
  deliver(targets: readonly ScannedProc[], again: boolean): void {
    const fresh = again ? targets : targets.filter((p) => !this.#seen.has(procKey(p)));
    const pgid = this.pgid;
    let groupDelivered = false;
    // The group signal also reaches members forked after the scan; a repeated SIGTERM does not.
    if (pgid !== undefined && (again || !this.#groupSent) && fresh.some((p) => p.pgid === pgid)) {
      groupDelivered = trySignal(this.send, -pgid, this.sig);
      this.#groupSent = true;
    }
    for (const p of fresh) {
      const delivered = (groupDelivered && p.pgid === pgid) || signalIfSame(this.send, p, this.sig);
      const key = procKey(p);
      if (delivered && !this.#seen.has(key)) {
        this.#seen.add(key);
        this.pids.push(p.pid);
      }
    }
  }
}

/**
 * Ends a handler's processes: SIGTERM to the group and to everything attributed, wait up to
 * the grace, SIGKILL whatever is left (re-scanned: it may have forked), wait a bounded time,
 * and report survivors as unkillable instead of waiting for them forever.
 */
export async function terminateHandler(opts: TerminateOptions): Promise<TerminationReport> {
  checkOptions(opts);
  const clock = opts.clock ?? systemClock;
  const send = opts.sendSignal ?? defaultSendSignal;
  const scanner = opts.scanner ?? sharedScanner;
  const pollMs = opts.pollMs ?? 50;
  const started = clock.now();
  const { libId, handler, pgid, runId } = opts;
  // Kernel groups, unless a test hands in its own /proc scanner (a mark-only process).
  const groups = opts.scanner === undefined ? isolationFor(libId) : null;
  if (groups !== null) {
    return terminateGroup({ groups, handler, ...(runId !== undefined ? { runId } : {}), ...(pgid !== undefined ? { pgid } : {}), graceMs: opts.graceMs,
      killWaitMs: opts.killWaitMs ?? KILL_WAIT_MS, reason: opts.reason, clock, ...(opts.sendSignal ? { sendSignal: opts.sendSignal } : {}) });
  }

  // Only live members count: a pgid cannot be handed to a new group while any member is alive.
  const isTarget = (p: ScannedProc): boolean =>
    (pgid !== undefined && p.pgid === pgid)
    || (p.mark !== null && p.mark.libId === libId && p.mark.handler === handler && (runId === undefined || p.runId === runId));
  /**
   * The targets alive now. A scan that finds none while some process's environ read empty looks
   * once more: that process may be one of ours inside execve (its mark unreadable for an instant),
   * e.g. a `setsid` child that has left the group, and "none left" must not let it escape.
   */
  const targetsNow = async (): Promise<ScannedProc[]> => {
    const snap = await scanner.fresh();
    const found = snap.procs.filter(isTarget);
    if (found.length > 0 || !snap.blankEnviron) return found;
    return (await scanner.fresh()).procs.filter(isTarget);
  };

  /** Polls until no target is left or the deadline passes; returns what was left at the last look. */
  const waitGone = async (deadline: number, targets: ScannedProc[], onRound: (t: ScannedProc[]) => void): Promise<ScannedProc[]> => {
    // Most processes die within ms of the signal: look again soon once, then every pollMs.
    for (let round = 0; ; round += 1) {
      const left = deadline - clock.now();
      if (left <= 0) return targets;
      await new Promise<void>((resolve) => clock.setTimeout(resolve, Math.min(round === 0 ? FIRST_LOOK_MS : pollMs, left)));
      targets = await targetsNow();
      if (targets.length === 0) return targets;
      onRound(targets);
    }
  };

  const term = new SignalPhase('SIGTERM', send, pgid);
  const kill = new SignalPhase('SIGKILL', send, pgid);
  const report = (left: readonly ScannedProc[]): TerminationReport => ({
    reason: opts.reason, termed: term.pids, killed: kill.pids,
    unkillable: left.map((p) => p.pid), durationMs: clock.now() - started,
  });

  let targets = await targetsNow();
  if (targets.length === 0) return report([]);
  term.deliver(targets, false);
  // Newcomers during the grace (forks) get their SIGTERM too; the last look is the SIGKILL re-scan.
  targets = await waitGone(started + opts.graceMs, targets, (t) => term.deliver(t, false));
  if (targets.length === 0) return report([]);
  kill.deliver(targets, true);
  targets = await waitGone(clock.now() + (opts.killWaitMs ?? KILL_WAIT_MS), targets, (t) => kill.deliver(t, true));
  return report(targets);
}
