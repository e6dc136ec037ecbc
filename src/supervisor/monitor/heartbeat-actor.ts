/**
 * The heartbeat watchdog (CONTRACT section 6). For each handler whose spec says reportHeartbeat
 * and Enabled: a folder-watcher listener on heartbeat.log's folder (writes, renames) plus ONE
 * deadline timer, the source of truth for staleness, since what we detect is a write that did
 * not happen. The timer stats, re-reads only when the file changed, and re-arms. A stale handler
 * with onUnresponsive 'restart' is restarted within the restart policy's budget and backoff: a
 * message to the fleet asks for it, and its answer comes back as one. Each handler's restart book
 * is written when it changes, so a restarted daemon keeps the budget and a give-up.
 * Timers and listeners only post messages here (a listener also notes that it posted one, so a
 * burst of events sends one); all state changes happen in receive.
 */
import { dirname } from 'node:path';
import type { ActorContext, ActorRef, Behavior, Reply } from '../../actors/actor.js';
import type { Clock, TimerId } from '../../core/clock.js';
import { readHeartbeatNow, statStamp, type ParsedContent } from './heartbeat-read.js';
import type { FolderEvent } from './folder-watcher.js';
import { HeartbeatTracker, heartbeatWatched, trackerSpec, type HeartbeatRead, type HeartbeatView } from './heartbeat-tracker.js';
import { DEFAULT_RESTART_POLICY, RestartBook, formatDuration, type RestartBookState, type RestartPolicy } from './restart-policy.js';
import type { RestartDone, RestartRequest } from '../lifecycle/events.js';
import type { MonitorEvent, WatchSpec } from './types.js';

export { readHeartbeatNow, type ParsedContent } from './heartbeat-read.js';

export type HeartbeatMessage =
  | { readonly type: 'watch'; readonly handler: string; readonly spec: WatchSpec | null }
  /**
   * The supervisor starts disabling the handler (a disable, uninstall or version change): its writer
   * is about to be stopped on purpose, so its heartbeat is not judged (no stale warning, no restart)
   * until the next watch spec, sent when that work has settled. Its restart book is kept.
   */
  | { readonly type: 'pause'; readonly handler: string }
  /** The fleet's answer to a RestartRequest. */
  | RestartDone
  /** Start-up: the restart books a previous daemon left (before any watch). */
  | { readonly type: 'restoreBooks'; readonly books: ReadonlyMap<string, RestartBookState> }
  /** `supervisor retry`: the handler's restart budget starts afresh; answered once the book is on disk. */
  | { readonly type: 'resetBudget'; readonly handler: string; readonly reply: Reply<void> }
  /** The latest view of every watched handler, with the newest mtime (a look inside, for tests; `ps` asks the reporter). */
  | { readonly type: 'inspect'; readonly reply: Reply<ReadonlyMap<string, HeartbeatView>> }
  /** Internal, from this actor's listener, timers and file reads; `gen` drops messages from a superseded one. */
  | { readonly type: 'heartbeatWritten'; readonly handler: string; readonly gen: number }
  | { readonly type: 'heartbeatDue'; readonly handler: string; readonly gen: number }
  | { readonly type: 'restartDue'; readonly handler: string; readonly gen: number };

export interface HeartbeatActorDeps {
  readonly clock: Clock;
  readonly watcher: { add(folder: string, listener: (event: FolderEvent) => void): () => void };
  readonly emit: (event: MonitorEvent) => void;
  /** Whoever owns the fleet: asked for a disable + enable, it answers with a 'restartDone' message. */
  readonly fleet: { tell(request: RestartRequest): void };
  /** Where restart books are kept across daemon restarts; none: in memory only. */
  readonly books?: { save(handler: string, state: RestartBookState): Promise<void>; remove(handler: string): Promise<void> };
  /** Told about a book that could not be written (the restart goes on). */
  readonly onError?: (err: unknown) => void;
  readonly policy?: RestartPolicy;
  /** Bytes read at most from heartbeat.log (default 64 KiB); a bigger file is malformed. */
  readonly readLimit?: number;
}

interface Watched {
  spec: WatchSpec;
  readonly file: string;
  readonly tracker: HeartbeatTracker;
  readonly gen: number;
  readonly dispose: () => void;
  timer: TimerId | undefined;
  timerGen: number;
  readonly parsed: ParsedContent;
  /** The newest mtime the reporter was told (a rewrite with the same content is not a new view, but a new age). */
  toldMtime: number | null;
}

interface Restarts {
  readonly book: RestartBook;
  timer: TimerId | undefined;
  gen: number;
}

/** The heartbeat watchdog actor; one for all handlers. */
export class HeartbeatActor implements Behavior<HeartbeatMessage> {
  readonly #deps: HeartbeatActorDeps;
  readonly #policy: RestartPolicy;
  readonly #watched = new Map<string, Watched>();
  readonly #restarts = new Map<string, Restarts>();
  /**
   * Watch generations with a 'heartbeatWritten' in the mailbox: a write is two inotify events (the
   * truncate and the write), and a burst of them needs one message and one read (docs/decisions.md).
   */
  readonly #posted = new Set<number>();
  /** Book writes per handler, chained so that a removal never overtakes a save. */
  readonly #bookWrites = new Map<string, Promise<void>>();
  #seq = 0;

  constructor(deps: HeartbeatActorDeps) {
    this.#deps = deps;
    this.#policy = deps.policy ?? DEFAULT_RESTART_POLICY;
  }

  receive(msg: HeartbeatMessage, ctx: ActorContext<HeartbeatMessage>): void {
    if (msg.type === 'inspect') {
      msg.reply.resolve(new Map([...this.#watched].flatMap(([h, w]) => (w.tracker.current ? [[h, w.tracker.current] as const] : []))));
      return;
    }
    if (msg.type === 'restoreBooks') {
      for (const [handler, state] of msg.books) this.#restarts.set(handler, { book: new RestartBook(this.#policy, state), timer: undefined, gen: 0 });
      return;
    }
    const { handler } = msg;
    const w = this.#watched.get(handler);
    switch (msg.type) {
      case 'watch': return this.#onWatch(handler, msg.spec, ctx.self);
      case 'pause': return this.#stopWatching(handler);
      case 'heartbeatWritten':
        this.#posted.delete(msg.gen);
        if (w?.gen === msg.gen) this.#look(handler, w, 'read', ctx.self);
        return;
      case 'heartbeatDue': if (w?.timerGen === msg.gen) this.#look(handler, w, 'stat', ctx.self); return;
      case 'restartDue': return this.#onRestartDue(handler, msg.gen, ctx.self);
      case 'resetBudget': {
        const r = this.#restarts.get(handler);
        if (r) { r.book.reset(); void this.#writeBook(handler, r.book).then(() => msg.reply.resolve()); } else msg.reply.resolve();
        return;
      }
      case 'restartDone': return this.#onRestartDone(handler, msg.ok, msg.message, ctx.self);
    }
  }

  async onStop(): Promise<void> {
    for (const w of this.#watched.values()) this.#unwatch(w);
    this.#watched.clear();
    this.#posted.clear();
    for (const r of this.#restarts.values()) if (r.timer !== undefined) this.#deps.clock.clearTimeout(r.timer);
    this.#restarts.clear();
    await Promise.all(this.#bookWrites.values()); // a give-up decided just before a graceful stop is on disk after it
  }

  #onWatch(handler: string, spec: WatchSpec | null, self: ActorRef<HeartbeatMessage>): void {
    const current = this.#watched.get(handler);
    const restarts = this.#restarts.get(handler);
    if (!heartbeatWatched(spec)) {
      this.#stopWatching(handler);
      if (spec === null && restarts && restarts.book.phase !== 'running') {
        this.#restarts.delete(handler);
        this.#writeBook(handler, null);
      }
      return;
    }
    if (restarts?.book.enabled(spec.enabledAt)) this.#writeBook(handler, restarts.book);
    const now = this.#deps.clock.now();
    const file = trackerSpec(spec).file;
    if (current && current.file === file) {
      current.spec = spec;
      current.tracker.updateSpec(trackerSpec(spec), now);
      return this.#look(handler, current, 'stat', self);
    }
    if (current) this.#unwatch(current);
    const gen = ++this.#seq;
    const posted = this.#posted;
    const dispose = this.#deps.watcher.add(dirname(file), (e) => {
      if (e.path !== file || posted.has(gen)) return;
      posted.add(gen);
      self.tell({ type: 'heartbeatWritten', handler, gen });
    });
    const w: Watched = { spec, file, tracker: new HeartbeatTracker(trackerSpec(spec), now), gen, dispose, timer: undefined, timerGen: 0,
      parsed: { current: null }, toldMtime: null };
    this.#watched.set(handler, w);
    this.#look(handler, w, 'read', self);
  }

  /** No more watch, timer or scheduled restart for the handler (a restart under way finishes; the book stays). */
  #stopWatching(handler: string): void {
    const current = this.#watched.get(handler);
    if (current) this.#unwatch(current);
    this.#watched.delete(handler);
    const restarts = this.#restarts.get(handler);
    if (restarts?.book.phase === 'scheduled') { // a disable (or removal) during the backoff: nothing left to restart
      if (restarts.timer !== undefined) this.#deps.clock.clearTimeout(restarts.timer);
      restarts.timer = undefined;
      restarts.book.cancel();
    }
  }

  /**
   * Reads the file (on a write), or stats it and reads only when it changed (on the timer), then
   * lets the tracker decide, emits, and re-arms the one timer. Synchronous, called from receive only.
   */
  #look(handler: string, w: Watched, mode: 'read' | 'stat', self: ActorRef<HeartbeatMessage>): void {
    const limit = this.#deps.readLimit;
    let read: HeartbeatRead | undefined;
    if (mode === 'read') read = readHeartbeatNow(w.file, limit, w.parsed);
    else {
      const s = statStamp(w.file);
      read = s === 'error' || w.tracker.needsRead(s) ? readHeartbeatNow(w.file, limit, w.parsed) : undefined;
    }
    const now = this.#deps.clock.now();
    const decision = read === undefined ? w.tracker.afterUnchanged(now) : w.tracker.afterRead(read, now);
    if (w.timer !== undefined) this.#deps.clock.clearTimeout(w.timer);
    const gen = (w.timerGen = ++this.#seq);
    w.timer = this.#deps.clock.setTimeout(() => self.tell({ type: 'heartbeatDue', handler, gen }), decision.checkAt - now);
    const view = decision.emit;
    if (view) {
      w.toldMtime = view.mtimeMs;
      this.#deps.emit({ type: 'heartbeat', handler, state: view.state, heartbeat: view.heartbeat, mtimeMs: view.mtimeMs, problem: view.problem });
      if (view.state === 'stale' && w.spec.onUnresponsive === 'restart') this.#considerRestart(handler, w, self);
    } else if (read?.kind === 'read' && w.tracker.reported && read.stamp.mtimeMs !== w.toldMtime) {
      // The same news written again: only its age changed, which `ps` shows (HEARTBEAT).
      w.toldMtime = read.stamp.mtimeMs;
      this.#deps.emit({ type: 'heartbeatSeen', handler, mtimeMs: read.stamp.mtimeMs });
    }
  }

  #considerRestart(handler: string, w: Watched, self: ActorRef<HeartbeatMessage>): void {
    let r = this.#restarts.get(handler);
    if (!r) this.#restarts.set(handler, (r = { book: new RestartBook(this.#policy), timer: undefined, gen: 0 }));
    const enabledAt = w.spec.enabledAt;
    const decision = r.book.unresponsive(this.#deps.clock.now(), enabledAt);
    if (!decision) return;
    if (decision.action === 'giveUp') {
      this.#writeBook(handler, r.book);
      return this.#emitRestart(handler, r, 'gaveUp', decision.reason, enabledAt);
    }
    const gen = (r.gen = ++this.#seq);
    r.timer = this.#deps.clock.setTimeout(() => self.tell({ type: 'restartDue', handler, gen }), decision.delayMs);
    this.#emitRestart(handler, r, 'scheduled', `unresponsive: restart in ${formatDuration(decision.delayMs)} ` +
      `(restart ${decision.attempt} of at most ${this.#policy.maxRestarts} within ${formatDuration(this.#policy.windowMs)})`, enabledAt);
  }

  #onRestartDue(handler: string, gen: number, self: ActorRef<HeartbeatMessage>): void {
    const r = this.#restarts.get(handler);
    if (!r || r.gen !== gen) return;
    r.timer = undefined;
    const w = this.#watched.get(handler);
    // Recovered (or no longer watched) during the backoff: nothing to restart, nothing spent from the budget.
    if (!r.book.start(this.#deps.clock.now(), w?.tracker.reported?.state === 'stale')) return;
    this.#emitRestart(handler, r, 'started', 'unresponsive: restarting (disable + enable)', w?.spec.enabledAt ?? null);
    // The spent budget is on disk before the restart runs: a daemon that dies during it still counts it.
    // Not awaited here: a disable + enable may take minutes, and the mailbox must keep serving the other handlers.
    void this.#writeBook(handler, r.book).then(() => { if (self.status === 'running') this.#deps.fleet.tell({ type: 'restart', handler, replyTo: self }); });
  }

  #onRestartDone(handler: string, ok: boolean, message: string, self: ActorRef<HeartbeatMessage>): void {
    const r = this.#restarts.get(handler);
    if (!r?.book.finish()) return;
    const w = this.#watched.get(handler);
    this.#emitRestart(handler, r, ok ? 'succeeded' : 'failed', message, w?.spec.enabledAt ?? null);
    if (!w) return;
    if (!ok) { // still unresponsive: the next attempt, within the budget
      if (w.tracker.reported?.state === 'stale') this.#considerRestart(handler, w, self);
      return;
    }
    w.tracker.restarted(this.#deps.clock.now()); // a fresh enable: a full timeout to write again
    this.#look(handler, w, 'stat', self);
  }

  #emitRestart(handler: string, r: Restarts, outcome: Extract<MonitorEvent, { type: 'restart' }>['outcome'], message: string,
    enabledAt: number | null): void {
    this.#deps.emit({ type: 'restart', handler, restarts: r.book.total, outcome, message, enabledAt });
  }

  /** Saves (or, for null, removes) a handler's book after the writes queued before; resolves when done, never rejects. */
  #writeBook(handler: string, book: RestartBook | null): Promise<void> {
    const store = this.#deps.books;
    if (!store) return Promise.resolve();
    const state = book?.state ?? null;
    const write = (this.#bookWrites.get(handler) ?? Promise.resolve())
      .then(() => (state ? store.save(handler, state) : store.remove(handler)))
      .catch((err: unknown) => this.#deps.onError?.(err));
    this.#bookWrites.set(handler, write);
    void write.then(() => { if (this.#bookWrites.get(handler) === write) this.#bookWrites.delete(handler); });
    return write;
  }

  #unwatch(w: Watched): void {
    w.dispose();
    if (w.timer !== undefined) this.#deps.clock.clearTimeout(w.timer);
    w.timer = undefined;
  }
}
