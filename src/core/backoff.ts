/**
 * The one backoff policy: the wait before retry number `attempt` (0 = the first retry) is
 * `initialMs * multiplier^attempt`, capped at `maxMs`. Restarts, report pushes and report
 * writes all use it, each with its own numbers. Pure: no clock, no randomness.
 */
export interface BackoffPolicy {
  readonly initialMs: number;
  /** Growth per attempt (2 doubles); 2 when not given. */
  readonly multiplier?: number;
  readonly maxMs: number;
}

/** The exponent stops growing here: 2^64 of anything is past every cap, and Infinity * 0 stays out. */
const MAX_EXPONENT = 64;

export function backoffDelay(attempt: number, policy: BackoffPolicy): number {
  const exponent = Math.min(MAX_EXPONENT, Math.max(0, Number.isFinite(attempt) ? Math.floor(attempt) : MAX_EXPONENT));
  return Math.min(policy.maxMs, policy.initialMs * (policy.multiplier ?? 2) ** exponent);
}
