/**
 * The daemon's end of the control socket: listens on `<lib>/supervisor.sock` (0600),
 * greets each client, checks every request, runs the method handlers with a timeout and
 * an abort signal, and streams items for watch/follow. Nothing a client sends can crash
 * the daemon: bad input gets an error response, a client that stops reading is dropped.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { ValidationError, type Problem } from '../core/errors.js';
import { Connection, type ConnectionLimits } from './connection.js';
import type { CallMethod, CallParams, CallResult, RawJson, ServerInfo, StreamItem, StreamMethod, StreamParams } from './protocol.js';
import { listenPrivately, removeSocketFile } from './socket-file.js';

export { RawJson } from './protocol.js';

/** What a call handler gets besides its params: aborted on timeout, cancel, client gone or server close. */
export interface CallContext { readonly signal: AbortSignal }
/** A stream handler pushes items until `signal` aborts, then returns. */
export interface StreamContext<T> extends CallContext { send(item: T): void }

/** A handler may answer with `RawJson.of(value)` to send a value it serialised earlier (a cached snapshot). */
export type CallHandler<M extends CallMethod> = (params: CallParams<M>, ctx: CallContext) => Promise<CallResult<M> | RawJson> | CallResult<M> | RawJson;
export type StreamHandler<S extends StreamMethod> = (params: StreamParams<S>, ctx: StreamContext<StreamItem<S> | RawJson>) => Promise<void>;

/** The daemon's implementation of each method; a method left out answers E_UNKNOWN_METHOD. */
export type ControlHandlers = { [M in CallMethod]: CallHandler<M> } & { [S in StreamMethod]: StreamHandler<S> };

export interface ControlServerOptions {
  readonly socketPath: string;
  readonly handlers: Partial<ControlHandlers>;
  /** Told to every client in the handshake; pid defaults to this process. */
  readonly serverInfo: { readonly version: string; readonly libDir: string; readonly logDir?: string; readonly pid?: number };
  /** Longest request line accepted (bytes); a longer one closes the connection with E_TOO_LARGE. Default 1 MiB. */
  readonly maxMessageBytes?: number;
  /** Deadline of a call (streams run until cancelled). Default 30 s. */
  readonly requestTimeoutMs?: number;
  /** Unsent bytes a connection may hold before the client is judged not to read and dropped. Default 8 MiB. */
  readonly maxBufferedBytes?: number;
  /** Requests running at once on one connection; more get E_BUSY. Default 1024. */
  readonly maxInflight?: number;
  readonly log?: (line: string) => void;
}

export interface ControlServer {
  readonly socketPath: string;
  readonly info: ServerInfo;
  /** Connections open right now. */
  connectionCount(): number;
  /** Stops accepting, ends streams, closes connections, removes the socket file. Idempotent. */
  close(): Promise<void>;
}

const DEFAULTS = { maxMessageBytes: 1024 * 1024, requestTimeoutMs: 30_000, maxBufferedBytes: 8 * 1024 * 1024, maxInflight: 1024 };

function checkOptions(opts: ControlServerOptions): Problem[] {
  const problems: Problem[] = [];
  const wholePositive = ['maxMessageBytes', 'requestTimeoutMs', 'maxBufferedBytes', 'maxInflight'] as const;
  for (const key of wholePositive) {
    const value = opts[key];
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 1)) problems.push({ path: key, reason: 'must be a whole number >= 1', value });
  }
  if (typeof opts.socketPath !== 'string' || opts.socketPath === '') problems.push({ path: 'socketPath', reason: 'must be a non-empty path', value: opts.socketPath });
  return problems;
}

/** Starts serving the control socket; E_SOCKET_IN_USE when a live daemon already serves that path. */
export async function startControlServer(opts: ControlServerOptions): Promise<ControlServer> {
  const problems = checkOptions(opts);
  if (problems.length > 0) throw new ValidationError('control server options', problems);
  const info: ServerInfo = Object.freeze({ pid: opts.serverInfo.pid ?? process.pid, version: opts.serverInfo.version, libDir: opts.serverInfo.libDir,
    ...(opts.serverInfo.logDir ? { logDir: opts.serverInfo.logDir } : {}) });
  const log = opts.log ?? (() => undefined);
  const limits: ConnectionLimits = {
    maxMessageBytes: opts.maxMessageBytes ?? DEFAULTS.maxMessageBytes,
    requestTimeoutMs: opts.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs,
    maxBufferedBytes: opts.maxBufferedBytes ?? DEFAULTS.maxBufferedBytes,
    maxInflight: opts.maxInflight ?? DEFAULTS.maxInflight,
  };
  const connections = new Map<Connection, Promise<void>>();
  const handlers = opts.handlers as Readonly<Record<string, ((params: never, ctx: StreamContext<unknown>) => unknown) | undefined>>;
  const server: Server = createServer({ allowHalfOpen: true }, (socket: Socket) => {
    const conn = new Connection(socket, { info, limits, handlers, log });
    connections.set(conn, new Promise((resolve) => socket.once('close', () => { connections.delete(conn); resolve(); })));
  });
  const identity = await listenPrivately(server, opts.socketPath);
  server.on('error', (err) => log(`control socket: ${err.message}`)); // after listen: never fatal
  log(`control socket listening on ${opts.socketPath}`);

  let closing: Promise<void> | undefined;
  return {
    socketPath: opts.socketPath,
    info,
    connectionCount: () => connections.size,
    close() {
      closing ??= (async () => {
        // Unlink first, so a client arriving now hears "no daemon" instead of a closing one.
        await removeSocketFile(opts.socketPath, identity);
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        const gone = [...connections.values()];
        for (const conn of connections.keys()) conn.shutdown();
        await Promise.all([closed, ...gone]);
      })();
      return closing;
    },
  };
}
