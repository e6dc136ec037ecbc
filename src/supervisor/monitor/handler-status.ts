/**
 * The one place a handler's visible status is decided (CONTRACT section 6), from facts: its
 * record, the work its actor started or how that work ended, its heartbeat, the watchdog's
 * give-up, and the time. The handler actor states facts and never a display status; the
 * snapshot, the offline view and the apply result all ask here.
 */
import { heartbeatHandlerStatus } from '../../protocol/heartbeat.js';
import type { LifecycleStatus, Work, WorkOutcome } from '../lifecycle/events.js';
import type { HandlerRecord, LifecycleState } from '../lifecycle/record.js';
import type { GaveUp, MonitorEvent } from './types.js';
import { utcTimestamp } from './status-report.js';

export type { GaveUp };

export type HeartbeatEvent = Extract<MonitorEvent, { type: 'heartbeat' }>;

/** The agent's heartbeat timeout when the goal names none (CONTRACT section 6). */
export const DEFAULT_HEARTBEAT_TIMEOUT_SEC = 600;
/** Code shown for an unreadable heartbeat file: the agent's code for a malformed status file. */
export const MALFORMED_HEARTBEAT_CODE = 1012;
/** Code of an Unresponsive handler (CONTRACT section 6). */
export const UNRESPONSIVE_CODE = -1;

/** The handler actor's latest fact: work under way, or how the last work ended. */
export type WorkState =
  | { readonly kind: 'working'; readonly work: Work }
  | { readonly kind: 'settled'; readonly outcome: WorkOutcome };

function workingStatus(work: Work): LifecycleStatus {
  switch (work.action) {
    case 'restart': return { status: 'NotReady', code: 0, message: 'restarting: heartbeat unresponsive' };
    case 'install': return { status: 'Installing', code: 0, message: `installing ${work.targetVersion}` };
    case 'upgrade': case 'downgrade':
      return { status: 'Installing', code: 0, message: `${work.action === 'upgrade' ? 'upgrading' : 'downgrading'} ${work.fromVersion} -> ${work.targetVersion}` };
    case 'uninstall': return { status: 'NotReady', code: 0, message: 'uninstalling' };
    case 'disable': return { status: 'NotReady', code: 0, message: 'disabling' };
    default: return { status: 'NotReady', code: 0, message: 'enabling' };
  }
}

function atRest(record: Pick<HandlerRecord, 'state' | 'version'>): LifecycleStatus {
  switch (record.state) {
    case 'Enabled': return { status: 'Ready', code: 0, message: 'Plugin enabled' };
    case 'Installed': return { status: 'NotReady', code: 0, message: 'Plugin disabled' };
    case 'FailedUpgrade': return { status: 'Failed', code: 1008, message: `upgrade to ${record.version} failed` };
    case 'NotInstalled': return { status: 'NotReady', code: 0, message: 'Plugin not installed' };
  }
}

/**
 * The lifecycle's part: work under way (Installing, or NotReady naming it); else the last work's
 * failure (its code and message); else what the record's state means. A note follows the message.
 */
export function lifecycleStatus(record: Pick<HandlerRecord, 'state' | 'version'>, work: WorkState | null): LifecycleStatus {
  if (work?.kind === 'working') return workingStatus(work.work);
  const failure = work?.outcome.failure ?? null;
  const base: LifecycleStatus = failure ? { status: 'Failed', code: failure.code, message: failure.message } : atRest(record);
  const note = work?.outcome.note ?? null;
  return note ? { ...base, message: `${base.message} (${note})` } : base;
}

/** What decides the status a row shows once the lifecycle's part is known; see shownStatus. */
export interface StatusInputs {
  readonly state: LifecycleState;
  readonly lifecycle: LifecycleStatus;
  readonly heartbeat: HeartbeatEvent | null;
  readonly heartbeatTimeoutSec: number;
  /** ms since epoch of the last enable: the age of a heartbeat that never appeared counts from here. */
  readonly enabledAt: number | null;
  /** The watchdog's give-up message, when it applies to the current enable. */
  readonly gaveUp: string | null;
  readonly now: number;
}

/**
 * The shown status, first rule that applies:
 * 1. lifecycle Failed or Installing (an operation's outcome or work in progress);
 * 2. the handler is not Enabled: the lifecycle status (an old heartbeat of a disabled handler means nothing);
 * 3. the watchdog gave up restarting it: Failed, code -1;
 * 4. heartbeat 'stale': Unresponsive, code -1, 'no heartbeat since <UTC time> (timeout T s)';
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
      // A timestamp, not an age: the message stays the same while nothing changes, so the report is not rewritten
      // every few seconds; the age is heartbeatAgeSeconds in `ps`.
      const since = hb.mtimeMs ?? i.enabledAt;
      const when = since === null ? '' : ` since ${utcTimestamp(since)}`;
      return { status: 'Unresponsive', code: UNRESPONSIVE_CODE, message: `no heartbeat${when} (timeout ${i.heartbeatTimeoutSec} s)` };
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

/** Every fact the visible status follows from. */
export interface StatusFacts {
  readonly record: Pick<HandlerRecord, 'state' | 'version' | 'enabledAt'>;
  readonly work: WorkState | null;
  readonly heartbeat: HeartbeatEvent | null;
  readonly heartbeatTimeoutSec: number;
  /** Where a missing heartbeat's age counts from: the watch spec's enable, else the record's. */
  readonly graceStart: number | null;
  readonly gaveUp: GaveUp | null;
  readonly now: number;
}

/** The visible status of a handler: the lifecycle's part, then the watchdog's and the heartbeat's. */
export function handlerStatus(f: StatusFacts): LifecycleStatus {
  // A give-up is about one enable: a later enable (restart by a new goal, or by hand) starts afresh.
  const gaveUp = f.gaveUp !== null && f.gaveUp.enabledAt === f.record.enabledAt ? f.gaveUp.message : null;
  return shownStatus({ state: f.record.state, lifecycle: lifecycleStatus(f.record, f.work), heartbeat: f.heartbeat,
    heartbeatTimeoutSec: f.heartbeatTimeoutSec, enabledAt: f.graceStart, gaveUp, now: f.now });
}

/** Whole seconds from `since` to `now`, never negative (a clock step back must not show -3 s). */
export function ageSeconds(since: number, now: number): number {
  return Math.max(0, Math.floor((now - since) / 1000));
}
