import { rm } from 'node:fs/promises';
import { SupervisorError } from '../../core/errors.js';
import { redactUrl, redactUrls } from '../../core/redact.js';
import { downloadToFile } from './fetch.js';
import { PACKAGE_ERROR, withPlace, type PackageLimits } from './limits.js';
import { hashInPool } from './pool.js';
import type { ErrorCode } from '../../core/error-codes.js';

export interface FetchVerifiedOptions {
  readonly uris: readonly string[];
  /** Expected sha256, lower- or upper-case hex. */
  readonly sha256: string;
  /** The temporary file to download into; rewritten for each attempt. */
  readonly dest: string;
  readonly limits: PackageLimits;
  readonly signal?: AbortSignal;
  readonly log?: (line: string) => void;
}

export interface Fetched { readonly uri: string; readonly bytes: number }

// One retry on a checksum mismatch: a transfer glitch is worth a second try, a wrong file is not.
const CHECKSUM_ATTEMPTS = 2;

/**
 * Downloads the first uri whose bytes match `sha256` into `dest`: uris in order, a checksum
 * mismatch retried once on the same uri, any other failure moving on at once. When every
 * uri fails, the error lists each one's failure. Uris are named redacted (a SAS token in the
 * query must not reach the handler's status, the report or a log).
 */
export async function fetchVerified(opts: FetchVerifiedOptions): Promise<Fetched> {
  const expected = opts.sha256.toLowerCase();
  const failures: { uri: string; code: ErrorCode; message: string }[] = [];
  for (const uri of opts.uris) {
    const shown = redactUrl(uri);
    for (let attempt = 1; attempt <= CHECKSUM_ATTEMPTS; attempt++) {
      try {
        await rm(opts.dest, { force: true });
        opts.log?.(`downloading ${shown}${attempt > 1 ? ` (attempt ${attempt})` : ''}`);
        const { bytes } = await downloadToFile(uri, opts.dest, {
          maxBytes: opts.limits.maxDownloadBytes, timeoutMs: opts.limits.downloadTimeoutMs,
          maxRedirects: opts.limits.maxRedirects, signal: opts.signal,
        });
        const { sha256 } = await hashInPool(opts.dest, opts.signal);
        if (sha256 === expected) {
          opts.log?.(`verified ${shown}: ${bytes} bytes, sha256 ${sha256}`);
          return { uri, bytes };
        }
        throw new SupervisorError(PACKAGE_ERROR.checksum, `sha256 mismatch: expected ${expected}, got ${sha256}`,
          { expected, value: sha256 });
      } catch (err) {
        // The download's own message may quote a redirect's URL.
        const inner = err instanceof Error ? Object.assign(err, { message: redactUrls(err.message) }) : err;
        const placed = withPlace(inner, shown, { uri: shown });
        if (placed.code === PACKAGE_ERROR.aborted) throw placed;
        opts.log?.(placed.message);
        if (placed.code === PACKAGE_ERROR.checksum && attempt < CHECKSUM_ATTEMPTS) continue;
        failures.push({ uri: shown, code: placed.code, message: placed.message });
        break;
      }
    }
  }
  await rm(opts.dest, { force: true });
  const codes = new Set(failures.map((f) => f.code));
  const code = codes.size === 1 ? (failures[0] as { code: ErrorCode }).code : PACKAGE_ERROR.download;
  throw new SupervisorError(code, `every uri failed:\n${failures.map((f) => `  ${f.message}`).join('\n')}`, { failures });
}
