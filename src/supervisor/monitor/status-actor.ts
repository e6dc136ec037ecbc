/**
 * The extension status collector: for every watched handler, reads its status files on
 * start and when its status folder reports a change, and emits `extensionStatus` only
 * when what a file says changed. Change events are coalesced per file on the injected
 * clock, so a handler rewriting its status 10 times a second costs ~2 reads a second.
 */
import { resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { ActorContext, Behavior, Reply } from '../../actors/actor.js';
import type { TimerId } from '../../core/clock.js';
import { SupervisorError } from '../../core/errors.js';
import type { ExtensionStatus } from '../../protocol/status-file.js';
import type { MonitorEvent, WatchSpec } from './types.js';
import { nextReadDelay, readExtensionStatus, statusTargets, type StatusTarget } from './status-collector.js';
import type { FolderEvent } from './folder-watcher.js';

/** The shape of monitor/folder-watcher.ts's FolderWatcher; declared here so any watcher with it will do. */
export interface FolderWatch {
  /** Starts reporting changes in `folder`; returns the disposer that stops them. */
  add(folder: string, listener: (event: FolderEvent) => void): () => void;
}

export type ExtensionStatusEvent = Extract<MonitorEvent, { type: 'extensionStatus' }>;

/** Counters for tests and metrics: how much watching, reading and emitting happened. */
export interface StatusCollectorStats {
  readonly handlers: number;
  readonly files: number;
  readonly events: number;
  readonly reads: number;
  readonly emits: number;
  readonly pendingReads: number;
}

export type StatusMessage =
  | Extract<MonitorEvent, { type: 'watch' }>
  /** From the folder watcher: something changed in a watched handler's status folder. */
  | { readonly type: 'statusFolderEvent'; readonly handler: string; readonly path: string }
  /** From this actor's own timer: a coalesced read of one file is due; stale tokens are ignored. */
  | { readonly type: 'statusReadDue'; readonly handler: string; readonly file: string; readonly token: number }
  | { readonly type: 'stats'; readonly reply: Reply<StatusCollectorStats> };

export interface StatusActorOptions {
  readonly watcher: FolderWatch;
  readonly emit: (event: ExtensionStatusEvent) => void;
  /** Delay between a change event and the read (default 50 ms): a writer that truncates, then writes, is not caught half-way. */
  readonly settleMs?: number;
  /** Least time between two reads of one file (default 500 ms: at most 2 reads a second). */
  readonly minIntervalMs?: number;
  /** Bytes read at most from one status file (default 1 MiB). */
  readonly readLimit?: number;
}

interface FileState {
  readonly target: StatusTarget;
  last: ExtensionStatus | null;
  lastReadAt: number;
  lastEventAt: number;
  timer: TimerId | null;
  token: number;
}

interface HandlerState {
  readonly folder: string;
  /** null while the folder could not be watched: the next `watch` message retries. */
  unsubscribe: (() => void) | null;
  files: Map<string, FileState>;
}

type Ctx = ActorContext<StatusMessage>;

/** Builds the status collector's behavior; one actor serves every handler. */
export function statusCollectorBehavior(opts: StatusActorOptions): Behavior<StatusMessage> {
  const settleMs = opts.settleMs ?? 50;
  const minIntervalMs = opts.minIntervalMs ?? 500;
  const handlers = new Map<string, HandlerState>();
  const counts = { events: 0, reads: 0, emits: 0 };
  let nextToken = 0;

  function drop(handler: string, ctx: Ctx): void {
    const state = handlers.get(handler);
    if (!state) return;
    handlers.delete(handler);
    state.unsubscribe?.();
    for (const file of state.files.values()) if (file.timer !== null) ctx.clock.clearTimeout(file.timer);
  }

  function subscribe(handler: string, state: HandlerState, ctx: Ctx): unknown {
    try {
      state.unsubscribe = opts.watcher.add(state.folder, (event) => ctx.self.tell({
        type: 'statusFolderEvent', handler, path: resolve(state.folder, event.path),
      }));
      return undefined;
    } catch (err) {
      return err;
    }
  }

  async function read(handler: string, file: FileState, ctx: Ctx): Promise<void> {
    file.lastReadAt = ctx.clock.now();
    counts.reads += 1;
    const status = await readExtensionStatus(file.target.file, opts.readLimit === undefined ? {} : { readLimit: opts.readLimit });
    if (file.last !== null && isDeepStrictEqual(file.last, status)) return;
    file.last = status;
    counts.emits += 1;
    const { extension, sequenceNumber, file: path } = file.target;
    opts.emit({ type: 'extensionStatus', handler, extension, sequenceNumber, status, file: path });
  }

  async function watch(handler: string, spec: WatchSpec | null, ctx: Ctx): Promise<void> {
    if (spec === null) return drop(handler, ctx);
    let targets: StatusTarget[];
    try {
      targets = statusTargets(spec);
    } catch (err) {
      drop(handler, ctx);
      throw err;
    }
    const folder = resolve(spec.statusFolder);
    if (handlers.get(handler)?.folder !== folder) drop(handler, ctx);
    const state = handlers.get(handler) ?? { folder, unsubscribe: null, files: new Map<string, FileState>() };
    handlers.set(handler, state);
    const watchError = state.unsubscribe === null ? subscribe(handler, state, ctx) : undefined;
    const files = new Map<string, FileState>();
    for (const target of targets) {
      const prev = state.files.get(target.file);
      const same = prev !== undefined && prev.target.extension === target.extension && prev.target.sequenceNumber === target.sequenceNumber;
      files.set(target.file, same ? prev : { target, last: null, lastReadAt: -Infinity, lastEventAt: -Infinity, timer: null, token: 0 });
    }
    for (const [path, old] of state.files) {
      if (files.get(path) !== old && old.timer !== null) ctx.clock.clearTimeout(old.timer);
    }
    state.files = files;
    // Every spec change re-reads: a new sequence number or an enable usually comes with a new status.
    for (const file of files.values()) await read(handler, file, ctx);
    if (watchError !== undefined) {
      throw new SupervisorError('E_STATUS_WATCH', `cannot watch status folder ${folder} of handler "${handler}": ${(watchError as Error)?.message ?? String(watchError)}`,
        { handler, folder }, { cause: watchError });
    }
  }

  function changed(handler: string, path: string, ctx: Ctx): void {
    counts.events += 1;
    const file = handlers.get(handler)?.files.get(path);
    if (!file) return; // not a status file we read
    file.lastEventAt = ctx.clock.now();
    schedule(handler, path, file, ctx);
  }

  function schedule(handler: string, path: string, file: FileState, ctx: Ctx): void {
    if (file.timer !== null) return; // a read is already due
    const token = (file.token = ++nextToken);
    const delay = nextReadDelay(ctx.clock.now(), file.lastReadAt, settleMs, minIntervalMs);
    file.timer = ctx.clock.setTimeout(() => ctx.self.tell({ type: 'statusReadDue', handler, file: path, token }), delay);
  }

  async function readDue(handler: string, path: string, token: number, ctx: Ctx): Promise<void> {
    const file = handlers.get(handler)?.files.get(path);
    if (!file || file.token !== token || file.timer === null) return;
    file.timer = null;
    await read(handler, file, ctx);
    // inotify may fold a write's events into one that came before the write ended, and promises no
    // later event: after an event that close before this read, one more read sees the write's end.
    if (file.lastEventAt > file.lastReadAt - settleMs) schedule(handler, path, file, ctx);
  }

  function stats(): StatusCollectorStats {
    let files = 0;
    let pendingReads = 0;
    for (const state of handlers.values()) {
      files += state.files.size;
      for (const file of state.files.values()) if (file.timer !== null) pendingReads += 1;
    }
    return { handlers: handlers.size, files, pendingReads, ...counts };
  }

  return {
    async receive(msg, ctx) {
      switch (msg.type) {
        case 'watch':
          return watch(msg.handler, msg.spec, ctx);
        case 'statusFolderEvent':
          return changed(msg.handler, msg.path, ctx);
        case 'statusReadDue':
          return readDue(msg.handler, msg.file, msg.token, ctx);
        case 'stats':
          return msg.reply.resolve(stats());
      }
    },
    onStop(ctx) {
      for (const handler of [...handlers.keys()]) drop(handler, ctx);
    },
  };
}
