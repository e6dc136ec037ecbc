/**
 * The goal-state document shape (CONTRACT section 2) as zod 4 schemas: types, ranges, formats and
 * defaults of each field. Checks that span handlers (duplicates, dependsOn, cycles) live in goal-state.ts.
 */
import { z } from 'zod';
import { isVersion } from '../lifecycle/version.js';
import { reservedHandlerName } from '../../storage/layout.js';

export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const NAME_RULE = `must match ${NAME_PATTERN.source} (letters, digits, '.', '_', '-'; at most 128; never a path)`;
const URI_SCHEMES = ['file:', 'http:', 'https:'];

/** Default command timeouts in seconds (CONTRACT section 4). */
export const DEFAULT_TIMEOUTS = Object.freeze({ install: 900, enable: 300, disable: 900, update: 900, uninstall: 300 });
export const DEFAULT_HEARTBEAT_TIMEOUT = 600;

const nameField = z.string().regex(NAME_PATTERN, { error: NAME_RULE });
const seconds = z.number().positive({ error: 'must be a number of seconds > 0' });

// Azure agent leniency: `"version": 1.2` is read as the text "1.2".
const versionField = z.unknown().optional().transform((value, ctx): string => {
  if (value === undefined) ctx.issues.push({ code: 'custom', message: 'required', input: value });
  else if (!isVersion(value)) {
    ctx.issues.push({ code: 'custom', input: value,
      message: 'not a version: expected 1 to 4 dot-separated non-negative integers such as "1.2" or "2.2.53.1"' });
  } else return typeof value === 'number' ? String(value) : value;
  return z.NEVER;
});

// Azure agent leniency: a numeric string sequence number ("3") is accepted.
const sequenceNumberField = z.unknown().optional().transform((value, ctx): number => {
  if (value === undefined) return 0;
  const n = typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n)) {
    ctx.issues.push({ code: 'custom', message: 'must be a whole number (or a numeric string)', input: value });
  } else if (n < 0) ctx.issues.push({ code: 'custom', message: 'must be >= 0', input: value });
  else return n;
  return z.NEVER;
});

const uriField = z.string().transform((value, ctx): string => {
  let scheme: string;
  try { scheme = new URL(value).protocol; } catch {
    ctx.issues.push({ code: 'custom', message: 'not a valid URI', input: value });
    return z.NEVER;
  }
  if (URI_SCHEMES.includes(scheme)) return value;
  ctx.issues.push({ code: 'custom', message: `unsupported scheme "${scheme}": expected file:, http: or https:`, input: value });
  return z.NEVER;
});

/** Device Update component values become strings; nested objects (`properties`) flatten to `properties.path`. */
export function flattenComponent(input: Record<string, unknown>, prefix = '', out: Record<string, string> = {}): Record<string, string> {
  for (const [key, value] of Object.entries(input)) {
    if (value === null || value === undefined) continue;
    if (typeof value === 'object' && !Array.isArray(value)) flattenComponent(value as Record<string, unknown>, `${prefix}${key}.`, out);
    else out[`${prefix}${key}`] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  return out;
}

export const packageSchema = z.object({
  version: versionField,
  sha256: z.string().regex(/^[0-9a-fA-F]{64}$/, { error: 'must be 64 hex characters (a SHA-256 digest)' })
    .transform((s) => s.toLowerCase()),
  uris: z.array(uriField).min(1, { error: 'must list at least one uri' }),
});

export const extensionSchema = z.object({
  name: nameField.default('default'),
  sequenceNumber: sequenceNumberField,
  publicSettings: z.unknown().optional().transform((v) => (v === undefined ? {} : v)),
  protectedSettings: z.unknown().optional().transform((v) => (v === undefined ? null : v)),
  protectedSettingsCertThumbprint: z.string().nullable().default(null),
});

export const timeoutsSchema = z.object({
  install: seconds.default(DEFAULT_TIMEOUTS.install),
  enable: seconds.default(DEFAULT_TIMEOUTS.enable),
  disable: seconds.default(DEFAULT_TIMEOUTS.disable),
  update: seconds.default(DEFAULT_TIMEOUTS.update),
  uninstall: seconds.default(DEFAULT_TIMEOUTS.uninstall),
});

export const handlerPropertiesSchema = z.object({
  arguments: z.string().optional(),
  installedCriteria: z.string().optional(),
});

export const limitsSchema = z.object({
  memoryMB: z.number().positive({ error: 'must be > 0 (megabytes)' }).optional(),
  cpuPercent: z.number().positive({ error: 'must be > 0' }).max(10000, { error: 'must be <= 10000 (100 per core)' }).optional(),
  tasksMax: z.number().int({ error: 'must be a whole number' }).min(1, { error: 'must be >= 1' }).max(4194304, { error: 'must be <= 4194304' }).optional(),
});

// A handler's log folder is <log>/<name>/: the daemon's own log file names are not handler names.
const handlerNameField = nameField.superRefine((name, ctx) => {
  const reserved = reservedHandlerName(name);
  if (reserved) ctx.addIssue({ code: 'custom', message: reserved, input: name });
});

export const handlerSchema = z.object({
  name: handlerNameField,
  version: versionField,
  upgradePolicy: z.enum(['manual', 'auto']).default('manual'),
  state: z.enum(['enabled', 'disabled', 'uninstall']).default('enabled'),
  dependsOn: z.array(z.string()).default(() => []),
  allowDowngrade: z.boolean().default(false),
  packages: z.array(packageSchema).default(() => []),
  extensions: z.array(extensionSchema).default(() => []),
  timeouts: timeoutsSchema.default(() => ({ ...DEFAULT_TIMEOUTS })),
  heartbeatTimeout: seconds.default(DEFAULT_HEARTBEAT_TIMEOUT),
  onUnresponsive: z.enum(['report', 'restart']).default('report'),
  handlerProperties: handlerPropertiesSchema.default(() => ({})),
  limits: limitsSchema.nullable().default(null),
  component: z.record(z.string(), z.unknown()).nullable().default(null)
    .transform((c) => (c === null ? null : flattenComponent(c))),
});

export const goalStateSchema = z.object({
  etag: z.string().nullable().default(null),
  /** Folder of `<thumbprint>.crt` and `.prv` files for protected settings (see lifecycle/certificates.ts). */
  certificatesFolder: z.string().refine((p) => p.startsWith('/'), { error: 'must be an absolute path' }).nullable().default(null),
  handlers: z.array(handlerSchema),
});

export type ParsedGoalState = z.output<typeof goalStateSchema>;

/** Turns zod's issues into the reasons users read; schema-level messages above take precedence. */
export const goalStateErrorMap: z.core.$ZodErrorMap = (issue) => {
  switch (issue.code) {
    case 'invalid_type': {
      if (issue.input === undefined) return 'required';
      const expected = issue.expected === 'record' ? 'object' : issue.expected; // JSON has no records
      return `must be ${/^[aeiou]/.test(expected) ? 'an' : 'a'} ${expected}`;
    }
    case 'invalid_value':
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'too_small':
      return issue.origin === 'array' ? 'must not be empty' : `must be ${issue.inclusive ? '>=' : '>'} ${String(issue.minimum)}`;
    case 'too_big':
      return `must be ${issue.inclusive ? '<=' : '<'} ${String(issue.maximum)}`;
    default:
      return undefined;
  }
};

type Shape = Readonly<Record<string, unknown>>;
const keysOf = (schema: { shape: Shape }): ReadonlySet<string> => new Set(Object.keys(schema.shape));
const KNOWN = {
  root: keysOf(goalStateSchema), handler: keysOf(handlerSchema), package: keysOf(packageSchema),
  extension: keysOf(extensionSchema), timeouts: keysOf(timeoutsSchema),
  handlerProperties: keysOf(handlerPropertiesSchema), limits: keysOf(limitsSchema),
};

export interface UnknownKey { readonly path: readonly PropertyKey[]; readonly value: unknown }

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function collect(v: unknown, known: ReadonlySet<string>, at: readonly PropertyKey[], out: UnknownKey[]): void {
  if (!isRecord(v)) return;
  for (const [key, value] of Object.entries(v)) if (!known.has(key)) out.push({ path: [...at, key], value });
}

function each(v: unknown, at: readonly PropertyKey[], visit: (item: unknown, path: readonly PropertyKey[]) => void): void {
  if (Array.isArray(v)) v.forEach((item, i) => visit(item, [...at, i]));
}

/** Keys the schema does not know, at any level it describes: warnings, kept for forward compatibility. */
export function findUnknownKeys(doc: unknown): UnknownKey[] {
  const out: UnknownKey[] = [];
  collect(doc, KNOWN.root, [], out);
  if (!isRecord(doc)) return out;
  each(doc['handlers'], ['handlers'], (h, at) => {
    collect(h, KNOWN.handler, at, out);
    if (!isRecord(h)) return;
    each(h['packages'], [...at, 'packages'], (p, pat) => collect(p, KNOWN.package, pat, out));
    each(h['extensions'], [...at, 'extensions'], (e, eat) => collect(e, KNOWN.extension, eat, out));
    collect(h['timeouts'], KNOWN.timeouts, [...at, 'timeouts'], out);
    collect(h['handlerProperties'], KNOWN.handlerProperties, [...at, 'handlerProperties'], out);
    collect(h['limits'], KNOWN.limits, [...at, 'limits'], out);
  });
  return out;
}
