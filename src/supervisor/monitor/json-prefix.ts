/**
 * Closing a cut-off JSON document: a status file bigger than the read limit is read only up
 * to that limit, and what the cut-off start says is still worth reporting (truncated, as
 * the agent truncates oversized statuses) rather than the whole file being rejected.
 */

const OPENERS: Readonly<Record<string, string>> = { '{': '}', '[': ']' };

/**
 * Cuts `text` at its last complete element (right after an opening bracket, or right
 * before a comma outside any string) and appends the closers still open there, so a
 * document cut anywhere parses as its longest complete prefix. Returns null when no such
 * point exists (nothing opened before the cut) or when the text is no JSON container.
 */
export function closeJsonPrefix(text: string): string | null {
  const stack: string[] = [];
  let inString = false;
  let escaped = false;
  let cut = -1;
  let cutClosers = '';
  for (let i = 0; i < text.length; i += 1) {
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
      stack.push(OPENERS[c]!);
      cut = i + 1;
      cutClosers = closersOf(stack);
    } else if (c === '}' || c === ']') {
      // A mismatched closer means this is not JSON at all: nothing sensible to salvage.
      if (stack.pop() !== c) return null;
      if (stack.length === 0) return text.slice(0, i + 1);
    } else if (c === ',' && stack.length > 0) {
      cut = i;
      cutClosers = closersOf(stack);
    }
  }
  return cut === -1 ? null : text.slice(0, cut) + cutClosers;
}

function closersOf(stack: readonly string[]): string {
  let out = '';
  for (let i = stack.length - 1; i >= 0; i -= 1) out += stack[i];
  return out;
}
