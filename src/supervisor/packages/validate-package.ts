import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SupervisorError } from '../../core/errors.js';
import { PACKAGE_ERROR, resolveLimits, withPlace, type PackageLimits } from './limits.js';
import { extractInPool } from './pool.js';
import { loadManifest, locateRoot, MANIFEST_FILE } from './stage.js';

export interface ValidatedPackage {
  /** The manifest's name; empty when the manifest has none (the goal state names the handler). */
  readonly name: string;
  readonly version: string;
  readonly form: 'command' | 'script';
}

/**
 * Checks a package file the way installPackage would (format, every entry, size caps,
 * manifest), extracting into a temporary folder that is always removed.
 */
export async function validatePackageFile(path: string, limits?: Partial<PackageLimits>): Promise<ValidatedPackage> {
  const resolved = resolveLimits(limits);
  const st = await stat(path).catch((err: unknown) => {
    throw new SupervisorError(PACKAGE_ERROR.format, `${path}: cannot read the package: ${(err as Error).message}`, { file: path }, { cause: err });
  });
  if (!st.isFile()) throw new SupervisorError(PACKAGE_ERROR.format, `${path}: not a regular file`, { file: path });
  if (st.size > resolved.maxDownloadBytes) {
    throw new SupervisorError(PACKAGE_ERROR.tooLarge, `${path}: ${st.size} bytes, over the ${resolved.maxDownloadBytes} byte cap`,
      { file: path, value: st.size, limit: resolved.maxDownloadBytes });
  }
  const temp = await mkdtemp(join(tmpdir(), 'supervisor-validate-'));
  try {
    await extractInPool(resolve(path), temp, resolved).catch((err: unknown) => { throw withPlace(err, path, { file: path }); });
    const root = await locateRoot(temp).catch((err: unknown) => { throw withPlace(err, path, { file: path }); });
    const manifest = await loadManifest(root, `${path}!${MANIFEST_FILE}`);
    return { name: manifest.name, version: manifest.version, form: manifest.form };
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
}
