/**
 * The CLI's end of the control socket. Imports only node:net and the protocol modules,
 * because `supervisor ps` pays for every module it loads on each start.
 */
import { createConnection, type Socket } from 'node:net';
import { SupervisorError } from '../core/errors.js';
import { LineSplitter } from '../core/ndjson.js';
import {
  CANCEL, CLI_CLIENT_NAME, HELLO, PROTOCOL_VERSION, encodeMessage, parseServerMessage,
  type CallMethod, type CallParams, type CallResult, type Request, type ServerInfo, type ServerMessage,
  type StreamItem, type StreamMethod, type StreamParams, type WireError,
} from './protocol.js';
import { isErrorCode } from '../core/error-codes.js';

export interface ConnectOptions {
  /** Deadline for connect + handshake, and the default deadline of each call. Default 5 s. */
  readonly timeoutMs?: number;
  /** How this client names itself in the handshake. */
  readonly clientName?: string;
  /** Longest message accepted from the daemon (bytes). Default 256 MiB. */
  readonly maxMessageBytes?: number;
  /** The protocol version announced; only tests change it. */
  readonly protocol?: number;
}

export interface CallOptions { readonly timeoutMs?: number }

/** A running stream: `done` settles on its end, error or the connection's close; `cancel` asks the daemon to end it. */
export interface StreamHandle { readonly done: Promise<void>; cancel(): void }

export interface ControlClient {
  readonly socketPath: string;
  /** Who answered the handshake. */
  readonly server: ServerInfo;
  call<M extends CallMethod>(method: M, params: CallParams<M>, opts?: CallOptions): Promise<CallResult<M>>;
  /** The result as the JSON text the daemon sent, not parsed: `ps --json` prints it as it is. */
  callRaw<M extends CallMethod>(method: M, params: CallParams<M>, opts?: CallOptions): Promise<string>;
  stream<S extends StreamMethod>(method: S, params: StreamParams<S>, onItem: (item: StreamItem<S>) => void): StreamHandle;
  /** Ends the connection; running calls fail with E_DISCONNECTED, streams resolve. */
  close(): Promise<void>;
}

type Pending =
  | { readonly kind: 'call'; readonly method: string; resolve(value: unknown): void; reject(err: Error): void; timer: NodeJS.Timeout | undefined; raw?: boolean }
  | { readonly kind: 'stream'; readonly method: string; onItem(item: unknown): void; resolve(): void; reject(err: Error): void; cancelled: boolean };

const DEFAULT_TIMEOUT_MS = 5000;
/** How the server encodes a successful result (encodeMessage): the prefix a raw call cuts off. */
const RAW_RESULT = /^\{"id":(\d+),"ok":true,"result":/;
const DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024 * 1024;
const CLOSE_GRACE_MS = 1000;

/** A daemon of another version may send a code this one does not know: it arrives as E_INTERNAL, the code kept in details. */
function remoteError(error: WireError, method: string, id: number | null): SupervisorError {
  if (isErrorCode(error.code)) return new SupervisorError(error.code, error.message, { method, id, remote: true });
  return new SupervisorError('E_INTERNAL', `${error.code}: ${error.message}`, { method, id, remote: true, remoteCode: error.code });
}

/** Connects, maps "nobody there" to E_NO_DAEMON (the CLI's exit 3), access problems to E_SOCKET_ACCESS. */
function openSocket(socketPath: string, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(socketPath);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new SupervisorError('E_TIMEOUT', `no answer from ${socketPath} within ${timeoutMs} ms`, { socketPath }));
    }, timeoutMs);
    socket.once('connect', () => { clearTimeout(timer); resolve(socket); });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED' || err.code === 'ENOTDIR') {
        reject(new SupervisorError('E_NO_DAEMON', `no supervisor daemon is running (nothing listens on ${socketPath})`, { socketPath }, { cause: err }));
      } else if (err.code === 'EACCES' || err.code === 'EPERM') {
        reject(new SupervisorError('E_SOCKET_ACCESS', `permission denied on ${socketPath}: the daemon runs as another user`, { socketPath }, { cause: err }));
      } else {
        reject(new SupervisorError('E_CONNECT', `cannot connect to ${socketPath}: ${err.message}`, { socketPath }, { cause: err }));
      }
    });
  });
}

/** Opens the control socket and does the handshake; E_NO_DAEMON when no daemon listens, E_PROTOCOL on a version mismatch. */
export async function connectControl(socketPath: string, opts: ConnectOptions = {}): Promise<ControlClient> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const socket = await openSocket(socketPath, timeoutMs);
  const client = new Connection(socket, socketPath, timeoutMs, opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES);
  try {
    const hello = await client.request(HELLO, { protocol: opts.protocol ?? PROTOCOL_VERSION, client: opts.clientName ?? CLI_CLIENT_NAME }, timeoutMs);
    const result = hello as { protocol?: unknown; server?: Partial<ServerInfo> } | null;
    if (result?.protocol !== PROTOCOL_VERSION || typeof result.server?.pid !== 'number') {
      throw new SupervisorError('E_PROTOCOL', `the daemon on ${socketPath} answered the handshake with protocol ${String(result?.protocol)}; this client speaks ${PROTOCOL_VERSION}`,
        { socketPath });
    }
    client.server = Object.freeze({ pid: result.server.pid, version: String(result.server.version), libDir: String(result.server.libDir),
      ...(typeof result.server.logDir === 'string' ? { logDir: result.server.logDir } : {}) });
  } catch (err) {
    socket.destroy();
    throw err;
  }
  return client;
}

class Connection implements ControlClient {
  server: ServerInfo = { pid: 0, version: '', libDir: '' };
  private nextId = 0;
  private readonly pending = new Map<number, Pending>();
  private readonly splitter: LineSplitter;
  /** Why the connection ended, when we know better than "the daemon closed it". */
  private failure: SupervisorError | null = null;
  private closedByUs = false;
  private readonly closed: Promise<void>;

  constructor(private readonly socket: Socket, readonly socketPath: string, private readonly defaultTimeoutMs: number, maxMessageBytes: number) {
    this.splitter = new LineSplitter(maxMessageBytes);
    socket.on('data', (chunk: Buffer) => {
      if (this.splitter.feed(chunk, (line) => this.onLine(line)) === 'tooLarge') {
        this.fail(new SupervisorError('E_TOO_LARGE', `the daemon sent a message longer than ${maxMessageBytes} bytes`, { socketPath }));
      }
    });
    socket.on('error', (err) => { this.failure ??= new SupervisorError('E_DISCONNECTED', `control connection failed: ${err.message}`, { socketPath }, { cause: err }); });
    this.closed = new Promise((resolve) => socket.once('close', () => { this.settleAll(); resolve(); }));
  }

  call<M extends CallMethod>(method: M, params: CallParams<M>, opts: CallOptions = {}): Promise<CallResult<M>> {
    return this.request(method, params, opts.timeoutMs ?? this.defaultTimeoutMs) as Promise<CallResult<M>>;
  }

  callRaw<M extends CallMethod>(method: M, params: CallParams<M>, opts: CallOptions = {}): Promise<string> {
    return this.request(method, params, opts.timeoutMs ?? this.defaultTimeoutMs, true).then((v) => (typeof v === 'string' ? v : JSON.stringify(v)));
  }

  /** Sends one request and waits for its answer; E_TIMEOUT (and a cancel to the daemon) after `timeoutMs`. */
  request(method: string, params: Readonly<Record<string, unknown>>, timeoutMs: number, raw = false): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (!this.writable()) return reject(this.disconnected());
      const entry: Pending = { kind: 'call', method, resolve, reject, timer: undefined, raw };
      entry.timer = setTimeout(() => {
        if (this.pending.get(id) !== entry) return;
        this.pending.delete(id);
        if (this.writable()) this.socket.write(encodeMessage({ id, method: CANCEL }));
        reject(new SupervisorError('E_TIMEOUT', `${method} got no answer from the daemon within ${timeoutMs} ms`, { method, id }));
      }, timeoutMs);
      this.pending.set(id, entry);
      this.socket.write(encodeMessage({ id, method, params } satisfies Request));
    });
  }

  stream<S extends StreamMethod>(method: S, params: StreamParams<S>, onItem: (item: StreamItem<S>) => void): StreamHandle {
    const id = this.nextId++;
    let entry: Pending | undefined;
    const done = new Promise<void>((resolve, reject) => {
      if (!this.writable()) return reject(this.disconnected());
      entry = { kind: 'stream', method, onItem: onItem as (item: unknown) => void, resolve, reject, cancelled: false };
      this.pending.set(id, entry);
      this.socket.write(encodeMessage({ id, method, params }));
    });
    const cancel = (): void => {
      if (entry?.kind !== 'stream' || entry.cancelled || this.pending.get(id) !== entry) return;
      entry.cancelled = true;
      if (this.writable()) this.socket.write(encodeMessage({ id, method: CANCEL }));
    };
    return { done, cancel };
  }

  close(): Promise<void> {
    if (!this.socket.destroyed) {
      this.closedByUs = true;
      this.failure ??= new SupervisorError('E_DISCONNECTED', 'the control connection was closed by this client', { socketPath: this.socketPath });
      // Flush what was written (a cancel), then go: waiting for the daemon's answers is pointless now.
      this.socket.end(() => this.socket.destroy());
      setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS).unref();
    }
    return this.closed;
  }

  private onLine(line: string): void {
    // A raw call's success is cut out of the line as text: 600 KB of ps rows are not parsed just to be printed.
    const head = RAW_RESULT.exec(line);
    if (head && line.endsWith('}')) {
      const entry = this.pending.get(Number(head[1]));
      if (entry?.kind === 'call' && entry.raw) {
        this.pending.delete(Number(head[1]));
        clearTimeout(entry.timer);
        entry.resolve(line.slice(head[0].length, -1));
        return;
      }
    }
    const message = parseServerMessage(line);
    if (message === null) {
      this.fail(new SupervisorError('E_PROTOCOL', `the daemon sent a line this client cannot read: ${line.slice(0, 80)}`, { socketPath: this.socketPath }));
      return;
    }
    this.dispatch(message);
  }

  private dispatch(message: ServerMessage): void {
    if (message.id === null) {
      // A connection-level complaint (malformed, too large): the daemon closes next, this is why.
      if ('error' in message) this.failure ??= remoteError(message.error, '(connection)', null);
      return;
    }
    const entry = this.pending.get(message.id);
    if (!entry) return; // the answer to something that timed out or was cancelled
    if ('ok' in message) {
      this.pending.delete(message.id);
      if (entry.kind === 'call') clearTimeout(entry.timer);
      if (message.ok) entry.kind === 'call' ? entry.resolve(message.result) : entry.resolve();
      else entry.reject(remoteError(message.error, entry.method, message.id));
    } else if ('end' in message) {
      this.pending.delete(message.id);
      if (entry.kind === 'stream') entry.resolve();
      else entry.reject(new SupervisorError('E_PROTOCOL', `the daemon ended ${entry.method} as if it were a stream`, { method: entry.method }));
    } else if (entry.kind === 'stream' && !entry.cancelled) {
      try {
        entry.onItem(message.item);
      } catch (err) {
        // The consumer failed: stop the stream on both ends and report why.
        this.pending.delete(message.id);
        if (this.writable()) this.socket.write(encodeMessage({ id: message.id, method: CANCEL }));
        entry.reject(err instanceof Error ? err : new Error(String(err)));
      }
    }
  }

  private fail(err: SupervisorError): void {
    this.failure ??= err;
    this.socket.destroy();
  }

  private settleAll(): void {
    const err = this.disconnected();
    const entries = [...this.pending.values()];
    this.pending.clear();
    for (const entry of entries) {
      if (entry.kind === 'call') clearTimeout(entry.timer);
      if (entry.kind === 'stream' && (entry.cancelled || this.closedByUs)) entry.resolve();
      else entry.reject(err);
    }
  }

  private disconnected(): SupervisorError {
    return this.failure ?? new SupervisorError('E_DISCONNECTED', 'the daemon closed the control connection', { socketPath: this.socketPath });
  }

  private writable(): boolean {
    return !this.socket.destroyed && !this.socket.writableEnded;
  }
}
