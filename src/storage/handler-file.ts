/**
 * Opening a file at a path a handler or its package controls (docs/contract.md, "What a handler
 * may place in its folder"): open() never blocks, never follows a link, and only a regular file
 * is used. A FIFO planted as heartbeat.log once held the daemon's main thread in open(); one
 * planted as a manifest or a log held a libuv file thread each, until none was left.
 */
import { closeSync, constants, fstatSync, ftruncateSync, openSync, type Stats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { SupervisorError } from '../core/errors.js';
import { readHandleCapped } from './capped-read.js';

const { O_RDONLY, O_WRONLY, O_CREAT, O_APPEND, O_NONBLOCK, O_NOFOLLOW } = constants;
// O_NONBLOCK: opening a FIFO returns at once (ENXIO for writing without a reader) instead of
// waiting for the other end; on a regular file it changes nothing. O_NOFOLLOW: a symlink as the
// last component fails with ELOOP instead of leading the supervisor elsewhere.
export const READ_FLAGS = O_RDONLY | O_NONBLOCK | O_NOFOLLOW;
/** Appends, created when missing (no O_TRUNC: a planted link must not be truncated before it is checked). */
export const APPEND_FLAGS = O_WRONLY | O_CREAT | O_APPEND | O_NONBLOCK | O_NOFOLLOW;
/** A read must not hold a handler's operation forever (a stalled file system): past this, the caller goes on. */
export const DEFAULT_READ_TIMEOUT_MS = 30_000;

/** What a non-regular file is, in words an operator knows. */
export function fileKind(st: Stats): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isDirectory()) return 'a folder';
  if (st.isSymbolicLink()) return 'a symbolic link';
  return st.isFile() ? 'a regular file' : 'not a file';
}

function refuse(path: string, kind: string, cause?: unknown): SupervisorError {
  return new SupervisorError('E_NOT_REGULAR_FILE', `${path} is ${kind}, not a regular file: the supervisor does not use it`,
    { path, kind }, cause === undefined ? undefined : { cause });
}

/** The open's errno as a refusal when it means "not a regular file"; other errors (ENOENT...) unchanged. */
function openFailure(path: string, err: unknown): unknown {
  switch ((err as NodeJS.ErrnoException | null)?.code) {
    case 'ELOOP': return refuse(path, 'a symbolic link', err);
    case 'ENXIO': return refuse(path, 'a FIFO, socket or device with nothing at its other end', err);
    case 'EISDIR': return refuse(path, 'a folder', err);
    default: return err;
  }
}

/** Throws unless the opened file is a regular file (for writing: with no other hard link, so no other file changes). */
function check(path: string, st: Stats, flags: number): void {
  if (!st.isFile()) throw refuse(path, fileKind(st));
  if ((flags & (O_WRONLY | constants.O_RDWR)) !== 0 && st.nlink > 1) throw refuse(path, `a hard link shared with ${st.nlink - 1} other name(s)`);
}

/** Opens a regular file without blocking or following a link; the caller closes `fd`. */
export function openRegularSync(path: string, flags = READ_FLAGS, mode = 0o600): { fd: number; stats: Stats } {
  let fd: number;
  try {
    fd = openSync(path, flags | O_NONBLOCK | O_NOFOLLOW, mode);
  } catch (err) {
    throw openFailure(path, err);
  }
  try {
    const stats = fstatSync(fd);
    check(path, stats, flags);
    return { fd, stats };
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/** Opens a regular file without blocking or following a link; the caller closes `handle`. */
export async function openRegular(path: string, flags = READ_FLAGS, mode = 0o600): Promise<{ handle: FileHandle; stats: Stats }> {
  let handle: FileHandle;
  try {
    handle = await open(path, flags | O_NONBLOCK | O_NOFOLLOW, mode);
  } catch (err) {
    throw openFailure(path, err);
  }
  try {
    const stats = await handle.stat();
    check(path, stats, flags);
    return { handle, stats };
  } catch (err) {
    await handle.close().catch(() => {});
    throw err;
  }
}

/**
 * Opens for writing from the start, created when missing: the file is checked before it is
 * emptied, so a link planted to another file never costs that file its content.
 */
export function openTruncatedSync(path: string, mode = 0o600): number {
  const { fd } = openRegularSync(path, APPEND_FLAGS, mode);
  try {
    ftruncateSync(fd, 0);
    return fd;
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/** Rejects with E_TIMEOUT when `work` takes longer than `timeoutMs`; the work itself runs on and cleans up after itself. */
export function withReadTimeout<T>(path: string, work: Promise<T>, timeoutMs = DEFAULT_READ_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new SupervisorError('E_TIMEOUT', `reading ${path} took longer than ${timeoutMs} ms`, { path, timeoutMs })), timeoutMs);
    timer.unref();
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

/**
 * The whole file, or null when it does not exist. Throws E_NOT_REGULAR_FILE for anything but a
 * regular file, E_FILE_TOO_LARGE past `maxBytes`, E_TIMEOUT past `timeoutMs`.
 */
export function readRegularFile(path: string, opts: { readonly maxBytes?: number; readonly timeoutMs?: number } = {}): Promise<Buffer | null> {
  return withReadTimeout(path, readCapped(path, opts.maxBytes ?? 16 * 1024 * 1024), opts.timeoutMs);
}

async function readCapped(path: string, maxBytes: number): Promise<Buffer | null> {
  let opened;
  try {
    opened = await openRegular(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException | null)?.code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw err;
  }
  const { handle, stats } = opened;
  try {
    return await readHandleCapped(handle, path, maxBytes, stats.size);
  } finally {
    await handle.close().catch(() => {});
  }
}

/** Appends to a regular file (created when missing) without blocking or following a link. */
export async function appendRegular(path: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  const { handle } = await openRegular(path, APPEND_FLAGS, mode);
  try {
    await handle.writeFile(data);
  } finally {
    await handle.close();
  }
}

/** Replaces the content of an existing regular file in place (writers holding it O_APPEND go on at the new end). */
export async function rewriteRegular(path: string, data: Uint8Array): Promise<void> {
  const { handle } = await openRegular(path, O_WRONLY | O_APPEND);
  try {
    await handle.truncate(0);
    await handle.writeFile(data);
  } finally {
    await handle.close();
  }
}
