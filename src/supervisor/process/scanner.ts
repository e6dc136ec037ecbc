import { systemClock } from '../../core/clock.js';
import type { Clock } from '../../core/clock.js';

/** Tuning for a ProcScanner. */
export interface ProcScannerOptions {
  /** Idle time kept between the end of one scan and the start of the next (default 10 ms). */
  readonly minGapMs?: number;
  readonly clock?: Clock;
}

/**
 * Coalesces /proc scans: every caller gets a scan that STARTED at or after its call, and all
 * callers waiting at the same time share one, so 200 terminations polling out of step cost
 * at most one walk of /proc per gap instead of 200, and scanning never hogs the CPU.
 */
/** T is what one scan yields (attribution.ts's ProcSnapshot); the scanner only shares and spaces scans. */
export class ProcScanner<T> {
  readonly #scan: () => Promise<T>;
  readonly #gapMs: number;
  readonly #clock: Clock;
  #running: Promise<T> | null = null;
  /** A scan promised to callers but not started yet: late callers join it. */
  #next: Promise<T> | null = null;
  #lastEnd = Number.NEGATIVE_INFINITY;
  #count = 0;

  constructor(scan: () => Promise<T>, options: ProcScannerOptions = {}) {
    this.#scan = scan;
    this.#gapMs = options.minGapMs ?? 10;
    this.#clock = options.clock ?? systemClock;
  }

  /** How many scans actually ran; lets tests and metrics see the coalescing work. */
  get scansRun(): number {
    return this.#count;
  }

  /** A snapshot no older than this call: joins the next scan if one is already promised. */
  fresh(): Promise<T> {
    if (this.#next !== null) return this.#next;
    const running = this.#running;
    // The clock is read once here: a second reading may have moved past the gap (see #queued).
    const wait = this.#lastEnd + this.#gapMs - this.#clock.now();
    if (running === null && wait <= 0) return this.#start();
    // A running scan may have read /proc before our caller's last fork or kill: queue behind it.
    this.#next = this.#queued(running, wait);
    return this.#next;
  }

  /**
   * The scan after `running`, or after the gap. It always suspends before clearing #next: had it
   * run to the end synchronously, fresh() would store its promise after the clearing, and every
   * later caller would get that one old snapshot forever.
   */
  async #queued(running: Promise<T> | null, gapLeft: number): Promise<T> {
    let wait = gapLeft;
    if (running !== null) {
      await running.then(() => undefined, () => undefined);
      wait = this.#lastEnd + this.#gapMs - this.#clock.now();
    }
    if (wait > 0) await new Promise<void>((resolve) => this.#clock.setTimeout(resolve, wait));
    this.#next = null;
    return this.#start();
  }

  #start(): Promise<T> {
    this.#count += 1;
    let run: Promise<T>;
    try {
      run = this.#scan();
    } catch (err) {
      run = Promise.reject(err);
    }
    const tracked = run.finally(() => {
      this.#lastEnd = this.#clock.now();
      if (this.#running === tracked) this.#running = null;
    });
    this.#running = tracked;
    return tracked;
  }
}
