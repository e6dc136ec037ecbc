import { randomBytes } from 'node:crypto';
import { chmod, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { HandlerManifest } from '../../protocol/manifest.js';
import { SupervisorError, showValue } from '../../core/errors.js';
import { fetchVerified } from './fetch-verified.js';
import { PACKAGE_ERROR, resolveLimits, withPlace, type PackageLimits } from './limits.js';
import { extractInPool } from './pool.js';
import { commitPackage, dropSupervisorFolder, loadManifest, locateRoot, makeOwnerExecutable, MANIFEST_FILE, SUPERVISOR_FOLDER } from './stage.js';

/** One package of a handler, as the goal state lists it (structurally the goal state's PackageRef). */
export interface PackageSource {
  readonly version: string;
  readonly sha256: string;
  readonly uris: readonly string[];
}

export interface InstallPackageOptions {
  readonly libDir: string;
  readonly name: string;
  readonly pkg: PackageSource;
  readonly limits?: Partial<PackageLimits>;
  readonly signal?: AbortSignal;
  readonly log?: (line: string) => void;
}

export interface InstalledPackage {
  /** `<libDir>/<name>-<version>`, complete: it appeared with a single rename. */
  readonly dir: string;
  readonly manifest: HandlerManifest;
  readonly sha256: string;
  /** The uri the verified bytes came from. */
  readonly uri: string;
  readonly bytes: number;
}

export const STAGING_DIR = '.staging';
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const VERSION_RE = /^\d+(\.\d+){0,3}$/;
const SHA256_RE = /^[0-9a-fA-F]{64}$/;

/**
 * Downloads, verifies, extracts and validates a handler package, then renames it into
 * `<libDir>/<name>-<version>/`. Nothing half-written is ever visible there: all work happens
 * under `<libDir>/.staging/`, and on any failure everything this call created is removed.
 */
export async function installPackage(opts: InstallPackageOptions): Promise<InstalledPackage> {
  checkRef(opts.name, opts.pkg);
  const limits = resolveLimits(opts.limits);
  const { name, pkg, libDir, signal, log } = opts;
  const staging = join(libDir, STAGING_DIR);
  await mkdir(staging, { recursive: true, mode: 0o700 });
  // Staged packages are not yet checked: nobody else may look into them.
  await chmod(staging, 0o700);
  const tag = `${name}-${pkg.version}-${randomBytes(6).toString('hex')}`;
  const download = join(staging, `${tag}.download`);
  const extracted = join(staging, tag);
  try {
    const fetched = await fetchVerified({ uris: pkg.uris, sha256: pkg.sha256, dest: download, limits, signal, log });
    const place = (err: unknown): SupervisorError => withPlace(err, fetched.uri, { uri: fetched.uri });
    let root: string;
    let manifest: HandlerManifest;
    try {
      await mkdir(extracted, { mode: 0o700 });
      const result = await extractInPool(download, extracted, limits, signal);
      log?.(`extracted ${fetched.uri}: ${result.format}, ${result.entries} entries, ${result.bytes} bytes`);
      root = await locateRoot(extracted);
      manifest = await loadManifest(root, `${fetched.uri}!${MANIFEST_FILE}`);
      if (await dropSupervisorFolder(root)) log?.(`dropped the package's own ${SUPERVISOR_FOLDER} (the supervisor's folder in a handler dir)`);
      await makeOwnerExecutable(root);
    } catch (err) {
      throw place(err);
    }
    if (signal?.aborted) throw new SupervisorError(PACKAGE_ERROR.aborted, `installing ${name} ${pkg.version} aborted`, { uri: fetched.uri });
    const dir = join(libDir, `${name}-${pkg.version}`);
    await commitPackage(root, dir);
    log?.(`installed ${name} ${pkg.version} into ${dir}`);
    return { dir, manifest, sha256: pkg.sha256.toLowerCase(), uri: fetched.uri, bytes: fetched.bytes };
  } finally {
    await rm(download, { force: true });
    await rm(extracted, { recursive: true, force: true });
  }
}

// The name and version become a path: check them before anything touches the disk.
function checkRef(name: string, pkg: PackageSource): void {
  const problems: string[] = [];
  if (typeof name !== 'string' || !NAME_RE.test(name)) problems.push(`name ${showValue(name)} is not a handler name`);
  if (typeof pkg.version !== 'string' || !VERSION_RE.test(pkg.version)) problems.push(`version ${showValue(pkg.version)} is not 1 to 4 dot-separated integers`);
  if (typeof pkg.sha256 !== 'string' || !SHA256_RE.test(pkg.sha256)) problems.push(`sha256 ${showValue(pkg.sha256)} is not 64 hex digits`);
  if (!Array.isArray(pkg.uris) || pkg.uris.length === 0) problems.push('uris is empty');
  if (problems.length > 0) {
    throw new SupervisorError(PACKAGE_ERROR.ref, `cannot install package: ${problems.join('; ')}`, { name, version: pkg.version });
  }
}
