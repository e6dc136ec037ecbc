/**
 * The one lifecycle decision (CONTRACT section 4): from a step's outcome to the lifecycle event
 * that follows and the effects the executor carries out. Pure: no I/O, no clock, no emit, so
 * every rule has a row in test/supervisor/lifecycle/decide.test.ts.
 */
import { SupervisorError } from '../../core/errors.js';
import type { HandlerManifest } from '../../protocol/manifest.js';
import type { OperationResult } from './events.js';
import type { HandlerRecord, LifecycleEvent } from './record.js';
import { enabledSnapshot, type ExtensionSettings } from './settings-hash.js';
import type { HandlerPlan, PlanStep } from './steps.js';

type CommandStep = Extract<PlanStep, { kind: 'command' }>;

export type StepOutcome =
  /** A fetch, prepare, copyState or removeDir step was carried out. */
  | { readonly kind: 'done' }
  /** Every run of the command succeeded; the exit code is the last run's. */
  | { readonly kind: 'succeeded'; readonly exitCode: number | null }
  /** A run of the command failed or timed out. */
  | { readonly kind: 'failed'; readonly failure: OperationResult }
  /** The command was not run because `commandSkipped` said so. */
  | { readonly kind: 'skipped' }
  /** The step could not be carried out (every uri failed, the manifest is unreadable): no command ran. */
  | { readonly kind: 'error'; readonly failure: OperationResult }
  /** The command could not run because its handler dir or manifest is gone (the handler deleted it). */
  | { readonly kind: 'gone'; readonly failure: OperationResult }
  /** The supervisor is stopping before this step. */
  | { readonly kind: 'stopping'; readonly failure: OperationResult };

export interface DecisionInput {
  readonly record: HandlerRecord;
  readonly plan: Pick<HandlerPlan, 'action' | 'targetVersion' | 'fromVersion'>;
  readonly step: PlanStep;
  readonly outcome: StepOutcome;
  /** Command steps: the manifest of the step's version. */
  readonly manifest: HandlerManifest | null;
  /** Upgrade, old-side steps: the new version's manifest (its continueOnUpdateFailure rules); null when unreadable. */
  readonly newManifest: HandlerManifest | null;
  /** The goal's extensions and the time the step ended, for the `enabled` event. */
  readonly extensions: readonly ExtensionSettings[];
  readonly at: number;
}

export type Effect =
  /** Hand an old-side exit code to the new side's environment (AZURE_GUEST_AGENT_*_CMD_EXIT_CODE). */
  | { readonly type: 'upgradeExitCode'; readonly command: 'disable' | 'uninstall'; readonly exitCode: number }
  /** Delete a version's handler dir (the fetched new version of an aborted upgrade). */
  | { readonly type: 'removeDir'; readonly version: string }
  /** Delete the settings and status files of extensions the goal dropped (multi-config naming only). */
  | { readonly type: 'removeExtensionFiles'; readonly version: string; readonly extensions: readonly string[] }
  /** Checkpoint the step as complete, with the decision's event, in one record write. */
  | { readonly type: 'stepDone' };

export type Next =
  | { readonly kind: 'continue' }
  /** The plan ends here, failed: the decision's event and the plan's end in one record write. */
  | { readonly kind: 'endPlan'; readonly failure: OperationResult }
  /** This run stops, the checkpoint kept: the next start goes on from this step. */
  | { readonly kind: 'suspend'; readonly failure: OperationResult };

export interface Decision {
  readonly event: LifecycleEvent | null;
  readonly effects: readonly Effect[];
  readonly next: Next;
}

const proceed: Next = { kind: 'continue' };
const done = (event: LifecycleEvent | null, ...before: Effect[]): Decision =>
  ({ event, effects: [...before, { type: 'stepDone' }], next: proceed });
const endPlan = (failure: OperationResult, event: LifecycleEvent | null, ...effects: Effect[]): Decision =>
  ({ event, effects, next: { kind: 'endPlan', failure } });

/** Whether the plan replaces one version by another, so the new side is told the old side's exit codes. */
export function isUpgrade(plan: Pick<HandlerPlan, 'action' | 'targetVersion' | 'fromVersion'>): boolean {
  return plan.fromVersion !== null && plan.targetVersion !== null && (plan.action === 'upgrade' || plan.action === 'downgrade');
}

/**
 * updateMode UpdateWithoutInstall: the new version's install is not run after its update. A
 * single-config handler has no per-extension disable: a dropped extension is only forgotten.
 */
export function commandSkipped(step: CommandStep, manifest: HandlerManifest): boolean {
  if (step.dropped) return !(manifest.form === 'command' && manifest.supportsMultipleExtensions);
  return step.op === 'install' && step.role === 'new' && manifest.form === 'command' && manifest.updateMode === 'UpdateWithoutInstall';
}

/**
 * Uninstall of a handler whose dir or manifest is gone: its disable and uninstall cannot run, so they are
 * skipped and the rest is removed (the Azure agent treats such an uninstall as done). Anywhere else a
 * missing manifest fails the plan (1002).
 */
export function goneSkipped(plan: Pick<HandlerPlan, 'action'>, step: PlanStep): boolean {
  return plan.action === 'uninstall' && step.kind === 'command' && (step.op === 'disable' || step.op === 'uninstall');
}

/** What a step's outcome means for the lifecycle, and whether the plan goes on. */
export function decide(input: DecisionInput): Decision {
  const { step, outcome } = input;
  switch (outcome.kind) {
    case 'stopping': return { event: null, effects: [], next: { kind: 'suspend', failure: outcome.failure } };
    case 'error': return endPlan(outcome.failure, installFailed(input));
    case 'gone': return afterGone(input, outcome.failure);
    case 'done': return step.kind === 'removeDir' ? afterRemoveDir(input, step) : { event: null, effects: [], next: proceed };
  }
  if (step.kind !== 'command') throw new SupervisorError('E_INTERNAL', `a ${step.kind} step has no ${outcome.kind} outcome`, { step: step.kind });
  const form = input.manifest?.form ?? 'command';
  switch (outcome.kind) {
    case 'skipped': return step.dropped ? afterDropped(input, step) : done({ type: 'upgraded', version: step.version, form });
    case 'succeeded': return afterSuccess(input, step, form, outcome.exitCode ?? 0);
    case 'failed': return afterFailure(input, step, form, outcome.failure);
  }
}

function afterGone({ record, plan, step }: DecisionInput, failure: OperationResult): Decision {
  if (!goneSkipped(plan, step) || step.kind !== 'command') return endPlan(failure, null);
  return done(step.op === 'disable' && record.state === 'Enabled' ? { type: 'disabled' } : null);
}

function afterRemoveDir({ record, plan }: DecisionInput, step: Extract<PlanStep, { kind: 'removeDir' }>): Decision {
  if (step.uninstalled === true) return done({ type: 'uninstalled' });
  // The new dir of a failed upgrade is gone: the old version is the installed one again.
  if (record.state === 'FailedUpgrade' && record.version === step.version && plan.action !== 'uninstall') return done({ type: 'rolledBack' });
  // The old dir after its uninstall: the next command's start checkpoints the progress.
  return { event: null, effects: [], next: proceed };
}

function oldSideCode(input: DecisionInput, step: CommandStep, exitCode: number): Effect[] {
  if (!isUpgrade(input.plan) || step.role !== 'old' || (step.op !== 'disable' && step.op !== 'uninstall')) return [];
  return [{ type: 'upgradeExitCode', command: step.op, exitCode }];
}

function afterSuccess(input: DecisionInput, step: CommandStep, form: 'command' | 'script', exitCode: number): Decision {
  const { record } = input;
  const codes = oldSideCode(input, step, exitCode);
  switch (step.op) {
    case 'install':
      if (step.role === 'new') return done({ type: 'upgraded', version: step.version, form });
      return done(record.state === 'NotInstalled' ? { type: 'installed', version: step.version, form } : null);
    case 'enable': {
      // Extensions the goal dropped are forgotten; those not enabled by this step keep their last snapshot.
      const names = new Set(input.extensions.map((e) => e.name));
      const kept = Object.fromEntries(Object.entries(record.enabledExtensions).filter(([n]) => names.has(n)));
      const enabled = input.extensions.filter((e) => step.extensions.includes(e.name));
      return done({ type: 'enabled', extensions: { ...kept, ...enabledSnapshot(enabled) }, at: input.at });
    }
    case 'disable':
      if (step.dropped) return afterDropped(input, step, { type: 'removeExtensionFiles', version: step.version, extensions: step.extensions });
      return done(record.state === 'Enabled' ? { type: 'disabled' } : null, ...codes);
    case 'update': return done(null);
    case 'uninstall': return done(null, ...codes);
  }
}

/** Dropped extensions are forgotten; the handler stays enabled for the extensions it still has. */
function afterDropped({ record, at }: DecisionInput, step: CommandStep, ...effects: Effect[]): Decision {
  const kept = Object.fromEntries(Object.entries(record.enabledExtensions).filter(([n]) => !step.extensions.includes(n)));
  return done(record.state === 'Enabled' ? { type: 'enabled', extensions: kept, at: record.enabledAt ?? at } : null, ...effects);
}

function afterFailure(input: DecisionInput, step: CommandStep, form: 'command' | 'script', failure: OperationResult): Decision {
  const { record, plan } = input;
  if (isUpgrade(plan) && step.role === 'old') {
    const target = plan.targetVersion ?? step.version;
    const codes = oldSideCode(input, step, failure.exitCode ?? -1);
    // The agent reads continueOnUpdateFailure from the new version's manifest.
    const m = input.newManifest;
    if (m?.form === 'command' && m.continueOnUpdateFailure) {
      return done(step.op === 'disable' && record.state === 'Enabled' ? { type: 'disabled' } : null, ...codes);
    }
    // The new side is already updated: keep both dirs and say the upgrade failed.
    if (step.op === 'uninstall') return endPlan(failure, { type: 'upgradeFailed', version: target, previousVersion: step.version, form }, ...codes);
    // Aborted before the new side ran: the fetched dir goes, unless a failed upgrade still needs it.
    return endPlan(failure, null, ...codes, ...(record.state !== 'FailedUpgrade' ? [{ type: 'removeDir', version: target } as const] : []));
  }
  if (step.op === 'update') {
    const already = record.state === 'FailedUpgrade' && record.version === step.version;
    return endPlan(failure, already ? null : { type: 'upgradeFailed', version: step.version, previousVersion: plan.fromVersion ?? step.version, form });
  }
  // The old version is gone already; the new dir stays and is reused by the next attempt.
  if (step.op === 'install' && step.role === 'new' && record.state !== 'NotInstalled') return endPlan(failure, { type: 'uninstalled' });
  return endPlan(failure, installFailed(input));
}

/** A fresh install that failed after its package was staged: the record keeps the dir's version, for uninstall to remove. */
function installFailed({ record, plan, step, manifest }: DecisionInput): LifecycleEvent | null {
  if (record.state !== 'NotInstalled' || plan.action !== 'install' || plan.targetVersion === null || step.kind === 'fetch') return null;
  return { type: 'installFailed', version: plan.targetVersion, form: manifest?.form ?? null };
}
