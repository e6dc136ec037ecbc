/**
 * The rows of `ps --json` and the states they name (CONTRACT section 7): the contract between
 * the daemon, the CLI and anything that reads `ps --json`. Types only.
 */
/** Where a handler is in its lifecycle, as persisted and shown. */
export type LifecycleState = 'NotInstalled' | 'Installed' | 'Enabled' | 'FailedUpgrade';

/** The handler status column: the agent's handler status values plus Unresponsive and Failed. */
export type HandlerStatusValue = 'Ready' | 'NotReady' | 'Installing' | 'Unresponsive' | 'Failed';

export interface HeartbeatInfo {
  readonly status: string;
  readonly code: number;
  readonly message: string;
}

export interface LastOperation {
  readonly name: string;
  readonly result: 'running' | 'succeeded' | 'failed' | 'timedOut';
  readonly exitCode: number | null;
  readonly startedAt: string;
  readonly endedAt: string | null;
}

export interface ExtensionRow {
  readonly name: string;
  readonly sequenceNumber: number;
  readonly status: string;
  readonly code: number;
  readonly message: string;
  readonly substatus: readonly { readonly name: string | null; readonly status: string; readonly code: number; readonly message: string }[];
}

/** One line of `ps --json` (CONTRACT section 7), the reporter's view of a handler. */
export interface HandlerRow {
  readonly name: string;
  readonly version: string | null;
  readonly desiredState: 'enabled' | 'disabled' | 'uninstall' | 'orphaned';
  readonly state: LifecycleState;
  readonly status: HandlerStatusValue;
  readonly code: number;
  readonly message: string;
  readonly pids: readonly number[];
  readonly cpuPercent: number;
  readonly memoryBytes: number;
  readonly uptimeSeconds: number | null;
  readonly heartbeatAgeSeconds: number | null;
  readonly heartbeat: HeartbeatInfo | null;
  readonly restarts: number;
  readonly lastOperation: LastOperation | null;
  readonly extensions: readonly ExtensionRow[];
}
