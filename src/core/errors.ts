/**
 * One base class for every error the supervisor raises on purpose: a stable `code`
 * callers can switch on, descriptive fields, and the `cause` chain (undici's UND_ERR_*).
 */
import type { ErrorCode } from './error-codes.js';

export type { ErrorCode } from './error-codes.js';

export class SupervisorError extends Error {
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.details = Object.freeze({ ...details });
  }
}

/** One problem found while validating input from outside: where, why, and the value seen. */
export interface Problem {
  /** The file (or URL) the value came from, when known. */
  readonly source?: string;
  /** JSON path such as `handlers[2].version`, or `(root)`. */
  readonly path: string;
  readonly reason: string;
  readonly value?: unknown;
}

/** Input from outside failed validation; carries every problem, not just the first. */
export class ValidationError extends SupervisorError {
  readonly problems: readonly Problem[];

  constructor(what: string, problems: readonly Problem[], options?: { cause?: unknown }) {
    super('E_INVALID', `${what}: ${problems.length} problem${problems.length === 1 ? '' : 's'}\n${problems.map(formatProblem).join('\n')}`,
      { what }, options);
    this.problems = Object.freeze([...problems]);
  }
}

/** Renders a value for an error message: short, single line, never huge. */
export function showValue(value: unknown, max = 80): string {
  let text: string;
  if (value === undefined) text = 'undefined';
  else if (typeof value === 'string') text = JSON.stringify(value);
  else if (typeof value === 'number' && !Number.isFinite(value)) text = String(value); // 1e309 in JSON: not "null"
  else {
    try { text = JSON.stringify(value) ?? String(value); } catch { text = String(value); }
  }
  return text.length > max ? `${text.slice(0, max - 3)}...` : text;
}

export function formatProblem(p: Problem): string {
  const where = p.source ? `${p.source}: ${p.path}` : p.path;
  return `  ${where}: ${p.reason}${'value' in p ? ` (got ${showValue(p.value)})` : ''}`;
}

/** Formats a path array the way users write it: handlers[0].packages[1].sha256 */
export function jsonPath(parts: readonly PropertyKey[]): string {
  if (parts.length === 0) return '(root)';
  let out = '';
  for (const part of parts) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (typeof part === 'string' && /^[A-Za-z_$][\w$]*$/.test(part)) out += out ? `.${part}` : part;
    else out += `[${JSON.stringify(String(part))}]`;
  }
  return out;
}
