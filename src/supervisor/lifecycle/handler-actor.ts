/**
 * One actor per handler: its mailbox serialises everything done to the handler, so two goal
 * states are never interleaved on it. It waits for its dependencies, plans, executes, and tells
 * facts (work started, how it settled): what the handler shows is decided in monitor/handler-status.ts.
 * A goal whose ticket a newer goal dropped while it waited is skipped (goal-ticket.ts).
 */
import { onAbort } from '../../core/abort.js';
import type { Behavior, Reply } from '../../actors/actor.js';
import type { HandlerGoal } from '../goal/goal-state.js';
import { disablePlan, planHandler, restartPlan } from './plan.js';
import { watchSpecFor } from './watch-spec.js';
import type { MonitorEvent } from '../monitor/types.js';
import { executePlan, type ExecutorDeps } from './executor.js';
import type { LifecycleStatus, OperationResult, Work, WorkOutcome } from './events.js';
import { emptyRecord, type HandlerRecord } from './record.js';
import { planOf, resumed as resumedRecord } from './progress.js';
import type { HandlerPlan } from './steps.js';
import { goalReached } from './status.js';
import { lifecycleStatus } from '../monitor/handler-status.js';
import { ErrorCodes } from './error-codes.js';
import type { StateStore } from './record-store.js';
import { goalName, type GoalRef, type GoalTicket } from './goal-ticket.js';
import type { BackoffPolicy } from '../../core/backoff.js';
import type { ActorRef } from '../../actors/types.js';
import { TRANSIENT_RETRY, TransientRetry, transientFailure, transientMessage } from './transient-retry.js';

export interface HandlerApplyResult {
  readonly name: string;
  readonly goal: HandlerGoal;
  readonly reached: boolean;
  readonly action: HandlerPlan['action'] | 'blocked' | 'error' | 'superseded';
  readonly record: HandlerRecord;
  readonly status: LifecycleStatus;
  readonly operations: readonly OperationResult[];
  readonly failure: OperationResult | null;
  /** Set when a newer goal took this one's place before it started (null: a stop withdrew it). */
  readonly supersededBy?: GoalRef | null;
  /** What this apply recovered from (a plan or command a restart interrupted), for `apply`'s notes. */
  readonly recovery?: string | null;
}

export interface Dependency {
  readonly name: string;
  readonly result: Promise<HandlerApplyResult>;
}

export type HandlerMessage =
  | { readonly type: 'apply'; readonly goal: HandlerGoal; readonly dependencies: readonly Dependency[]; readonly reply: Reply<HandlerApplyResult>;
      /** The fleet's handle on this goal: dropped when a newer goal comes before the apply starts. */
      readonly ticket?: GoalTicket }
  /** Heartbeat watchdog: disable + enable the installed version (onUnresponsive "restart"). */
  | { readonly type: 'restart'; readonly reply: Reply<{ ok: boolean; message: string }> }
  /** `supervisor restart` / `retry`, by hand: disable an enabled handler, or apply its last goal again now. */
  | { readonly type: 'control'; readonly op: 'disable' | 'reapply'; readonly reply: Reply<ControlOutcome> }
  /** Start-up: announce the handler as it is on disk (record, watch spec, status) without running anything. */
  | { readonly type: 'describe'; readonly goal: HandlerGoal | null; readonly reply: Reply<HandlerRecord> }
  /** The last goal again, after work failed on a resource of the machine (disk full...); stale when a new goal came. */
  | { readonly type: 'retry'; readonly generation: number };

export interface HandlerActorDeps extends Omit<ExecutorDeps, 'emit' | 'saveRecord'> {
  readonly store: StateStore;
  readonly emit: (event: MonitorEvent) => void;
  /** Backoff for work that failed on a resource (ENOSPC...); null: never retried (one-shot apply). Default TRANSIENT_RETRY. */
  readonly transientRetry?: BackoffPolicy | null;
}

function firstLine(text: string): string {
  return text.split('\n', 1)[0] ?? '';
}

/** A failure that never ran a command: dependency failed, or no plan could be made. */
function syntheticFailure(goal: HandlerGoal, code: number, message: string, now: number): OperationResult {
  return { op: 'fetch', version: goal.version, extension: null, result: 'failed', exitCode: null, signal: null, code, message,
    startedAt: now, endedAt: now, pids: [], unkillable: [] };
}

/** The answer for a goal a newer one replaced before it started, or a stop withdrew: nothing ran, nothing is told. */
export function supersededResult(goal: HandlerGoal, record: HandlerRecord, by: GoalRef | null): HandlerApplyResult {
  const message = by ? `superseded by ${goalName(by)}` : 'not applied: the supervisor stopped before it started';
  return { name: goal.name, goal, reached: false, action: 'superseded', record, status: { ...lifecycleStatus(record, null), message },
    operations: [], failure: null, supersededBy: by };
}

/** What a by-hand disable or re-apply did: ok false when it failed (or nothing could be done). */
export interface ControlOutcome { readonly ok: boolean; readonly message: string; readonly state: string }

export function handlerBehavior(name: string, deps: HandlerActorDeps): Behavior<HandlerMessage> {
  const started = (work: Work): void => deps.emit({ type: 'workStarted', handler: name, work });
  /** Tells how the work ended; returns the status that follows, for the apply's result. */
  const settled = (record: HandlerRecord, failure: OperationResult | null, note: string | null): LifecycleStatus => {
    const outcome: WorkOutcome = { failure: failure ? { code: failure.code, message: failure.message } : null, note };
    deps.emit({ type: 'workSettled', handler: name, outcome });
    return lifecycleStatus(record, { kind: 'settled', outcome });
  };
  /** The goal this handler was last applied with: restarts and watch specs use it. */
  let lastGoal: HandlerGoal | null = null;
  const retry = new TransientRetry(deps.clock, deps.transientRetry === undefined ? TRANSIENT_RETRY : deps.transientRetry);
  onAbort(deps.signal, () => retry.cancel());
  let self: ActorRef<HandlerMessage> | null = null;
  /** Why a checkpointed plan was cut short in this process (a failed write), for the resume's message. */
  let interruptedBy: string | null = null;

  async function announce(record: HandlerRecord): Promise<void> {
    deps.emit({ type: 'watch', handler: name, spec: await watchSpecFor(deps.dirs, record, lastGoal) });
  }
  // A handler that is gone leaves no record, unless a plan is under way (a fresh install's checkpoint) or a failed install left its dir.
  const saveRecord = (rec: HandlerRecord): Promise<void> => rec.state === 'NotInstalled' && !rec.pending && rec.version === null
    ? deps.store.remove(name) : deps.store.save(rec);

  async function restart(): Promise<{ ok: boolean; message: string }> {
    const record = await deps.store.load(name);
    const plan = lastGoal ? restartPlan(lastGoal, record) : null;
    if (!lastGoal || !plan) return { ok: false, message: `not restarted: ${name} is ${record.state}` };
    started({ action: 'restart', targetVersion: record.version, fromVersion: null });
    const outcome = await executePlan(lastGoal, plan, record, { ...deps, saveRecord });
    settled(outcome.record, outcome.failure, null);
    await announce(outcome.record);
    return outcome.ok ? { ok: true, message: 'restarted (disable + enable)' } : { ok: false, message: outcome.failure?.message ?? 'restart failed' };
  }

  async function control(op: 'disable' | 'reapply'): Promise<ControlOutcome> {
    if (!lastGoal) {
      const record = await deps.store.load(name);
      return { ok: false, message: `${name} has no goal in this daemon yet`, state: record.state };
    }
    if (op === 'reapply') {
      const r = await apply(lastGoal, [], null);
      return { ok: r.reached, message: r.status.message, state: r.record.state };
    }
    const record = await deps.store.load(name);
    const plan = disablePlan(lastGoal, record);
    if (!plan) return { ok: true, message: `not enabled (${record.state}): nothing to disable`, state: record.state };
    started({ action: 'disable', targetVersion: record.version, fromVersion: null });
    const outcome = await executePlan(lastGoal, plan, record, { ...deps, saveRecord });
    settled(outcome.record, outcome.failure, null);
    await announce(outcome.record);
    return { ok: outcome.ok, message: outcome.ok ? 'disabled' : outcome.failure?.message ?? 'disable failed', state: outcome.record.state };
  }

  async function apply(goal: HandlerGoal, dependencies: readonly Dependency[], ticket: GoalTicket | null): Promise<HandlerApplyResult> {
    const blockers: HandlerApplyResult[] = [];
    for (const dep of dependencies) {
      const r = await dep.result;
      // A dependency's goal was overtaken: so is this one (the newer goal waits for the dependency's newer result).
      if (r.action === 'superseded' && ticket) ticket.drop(r.supersededBy ?? null);
      else if (!r.reached) blockers.push(r);
    }
    if (ticket && !ticket.start()) {
      // Its waiter was answered when it was dropped; this late answer only settles the ask.
      return supersededResult(goal, await deps.store.load(name).catch(() => emptyRecord(name)), ticket.droppedBy);
    }
    lastGoal = goal;
    let record = await deps.store.load(name);
    let recovery: string | null = null;
    const earlier: OperationResult[] = [];
    if (record.pending && blockers.length === 0) {
      // A plan a supervisor restart interrupted is finished first, from its checkpoint.
      const pendingAction = record.pending.action;
      const cause = interruptedBy;
      interruptedBy = null;
      const resumed = await executePlan(goal, planOf(record.pending), resumedRecord(record),
        { ...deps, saveRecord, ...(cause !== null ? { interruptedBy: cause } : {}) });
      earlier.push(...resumed.operations);
      recovery = resumed.recovery ?? `resumed a plan interrupted by ${cause ?? 'a supervisor restart'}`;
      record = resumed.record;
      if (!resumed.ok) {
        const status = settled(record, resumed.failure, recovery);
        await announce(record);
        return { name, goal, reached: false, action: pendingAction, record, status, operations: earlier, failure: resumed.failure, recovery };
      }
    }
    const finish = (action: HandlerApplyResult['action'], rec: HandlerRecord, failure: OperationResult | null,
      operations: readonly OperationResult[], reached: boolean): HandlerApplyResult => {
      const status = settled(rec, failure, recovery);
      return { name, goal, reached, action, record: rec, status, operations: [...earlier, ...operations], failure, recovery };
    };
    const finishAndAnnounce = async (...args: Parameters<typeof finish>): Promise<HandlerApplyResult> => {
      const result = finish(...args);
      await announce(result.record);
      return result;
    };
    if (blockers.length > 0) {
      const why = blockers.map((b) => `"${b.name}" (${firstLine(b.status.message)})`).join(', ');
      const failure = syntheticFailure(goal, ErrorCodes.processing,
        `not attempted: dependency ${why} did not reach its goal`, deps.clock.now());
      return finish('blocked', record, failure, [], false);
    }
    let plan: HandlerPlan;
    try {
      plan = planHandler(goal, record);
    } catch (err) {
      const failure = syntheticFailure(goal, ErrorCodes.processing, (err as Error).message, deps.clock.now());
      return finish('error', record, failure, [], false);
    }
    if (plan.steps.length === 0) return finishAndAnnounce('none', record, null, [], goalReached(goal.state, record, plan.targetVersion));
    started({ action: plan.action, targetVersion: plan.targetVersion, fromVersion: plan.fromVersion });
    const outcome = await executePlan(goal, plan, record, { ...deps, saveRecord });
    if (outcome.recovery) recovery = outcome.recovery;
    const reached = outcome.ok && goalReached(goal.state, outcome.record, plan.targetVersion);
    return finishAndAnnounce(plan.action, outcome.record, outcome.failure, outcome.operations, reached);
  }

  /** An I/O error of our own (state dir unwritable...) fails this handler alone, as a result. */
  async function unexpected(goal: HandlerGoal, err: unknown): Promise<HandlerApplyResult> {
    const record = await deps.store.load(name).catch(() => emptyRecord(name));
    const transient = transientFailure(err);
    let message = `supervisor error: ${(err as Error)?.message ?? String(err)}`;
    if (transient && !deps.signal.aborted) {
      const delay = retry.schedule((generation) => self?.tell({ type: 'retry', generation }));
      message = transientMessage(transient, delay);
      interruptedBy = `a failed write (${transientMessage(transient, null)})`;
    }
    const failure = syntheticFailure(goal, ErrorCodes.processing, message, deps.clock.now());
    const status = settled(record, failure, null);
    return { name, goal, reached: false, action: 'error', record, status, operations: [], failure };
  }

  return {
    async receive(msg, ctx) {
      self = ctx.self;
      switch (msg.type) {
        case 'retry': {
          if (!retry.current(msg.generation) || !lastGoal || deps.signal.aborted) return;
          const goal = lastGoal;
          const failed = await apply(goal, [], null).then(() => false, async (err: unknown) => { await unexpected(goal, err); return transientFailure(err) !== null; });
          if (!failed) retry.reset();
          return;
        }
        case 'apply': {
          retry.reset();
          let result: HandlerApplyResult;
          try {
            result = await apply(msg.goal, msg.dependencies, msg.ticket ?? null);
          } catch (err) {
            result = await unexpected(msg.goal, err);
          }
          msg.reply.resolve(result);
          return;
        }
        case 'restart':
          msg.reply.resolve(await restart().catch((err: unknown) => ({ ok: false, message: `restart failed: ${(err as Error).message}` })));
          return;
        case 'control':
          retry.reset();
          msg.reply.resolve(await control(msg.op).catch(async (err: unknown) => {
            if (lastGoal) await unexpected(lastGoal, err);
            return { ok: false, message: `${msg.op} failed: ${(err as Error)?.message ?? String(err)}`, state: 'unknown' };
          }));
          return;
        case 'describe': {
          if (msg.goal) lastGoal = msg.goal;
          const record = await deps.store.load(name);
          // The record alone: how its last work ended is what the snapshot restored from disk.
          deps.emit({ type: 'recordChanged', handler: name, record });
          await announce(record);
          msg.reply.resolve(record);
          return;
        }
      }
    },
  };
}
