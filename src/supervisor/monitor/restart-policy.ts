/**
 * The heartbeat watchdog's restart policy (CONTRACT section 6): a restart budget over a
 * sliding window and exponential backoff. Pure: times are numbers passed in, never read.
 *
 * Defaults: at most 3 restarts within 1 hour; the n-th restart in the window (0-based) waits
 * initialDelayMs * multiplier^n, capped at maxDelayMs: 10 s, 20 s, 40 s, 80 s, 160 s, 300 s, 300 s ...
 * The backoff counts only restarts still in the window, so an hour of calm starts again at 10 s.
 */
import { SupervisorError, ValidationError, type Problem } from '../../core/errors.js';
import { backoffDelay } from '../../core/backoff.js';

export interface RestartPolicy {
  /** Restarts allowed within windowMs; 0 means never restart. */
  readonly maxRestarts: number;
  /** Sliding window of the budget: a restart counts while now - time < windowMs. */
  readonly windowMs: number;
  /** Wait before the first restart in the window. */
  readonly initialDelayMs: number;
  /** Each further restart in the window waits this many times longer. */
  readonly multiplier: number;
  readonly maxDelayMs: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicy = Object.freeze({
  maxRestarts: 3,
  windowMs: 60 * 60_000,
  initialDelayMs: 10_000,
  multiplier: 2,
  maxDelayMs: 5 * 60_000,
});

export type RestartDecision =
  | { readonly action: 'restart'; readonly delayMs: number; readonly attempt: number }
  | { readonly action: 'giveUp'; readonly reason: string };

type Check = (value: number, policy: Record<string, unknown>) => string | null;

const CHECKS: Readonly<Record<keyof RestartPolicy, Check>> = {
  maxRestarts: (v) => (Number.isInteger(v) && v >= 0 ? null : 'must be an integer >= 0'),
  windowMs: (v) => (Number.isFinite(v) && v > 0 ? null : 'must be a finite number > 0'),
  initialDelayMs: (v) => (Number.isFinite(v) && v >= 0 ? null : 'must be a finite number >= 0'),
  multiplier: (v) => (Number.isFinite(v) && v >= 1 ? null : 'must be a finite number >= 1'),
  maxDelayMs: (v, p) => (!Number.isFinite(v) || v < 0 ? 'must be a finite number >= 0'
    : typeof p['initialDelayMs'] === 'number' && v < p['initialDelayMs'] ? 'must be >= initialDelayMs' : null),
};

/** Fills in defaults and validates (every bad field named with its value); the result is frozen. */
export function restartPolicy(overrides: Partial<RestartPolicy> = {}, source = 'restart policy'): RestartPolicy {
  const merged: Record<string, unknown> = { ...DEFAULT_RESTART_POLICY };
  const problems: Problem[] = [];
  for (const [key, value] of Object.entries(overrides as Record<string, unknown>)) {
    if (!(key in CHECKS)) problems.push({ source, path: key, reason: 'unknown setting', value });
    else if (value !== undefined) merged[key] = value;
  }
  for (const key of Object.keys(CHECKS) as (keyof RestartPolicy)[]) {
    const value = merged[key];
    const reason = typeof value !== 'number' ? 'must be a number' : CHECKS[key](value, merged);
    if (reason) problems.push({ source, path: key, reason, value });
  }
  if (problems.length > 0) throw new ValidationError(source, problems);
  return Object.freeze(merged as unknown as RestartPolicy);
}

/** The restart times that still count against the budget at `now` (oldest first). */
export function restartsInWindow(history: readonly number[], now: number, policy: RestartPolicy = DEFAULT_RESTART_POLICY): number[] {
  return history.filter((t) => now - t < policy.windowMs).sort((a, b) => a - b);
}

/** Wait before restart number `attempt` (0-based) within the window. */
export function restartDelay(attempt: number, policy: RestartPolicy = DEFAULT_RESTART_POLICY): number {
  return backoffDelay(attempt, { initialMs: policy.initialDelayMs, multiplier: policy.multiplier, maxMs: policy.maxDelayMs });
}

/** Restart after a backoff, or give up once the window already holds maxRestarts restarts. */
export function decideRestart(history: readonly number[], now: number, policy: RestartPolicy = DEFAULT_RESTART_POLICY): RestartDecision {
  const recent = restartsInWindow(history, now, policy).length;
  if (policy.maxRestarts === 0) return { action: 'giveUp', reason: 'restarts are disabled (maxRestarts 0); left alone' };
  if (recent >= policy.maxRestarts) {
    return { action: 'giveUp',
      reason: `restart budget exhausted: ${recent} restart${recent === 1 ? '' : 's'} within ${formatDuration(policy.windowMs)}; left alone` };
  }
  return { action: 'restart', delayMs: restartDelay(recent, policy), attempt: recent + 1 };
}

/** Human form of a duration for messages: "1 h", "5 min", "10 s", "250 ms". */
export function formatDuration(ms: number): string {
  if (ms >= 3_600_000 && ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000} min`;
  if (ms >= 1000 && ms % 1000 === 0) return `${ms / 1000} s`;
  if (ms >= 1000) return `${(ms / 1000).toFixed(1)} s`;
  return `${ms} ms`;
}

export type RestartPhase = 'idle' | 'scheduled' | 'running' | 'gaveUp';

/**
 * What a book keeps across a daemon restart (`<lib>/restarts/<name>.json`): the restarts still in
 * the window, the count shown as RESTARTS, and a give-up with the enable it was about. Without it a
 * crash-looping daemon would grant a fresh budget each time. A scheduled or running restart is not
 * kept: a restarted daemon finds the handler idle (a plan it interrupted resumes from its record).
 */
export interface RestartBookState {
  readonly history: readonly number[];
  readonly total: number;
  readonly gaveUp: { readonly enabledAt: number | null; readonly message: string } | null;
}

/** Reads a book's state from its JSON form; anything else throws E_STATE_CORRUPT, naming the file. */
export function restartBookFromJson(value: unknown, source: string): RestartBookState {
  const v = value as Record<string, unknown> | null;
  const g = v?.['gaveUp'] as Record<string, unknown> | null | undefined;
  const gaveUpOk = g === null || (typeof g === 'object' && g !== undefined && typeof g['message'] === 'string'
    && (g['enabledAt'] === null || typeof g['enabledAt'] === 'number'));
  const history = v?.['history'];
  if (!v || typeof v !== 'object' || !Array.isArray(history) || !history.every((t) => typeof t === 'number' && Number.isFinite(t))
    || !Number.isInteger(v['total']) || (v['total'] as number) < 0 || !gaveUpOk) {
    throw new SupervisorError('E_STATE_CORRUPT', `${source}: not a restart book`, { source });
  }
  return Object.freeze({ history: Object.freeze([...history as number[]]), total: v['total'] as number,
    gaveUp: g ? Object.freeze({ enabledAt: g['enabledAt'] as number | null, message: g['message'] as string }) : null });
}

/**
 * One handler's restart state machine (idle → scheduled → running → idle, or → gaveUp), the policy
 * applied over time; every transition is one method. Pure: the caller passes times and owns the timer.
 */
export class RestartBook {
  #history: number[] = [];
  #total = 0;
  #phase: RestartPhase = 'idle';
  #gaveUp: { enabledAt: number | null; message: string } | null = null;

  constructor(readonly policy: RestartPolicy = DEFAULT_RESTART_POLICY, state: RestartBookState | null = null) {
    if (!state) return;
    this.#history = [...state.history];
    this.#total = state.total;
    this.#gaveUp = state.gaveUp;
    this.#phase = state.gaveUp ? 'gaveUp' : 'idle';
  }

  get phase(): RestartPhase {
    return this.#phase;
  }

  /** Restarts started so far (monotonic, shown as RESTARTS); the budget counts only the window. */
  get total(): number {
    return this.#total;
  }

  /** What to keep across a daemon restart. */
  get state(): RestartBookState {
    return { history: [...this.#history], total: this.#total, gaveUp: this.#phase === 'gaveUp' ? this.#gaveUp : null };
  }

  /** The handler is unresponsive: schedule (after decision.delayMs) or give up; null while a restart is under way or given up. */
  unresponsive(now: number, enabledAt: number | null): RestartDecision | null {
    if (this.#phase !== 'idle') return null;
    this.#history = restartsInWindow(this.#history, now, this.policy);
    const decision = decideRestart(this.#history, now, this.policy);
    this.#phase = decision.action === 'giveUp' ? 'gaveUp' : 'scheduled';
    if (decision.action === 'giveUp') this.#gaveUp = { enabledAt, message: decision.reason };
    return decision;
  }

  /** The backoff is over: true when the restart runs now (and counts); a handler that recovered meanwhile is left be. */
  start(now: number, stillUnresponsive: boolean): boolean {
    if (this.#phase !== 'scheduled') return false;
    if (!stillUnresponsive) {
      this.#phase = 'idle';
      return false;
    }
    this.#phase = 'running';
    this.#history.push(now);
    this.#total++;
    return true;
  }

  /** The restart finished (either way); false when none was running. */
  finish(): boolean {
    if (this.#phase !== 'running') return false;
    this.#phase = 'idle';
    return true;
  }

  /** A disable or removal during the backoff: the scheduled restart is dropped. */
  cancel(): void {
    if (this.#phase === 'scheduled') this.#phase = 'idle';
  }

  /** `supervisor retry`: the budget starts afresh and a give-up is lifted (a restart under way keeps running). */
  reset(): void {
    this.#history = [];
    this.#gaveUp = null;
    if (this.#phase === 'gaveUp') this.#phase = 'idle';
  }

  /** A new enable (another enabledAt than the one given up on) lifts a give-up with a fresh budget; true when it did. */
  enabled(enabledAt: number | null): boolean {
    if (this.#phase !== 'gaveUp' || enabledAt === this.#gaveUp?.enabledAt) return false;
    this.#phase = 'idle';
    this.#history = [];
    this.#gaveUp = null;
    return true;
  }
}
