/**
 * The control-socket protocol between `supervisor run` and the CLI: newline-delimited
 * JSON messages with ids, a versioned handshake, and the checks both ends apply to what
 * they read. Kept free of heavy imports: the CLI loads it on every `supervisor ps`.
 */
import { SupervisorError, showValue } from '../core/errors.js';
import { checkParams, isKnownMethod, METHODS } from './methods.js';
import type { MethodKind } from './methods.js';
import { RawJson } from '../core/raw-json.js';

export { RawJson };

export type { CallMethod, CallParams, CallResult, ControlCalls, ControlStreams, MethodKind,
  StreamItem, StreamMethod, StreamParams } from './methods.js';
export { METHODS } from './methods.js';

/** Bumped on any change an older peer would misread; checked in the handshake. */
export const PROTOCOL_VERSION = 1;
/** How the operator CLI names itself in the handshake. */
export const CLI_CLIENT_NAME = 'supervisor-cli';
/** The handshake method; always the first request on a connection. */
export const HELLO = 'hello';
/** Sent with the id of a running request or stream to end it. */
export const CANCEL = 'cancel';

export interface Request {
  readonly id: number;
  readonly method: string;
  readonly params?: Readonly<Record<string, unknown>>;
}

export interface WireError { readonly code: string; readonly message: string }

/** `id` is null only when the offending line had no usable id (malformed, too large). */
export type ResultMessage = { readonly id: number; readonly ok: true; readonly result: unknown };
export type ErrorMessage = { readonly id: number | null; readonly ok: false; readonly error: WireError };
export type StreamItemMessage = { readonly id: number; readonly stream: true; readonly item: unknown };
export type StreamEndMessage = { readonly id: number; readonly end: true };
export type ServerMessage = ResultMessage | ErrorMessage | StreamItemMessage | StreamEndMessage;

export interface HelloParams { readonly protocol: number; readonly client: string }
/** logDir: where the daemon writes its logs (absent from daemons before it was added). */
export interface ServerInfo { readonly pid: number; readonly version: string; readonly libDir: string; readonly logDir?: string }
export interface HelloResult { readonly protocol: number; readonly server: ServerInfo }

/** A request line that could be read, or the error to answer it with. */
export type ParsedRequest =
  | { readonly ok: true; readonly request: Request }
  | { readonly ok: false; readonly id: number | null; readonly error: WireError };

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isId(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** Reads one request line from a client; never throws, so a bad line cannot take the daemon down. */
export function parseRequest(line: string): ParsedRequest {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    return { ok: false, id: null, error: { code: 'E_MALFORMED', message: `not a JSON line: ${(err as Error).message}` } };
  }
  if (!isObject(value)) return { ok: false, id: null, error: { code: 'E_MALFORMED', message: 'a request must be a JSON object' } };
  if (!isId(value['id'])) {
    return { ok: false, id: null, error: { code: 'E_MALFORMED', message: `request id must be a whole number >= 0 (got ${showValue(value['id'], 60)})` } };
  }
  const id = value['id'];
  if (typeof value['method'] !== 'string' || value['method'] === '') {
    return { ok: false, id, error: { code: 'E_MALFORMED', message: `request method must be a non-empty string (got ${showValue(value['method'], 60)})` } };
  }
  const params = value['params'];
  if (params !== undefined && !isObject(params)) {
    return { ok: false, id, error: { code: 'E_BAD_PARAMS', message: `params must be a JSON object (got ${showValue(params, 60)})` } };
  }
  return { ok: true, request: params === undefined ? { id, method: value['method'] } : { id, method: value['method'], params } };
}

/** Reads the hello params; a protocol the server does not speak is E_PROTOCOL. */
export function checkHello(params: Readonly<Record<string, unknown>> | undefined): HelloParams {
  const protocol = params?.['protocol'];
  const client = params?.['client'] ?? 'unknown';
  if (typeof protocol !== 'number' || !Number.isSafeInteger(protocol)) {
    throw new SupervisorError('E_PROTOCOL', `hello: params.protocol must be a whole number (got ${showValue(protocol, 60)})`);
  }
  if (typeof client !== 'string') throw new SupervisorError('E_BAD_PARAMS', `hello: params.client must be a string (got ${showValue(client, 60)})`);
  if (protocol !== PROTOCOL_VERSION) {
    throw new SupervisorError('E_PROTOCOL', `client speaks control protocol ${protocol}, this daemon speaks ${PROTOCOL_VERSION}: use the same supervisor version for both`,
      { clientProtocol: protocol, serverProtocol: PROTOCOL_VERSION });
  }
  return { protocol, client };
}

/**
 * Resolves a method name and checks its params: E_UNKNOWN_METHOD for a name not in the
 * map, E_BAD_PARAMS naming the field and the value otherwise.
 */
export function checkRequest(method: string, params: Readonly<Record<string, unknown>> | undefined): { kind: MethodKind; params: Record<string, unknown> } {
  if (!isKnownMethod(method)) throw new SupervisorError('E_UNKNOWN_METHOD', `unknown method ${showValue(method, 60)}`, { method });
  return { kind: METHODS[method].kind, params: checkParams(method, params ?? {}) };
}

/** Reads one line from the daemon; null when it is not a message of this protocol. */
export function parseServerMessage(line: string): ServerMessage | null {
  let value: unknown;
  try { value = JSON.parse(line); } catch { return null; }
  if (!isObject(value)) return null;
  const id = value['id'];
  if (value['ok'] === false) {
    const error = value['error'];
    if ((id !== null && !isId(id)) || !isObject(error) || typeof error['code'] !== 'string' || typeof error['message'] !== 'string') return null;
    return { id, ok: false, error: { code: error['code'], message: error['message'] } };
  }
  if (!isId(id)) return null;
  if (value['ok'] === true) return { id, ok: true, result: value['result'] ?? null };
  if (value['stream'] === true) return { id, stream: true, item: value['item'] ?? null };
  if (value['end'] === true) return { id, end: true };
  return null;
}

/** The wire form of any error: a SupervisorError keeps its code; anything else is E_INTERNAL. */
export function toWireError(err: unknown): WireError {
  if (err instanceof SupervisorError) return { code: err.code, message: err.message };
  const message = err instanceof Error ? err.message : String(err);
  return { code: 'E_INTERNAL', message: `internal error: ${message}` };
}

const CLOSE_LINE = Buffer.from('}\n');

/**
 * A line around a value serialised earlier, as chunks for one corked write: a short head, the
 * value's kept bytes, the line's end. Neither encoded nor copied again (a concat of ~0.5 MB per
 * `ps` showed in the daemon's profile; docs/decisions.md, "ps at 1000 handlers").
 */
function rawLine(head: string, raw: RawJson): readonly Buffer[] {
  return [Buffer.from(head), raw.bytes, CLOSE_LINE];
}

/**
 * Serialises one message as a line; a value JSON cannot carry becomes an E_INTERNAL error for that
 * id. A RawJson result or item comes back as chunks to write together (cork, write each, uncork).
 */
export function encodeMessage(message: Request): string;
export function encodeMessage(message: ServerMessage): string | readonly Buffer[];
export function encodeMessage(message: ServerMessage | Request): string | readonly Buffer[] {
  try {
    if ('result' in message && message.result instanceof RawJson) return rawLine(`{"id":${message.id},"ok":true,"result":`, message.result);
    if ('item' in message && message.item instanceof RawJson) return rawLine(`{"id":${message.id},"stream":true,"item":`, message.item);
    return `${JSON.stringify(message)}\n`;
  } catch (err) {
    const error = toWireError(new Error(`response could not be serialised: ${(err as Error).message}`));
    return `${JSON.stringify({ id: message.id, ok: false, error })}\n`;
  }
}
