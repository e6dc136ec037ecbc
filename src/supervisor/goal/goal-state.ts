/**
 * Reads a goal-state document (CONTRACT section 2) at the boundary, once: every problem is collected
 * (JSON path, reason, value) into one ValidationError, and what passes inward is deeply frozen and
 * fully defaulted. Unknown keys are kept out of the result and returned as warnings.
 */
import { readFile } from 'node:fs/promises';
import { SupervisorError, ValidationError, jsonPath, type Problem } from '../../core/errors.js';
import { describeDepthPath, findTooDeep, tooDeepReason } from '../../core/json-depth.js';
import { findUnknownKeys, goalStateErrorMap, goalStateSchema } from './goal-state-schema.js';
import { findCycles, formatCycle, type GraphNode } from './goal-state-graph.js';
import { REDACTED, isProtectedKey, maskJsonText, pathIsProtected, redactProtected } from './protected-values.js';

export interface GoalState {
  readonly source: string;
  readonly etag: string | null;
  readonly handlers: readonly HandlerGoal[];
  readonly warnings: readonly Problem[];
}

export type TimeoutOperation = 'install' | 'enable' | 'disable' | 'update' | 'uninstall';

export interface HandlerGoal {
  readonly name: string;
  readonly version: string;
  readonly upgradePolicy: 'manual' | 'auto';
  readonly state: 'enabled' | 'disabled' | 'uninstall';
  readonly dependsOn: readonly string[];
  readonly allowDowngrade: boolean;
  readonly packages: readonly PackageRef[];
  readonly extensions: readonly ExtensionGoal[];
  /** Seconds; defaults 900/300/900/900/300. */
  readonly timeouts: Readonly<Record<TimeoutOperation, number>>;
  /** Seconds, default 600. */
  readonly heartbeatTimeout: number;
  readonly onUnresponsive: 'report' | 'restart';
  readonly handlerProperties: { readonly arguments?: string; readonly installedCriteria?: string };
  readonly limits: { readonly memoryMB?: number; readonly cpuPercent?: number; readonly tasksMax?: number } | null;
  /** Device Update component for script handlers, values stringified, nested keys dotted. */
  readonly component: Readonly<Record<string, string>> | null;
  /** The goal state's certificatesFolder (or the command line's): where this handler's certificates come from. */
  readonly certificatesFolder?: string | null;
}

export interface PackageRef { readonly version: string; readonly sha256: string; readonly uris: readonly string[] }

export interface ExtensionGoal {
  readonly name: string;
  readonly sequenceNumber: number;
  readonly publicSettings: unknown;
  readonly protectedSettings: unknown;
  readonly protectedSettingsCertThumbprint: string | null;
}

type Draft = Omit<Problem, 'source'>;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Freezes a JSON-shaped value and everything inside it, so nothing inward can edit the goal. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

interface JsonErrorPlace { readonly message: string; readonly line: number; readonly column: number; readonly excerpt: string }

const positionOf = (message: string): number | undefined => {
  const m = /at position (\d+)/.exec(message);
  return m ? Number(m[1]) : undefined;
};

/**
 * Where JSON.parse failed, as line/column. Node 20 omits the position from some messages
 * ("Unexpected token ']'..."), so it is then found by bisecting prefixes: a prefix ending before the
 * bad character fails only at its end, one that contains it fails inside.
 */
export function locateJsonError(text: string, message: string): JsonErrorPlace | undefined {
  let pos = positionOf(message);
  if (pos === undefined && /end of JSON input/.test(message)) pos = text.length;
  if (pos === undefined) {
    const failsInside = (k: number): boolean => {
      try { JSON.parse(text.slice(0, k)); return false; } catch (err) {
        const m = (err as Error).message;
        const p = positionOf(m);
        return p === undefined ? !/end of JSON input/.test(m) : p < k;
      }
    };
    let lo = 1;
    let hi = text.length;
    if (!failsInside(hi)) return undefined;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (failsInside(mid)) hi = mid; else lo = mid + 1;
    }
    pos = lo - 1;
  }
  const before = text.slice(0, pos);
  const line = before.split('\n').length;
  const lineStart = before.lastIndexOf('\n') + 1;
  const lineEnd = text.indexOf('\n', pos);
  // Scanned from the start: a protected value that opens on an earlier line is masked on this one too.
  const lineText = maskJsonText(text.slice(0, lineEnd === -1 ? text.length : lineEnd), lineStart);
  const column = pos - lineStart + 1;
  // "Unexpected token 'x'" quotes a character of the text: not when the excerpt masks it.
  const quotesMasked = pos < text.length && lineText[pos - lineStart] !== text[pos];
  const detail = jsonErrorDetail(message, quotesMasked);
  return { message: detail, line, column, excerpt: lineText.slice(Math.max(0, column - 31), column + 30).trim() };
}

/** V8's message without the part that quotes the document ('..."text"... is not valid JSON') or its position. */
export function jsonErrorDetail(message: string, dropToken = false): string {
  const detail = message.replace(/(?:,? |^)(?:"|\.\.\.").*is not valid JSON$/s, '').replace(/ in JSON at position \d+.*$/s, '');
  return dropToken ? detail.replace(/^Unexpected token '.+'$/s, 'Unexpected token') : detail;
}

/**
 * Nesting limit of a goal-state document, checked on the text before anything parses or walks it.
 * Its own structure takes 5 levels (handlers[i].extensions[k].publicSettings) and settings that
 * passed through .NET's JSON (default MaxDepth 64) never go past 64, so no real document reaches 100.
 */
export const GOAL_STATE_MAX_DEPTH = 100;

function parseJson(text: string, source: string): unknown {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text; // editors on Windows add a BOM
  if (body.trim() === '') {
    throw new ValidationError(`invalid goal state ${source}`, [{ source, path: '(root)', reason: 'empty document: expected a JSON object' }]);
  }
  const deep = findTooDeep(body, GOAL_STATE_MAX_DEPTH);
  if (deep) {
    // The path stops at a protected key: the keys inside a protected value are part of it.
    const shown = deep.path.findIndex((part) => typeof part === 'string' && isProtectedKey(part));
    const path = describeDepthPath(deep.path, shown < 0 ? undefined : Math.min(6, shown + 1));
    throw new ValidationError(`invalid goal state ${source}`, [{ source, path, reason: tooDeepReason(deep) }]);
  }
  try {
    return JSON.parse(body) as unknown;
  } catch (err) {
    const where = locateJsonError(body, (err as Error).message);
    const problem: Problem = where
      ? { source, path: '(root)', reason: `not valid JSON: ${where.message} at line ${where.line} column ${where.column}`, value: where.excerpt }
      : { source, path: '(root)', reason: `not valid JSON: ${jsonErrorDetail((err as Error).message, true)}` };
    // No cause: V8's message quotes the document, protected settings and all.
    throw new ValidationError(`invalid goal state ${source}`, [problem]);
  }
}

/** Names, dependsOn and extension names across the document; runs on the raw input so it reports alongside type errors. */
function crossHandlerProblems(doc: unknown): Draft[] {
  if (!isRecord(doc) || !Array.isArray(doc['handlers'])) return [];
  const raw = doc['handlers'] as unknown[];
  const problems: Draft[] = [];
  const firstIndex = new Map<string, number>();
  raw.forEach((h, i) => {
    if (!isRecord(h)) return;
    const name = h['name'];
    if (typeof name === 'string') {
      const prev = firstIndex.get(name);
      if (prev === undefined) firstIndex.set(name, i);
      else problems.push({ path: jsonPath(['handlers', i, 'name']), reason: `duplicate name (also handlers[${prev}].name)`, value: name });
    }
    const seenExt = new Map<string, number>();
    if (Array.isArray(h['extensions'])) {
      h['extensions'].forEach((e: unknown, k) => {
        const ext = isRecord(e) ? (e['name'] === undefined ? 'default' : e['name']) : undefined;
        if (typeof ext !== 'string') return;
        const prev = seenExt.get(ext);
        if (prev === undefined) seenExt.set(ext, k);
        else problems.push({ path: jsonPath(['handlers', i, 'extensions', k, 'name']), reason: `duplicate extension name in this handler (also extensions[${prev}])`, value: ext });
      });
    }
  });

  const nodes: GraphNode[] = [];
  raw.forEach((h, i) => {
    if (!isRecord(h) || typeof h['name'] !== 'string') return;
    const name = h['name'];
    const deps: string[] = [];
    if (Array.isArray(h['dependsOn'])) {
      h['dependsOn'].forEach((d: unknown, k) => {
        if (typeof d !== 'string') return; // the schema reports the type
        const path = jsonPath(['handlers', i, 'dependsOn', k]);
        if (d === name) problems.push({ path, reason: 'a handler cannot depend on itself', value: d });
        else if (!firstIndex.has(d)) problems.push({ path, reason: 'unknown dependency: no handler in this goal state has that name', value: d });
        else deps.push(d);
      });
    }
    if (firstIndex.get(name) === i) nodes.push({ name, dependsOn: deps });
  });
  for (const cycle of findCycles(nodes)) {
    const i = firstIndex.get(cycle[0] ?? '') ?? 0;
    const handler = raw[i];
    problems.push({ path: jsonPath(['handlers', i, 'dependsOn']), reason: `dependency cycle: ${formatCycle(cycle)}`,
      value: isRecord(handler) ? handler['dependsOn'] : undefined });
  }
  return problems;
}

const KEY_SHOWN = 100;
const handlerIndex = (path: string): number => Number(/^handlers\[(\d+)\]/.exec(path)?.[1] ?? -1);

/** Validates goal-state text; `source` (path or URL) is named in every problem. Throws ValidationError. */
export function parseGoalState(text: string, source: string): GoalState {
  const doc = parseJson(text, source);
  const result = goalStateSchema.safeParse(doc, { reportInput: true, error: goalStateErrorMap });
  const drafts: Draft[] = result.success ? [] : result.error.issues.map((issue) => ({
    path: jsonPath(issue.path),
    reason: issue.message,
    ...(issue.input === undefined ? {} : { value: pathIsProtected(issue.path) ? REDACTED : redactProtected(issue.input) }),
  }));
  // These checks read the raw document, where a dependsOn can hold anything: their values are redacted too.
  drafts.push(...crossHandlerProblems(doc).map((d) => ('value' in d ? { ...d, value: redactProtected(d.value) } : d)));
  drafts.sort((a, b) => handlerIndex(a.path) - handlerIndex(b.path)); // stable: keeps field order within a handler
  if (!result.success || drafts.length > 0) {
    throw new ValidationError(`invalid goal state ${source}`, drafts.map((d) => ({ source, ...d })));
  }
  const warnings: Problem[] = findUnknownKeys(doc).map((k) => ({
    // No value: a misspelt protectedSettings would otherwise be echoed. A key of any length is shown cut.
    source, path: jsonPath(k.path.map((p) => (typeof p === 'string' && p.length > KEY_SHOWN ? `${p.slice(0, KEY_SHOWN - 3)}...` : p))),
    reason: 'unknown key, ignored',
  }));
  const folder = result.data.certificatesFolder;
  const handlers = folder === null ? result.data.handlers : result.data.handlers.map((h) => ({ ...h, certificatesFolder: folder }));
  const goal: GoalState = { source, etag: result.data.etag, handlers, warnings };
  return deepFreeze(goal);
}

/** Reads and validates a goal-state file; a file that cannot be read is E_GOAL_STATE_READ. */
export async function loadGoalStateFile(path: string): Promise<GoalState> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory'
      : code === 'EACCES' ? 'permission denied' : (err as Error).message;
    throw new SupervisorError('E_GOAL_STATE_READ', `cannot read goal state ${path}: ${why}`, { path, errno: code }, { cause: err });
  }
  return parseGoalState(text, path);
}
