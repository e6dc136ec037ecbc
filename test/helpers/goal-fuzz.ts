/**
 * Seeded mutations of a valid goal state for the validate fuzz test: truncation at every offset,
 * every JSON path given each wrong type (the protected value among them, under its own key and
 * misspellings of it), every key removed, and random compounds of those. The seed alone decides
 * every case and the secret, so `EXT_SUPERVISOR_FUZZ_SEED=<seed>` replays a failure.
 */
import { makeSecret, type Secret } from './secrets.js';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonPath = ReadonlyArray<string | number>;

export { mulberry32 } from './prng.js';

export const DEFAULT_FUZZ_SEED = 20_261_204;

/** The seed: EXT_SUPERVISOR_FUZZ_SEED (a number, or `random` for a fresh one), else a fixed one. */
export function fuzzSeed(env = process.env['EXT_SUPERVISOR_FUZZ_SEED']): number {
  if (env === undefined || env === '') return DEFAULT_FUZZ_SEED;
  if (env === 'random') return Math.floor(Math.random() * 2 ** 32);
  const n = Number(env);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`EXT_SUPERVISOR_FUZZ_SEED must be a whole number >= 0 or "random" (got ${env})`);
  return n >>> 0;
}

export function seededSecret(rnd: () => number): Secret {
  return makeSecret(Uint8Array.from({ length: 16 }, () => Math.floor(rnd() * 256)));
}

// Numbers JSON.stringify cannot write: placeholders replaced in the text.
const RAW: Record<string, string> = { '\u0000huge': '1e309', '\u0000negzero': '-0', '\u0000bigint': '18446744073709551616' };

/** The document as text, pretty (as people write it) or compact (as tools do). */
export function render(doc: Json | undefined, pretty: boolean): string {
  let text = JSON.stringify(doc, null, pretty ? 2 : undefined) ?? '';
  for (const [token, raw] of Object.entries(RAW)) text = text.replaceAll(JSON.stringify(token), raw);
  return text;
}

const HEX = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** A valid goal state that holds the secret under protectedSettings as a string and inside an object. */
export function baseGoal(secret: Secret): Json {
  const pkg = (v: string): Json => ({ version: v, sha256: HEX, uris: [`file:///srv/pkgs/a-${v}.zip`, `http://127.0.0.1:9/a-${v}.zip`] });
  return {
    etag: 'fuzz-1',
    handlers: [
      { name: 'Fuzz.Base', version: '1.0', packages: [pkg('1.0.0')], extensions: [] },
      {
        name: 'Fuzz.App', version: '2.1', upgradePolicy: 'auto', state: 'enabled', dependsOn: ['Fuzz.Base'], allowDowngrade: false,
        packages: [pkg('2.1.3')],
        extensions: [
          { name: 'default', sequenceNumber: 3, publicSettings: { mode: 'fast', port: 8080 }, protectedSettings: secret.value,
            protectedSettingsCertThumbprint: 'ABCDEF0123456789' },
          { name: 'beta', sequenceNumber: '4', publicSettings: {}, protectedSettings: { token: secret.value, list: ['not secret', secret.value] } },
        ],
        timeouts: { install: 60, enable: 30 }, heartbeatTimeout: 120, onUnresponsive: 'restart',
        handlerProperties: { arguments: '--verbose', installedCriteria: 'ok' }, limits: { memoryMB: 256, cpuPercent: 50 },
        component: { id: 'motor', properties: { path: '/dev/m0' } },
      },
    ],
  };
}

const nest = (depth: number, leaf: Json, wrap: (inner: Json) => Json): Json => {
  let v = leaf;
  for (let i = 0; i < depth; i++) v = wrap(v);
  return v;
};

/** Each wrong type, with a label; the protected value in every shape and spelling is among them. */
export function wrongValues(secret: Secret, base: Json): Array<readonly [string, Json]> {
  const s = secret.value;
  const ext = ((base as any).handlers[1].extensions[0]) as Json;
  return [
    ['null', null], ['true', true], ['false', false], ['0', 0], ['-1', -1], ['0.5', 0.5],
    ['1e309', '\u0000huge'], ['-0', '\u0000negzero'], ['2^64', '\u0000bigint'],
    ['""', ''], ['a 10,000-character string', 'x'.repeat(10_000)], ['control and lone surrogate', '\u0000\u001f\ud800'],
    ['[]', []], ['{}', {}], ['30 nested arrays', nest(30, 1, (v) => [v])], ['30 nested objects', nest(30, 'leaf', (v) => ({ a: v }))],
    ['{protectedSettings: secret}', { protectedSettings: s }],
    ['{ProtectedSettings: {token: secret}}', { ProtectedSettings: { token: s } }],
    ['{protected_settings: [secret, 1]}', { protected_settings: [s, 1] }],
    ['{protectedSetings: secret} (misspelled)', { protectedSetings: s }],
    ['[{protectedSettings: secret}]', [{ protectedSettings: s }]],
    ['{sequenceNumber: "x", protectedSettings: secret}', { sequenceNumber: 'x', protectedSettings: s }],
    ['the whole extension', ext],
    ['{__proto__: {protectedSettings: secret}}', JSON.parse(`{"__proto__": {"protectedSettings": ${JSON.stringify(s)}}}`) as Json],
    ['{constructor: 1, toString: secret-holder}', { constructor: 1, toString: { protectedSettings: s } }],
    ['an object with a 3,000-character key', { ['k'.repeat(3000)]: 1 }],
    ['a protected value nested past the depth limit, its keys the secret',
      { protectedSettings: nest(120, s, (v) => ({ [s]: v })) }],
  ];
}

/** Every path to a value in `doc`, the root first. */
export function pathsOf(doc: Json, at: JsonPath = []): JsonPath[] {
  const out: JsonPath[] = [at];
  if (Array.isArray(doc)) doc.forEach((v, i) => out.push(...pathsOf(v, [...at, i])));
  else if (doc !== null && typeof doc === 'object') for (const [k, v] of Object.entries(doc)) out.push(...pathsOf(v, [...at, k]));
  return out;
}

/** A copy of `doc` with the value at `path` replaced, or removed when `value` is undefined. */
export function withValue(doc: Json, path: JsonPath, value: Json | undefined): Json | undefined {
  if (path.length === 0) return value;
  const copy = structuredClone(doc) as any;
  let node = copy;
  for (const part of path.slice(0, -1)) node = node[part];
  const last = path[path.length - 1]!;
  if (value !== undefined) node[last] = value;
  else if (Array.isArray(node)) node.splice(last as number, 1);
  else delete node[last];
  return copy as Json;
}

export const showPath = (path: JsonPath): string => (path.length === 0 ? '(root)' : path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`)).join(''));

export interface FuzzCase { readonly label: string; readonly text: string }

const MISSPELLINGS = ['ProtectedSettings', 'protected_settings', 'protectedsettings', 'protectedSetting', 'PROTECTED-SETTINGS'];

/** Every systematic case, then `randomCount` random compounds of mutations, all decided by `rnd`. */
export function fuzzCases(secret: Secret, rnd: () => number, randomCount: number): FuzzCase[] {
  const base = baseGoal(secret);
  const values = wrongValues(secret, base);
  const pretty = render(base, true);
  const cases: FuzzCase[] = [{ label: 'the valid document', text: pretty }];
  for (let n = 0; n < pretty.length; n++) cases.push({ label: `truncated at byte ${n}`, text: pretty.slice(0, n) });
  const compact = render(base, false);
  for (let n = 0; n < compact.length; n += 7) cases.push({ label: `compact, truncated at byte ${n}`, text: compact.slice(0, n) });
  // Syntax errors right at the protected value, where an excerpt quotes the text around them.
  const literal = JSON.stringify(secret.value);
  for (let at = pretty.indexOf(literal); at >= 0; at = pretty.indexOf(literal, at + 1)) {
    const [head, tail] = [pretty.slice(0, at), pretty.slice(at + literal.length)];
    for (const [label, text] of [
      ['unquoted', `${head}${literal.slice(1, -1)}${tail}`],
      ['followed by a colon', `${head}${literal}: 1${tail}`],
      ['twice', `${head}${literal} ${literal}${tail}`],
      ['without the comma after it', `${head}${literal}${tail.replace(/^,/, '')}`],
      ['followed by a stray character', `${head}${literal}x${tail}`],
      ['as a number', `${head}${literal.replace(/[^0-9]/g, '').slice(0, 24)}x${tail}`],
    ] as const) cases.push({ label: `the protected value at byte ${at} ${label}`, text });
  }
  const paths = pathsOf(base);
  for (const path of paths) {
    for (const [label, value] of values) cases.push({ label: `${showPath(path)} = ${label}`, text: render(withValue(base, path, value), rnd() < 0.5) });
    if (path.length > 0) cases.push({ label: `${showPath(path)} removed`, text: render(withValue(base, path, undefined), true) });
  }
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rnd() * list.length)]!;
  for (let r = 0; r < randomCount; r++) {
    let doc: Json | undefined = base;
    const steps: string[] = [];
    for (let m = 1 + Math.floor(rnd() * 4); m > 0 && doc !== undefined; m--) {
      const path = pick(pathsOf(doc).filter((p) => p.length <= 8)); // not deep inside the 120-level value
      const roll = rnd();
      if (roll < 0.15 && path.length > 0) {
        doc = withValue(doc, path, undefined);
        steps.push(`${showPath(path)} removed`);
      } else if (roll < 0.3 && typeof path[path.length - 1] === 'string' && /protectedSettings$/.test(String(path[path.length - 1]))) {
        const parent = path.slice(0, -1);
        const to = pick(MISSPELLINGS);
        const moved = withValue(doc, path, undefined);
        const holder = parent.reduce((node: any, p) => node[p], structuredClone(moved) as any);
        doc = withValue(moved!, parent, { ...holder, [to]: secret.value });
        steps.push(`${showPath(path)} renamed ${to}`);
      } else {
        const [label, value] = pick(values);
        doc = withValue(doc, path, value);
        steps.push(`${showPath(path)} = ${label}`);
      }
    }
    let text = render(doc, rnd() < 0.5);
    if (rnd() < 0.3) {
      const at = Math.floor(rnd() * text.length);
      text = text.slice(0, at);
      steps.push(`truncated at byte ${at}`);
    }
    cases.push({ label: `random #${r}: ${steps.join('; ')}`, text });
  }
  return cases;
}
