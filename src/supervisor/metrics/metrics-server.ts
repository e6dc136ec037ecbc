/**
 * The `--metrics-listen` endpoint: GET /metrics in the Prometheus text format, served by
 * node:http from the supervisor's private registry. Off unless the flag is given; a bare
 * port listens on loopback only, so metrics are never exposed by accident.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { isIP, type AddressInfo } from 'node:net';
import { SupervisorError } from '../../core/errors.js';
import type { Clock } from '../../core/clock.js';

const FLAG = '--metrics-listen';
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
/** How long close() lets in-flight scrapes finish before cutting their connections. */
export const DEFAULT_CLOSE_GRACE_MS = 2000;

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/** What the server scrapes: the registry of a SupervisorMetrics (or any prom-client Registry). */
export interface MetricsSource {
  readonly registry: { metrics(): Promise<string>; readonly contentType: string };
}

export interface MetricsServer {
  /** http://HOST:PORT/metrics with the port actually bound. */
  readonly url: string;
  /** Stops listening and ends open connections, waiting at most the grace; idempotent. */
  close(): Promise<void>;
}

function usage(value: string, reason: string): SupervisorError {
  return new SupervisorError('E_USAGE',
    `${FLAG}: ${reason} (got ${JSON.stringify(value)}); expected PORT, ADDR:PORT or [IPv6]:PORT`, { flag: FLAG, value });
}

function parsePort(value: string, text: string): number {
  if (!/^\d{1,5}$/.test(text)) throw usage(value, `port ${JSON.stringify(text)} is not a number`);
  const port = Number(text);
  if (port < 1 || port > 65535) throw usage(value, `port ${port} is out of range 1-65535`);
  return port;
}

export interface MetricsServerOptions extends ListenAddress {
  readonly metrics: MetricsSource;
  /** Default DEFAULT_CLOSE_GRACE_MS. */
  readonly closeGraceMs?: number;
  /** Told about server errors after start; default: a process warning. */
  readonly onError?: (err: Error) => void;
  /** Runs the close grace (tests); default a Node timer that never holds the process open on its own. */
  readonly clock?: Clock;
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

/** Parses `--metrics-listen`: 'PORT' (loopback), 'ADDR:PORT' or '[IPv6]:PORT'; E_USAGE naming the flag and value otherwise. */
export function parseListen(value: string): ListenAddress {
  if (/^\d+$/.test(value)) return { host: '127.0.0.1', port: parsePort(value, value) };
  const bracketed = /^\[([^\]]*)\]:([^:]*)$/.exec(value);
  if (bracketed) {
    const [, host = '', port = ''] = bracketed;
    if (isIP(host) !== 6) throw usage(value, `${JSON.stringify(host)} is not an IPv6 address`);
    return { host, port: parsePort(value, port) };
  }
  if (value.startsWith('[')) throw usage(value, 'no port after the bracketed IPv6 address, as in [::1]:9100');
  const colon = value.lastIndexOf(':');
  if (colon < 0) throw usage(value, 'no port');
  const host = value.slice(0, colon);
  const port = value.slice(colon + 1);
  if (host === '') throw usage(value, 'no address before the port (use 0.0.0.0:PORT to listen on every interface)');
  if (host.includes(':')) throw usage(value, 'an IPv6 address needs brackets, as in [::1]:9100');
  if (isIP(host) !== 4 && !HOSTNAME.test(host)) throw usage(value, `${JSON.stringify(host)} is not an IPv4 address or host name`);
  return { host, port: parsePort(value, port) };
}

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', ...headers });
  res.end(body);
}

async function handle(source: MetricsSource, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (path !== '/metrics') return send(res, 404, `not found: ${path}; metrics are at /metrics\n`);
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, `method ${req.method} not allowed\n`, { Allow: 'GET, HEAD' });
  let body: string;
  try {
    body = await source.registry.metrics();
  } catch (err) {
    return send(res, 500, `scrape failed: ${(err as Error)?.message ?? String(err)}\n`);
  }
  send(res, 200, req.method === 'HEAD' ? '' : body, { 'Content-Type': source.registry.contentType });
}

/** Starts the endpoint; rejects with E_METRICS_LISTEN when the address cannot be bound (in use, not local...). */
export async function startMetricsServer(opts: MetricsServerOptions): Promise<MetricsServer> {
  const graceMs = opts.closeGraceMs ?? DEFAULT_CLOSE_GRACE_MS;
  const onError = opts.onError ?? ((err: Error) => process.emitWarning(`${FLAG}: ${err.message}`));
  const server = createServer((req, res) => {
    handle(opts.metrics, req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, `scrape failed: ${(err as Error)?.message ?? String(err)}\n`);
      else res.destroy();
    });
  });
  // A stuck scraper must not hold a connection open forever.
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    const onListenError = (err: NodeJS.ErrnoException): void => {
      reject(new SupervisorError('E_METRICS_LISTEN', `${FLAG}: cannot listen on ${opts.host}:${opts.port}: ${err.message}`,
        { flag: FLAG, host: opts.host, port: opts.port, errno: err.code }, { cause: err }));
    };
    server.once('error', onListenError);
    server.listen(opts.port, opts.host, () => { server.off('error', onListenError); resolve(); });
  });
  // Later server errors (accept failing with EMFILE...) are reported, never fatal to the daemon.
  server.on('error', onError);
  const address = server.address() as AddressInfo;
  const shownHost = isIP(opts.host) === 6 ? `[${opts.host}]` : opts.host;
  let closing: Promise<void> | null = null;
  return {
    url: `http://${shownHost}:${address.port}/metrics`,
    close(): Promise<void> {
      closing ??= new Promise<void>((resolve) => {
        const disarm = graceTimer(opts.clock, () => server.closeAllConnections(), graceMs);
        server.close(() => { disarm(); resolve(); });
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}
