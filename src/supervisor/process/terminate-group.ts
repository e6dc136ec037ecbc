/**
 * The two-phase kill from a handler's (or one run's) kernel group: SIGTERM to every member, the
 * grace until cgroup.events says the group is empty, then cgroup.kill (or freeze, kill each,
 * thaw), and a bounded wait. Nothing escapes: a process cannot leave its group by itself.
 */
import type { Clock } from '../../core/clock.js';
import type { CgroupGroups } from './cgroup/index.js';
import { trySignal, type SendSignal } from './signal.js';
import type { TerminationReason, TerminationReport } from './termination.js';

export interface GroupTerminateOptions {
  readonly groups: CgroupGroups;
  readonly handler: string;
  readonly runId?: string;
  /** The run's own process group (its entering shell's pid): it may not have entered its group yet. */
  readonly pgid?: number;
  readonly graceMs: number;
  readonly killWaitMs: number;
  readonly reason: TerminationReason;
  readonly clock: Clock;
  /** Injected by tests only: then every signal, SIGKILL too, goes through it one pid at a time. */
  readonly sendSignal?: SendSignal;
}

export async function terminateGroup(o: GroupTerminateOptions): Promise<TerminationReport> {
  const { groups, handler, runId, clock } = o;
  const started = clock.now();
  const termed: number[] = [];
  const killed: number[] = [];
  const report = (unkillable: number[]): TerminationReport => {
    if (runId !== undefined && unkillable.length === 0) groups.release(handler, runId);
    else if (unkillable.length === 0) groups.releaseAll(handler);
    return { reason: o.reason, termed, killed, unkillable, durationMs: clock.now() - started };
  };
  const members = groups.members(handler, runId);
  if (members.length === 0) {
    // Started but not yet in its group: the entering shell has run no handler code, so it just goes.
    const send = o.sendSignal ?? ((p: number, s: NodeJS.Signals) => process.kill(p, s));
    if (o.pgid !== undefined && trySignal(send, -o.pgid, 'SIGKILL')) killed.push(o.pgid);
    return report([]);
  }
  for (const pid of members) {
    if (o.sendSignal ? trySignal(o.sendSignal, pid, 'SIGTERM') : trySignal((p, s) => process.kill(p, s), pid, 'SIGTERM')) termed.push(pid);
  }
  if (await groups.waitEmpty(handler, runId, o.graceMs, clock)) return report([]);
  if (o.sendSignal) {
    for (const pid of groups.members(handler, runId)) if (trySignal(o.sendSignal, pid, 'SIGKILL')) killed.push(pid);
  } else {
    killed.push(...groups.kill(handler, runId));
  }
  if (await groups.waitEmpty(handler, runId, o.killWaitMs, clock)) return report([]);
  return report(groups.members(handler, runId));
}
