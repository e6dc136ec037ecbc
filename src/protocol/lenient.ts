/**
 * Lenient readers for values written by third-party handlers and scripts, which are
 * loose about types ("0" for 0, "True" for true, 1.0 for "1.0"). Each returns
 * undefined when the value cannot be read, so callers choose the default.
 */
import { describeDepthPath, findTooDeep, tooDeepReason } from '../core/json-depth.js';

const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const HEX = /^([+-]?)0[xX]([0-9a-fA-F]+)$/;

/** A finite number, or a string holding one ("0", " 12 ", "-1", "1e3"; hex "0x1F" with `hex`). */
export function lenientNumber(value: unknown, opts: { hex?: boolean } = {}): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (DECIMAL.test(text)) {
    const n = Number(text);
    return Number.isFinite(n) ? n : undefined;
  }
  const hex = opts.hex ? HEX.exec(text) : null;
  if (hex) {
    const n = Number.parseInt(hex[2] ?? '', 16);
    return Number.isFinite(n) ? (hex[1] === '-' ? -n : n) : undefined;
  }
  return undefined;
}

/** Like lenientNumber, truncated to an integer (status and result codes are integers). */
export function lenientInteger(value: unknown, opts: { hex?: boolean } = {}): number | undefined {
  const n = lenientNumber(value, opts);
  return n === undefined ? undefined : Math.trunc(n);
}

/** A boolean, or the strings "true"/"false" in any case (as the Azure agent reads manifests). */
export function lenientBoolean(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (typeof value !== 'string') return undefined;
  const text = value.trim().toLowerCase();
  if (text === 'true') return true;
  if (text === 'false') return false;
  return undefined;
}

/** A string, or a finite number rendered as a string (a manifest `version` may be the number 1.0). */
export function lenientString(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

/** A plain JSON object (not null, not an array), for walking parsed documents safely. */
export function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/**
 * The message of a `formattedMessage` field as handlers write it: `{lang, message}`,
 * a plain string, or null; undefined when there is none to read.
 */
export function formattedMessageText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  const record = asRecord(value);
  return record ? lenientString(record['message']) : undefined;
}

/** The start of some bad content for an error message: single line, at most `max` characters. */
export function contentStart(text: string, max = 200): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}...` : flat;
}

/** Text of a file as read from disk: UTF-8, a leading byte-order mark dropped (Windows editors add one). */
export function decodeText(data: string | Uint8Array): string {
  const text = typeof data === 'string' ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/**
 * Nesting limit of the files handlers write (status, heartbeat, script result) and of settings:
 * real ones nest under 10 levels, and settings carry goal-state settings, which stop at 100.
 */
export const HANDLER_FILE_MAX_DEPTH = 128;

/**
 * Parses JSON, returning the error's message instead of throwing (callers turn it into a result).
 * Text nested deeper than `maxDepth` is an error before it is parsed: nothing after it need recurse safely.
 */
export function tryParseJson(text: string, maxDepth = HANDLER_FILE_MAX_DEPTH): { ok: true; value: unknown } | { ok: false; error: string } {
  const deep = findTooDeep(text, maxDepth);
  if (deep) return { ok: false, error: `${describeDepthPath(deep.path)}: ${tooDeepReason(deep)}` };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
}
