/** Real HTTP on 127.0.0.1 for tests: plain requests, a server-sent-events reader, a free port, an in-process server. */
import { Agent, request, type IncomingMessage } from 'node:http';
import { createServer } from 'node:net';
import { systemClock, type Clock } from '../../src/core/clock.js';
import { EventStreams } from '../../src/supervisor/http/event-stream.js';
import { startHttpServer, type HttpRoutes, type HttpServer, type HttpServerOptions } from '../../src/supervisor/http/http-server.js';
import { RowFeed, type RowSource } from '../../src/supervisor/http/row-feed.js';

export interface Reply { status: number; headers: Record<string, string | string[] | undefined>; body: string }

/** One request on its own connection (or the agent's); resolves with the whole reply. */
export function call(url: string, opts: { method?: string; path?: string; agent?: Agent | false; headers?: Record<string, string> } = {}): Promise<Reply> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port, path: opts.path ?? `${u.pathname}${u.search}`,
      method: opts.method ?? 'GET', agent: opts.agent ?? false, headers: opts.headers ?? {} }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise((r) => srv.close(r));
  return port;
}

export interface SseEvent { readonly event: string; readonly data: string; readonly comment?: string; readonly retry?: number }

/** An open /events stream: every event and comment as it arrives, parsed as an EventSource would. */
export interface SseStream {
  readonly response: IncomingMessage;
  readonly events: SseEvent[];
  /** Resolves with the first event at or after index `from` that `match` accepts (waits for it, bounded by `timeoutMs`). */
  next(match: (e: SseEvent) => boolean, from?: number, timeoutMs?: number): Promise<SseEvent>;
  close(): void;
  readonly closed: Promise<void>;
}

export function openEvents(url: string, headers: Record<string, string> = {}): Promise<SseStream> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path: u.pathname, agent: false, headers: { Accept: 'text/event-stream', ...headers } }, (res) => {
      const events: SseEvent[] = [];
      const waiters = new Set<() => void>();
      let buf = '';
      const closed = new Promise<void>((r) => res.on('close', () => { for (const w of waiters) w(); r(); }));
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        let end: number;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          let event = 'message';
          const data: string[] = [];
          let comment: string | undefined;
          let retry: number | undefined;
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) comment = line.slice(1).trim();
            else if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('data: ')) data.push(line.slice(6));
            else if (line.startsWith('retry: ')) retry = Number(line.slice(7));
          }
          events.push({ event, data: data.join('\n'), ...(comment !== undefined ? { comment } : {}), ...(retry !== undefined ? { retry } : {}) });
        }
        for (const w of waiters) w();
      });
      resolve({
        response: res, events, closed,
        close: () => req.destroy(),
        next(match, from = 0, timeoutMs = 60_000) {
          return new Promise<SseEvent>((ok, fail) => {
            const check = (): void => {
              const found = events.slice(from).find(match);
              if (found) { done(); ok(found); } else if (res.destroyed || res.complete) { done(); fail(new Error(`the stream ended; events: ${JSON.stringify(events).slice(0, 2000)}`)); }
            };
            const timer = setTimeout(() => { done(); fail(new Error(`no matching event within ${timeoutMs} ms; events: ${JSON.stringify(events).slice(0, 2000)}`)); }, timeoutMs);
            const done = (): void => { clearTimeout(timer); waiters.delete(check); };
            waiters.add(check);
            check();
          });
        },
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** An in-process server with these routes; the rest answer as an empty daemon would. */
export async function startTestServer(routes: Partial<HttpRoutes> & { source?: RowSource; clock?: Clock },
  opts: Partial<Omit<HttpServerOptions, 'routes'>> = {}): Promise<HttpServer & { feed: RowFeed; events: EventStreams }> {
  const clock = routes.clock ?? systemClock;
  const feed = new RowFeed({ clock, onError: (err) => { throw err; },
    source: routes.source ?? { rows: async () => [], freshen: async (rows) => rows } });
  const events = routes.events ?? new EventStreams({ feed, clock });
  const server = await startHttpServer({
    host: '127.0.0.1', port: 0, ...opts,
    routes: {
      metrics: { registry: { metrics: async () => '', contentType: 'text/plain; version=0.0.4; charset=utf-8' } },
      ps: async () => '[]', status: async () => '{}', readiness: () => ({ ready: true, reason: 'test' }), webDir: '/nonexistent',
      ...routes, events,
    },
  });
  return { url: server.url, feed, events, close: async () => { feed.close(); await server.close(); } };
}
