/**
 * Plan progress, kept in the handler's record and written atomically before and after every
 * command: what a restarted supervisor resumes from without re-running a completed command.
 */
import type { HandlerPlan } from './steps.js';
import type { HandlerRecord } from './record.js';
import type { PendingPlan, RunningStep } from './pending-plan.js';

export type { PendingPlan, RunningStep } from './pending-plan.js';
export { pendingFromJson, planOf } from './pending-plan.js';

function withPending(record: HandlerRecord, pending: PendingPlan | null): HandlerRecord {
  return Object.freeze({ ...record, pending: pending ? Object.freeze(pending) : null });
}

export function planStarted(record: HandlerRecord, plan: HandlerPlan): HandlerRecord {
  return withPending(record, { action: plan.action, targetVersion: plan.targetVersion, fromVersion: plan.fromVersion, reason: plan.reason,
    steps: plan.steps, done: 0, running: null, upgrade: null, interruptions: 0 });
}

export function stepStarted(record: HandlerRecord, running: RunningStep, done: number): HandlerRecord {
  return record.pending ? withPending(record, { ...record.pending, done, running }) : record;
}

/** Marks steps up to `done` complete; the last one ends the plan (pending null). */
export function stepsDone(record: HandlerRecord, done: number, upgrade: PendingPlan['upgrade'] = record.pending?.upgrade ?? null): HandlerRecord {
  if (!record.pending) return record;
  return done >= record.pending.steps.length ? withPending(record, null) : withPending(record, { ...record.pending, done, running: null, upgrade });
}

export function planEnded(record: HandlerRecord): HandlerRecord {
  return withPending(record, null);
}

export function resumed(record: HandlerRecord): HandlerRecord {
  return record.pending ? withPending(record, { ...record.pending, interruptions: record.pending.interruptions + 1 }) : record;
}
