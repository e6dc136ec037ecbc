/** The fetch step: reuse a complete handler dir, else download, verify and stage the package. */
import { installPackage } from '../packages/install-package.js';
import { parseManifest, type HandlerManifest } from '../../protocol/manifest.js';
import { SupervisorError } from '../../core/errors.js';
import { ErrorCodes } from './error-codes.js';
import type { HandlerPaths } from '../../storage/layout.js';
import { readRegularFile } from '../../storage/handler-file.js';
import type { PackageSpec } from './steps.js';

// A manifest is a few hundred bytes (staging refuses one over a megabyte).
const MAX_MANIFEST_BYTES = 1024 * 1024;

/**
 * Reads and parses the manifest of an installed handler dir; typed errors name the file. Only a
 * missing one is E_MANIFEST_MISSING (fetch the package again); one that is not a regular file
 * (a FIFO, a link) or cannot be read is a bad manifest of this handler.
 */
export async function readInstalledManifest(paths: HandlerPaths): Promise<HandlerManifest> {
  let data: Buffer | null;
  try {
    data = await readRegularFile(paths.manifestFile, { maxBytes: MAX_MANIFEST_BYTES });
  } catch (err) {
    throw new SupervisorError('E_PACKAGE_MANIFEST', `${paths.manifestFile}: cannot read the handler manifest: ${(err as Error).message}`,
      { file: paths.manifestFile }, { cause: err });
  }
  if (data === null) {
    throw new SupervisorError('E_MANIFEST_MISSING', `${paths.manifestFile}: cannot read the handler manifest: no such file`, { file: paths.manifestFile });
  }
  return parseManifest(data.toString('utf8'), paths.manifestFile);
}

/** The manifest could not be read because it, or the handler dir, does not exist (not: unreadable, malformed). */
export function manifestGone(err: unknown): boolean {
  const e = err as { code?: unknown; cause?: { code?: unknown } } | null;
  // readRegularFile answers null (E_MANIFEST_MISSING, no cause) for exactly ENOENT and ENOTDIR.
  return e?.code === 'E_MANIFEST_MISSING' && (e.cause === undefined || e.cause?.code === 'ENOENT' || e.cause?.code === 'ENOTDIR');
}

/** The agent's code for a package that could not be had: download, extraction, or manifest. */
export function fetchFailureCode(err: unknown): number {
  const code = (err as { code?: unknown })?.code;
  switch (code) {
    case 'E_MANIFEST_MISSING': return ErrorCodes.manifestNotFound;
    case 'E_PACKAGE_MANIFEST': case 'E_INVALID': return ErrorCodes.manifest;
    case 'E_PACKAGE_ESCAPE': case 'E_PACKAGE_FORMAT': return ErrorCodes.extraction;
    default: return ErrorCodes.download;
  }
}

/**
 * A dir renamed into place is complete (the rename is the last step of staging), so one
 * left by an earlier run (failed install, interrupted upgrade) is reused, not fetched again.
 */
export async function fetchHandlerPackage(opts: { libDir: string; name: string; pkg: PackageSpec; paths: HandlerPaths;
  signal: AbortSignal }): Promise<{ manifest: HandlerManifest; reused: boolean; uri: string | null }> {
  try {
    return { manifest: await readInstalledManifest(opts.paths), reused: true, uri: null };
  } catch (err) {
    if ((err as SupervisorError).code !== 'E_MANIFEST_MISSING') throw err;
  }
  const installed = await installPackage({ libDir: opts.libDir, name: opts.name, pkg: opts.pkg, signal: opts.signal });
  return { manifest: installed.manifest, reused: false, uri: installed.uri };
}
