import { stat } from 'node:fs/promises';
import type { Piscina } from 'piscina';
import runPackageTask from './worker.js';
import { onAbort } from '../../core/abort.js';
import { SupervisorError } from '../../core/errors.js';
import type { ExtractLimits, ExtractResult } from './extract.js';
import { PACKAGE_ERROR } from './limits.js';
import type { HashResult, PackageTask, PackageTaskResult } from './worker.js';

// Two threads: packages are installed one at a time by default; the second serves `validate`/retries.
const MAX_THREADS = 2;
const IDLE_TIMEOUT_MS = 5_000;

let pool: Piscina<PackageTask, PackageTaskResult<HashResult | ExtractResult>> | undefined;

/**
 * The worker module next to this one: `worker.ts` when running from sources under tsx
 * (workers inherit `--import tsx` through execArgv), `worker.js` from the compiled dist/.
 */
export function workerFileUrl(from: string = import.meta.url): URL {
  return new URL(from.endsWith('.ts') ? './worker.ts' : './worker.js', from);
}

/**
 * piscina is loaded with the first package too big to handle inline: ~8 MB of a daemon's memory
 * that a fleet of small packages never uses (docs/decisions.md, "Daemon memory").
 */
async function getPool(): Promise<Piscina<PackageTask, PackageTaskResult<HashResult | ExtractResult>>> {
  if (pool) return pool;
  const { Piscina: PiscinaPool } = await import('piscina');
  pool ??= new PiscinaPool({ filename: workerFileUrl().href, minThreads: 0, maxThreads: MAX_THREADS, idleTimeout: IDLE_TIMEOUT_MS });
  return pool;
}

type TaskInput = { kind: 'hash'; file: string } | { kind: 'extract'; file: string; dest: string; limits: ExtractLimits };

/**
 * Packages up to this size are hashed and extracted right here: the thread hop costs more than
 * the work (measured: 200 small packages in 20 ms each through the pool; see docs/decisions.md).
 */
export const INLINE_MAX_BYTES = 512 * 1024;

async function run<T>(input: TaskInput, signal?: AbortSignal): Promise<T> {
  if (signal?.aborted) throw new SupervisorError(PACKAGE_ERROR.aborted, 'aborted before it started');
  // A shared flag instead of piscina's signal: the worker stops itself and we wait for it,
  // so nothing is still writing when the caller cleans up.
  const abort = new Int32Array(new SharedArrayBuffer(4));
  const stopWaiting = signal ? onAbort(signal, () => { Atomics.store(abort, 0, 1); }) : () => {};
  let result: PackageTaskResult<HashResult | ExtractResult>;
  try {
    const size = await stat(input.file).then((s) => s.size, () => Infinity);
    result = size <= INLINE_MAX_BYTES ? await runPackageTask({ ...input, abort }) : await (await getPool()).run({ ...input, abort });
  } catch (err) {
    throw new SupervisorError('E_PACKAGE_WORKER', `package worker failed: ${(err as Error).message}`, {}, { cause: err });
  } finally {
    stopWaiting();
  }
  if (!result.ok) throw new SupervisorError(result.error.code, result.error.message, result.error.details);
  return result.value as T;
}

/** sha256 and size of a file, computed on a pool thread. */
export function hashInPool(file: string, signal?: AbortSignal): Promise<HashResult> {
  return run<HashResult>({ kind: 'hash', file }, signal);
}

/** Extracts an archive into `dest` (an existing folder) on a pool thread, with every package check. */
export function extractInPool(file: string, dest: string, limits: ExtractLimits, signal?: AbortSignal): Promise<ExtractResult> {
  return run<ExtractResult>({ kind: 'extract', file, dest, limits: { maxEntries: limits.maxEntries, maxUncompressedBytes: limits.maxUncompressedBytes } }, signal);
}

/** Ends the shared pool's threads (tests, shutdown); a later task creates a new pool. */
export async function closePackagePool(): Promise<void> {
  const current = pool;
  pool = undefined;
  await current?.destroy();
}
