/**
 * What the supervisor writes or shows never carries a credential: URLs lose the values of their
 * query string, their fragment and their password (a SAS `?sig=…` is the usual goal-state or
 * package token), and the values of a handler's protected settings are masked in whatever text
 * quotes that handler (its command output above all). GitHub Actions masks secrets in logs the
 * same way; the Azure agent masks nothing, which is how its tokens end up in waagent.log.
 */

/** What a hidden value is replaced with: the same mark for every length, so the length does not leak. */
export const MASK = '***';

/** Protected values shorter than this are not masked: "1" or "yes" would blank common text everywhere. */
export const MIN_MASKED_LENGTH = 4;

/** The project's truncation mark (showValue, output tails): a value cut next to it is masked too. */
const CUT = '...';

/** A URL in free text: a scheme, `://`, then anything up to white space or a quote. */
const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>`]+/gi;

/**
 * `url` with every query value, the fragment and a password replaced by MASK; scheme, host,
 * path and query keys stay readable (`https://h/goal.json?sv=***&sig=***`). Not parsed with
 * `URL`: a string it rejects, or one it would normalise, is redacted just the same.
 */
export function redactUrl(url: string): string {
  let rest = url;
  let fragment = '';
  const hash = rest.indexOf('#');
  if (hash >= 0) {
    fragment = hash + 1 < rest.length ? `#${MASK}` : '#';
    rest = rest.slice(0, hash);
  }
  let query = '';
  const q = rest.indexOf('?');
  if (q >= 0) {
    query = `?${rest.slice(q + 1).split('&').map((part) => {
      if (part === '') return part;
      const eq = part.indexOf('=');
      // A bare `?token` is all value.
      return eq >= 0 ? `${part.slice(0, eq)}=${MASK}` : MASK;
    }).join('&')}`;
    rest = rest.slice(0, q);
  }
  return `${redactUserInfo(rest)}${query}${fragment}`;
}

/** `scheme://user:password@host/...` keeps the user, loses the password. */
function redactUserInfo(base: string): string {
  const start = base.indexOf('://');
  if (start < 0) return base;
  const authorityEnd = base.indexOf('/', start + 3);
  const authority = base.slice(start + 3, authorityEnd < 0 ? base.length : authorityEnd);
  const at = authority.lastIndexOf('@');
  if (at < 0) return base;
  const colon = authority.indexOf(':');
  if (colon < 0 || colon > at) return base;
  return `${base.slice(0, start + 3)}${authority.slice(0, colon)}:${MASK}${authority.slice(at)}${authorityEnd < 0 ? '' : base.slice(authorityEnd)}`;
}

/** Every URL in `text` redacted (error messages, log lines, command output). */
export function redactUrls(text: string): string {
  if (!text.includes('://')) return text;
  return text.replace(URL_IN_TEXT, redactUrl);
}

/**
 * The strings to mask for a protected setting: each string leaf (the whole value when it is a
 * string) of at least MIN_MASKED_LENGTH characters, and its JSON-escaped form (a handler that
 * prints its settings file shows that one). Longest first, so a value containing another is
 * masked whole.
 */
export function protectedValues(settings: readonly unknown[]): string[] {
  const out = new Set<string>();
  const visit = (v: unknown, depth: number): void => {
    if (typeof v === 'string') {
      if (v.length < MIN_MASKED_LENGTH) return;
      out.add(v);
      const escaped = JSON.stringify(v).slice(1, -1);
      out.add(escaped);
      out.add(JSON.stringify(escaped).slice(1, -1));
    } else if (v && typeof v === 'object' && depth < 128) {
      for (const child of Array.isArray(v) ? v : Object.values(v as Record<string, unknown>)) visit(child, depth + 1);
    }
  };
  for (const s of settings) visit(s, 0);
  return [...out].sort((a, b) => b.length - a.length);
}

/**
 * `text` with every occurrence of `values` (longest first, as protectedValues returns them)
 * replaced by MASK; a value cut by the truncation mark (`...tail` or `head...`) is masked too
 * when at least MIN_MASKED_LENGTH of it shows.
 */
export function maskValues(text: string, values: readonly string[]): string {
  if (values.length === 0 || text === '') return text;
  let out = text;
  for (const v of values) if (out.includes(v)) out = out.split(v).join(MASK);
  if (!out.includes(CUT)) return out;
  return out.split(CUT).map((piece, i, pieces) => {
    let p = piece;
    if (i > 0) p = maskCutStart(p, values);
    if (i < pieces.length - 1) p = maskCutEnd(p, values);
    return p;
  }).join(CUT);
}

/** A proper suffix of a value at the start of `piece` (what follows a `...`). */
function maskCutStart(piece: string, values: readonly string[]): string {
  for (const v of values) {
    for (let n = v.length - 1; n >= MIN_MASKED_LENGTH; n--) if (piece.startsWith(v.slice(-n))) return MASK + piece.slice(n);
  }
  return piece;
}

/** A proper prefix of a value at the end of `piece` (what precedes a `...`, perhaps after a space: ` ... [TRUNCATED]`). */
function maskCutEnd(piece: string, values: readonly string[]): string {
  const body = piece.trimEnd();
  const space = piece.slice(body.length);
  for (const v of values) {
    for (let n = v.length - 1; n >= MIN_MASKED_LENGTH; n--) if (body.endsWith(v.slice(0, n))) return body.slice(0, body.length - n) + MASK + space;
  }
  return piece;
}

/** Both, as every message that quotes a handler gets them: its protected values masked, then URLs redacted. */
export function scrubText(text: string, values: readonly string[]): string {
  return redactUrls(maskValues(text, values));
}
