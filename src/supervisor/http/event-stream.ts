/**
 * `/events`: the server-sent-event connections. Bounded in number (503 beyond), and in memory: a
 * client that does not read (its unsent output over a bound) is dropped, never buffered for.
 * One keepalive timer for all connections, so proxies and browsers keep idle streams open.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Clock, TimerId } from '../../core/clock.js';
import type { FeedClient, RowFeed } from './row-feed.js';

export const DEFAULT_MAX_CLIENTS = 64;
/** Unsent bytes past which a client counts as not reading (a snapshot of 1000 rows is ~0.6 MB). */
export const DEFAULT_MAX_BUFFER_BYTES = 4 * 1024 * 1024;
export const DEFAULT_KEEPALIVE_MS = 15_000;
/** The client's reconnect delay, sent first on every stream. */
export const RETRY_MS = 3000;

export interface EventStreamOptions {
  readonly feed: RowFeed;
  readonly clock: Clock;
  readonly maxClients?: number;
  readonly maxBufferBytes?: number;
  readonly keepaliveMs?: number;
}

export interface EventStreamStats {
  readonly clients: number;
  /** Clients dropped for not reading. */
  readonly dropped: number;
  /** Connections refused because maxClients were open. */
  readonly refused: number;
}

export class EventStreams {
  readonly #opts: EventStreamOptions;
  readonly #open = new Map<ServerResponse, FeedClient>();
  #keepalive: TimerId | null = null;
  #dropped = 0;
  #refused = 0;

  constructor(opts: EventStreamOptions) {
    this.#opts = opts;
  }

  get stats(): EventStreamStats {
    return { clients: this.#open.size, dropped: this.#dropped, refused: this.#refused };
  }

  /** Answers GET /events; `headers` (security headers) go on the answer. */
  async serve(req: IncomingMessage, res: ServerResponse, headers: Readonly<Record<string, string>>): Promise<void> {
    if (this.#open.size >= (this.#opts.maxClients ?? DEFAULT_MAX_CLIENTS)) {
      this.#refused++;
      res.writeHead(503, { ...headers, 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', 'Retry-After': '10' });
      res.end(`${JSON.stringify({ error: 'E_BUSY', message: `too many /events clients (${this.#open.size} open); try again later` })}\n`);
      return;
    }
    res.writeHead(200, { ...headers, 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache',
      Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    res.socket?.setNoDelay(true);
    const maxBuffer = this.#opts.maxBufferBytes ?? DEFAULT_MAX_BUFFER_BYTES;
    const client: FeedClient = {
      write: (text) => {
        if (res.destroyed || res.writableEnded) return;
        // What the client has not read yet: past the bound it is dropped, not buffered for.
        if (res.writableLength > maxBuffer) {
          this.#dropped++;
          res.destroy();
          return;
        }
        res.write(text);
      },
    };
    this.#open.set(res, client);
    res.on('close', () => {
      this.#open.delete(res);
      this.#opts.feed.detach(client);
      if (this.#open.size === 0) this.#disarm();
    });
    res.write(`retry: ${RETRY_MS}\n\n`);
    this.#arm();
    await this.#opts.feed.attach(client);
    // Gone while its snapshot was made: the close above came before the feed knew it.
    if (!this.#open.has(res)) this.#opts.feed.detach(client);
  }

  /** Ends every stream (the server is closing). */
  closeAll(): void {
    this.#disarm();
    for (const res of [...this.#open.keys()]) res.end();
  }

  #arm(): void {
    if (this.#keepalive !== null) return;
    this.#keepalive = this.#opts.clock.setTimeout(() => {
      this.#keepalive = null;
      for (const client of [...this.#open.values()]) client.write(': keepalive\n\n');
      if (this.#open.size > 0) this.#arm();
    }, this.#opts.keepaliveMs ?? DEFAULT_KEEPALIVE_MS);
  }

  #disarm(): void {
    if (this.#keepalive !== null) this.#opts.clock.clearTimeout(this.#keepalive);
    this.#keepalive = null;
  }
}
