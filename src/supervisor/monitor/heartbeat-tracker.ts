/**
 * The pure part of the heartbeat watchdog (CONTRACT section 6): from what was read of
 * heartbeat.log and the time, decide the handler's heartbeat state, what to report, and when
 * to look again. No I/O and no timers: the heartbeat actor stats, reads and arms the one timer.
 *
 * Rules. age = now - max(written, graceStart), stale iff age > timeout, where
 * - written is the file's mtime, but never later than when that mtime was first seen (a
 *   clock that went back, or an mtime set in the future, must not keep a handler fresh forever);
 * - graceStart is the enable (never later than when the spec arrived), or the last restart: a
 *   handler gets a full timeout after an enable to write, even if an old heartbeat.log is there.
 * Not stale: 'fresh' when the file exists (or 'malformed' when it does not parse), else 'missing'.
 */
import { resolve } from 'node:path';
import type { Heartbeat, HeartbeatResult } from '../../protocol/heartbeat.js';
import type { HeartbeatInfo, WatchSpec } from './types.js';

/** What fs says about heartbeat.log: enough to tell one write from the next. */
export interface FileStamp {
  readonly mtimeMs: number;
  readonly size: number;
  readonly ino: number;
}

/** One attempt to read heartbeat.log. */
export type HeartbeatRead =
  | { readonly kind: 'absent' }
  | { readonly kind: 'read'; readonly stamp: FileStamp; readonly result: HeartbeatResult }
  /** It exists but could not be read (permissions, a folder in its place): its mtime is unknown. */
  | { readonly kind: 'unreadable'; readonly problem: string };

export type HeartbeatState = 'fresh' | 'stale' | 'missing' | 'malformed';

/** What the watchdog reports about one handler's heartbeat (the payload of a 'heartbeat' MonitorEvent). */
export interface HeartbeatView {
  readonly state: HeartbeatState;
  readonly heartbeat: HeartbeatInfo | null;
  readonly mtimeMs: number | null;
  readonly problem: string | null;
}

export interface StalenessInput {
  readonly timeoutMs: number;
  readonly graceStart: number;
  /** Effective time of the last write; null when there is no file. */
  readonly writtenAt: number | null;
  readonly now: number;
}

export interface Staleness {
  readonly state: 'fresh' | 'stale' | 'missing';
  readonly ageMs: number;
  /** When the answer can next change without a write: the first ms at which age > timeout, or a slow re-check once stale. */
  readonly checkAt: number;
}

const STALE_RECHECK_FLOOR_MS = 1000;

/** The staleness rule, on numbers: stale iff now - max(writtenAt, graceStart) > timeoutMs. */
export function assessStaleness(input: StalenessInput): Staleness {
  const since = input.writtenAt === null ? input.graceStart : Math.max(input.writtenAt, input.graceStart);
  const ageMs = input.now - since;
  // Once stale, a write (seen by the watcher) is what recovers it; the slow re-check (>= 1 s) only covers a missed event.
  if (ageMs > input.timeoutMs) return { state: 'stale', ageMs, checkAt: input.now + Math.max(STALE_RECHECK_FLOOR_MS, input.timeoutMs) };
  return { state: input.writtenAt === null ? 'missing' : 'fresh', ageMs, checkAt: since + input.timeoutMs + 1 };
}

/** True when two views would tell the reporter the same thing (the mtime alone changing is not news). */
export function sameView(a: HeartbeatView | null, b: HeartbeatView | null): boolean {
  if (a === null || b === null) return a === b;
  return a.state === b.state && a.problem === b.problem && sameHeartbeat(a.heartbeat, b.heartbeat);
}

function sameHeartbeat(a: HeartbeatInfo | null, b: HeartbeatInfo | null): boolean {
  if (a === null || b === null) return a === b;
  return a.status === b.status && a.code === b.code && a.message === b.message;
}

export interface TrackerSpec {
  readonly file: string;
  readonly timeoutMs: number;
  /** ms since epoch of the last successful enable; null when unknown. */
  readonly enabledAt: number | null;
}

/** Only an enabled handler whose manifest says reportHeartbeat is watched. */
export function heartbeatWatched(spec: WatchSpec | null): spec is WatchSpec {
  return spec !== null && spec.reportHeartbeat && spec.state === 'Enabled';
}

/** What the tracker needs from a handler's WatchSpec. */
export function trackerSpec(spec: WatchSpec): TrackerSpec {
  return { file: resolve(spec.heartbeatFile), timeoutMs: spec.heartbeatTimeoutSec * 1000, enabledAt: spec.enabledAt };
}

export interface TrackerDecision {
  /** The view to report, or null when nothing a reader cares about changed. */
  readonly emit: HeartbeatView | null;
  readonly checkAt: number;
}

/**
 * After the first read of a watch, and after a malformed read, look once more this soon: the first
 * catches a write that landed before the folder's OS watch was live, the second confirms 'malformed'
 * (a file caught between its truncate and its write is no news). Later good reads need no second
 * look: every write after them is an inotify event.
 */
export const DEFAULT_SETTLE_MS = 150;

/** One handler's heartbeat bookkeeping: feed it reads and stats, it says what to emit and when to check. */
export class HeartbeatTracker {
  #spec: TrackerSpec;
  #specAt: number;
  #restartedAt = Number.NEGATIVE_INFINITY;
  #read: HeartbeatRead | null = null;
  #firstSeenAt = 0;
  #emitted: HeartbeatView | null = null;
  #current: HeartbeatView | null = null;
  #lastGood: Heartbeat | null = null;
  /** A read happened since the watch began (the first one is followed by a settle check). */
  #looked = false;
  readonly #settleMs: number;

  constructor(spec: TrackerSpec, now: number, opts: { readonly settleMs?: number } = {}) {
    this.#spec = spec;
    this.#specAt = now;
    this.#settleMs = opts.settleMs ?? DEFAULT_SETTLE_MS;
  }

  /** The last view reported (what the reporter believes). */
  get reported(): HeartbeatView | null {
    return this.#emitted;
  }

  /** The view as of the last check, with the latest mtime even when it was not reported. */
  get current(): HeartbeatView | null {
    return this.#current;
  }

  /** True when a stat (null: no file) shows a write since the last read, so the file must be read again. */
  needsRead(stamp: FileStamp | null): boolean {
    const r = this.#read;
    if (r === null || r.kind === 'unreadable') return true;
    if (r.kind === 'absent' || stamp === null) return r.kind !== 'absent' || stamp !== null;
    return r.stamp.mtimeMs !== stamp.mtimeMs || r.stamp.size !== stamp.size || r.stamp.ino !== stamp.ino;
  }

  /** Records a read of the file; reports a malformed read only once a settle check found the file unchanged. */
  afterRead(read: HeartbeatRead, now: number): TrackerDecision {
    const prev = this.#read;
    const sameWrite = prev?.kind === 'read' && read.kind === 'read' && !this.needsRead(read.stamp);
    if (!sameWrite) this.#firstSeenAt = now;
    this.#read = read;
    if (read.kind === 'read' && read.result.ok) this.#lastGood = read.result.heartbeat;
    return this.#decide(now, true);
  }

  /** Records a stat that matched the last read: time alone moved on. */
  afterUnchanged(now: number): TrackerDecision {
    return this.#decide(now, false);
  }

  /** A new spec (another timeout or enable time); the next decision uses it. */
  updateSpec(spec: TrackerSpec, now: number): void {
    if (spec.enabledAt !== this.#spec.enabledAt) this.#specAt = now;
    this.#spec = spec;
  }

  /** A restart re-enabled the handler just now: it gets a full timeout again. */
  restarted(now: number): void {
    this.#restartedAt = now;
  }

  #graceStart(): number {
    const enabled = Math.min(this.#spec.enabledAt ?? this.#specAt, this.#specAt);
    return Math.max(enabled, this.#restartedAt);
  }

  #decide(now: number, justRead: boolean): TrackerDecision {
    const read = this.#read;
    const { timeoutMs, file } = this.#spec;
    let view: HeartbeatView;
    let checkAt: number;
    if (read === null || read.kind === 'unreadable') {
      view = { state: 'malformed', heartbeat: null, mtimeMs: null, problem: read?.problem ?? `${file} has not been read yet` };
      checkAt = now + Math.max(STALE_RECHECK_FLOOR_MS, timeoutMs);
    } else {
      const mtimeMs = read.kind === 'read' ? read.stamp.mtimeMs : null;
      const writtenAt = mtimeMs === null ? null : Math.min(mtimeMs, this.#firstSeenAt);
      const s = assessStaleness({ timeoutMs, graceStart: this.#graceStart(), writtenAt, now });
      checkAt = s.checkAt;
      view = this.#view(s.state, read, mtimeMs);
    }
    // An unreadable file is no half-written one: no settle check for it, the slow re-check will do.
    const first = justRead && !this.#looked;
    if (justRead) this.#looked = true;
    const settle = justRead && read?.kind === 'read' && (first || view.state === 'malformed');
    if (settle) checkAt = Math.min(checkAt, now + this.#settleMs);
    this.#current = view;
    const hold = settle && view.state === 'malformed' && !sameView(view, this.#emitted);
    if (hold || sameView(view, this.#emitted)) return { emit: null, checkAt };
    this.#emitted = view;
    return { emit: view, checkAt };
  }

  #view(state: Staleness['state'], read: HeartbeatRead, mtimeMs: number | null): HeartbeatView {
    const { timeoutMs, file } = this.#spec;
    const secs = `${timeoutMs / 1000} s`;
    if (state === 'missing') return { state, heartbeat: null, mtimeMs, problem: `${file} not written yet` };
    if (state === 'stale') {
      const problem = mtimeMs === null
        ? `${file} not written within ${secs} of enable`
        : `${file} not written for more than ${secs} (last write ${new Date(mtimeMs).toISOString()})`;
      return { state, heartbeat: this.#lastGood, mtimeMs, problem };
    }
    if (read.kind === 'read' && !read.result.ok) return { state: 'malformed', heartbeat: null, mtimeMs, problem: read.result.problem };
    return { state: 'fresh', heartbeat: this.#lastGood, mtimeMs, problem: null };
  }
}
