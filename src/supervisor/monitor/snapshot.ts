/**
 * The reporter's fold of MonitorEvents into one row per handler (the `ps --json` row).
 * Pure and synchronous: every event updates its handler's entry in place, so reading the
 * rows is O(handlers) and never touches a file or a process (STYLE habit 11).
 */
import { heartbeatHandlerStatus } from '../../protocol/heartbeat.js';
import { SupervisorError } from '../../core/errors.js';
import type { LifecycleStatus } from '../lifecycle/events.js';
import { emptyRecord, type HandlerRecord, type LifecycleState } from '../lifecycle/record.js';
import { statusAtRest } from '../lifecycle/status.js';
import type { ExtensionRow, HandlerRow, LastOperation, MonitorEvent, ProcessSample, WatchSpec } from './types.js';

export type HeartbeatEvent = Extract<MonitorEvent, { type: 'heartbeat' }>;
type Desired = 'enabled' | 'disabled' | 'uninstall';

/** The agent's heartbeat timeout when the goal names none (CONTRACT section 6). */
export const DEFAULT_HEARTBEAT_TIMEOUT_SEC = 600;
/** Code shown for an unreadable heartbeat file: the agent's code for a malformed status file. */
export const MALFORMED_HEARTBEAT_CODE = 1012;
/** Code of an Unresponsive handler (CONTRACT section 6). */
export const UNRESPONSIVE_CODE = -1;

const NO_SAMPLE: ProcessSample = Object.freeze({ pids: Object.freeze([]), cpuPercent: 0, memoryBytes: 0, oldestStartMs: null });
const byName = (a: { name: string }, b: { name: string }): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

interface Entry {
  readonly name: string;
  record: HandlerRecord | null;
  lifecycle: LifecycleStatus | null;
  spec: WatchSpec | null;
  heartbeat: HeartbeatEvent | null;
  restarts: number;
  /** Set by the watchdog giving up (restart budget spent); cleared by the next lifecycle status. */
  gaveUp: string | null;
  lastOperation: LastOperation | null;
  extensions: Map<string, ExtensionRow>;
  /** extensions as a sorted frozen array, rebuilt only after a change. */
  extensionRows: readonly ExtensionRow[] | null;
}

/** What decides the status a row shows; see shownStatus. */
export interface StatusInputs {
  readonly state: LifecycleState;
  readonly lifecycle: LifecycleStatus;
  readonly heartbeat: HeartbeatEvent | null;
  readonly heartbeatTimeoutSec: number;
  /** ms since epoch of the last enable: the age of a heartbeat that never appeared counts from here. */
  readonly enabledAt: number | null;
  readonly gaveUp: string | null;
  readonly now: number;
}

/**
 * The shown status, first rule that applies:
 * 1. lifecycle Failed or Installing (an operation's outcome or work in progress);
 * 2. the handler is not Enabled: the lifecycle status (an old heartbeat of a disabled handler means nothing);
 * 3. the watchdog gave up restarting it: Failed, code -1;
 * 4. heartbeat 'stale': Unresponsive, code -1, 'no heartbeat for N s (timeout T s)';
 * 5. heartbeat 'malformed': NotReady, code 1012, 'malformed heartbeat: …' (the handler runs; we cannot tell how it is);
 * 6. heartbeat 'fresh': its status mapped (ready → Ready, ...), its code and message; an unknown value → NotReady;
 * 7. otherwise ('missing', or no heartbeat watched): the lifecycle status.
 */
export function shownStatus(i: StatusInputs): LifecycleStatus {
  const { lifecycle, heartbeat: hb } = i;
  if (lifecycle.status === 'Failed' || lifecycle.status === 'Installing' || i.state !== 'Enabled') return lifecycle;
  if (i.gaveUp !== null) return { status: 'Failed', code: UNRESPONSIVE_CODE, message: i.gaveUp };
  if (!hb) return lifecycle;
  switch (hb.state) {
    case 'stale': {
      const since = hb.mtimeMs ?? i.enabledAt;
      const age = since === null ? '' : ` for ${ageSeconds(since, i.now)} s`;
      return { status: 'Unresponsive', code: UNRESPONSIVE_CODE, message: `no heartbeat${age} (timeout ${i.heartbeatTimeoutSec} s)` };
    }
    case 'malformed':
      return { status: 'NotReady', code: MALFORMED_HEARTBEAT_CODE, message: `malformed heartbeat: ${hb.problem ?? 'unreadable heartbeat file'}` };
    case 'fresh': {
      if (!hb.heartbeat) return lifecycle;
      const mapped = heartbeatHandlerStatus(hb.heartbeat.status);
      const message = hb.heartbeat.message !== '' ? hb.heartbeat.message : lifecycle.message;
      if (mapped) return { status: mapped, code: hb.heartbeat.code, message };
      return { status: 'NotReady', code: hb.heartbeat.code, message: `unknown heartbeat status "${hb.heartbeat.status}": ${message}` };
    }
    case 'missing':
      return lifecycle;
  }
}

/** Whole seconds from `since` to `now`, never negative (a clock step back must not show -3 s). */
export function ageSeconds(since: number, now: number): number {
  return Math.max(0, Math.floor((now - since) / 1000));
}

function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

/** Folds MonitorEvents into handler rows; one instance lives inside the reporter actor. */
export class Snapshot {
  readonly #entries = new Map<string, Entry>();
  /** The latest goal's wish per handler; empty before the first goal (every installed handler is then orphaned). */
  #desired: ReadonlyMap<string, Desired> = new Map();
  #samples: ReadonlyMap<string, ProcessSample> = new Map();
  #sorted: Entry[] | null = null;

  /**
   * Applies one event; an unknown event type is a programming error and throws. Returns false when
   * the event cannot have changed the status report: a process sample that shows and hides no
   * handler (the report has no pids or CPU; the sampler's event every 5 s need not rebuild it),
   * unless a row's message counts time ("no heartbeat for N s"), which the sample keeps current.
   */
  fold(event: MonitorEvent): boolean {
    if (event.type === 'processSample') {
      const before = this.#visibleNames();
      this.#applyEvent(event);
      return this.#visibleNames() !== before || [...this.#entries.values()].some((e) => e.heartbeat?.state === 'stale');
    }
    this.#applyEvent(event);
    return true;
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
          if (!this.#visible(e)) this.#delete(e.name);
        }
        return;
      }
      case 'statusChanged':
        Object.assign(this.#entry(event.handler), { lifecycle: event.status, gaveUp: null });
        return;
      case 'operationStarted':
        this.#entry(event.handler).lastOperation = Object.freeze({
          name: event.op, result: 'running', exitCode: null, startedAt: isoTime(event.startedAt), endedAt: null,
        });
        return;
      case 'operationEnded': {
        const r = event.result;
        this.#entry(event.handler).lastOperation = Object.freeze({
          name: r.op, result: r.result, exitCode: r.exitCode, startedAt: isoTime(r.startedAt), endedAt: isoTime(r.endedAt),
        });
        return;
      }
      case 'watch':
        this.#watch(event.handler, event.spec);
        return;
      case 'heartbeat':
        this.#entry(event.handler).heartbeat = event;
        return;
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
        if (event.outcome === 'started') e.restarts += 1;
        if (event.outcome === 'gaveUp') e.gaveUp = event.message !== '' ? event.message : 'restart budget exhausted';
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

  /** Shown: installed, or wanted enabled/disabled by the goal, or still owning live processes. */
  #visible(e: Entry): boolean {
    if (e.record !== null && e.record.state !== 'NotInstalled') return true;
    const desired = this.#desired.get(e.name);
    if (desired === 'enabled' || desired === 'disabled') return true;
    return (this.#samples.get(e.name)?.pids.length ?? 0) > 0;
  }

  #row(e: Entry, now: number): HandlerRow {
    const record = e.record ?? emptyRecord(e.name);
    const lifecycle = e.lifecycle ?? statusAtRest(record, null);
    const status = shownStatus({
      state: record.state, lifecycle, heartbeat: e.heartbeat, gaveUp: e.gaveUp, now,
      heartbeatTimeoutSec: e.spec?.heartbeatTimeoutSec ?? DEFAULT_HEARTBEAT_TIMEOUT_SEC, enabledAt: e.spec?.enabledAt ?? record.enabledAt,
    });
    const sample = this.#samples.get(e.name) ?? NO_SAMPLE;
    const mtime = e.heartbeat?.mtimeMs ?? null;
    e.extensionRows ??= Object.freeze([...e.extensions.values()].sort(byName));
    return Object.freeze({
      name: e.name,
      version: record.version,
      desiredState: this.#desired.get(e.name) ?? 'orphaned',
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

  #entry(name: string): Entry {
    let e = this.#entries.get(name);
    if (!e) {
      e = { name, record: null, lifecycle: null, spec: null, heartbeat: null, restarts: 0, gaveUp: null, lastOperation: null,
        extensions: new Map(), extensionRows: null };
      this.#entries.set(name, e);
      this.#sorted = null;
    }
    return e;
  }

  #delete(name: string): void {
    if (this.#entries.delete(name)) this.#sorted = null;
  }

  /** Forgets handlers that are no longer shown (uninstalled, dropped from the goal, processes gone). */
  #prune(): void {
    for (const e of this.#entries.values()) if (!this.#visible(e)) this.#delete(e.name);
  }
}
