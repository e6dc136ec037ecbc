/**
 * Closing a cut-off JSON document: a status file bigger than the read limit is read only up
 * to that limit, and what the cut-off start says is still worth reporting (truncated, as
 * the agent truncates oversized statuses) rather than the whole file being rejected.
 */

/** Counts the work of one call (characters scanned plus closers written), so tests can show it is linear. */
export interface PrefixWork { steps: number }

/**
 * Cuts `text` at its last complete element (right after an opening bracket, or right
 * before a comma outside any string) and appends the closers still open there, so a
 * document cut anywhere parses as its longest complete prefix. Returns null when no such
 * point exists (nothing opened before the cut) or when the text is no JSON container.
 * One pass plus the closers: linear in the text, however deep it nests.
 */
export function closeJsonPrefix(text: string, work: PrefixWork = { steps: 0 }): string | null {
  // Closers of the open containers (char codes); `depth` is the live height. A pop only lowers
  // `depth`, so the entries under the cut's height stay as they were until a push, which moves the cut.
  let closers: Uint8Array = new Uint8Array(64);
  let depth = 0;
  let inString = false;
  let escaped = false;
  let cut = -1;
  let cutDepth = 0;
  for (let i = 0; i < text.length; i += 1) {
    work.steps += 1;
    const c = text[i]!;
    if (inString) {
      if (escaped) escaped = false;
      else if (c === '\\') escaped = true;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') {
      inString = true;
    } else if (c === '{' || c === '[') {
      if (depth === closers.length) closers = grow(closers);
      closers[depth] = c === '{' ? CLOSE_BRACE : CLOSE_BRACKET;
      depth += 1;
      cut = i + 1;
      cutDepth = depth;
    } else if (c === '}' || c === ']') {
      // A mismatched closer means this is not JSON at all: nothing sensible to salvage.
      if (depth === 0 || closers[depth - 1] !== c.charCodeAt(0)) return null;
      depth -= 1;
      if (depth === 0) return text.slice(0, i + 1);
    } else if (c === ',' && depth > 0) {
      cut = i;
      cutDepth = depth;
    }
  }
  if (cut === -1) return null;
  const tail = Buffer.allocUnsafe(cutDepth);
  for (let d = 0; d < cutDepth; d += 1) tail[d] = closers[cutDepth - 1 - d]!;
  work.steps += cutDepth;
  return text.slice(0, cut) + tail.toString('latin1');
}

const CLOSE_BRACE = '}'.charCodeAt(0);
const CLOSE_BRACKET = ']'.charCodeAt(0);

function grow(stack: Uint8Array): Uint8Array {
  const bigger = new Uint8Array(stack.length * 2);
  bigger.set(stack);
  return bigger;
}
