/**
 * The messages that flow from handlers, watchers and samplers to the reporter, and the
 * snapshot the reporter keeps (what `ps`, `status` and the status report show).
 * Data flows one way: lifecycle → monitors → reporter; nothing reaches back but messages.
 */
import type { ExtensionStatus } from '../../protocol/status-file.js';
import type { HandlerEvent, WorkOutcome } from '../lifecycle/events.js';
import type { OperationEntry } from './operation-history.js';
import type { HeartbeatInfo } from '../../protocol/ps-rows.js';

export type { ExtensionRow, HandlerRow, HeartbeatInfo, LastOperation } from '../../protocol/ps-rows.js';
import type { LifecycleState } from '../lifecycle/record.js';

/** What the monitors need to know about one installed handler; emitted whenever it changes. */
export interface WatchSpec {
  readonly name: string;
  readonly version: string;
  /** Script-form handlers (Device Update) write a result file, not status files. */
  readonly form: 'command' | 'script';
  readonly dir: string;
  readonly statusFolder: string;
  readonly heartbeatFile: string;
  readonly state: LifecycleState;
  /** Manifest reportHeartbeat: only then is the heartbeat watched. */
  readonly reportHeartbeat: boolean;
  /** Seconds (goal `heartbeatTimeout`, default 600). */
  readonly heartbeatTimeoutSec: number;
  readonly onUnresponsive: 'report' | 'restart';
  /** Extensions whose status files to read: status/<seq>.status, or status/<ext>.<seq>.status when multiConfig. */
  readonly extensions: readonly { readonly name: string; readonly sequenceNumber: number }[];
  readonly multiConfig: boolean;
  /** ms since epoch of the last successful enable (heartbeat grace starts here); null when not enabled. */
  readonly enabledAt: number | null;
}

export type MonitorEvent =
  | HandlerEvent
  /** A goal state is being applied: which handlers it names, and what it wants of them. */
  | { readonly type: 'goalApplied'; readonly etag: string | null; readonly source: string;
      readonly handlers: readonly { readonly name: string; readonly version: string; readonly desiredState: 'enabled' | 'disabled' | 'uninstall' }[] }
  /** A handler is installed/changed (spec) or gone (spec null). */
  | { readonly type: 'watch'; readonly handler: string; readonly spec: WatchSpec | null }
  | { readonly type: 'heartbeat'; readonly handler: string;
      /** fresh: written within the timeout; stale: older (Unresponsive); missing: never written (yet); malformed: unreadable. */
      readonly state: 'fresh' | 'stale' | 'missing' | 'malformed';
      readonly heartbeat: HeartbeatInfo | null; readonly mtimeMs: number | null; readonly problem: string | null }
  | { readonly type: 'extensionStatus'; readonly handler: string; readonly extension: string; readonly sequenceNumber: number;
      readonly status: ExtensionStatus; readonly file: string }
  | { readonly type: 'processSample'; readonly at: number; readonly handlers: ReadonlyMap<string, ProcessSample> }
  /** heartbeat.log was written again with the same news: only the heartbeat's age changed. */
  | { readonly type: 'heartbeatSeen'; readonly handler: string; readonly mtimeMs: number }
  /**
   * Restart policy decisions of the heartbeat watchdog: `restarts` is how many it started so far, and
   * `enabledAt` the enable the decision is about (a give-up holds until another enable).
   */
  | { readonly type: 'restart'; readonly handler: string; readonly restarts: number; readonly outcome: 'scheduled' | 'started' | 'succeeded' | 'failed' | 'gaveUp';
      readonly message: string; readonly enabledAt: number | null }
  /** What a previous daemon left of a handler (its journal and restart book): read back at start-up and by the offline view. */
  | { readonly type: 'restored'; readonly handler: string; readonly operations: readonly OperationEntry[]; readonly outcome: WorkOutcome | null;
      readonly restarts: number; readonly gaveUp: GaveUp | null };

/** The watchdog gave up on the enable that ended at `enabledAt`; a new enable lifts it. */
export interface GaveUp {
  readonly message: string;
  readonly enabledAt: number | null;
}

export interface ProcessSample {
  readonly pids: readonly number[];
  /** Share of one core over the last interval, summed over the handler's processes. */
  readonly cpuPercent: number;
  /** CPU seconds the handler's processes used since the previous sample (a process seen first: its whole life so far). */
  readonly cpuSecondsUsed?: number;
  readonly memoryBytes: number;
  /** Start time (ms since epoch) of the handler's oldest live process; null when none. */
  readonly oldestStartMs: number | null;
  /** cgroup mode, under limits.cpuPercent: periods the kernel throttled the group, and for how long in all. */
  readonly throttled?: { readonly count: number; readonly ms: number };
  /** cgroup mode: processes the kernel killed at limits.memoryMB. */
  readonly oomKills?: number;
}
