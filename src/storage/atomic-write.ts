/**
 * The one way the supervisor writes a file it owns (CONTRACT section 8): exclusive create
 * of `<path>.next`, write, fsync, close, rename onto `<path>`, fsync of the folder. A
 * reader sees the old content or the new, never a mix; a crash leaves at most a
 * `.next` leftover, which the next write (or removeLeftovers at start-up) clears.
 * Assumes one writing process per lib dir (the daemon lock guarantees it).
 */
import { open, readdir, rename, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { SupervisorError } from '../core/errors.js';
import type { ErrorCode } from '../core/error-codes.js';

export interface AtomicWriteOptions {
  /** File mode, applied exactly whatever the umask; default 0o600. */
  readonly mode?: number;
  /** Told about a crash leftover `<path>.next` that was removed before writing. */
  readonly onLeftover?: (leftover: string) => void;
}

export const LEFTOVER_SUFFIX = '.next';

// Per-path chains of writes; an entry lives only while its chain has work queued.
const queues = new Map<string, Promise<void>>();
// `.next` files this process is writing right now: never leftovers.
const inFlight = new Set<string>();

const noop = (): void => {};

/** Writes `data` to `path` atomically and durably; writes to one path from this process run in call order. */
export function atomicWrite(path: string, data: string | Uint8Array, opts: AtomicWriteOptions = {}): Promise<void> {
  const target = resolve(path);
  const previous = queues.get(target) ?? Promise.resolve();
  const run = previous.then(() => writeNow(target, data, opts));
  const tail = run.then(noop, noop);
  queues.set(target, tail);
  void tail.then(() => {
    if (queues.get(target) === tail) queues.delete(target);
  });
  return run;
}

/** atomicWrite of a JSON document: compact (or indented with `pretty`), with a trailing newline. */
export function atomicWriteJson(path: string, value: unknown, opts: AtomicWriteOptions & { readonly pretty?: boolean } = {}): Promise<void> {
  const text = JSON.stringify(value, null, opts.pretty ? 2 : undefined) as string | undefined;
  if (text === undefined) {
    return Promise.reject(new SupervisorError('E_NOT_JSON', `cannot write ${path}: the value has no JSON form (${typeof value})`, { path }));
  }
  return atomicWrite(path, `${text}\n`, opts);
}

/** How many paths have writes queued or running (tests check that the queue map drains). */
export function pendingAtomicWrites(): number {
  return queues.size;
}

/**
 * Removes `*.next` crash leftovers under `dir` (only folders the supervisor owns: handler
 * package content may legitimately hold such names) and returns their paths. Skips the
 * ones this process is writing; a missing folder has none.
 */
export async function removeLeftovers(dir: string, opts: { readonly recursive?: boolean } = {}): Promise<string[]> {
  const removed: string[] = [];
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if (errnoOf(error) === 'ENOENT' || errnoOf(error) === 'ENOTDIR') return removed;
    throw fail('E_LEFTOVER_SCAN', `cannot list ${dir} for leftovers`, resolve(dir), error);
  }
  for (const entry of entries) {
    const full = resolve(dir, entry.name);
    if (entry.isDirectory()) {
      if (opts.recursive) removed.push(...await removeLeftovers(full, opts));
    } else if (entry.name.endsWith(LEFTOVER_SUFFIX) && !inFlight.has(full)) {
      if (await unlinkIfPresent(full)) removed.push(full);
    }
  }
  return removed;
}

/** fsync of a folder, so a rename or create in it survives a power loss. */
async function fsyncDir(dir: string): Promise<void> {
  folderFsyncCount += 1;
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (error) {
    // Some filesystems cannot fsync a folder; nothing more can be done there.
    if (!['EINVAL', 'ENOTSUP', 'EISDIR'].includes(errnoOf(error) ?? '')) throw fail('E_FSYNC_DIR', `cannot fsync folder ${dir}`, dir, error);
  } finally {
    await handle?.close().catch(noop);
  }
}

let folderFsyncCount = 0;
/** Folder fsyncs started by this process (tests check that concurrent writes share them). */
export function folderFsyncs(): number {
  return folderFsyncCount;
}

// Group commit of folder fsyncs: one fsync makes every rename done before it durable, so callers
// that arrive while one runs share the next one instead of queueing one each (a thousand handler
// records renamed in state/ at once cost a handful of fsyncs, not a thousand).
const dirSyncs = new Map<string, { running: Promise<void>; next: Promise<void> | null }>();

/** fsync of a folder, so a rename or create in it (done before this call) survives a power loss. */
export function syncDir(dir: string): Promise<void> {
  const key = resolve(dir);
  const state = dirSyncs.get(key);
  if (!state) {
    const running = fsyncDir(key).finally(() => {
      const s = dirSyncs.get(key);
      if (s && s.running === running && s.next === null) dirSyncs.delete(key);
    });
    dirSyncs.set(key, { running, next: null });
    return running;
  }
  // One is running: it may have started before our rename, so wait for the one after it.
  state.next ??= state.running.then(noop, noop).then(() => {
    const next = fsyncDir(key);
    const after = next.finally(() => {
      const s = dirSyncs.get(key);
      if (s && s.running === after && s.next === null) dirSyncs.delete(key);
    });
    dirSyncs.set(key, { running: after, next: null });
    return next;
  });
  return state.next;
}

async function writeNow(target: string, data: string | Uint8Array, opts: AtomicWriteOptions): Promise<void> {
  const next = target + LEFTOVER_SUFFIX;
  const mode = opts.mode ?? 0o600;
  inFlight.add(next);
  try {
    const handle = await openExclusive(next, mode, opts.onLeftover);
    try {
      // Created with its mode: the umask can only take bits away, and only then is a chmod needed.
      if ((mode & process.umask()) !== 0) await handle.chmod(mode);
      await handle.writeFile(data);
      await handle.sync();
    } catch (error) {
      await handle.close().catch(noop);
      await unlinkIfPresent(next).catch(noop);
      throw fail('E_ATOMIC_WRITE', `cannot write ${next}`, target, error);
    }
    await handle.close();
    try {
      await rename(next, target);
    } catch (error) {
      await unlinkIfPresent(next).catch(noop);
      throw fail('E_ATOMIC_WRITE', `cannot rename ${next} onto ${target}`, target, error);
    }
    await syncDir(dirname(target));
  } finally {
    inFlight.delete(next);
  }
}

async function openExclusive(next: string, mode: number, onLeftover: ((leftover: string) => void) | undefined): Promise<FileHandle> {
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await open(next, 'wx', mode);
    } catch (error) {
      // Writes to one path are serialised, so an existing .next is a crash leftover: clear it, retry once.
      if (errnoOf(error) !== 'EEXIST' || attempt > 0) {
        throw fail('E_ATOMIC_WRITE', `cannot create ${next}${attempt > 0 ? ' (still there after removing a leftover: another writer?)' : ''}`, next, error);
      }
      await unlinkIfPresent(next);
      onLeftover?.(next);
    }
  }
}

async function unlinkIfPresent(path: string): Promise<boolean> {
  try {
    await unlink(path);
    return true;
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return false;
    throw fail('E_LEFTOVER_REMOVE', `cannot remove ${path}`, path, error);
  }
}

function errnoOf(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error ? String((error as { code: unknown }).code) : undefined;
}

function fail(code: ErrorCode, what: string, path: string, cause: unknown): SupervisorError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new SupervisorError(code, `${what}: ${reason}`, { path, errno: errnoOf(cause) ?? null }, { cause });
}

