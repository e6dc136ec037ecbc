/**
 * Builds real handler packages for lifecycle tests from test/fixtures/handlers/handler.sh,
 * with per-operation behaviour scripts, and reads back the log the fixture appends to.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import yazl from 'yazl';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packDirectory } from '../../src/supervisor/packages/pack.js';

export const FIXTURE_HANDLER = fileURLToPath(new URL('../fixtures/handlers/handler.sh', import.meta.url));
export const FIXTURE_SCRIPT_HANDLER = fileURLToPath(new URL('../fixtures/script-handlers/adu-script.sh', import.meta.url));

export type Op = 'install' | 'enable' | 'disable' | 'update' | 'uninstall';

export interface HandlerSpec {
  readonly name: string;
  readonly version: string;
  /** Shell fragments sourced by handler.sh for an operation; may set `rc`. */
  readonly behavior?: Partial<Record<Op, string>>;
  /** Merged into handlerManifest. */
  readonly manifest?: Record<string, unknown>;
  /** Replaces the whole manifest file content. */
  readonly rawManifest?: string;
  readonly files?: Record<string, string>;
}

export interface BuiltPackage {
  readonly version: string;
  readonly sha256: string;
  readonly uris: string[];
  readonly file: string;
}

/** Zips a folder without any checks (for packages that must be invalid); returns the sha256. */
async function zipFolder(src: string, out: string): Promise<string> {
  const zip = new yazl.ZipFile();
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const abs = join(dir, entry.name);
      if (entry.isDirectory()) await walk(abs, `${rel}${entry.name}/`);
      else zip.addFile(abs, `${rel}${entry.name}`, { mode: 0o100755 });
    }
  };
  await walk(src, '');
  zip.end();
  await pipeline(zip.outputStream, createWriteStream(out));
  return createHash('sha256').update(await readFile(out)).digest('hex');
}

export class Workspace {
  private constructor(readonly root: string, readonly libDir: string, readonly logDir: string) {}

  static async create(prefix = 'exts-'): Promise<Workspace> {
    const root = await mkdtemp(join(tmpdir(), prefix));
    const ws = new Workspace(root, join(root, 'lib'), join(root, 'log'));
    await mkdir(join(root, 'pkgs'), { recursive: true });
    return ws;
  }

  get dirs() { return { libDir: this.libDir, logDir: this.logDir }; }

  /** Writes a handler folder and packs it into a zip under <root>/pkgs. */
  async package(spec: HandlerSpec): Promise<BuiltPackage> {
    const src = join(this.root, 'src', `${spec.name}-${spec.version}-${Math.random().toString(36).slice(2, 8)}`);
    await mkdir(join(src, 'behavior'), { recursive: true });
    await copyFile(FIXTURE_HANDLER, join(src, 'handler.sh'));
    await chmod(join(src, 'handler.sh'), 0o755);
    const manifest = [{
      name: spec.name, version: spec.version,
      handlerManifest: {
        installCommand: 'handler.sh install', uninstallCommand: 'handler.sh uninstall', updateCommand: 'handler.sh update',
        enableCommand: 'handler.sh enable', disableCommand: 'handler.sh disable', reportHeartbeat: false,
        ...spec.manifest,
      },
    }];
    await writeFile(join(src, 'HandlerManifest.json'), spec.rawManifest ?? JSON.stringify(manifest, null, 2));
    for (const [op, body] of Object.entries(spec.behavior ?? {})) await writeFile(join(src, 'behavior', `${op}.sh`), `${body}\n`);
    for (const [rel, body] of Object.entries(spec.files ?? {})) {
      await mkdir(join(src, rel, '..'), { recursive: true });
      await writeFile(join(src, rel), body);
    }
    const file = join(this.root, 'pkgs', `${spec.name}-${spec.version}.zip`);
    // `supervisor pack` refuses a bad manifest, so a deliberately broken one is zipped by hand.
    const sha256 = spec.rawManifest !== undefined ? await zipFolder(src, file) : (await packDirectory(src, file)).sha256;
    return { version: spec.version, sha256, uris: [`file://${file}`], file };
  }

  /** A Device Update script-form package around test/fixtures/script-handlers/adu-script.sh. */
  async scriptPackage(spec: { name: string; version: string; arguments?: string; installedCriteria?: string;
    behavior?: Record<string, string>; files?: Record<string, string> }): Promise<BuiltPackage> {
    const src = join(this.root, 'src', `${spec.name}-${spec.version}-${Math.random().toString(36).slice(2, 8)}`);
    await mkdir(join(src, 'behavior'), { recursive: true });
    await copyFile(FIXTURE_SCRIPT_HANDLER, join(src, 'adu-script.sh'));
    await chmod(join(src, 'adu-script.sh'), 0o755);
    await writeFile(join(src, 'HandlerManifest.json'), JSON.stringify([{ name: spec.name, version: spec.version,
      handlerManifest: { protocol: 'script', scriptFileName: 'adu-script.sh', arguments: spec.arguments ?? '',
        ...(spec.installedCriteria ? { installedCriteria: spec.installedCriteria } : {}) } }]));
    for (const [action, body] of Object.entries(spec.behavior ?? {})) await writeFile(join(src, 'behavior', `${action}.sh`), `${body}\n`);
    for (const [rel, body] of Object.entries(spec.files ?? {})) {
      await mkdir(join(src, rel, '..'), { recursive: true });
      await writeFile(join(src, rel), body);
    }
    const file = join(this.root, 'pkgs', `${spec.name}-${spec.version}.zip`);
    const packed = await packDirectory(src, file);
    return { version: spec.version, sha256: packed.sha256, uris: [`file://${file}`], file };
  }

  /** Writes a goal-state document and returns its path. */
  async goalState(doc: unknown, file = 'goal.json'): Promise<string> {
    const path = join(this.root, file);
    await writeFile(path, JSON.stringify(doc, null, 2));
    return path;
  }

  async log(): Promise<LogLine[]> {
    const text = await readFile(join(this.libDir, 'fixture.log'), 'utf8').catch(() => '');
    return parseLog(text);
  }

  async dispose(): Promise<void> {
    await rm(this.root, { recursive: true, force: true });
  }
}

export interface LogLine {
  readonly t: number;
  readonly handler: string;
  readonly version: string;
  readonly op: string;
  readonly phase: 'start' | 'end';
  readonly fields: Readonly<Record<string, string>>;
}

export function parseLog(text: string): LogLine[] {
  return text.split('\n').filter(Boolean).map((line) => {
    const [t, handler, version, op, phase, ...rest] = line.split(' ');
    const fields: Record<string, string> = {};
    for (const kv of rest) {
      const i = kv.indexOf('=');
      if (i > 0) fields[kv.slice(0, i)] = kv.slice(i + 1);
    }
    return { t: Number(t), handler: handler!, version: version!, op: op!, phase: phase as 'start' | 'end', fields };
  });
}

/** "handler version op" for every start line: the order commands ran in. */
export function opsOf(lines: readonly LogLine[], handler?: string): string[] {
  return lines.filter((l) => l.phase === 'start' && (!handler || l.handler === handler)).map((l) => `${l.op} ${l.version}`);
}

/** Most commands (optionally of some ops) running at once, from start/end lines. */
export function maxOverlap(lines: readonly LogLine[], ops?: readonly string[]): number {
  const events = lines.filter((l) => !ops || ops.includes(l.op)).map((l) => ({ t: l.t, d: l.phase === 'start' ? 1 : -1 }))
    .sort((a, b) => a.t - b.t || a.d - b.d);
  let cur = 0; let max = 0;
  for (const e of events) { cur += e.d; max = Math.max(max, cur); }
  return max;
}

/** A goal-state handler entry with defaults good for tests. */
export function handlerEntry(name: string, pkgs: readonly BuiltPackage[], over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name, version: pkgs[0]!.version, state: 'enabled',
    packages: pkgs.map((p) => ({ version: p.version, sha256: p.sha256, uris: p.uris })),
    extensions: [{ name: 'default', sequenceNumber: 1, publicSettings: { greeting: 'hello' } }],
    ...over,
  };
}
