/**
 * Bounded reads of files written by the supervisor or by handlers: a runaway handler's
 * multi-gigabyte status file must not take the daemon's memory with it.
 */
import { open } from 'node:fs/promises';
import { SupervisorError } from '../core/errors.js';
import { readHandleCapped } from './capped-read.js';
import { contentStart, decodeText, tryParseJson } from '../protocol/lenient.js';

/** Default read cap: far above any sane status, heartbeat or state file. */
export const DEFAULT_MAX_READ_BYTES = 16 * 1024 * 1024;

/** The whole file, or null when it does not exist; throws E_FILE_TOO_LARGE past `maxBytes` (even if it grows while read). */
export async function readFileCapped(path: string, maxBytes = DEFAULT_MAX_READ_BYTES): Promise<Buffer | null> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return null;
    throw readError(path, error);
  }
  try {
    return await readHandleCapped(handle, path, maxBytes);
  } catch (error) {
    if (error instanceof SupervisorError) throw error;
    throw readError(path, error);
  } finally {
    await handle.close().catch(() => {});
  }
}

/** A parsed JSON file, or undefined when it does not exist; throws E_JSON_PARSE naming the file, reason and content start. */
export async function readJsonFile(path: string, opts: { readonly maxBytes?: number } = {}): Promise<unknown> {
  const data = await readFileCapped(path, opts.maxBytes);
  if (data === null) return undefined;
  const text = decodeText(data);
  const parsed = tryParseJson(text);
  if (!parsed.ok) {
    throw new SupervisorError('E_JSON_PARSE', `${path}: not valid JSON (${parsed.error}); content starts with: ${contentStart(text) || '(nothing)'}`,
      { path, reason: parsed.error });
  }
  return parsed.value;
}

function errnoOf(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error ? String((error as { code: unknown }).code) : undefined;
}

function readError(path: string, cause: unknown): SupervisorError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new SupervisorError('E_READ', `cannot read ${path}: ${reason}`, { path, errno: errnoOf(cause) ?? null }, { cause });
}
