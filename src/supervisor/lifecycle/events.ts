/** What a handler's lifecycle tells the rest of the supervisor: messages, never shared state. */
import type { HandlerRecord } from './record.js';
import type { CommandName, HandlerPlan } from './steps.js';
import type { HandlerStatusValue } from '../../protocol/ps-rows.js';

export type OperationName = CommandName | 'fetch';

export interface OperationResult {
  readonly op: OperationName;
  readonly version: string;
  /** Multi-config enable/disable run once per extension. */
  readonly extension: string | null;
  readonly result: 'succeeded' | 'failed' | 'timedOut';
  readonly exitCode: number | null;
  readonly signal: string | null;
  /** 0 on success, else the Azure agent's error code (CONTRACT section 4). */
  readonly code: number;
  readonly message: string;
  readonly startedAt: number;
  readonly endedAt: number;
  readonly pids: readonly number[];
  /** Processes that outlived SIGKILL when the command was ended. */
  readonly unkillable: readonly number[];
  /** Script form: the script asked for a reboot or an agent restart (recorded, not acted on). */
  readonly requests?: { readonly reboot: boolean; readonly agentRestart: boolean };
}


export type { HandlerStatusValue };

export interface LifecycleStatus {
  readonly status: HandlerStatusValue;
  readonly code: number;
  readonly message: string;
}

/** Work the handler actor started: a plan (its action) or a watchdog restart. */
export interface Work {
  readonly action: HandlerPlan['action'] | 'restart';
  readonly targetVersion: string | null;
  readonly fromVersion: string | null;
}

/** How the handler actor's last work ended: what failed (code, message), and a note on a recovered plan. */
export interface WorkOutcome {
  readonly failure: { readonly code: number; readonly message: string } | null;
  /** What became of a plan a supervisor restart interrupted; shown after the status message. */
  readonly note: string | null;
}

/**
 * Facts, never display statuses: what the handler's visible status is follows from them in
 * one place (monitor/handler-status.ts).
 */
export type HandlerEvent =
  | { readonly type: 'operationStarted'; readonly handler: string; readonly op: OperationName; readonly version: string;
      readonly extension: string | null; readonly startedAt: number; readonly pid: number | null }
  | { readonly type: 'operationEnded'; readonly handler: string; readonly result: OperationResult }
  | { readonly type: 'recordChanged'; readonly handler: string; readonly record: HandlerRecord }
  | { readonly type: 'workStarted'; readonly handler: string; readonly work: Work }
  | { readonly type: 'workSettled'; readonly handler: string; readonly outcome: WorkOutcome };

/** The heartbeat watchdog asks whoever owns the fleet for a disable + enable of one handler. */
export interface RestartRequest {
  readonly type: 'restart';
  readonly handler: string;
  readonly replyTo: { tell(done: RestartDone): void };
}

export interface RestartDone {
  readonly type: 'restartDone';
  readonly handler: string;
  readonly ok: boolean;
  readonly message: string;
}
