/**
 * Protected settings never reach a message, whatever the shape of the document around them: a
 * problem's value is copied with every protected value replaced, and the JSON text an excerpt
 * quotes is masked, string values everywhere and everything under a protected key.
 */

/** What a protected value becomes in a problem's value. */
export const REDACTED = '(redacted)';

const CANONICAL = 'protectedsettings';
// Not a secret (it names the certificate) and worth showing when it is wrong.
const THUMBPRINT = 'protectedsettingscertthumbprint';

/** Edit distance, stopping early once it is over `max` (keys are short). */
function within(a: string, b: string, max: number): boolean {
  if (Math.abs(a.length - b.length) > max) return false;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    if (Math.min(...row) > max) return false;
    prev = row;
  }
  return prev[b.length]! <= max;
}

/**
 * A key whose value is treated as protected: `protectedSettings` in any case or spelling
 * (`ProtectedSettings`, `protected_settings`, `protectedSetings`, `protectedSettingsJson`),
 * except the certificate thumbprint.
 */
export function isProtectedKey(key: string): boolean {
  const k = key.toLowerCase().replace(/[^a-z0-9]/g, '');
  if (k === THUMBPRINT) return false;
  return k.includes('protect') || within(k, CANONICAL, 3);
}

/** True when a JSON path (as zod or the depth scan gives it) passes through a protected key. */
export function pathIsProtected(path: readonly PropertyKey[]): boolean {
  return path.some((part) => typeof part === 'string' && isProtectedKey(part));
}

/** A copy of a JSON-shaped value with the value of every protected key, at any depth, replaced. */
export function redactProtected(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactProtected);
  if (typeof value !== 'object' || value === null) return value;
  // fromEntries defines each key, so a "__proto__" key in the document stays a key of the copy.
  return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, isProtectedKey(key) ? REDACTED : redactProtected(inner)]));
}

const [QUOTE, BACKSLASH, NEWLINE, COLON, COMMA] = [0x22, 0x5c, 0x0a, 0x3a, 0x2c];
const [OPEN_BRACE, CLOSE_BRACE, OPEN_BRACKET, CLOSE_BRACKET] = [0x7b, 0x7d, 0x5b, 0x5d];
const isSpace = (c: number): boolean => c === 0x20 || c === 0x09 || c === 0x0d || c === NEWLINE;

// Long strings are never keys worth checking, and decoding every one would cost time on a big document.
const KEY_CHECK_MAX = 256;

/** True when a string literal (quotes included) names a protected key. */
function namesProtected(literal: string): boolean {
  // Shorter than "protect" and its quotes: neither contains it nor is within 3 edits of protectedsettings.
  if (literal.length < 9 || literal.length > KEY_CHECK_MAX) return false;
  if (!literal.includes('\\')) return isProtectedKey(literal.slice(1, -1));
  try {
    const key: unknown = JSON.parse(literal);
    return typeof key === 'string' && isProtectedKey(key);
  } catch {
    return isProtectedKey(literal.slice(1, -1));
  }
}

/**
 * JSON text (valid or not) with its values masked, every character kept in place so a line and
 * column still point at the same spot. String values become `*`s and keys stay readable; under
 * a protected key everything but the brackets, commas and colons is masked, keys and numbers
 * too, until that value ends (a value left open masks the rest: too much is safe). Strings end at their closing quote or at a line end (JSON has no
 * multi-line strings), so one broken string never masks the rest of a document. The whole text is
 * scanned (a protected value may open before `from`) and only what follows `from` is returned.
 */
export function maskJsonText(text: string, from = 0): string {
  const out: string[] = []; // unchanged runs are copied as slices, masked runs merged
  let copied = from;
  let [maskFrom, maskTo] = [from, from];
  const flush = (): void => {
    if (maskTo > maskFrom) out.push(text.slice(copied, maskFrom), '*'.repeat(maskTo - maskFrom));
    if (maskTo > copied) copied = maskTo;
  };
  const mask = (start: number, end: number): void => {
    start = Math.max(start, from);
    if (end <= start) return;
    if (start === maskTo) { maskTo = end; return; }
    flush();
    [maskFrom, maskTo] = [start, end];
  };
  let depth = 0;
  let protectedAt = -1; // the depth a protected value started at, -1 outside one
  let afterColon = false; // the last significant character was a colon: a string here is a value
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      let j = i + 1;
      for (let d = text.charCodeAt(j); j < text.length && d !== QUOTE && d !== NEWLINE; d = text.charCodeAt(j)) {
        j += d === BACKSLASH && text.charCodeAt(j + 1) !== NEWLINE ? 2 : 1;
      }
      j = Math.min(j, text.length);
      const isQuoted = j < text.length && text.charCodeAt(j) === QUOTE; // else it ends at a line end or the text's end
      const end = isQuoted ? j + 1 : j;
      let k = end;
      while (k < text.length && isSpace(text.charCodeAt(k))) k++;
      const show = isQuoted && protectedAt < 0 && text.charCodeAt(k) === COLON && !afterColon;
      if (!show) mask(i + 1, j);
      // A protected name starts a protected value even where it is not quite a key ("protectedSettings" "x").
      if (isQuoted && protectedAt < 0 && namesProtected(text.slice(i, end))) protectedAt = depth;
      afterColon = false;
      i = end;
      continue;
    }
    if (c === OPEN_BRACE || c === OPEN_BRACKET) depth++;
    else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
      if (protectedAt >= 0 && depth < protectedAt) protectedAt = -1;
    } else if (c === COMMA) {
      if (depth === protectedAt) protectedAt = -1;
    } else if (c !== COLON && !isSpace(c) && protectedAt >= 0) mask(i, i + 1);
    if (!isSpace(c)) afterColon = c === COLON;
    i++;
  }
  flush();
  out.push(text.slice(copied));
  return out.join('');
}
