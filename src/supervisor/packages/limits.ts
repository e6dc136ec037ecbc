import { SupervisorError, showValue } from '../../core/errors.js';

/** Bounds on one package: what a hostile or broken package source can cost this host. */
export interface PackageLimits {
  /** Largest download accepted, in bytes (checked against Content-Length and while streaming). */
  readonly maxDownloadBytes: number;
  /** Most archive entries accepted (files, folders and links all count). */
  readonly maxEntries: number;
  /** Most bytes extraction may write, counted as written, never trusted from headers. */
  readonly maxUncompressedBytes: number;
  /** Total time one download may take, headers and body together, in milliseconds. */
  readonly downloadTimeoutMs: number;
  /** HTTP redirects followed before giving up. */
  readonly maxRedirects: number;
}

export const DEFAULT_PACKAGE_LIMITS: PackageLimits = Object.freeze({
  maxDownloadBytes: 256 * 1024 * 1024,
  maxEntries: 20_000,
  maxUncompressedBytes: 1024 * 1024 * 1024,
  downloadTimeoutMs: 120_000,
  maxRedirects: 5,
});

/** Fills defaults and checks every given limit is a whole number (redirects may be 0, the rest >= 1). */
export function resolveLimits(partial: Partial<PackageLimits> = {}): PackageLimits {
  const out = { ...DEFAULT_PACKAGE_LIMITS };
  for (const key of Object.keys(DEFAULT_PACKAGE_LIMITS) as (keyof PackageLimits)[]) {
    const value = partial[key];
    if (value === undefined) continue;
    const min = key === 'maxRedirects' ? 0 : 1;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
      throw new SupervisorError('E_PACKAGE_LIMITS', `package limit ${key} must be a whole number >= ${min} (got ${showValue(value)})`,
        { field: key, value });
    }
    out[key] = value;
  }
  return Object.freeze(out);
}

/** Stable codes of package errors, so callers can switch on them. */
export const PACKAGE_ERROR = Object.freeze({
  download: 'E_PACKAGE_DOWNLOAD',
  checksum: 'E_PACKAGE_CHECKSUM',
  tooLarge: 'E_PACKAGE_TOO_LARGE',
  escape: 'E_PACKAGE_ESCAPE',
  format: 'E_PACKAGE_FORMAT',
  manifest: 'E_PACKAGE_MANIFEST',
  aborted: 'E_PACKAGE_ABORTED',
  targetExists: 'E_PACKAGE_TARGET_EXISTS',
  ref: 'E_PACKAGE_REF',
});

/** Re-raises `err` with `where` (a uri or file) in front of its message, keeping its code and cause. */
export function withPlace(err: unknown, where: string, extra: Record<string, unknown> = {}): SupervisorError {
  if (err instanceof SupervisorError) {
    return new SupervisorError(err.code, `${where}: ${err.message}`, { ...err.details, ...extra }, { cause: err });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new SupervisorError(PACKAGE_ERROR.format, `${where}: ${message}`, extra, { cause: err });
}
