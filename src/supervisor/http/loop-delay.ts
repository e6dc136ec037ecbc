/**
 * The event loop's delay for /healthz: Node's own histogram (perf_hooks), sampled every 20 ms,
 * read over a window of about a minute (the first read after the window restarts it).
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

const WINDOW_MS = 60_000;
const toMs = (ns: number): number => Math.round(ns / 1e4) / 100; // 2 decimals

export interface LoopDelayReading {
  readonly mean: number;
  readonly p99: number;
  readonly max: number;
  /** How long the figures cover, seconds. */
  readonly windowSeconds: number;
}

export class LoopDelay {
  #histogram: IntervalHistogram | null = null;
  #since = 0;

  start(): void {
    if (this.#histogram) return;
    this.#histogram = monitorEventLoopDelay({ resolution: 20 });
    this.#histogram.enable();
    this.#since = Date.now();
  }

  stop(): void {
    this.#histogram?.disable();
    this.#histogram = null;
  }

  read(): LoopDelayReading | null {
    const h = this.#histogram;
    if (!h || h.count === 0) return null;
    const now = Date.now();
    const reading = { mean: toMs(h.mean), p99: toMs(h.percentile(99)), max: toMs(h.max), windowSeconds: Math.round((now - this.#since) / 1000) };
    if (now - this.#since >= WINDOW_MS) {
      h.reset();
      this.#since = now;
    }
    return reading;
  }
}
