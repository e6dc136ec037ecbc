/**
 * One client connection of the control server: framing, handshake, request dispatch,
 * per-request timeout and abort, streams, and the limits that keep a misbehaving client
 * from costing the daemon more than a bounded amount of memory.
 */
import type { Socket } from 'node:net';
import { SupervisorError } from '../core/errors.js';
import { LineSplitter } from '../core/ndjson.js';
import {
  CANCEL, HELLO, PROTOCOL_VERSION, checkHello, checkRequest, encodeMessage, parseRequest, toWireError,
  type ErrorMessage, type Request, type ServerInfo, type ServerMessage,
} from './protocol.js';

export interface ConnectionLimits {
  readonly maxMessageBytes: number;
  readonly requestTimeoutMs: number;
  readonly maxBufferedBytes: number;
  readonly maxInflight: number;
}

type AnyHandler = (params: never, ctx: { signal: AbortSignal; send(item: unknown): void }) => unknown;

export interface ConnectionDeps {
  readonly info: ServerInfo;
  readonly limits: ConnectionLimits;
  readonly handlers: Readonly<Record<string, AnyHandler | undefined>>;
  readonly log: (line: string) => void;
}

interface Inflight {
  readonly method: string;
  readonly stream: boolean;
  readonly controller: AbortController;
  timer: NodeJS.Timeout | undefined;
}

/** How long a connection we are closing may take to read what we sent before it is cut. */
const CLOSE_GRACE_MS = 1000;

function errorMessage(id: number | null, code: string, message: string): ErrorMessage {
  return { id, ok: false, error: { code, message } };
}

/** Serves one accepted socket until either side closes it. */
export class Connection {
  private readonly splitter: LineSplitter;
  private readonly inflight = new Map<number, Inflight>();
  private greeted = false;
  /** We decided to close: further input is discarded. */
  private ending = false;
  /** The client shut its writing side: answer what is running, then close. */
  private inputEnded = false;
  private graceTimer: NodeJS.Timeout | undefined;

  constructor(private readonly socket: Socket, private readonly deps: ConnectionDeps) {
    this.splitter = new LineSplitter(deps.limits.maxMessageBytes);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.onInputEnd());
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE' && err.code !== 'ECONNRESET') deps.log(`control socket: connection error: ${err.message}`);
    });
    socket.on('close', () => {
      clearTimeout(this.graceTimer);
      this.abortAll(new SupervisorError('E_DISCONNECTED', 'the client disconnected'));
    });
  }

  /** Server shutdown: streams get their end, running calls E_SHUTDOWN, then the connection closes. */
  shutdown(): void {
    for (const [id, entry] of [...this.inflight]) {
      this.finish(id, entry, entry.stream ? { id, end: true } : errorMessage(id, 'E_SHUTDOWN', 'the daemon is stopping'));
      entry.controller.abort(new SupervisorError('E_SHUTDOWN', 'the daemon is stopping'));
    }
    this.endGracefully();
  }

  /** The client shut its writing side: calls still get their answers, streams end (nobody could cancel them). */
  private onInputEnd(): void {
    this.inputEnded = true;
    for (const [id, entry] of [...this.inflight]) {
      if (!entry.stream) continue;
      this.finish(id, entry, { id, end: true });
      entry.controller.abort(new SupervisorError('E_DISCONNECTED', 'the client stopped sending'));
    }
    this.endIfIdle();
  }

  private onData(chunk: Buffer): void {
    if (this.ending) return;
    const outcome = this.splitter.feed(chunk, (line) => { if (!this.ending) this.onLine(line); });
    if (outcome === 'tooLarge' && !this.ending) {
      this.send(errorMessage(null, 'E_TOO_LARGE', `a message was longer than ${this.deps.limits.maxMessageBytes} bytes; closing the connection`));
      this.endGracefully();
    }
  }

  private onLine(line: string): void {
    const parsed = parseRequest(line);
    if (!parsed.ok) {
      this.send({ id: parsed.id, ok: false, error: parsed.error });
      return;
    }
    try {
      this.dispatch(parsed.request);
    } catch (err) {
      // A bug here must cost one response, never the daemon.
      this.deps.log(`control socket: request ${parsed.request.id} (${parsed.request.method}) failed: ${(err as Error).stack ?? String(err)}`);
      this.send({ id: parsed.request.id, ok: false, error: toWireError(err) });
    }
  }

  private dispatch(req: Request): void {
    const { id, method } = req;
    if (method === HELLO) return this.hello(req);
    if (!this.greeted) {
      this.send(errorMessage(id, 'E_PROTOCOL', `the first request must be ${HELLO} (protocol ${PROTOCOL_VERSION}); got ${method}`));
      return this.endGracefully();
    }
    if (method === CANCEL) return this.cancel(id);
    if (this.inflight.has(id)) return this.send(errorMessage(id, 'E_BAD_REQUEST', `request id ${id} is already in use on this connection`));
    if (this.inflight.size >= this.deps.limits.maxInflight) {
      return this.send(errorMessage(id, 'E_BUSY', `${this.inflight.size} requests are already running on this connection`));
    }
    let checked: ReturnType<typeof checkRequest>;
    try {
      checked = checkRequest(method, req.params);
    } catch (err) {
      return this.send({ id, ok: false, error: toWireError(err) });
    }
    const handler = this.deps.handlers[method];
    if (!handler) return this.send(errorMessage(id, 'E_UNKNOWN_METHOD', `method "${method}" is not served by this daemon`));
    this.run(id, method, checked.kind === 'stream', handler, checked.params);
  }

  private hello(req: Request): void {
    if (this.greeted) return this.send(errorMessage(req.id, 'E_BAD_REQUEST', 'the handshake was already done on this connection'));
    try {
      checkHello(req.params);
    } catch (err) {
      this.send({ id: req.id, ok: false, error: toWireError(err) });
      return this.endGracefully();
    }
    this.greeted = true;
    this.send({ id: req.id, ok: true, result: { protocol: PROTOCOL_VERSION, server: this.deps.info } });
  }

  private run(id: number, method: string, stream: boolean, handler: AnyHandler, params: Record<string, unknown>): void {
    const entry: Inflight = { method, stream, controller: new AbortController(), timer: undefined };
    this.inflight.set(id, entry);
    // Streams run until cancelled; only calls have a deadline.
    if (!stream) entry.timer = setTimeout(() => this.expire(id, entry), this.deps.limits.requestTimeoutMs);
    const signal = entry.controller.signal;
    const send = (item: unknown): void => {
      if (this.inflight.get(id) === entry) this.send({ id, stream: true, item });
    };
    let pending: Promise<unknown>;
    try {
      pending = Promise.resolve(handler(params as never, stream ? { signal, send } : { signal } as never));
    } catch (err) {
      pending = Promise.reject(err);
    }
    pending.then(
      (result) => {
        if (this.inflight.get(id) === entry) this.finish(id, entry, stream ? { id, end: true } : { id, ok: true, result: result ?? null });
      },
      (err: unknown) => {
        const wire = toWireError(err);
        if (wire.code === 'E_INTERNAL') this.deps.log(`control socket: ${method} failed: ${(err as Error)?.stack ?? String(err)}`);
        if (this.inflight.get(id) === entry) this.finish(id, entry, { id, ok: false, error: wire });
      },
    );
  }

  private expire(id: number, entry: Inflight): void {
    if (this.inflight.get(id) !== entry) return;
    const message = `${entry.method} did not answer within ${this.deps.limits.requestTimeoutMs} ms`;
    this.finish(id, entry, errorMessage(id, 'E_TIMEOUT', message));
    entry.controller.abort(new SupervisorError('E_TIMEOUT', message));
  }

  private cancel(id: number): void {
    const entry = this.inflight.get(id);
    if (!entry) return; // already finished: the cancel crossed the answer
    this.finish(id, entry, entry.stream ? { id, end: true } : errorMessage(id, 'E_CANCELLED', `${entry.method} was cancelled by the client`));
    entry.controller.abort(new SupervisorError('E_CANCELLED', `${entry.method} was cancelled by the client`));
  }

  private finish(id: number, entry: Inflight, message: ServerMessage): void {
    this.inflight.delete(id);
    clearTimeout(entry.timer);
    this.send(message);
    this.endIfIdle();
  }

  private abortAll(reason: SupervisorError): void {
    const entries = [...this.inflight.values()];
    this.inflight.clear();
    for (const entry of entries) {
      clearTimeout(entry.timer);
      entry.controller.abort(reason);
    }
  }

  private send(message: ServerMessage): void {
    const socket = this.socket;
    if (socket.destroyed || socket.writableEnded) return;
    if (socket.writableLength > this.deps.limits.maxBufferedBytes) {
      // The client stopped reading; buffering for it without bound would cost the daemon its memory.
      this.deps.log(`control socket: dropping a client that does not read (${socket.writableLength} bytes unsent)`);
      socket.destroy();
      return;
    }
    const line = encodeMessage(message);
    if (typeof line === 'string') {
      socket.write(line);
      return;
    }
    // One writev for the chunks of a line, in order.
    socket.cork();
    for (const chunk of line) socket.write(chunk);
    socket.uncork();
  }

  private endIfIdle(): void {
    if (this.inputEnded && this.inflight.size === 0) this.endGracefully();
  }

  private endGracefully(): void {
    if (this.ending) return;
    this.ending = true;
    this.abortAll(new SupervisorError('E_DISCONNECTED', 'the connection is closing'));
    this.socket.end();
    this.graceTimer = setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS);
    this.graceTimer.unref();
  }
}
