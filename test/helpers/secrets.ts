/**
 * Finds a test secret in any output or file: the secret itself, its JSON-escaped forms,
 * base64 and hex of it at any alignment, and fragments long enough that a truncated value
 * (`showValue` cuts at 80 characters) still counts as a leak.
 */
import { randomBytes } from 'node:crypto';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join, relative } from 'node:path';

/** A fresh secret per run, with the characters JSON must escape, and every form to look for. */
export interface Secret {
  readonly value: string;
  /** label → needle; a hit names the form that leaked. */
  readonly needles: ReadonlyMap<string, string>;
}

/** Shortest run of the secret's random halves that counts as a leak (48 bits: no accidental match). */
export const FRAGMENT_CHARS = 12;

/** The base64 characters that depend only on `text`, wherever it starts in the encoded bytes. */
function base64Cores(text: string): string[] {
  const out: string[] = [];
  for (let k = 0; k < 3; k++) {
    const bytes = Buffer.concat([Buffer.alloc(k), Buffer.from(text, 'utf8')]);
    const core = bytes.toString('base64').slice(4, 4 * Math.floor(bytes.length / 3));
    out.push(core);
  }
  return out;
}

/**
 * Builds a secret `<16 hex>"\<16 hex>` (quote and backslash so the JSON-escaped forms differ from the raw one).
 * `bytes` (16) makes it reproducible, for a seeded test.
 */
export function makeSecret(bytes: Uint8Array = randomBytes(16)): Secret {
  const hex = Buffer.from(bytes).toString('hex');
  const a = hex.slice(0, 16);
  const b = hex.slice(16);
  const value = `${a}"\\${b}`;
  const json = JSON.stringify(value).slice(1, -1);
  const needles = new Map<string, string>([
    ['raw', value],
    ['json-escaped', json],
    ['json-escaped twice', JSON.stringify(json).slice(1, -1)],
    ['base64', Buffer.from(value).toString('base64')],
    ['hex', Buffer.from(value).toString('hex')],
  ]);
  for (const [h, half] of [['first', a], ['second', b]] as const) {
    base64Cores(half).forEach((core, k) => {
      needles.set(`base64 of the ${h} half (offset ${k})`, core);
      needles.set(`base64url of the ${h} half (offset ${k})`, core.replaceAll('+', '-').replaceAll('/', '_'));
    });
    needles.set(`hex of the ${h} half`, Buffer.from(half).toString('hex'));
    for (let i = 0; i + FRAGMENT_CHARS <= half.length; i++) {
      needles.set(`fragment of the ${h} half [${i}, ${i + FRAGMENT_CHARS})`, half.slice(i, i + FRAGMENT_CHARS));
    }
  }
  return { value, needles };
}

/** Labels of every form of the secret found in `data` (read as latin1: binary-safe, ASCII needles). */
export function secretHits(secret: Secret, data: string | Buffer): string[] {
  const text = typeof data === 'string' ? data : data.toString('latin1');
  const hits: string[] = [];
  for (const [label, needle] of secret.needles) if (text.includes(needle)) hits.push(label);
  return hits;
}

/** One captured output: which command or channel, and what it said. */
export interface Capture { readonly where: string; readonly text: string }

/** "where: forms" for each capture that holds the secret, with a short excerpt around the first hit. */
export function leaksIn(secret: Secret, captures: readonly Capture[]): string[] {
  const out: string[] = [];
  for (const c of captures) {
    const hits = secretHits(secret, c.text);
    if (hits.length === 0) continue;
    out.push(`${c.where}: ${hits.slice(0, 4).join(', ')}${hits.length > 4 ? ` (+${hits.length - 4} more)` : ''}\n    ${excerpt(secret, c.text)}`);
  }
  return out;
}

function excerpt(secret: Secret, text: string): string {
  let at = -1;
  for (const needle of secret.needles.values()) {
    const i = text.indexOf(needle);
    if (i >= 0 && (at < 0 || i < at)) at = i;
  }
  return JSON.stringify(text.slice(Math.max(0, at - 80), at + 120));
}

/** A file (or symlink target) found by `walkTree`, relative to its root. */
export interface TreeEntry { readonly path: string; readonly rel: string; readonly kind: 'file' | 'symlink'; readonly mode: number; readonly data: Buffer }

/** Every regular file and symlink under `root`, never following a link; sockets and fifos are skipped. */
export async function walkTree(root: string): Promise<TreeEntry[]> {
  const out: TreeEntry[] = [];
  const visit = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [];
      throw err;
    });
    for (const entry of entries) {
      const path = join(dir, entry.name);
      const st = await lstat(path).catch(() => null);
      if (!st) continue; // removed while we walked (an atomic write's temp file)
      if (st.isDirectory()) await visit(path);
      else if (st.isSymbolicLink()) {
        out.push({ path, rel: relative(root, path), kind: 'symlink', mode: st.mode, data: Buffer.from(await readlink(path), 'utf8') });
      } else if (st.isFile()) {
        const data = await readFile(path).catch(() => null);
        if (data) out.push({ path, rel: relative(root, path), kind: 'file', mode: st.mode, data });
      }
    }
  };
  await visit(root);
  return out;
}
