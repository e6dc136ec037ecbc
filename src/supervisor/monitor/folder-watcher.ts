/**
 * ONE chokidar instance for every folder the monitors care about (handler dirs for heartbeat.log,
 * status/ folders), each watched at depth 0. Never files one by one: chokidar handles a path
 * that does not exist yet by watching its parent, which costs seconds per event at scale and,
 * at depth 0, never watches the folder's content once it appears. So this class handles absent
 * folders itself: it looks for them on one retry timer (and at once when a watched parent
 * reports them), then reports the files found in them as 'add'.
 *
 * chokidar 5 options, checked against its source: `atomic` (default with fs.watch) holds an
 * 'unlink' 100 ms so delete+recreate arrives as one 'change', and a write to x.tmp renamed onto x
 * arrives as 'add' x.tmp, 'change' x, 'unlink' x.tmp; `awaitWriteFinish` stays off (it holds
 * every event until the size is stable, 2 s by default). chokidar drops a 'change' of a path
 * within 50 ms of the previous one, so listeners treat events as hints to re-read, not counts.
 *
 * A folder whose last listener leaves stays with chokidar (its events are dropped) until it is
 * deleted or close(): chokidar's unwatch() ignores the folder's whole subtree from then on, which
 * would silently blind a watch of <folder>/status. A folder deleted or replaced is noticed through
 * its own watch; chokidar's dead watches are dropped with its internal _remove (typed in its d.ts),
 * else a re-created folder would be attached to the dead one.
 */
import { watch, type FSWatcher } from 'chokidar';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { systemClock, type Clock, type TimerId } from '../../actors/clock.js';
import { SupervisorError } from '../errors.js';

export type FolderEventKind = 'add' | 'change' | 'unlink';

/** A file directly inside a watched folder was created, written or removed. */
export interface FolderEvent {
  readonly kind: FolderEventKind;
  /** Absolute path of the file. */
  readonly path: string;
}

export type FolderListener = (event: FolderEvent) => void;

export interface FolderWatcherOptions {
  /** For the retry timer; systemClock by default. */
  readonly clock?: Clock;
  /** How often folders that do not exist (yet) are looked for, in ms; 500 by default. */
  readonly retryMs?: number;
  /** Watcher errors (e.g. the inotify watch limit) and throwing listeners; process.emitWarning by default. */
  readonly onError?: (error: SupervisorError) => void;
}

// checking: a stat is in flight; pending: absent, on the retry list; active: handed to chokidar.
type FolderState = 'checking' | 'pending' | 'active';

interface Folder {
  readonly path: string;
  readonly listeners: Set<FolderListener>;
  state: FolderState;
  /** Inode seen when activated: a folder replaced under the same name needs a new OS watch. */
  ino: number | null;
}

const ATOMIC_MS = 100;

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** Several listeners per folder, each with its own disposer; events for one folder never reach another's listeners. */
export class FolderWatcher {
  readonly #fsw: FSWatcher;
  readonly #clock: Clock;
  readonly #retryMs: number;
  readonly #onError: (error: SupervisorError) => void;
  readonly #folders = new Map<string, Folder>();
  #retryTimer: TimerId | undefined;
  #closePromise: Promise<void> | undefined;

  constructor(opts: FolderWatcherOptions = {}) {
    const retryMs = opts.retryMs ?? 500;
    if (typeof retryMs !== 'number' || !(retryMs > 0) || !Number.isFinite(retryMs)) {
      throw new SupervisorError('E_INVALID_ARGUMENT', `FolderWatcher: retryMs must be a finite number > 0 (got ${String(retryMs)})`, { retryMs });
    }
    this.#clock = opts.clock ?? systemClock;
    this.#retryMs = retryMs;
    this.#onError = opts.onError ?? ((err) => process.emitWarning(err));
    this.#fsw = watch([], { depth: 0, ignoreInitial: true, atomic: ATOMIC_MS, awaitWriteFinish: false, persistent: true });
    this.#fsw.on('all', (event, p) => this.#onChokidar(event, p));
    this.#fsw.on('raw', (event, evPath, details) => this.#onRaw(event, evPath, details));
    this.#fsw.on('error', (err) => this.#onError(new SupervisorError('E_WATCH_FAILED',
      `folder watcher: ${err instanceof Error ? err.message : String(err)}`, {}, { cause: err })));
  }

  /** Calls `listener` for files added, changed or removed directly in `folder` (which may not exist yet); returns the disposer. */
  add(folder: string, listener: FolderListener): () => void {
    if (this.#closePromise) throw new SupervisorError('E_WATCHER_CLOSED', `cannot watch ${folder}: the folder watcher is closed`, { folder });
    if (typeof folder !== 'string' || folder === '') {
      throw new SupervisorError('E_INVALID_ARGUMENT', `FolderWatcher.add: folder must be a non-empty path (got ${JSON.stringify(folder)})`, { folder });
    }
    if (typeof listener !== 'function') throw new SupervisorError('E_INVALID_ARGUMENT', `FolderWatcher.add(${folder}): listener must be a function`, { folder });
    const key = path.resolve(folder);
    let entry = this.#folders.get(key);
    if (!entry) {
      entry = { path: key, listeners: new Set(), state: 'checking', ino: null };
      this.#folders.set(key, entry);
      void this.#activate(entry, false);
    }
    const wrapped: FolderListener = (e) => listener(e); // a distinct identity, so one listener may be added twice
    entry.listeners.add(wrapped);
    const owner = entry;
    let disposed = false;
    return () => {
      if (disposed) return;
      disposed = true;
      owner.listeners.delete(wrapped);
      // An active folder stays with chokidar (its unwatch() would blind <folder>/... for good); absent ones are dropped.
      if (owner.listeners.size === 0 && owner.state !== 'active' && this.#folders.get(owner.path) === owner) this.#folders.delete(owner.path);
    };
  }

  /** Folders known, how many are still absent, and listeners registered. */
  get stats(): { readonly folders: number; readonly pending: number; readonly listeners: number } {
    let pending = 0;
    let listeners = 0;
    for (const f of this.#folders.values()) {
      if (f.state !== 'active') pending++;
      listeners += f.listeners.size;
    }
    return { folders: this.#folders.size, pending, listeners };
  }

  /** Stops watching everything; idempotent, the same promise every time. */
  close(): Promise<void> {
    this.#closePromise ??= (async () => {
      if (this.#retryTimer !== undefined) this.#clock.clearTimeout(this.#retryTimer);
      this.#retryTimer = undefined;
      this.#folders.clear();
      await this.#fsw.close();
    })();
    return this.#closePromise;
  }

  /** Hands a folder that exists to chokidar; otherwise puts it on the retry list. Never rejects. */
  async #activate(folder: Folder, appeared: boolean): Promise<void> {
    folder.state = 'checking';
    let ino: number;
    try {
      const st = await stat(folder.path);
      if (!st.isDirectory()) throw Object.assign(new Error(`${folder.path} is not a folder`), { code: 'ENOTDIR' });
      ino = st.ino;
    } catch (err) {
      if (!isMissing(err)) this.#onError(new SupervisorError('E_WATCH_FAILED', `cannot watch ${folder.path}: ${(err as Error).message}`, { folder: folder.path }, { cause: err }));
      if (this.#folders.get(folder.path) === folder) this.#pend(folder);
      return;
    }
    if (this.#closePromise || this.#folders.get(folder.path) !== folder) return;
    folder.state = 'active';
    folder.ino = ino;
    this.#fsw.add(folder.path);
    if (appeared) await this.#reportExisting(folder);
  }

  /** Files already in a folder that appeared after its listeners registered are news to them. */
  async #reportExisting(folder: Folder): Promise<void> {
    let names: string[];
    try {
      names = (await readdir(folder.path, { withFileTypes: true })).filter((d) => !d.isDirectory()).map((d) => d.name);
    } catch (err) {
      if (!isMissing(err)) this.#onError(new SupervisorError('E_WATCH_FAILED', `cannot list ${folder.path}: ${(err as Error).message}`, { folder: folder.path }, { cause: err }));
      return;
    }
    for (const name of names.sort()) this.#deliver(folder, { kind: 'add', path: path.join(folder.path, name) });
  }

  #pend(folder: Folder): void {
    folder.state = 'pending';
    folder.ino = null;
    if (folder.listeners.size === 0) {
      this.#folders.delete(folder.path);
      return;
    }
    if (this.#retryTimer === undefined && !this.#closePromise) this.#retryTimer = this.#clock.setTimeout(() => this.#retry(), this.#retryMs);
  }

  #retry(): void {
    this.#retryTimer = undefined;
    for (const folder of this.#folders.values()) if (folder.state === 'pending') void this.#activate(folder, true);
  }

  /** The folder vanished or was replaced: forget chokidar's dead watches, then look for it again. */
  #gone(folder: Folder, forgetInChokidar: boolean): void {
    if (folder.state !== 'active' || this.#closePromise) return;
    folder.state = 'checking';
    if (forgetInChokidar) {
      // chokidar's own cleanup for a removed folder (emits its unlinkDir); unwatch() would ignore the subtree forever.
      this.#fsw._remove(path.dirname(folder.path), path.basename(folder.path), true);
    }
    if (folder.listeners.size === 0) this.#folders.delete(folder.path);
    else void this.#activate(folder, true);
  }

  #onChokidar(event: string, p: string): void {
    if (event === 'add' || event === 'change' || event === 'unlink') {
      const folder = this.#folders.get(path.dirname(p));
      if (folder) this.#deliver(folder, { kind: event, path: p });
      return;
    }
    const folder = this.#folders.get(p);
    if (!folder) return;
    if (event === 'addDir' && folder.state === 'pending') void this.#activate(folder, true);
    else if (event === 'unlinkDir') this.#gone(folder, false);
  }

  /** A watched folder's own removal or rename reaches only its own fs.watch (as an event named after it). */
  #onRaw(event: string, evPath: string, details: unknown): void {
    if (event !== 'rename') return;
    const watched = (details as { watchedPath?: unknown } | null)?.watchedPath;
    if (typeof watched !== 'string') return;
    const folder = this.#folders.get(watched);
    if (!folder || folder.state !== 'active' || evPath !== path.basename(folder.path)) return;
    const ino = folder.ino;
    const stillSame = (): boolean => folder.state === 'active' && folder.ino === ino && this.#folders.get(folder.path) === folder;
    stat(folder.path).then(
      (st) => { if ((!st.isDirectory() || st.ino !== ino) && stillSame()) this.#gone(folder, true); },
      (err: unknown) => {
        if (!isMissing(err)) this.#onError(new SupervisorError('E_WATCH_FAILED', `cannot check ${folder.path}: ${(err as Error).message}`, { folder: folder.path }, { cause: err }));
        else if (stillSame()) this.#gone(folder, true);
      },
    );
  }

  #deliver(folder: Folder, event: FolderEvent): void {
    for (const listener of [...folder.listeners]) {
      try {
        listener(event);
      } catch (err) {
        this.#onError(new SupervisorError('E_WATCH_LISTENER', `a listener of ${folder.path} threw on ${event.kind} ${event.path}: ${(err as Error)?.message ?? String(err)}`,
          { folder: folder.path, file: event.path }, { cause: err }));
      }
    }
  }
}
