/**
 * Extension status files, status/<seq>.status (CONTRACT section 6), read the way the
 * Azure agent's parse_ext_status and collect_ext_status read them, a little more
 * leniently where handlers in the wild are loose (codes as strings, status in any case,
 * formattedMessage as a plain string, a bare object instead of an array).
 */
import { asRecord, contentStart, decodeText, formattedMessageText, lenientInteger, lenientString, tryParseJson } from './lenient.js';

export type ExtensionStatusValue = 'transitioning' | 'warning' | 'error' | 'success';

/** The four values the protocol knows; anything else a handler writes reads as 'error'. */
export const EXTENSION_STATUS_VALUES: readonly ExtensionStatusValue[] = Object.freeze(['transitioning', 'warning', 'error', 'success']);

export interface SubStatus {
  readonly name: string | null;
  readonly status: ExtensionStatusValue;
  readonly code: number;
  readonly message: string;
}

export interface ExtensionStatus {
  readonly status: ExtensionStatusValue;
  readonly code: number;
  readonly message: string;
  readonly operation: string | null;
  readonly name: string | null;
  readonly timestampUTC: string | null;
  readonly substatus: readonly SubStatus[];
  /** True when the file was over the size cap and a message was cut or substatuses dropped. */
  readonly truncated: boolean;
}

export type ExtensionStatusResult =
  | { readonly ok: true; readonly status: ExtensionStatus }
  | { readonly ok: false; readonly status: ExtensionStatus; readonly problem: string };

/** The agent's _MAX_STATUS_FILE_SIZE_IN_BYTES: over this, messages are truncated. */
export const MAX_STATUS_FILE_BYTES = 128 * 1024;
/** The agent's _MAX_STATUS_MESSAGE_LENGTH (what the portal shows). */
export const MAX_STATUS_MESSAGE_LENGTH = 1024;
/** The agent's _MAX_SUBSTATUS_FIELD_LENGTH, for substatus name and message. */
export const MAX_SUBSTATUS_FIELD_LENGTH = 10 * 1024;
export const TRUNCATED_SUFFIX = ' ... [TRUNCATED]';
/** Error code of a malformed status file (the agent's PluginSettingsStatusInvalid). */
export const STATUS_FILE_MALFORMED_CODE = 1012;

/** What a handler's status is before it has written any status file (the agent reports transitioning, code 0). */
export function missingStatus(): ExtensionStatus {
  return freezeStatus({ status: 'transitioning', code: 0, message: 'status file not yet written', operation: null, name: null, timestampUTC: null, substatus: [], truncated: false });
}

/** Reads one status file; never throws: a malformed file gives an 'error' status with code 1012. */
export function parseStatusFile(text: string | Buffer, source: string, opts: { maxBytes?: number } = {}): ExtensionStatusResult {
  const maxBytes = opts.maxBytes ?? MAX_STATUS_FILE_BYTES;
  const body = decodeText(text);
  const size = typeof text === 'string' ? Buffer.byteLength(text) : text.byteLength;
  if (body.trim() === '') return malformed(source, 'the file is empty', body);
  const parsed = tryParseJson(body);
  if (!parsed.ok) return malformed(source, `not valid JSON (${parsed.error})`, body);
  const doc = parsed.value;
  if (Array.isArray(doc) && doc.length === 0) return malformed(source, 'the status array is empty', body);
  // Only the first status is reported, as the agent does.
  const first = Array.isArray(doc) ? asRecord(doc[0]) : asRecord(doc);
  if (!first) return malformed(source, 'expected an array of status objects', body);
  const statusData = asRecord(first['status']);
  if (!statusData) return malformed(source, 'missing "status" object', body);
  if (!('status' in statusData) || statusData['status'] === null) return malformed(source, 'missing "status.status"', body);

  const status: ExtensionStatus = {
    status: statusValue(statusData['status']),
    code: lenientInteger(statusData['code']) ?? 0,
    message: formattedMessageText(statusData['formattedMessage']) ?? lenientString(statusData['message']) ?? '',
    operation: lenientString(statusData['operation']) ?? null,
    name: lenientString(statusData['name']) ?? null,
    timestampUTC: lenientString(first['timestampUTC']) ?? null,
    substatus: substatusList(statusData['substatus']),
    truncated: false,
  };
  return { ok: true, status: freezeStatus(size > maxBytes ? truncateStatus(status, maxBytes) : status) };
}

/**
 * Shortens an oversized status the way the agent's collect_ext_status does: the message to
 * 1 KiB, each substatus name and message to 10 KiB, then substatuses kept in order while
 * the running total fits the cap. Sizes are UTF-8 bytes (the agent counts characters), so
 * the result fits the byte cap even for non-ASCII text.
 */
export function truncateStatus(status: ExtensionStatus, maxBytes = MAX_STATUS_FILE_BYTES): ExtensionStatus {
  const message = truncateField(status.message, MAX_STATUS_MESSAGE_LENGTH);
  let total = Buffer.byteLength(message);
  let truncated = message !== status.message;
  const kept: SubStatus[] = [];
  for (const sub of status.substatus) {
    const name = sub.name === null ? null : truncateField(sub.name, MAX_SUBSTATUS_FIELD_LENGTH);
    const subMessage = truncateField(sub.message, MAX_SUBSTATUS_FIELD_LENGTH);
    total += (name === null ? 0 : Buffer.byteLength(name)) + Buffer.byteLength(subMessage);
    if (total > maxBytes) { truncated = true; break; }
    if (name !== sub.name || subMessage !== sub.message) truncated = true;
    kept.push({ ...sub, name, message: subMessage });
  }
  return { ...status, message, substatus: kept, truncated: status.truncated || truncated };
}

/** The agent's _truncate_message: a field at or over `max` characters is cut to `max` plus the suffix. */
export function truncateField(field: string, max: number): string {
  if (field.length < max) return field;
  // Never split a surrogate pair: the result must stay valid UTF-16.
  const code = field.charCodeAt(max - 1);
  const end = code >= 0xd800 && code <= 0xdbff ? max - 1 : max;
  return field.slice(0, end) + TRUNCATED_SUFFIX;
}

function statusValue(value: unknown): ExtensionStatusValue {
  const text = typeof value === 'string' ? value.trim().toLowerCase() : '';
  return (EXTENSION_STATUS_VALUES as readonly string[]).includes(text) ? (text as ExtensionStatusValue) : 'error';
}

function substatusList(value: unknown): SubStatus[] {
  // Some handlers write `"substatus": null`; the agent reads that as none, and so do we.
  if (!Array.isArray(value)) return [];
  const out: SubStatus[] = [];
  for (const item of value) {
    const sub = asRecord(item);
    if (!sub) continue;
    out.push({
      name: lenientString(sub['name']) ?? null,
      // The agent rejects the whole file for a bad substatus value; one bad entry reads as 'error' instead.
      status: statusValue(sub['status']),
      code: lenientInteger(sub['code']) ?? 0,
      message: formattedMessageText(sub['formattedMessage']) ?? lenientString(sub['message']) ?? '',
    });
  }
  return out;
}

function malformed(source: string, reason: string, body: string): ExtensionStatusResult {
  const start = contentStart(body);
  const problem = `status file ${source} is malformed: ${reason}; content starts with: ${start === '' ? '(nothing)' : start}`;
  const status = freezeStatus({ status: 'error', code: STATUS_FILE_MALFORMED_CODE, message: problem, operation: null, name: null, timestampUTC: null, substatus: [], truncated: false });
  return { ok: false, status, problem };
}

function freezeStatus(status: ExtensionStatus): ExtensionStatus {
  return Object.freeze({ ...status, substatus: Object.freeze(status.substatus.map((s) => Object.freeze({ ...s }))) });
}
