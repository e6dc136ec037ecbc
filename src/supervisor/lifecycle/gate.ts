import { onAbort } from '../../core/abort.js';

/**
 * A counting semaphore with a FIFO queue: how many commands of a kind may run at once
 * (install/update/uninstall one at a time by default, enable/disable 16).
 */
export class Gate {
  private active = 0;
  private peakActive = 0;
  private readonly waiters: Array<() => void> = [];

  constructor(readonly name: string, private readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`gate ${name}: limit must be a whole number >= 1, got ${limit}`);
  }

  get running(): number { return this.active; }
  get waiting(): number { return this.waiters.length; }
  /** Most holders seen at once: lets tests and benchmarks check the limit held. */
  get peak(): number { return this.peakActive; }

  /** Resolves with a release function once a slot is free; release is idempotent. */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      let stopWaiting = (): void => {};
      const grant = (): void => {
        stopWaiting();
        this.active++;
        if (this.active > this.peakActive) this.peakActive = this.active;
        let released = false;
        resolve(() => {
          if (released) return;
          released = true;
          this.active--;
          this.waiters.shift()?.();
        });
      };
      const aborted = (): void => {
        const i = this.waiters.indexOf(grant);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(signal?.reason);
      };
      if (this.active < this.limit) grant();
      else {
        this.waiters.push(grant);
        if (signal) stopWaiting = onAbort(signal, aborted);
      }
    });
  }

  /** Runs fn holding one slot. */
  async run<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const release = await this.acquire(signal);
    try { return await fn(); } finally { release(); }
  }
}
