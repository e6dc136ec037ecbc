import { chmod, lstat, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseManifest, type HandlerManifest } from '../../protocol/manifest.js';
import { SupervisorError, ValidationError, showValue } from '../../core/errors.js';
import { PACKAGE_ERROR } from './limits.js';

export const MANIFEST_FILE = 'HandlerManifest.json';
// A manifest is a few hundred bytes; a megabyte is already absurd.
const MAX_MANIFEST_BYTES = 1024 * 1024;

/** The package root inside an extracted folder: the folder itself, or its single top folder holding the manifest. */
export async function locateRoot(extracted: string): Promise<string> {
  if (await isRegularFile(join(extracted, MANIFEST_FILE))) return extracted;
  const names = await readdir(extracted);
  if (names.length === 1) {
    const top = join(extracted, names[0] as string);
    const st = await lstat(top);
    if (st.isDirectory() && (await isRegularFile(join(top, MANIFEST_FILE)))) return top;
  }
  throw new SupervisorError(PACKAGE_ERROR.manifest,
    `no ${MANIFEST_FILE} at the package root or under a single top folder (top level: ${showValue(names.slice(0, 10))})`,
    { entry: MANIFEST_FILE });
}

/** Reads and parses the root's manifest; for the script form, checks that the script is a file inside. */
export async function loadManifest(root: string, source: string): Promise<HandlerManifest> {
  const fh = await open(join(root, MANIFEST_FILE), 'r');
  let text: string;
  try {
    const buf = Buffer.alloc(MAX_MANIFEST_BYTES + 1);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    if (bytesRead > MAX_MANIFEST_BYTES) {
      throw new SupervisorError(PACKAGE_ERROR.manifest, `${source}: larger than ${MAX_MANIFEST_BYTES} bytes`, { entry: MANIFEST_FILE });
    }
    text = buf.subarray(0, bytesRead).toString('utf8');
  } finally {
    await fh.close();
  }
  let manifest: HandlerManifest;
  try {
    manifest = parseManifest(text, source);
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    throw new SupervisorError(PACKAGE_ERROR.manifest, err.message, { entry: MANIFEST_FILE, problems: err.problems.map((p) => ({ ...p })) },
      { cause: err });
  }
  if (manifest.form === 'script' && !(await isRegularFile(join(root, manifest.scriptFileName), true))) {
    throw new SupervisorError(PACKAGE_ERROR.manifest,
      `${source}: [0].handlerManifest.scriptFileName: no such file in the package (got ${showValue(manifest.scriptFileName)})`,
      { entry: manifest.scriptFileName, value: manifest.scriptFileName });
  }
  return manifest;
}

/** Adds owner-execute to every regular file under `root`, as the Azure agent does after unzipping. */
export async function makeOwnerExecutable(root: string): Promise<void> {
  for (const dirent of await readdir(root, { withFileTypes: true })) {
    const path = join(root, dirent.name);
    if (dirent.isDirectory()) await makeOwnerExecutable(path);
    else if (dirent.isFile()) {
      const { mode } = await lstat(path);
      if ((mode & 0o100) === 0) await chmod(path, (mode & 0o7777) | 0o100);
    }
  }
}

/** The supervisor's own folder in a handler dir (commands' output and exit files); never the package's. */
export const SUPERVISOR_FOLDER = '.supervisor';

/**
 * Drops a `.supervisor` entry the package ships (a folder, file or link): what the supervisor
 * writes there must not land on something the package chose, such as a link to its manifest.
 * True when there was one.
 */
export async function dropSupervisorFolder(root: string): Promise<boolean> {
  const path = join(root, SUPERVISOR_FOLDER);
  if (!(await lstat(path).then(() => true, () => false))) return false;
  await rm(path, { recursive: true, force: true }); // a link is removed, never followed
  return true;
}

/** Moves a staged root into place with one rename; an existing target is never touched. */
export async function commitPackage(root: string, target: string): Promise<void> {
  await chmod(root, 0o700);
  const exists = await lstat(target).then(() => true, () => false);
  const taken = (): SupervisorError => new SupervisorError(PACKAGE_ERROR.targetExists,
    `${target} already exists; remove it or install another version`, { target });
  if (exists) throw taken();
  try {
    await rename(root, target);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTEMPTY') throw taken();
    throw err;
  }
}

async function isRegularFile(path: string, followLinks = false): Promise<boolean> {
  try {
    return (followLinks ? await stat(path) : await lstat(path)).isFile();
  } catch {
    return false;
  }
}
