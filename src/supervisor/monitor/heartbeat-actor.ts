/**
 * The heartbeat watchdog (CONTRACT section 6). For each handler whose spec says reportHeartbeat
 * and Enabled: a folder-watcher listener on heartbeat.log's folder (writes, renames) plus ONE
 * deadline timer, the source of truth for staleness, since what we detect is a write that did
 * not happen. The timer stats, re-reads only when the file changed, and re-arms. A stale handler
 * with onUnresponsive 'restart' is restarted within the restart policy's budget and backoff.
 * Timers and listeners only post messages here (a listener also notes that it posted one, so a
 * burst of events sends one); all state changes happen in receive.
 */
import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ActorContext, ActorRef, Behavior, Reply } from '../../actors/actor.js';
import type { Clock, TimerId } from '../../core/clock.js';
import { parseHeartbeat, type HeartbeatResult } from '../../protocol/heartbeat.js';
import type { FolderEvent } from './folder-watcher.js';
import { HeartbeatTracker, heartbeatWatched, trackerSpec, type FileStamp, type HeartbeatRead, type HeartbeatView } from './heartbeat-tracker.js';
import { DEFAULT_RESTART_POLICY, RestartBook, formatDuration, type RestartPolicy } from './restart-policy.js';
import type { MonitorEvent, WatchSpec } from './types.js';

export type HeartbeatMessage =
  | { readonly type: 'watch'; readonly handler: string; readonly spec: WatchSpec | null }
  | { readonly type: 'restartDone'; readonly handler: string; readonly ok: boolean; readonly message: string }
  /** The latest view of every watched handler (with the newest mtime, which is not re-emitted): for `ps`. */
  | { readonly type: 'inspect'; readonly reply: Reply<ReadonlyMap<string, HeartbeatView>> }
  /** Internal, from this actor's listener, timers and file reads; `gen` drops messages from a superseded one. */
  | { readonly type: 'heartbeatWritten'; readonly handler: string; readonly gen: number }
  | { readonly type: 'heartbeatDue'; readonly handler: string; readonly gen: number }
  | { readonly type: 'restartDue'; readonly handler: string; readonly gen: number };

export interface HeartbeatActorDeps {
  readonly clock: Clock;
  readonly watcher: { add(folder: string, listener: (event: FolderEvent) => void): () => void };
  readonly emit: (event: MonitorEvent) => void;
  /** Disable + enable through the handler's own actor (wired by the lead). */
  readonly restart: (handler: string) => Promise<{ ok: boolean; message: string }>;
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
}

interface Restarts {
  readonly book: RestartBook;
  timer: TimerId | undefined;
  gen: number;
}

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** The bytes last parsed for one file and what they said: a rewrite with the same bytes is not parsed again. */
export interface ParsedContent {
  current: { readonly bytes: Buffer; readonly result: HeartbeatResult } | null;
}

// One buffer for every read: the reads are synchronous, so they never overlap.
let scratch = Buffer.allocUnsafe(0);

/**
 * Reads heartbeat.log once through one descriptor, so the stamp and the content belong together.
 * Synchronous: a file of at most `limit` bytes in the handler's own folder, read 100 times a second
 * with 1000 handlers; four thread-pool round trips per read cost more than the read (docs/decisions.md).
 * With `parsed`, content identical to the last read's reuses its result (most beats rewrite the same bytes).
 */
export function readHeartbeatNow(file: string, limit = 64 * 1024, parsed?: ParsedContent): HeartbeatRead {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    return isMissing(err) ? { kind: 'absent' } : { kind: 'unreadable', problem: `cannot open ${file}: ${(err as Error).message}` };
  }
  try {
    const st = fstatSync(fd);
    const stamp: FileStamp = { mtimeMs: st.mtimeMs, size: st.size, ino: st.ino };
    const want = Math.min(st.size, limit) + 1;
    if (scratch.length < want) scratch = Buffer.allocUnsafe(Math.max(want, 4096));
    const bytesRead = readSync(fd, scratch, 0, want, 0);
    if (bytesRead > limit) return { kind: 'read', stamp, result: { ok: false, problem: `heartbeat file ${file} is malformed: larger than ${limit} bytes` } };
    const bytes = scratch.subarray(0, bytesRead);
    const last = parsed?.current;
    if (last && last.bytes.equals(bytes)) return { kind: 'read', stamp, result: last.result };
    const result = parseHeartbeat(bytes, file);
    if (parsed) parsed.current = { bytes: Buffer.from(bytes), result };
    return { kind: 'read', stamp, result };
  } catch (err) {
    return { kind: 'unreadable', problem: `cannot read ${file}: ${(err as Error).message}` };
  } finally {
    try { closeSync(fd); } catch { /* nothing useful to do when closing a read-only descriptor fails */ }
  }
}

/** readHeartbeatNow for callers that await (the offline view). */
export function readHeartbeat(file: string, limit = 64 * 1024): Promise<HeartbeatRead> {
  return Promise.resolve(readHeartbeatNow(file, limit));
}

/** The stamp of heartbeat.log; null when absent, 'error' when it cannot be stat'ed (then a read reports why). */
function statStamp(file: string): FileStamp | null | 'error' {
  try {
    const st = statSync(file);
    return { mtimeMs: st.mtimeMs, size: st.size, ino: st.ino };
  } catch (err) {
    return isMissing(err) ? null : 'error';
  }
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
    const { handler } = msg;
    const w = this.#watched.get(handler);
    switch (msg.type) {
      case 'watch': return this.#onWatch(handler, msg.spec, ctx.self);
      case 'heartbeatWritten':
        this.#posted.delete(msg.gen);
        if (w?.gen === msg.gen) this.#look(handler, w, 'read', ctx.self);
        return;
      case 'heartbeatDue': if (w?.timerGen === msg.gen) this.#look(handler, w, 'stat', ctx.self); return;
      case 'restartDue': return this.#onRestartDue(handler, msg.gen, ctx.self);
      case 'restartDone': return this.#onRestartDone(handler, msg.ok, msg.message, ctx.self);
    }
  }

  onStop(): void {
    for (const w of this.#watched.values()) this.#unwatch(w);
    this.#watched.clear();
    this.#posted.clear();
    for (const r of this.#restarts.values()) if (r.timer !== undefined) this.#deps.clock.clearTimeout(r.timer);
    this.#restarts.clear();
  }

  #onWatch(handler: string, spec: WatchSpec | null, self: ActorRef<HeartbeatMessage>): void {
    const current = this.#watched.get(handler);
    const restarts = this.#restarts.get(handler);
    if (!heartbeatWatched(spec)) {
      if (current) this.#unwatch(current);
      this.#watched.delete(handler);
      if (restarts?.book.phase === 'scheduled') { // a disable (or removal) during the backoff: nothing left to restart
        if (restarts.timer !== undefined) this.#deps.clock.clearTimeout(restarts.timer);
        restarts.timer = undefined;
        restarts.book.cancel();
      }
      if (spec === null && restarts?.book.phase !== 'running') this.#restarts.delete(handler);
      return;
    }
    restarts?.book.enabled(spec.enabledAt);
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
    const w: Watched = { spec, file, tracker: new HeartbeatTracker(trackerSpec(spec), now), gen, dispose, timer: undefined, timerGen: 0, parsed: { current: null } };
    this.#watched.set(handler, w);
    this.#look(handler, w, 'read', self);
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
      this.#deps.emit({ type: 'heartbeat', handler, state: view.state, heartbeat: view.heartbeat, mtimeMs: view.mtimeMs, problem: view.problem });
      if (view.state === 'stale' && w.spec.onUnresponsive === 'restart') this.#considerRestart(handler, w, self);
    }
  }

  #considerRestart(handler: string, w: Watched, self: ActorRef<HeartbeatMessage>): void {
    let r = this.#restarts.get(handler);
    if (!r) this.#restarts.set(handler, (r = { book: new RestartBook(this.#policy), timer: undefined, gen: 0 }));
    const decision = r.book.unresponsive(this.#deps.clock.now(), w.spec.enabledAt);
    if (!decision) return;
    if (decision.action === 'giveUp') return this.#emitRestart(handler, r, 'gaveUp', decision.reason);
    const gen = (r.gen = ++this.#seq);
    r.timer = this.#deps.clock.setTimeout(() => self.tell({ type: 'restartDue', handler, gen }), decision.delayMs);
    this.#emitRestart(handler, r, 'scheduled', `unresponsive: restart in ${formatDuration(decision.delayMs)} ` +
      `(restart ${decision.attempt} of at most ${this.#policy.maxRestarts} within ${formatDuration(this.#policy.windowMs)})`);
  }

  #onRestartDue(handler: string, gen: number, self: ActorRef<HeartbeatMessage>): void {
    const r = this.#restarts.get(handler);
    if (!r || r.gen !== gen) return;
    r.timer = undefined;
    // Recovered (or no longer watched) during the backoff: nothing to restart, nothing spent from the budget.
    if (!r.book.start(this.#deps.clock.now(), this.#watched.get(handler)?.tracker.reported?.state === 'stale')) return;
    this.#emitRestart(handler, r, 'started', 'unresponsive: restarting (disable + enable)');
    // Not awaited: a disable + enable may take minutes, and the mailbox must keep serving the other handlers.
    Promise.resolve().then(() => this.#deps.restart(handler)).then(
      (res) => self.tell({ type: 'restartDone', handler, ok: res.ok, message: res.message }),
      (err: unknown) => self.tell({ type: 'restartDone', handler, ok: false, message: `restart failed: ${err instanceof Error ? err.message : String(err)}` }));
  }

  #onRestartDone(handler: string, ok: boolean, message: string, self: ActorRef<HeartbeatMessage>): void {
    const r = this.#restarts.get(handler);
    if (!r?.book.finish()) return;
    this.#emitRestart(handler, r, ok ? 'succeeded' : 'failed', message);
    const w = this.#watched.get(handler);
    if (!w) return;
    if (!ok) { // still unresponsive: the next attempt, within the budget
      if (w.tracker.reported?.state === 'stale') this.#considerRestart(handler, w, self);
      return;
    }
    w.tracker.restarted(this.#deps.clock.now()); // a fresh enable: a full timeout to write again
    this.#look(handler, w, 'stat', self);
  }

  #emitRestart(handler: string, r: Restarts, outcome: Extract<MonitorEvent, { type: 'restart' }>['outcome'], message: string): void {
    this.#deps.emit({ type: 'restart', handler, restarts: r.book.total, outcome, message });
  }

  #unwatch(w: Watched): void {
    w.dispose();
    if (w.timer !== undefined) this.#deps.clock.clearTimeout(w.timer);
    w.timer = undefined;
  }
}
