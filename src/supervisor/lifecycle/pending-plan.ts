/**
 * A plan in progress as it is persisted in the handler record: the steps, how many are done,
 * and the command running at the last checkpoint. Read back by pendingFromJson.
 */
import type { CommandName, HandlerPlan, PlanStep } from './steps.js';

/** The command that was running at the last checkpoint. */
export interface RunningStep {
  readonly step: number;
  readonly op: CommandName;
  /** EXT_SUPERVISOR_RUN of its processes, to find them if they outlive the supervisor. */
  readonly runId: string;
  /** Where the command's shell writes its exit status when it finishes (command form only). */
  readonly exitFile: string | null;
  readonly startedAt: number;
}

export interface PendingPlan {
  readonly action: HandlerPlan['action'];
  readonly targetVersion: string | null;
  readonly fromVersion: string | null;
  readonly reason: string;
  readonly steps: readonly PlanStep[];
  /** Steps completed, in order. */
  readonly done: number;
  readonly running: RunningStep | null;
  /** Old-side exit codes handed to the new side during an upgrade (the agent's env vars). */
  readonly upgrade: { readonly disableExitCode: number | null; readonly uninstallExitCode: number | null } | null;
  /** How many times a supervisor restart interrupted this plan. */
  readonly interruptions: number;
}

/** The plan a pending record carries, to be run again from its checkpoint. */
export function planOf(pending: PendingPlan): HandlerPlan {
  return { action: pending.action, steps: pending.steps, targetVersion: pending.targetVersion, fromVersion: pending.fromVersion, reason: pending.reason };
}

const STEP_KINDS: ReadonlySet<string> = new Set(['fetch', 'prepare', 'command', 'copyState', 'removeDir']);

/** Reads progress back from disk; anything malformed is dropped (the plan is made again from the record). */
export function pendingFromJson(value: unknown): PendingPlan | null {
  const v = value as Partial<PendingPlan> | null | undefined;
  if (!v || typeof v !== 'object' || !Array.isArray(v.steps) || typeof v.done !== 'number' || typeof v.action !== 'string') return null;
  if (!v.steps.every((s) => s && typeof s === 'object' && STEP_KINDS.has(String((s as PlanStep).kind)))) return null;
  const r = v.running as Partial<RunningStep> | null | undefined;
  const running = r && typeof r.step === 'number' && typeof r.runId === 'string' && typeof r.op === 'string' && typeof r.startedAt === 'number'
    ? { step: r.step, op: r.op as CommandName, runId: r.runId, exitFile: typeof r.exitFile === 'string' ? r.exitFile : null, startedAt: r.startedAt }
    : null;
  return {
    action: v.action as HandlerPlan['action'], targetVersion: v.targetVersion ?? null, fromVersion: v.fromVersion ?? null, reason: String(v.reason ?? ''),
    steps: v.steps as PlanStep[], done: v.done, running, upgrade: v.upgrade ?? null, interruptions: typeof v.interruptions === 'number' ? v.interruptions : 0,
  };
}
