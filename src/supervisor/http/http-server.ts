/**
 * The daemon's one HTTP server (`--http-listen`, alias `--metrics-listen`), on node:http: the status
 * page's files, the `ps`/`status` JSON, server-sent events of row changes, /metrics, /healthz and
 * /readyz. Read-only: GET and HEAD only. With a token, every request must carry it as a bearer token.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SupervisorError } from '../../core/errors.js';
import type { Clock } from '../../core/clock.js';
import { showAddress, type ListenAddress } from './listen.js';
import { serveStatic } from './static-files.js';
import type { EventStreams } from './event-stream.js';
import { LoopDelay } from './loop-delay.js';

/** How long close() lets in-flight requests finish before cutting their connections. */
export const DEFAULT_CLOSE_GRACE_MS = 2000;

/** On every answer: no inline script or foreign origin on the page, no type sniffing, no framing. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'Content-Security-Policy': "default-src 'self'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
});

/** What the server scrapes: the registry of a SupervisorMetrics (or any prom-client Registry). */
export interface MetricsSource {
  readonly registry: { metrics(): Promise<string>; readonly contentType: string };
}

/** What the routes answer from; the daemon hands in its own control-socket answers. */
export interface HttpRoutes {
  readonly metrics: MetricsSource;
  /** `ps --json`'s text. */
  ps(): Promise<string>;
  /** `status NAME --json`'s text; throws a SupervisorError E_UNKNOWN_HANDLER for an unknown name. */
  status(name: string): Promise<string>;
  /** /readyz: ready once the first goal state has been applied; the reason says where it stands. */
  readiness(): { readonly ready: boolean; readonly reason: string };
  readonly events: EventStreams;
  /** The status page's folder. */
  readonly webDir: string;
}

export interface HttpServerOptions extends ListenAddress {
  readonly routes: HttpRoutes;
  /** The bearer token every request must carry; none: no check (loopback only, see listen.ts). */
  readonly token?: string | null;
  /** Default DEFAULT_CLOSE_GRACE_MS. */
  readonly closeGraceMs?: number;
  /** Told about server errors after start; default: a process warning. */
  readonly onError?: (err: Error) => void;
  /** Runs the close grace (tests); default a Node timer that never holds the process open on its own. */
  readonly clock?: Clock;
}

export interface HttpServer {
  /** http://HOST:PORT/ with the port actually bound. */
  readonly url: string;
  /** Stops listening, ends event streams and open connections, waiting at most the grace; idempotent. */
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string>, head: boolean): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'Cache-Control': 'no-store', ...headers });
  res.end(head ? undefined : body);
}

function sendJson(res: ServerResponse, status: number, json: string, head: boolean, headers: Record<string, string> = {}): void {
  send(res, status, `${json}\n`, { 'Content-Type': 'application/json; charset=utf-8', ...headers }, head);
}

function problem(code: string, message: string): string {
  return JSON.stringify({ error: code, message });
}

/** A digest of each side, so the compare takes the same time whatever the lengths. */
function sameToken(given: string, token: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(token).digest();
  return timingSafeEqual(a, b);
}

function authorized(req: IncomingMessage, token: string): 'ok' | 'missing' | 'invalid' {
  const header = req.headers.authorization;
  if (header === undefined) return 'missing';
  const m = /^Bearer[ ]+(\S+)[ ]*$/i.exec(header);
  return m && sameToken(m[1]!, token) ? 'ok' : 'invalid';
}

/** Arms the close grace; returns its disarm. */
function graceTimer(clock: Clock | undefined, fn: () => void, ms: number): () => void {
  if (clock) {
    const id = clock.setTimeout(fn, ms);
    return () => clock.clearTimeout(id);
  }
  const timer = setTimeout(fn, ms);
  timer.unref();
  return () => clearTimeout(timer);
}

async function route(opts: HttpServerOptions, loop: LoopDelay, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const head = req.method === 'HEAD';
  if (opts.token) {
    const auth = authorized(req, opts.token);
    if (auth !== 'ok') {
      return sendJson(res, 401, problem('E_UNAUTHORIZED', 'this server needs "Authorization: Bearer <token>" (the token of --http-token-file)'), head,
        { 'WWW-Authenticate': auth === 'missing' ? 'Bearer realm="ext-supervisor"' : 'Bearer realm="ext-supervisor", error="invalid_token"' });
    }
  }
  if (req.method !== 'GET' && !head) {
    return sendJson(res, 405, problem('E_METHOD', `method ${req.method} not allowed: this server is read-only`), false, { Allow: 'GET, HEAD' });
  }
  let path: string;
  try {
    path = new URL(req.url ?? '/', 'http://localhost').pathname;
  } catch {
    return sendJson(res, 400, problem('E_BAD_REQUEST', 'malformed request target'), head);
  }
  const { routes } = opts;
  switch (path) {
    case '/metrics': {
      let body: string;
      try {
        body = await routes.metrics.registry.metrics();
      } catch (err) {
        return send(res, 500, `scrape failed: ${(err as Error)?.message ?? String(err)}\n`, { 'Content-Type': 'text/plain; charset=utf-8' }, head);
      }
      return send(res, 200, body, { 'Content-Type': routes.metrics.registry.contentType }, head);
    }
    case '/healthz':
      // Answering at all is the check: this runs on the daemon's event loop.
      return sendJson(res, 200, JSON.stringify({ status: 'ok', eventLoopDelayMs: loop.read() }), head);
    case '/readyz': {
      const r = routes.readiness();
      return sendJson(res, r.ready ? 200 : 503, JSON.stringify({ status: r.ready ? 'ready' : 'not ready', reason: r.reason }), head);
    }
    case '/api/ps':
      return sendJson(res, 200, await routes.ps(), head);
    case '/events':
      return routes.events.serve(req, res, SECURITY_HEADERS);
  }
  if (path.startsWith('/api/status/')) {
    let name: string;
    try {
      name = decodeURIComponent(path.slice('/api/status/'.length));
    } catch {
      return sendJson(res, 400, problem('E_BAD_REQUEST', `malformed handler name in ${path}`), head);
    }
    try {
      return sendJson(res, 200, await routes.status(name), head);
    } catch (err) {
      if (err instanceof SupervisorError && err.code === 'E_UNKNOWN_HANDLER') return sendJson(res, 404, problem(err.code, err.message), head);
      throw err;
    }
  }
  if (!path.startsWith('/api/')) {
    const served = await serveStatic(routes.webDir, path, req, res, SECURITY_HEADERS);
    if (served === 'served') return;
  }
  return sendJson(res, 404, problem('E_NOT_FOUND', `not found: ${path}; this server answers /, /api/ps, /api/status/NAME, /events, /metrics, /healthz, /readyz`), head);
}

/** Starts the server; rejects with E_HTTP_LISTEN when the address cannot be bound (in use, not local...). */
export async function startHttpServer(opts: HttpServerOptions): Promise<HttpServer> {
  const graceMs = opts.closeGraceMs ?? DEFAULT_CLOSE_GRACE_MS;
  const onError = opts.onError ?? ((err: Error) => process.emitWarning(`http: ${err.message}`));
  const loop = new LoopDelay();
  const server = createServer((req, res) => {
    route(opts, loop, req, res).catch((err: unknown) => {
      const message = (err as Error)?.message ?? String(err);
      if (!res.headersSent) sendJson(res, 500, problem('E_INTERNAL', `${req.url ?? ''}: ${message}`), req.method === 'HEAD');
      else res.destroy();
    });
  });
  // A stuck client must not hold a connection open forever while it sends its request.
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    const onListenError = (err: NodeJS.ErrnoException): void => {
      reject(new SupervisorError('E_HTTP_LISTEN', `--http-listen: cannot listen on ${showAddress(opts.host, opts.port)}: ${err.message}`,
        { host: opts.host, port: opts.port, errno: err.code }, { cause: err }));
    };
    server.once('error', onListenError);
    server.listen(opts.port, opts.host, () => { server.off('error', onListenError); resolve(); });
  });
  // Later server errors (accept failing with EMFILE...) are reported, never fatal to the daemon.
  server.on('error', onError);
  loop.start();
  const address = server.address() as AddressInfo;
  let closing: Promise<void> | null = null;
  return {
    url: `http://${showAddress(opts.host, address.port)}/`,
    close(): Promise<void> {
      closing ??= new Promise<void>((resolve) => {
        loop.stop();
        opts.routes.events.closeAll();
        const disarm = graceTimer(opts.clock, () => server.closeAllConnections(), graceMs);
        server.close(() => { disarm(); resolve(); });
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}
