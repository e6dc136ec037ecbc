/**
 * The Device Update script handler's result file, `action_<action>_aduc_result.json`
 * (CONTRACT section 5): `{"resultCode", "extendedResultCode", "resultDetails"}`.
 * The example scripts build it by shell interpolation, so raw newlines, stray quotes and
 * backslashes in resultDetails, empty codes and bare hex codes are all seen in the wild:
 * strict JSON first, then one repair pass over the text. Never eval.
 */
import { asRecord, contentStart, decodeText, lenientInteger, lenientString, tryParseJson } from './lenient.js';

export interface ScriptResult {
  readonly resultCode: number;
  readonly extendedResultCode: number;
  readonly resultDetails: string;
}

export type ScriptResultParse =
  | { readonly ok: true; readonly result: ScriptResult; /** the text needed the repair pass */ readonly repaired: boolean }
  | { readonly ok: false; readonly problem: string };

/** Reads a result file; missing or non-numeric codes read as 0 (numeric and "0x..." strings accepted). Never throws. */
export function parseScriptResult(text: string | Uint8Array, source: string): ScriptResultParse {
  const body = decodeText(text);
  if (body.trim() === '') return bad(source, 'the file is empty', body);
  let parsed = tryParseJson(body);
  let repaired = false;
  if (!parsed.ok) {
    const second = tryParseJson(repairJson(body));
    if (!second.ok) return bad(source, `not valid JSON (${parsed.error})`, body);
    parsed = second;
    repaired = true;
  }
  const doc = asRecord(parsed.value);
  if (!doc) return bad(source, 'expected a JSON object', body);
  return {
    ok: true,
    repaired,
    result: Object.freeze({
      resultCode: lenientInteger(doc['resultCode'], { hex: true }) ?? 0,
      extendedResultCode: lenientInteger(doc['extendedResultCode'], { hex: true }) ?? 0,
      resultDetails: lenientString(doc['resultDetails']) ?? '',
    }),
  };
}

const VALID_ESCAPES = new Set(['"', '\\', '/', 'b', 'f', 'n', 'r', 't']);
const CONTROL_ESCAPES: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '\b': '\\b', '\f': '\\f' };
const STRING_END_FOLLOWERS = new Set([',', '}', ']', ':']);
const BARE_HEX = /^-?0[xX][0-9a-fA-F]+/;

/**
 * One repair pass over almost-JSON written by shell scripts: inside strings, control
 * characters and invalid backslashes are escaped and a quote counts as the end only when
 * what follows is `,` `}` `]` `:` or the end; outside, a bare hex number is quoted and an
 * empty value (`"resultCode":,`) becomes null. The output is only ever given to JSON.parse.
 */
export function repairJson(text: string): string {
  let out = '';
  let inString = false;
  let i = 0;
  while (i < text.length) {
    const ch = text[i] as string;
    if (inString) {
      if (ch === '\\') {
        const next = text[i + 1];
        if (next !== undefined && VALID_ESCAPES.has(next)) { out += ch + next; i += 2; continue; }
        if (next === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) { out += text.slice(i, i + 6); i += 6; continue; }
        out += '\\\\';
      } else if (ch === '"') {
        const follower = nextNonSpace(text, i + 1);
        if (follower === undefined || STRING_END_FOLLOWERS.has(follower)) { out += ch; inString = false; } else out += '\\"';
      } else if (ch.charCodeAt(0) < 0x20) {
        out += CONTROL_ESCAPES[ch] ?? `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`;
      } else out += ch;
      i += 1;
      continue;
    }
    if (ch === '"') { inString = true; out += ch; i += 1; continue; }
    const hex = /[0-9A-Za-z_.]/.test(text[i - 1] ?? '') ? null : BARE_HEX.exec(text.slice(i, i + 24));
    if (hex) { out += JSON.stringify(hex[0]); i += hex[0].length; continue; }
    out += ch;
    if (ch === ':') {
      const follower = nextNonSpace(text, i + 1);
      if (follower === undefined || follower === ',' || follower === '}' || follower === ']') out += 'null';
    }
    i += 1;
  }
  return inString ? `${out}"` : out;
}

function nextNonSpace(text: string, from: number): string | undefined {
  for (let j = from; j < text.length; j += 1) {
    const c = text[j] as string;
    if (c !== ' ' && c !== '\t' && c !== '\n' && c !== '\r') return c;
  }
  return undefined;
}

function bad(source: string, reason: string, body: string): ScriptResultParse {
  const start = contentStart(body);
  return { ok: false, problem: `result file ${source} is malformed: ${reason}; content starts with: ${start === '' ? '(nothing)' : start}` };
}
