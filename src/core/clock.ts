import { SupervisorError } from './errors.js';

declare const timerIdBrand: unique symbol;
/** Opaque handle for a scheduled timer; only the clock that made it can clear it. */
export type TimerId = { readonly [timerIdBrand]: true };

/** Time and timers, injected everywhere so tests advance time instead of sleeping. */
export interface Clock {
  /** Milliseconds since the epoch (wall clock: it is compared with file mtimes). */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerId;
  clearTimeout(id: TimerId): void;
}

// Node fires any delay above 2^31-1 ms after 1 ms, so longer waits are chained.
const MAX_NODE_DELAY = 2 ** 31 - 1;

/** Handle for a delay too long for one Node timer; `handle` is the current link. */
class LongTimer {
  handle: NodeJS.Timeout | undefined;
}

function scheduleLong(timer: LongTimer, fn: () => void, deadline: number): void {
  const remaining = deadline - Date.now();
  timer.handle = remaining > MAX_NODE_DELAY
    ? setTimeout(() => scheduleLong(timer, fn, deadline), MAX_NODE_DELAY)
    : setTimeout(fn, Math.max(0, remaining));
}

/** A negative or NaN delay means "as soon as possible", as it does for Node's setTimeout. */
function normalizeDelay(ms: number): number {
  return ms > 0 ? ms : 0;
}

/** The real clock: Date.now and Node timers. */
export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  setTimeout(fn: () => void, ms: number): TimerId {
    const delay = normalizeDelay(ms);
    if (delay <= MAX_NODE_DELAY) return setTimeout(fn, delay) as unknown as TimerId;
    const timer = new LongTimer();
    scheduleLong(timer, fn, Date.now() + delay);
    return timer as unknown as TimerId;
  },
  clearTimeout(id: TimerId): void {
    if (id instanceof LongTimer) clearTimeout(id.handle);
    else clearTimeout(id as unknown as NodeJS.Timeout);
  },
});

interface ManualTimer {
  readonly id: number;
  readonly deadline: number;
  readonly fn: () => void;
}

/** Earlier deadline first; equal deadlines in the order they were scheduled (ids ascend). */
function before(a: ManualTimer, b: ManualTimer): boolean {
  return a.deadline < b.deadline || (a.deadline === b.deadline && a.id < b.id);
}

/** Lets every queued microtask run (setImmediate runs only once the microtask queue is empty). */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * A clock that only moves when told to, for tests. Timers live in a binary heap;
 * cleared timers are dropped lazily and the heap is rebuilt when they pile up.
 */
export class ManualClock implements Clock {
  #now: number;
  #nextId = 0;
  #heap: ManualTimer[] = [];
  readonly #live = new Map<number, ManualTimer>();
  #busy = false;

  constructor(start = 0) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): TimerId {
    const timer: ManualTimer = { id: ++this.#nextId, deadline: this.#now + normalizeDelay(ms), fn };
    this.#live.set(timer.id, timer);
    this.#push(timer);
    return timer.id as unknown as TimerId;
  }

  clearTimeout(id: TimerId): void {
    this.#live.delete(id as unknown as number);
    if (this.#heap.length > 64 && this.#heap.length > 2 * this.#live.size) this.#rebuild();
  }

  /** How many timers are scheduled and not yet fired or cleared. */
  pending(): number {
    return this.#live.size;
  }

  /** Moves time forward by `ms`, firing due timers in deadline order; a throwing timer stops the advance there. */
  advance(ms: number): void {
    const target = this.#begin(ms);
    try {
      for (let t = this.#takeDue(target); t; t = this.#takeDue(target)) {
        this.#now = t.deadline;
        t.fn();
      }
      this.#now = target;
    } finally {
      this.#busy = false;
    }
  }

  /** Like advance, but lets microtasks run before, between and after timers so actor mailboxes settle. */
  async advanceAsync(ms: number): Promise<void> {
    const target = this.#begin(ms);
    try {
      await settle();
      for (let t = this.#takeDue(target); t; t = this.#takeDue(target)) {
        this.#now = t.deadline;
        t.fn();
        await settle();
      }
      this.#now = target;
    } finally {
      this.#busy = false;
    }
  }

  #begin(ms: number): number {
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) {
      throw new SupervisorError('E_INVALID_ARGUMENT', `ManualClock.advance: ms must be a finite number >= 0 (got ${String(ms)})`, { ms });
    }
    if (this.#busy) throw new SupervisorError('E_CLOCK_BUSY', 'ManualClock.advance: already advancing (called from a timer or concurrently)');
    this.#busy = true;
    return this.#now + ms;
  }

  /** Removes and returns the earliest live timer due at or before `target`. */
  #takeDue(target: number): ManualTimer | undefined {
    for (;;) {
      const top = this.#heap[0];
      if (!top) return undefined;
      if (!this.#live.has(top.id)) {
        this.#pop();
        continue;
      }
      if (top.deadline > target) return undefined;
      this.#pop();
      this.#live.delete(top.id);
      return top;
    }
  }

  #rebuild(): void {
    this.#heap = [];
    for (const timer of this.#live.values()) this.#push(timer);
  }

  #push(timer: ManualTimer): void {
    const heap = this.#heap;
    let i = heap.push(timer) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent]!;
      if (!before(timer, p)) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = timer;
  }

  #pop(): void {
    const heap = this.#heap;
    const last = heap.pop();
    if (!last || heap.length === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= heap.length) break;
      const r = l + 1;
      const child = r < heap.length && before(heap[r]!, heap[l]!) ? r : l;
      if (!before(heap[child]!, last)) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = last;
  }
}
