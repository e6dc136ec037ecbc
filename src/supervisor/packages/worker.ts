/**
 * The piscina worker: hashing and extraction run here so a large package never blocks the
 * supervisor's event loop. Errors cross the thread boundary as plain data (structured clone
 * drops an Error's class and `code`), and the pool turns them back into SupervisorErrors.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { SupervisorError } from '../../core/errors.js';
import { extractArchive, type ExtractLimits, type ExtractResult } from './extract.js';
import { PACKAGE_ERROR } from './limits.js';
import type { ErrorCode } from '../../core/error-codes.js';

export type PackageTask =
  | { readonly kind: 'hash'; readonly file: string; readonly abort: Int32Array }
  | { readonly kind: 'extract'; readonly file: string; readonly dest: string; readonly limits: ExtractLimits; readonly abort: Int32Array };

export interface HashResult { readonly sha256: string; readonly bytes: number }

export interface WorkerFailure { readonly code: ErrorCode; readonly message: string; readonly details: Record<string, unknown> }

export type PackageTaskResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: WorkerFailure };

/** Runs one task; never throws, so the error's code survives the trip back to the main thread. */
export default async function runPackageTask(task: PackageTask): Promise<PackageTaskResult<HashResult | ExtractResult>> {
  // The main thread sets abort[0] = 1 instead of terminating us, so we stop between chunks cleanly.
  const aborted = (): boolean => Atomics.load(task.abort, 0) !== 0;
  try {
    const value = task.kind === 'hash' ? await hashFile(task.file, aborted) : await extractArchive(task.file, task.dest, task.limits, aborted);
    return { ok: true, value };
  } catch (err) {
    if (err instanceof SupervisorError) return { ok: false, error: { code: err.code, message: err.message, details: { ...err.details } } };
    const message = err instanceof Error ? err.message : String(err);
    return { ok: false, error: { code: PACKAGE_ERROR.format, message, details: {} } };
  }
}

/** sha256 of a file, streamed; polls `aborted` between chunks. */
export async function hashFile(file: string, aborted: () => boolean = () => false): Promise<HashResult> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 })) {
    if (aborted()) throw new SupervisorError(PACKAGE_ERROR.aborted, 'checksum aborted');
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), bytes };
}
