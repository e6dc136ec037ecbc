import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { lstat, readdir, readlink, rename, rm } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import yazl from 'yazl';
import { SupervisorError, showValue } from '../../core/errors.js';
import { LinkTable } from './entry-paths.js';
import { DEFAULT_PACKAGE_LIMITS, PACKAGE_ERROR } from './limits.js';
import { loadManifest, MANIFEST_FILE } from './stage.js';

export interface PackResult {
  /** Absolute path of the written .zip. */
  readonly file: string;
  readonly sha256: string;
  readonly bytes: number;
  /** Files, folders and links stored. */
  readonly entries: number;
}

type Item =
  | { kind: 'dir'; rel: string; mode: number }
  | { kind: 'file'; rel: string; abs: string; mode: number }
  | { kind: 'link'; rel: string; target: string };

// Every entry gets the same timestamp, so packing the same folder twice gives the same bytes.
const FIXED_MTIME = new Date(1980, 0, 1, 0, 0, 0);

/**
 * Builds a reproducible .zip package from a handler folder: entries sorted, unix modes kept,
 * symbolic links stored as links when they stay inside. Refuses a folder without a valid
 * HandlerManifest.json. Default output: `<folder name>-<manifest version>.zip` in the cwd.
 */
export async function packDirectory(dir: string, outFile?: string): Promise<PackResult> {
  const root = resolve(dir);
  const st = await lstat(root).catch(() => undefined);
  if (!st?.isDirectory()) throw new SupervisorError(PACKAGE_ERROR.format, `${dir}: not a folder`, { file: dir });
  const manifestPath = join(root, MANIFEST_FILE);
  if (!(await lstat(manifestPath).then((s) => s.isFile(), () => false))) {
    throw new SupervisorError(PACKAGE_ERROR.manifest, `${dir}: no ${MANIFEST_FILE} (a regular file) at the top of the folder`,
      { file: manifestPath });
  }
  const manifest = await loadManifest(root, manifestPath);
  const items = await collect(root, '');
  checkLinks(items);
  if (items.length > DEFAULT_PACKAGE_LIMITS.maxEntries) {
    throw new SupervisorError(PACKAGE_ERROR.tooLarge, `${dir}: ${items.length} entries, over the ${DEFAULT_PACKAGE_LIMITS.maxEntries} an install accepts`,
      { value: items.length });
  }

  const file = resolve(outFile ?? `${basename(root)}-${manifest.version}.zip`);
  const temp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  const zip = new yazl.ZipFile();
  const common = { mtime: FIXED_MTIME, forceDosTimestamp: true };
  for (const item of items) {
    if (item.kind === 'dir') zip.addEmptyDirectory(item.rel, { ...common, mode: item.mode });
    else if (item.kind === 'file') zip.addFile(item.abs, item.rel, { ...common, mode: item.mode, compress: true });
    else zip.addBuffer(Buffer.from(item.target), item.rel, { ...common, mode: 0o120777, compress: false });
  }
  zip.end();

  const hash = createHash('sha256');
  let bytes = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, done) { hash.update(chunk); bytes += chunk.length; done(null, chunk); },
  });
  try {
    await pipeline(zip.outputStream as Readable, tap, createWriteStream(temp, { flags: 'wx', mode: 0o644 }));
    await rename(temp, file);
  } catch (err) {
    await rm(temp, { force: true });
    throw new SupervisorError(PACKAGE_ERROR.format, `cannot write ${file}: ${(err as Error).message}`, { file }, { cause: err });
  }
  return { file, sha256: hash.digest('hex'), bytes, entries: items.length };
}

async function collect(abs: string, rel: string): Promise<Item[]> {
  const out: Item[] = [];
  const names = (await readdir(abs)).sort();
  for (const name of names) {
    const childAbs = join(abs, name);
    const childRel = rel ? `${rel}/${name}` : name;
    const st = await lstat(childAbs);
    if (st.isDirectory()) {
      out.push({ kind: 'dir', rel: childRel, mode: st.mode & 0o177777 });
      out.push(...(await collect(childAbs, childRel)));
    } else if (st.isFile()) {
      out.push({ kind: 'file', rel: childRel, abs: childAbs, mode: st.mode & 0o177777 });
    } else if (st.isSymbolicLink()) {
      out.push({ kind: 'link', rel: childRel, target: await readlink(childAbs) });
    } else {
      throw new SupervisorError(PACKAGE_ERROR.format, `${childAbs}: a device, fifo or socket cannot go into a package`, { entry: childRel });
    }
  }
  return out;
}

// The same rule extraction applies, so a package this builds is one an install accepts.
function checkLinks(items: readonly Item[]): void {
  const table = new LinkTable();
  const links = items.filter((i): i is Extract<Item, { kind: 'link' }> => i.kind === 'link');
  for (const link of links) table.add(link.rel.split('/'), link.target);
  for (const link of links) {
    try {
      table.checkSymlink(link.rel.split('/'), link.target, link.rel);
    } catch (err) {
      const e = err as SupervisorError;
      throw new SupervisorError(e.code, `${link.rel}: symbolic link to ${showValue(link.target)} leaves the folder; packages keep links inside`,
        { entry: link.rel, value: link.target }, { cause: err });
    }
  }
}
