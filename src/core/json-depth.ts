/**
 * How deep JSON text nests, measured on the text before anything parses or walks it: a
 * document nested deeper than any real one is refused at the boundary with a message naming
 * where, instead of overflowing the stack of whatever recursive code meets it next
 * (JSON.stringify, String(array), a recursive freeze) or costing a second per rewrite.
 */
import { jsonPath } from './errors.js';

/** Where a document first nests deeper than the limit. */
export interface TooDeep {
  readonly limit: number;
  /** JSON path of the first container past the limit, the one opening level limit + 1. */
  readonly path: readonly (string | number)[];
  /** 1-based line and column of its opening bracket. */
  readonly line: number;
  readonly column: number;
}

// keyStart/keyEnd: the current key's literal, decoded only if the path is reported.
interface Frame { readonly array: boolean; index: number; keyStart: number; keyEnd: number; expectKey: boolean }

/**
 * The first place where `text` opens more than `limit` arrays and objects inside one another,
 * or null when it never does. One pass with an explicit stack of at most `limit` frames, and it
 * stops at the first excess, so the cost is linear in the text read. Text that is not JSON is
 * scanned as far as it goes; the parser that follows reports its errors.
 */
export function findTooDeep(text: string, limit: number): TooDeep | null {
  const frames: Frame[] = [];
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const end = stringEnd(text, i);
      const top = frames[frames.length - 1];
      if (top !== undefined && !top.array && top.expectKey) {
        top.keyStart = i;
        top.keyEnd = end + 1;
        top.expectKey = false;
      }
      i = end;
    } else if (c === OPEN_BRACKET || c === OPEN_BRACE) {
      if (frames.length === limit) {
        const path = frames.map((f) => (f.array ? f.index : decodeKey(text.slice(f.keyStart, f.keyEnd))));
        return { limit, path, line, column: i - lineStart + 1 };
      }
      frames.push({ array: c === OPEN_BRACKET, index: 0, keyStart: i, keyEnd: i, expectKey: c === OPEN_BRACE });
    } else if (c === CLOSE_BRACKET || c === CLOSE_BRACE) {
      frames.pop();
    } else if (c === COMMA) {
      const top = frames[frames.length - 1];
      if (top?.array) top.index += 1;
      else if (top) top.expectKey = true;
    } else if (c === NEWLINE) {
      line += 1;
      lineStart = i + 1;
    }
  }
  return null;
}

/** Index of the quote closing the string opened at `start` (or the last index when it never closes). */
function stringEnd(text: string, start: number): number {
  for (let j = start + 1; j < text.length; j += 1) {
    const c = text.charCodeAt(j);
    if (c === BACKSLASH) j += 1;
    else if (c === QUOTE) return j;
  }
  return text.length - 1;
}

function decodeKey(literal: string): string {
  if (literal === '') return '';
  try {
    const key: unknown = JSON.parse(literal);
    return typeof key === 'string' ? key : literal;
  } catch {
    return literal.slice(1, -1); // a key JSON.parse will reject anyway: shown as written
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const NEWLINE = 0x0a;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

/** The path for a message: its first segments, then how many more (a path 100 levels deep is no help). */
export function describeDepthPath(path: readonly (string | number)[], show = 6): string {
  const shown = jsonPath(path.slice(0, show));
  return path.length > show ? `${shown}... (${path.length - show} levels more)` : shown;
}

/** What is wrong, for a message that names the path itself: the limit, and where in the text. */
export function tooDeepReason(deep: TooDeep): string {
  return `nested too deep: more than ${deep.limit} levels of arrays and objects, the limit (line ${deep.line} column ${deep.column})`;
}
