/**
 * The reporter: the end of the one-way data flow. It folds every MonitorEvent into the
 * Snapshot (what `ps` and `status` ask for, and nothing else answers them) and keeps
 * `<lib>/status-report.json` current: rewritten atomically within 1 s of a change, bursts
 * coalesced by one timer on the injected clock, one write in flight at a time, nothing written
 * when the content is unchanged, and each new report optionally PUT to a URL off the mailbox.
 * It also writes the journal of each handler whose work settled (`<lib>/history/`, journal.ts),
 * coalesced the same way, so the fold can run again over them.
 */
import type { ActorContext, ActorRef, Behavior, Reply } from '../../actors/actor.js';
import type { TimerId, Clock } from '../../core/clock.js';
import { atomicWrite } from '../../storage/atomic-write.js';
import { SupervisorError, showValue } from '../../core/errors.js';
import { ReportPusher, type ReportPusherOptions } from './report-pusher.js';
import { Snapshot, type HandlerFacts } from './snapshot.js';
import { journalFiles } from './journal.js';
import { JournalWriter } from './journal-writer.js';
import { buildReport, reportPath, serializeReport, type StatusReport, type SupervisorInfo } from './status-report.js';
import type { HandlerRow, MonitorEvent } from './types.js';
import { backoffDelay } from '../../core/backoff.js';

export interface ReporterDeps {
  readonly libDir: string;
  readonly clock: Clock;
  readonly supervisorVersion: string;
  /** `--report-url`: each new report is PUT there. */
  readonly reportUrl?: string;
  readonly onPushError?: (err: SupervisorError) => void;
  /** Told about a failed report write (it is retried); without it the failure goes to the parent as an actor failure. */
  readonly onWriteError?: (err: unknown) => void;
  /** How long changes gather before one write; default 500 ms (so at most ~2 writes a second, each within 1 s). */
  readonly coalesceMs?: number;
  /** Pusher tuning (timeouts, attempts, backoff). */
  readonly push?: Omit<ReportPusherOptions, 'url' | 'clock' | 'onError'>;
}

export interface ReporterStats {
  /** Reports written to disk. */
  readonly writes: number;
  readonly writeFailures: number;
  readonly pushes: number;
  /** Failed PUT attempts. */
  readonly pushFailures: number;
  /** Reports the pusher gave up on. */
  readonly pushesDropped: number;
}

export type ReporterMessage =
  | MonitorEvent
  /** The supervisor's own line in the report (e.g. Ready, or Stopping at shutdown). */
  | { readonly type: 'supervisorStatus'; readonly status: string; readonly message: string }
  | { readonly type: 'rows'; readonly reply: Reply<readonly HandlerRow[]> }
  | { readonly type: 'row'; readonly name: string; readonly reply: Reply<HandlerRow | null> }
  /** What `status NAME` shows of the handler, or null when it is not shown. */
  | { readonly type: 'facts'; readonly name: string; readonly reply: Reply<HandlerFacts | null> }
  | { readonly type: 'report'; readonly reply: Reply<StatusReport> }
  /** Writes the latest report and the changed journals now (shutdown); resolves once they are on disk. */
  | { readonly type: 'flush'; readonly reply: Reply<void> }
  | { readonly type: 'stats'; readonly reply: Reply<ReporterStats> };

/** Messages the actor sends itself; private classes, so nothing outside can forge one. */
class WriteDue {
  constructor(readonly generation: number) {}
}
class WriteDone {
  constructor(readonly key: string, readonly error: unknown) {}
}
class JournalsDue {}
class JournalFailed {
  constructor(readonly error: unknown) {}
}
type SelfMessage = WriteDue | WriteDone | JournalsDue | JournalFailed;

export const DEFAULT_COALESCE_MS = 500;

/**
 * A large report waits longer between writes, up to this, so that one change still reaches the
 * file within the contract's 1 s (the write itself comes on top): each write serialises every
 * handler's row, O(N), and at 5000 handlers (~1.5 MB) twice a second it and its garbage were a
 * share of the main thread that grew with N (`--cpu-prof` of the bring-up).
 */
const MAX_WINDOW_MS = 800;

/** The coalescing window after a report of `bytes`: 1 ms per 2 KB, at least `coalesceMs`, at most MAX_WINDOW_MS. */
export function reportWindowMs(coalesceMs: number, bytes: number): number {
  return Math.max(coalesceMs, Math.min(MAX_WINDOW_MS, Math.round(bytes / 2000)));
}

const MAX_WRITE_RETRY_MS = 30_000;

/** The reporter's behavior; spawn it once per daemon. Throws E_INVALID_ARGUMENT / E_INVALID_REPORT_URL on bad deps. */
export function reporterBehavior(deps: ReporterDeps): Behavior<ReporterMessage> {
  const coalesceMs = deps.coalesceMs ?? DEFAULT_COALESCE_MS;
  if (typeof coalesceMs !== 'number' || !(coalesceMs > 0 && coalesceMs <= 1000)) {
    throw new SupervisorError('E_INVALID_ARGUMENT', `reporter: coalesceMs must be > 0 and <= 1000 (got ${showValue(coalesceMs)})`, { field: 'coalesceMs', value: coalesceMs });
  }
  const { clock } = deps;
  const path = reportPath(deps.libDir);
  const snapshot = new Snapshot();
  const pusher = deps.reportUrl === undefined ? null
    : new ReportPusher({ ...deps.push, url: deps.reportUrl, clock, ...(deps.onPushError ? { onError: deps.onPushError } : {}) });
  let supervisor: SupervisorInfo = { version: deps.supervisorVersion, status: 'Ready', message: 'supervisor is running' };
  let self: ActorRef<ReporterMessage | SelfMessage> | null = null;
  let dirty = false;
  let timer: TimerId | null = null;
  let generation = 0;
  let inflight: Promise<WriteDone> | null = null;
  let lastKey: string | null = null;
  let lastPushedKey: string | null = null;
  let lastStartedAt = -Infinity;
  let failuresInARow = 0;
  let lastBytes = 0;
  let flushWaiters: Reply<void>[] = [];
  const stats = { writes: 0, writeFailures: 0 };
  const journals = new JournalWriter({ files: journalFiles(deps.libDir), clock, delayMs: coalesceMs,
    due: () => { if (self?.status === 'running') self.tell(new JournalsDue()); },
    onError: (err) => {
      if (deps.onWriteError) deps.onWriteError(err);
      else if (self?.status === 'running') self.tell(new JournalFailed(err)); // an actor failure, as a failed report write is
    } });
  const writeJournals = (): Promise<void> => journals.write(snapshot.takeJournals());

  const report = (): StatusReport => buildReport(snapshot.rows(clock.now()), supervisor, clock.now());

  function arm(delay: number): void {
    if (timer !== null) return;
    const gen = ++generation;
    timer = clock.setTimeout(() => { if (self?.status === 'running') self.tell(new WriteDue(gen)); }, delay);
  }

  function disarm(): void {
    if (timer !== null) clock.clearTimeout(timer);
    timer = null;
  }

  /** A change: the first one arms the timer; later ones ride on it (or on the write in flight). */
  function changed(): void {
    dirty = true;
    if (inflight === null) arm(reportWindowMs(coalesceMs, lastBytes));
  }

  function settleWaiters(error: unknown): void {
    const waiters = flushWaiters;
    flushWaiters = [];
    for (const w of waiters) if (error === null) w.resolve(); else w.reject(error);
  }

  /** Writes the latest report unless one is in flight (its completion comes back here) or nothing changed. */
  function startWrite(): void {
    disarm();
    if (inflight !== null) return;
    const { key, json } = serializeReport(report());
    lastBytes = json.length;
    dirty = false;
    if (key === lastKey) {
      settleWaiters(null);
      return;
    }
    if (pusher && key !== lastPushedKey) {
      lastPushedKey = key;
      pusher.submit(json);
    }
    lastStartedAt = clock.now();
    const write = atomicWrite(path, `${json}\n`).then(() => new WriteDone(key, null), (error: unknown) => new WriteDone(key, error));
    inflight = write;
    // While stopping, tell() would drop the message: onStop awaits the write itself instead.
    void write.then((done) => { if (self?.status === 'running') self.tell(done); });
  }

  /** Bookkeeping of a finished write; true when it failed. */
  function recordWrite(done: WriteDone): boolean {
    inflight = null;
    if (done.error === null) {
      stats.writes += 1;
      lastKey = done.key;
      failuresInARow = 0;
      return false;
    }
    stats.writeFailures += 1;
    failuresInARow += 1;
    dirty = true; // what failed to land is still to be written
    return true;
  }

  function writeFailed(error: unknown): void {
    const err = new SupervisorError('E_REPORT_WRITE', `cannot write the status report ${path}: ${(error as Error)?.message ?? String(error)}`,
      { path }, { cause: error });
    if (deps.onWriteError) deps.onWriteError(err);
    else throw err;
  }

  function written(done: WriteDone): void {
    const failed = recordWrite(done);
    if (failed) settleWaiters(done.error);
    if (flushWaiters.length > 0) {
      startWrite(); // a change that arrived during the write goes out before the flush answers
    } else if (dirty) {
      // Rate-limit by write starts: under a steady stream, one write per coalescing window.
      const delay = failed ? backoffDelay(failuresInARow, { initialMs: coalesceMs, maxMs: MAX_WRITE_RETRY_MS })
        : Math.max(0, reportWindowMs(coalesceMs, lastBytes) - (clock.now() - lastStartedAt));
      arm(delay);
    }
    if (failed) writeFailed(done.error);
  }

  const behavior: Behavior<ReporterMessage | SelfMessage> = {
    receive(msg, ctx: ActorContext<ReporterMessage | SelfMessage>) {
      self ??= ctx.self;
      if (msg instanceof WriteDue) {
        if (msg.generation === generation && timer !== null) {
          timer = null;
          startWrite();
        }
        return;
      }
      if (msg instanceof WriteDone) return written(msg);
      if (msg instanceof JournalsDue) return void writeJournals();
      if (msg instanceof JournalFailed) throw msg.error;
      switch (msg.type) {
        case 'supervisorStatus':
          supervisor = { version: deps.supervisorVersion, status: msg.status, message: msg.message };
          return changed();
        case 'rows': return msg.reply.resolve(snapshot.rows(clock.now()));
        case 'row': return msg.reply.resolve(snapshot.row(msg.name, clock.now()));
        case 'facts': return msg.reply.resolve(snapshot.facts(msg.name, clock.now()));
        case 'report': return msg.reply.resolve(report());
        case 'flush': {
          const journalsWritten = writeJournals();
          const reply = msg.reply;
          flushWaiters.push({ resolve: () => void journalsWritten.then(() => reply.resolve()), reject: (err) => reply.reject(err) });
          dirty = true; // a flush writes even when no event came since start (the first report)
          return startWrite();
        }
        case 'stats': {
          const p = pusher?.stats;
          return msg.reply.resolve({ ...stats, pushes: p?.succeeded ?? 0, pushFailures: p?.failures ?? 0, pushesDropped: p?.dropped ?? 0 });
        }
        default:
          if (snapshot.fold(msg)) changed();
          if (snapshot.journalsPending) journals.changed();
          return;
      }
    },
    async onStop() {
      disarm();
      await writeJournals();
      if (inflight !== null) recordWrite(await inflight);
      let error: unknown = null;
      if (dirty || flushWaiters.length > 0) {
        const { key, json } = serializeReport(report());
        if (key !== lastKey) {
          error = await atomicWrite(path, `${json}\n`).then(() => null, (e: unknown) => e);
          recordWrite(new WriteDone(key, error));
        }
      }
      settleWaiters(error);
      await pusher?.stop();
      if (error !== null) writeFailed(error);
    },
  };
  return behavior as Behavior<ReporterMessage>;
}

/** The `ps` rows. */
export function askRows(ref: ActorRef<ReporterMessage>, timeoutMs?: number): Promise<readonly HandlerRow[]> {
  return ref.ask((reply) => ({ type: 'rows', reply }), timeoutMs);
}

/** One handler's row, null when the reporter does not show it. */
export function askRow(ref: ActorRef<ReporterMessage>, name: string, timeoutMs?: number): Promise<HandlerRow | null> {
  return ref.ask((reply) => ({ type: 'row', name, reply }), timeoutMs);
}

/** The current report (what the next write would contain). */
export function askReport(ref: ActorRef<ReporterMessage>, timeoutMs?: number): Promise<StatusReport> {
  return ref.ask((reply) => ({ type: 'report', reply }), timeoutMs);
}

/** What `status NAME` shows of one handler from the snapshot; null when it is not shown. */
export function askFacts(ref: ActorRef<ReporterMessage>, name: string, timeoutMs?: number): Promise<HandlerFacts | null> {
  return ref.ask((reply) => ({ type: 'facts', name, reply }), timeoutMs);
}

/** Writes the latest report and the changed journals now; resolves once they are on disk. */
export function flushReport(ref: ActorRef<ReporterMessage>, timeoutMs?: number): Promise<void> {
  return ref.ask((reply) => ({ type: 'flush', reply }), timeoutMs);
}

/** Write and push counters, for metrics. */
export function askReporterStats(ref: ActorRef<ReporterMessage>, timeoutMs?: number): Promise<ReporterStats> {
  return ref.ask((reply) => ({ type: 'stats', reply }), timeoutMs);
}
