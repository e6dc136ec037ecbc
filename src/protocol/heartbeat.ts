/**
 * heartbeat.log (CONTRACT section 6): `[{"heartbeat": {"status", "code",
 * "formattedMessage": {"lang", "message"}}}]`, read as the Azure agent's
 * collect_heartbeat reads it (first element's `heartbeat`), a little more leniently.
 */
import { asRecord, contentStart, decodeText, formattedMessageText, lenientInteger, lenientString, tryParseJson } from './lenient.js';

export interface Heartbeat {
  /** As the handler wrote it, lower-cased: 'ready', 'notready', ... */
  readonly status: string;
  readonly code: number;
  readonly message: string;
}

export type HeartbeatResult =
  | { readonly ok: true; readonly heartbeat: Heartbeat }
  | { readonly ok: false; readonly problem: string };

/** Handler statuses a heartbeat may set, as the agent's _VALID_HANDLER_STATUS. */
export type HeartbeatHandlerStatus = 'Ready' | 'NotReady' | 'Installing' | 'Unresponsive';

const KNOWN: Readonly<Record<string, HeartbeatHandlerStatus>> = Object.freeze({
  ready: 'Ready',
  notready: 'NotReady',
  installing: 'Installing',
  unresponsive: 'Unresponsive',
});

/** Reads one heartbeat file; never throws. */
export function parseHeartbeat(text: string | Uint8Array, source: string): HeartbeatResult {
  const body = decodeText(text);
  if (body.trim() === '') return bad(source, 'the file is empty', body);
  const parsed = tryParseJson(body);
  if (!parsed.ok) return bad(source, `not valid JSON (${parsed.error})`, body);
  const doc = parsed.value;
  const first = Array.isArray(doc) ? asRecord(doc[0]) : asRecord(doc);
  if (!first) return bad(source, 'expected an array whose first element is an object', body);
  const heartbeat = asRecord(first['heartbeat']);
  if (!heartbeat) return bad(source, 'missing "heartbeat" object', body);
  const status = lenientString(heartbeat['status']);
  if (status === undefined || status.trim() === '') return bad(source, 'missing "heartbeat.status"', body);
  return {
    ok: true,
    heartbeat: Object.freeze({
      status: status.trim().toLowerCase(),
      code: lenientInteger(heartbeat['code']) ?? 0,
      message: formattedMessageText(heartbeat['formattedMessage']) ?? lenientString(heartbeat['message']) ?? '',
    }),
  };
}

/** The handler status a heartbeat status stands for, or null for a value the agent does not know. */
export function heartbeatHandlerStatus(status: string): HeartbeatHandlerStatus | null {
  return KNOWN[status.trim().toLowerCase().replace(/[\s_-]/g, '')] ?? null;
}

function bad(source: string, reason: string, body: string): HeartbeatResult {
  const start = contentStart(body);
  return { ok: false, problem: `heartbeat file ${source} is malformed: ${reason}; content starts with: ${start === '' ? '(nothing)' : start}` };
}
