import { ValidationError, jsonPath, type Problem } from '../core/errors.js';
import { describeDepthPath, findTooDeep, tooDeepReason } from '../core/json-depth.js';

/** A handler's HandlerManifest.json, read the way the Azure agent reads it (first array element). */
export type HandlerManifest = CommandManifest | ScriptManifest;

export interface CommandManifest {
  readonly form: 'command';
  /** Empty when the manifest omits it: several published extensions do, the goal state names the handler. */
  readonly name: string;
  readonly version: string;
  readonly installCommand: string;
  readonly uninstallCommand: string;
  readonly updateCommand: string;
  readonly enableCommand: string;
  readonly disableCommand: string;
  readonly reportHeartbeat: boolean;
  readonly updateMode: 'UpdateWithInstall' | 'UpdateWithoutInstall';
  readonly continueOnUpdateFailure: boolean;
  readonly supportsMultipleExtensions: boolean;
  readonly rebootAfterInstall: boolean;
}

export interface ScriptManifest {
  readonly form: 'script';
  readonly name: string;
  readonly version: string;
  readonly scriptFileName: string;
  readonly arguments: string;
  readonly installedCriteria: string | null;
  readonly reportHeartbeat: boolean;
}

/**
 * Nesting limit of a manifest: real ones are 3 levels deep (`[{"handlerManifest": {}}]`); 64 is
 * also .NET System.Text.Json's default MaxDepth, so no manifest .NET tooling reads goes past it.
 */
export const MANIFEST_MAX_DEPTH = 64;

const COMMANDS = ['installCommand', 'uninstallCommand', 'updateCommand', 'enableCommand', 'disableCommand'] as const;
const VERSION_RE = /^\d+(\.\d+){0,3}$/;

type Json = Record<string, unknown>;

/** Parses and validates HandlerManifest.json text; throws a ValidationError listing every problem. */
export function parseManifest(text: string, source: string): HandlerManifest {
  const problems: Problem[] = [];
  const add: Add = (path, reason, ...value) => {
    problems.push({ source, path: jsonPath(path), reason, ...(value.length > 0 ? { value: value[0] } : {}) });
  };
  const fail = (): never => { throw new ValidationError(`invalid handler manifest ${source}`, problems); };

  const deep = findTooDeep(text, MANIFEST_MAX_DEPTH);
  if (deep) {
    problems.push({ source, path: describeDepthPath(deep.path), reason: tooDeepReason(deep) });
    return fail();
  }
  let doc: unknown;
  try { doc = JSON.parse(text); } catch (err) {
    add([], `not valid JSON: ${(err as Error).message}`);
    return fail();
  }
  if (!Array.isArray(doc)) { add([], 'must be an array of one manifest object', doc); return fail(); }
  if (doc.length === 0) { add([], 'must not be an empty array', doc); return fail(); }
  const first: unknown = doc[0];
  if (!isObject(first)) { add([0], 'must be an object', first); return fail(); }

  const name = readName(first, add);
  const version = readVersion(first, text, add);
  const hm = first['handlerManifest'];
  if (!isObject(hm)) { add([0, 'handlerManifest'], 'must be an object', hm); return fail(); }

  const protocol = hm['protocol'];
  const manifest = typeof protocol === 'string' && protocol.toLowerCase() === 'script'
    ? readScriptForm(hm, name, version, add)
    : readCommandForm(hm, name, version, add);
  if (problems.length > 0) return fail();
  return Object.freeze(manifest);
}

// A value argument, when given, is shown in the message; none for 'is required'.
type Add = (path: PropertyKey[], reason: string, ...value: [] | [unknown]) => void;

function readName(first: Json, add: Add): string {
  const name = first['name'];
  if (name === undefined) return '';
  if (typeof name !== 'string') { add([0, 'name'], 'must be a string', name); return ''; }
  return name.trim();
}

function readVersion(first: Json, text: string, add: Add): string {
  const v = first['version'];
  let version: string;
  if (typeof v === 'string') version = v.trim();
  else if (typeof v === 'number') version = rawFirstVersion(text) ?? formatNumber(v);
  else if (v === undefined) { add([0, 'version'], 'is required'); return ''; }
  else { add([0, 'version'], 'must be a string or a number', v); return ''; }
  if (!VERSION_RE.test(version)) add([0, 'version'], 'must be 1 to 4 dot-separated non-negative integers, like 1.0', v);
  return version;
}

function readCommandForm(hm: Json, name: string, version: string, add: Add): CommandManifest {
  const cmd = {} as Record<(typeof COMMANDS)[number], string>;
  for (const key of COMMANDS) {
    const value = hm[key];
    const path = [0, 'handlerManifest', key];
    if (value === undefined) add(path, 'is required');
    else if (typeof value !== 'string') add(path, 'must be a string', value);
    else if (stripSlash(value).trim() === '') add(path, 'must not be empty', value);
    cmd[key] = typeof value === 'string' ? stripSlash(value) : '';
  }
  const mode = hm['updateMode'];
  return {
    form: 'command', name, version, ...cmd,
    reportHeartbeat: agentBool(hm['reportHeartbeat']),
    updateMode: typeof mode === 'string' && mode.toLowerCase() === 'updatewithoutinstall' ? 'UpdateWithoutInstall' : 'UpdateWithInstall',
    continueOnUpdateFailure: agentBool(hm['continueOnUpdateFailure']),
    supportsMultipleExtensions: agentBool(hm['supportsMultipleExtensions']),
    rebootAfterInstall: agentBool(hm['rebootAfterInstall']),
  };
}

function readScriptForm(hm: Json, name: string, version: string, add: Add): ScriptManifest {
  const base = [0, 'handlerManifest'];
  const file = hm['scriptFileName'];
  let scriptFileName = '';
  if (file === undefined) add([...base, 'scriptFileName'], 'is required for protocol "script"');
  else if (typeof file !== 'string') add([...base, 'scriptFileName'], 'must be a string', file);
  else {
    scriptFileName = stripSlash(file);
    const parts = scriptFileName.split('/');
    if (scriptFileName === '' || parts.some((p) => p === '' || p === '.' || p === '..') || scriptFileName.includes('\0')) {
      add([...base, 'scriptFileName'], 'must be a relative path inside the package, without "." or ".." segments', file);
    }
  }
  const args = hm['arguments'];
  if (args !== undefined && typeof args !== 'string') add([...base, 'arguments'], 'must be a string', args);
  const criteria = hm['installedCriteria'];
  if (criteria !== undefined && criteria !== null && typeof criteria !== 'string') {
    add([...base, 'installedCriteria'], 'must be a string', criteria);
  }
  return {
    form: 'script', name, version, scriptFileName,
    arguments: typeof args === 'string' ? args : '',
    installedCriteria: typeof criteria === 'string' ? criteria : null,
    reportHeartbeat: agentBool(hm['reportHeartbeat']),
  };
}

/** The agent's reading of a manifest boolean: true, or "true" in any case; anything else is false. */
export function agentBool(value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  return typeof value === 'string' && value.trim().toLowerCase() === 'true';
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// The agent joins commands onto the handler dir, so "/bin/x.sh" means "<dir>/bin/x.sh".
function stripSlash(command: string): string {
  return command.replace(/^\/+/, '');
}

function formatNumber(n: number): string {
  return Number.isInteger(n) ? `${n}.0` : String(n);
}

/** Recovers the literal text of `[0].version` (JSON.parse turns 1.0 into 1); last duplicate key wins, like JSON.parse. */
export function rawFirstVersion(text: string): string | undefined {
  const s = new JsonScanner(text);
  if (!s.take('[') || !s.take('{')) return undefined;
  let found: string | undefined;
  if (s.take('}')) return undefined;
  for (;;) {
    const key = s.string();
    if (key === undefined || !s.take(':')) return undefined;
    s.ws();
    const number = /-?\d+(\.\d+)?([eE][+-]?\d+)?/y;
    number.lastIndex = s.pos;
    const m = number.exec(text);
    if (key === 'version') found = m ? m[0] : undefined;
    if (!s.skipValue()) return undefined;
    if (s.take(',')) continue;
    return s.take('}') ? found : undefined;
  }
}

/** Just enough of a JSON tokenizer to walk text that JSON.parse already accepted. */
class JsonScanner {
  pos = 0;
  constructor(private readonly text: string) {}

  ws(): void {
    while (this.pos < this.text.length && ' \t\n\r'.includes(this.text[this.pos] as string)) this.pos++;
  }

  take(ch: string): boolean {
    this.ws();
    if (this.text[this.pos] !== ch) return false;
    this.pos++;
    return true;
  }

  string(): string | undefined {
    this.ws();
    const start = this.pos;
    if (this.text[start] !== '"') return undefined;
    let i = start + 1;
    while (i < this.text.length && this.text[i] !== '"') i += this.text[i] === '\\' ? 2 : 1;
    this.pos = i + 1;
    return JSON.parse(this.text.slice(start, this.pos)) as string;
  }

  skipValue(): boolean {
    this.ws();
    const ch = this.text[this.pos];
    if (ch === '"') return this.string() !== undefined;
    if (ch !== '{' && ch !== '[') {
      while (this.pos < this.text.length && !',}] \t\n\r'.includes(this.text[this.pos] as string)) this.pos++;
      return true;
    }
    let depth = 0;
    while (this.pos < this.text.length) {
      const c = this.text[this.pos];
      if (c === '"') { this.string(); continue; }
      if (c === '{' || c === '[') depth++;
      else if (c === '}' || c === ']') depth--;
      this.pos++;
      if (depth === 0) return true;
    }
    return false;
  }
}
