/**
 * A handler's work that failed on a resource of the machine (disk full, quota, file descriptors)
 * rather than on the handler: it is tried again with backoff once the resource may be back, without
 * waiting for a new goal state, and the message says what failed and when it is retried.
 */
import { backoffDelay, type BackoffPolicy } from '../../core/backoff.js';
import type { Clock, TimerId } from '../../core/clock.js';

const TRANSIENT: Readonly<Record<string, string>> = {
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files in the system',
  ENOMEM: 'not enough memory',
  EAGAIN: 'resource temporarily unavailable',
};

/** 2 s, doubling, at most 5 min between attempts. */
export const TRANSIENT_RETRY: BackoffPolicy = Object.freeze({ initialMs: 2000, maxMs: 300_000 });

export interface TransientFailure {
  readonly errno: string;
  readonly path: string | null;
}

function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}

/** The resource error at the root of `err` (its cause chain, or a SupervisorError's errno detail), or null. */
export function transientFailure(err: unknown): TransientFailure | null {
  let path: string | null = null;
  for (let e = err, depth = 0; e !== undefined && e !== null && depth < 8; e = field(e, 'cause'), depth++) {
    const details = field(e, 'details');
    const p = field(e, 'path') ?? field(details, 'path');
    if (path === null && typeof p === 'string') path = p;
    for (const errno of [field(e, 'code'), field(details, 'errno')]) {
      if (typeof errno === 'string' && errno in TRANSIENT) return { errno, path };
    }
  }
  return null;
}

/** "could not write <file>: no space left on device (ENOSPC); retrying in 4 s". */
export function transientMessage(t: TransientFailure, retryInMs: number | null): string {
  const verb = t.errno === 'ENOSPC' || t.errno === 'EDQUOT' ? 'could not write' : 'could not use';
  const what = `${verb} ${t.path ?? 'a file'}: ${TRANSIENT[t.errno]} (${t.errno})`;
  return retryInMs === null ? what : `${what}; retrying in ${Math.round(retryInMs / 1000)} s`;
}

/** One pending retry per handler, with its attempt count; a new goal forgets both. */
export class TransientRetry {
  private timer: TimerId | null = null;
  private attempt = 0;
  private generation = 0;

  constructor(private readonly clock: Clock, private readonly policy: BackoffPolicy | null) {}

  /** A new goal, or work that went through: no retry pending, the next failure waits the shortest delay. */
  reset(): void {
    this.cancel();
    this.attempt = 0;
    this.generation++;
  }

  /** Schedules `fire` after the next delay; returns the delay, or null when this supervisor does not retry. */
  schedule(fire: (generation: number) => void): number | null {
    if (this.policy === null) return null;
    this.cancel();
    const delay = backoffDelay(this.attempt++, this.policy);
    const generation = this.generation;
    this.timer = this.clock.setTimeout(() => { this.timer = null; fire(generation); }, delay);
    return delay;
  }

  /** Whether a retry told with this generation still stands (no new goal came since). */
  current(generation: number): boolean {
    return generation === this.generation;
  }

  cancel(): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
  }
}
