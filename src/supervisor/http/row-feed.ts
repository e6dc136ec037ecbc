/**
 * The rows the status page keeps live, as server-sent events (docs/contract.md, "HTTP server").
 * Driven by the runtime's events (poke), never by polling: after an event, one diff of the
 * reporter's rows against the last ones, shared by every client, at most one per interval
 * (500 ms). A row counts as changed when anything but its ages changed (the page ticks
 * heartbeatAgeSeconds and uptimeSeconds itself from `at`), or when its heartbeat age went back
 * (the file was written again). Diffs run only while someone listens.
 */
import type { Clock, TimerId } from '../../core/clock.js';
import type { HandlerRow } from '../monitor/types.js';

export interface RowSource {
  /** The rows as the reporter holds them (cheap: no file is read). */
  rows(): Promise<readonly HandlerRow[]>;
  /** The same rows with what is read on demand (the heartbeat file's age) as of now. */
  freshen(rows: readonly HandlerRow[]): Promise<readonly HandlerRow[]>;
}

/** One client of the feed: it gets its snapshot, then every shared event, as SSE text. */
export interface FeedClient {
  write(text: string): void;
}

export interface RowFeedOptions {
  readonly source: RowSource;
  readonly clock: Clock;
  /** Least time between two diffs (default 500 ms). */
  readonly intervalMs?: number;
  readonly onError: (err: unknown) => void;
}

interface Seen {
  readonly key: string;
  readonly heartbeatAge: number | null;
}

/** A heartbeat age this much under the one extrapolated from the last diff means the file was written again. */
const AGE_SLACK_SEC = 2;

/** The row without its ages (only whether it has one): what "changed" compares. */
function keyOf(row: HandlerRow): string {
  return JSON.stringify({ ...row, heartbeatAgeSeconds: row.heartbeatAgeSeconds === null ? null : 0,
    uptimeSeconds: row.uptimeSeconds === null ? null : 0 });
}

export function sseEvent(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

export class RowFeed {
  readonly #opts: RowFeedOptions;
  readonly #intervalMs: number;
  readonly #clients = new Set<FeedClient>();
  #seen: Map<string, Seen> | null = null;
  #seenAt = 0;
  #rows: readonly HandlerRow[] = [];
  #dirty = true;
  #timer: TimerId | null = null;
  #lastDiffAt = -Infinity;
  /** Diffs and attaches, one at a time, in order: a client's snapshot and the diffs after it never interleave. */
  #chain: Promise<void> = Promise.resolve();
  #closed = false;
  /** Diffs run (tests and benchmarks count them). */
  diffs = 0;

  constructor(opts: RowFeedOptions) {
    this.#opts = opts;
    this.#intervalMs = opts.intervalMs ?? 500;
  }

  get clients(): number { return this.#clients.size; }

  /** Something the rows show may have changed. */
  poke(): void {
    this.#dirty = true;
    if (this.#clients.size > 0) this.#schedule();
  }

  /**
   * Adds a client: it is written its snapshot (the rows as of the last diff, or of now when nobody
   * was listening) and from then on every shared event. Resolves once the snapshot is written.
   */
  attach(client: FeedClient): Promise<void> {
    return this.#enqueue(async () => {
      if (this.#closed) return;
      if (this.#clients.size === 0 || this.#seen === null) await this.#diff(false);
      const rows = await this.#opts.source.freshen(this.#rows);
      this.#clients.add(client);
      client.write(sseEvent('snapshot', { at: new Date(this.#opts.clock.now()).toISOString(), rows }));
      if (this.#dirty) this.#schedule();
    });
  }

  detach(client: FeedClient): void {
    this.#clients.delete(client);
    if (this.#clients.size === 0) this.#disarm();
  }

  close(): void {
    this.#closed = true;
    this.#clients.clear();
    this.#disarm();
  }

  #enqueue(step: () => Promise<void>): Promise<void> {
    const next = this.#chain.then(step);
    this.#chain = next.catch((err: unknown) => this.#opts.onError(err));
    return next;
  }

  #disarm(): void {
    if (this.#timer !== null) this.#opts.clock.clearTimeout(this.#timer);
    this.#timer = null;
  }

  #schedule(): void {
    if (this.#timer !== null || this.#closed) return;
    const delay = Math.max(0, this.#lastDiffAt + this.#intervalMs - this.#opts.clock.now());
    this.#timer = this.#opts.clock.setTimeout(() => {
      this.#timer = null;
      void this.#enqueue(async () => {
        if (this.#clients.size === 0 || this.#closed) return;
        await this.#diff(true);
        if (this.#dirty && this.#clients.size > 0) this.#schedule();
      }).catch(() => {});
    }, delay);
  }

  /** Compares the reporter's rows with the last ones; tells the clients what changed when `broadcast`. */
  async #diff(broadcast: boolean): Promise<void> {
    this.#dirty = false;
    const now = this.#opts.clock.now();
    this.#lastDiffAt = now;
    this.diffs++;
    const rows = await this.#opts.source.rows();
    const elapsedSec = (now - this.#seenAt) / 1000;
    const before = this.#seen ?? new Map<string, Seen>();
    const seen = new Map<string, Seen>();
    const changed: HandlerRow[] = [];
    for (const row of rows) {
      const s: Seen = { key: keyOf(row), heartbeatAge: row.heartbeatAgeSeconds };
      seen.set(row.name, s);
      const old = before.get(row.name);
      const rewritten = old?.heartbeatAge != null && s.heartbeatAge !== null && s.heartbeatAge < old.heartbeatAge + elapsedSec - AGE_SLACK_SEC;
      if (!old || old.key !== s.key || rewritten) changed.push(row);
    }
    const removed = [...before.keys()].filter((name) => !seen.has(name));
    this.#seen = seen;
    this.#seenAt = now;
    this.#rows = rows;
    if (!broadcast || (changed.length === 0 && removed.length === 0)) return;
    const at = new Date(now).toISOString();
    let text = '';
    if (changed.length > 0) text += sseEvent('rows', { at, rows: await this.#opts.source.freshen(changed) });
    if (removed.length > 0) text += sseEvent('removed', { at, names: removed });
    for (const client of [...this.#clients]) client.write(text);
  }
}
