/**
 * Builds real package archives for the package tests: zips with yazl, tar.gz with node-tar,
 * and, where a library refuses to write an evil entry, zips and tars assembled from raw bytes.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, lstat, symlink, writeFile, chmod } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { gzipSync, crc32, deflateRawSync } from 'node:zlib';
import { Header, create as tarCreate } from 'tar';
import yazl from 'yazl';

/** A command-form HandlerManifest.json text. */
export function manifestText(name = 'Contoso.Test', version = '1.0', extra: Record<string, unknown> = {}): string {
  return JSON.stringify([{
    name, version,
    handlerManifest: {
      installCommand: 'bin/install.sh', uninstallCommand: 'bin/uninstall.sh', updateCommand: 'bin/update.sh',
      enableCommand: 'bin/enable.sh', disableCommand: 'bin/disable.sh', reportHeartbeat: false, ...extra,
    },
  }]);
}

export type TreeEntry = string | { readonly content: string; readonly mode: number } | { readonly symlink: string };

/** Writes files (and symlinks) under `dir`; folders are created as needed. */
export async function writeTree(dir: string, tree: Record<string, TreeEntry>): Promise<void> {
  for (const [rel, entry] of Object.entries(tree)) {
    const path = join(dir, rel);
    await mkdir(dirname(path), { recursive: true });
    if (typeof entry === 'string') await writeFile(path, entry);
    else if ('symlink' in entry) await symlink(entry.symlink, path);
    else { await writeFile(path, entry.content); await chmod(path, entry.mode); }
  }
}

export interface ZipSpec { readonly name: string; readonly data?: string | Buffer; readonly mode?: number; readonly dir?: boolean }

/** A zip built by yazl (which refuses `..` and absolute names: use rawZip for those). */
export async function yazlZip(entries: readonly ZipSpec[]): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const e of entries) {
    if (e.dir) zip.addEmptyDirectory(e.name, e.mode === undefined ? {} : { mode: e.mode });
    else zip.addBuffer(Buffer.from(e.data ?? ''), e.name, e.mode === undefined ? {} : { mode: e.mode });
  }
  zip.end();
  const chunks: Buffer[] = [];
  for await (const chunk of zip.outputStream as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

export interface RawZipEntry { readonly name: string; readonly data?: string | Buffer; readonly mode?: number; readonly deflate?: boolean }

/** A zip assembled byte by byte (unix host, stored or deflated), so any name or mode can be written. */
export function rawZip(entries: readonly RawZipEntry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name);
    const data = Buffer.from(e.data ?? '');
    const stored = e.deflate ? deflateRawSync(data) : data;
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0); local.writeUInt16LE(20, 4); local.writeUInt16LE(0x800, 6);
    local.writeUInt16LE(e.deflate ? 8 : 0, 8); local.writeUInt32LE(0, 10); local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(stored.length, 18); local.writeUInt32LE(data.length, 22); local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0); central.writeUInt16LE((3 << 8) | 20, 4); central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x800, 8); central.writeUInt16LE(e.deflate ? 8 : 0, 10); central.writeUInt32LE(0, 12);
    central.writeUInt32LE(crc, 16); central.writeUInt32LE(stored.length, 20); central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(name.length, 28); central.writeUInt32LE(((e.mode ?? 0o100644) << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, stored);
    centrals.push(central, name);
    offset += local.length + name.length + stored.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0); end.writeUInt16LE(entries.length, 8); end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12); end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

export interface RawTarEntry {
  readonly path: string;
  readonly type?: 'File' | 'Directory' | 'SymbolicLink' | 'Link' | 'FIFO' | 'CharacterDevice';
  readonly body?: string | Buffer;
  readonly linkpath?: string;
  readonly mode?: number;
}

/** A .tar.gz assembled from node-tar's header encoder, so absolute paths and outside links can be written. */
export function rawTarGz(entries: readonly RawTarEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const body = Buffer.from(e.body ?? '');
    const type = e.type ?? 'File';
    const header = new Header({
      path: e.path, type, size: type === 'File' ? body.length : 0, mode: e.mode ?? (type === 'Directory' ? 0o755 : 0o644),
      mtime: new Date(0), uid: 0, gid: 0, ...(e.linkpath ? { linkpath: e.linkpath } : {}),
    });
    header.encode();
    blocks.push(header.block as Buffer);
    if (type === 'File' && body.length > 0) {
      blocks.push(body, Buffer.alloc((512 - (body.length % 512)) % 512));
    }
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks));
}

/** A .tar.gz of a real folder, made by node-tar the ordinary way. */
export async function tarGzOfDir(dir: string, out: string): Promise<void> {
  await tarCreate({ gzip: true, cwd: dir, file: out, portable: true }, await readdir(dir));
}

/** Hex sha256 of a buffer, as a goal state lists it. */
export function sha256(buf: Buffer): string {
  return createHash('sha256').update(buf).digest('hex');
}

/** Every path under `dir` (relative, sorted), folders marked with a trailing slash. */
export async function walk(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const name of (await readdir(join(dir, rel))).sort()) {
    const child = rel ? `${rel}/${name}` : name;
    if ((await lstat(join(dir, child))).isDirectory()) out.push(`${child}/`, ...(await walk(dir, child)));
    else out.push(child);
  }
  return out;
}
