/**
 * The reporter's fold of MonitorEvents into one row per handler (the `ps --json` row): the only
 * code that turns events and records into rows. The daemon's reporter folds live events; the
 * offline view folds what is on disk, the same way. Pure and synchronous: every event updates its
 * handler's entry in place, so reading the rows is O(handlers) and never touches a file or a
 * process (STYLE habit 11). It also says which handlers' journals (journal.ts) changed.
 */
import { SupervisorError } from '../../core/errors.js';
import { emptyRecord, type HandlerRecord } from '../lifecycle/record.js';
import { ageSeconds, DEFAULT_HEARTBEAT_TIMEOUT_SEC, handlerStatus, type HeartbeatEvent, type WorkState } from './handler-status.js';
import type { HandlerJournal } from './journal.js';
import { withOperation, type OperationEntry } from './operation-history.js';
import type { ExtensionRow, GaveUp, HandlerRow, LastOperation, MonitorEvent, ProcessSample, WatchSpec } from './types.js';

type Desired = 'enabled' | 'disabled' | 'uninstall';

const NO_SAMPLE: ProcessSample = Object.freeze({ pids: Object.freeze([]), cpuPercent: 0, memoryBytes: 0, oldestStartMs: null });
const NO_OPERATIONS: readonly OperationEntry[] = Object.freeze([]);
const byName = (a: { name: string }, b: { name: string }): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

interface Entry {
  readonly name: string;
  record: HandlerRecord | null;
  /** The handler actor's latest fact: work under way, or how its last work ended. */
  work: WorkState | null;
  spec: WatchSpec | null;
  heartbeat: HeartbeatEvent | null;
  /** Restarts the watchdog started (its book's count). */
  restarts: number;
  gaveUp: GaveUp | null;
  operations: readonly OperationEntry[];
  lastOperation: LastOperation | null;
  extensions: Map<string, ExtensionRow>;
  /** extensions as a sorted frozen array, rebuilt only after a change. */
  extensionRows: readonly ExtensionRow[] | null;
}

/** Everything `status NAME` shows that the snapshot knows: the row, the record, the operations, the watch spec. */
export interface HandlerFacts {
  readonly row: HandlerRow;
  readonly record: HandlerRecord | null;
  readonly operations: readonly OperationEntry[];
  readonly spec: WatchSpec | null;
}

function lastOperationOf(ops: readonly OperationEntry[]): LastOperation | null {
  const o = ops.at(-1);
  return o ? Object.freeze({ name: o.name, result: o.result, exitCode: o.exitCode, startedAt: o.startedAt, endedAt: o.endedAt }) : null;
}

/** Folds MonitorEvents into handler rows; one instance lives inside the reporter actor, one in each offline view. */
export class Snapshot {
  readonly #entries = new Map<string, Entry>();
  /** The latest goal's wish per handler; null before the first goal (every installed handler is then orphaned, nothing is forgotten). */
  #desired: ReadonlyMap<string, Desired> | null = null;
  #samples: ReadonlyMap<string, ProcessSample> = new Map();
  #sorted: Entry[] | null = null;
  /** Handlers whose journal changed since takeJournals. */
  readonly #journals = new Set<string>();

  /**
   * Applies one event; an unknown event type is a programming error and throws. Returns false when
   * the event cannot have changed the status report: a process sample that shows and hides no
   * handler (the report has no pids or CPU; the sampler's event every 5 s need not rebuild it), or a
   * heartbeat's new age (no message counts time: a stale heartbeat says since when).
   */
  fold(event: MonitorEvent): boolean {
    if (event.type === 'processSample') {
      const before = this.#visibleNames();
      this.#applyEvent(event);
      return this.#visibleNames() !== before;
    }
    this.#applyEvent(event);
    return event.type !== 'heartbeatSeen';
  }

  #visibleNames(): string {
    let names = '';
    for (const e of this.#entries.values()) if (this.#visible(e)) names += `${e.name}\n`;
    return names;
  }

  #applyEvent(event: MonitorEvent): void {
    switch (event.type) {
      case 'goalApplied':
        this.#desired = new Map(event.handlers.map((h) => [h.name, h.desiredState]));
        for (const h of event.handlers) this.#entry(h.name);
        this.#prune();
        return;
      case 'recordChanged': {
        const e = this.#entry(event.handler);
        e.record = event.record;
        if (event.record.state === 'NotInstalled') {
          e.heartbeat = null;
          this.#setExtensions(e, new Map());
          this.#forgetIfHidden(e);
        }
        return;
      }
      case 'workStarted':
        this.#entry(event.handler).work = Object.freeze({ kind: 'working', work: event.work });
        return;
      case 'workSettled':
        // The journal is written when work settles: it then holds the work's operations and outcome in one
        // write per plan, not one per operation (an apply of 300 handlers measured 4 writes each that way).
        this.#touch(this.#entry(event.handler)).work = Object.freeze({ kind: 'settled', outcome: event.outcome });
        return;
      case 'operationStarted':
      case 'operationEnded': {
        const e = this.#entry(event.handler);
        this.#setOperations(e, withOperation(e.operations, event));
        return;
      }
      case 'restored': {
        const e = this.#entry(event.handler);
        this.#setOperations(e, event.operations);
        e.work = event.outcome ? Object.freeze({ kind: 'settled', outcome: event.outcome }) : null;
        Object.assign(e, { restarts: event.restarts, gaveUp: event.gaveUp });
        return;
      }
      case 'watch':
        this.#watch(event.handler, event.spec);
        return;
      case 'heartbeat':
        this.#entry(event.handler).heartbeat = event;
        return;
      case 'heartbeatSeen': {
        const e = this.#entries.get(event.handler);
        if (e?.heartbeat) e.heartbeat = { ...e.heartbeat, mtimeMs: event.mtimeMs };
        return;
      }
      case 'extensionStatus':
        this.#extensionStatus(event);
        return;
      case 'processSample':
        this.#samples = event.handlers;
        // A handler whose processes outlive it stays visible (CONTRACT section 4: attributed until they exit).
        for (const [name, sample] of event.handlers) if (sample.pids.length > 0) this.#entry(name);
        this.#prune();
        return;
      case 'restart': {
        const e = this.#entry(event.handler);
        e.restarts = event.restarts;
        if (event.outcome === 'gaveUp') {
          e.gaveUp = Object.freeze({ message: event.message !== '' ? event.message : 'restart budget exhausted', enabledAt: event.enabledAt });
        }
        return;
      }
      default: {
        const type = ((event satisfies never) as { type?: unknown }).type; // a new event type fails to compile here
        throw new SupervisorError('E_UNKNOWN_MONITOR_EVENT', `snapshot: unknown monitor event type ${JSON.stringify(type)}`, { type });
      }
    }
  }

  /** Every shown handler's row, sorted by name; `now` (ms) dates the ages and uptimes. */
  rows(now: number): HandlerRow[] {
    this.#sorted ??= [...this.#entries.values()].sort(byName);
    const out: HandlerRow[] = [];
    for (const e of this.#sorted) if (this.#visible(e)) out.push(this.#row(e, now));
    return out;
  }

  /** One handler's row, or null when it is not shown. */
  row(name: string, now: number): HandlerRow | null {
    const e = this.#entries.get(name);
    return e && this.#visible(e) ? this.#row(e, now) : null;
  }

  /** What `status NAME` needs from the snapshot, or null when the handler is not shown. */
  facts(name: string, now: number): HandlerFacts | null {
    const e = this.#entries.get(name);
    if (!e || !this.#visible(e)) return null;
    const record = e.record !== null && e.record.state !== 'NotInstalled' ? e.record : null;
    return { row: this.#row(e, now), record, operations: e.operations, spec: e.spec };
  }

  /** True when some handler's journal changed since takeJournals. */
  get journalsPending(): boolean {
    return this.#journals.size > 0;
  }

  /**
   * The journals that changed since the last call, for the reporter to write: a shown handler's
   * ended operations and how its last work ended; null for a handler no longer shown (its file goes).
   */
  takeJournals(): Array<{ readonly name: string; readonly journal: HandlerJournal | null }> {
    const out = [...this.#journals].map((name) => {
      const e = this.#entries.get(name);
      if (!e || !this.#visible(e)) return { name, journal: null };
      const outcome = e.work?.kind === 'settled' ? e.work.outcome : null;
      return { name, journal: { schema: 1 as const, name, operations: e.operations.filter((o) => o.result !== 'running'), outcome } };
    });
    this.#journals.clear();
    return out;
  }

  /** Shown: installed, or wanted enabled/disabled by the goal, or still owning live processes. */
  #visible(e: Entry): boolean {
    if (e.record !== null && e.record.state !== 'NotInstalled') return true;
    const desired = this.#desired?.get(e.name);
    if (desired === 'enabled' || desired === 'disabled') return true;
    return (this.#samples.get(e.name)?.pids.length ?? 0) > 0;
  }

  #row(e: Entry, now: number): HandlerRow {
    const record = e.record ?? emptyRecord(e.name);
    const status = handlerStatus({
      record, work: e.work, heartbeat: e.heartbeat, gaveUp: e.gaveUp, now,
      heartbeatTimeoutSec: e.spec?.heartbeatTimeoutSec ?? DEFAULT_HEARTBEAT_TIMEOUT_SEC, graceStart: e.spec?.enabledAt ?? record.enabledAt,
    });
    const sample = this.#samples.get(e.name) ?? NO_SAMPLE;
    const mtime = e.heartbeat?.mtimeMs ?? null;
    e.extensionRows ??= Object.freeze([...e.extensions.values()].sort(byName));
    return Object.freeze({
      name: e.name,
      version: record.version,
      desiredState: this.#desired?.get(e.name) ?? 'orphaned',
      state: record.state,
      status: status.status,
      code: status.code,
      message: status.message,
      pids: sample.pids,
      cpuPercent: sample.cpuPercent,
      memoryBytes: sample.memoryBytes,
      uptimeSeconds: sample.oldestStartMs === null ? null : ageSeconds(sample.oldestStartMs, now),
      heartbeatAgeSeconds: mtime === null ? null : ageSeconds(mtime, now),
      heartbeat: e.heartbeat?.heartbeat ?? null,
      restarts: e.restarts,
      lastOperation: e.lastOperation,
      extensions: e.extensionRows,
    });
  }

  #watch(name: string, spec: WatchSpec | null): void {
    const e = this.#entry(name);
    e.spec = spec;
    if (!spec || !spec.reportHeartbeat) e.heartbeat = null;
    // The spec names the handler's extensions: rows of extensions it no longer has go.
    const keep = new Set(spec?.extensions.map((x) => x.name) ?? []);
    const kept = new Map([...e.extensions].filter(([ext]) => keep.has(ext)));
    if (kept.size !== e.extensions.size) this.#setExtensions(e, kept);
  }

  #extensionStatus(event: Extract<MonitorEvent, { type: 'extensionStatus' }>): void {
    const e = this.#entry(event.handler);
    const old = e.extensions.get(event.extension);
    const current = e.spec?.extensions.some((x) => x.name === event.extension && x.sequenceNumber === event.sequenceNumber) ?? false;
    // A late read of an older sequence number must not hide the newer one; the spec's own seq always wins (a reset).
    if (old && event.sequenceNumber < old.sequenceNumber && !current) return;
    const s = event.status;
    e.extensions.set(event.extension, Object.freeze({
      name: event.extension, sequenceNumber: event.sequenceNumber, status: s.status, code: s.code, message: s.message,
      substatus: Object.freeze(s.substatus.map((x) => Object.freeze({ name: x.name, status: x.status, code: x.code, message: x.message }))),
    }));
    e.extensionRows = null;
  }

  #setExtensions(e: Entry, extensions: Map<string, ExtensionRow>): void {
    Object.assign(e, { extensions, extensionRows: null });
  }

  #setOperations(e: Entry, operations: readonly OperationEntry[]): void {
    Object.assign(e, { operations: Object.freeze([...operations]), lastOperation: lastOperationOf(operations) });
  }

  /** Marks the handler's journal as changed. */
  #touch(e: Entry): Entry {
    this.#journals.add(e.name);
    return e;
  }

  #entry(name: string): Entry {
    let e = this.#entries.get(name);
    if (!e) {
      e = { name, record: null, work: null, spec: null, heartbeat: null, restarts: 0, gaveUp: null, operations: NO_OPERATIONS,
        lastOperation: null, extensions: new Map(), extensionRows: null };
      this.#entries.set(name, e);
      this.#sorted = null;
    }
    return e;
  }

  /** Forgets a handler no longer shown, once a goal says what is wanted (before it, a restored handler waits for it). */
  #forgetIfHidden(e: Entry): void {
    if (this.#desired === null || this.#visible(e)) return;
    this.#entries.delete(e.name);
    this.#sorted = null;
    this.#journals.add(e.name);
  }

  /** Forgets handlers that are no longer shown (uninstalled, dropped from the goal, processes gone). */
  #prune(): void {
    for (const e of this.#entries.values()) this.#forgetIfHidden(e);
  }
}
