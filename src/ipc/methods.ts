/**
 * The methods the daemon serves on its control socket: their params, results and stream
 * items as types, and a small hand-written params check for each (no schema library:
 * the CLI imports this on every start). To add a method: one line in `ControlCalls` or
 * `ControlStreams`, one entry in `METHODS`; the compiler asks for both.
 */
import { SupervisorError, showValue } from '../core/errors.js';
import type { HandlerRow } from '../protocol/ps-rows.js';

type NoParams = Record<string, never>;

/** Request/response methods. */
export interface ControlCalls {
  ps: { params: NoParams; result: readonly HandlerRow[] };
  status: { params: { name: string }; result: unknown };
  report: { params: NoParams; result: unknown };
  sessions: { params: NoParams; result: readonly unknown[] };
  stop: { params: NoParams; result: { stopping: true } };
  /** Re-reads the goal-state file (or polls its URL) now. */
  reload: { params: NoParams; result: { outcome: 'new' | 'unchanged' | 'error'; etag: string | null; message: string } };
  /** Disables then enables a handler, its dependents disabled before it and enabled after; one line per step. */
  restart: { params: { name: string }; result: { ok: boolean; steps: readonly string[] } };
  /** Resets a handler's restart budget and re-attempts its goal now. */
  retry: { params: { name: string }; result: { ok: boolean; steps: readonly string[] } };
}

/** Methods that answer with a stream of items until cancelled. */
export interface ControlStreams {
  watchPs: { params: { intervalMs?: number }; item: readonly HandlerRow[] };
}

export type CallMethod = keyof ControlCalls;
export type StreamMethod = keyof ControlStreams;
export type MethodKind = 'call' | 'stream';
export type CallParams<M extends CallMethod> = ControlCalls[M]['params'];
export type CallResult<M extends CallMethod> = ControlCalls[M]['result'];
export type StreamParams<S extends StreamMethod> = ControlStreams[S]['params'];
export type StreamItem<S extends StreamMethod> = ControlStreams[S]['item'];

/** One params field: its JSON type, whether it must be there, and its bounds. */
interface FieldRule {
  readonly type: 'string' | 'integer';
  readonly required?: boolean;
  readonly min?: number;
  readonly max?: number;
}

interface MethodSpec<K extends MethodKind> {
  readonly kind: K;
  readonly fields: Readonly<Record<string, FieldRule>>;
}

const HANDLER_NAME: FieldRule = { type: 'string', required: true, max: 512 };

/** Every method with its kind and params; `satisfies` keeps it in step with the type map. */
export const METHODS = {
  ps: { kind: 'call', fields: {} },
  status: { kind: 'call', fields: { name: HANDLER_NAME } },
  report: { kind: 'call', fields: {} },
  sessions: { kind: 'call', fields: {} },
  stop: { kind: 'call', fields: {} },
  reload: { kind: 'call', fields: {} },
  restart: { kind: 'call', fields: { name: HANDLER_NAME } },
  retry: { kind: 'call', fields: { name: HANDLER_NAME } },
  watchPs: { kind: 'stream', fields: { intervalMs: { type: 'integer', min: 100, max: 3_600_000 } } },
} as const satisfies { readonly [M in CallMethod]: MethodSpec<'call'> } & { readonly [S in StreamMethod]: MethodSpec<'stream'> };

export type MethodName = keyof typeof METHODS;

/** True for a name in the map (own keys only: `toString` is not a method). */
export function isKnownMethod(name: string): name is MethodName {
  return Object.hasOwn(METHODS, name);
}

function fieldProblem(rule: FieldRule, value: unknown): string | null {
  if (value === undefined) return rule.required ? 'is required' : null;
  if (rule.type === 'string') {
    if (typeof value !== 'string' || value === '') return 'must be a non-empty string';
    if (rule.max !== undefined && value.length > rule.max) return `must be at most ${rule.max} characters`;
    return null;
  }
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) return 'must be a whole number';
  if (rule.min !== undefined && value < rule.min) return `must be >= ${rule.min}`;
  if (rule.max !== undefined && value > rule.max) return `must be <= ${rule.max}`;
  return null;
}

/** Checks params against the method's fields; E_BAD_PARAMS lists every field at fault with its value. */
export function checkParams(method: MethodName, params: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const fields: Readonly<Record<string, FieldRule>> = METHODS[method].fields;
  const problems: string[] = [];
  for (const [name, rule] of Object.entries(fields)) {
    const reason = fieldProblem(rule, params[name]);
    if (reason) problems.push(`params.${name} ${reason} (got ${showValue(params[name], 60)})`);
  }
  for (const name of Object.keys(params)) {
    if (!Object.hasOwn(fields, name)) problems.push(`params.${name} is not a parameter of ${method} (got ${showValue(params[name], 60)})`);
  }
  if (problems.length > 0) {
    throw new SupervisorError('E_BAD_PARAMS', `${method}: ${problems.join('; ')}`, { method });
  }
  return { ...params };
}
