/** What a termination is asked for and what it did, shared by the /proc and the cgroup ways of ending processes. */

/** Why a handler's processes were ended; the first reason is the one recorded. */
export type TerminationReason = 'timeout' | 'cancel' | 'cleanup';

/** What a two-phase termination did: who got SIGTERM, who needed SIGKILL, who survived even that. */
export interface TerminationReport {
  readonly reason: TerminationReason;
  readonly termed: number[];
  readonly killed: number[];
  readonly unkillable: number[];
  readonly durationMs: number;
}
