/**
 * Every folder the monitors care about (handler dirs for heartbeat.log, status/ folders), each
 * watched at depth 0 with the kernel's inotify through fs.watch (libuv shares one inotify fd
 * for all of them). Never files one by one, and not chokidar here: chokidar answers every
 * event in a folder by reading the whole folder again (readdirp + lstat of each entry), which
 * with 1000 handlers writing heartbeats by rename cost a fifth of a core at idle (measured, see
 * docs/decisions.md). An fs.watch event names the file; one stat tells add from unlink.
 *
 * A folder that does not exist yet is looked for on one retry timer; when it appears, the files
 * already in it are reported as 'add'. A watched folder that is removed or replaced (its own
 * name reported, or its watch failing) is looked for again the same way. Events are hints to
 * re-read, not counts: the kernel may coalesce two writes into one event.
 */
import { watch, type FSWatcher } from 'node:fs';
import { statSync, type Stats } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { systemClock, type Clock, type TimerId } from '../../core/clock.js';
import { SupervisorError } from '../../core/errors.js';

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

// checking: a stat is in flight; pending: absent, on the retry list; active: watched.
type FolderState = 'checking' | 'pending' | 'active';

interface Folder {
  readonly path: string;
  readonly listeners: Set<FolderListener>;
  state: FolderState;
  /** Inode seen when activated: a folder replaced under the same name needs a new OS watch. */
  ino: number | null;
  watcher: FSWatcher | null;
  /** Files known to be there, so a rename onto one reads as a change (a write by rename), not an add. */
  names: Set<string>;
}

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** Several listeners per folder, each with its own disposer; events for one folder never reach another's listeners. */
export class FolderWatcher {
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
      entry = { path: key, listeners: new Set(), state: 'checking', ino: null, watcher: null, names: new Set() };
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
      if (owner.listeners.size === 0 && this.#folders.get(owner.path) === owner) this.#drop(owner);
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
      for (const f of this.#folders.values()) f.watcher?.close();
      this.#folders.clear();
    })();
    return this.#closePromise;
  }

  #drop(folder: Folder): void {
    folder.watcher?.close();
    folder.watcher = null;
    this.#folders.delete(folder.path);
  }

  /** Watches a folder that exists; otherwise puts it on the retry list. Never rejects. */
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
    try {
      folder.watcher = watch(folder.path, { persistent: true }, (eventType, filename) => this.#onEvent(folder, eventType, filename));
      folder.watcher.on('error', () => this.#gone(folder));
    } catch (err) {
      if (isMissing(err)) { this.#pend(folder); return; }
      this.#onError(new SupervisorError('E_WATCH_FAILED', `cannot watch ${folder.path}: ${(err as Error).message}`, { folder: folder.path }, { cause: err }));
      this.#pend(folder);
      return;
    }
    folder.state = 'active';
    folder.ino = ino;
    await this.#reportExisting(folder, appeared);
  }

  /** Learns the files already there; if the folder appeared after its listeners registered, they are news to them. */
  async #reportExisting(folder: Folder, report: boolean): Promise<void> {
    let names: string[];
    try {
      names = (await readdir(folder.path, { withFileTypes: true })).filter((d) => !d.isDirectory()).map((d) => d.name);
    } catch (err) {
      if (!isMissing(err)) this.#onError(new SupervisorError('E_WATCH_FAILED', `cannot list ${folder.path}: ${(err as Error).message}`, { folder: folder.path }, { cause: err }));
      return;
    }
    for (const name of names) folder.names.add(name);
    if (report) for (const name of names.sort()) this.#deliver(folder, { kind: 'add', path: path.join(folder.path, name) });
  }

  #pend(folder: Folder): void {
    folder.state = 'pending';
    folder.ino = null;
    folder.watcher?.close();
    folder.watcher = null;
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

  /** The folder vanished or was replaced: drop its watch, then look for it again. */
  #gone(folder: Folder): void {
    if (folder.state !== 'active' || this.#closePromise) return;
    folder.watcher?.close();
    folder.watcher = null;
    folder.state = 'checking';
    if (folder.listeners.size === 0) this.#folders.delete(folder.path);
    else void this.#activate(folder, true);
  }

  /** 'change' is a write; 'rename' is a create, delete or rename: one stat tells which. */
  #onEvent(folder: Folder, eventType: string, filename: string | Buffer | null): void {
    if (folder.state !== 'active' || filename === null) return;
    const name = filename.toString();
    // A bare name from inotify under a resolved folder path: concatenation is path.join here, at a
    // fraction of its cost (it was 5 % of the steady daemon's profile at 200 events a second).
    const file = folder.path === '/' ? `/${name}` : `${folder.path}/${name}`;
    if (eventType === 'change') {
      // A first write into a file created moments before may arrive as its only event.
      const kind = folder.names.has(name) ? 'change' : 'add';
      folder.names.add(name);
      this.#deliver(folder, { kind, path: file });
      return;
    }
    // A stat of a name in a local folder the supervisor owns: synchronous, as the thread-pool round
    // trip (two wake-ups and a promise per event) cost more than the call (docs/decisions.md).
    let st: Stats | null = null;
    let err: unknown = null;
    try { st = statSync(file); } catch (e) { err = e; }
    if (st) {
      if (st.isDirectory()) return;
      const known = folder.names.has(name);
      folder.names.add(name);
      this.#deliver(folder, { kind: known ? 'change' : 'add', path: file });
      return;
    }
    if (isMissing(err) && folder.names.delete(name)) this.#deliver(folder, { kind: 'unlink', path: file });
    // The folder's own name: it was removed or renamed away (inotify IN_DELETE_SELF/IN_MOVE_SELF).
    if (name === path.basename(folder.path)) void this.#checkSelf(folder, folder.ino);
  }

  async #checkSelf(folder: Folder, ino: number | null): Promise<void> {
    const st = await stat(folder.path).catch(() => null);
    if (folder.state === 'active' && folder.ino === ino && (!st || !st.isDirectory() || st.ino !== ino)) this.#gone(folder);
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
