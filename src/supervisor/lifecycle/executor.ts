/**
 * Runs a handler plan step by step, moving the lifecycle record through `transition` and
 * checkpointing its progress in the record before and after every command. A record that
 * still holds progress after a crash is resumed from it: completed commands are not run
 * again; the one that was running is recovered from its exit status or run again once.
 */
import type { Spawner } from '../process/spawner.js';
import { rm } from 'node:fs/promises';
import type { Clock } from '../../core/clock.js';
import type { HandlerManifest } from '../../protocol/manifest.js';
import type { Gate } from './gate.js';
import type { UpgradeEnv } from './command-line.js';
import { fetchFailureCode, fetchHandlerPackage, readInstalledManifest } from './fetch-step.js';
import type { HandlerEvent, OperationResult } from './events.js';
import { handlerPaths, scriptWorkFolder, type SupervisorDirs } from '../../storage/layout.js';
import { copyHandlerState, isMultiConfig, prepareHandlerFiles } from './prepare.js';
import { planEnded, planStarted, stepStarted, stepsDone, type RunningStep } from './progress.js';
import { transition, type HandlerRecord, type LifecycleEvent } from './record.js';
import { recoverCommand } from './recover-command.js';
import { invokeCommand, prepareRun, recoveredResult, type InvokeTarget } from './invoke-command.js';
import { enabledSnapshot, type ExtensionSettings } from './settings-hash.js';
import type { CommandName, HandlerPlan, PlanStep } from './steps.js';
import { ErrorCodes } from './error-codes.js';

export interface ExecutionGoal {
  readonly name: string;
  readonly extensions: readonly ExtensionSettings[];
  readonly timeouts: Readonly<Record<CommandName, number>>;
  /** Script form: override the manifest's arguments and installedCriteria. */
  readonly handlerProperties: { readonly arguments?: string; readonly installedCriteria?: string };
  /** Script form: the Device Update component the placeholders are filled from. */
  readonly component: Readonly<Record<string, string>> | null;
}

export interface ExecutorDeps {
  readonly dirs: SupervisorDirs;
  readonly libId: string;
  readonly gates: { readonly install: Gate; readonly enable: Gate; readonly fetch: Gate };
  readonly graceMs: number;
  readonly clock: Clock;
  readonly signal: AbortSignal;
  /** Forks through this helper process (the daemon's); from this process otherwise. */
  readonly spawner?: Spawner;
  readonly saveRecord: (record: HandlerRecord) => Promise<void>;
  readonly emit: (event: HandlerEvent) => void;
}

export interface PlanOutcome {
  readonly ok: boolean;
  readonly record: HandlerRecord;
  readonly operations: readonly OperationResult[];
  readonly failure: OperationResult | null;
  /** Set when the plan was resumed after a supervisor restart: what happened to the interrupted command. */
  readonly recovery: string | null;
}

type CommandStep = Extract<PlanStep, { kind: 'command' }>;
const handlerLevel: ReadonlySet<CommandName> = new Set(['install', 'update', 'uninstall']);

class PlanRun {
  private record: HandlerRecord;
  private readonly manifests = new Map<string, HandlerManifest>();
  private readonly operations: OperationResult[] = [];
  private readonly upgrade: UpgradeEnv | null;
  /** The step being carried out. */
  private i = 0;
  private recovery: string | null = null;
  /** The checkpoint to recover (resume only, first command only). */
  private interrupted: RunningStep | null;
  /** this.record holds a step's end that is not on disk yet (see checkpoint). */
  private unsaved = false;

  constructor(private readonly goal: ExecutionGoal, private readonly plan: HandlerPlan, record: HandlerRecord,
    private readonly deps: ExecutorDeps) {
    const resumed = record.pending;
    this.record = resumed ? record : planStarted(record, plan);
    this.i = resumed ? resumed.done : 0;
    this.interrupted = resumed?.running ?? null;
    const saved = resumed?.upgrade ?? null;
    this.upgrade = plan.fromVersion && plan.targetVersion && (plan.action === 'upgrade' || plan.action === 'downgrade')
      ? { newVersion: plan.targetVersion, fromVersion: plan.fromVersion, disableExitCode: saved?.disableExitCode ?? null,
        uninstallExitCode: saved?.uninstallExitCode ?? null } : null;
  }

  async run(): Promise<PlanOutcome> {
    for (; this.i < this.plan.steps.length; this.i++) {
      const step = this.plan.steps[this.i]!;
      // Stopping between steps keeps the checkpoint: the next start goes on from here.
      if (this.deps.signal.aborted) return this.fail(this.synthetic('fetch', step, ErrorCodes.processing, 'not run: the supervisor is stopping'), false);
      const failure = await this.step(step);
      if (failure) return this.fail(failure, true);
    }
    await this.end(true);
    return { ok: true, record: this.record, operations: this.operations, failure: null, recovery: this.recovery };
  }

  private async fail(failure: OperationResult, endPlan: boolean): Promise<PlanOutcome> {
    await this.end(endPlan);
    return { ok: false, record: this.record, operations: this.operations, failure, recovery: this.recovery };
  }

  /** The last write of a run: the plan ended, or (stopping) the progress so far. */
  private async end(endPlan: boolean): Promise<void> {
    if (endPlan && this.record.pending) await this.save(planEnded(this.record));
    else if (this.unsaved) await this.save(this.record);
  }

  private paths(version: string) { return handlerPaths(this.deps.dirs, this.goal.name, version); }

  private async save(record: HandlerRecord): Promise<void> {
    this.record = record;
    this.unsaved = false;
    await this.deps.saveRecord(record);
    this.deps.emit({ type: 'recordChanged', handler: this.goal.name, record });
  }

  /**
   * The end of a step. Written now, unless the next write comes before anything else can happen:
   * the next step is a command (whose start is checkpointed before it runs) or there is none (the
   * plan's end is written). A crash in between leaves the previous command's start on disk, and
   * its exit file says it completed: recovery reaches the same record, one atomic write fewer.
   */
  private async checkpoint(record: HandlerRecord): Promise<void> {
    const next = this.plan.steps[this.i + 1];
    if (next !== undefined && next.kind !== 'command') return this.save(record);
    this.record = record;
    this.unsaved = true;
    this.deps.emit({ type: 'recordChanged', handler: this.goal.name, record });
  }

  private upgradeCodes() {
    return this.upgrade ? { disableExitCode: this.upgrade.disableExitCode, uninstallExitCode: this.upgrade.uninstallExitCode } : null;
  }

  /** A lifecycle event always completes the current step: one write for both. */
  private async advance(event: LifecycleEvent): Promise<void> {
    await this.checkpoint(stepsDone(transition(this.record, event), this.i + 1, this.upgradeCodes()));
  }

  private async markDone(): Promise<void> {
    await this.checkpoint(stepsDone(this.record, this.i + 1, this.upgradeCodes()));
  }

  private async manifestOf(version: string): Promise<HandlerManifest> {
    let m = this.manifests.get(version);
    if (!m) {
      m = await readInstalledManifest(this.paths(version));
      this.manifests.set(version, m);
    }
    return m;
  }

  private synthetic(op: OperationResult['op'], step: PlanStep, code: number, message: string): OperationResult {
    const now = this.deps.clock.now();
    const version = 'version' in step ? step.version : step.to;
    return { op, version, extension: null, result: 'failed', exitCode: null, signal: null, code, message,
      startedAt: now, endedAt: now, pids: [], unkillable: [] };
  }

  /** Runs one step; returns the failure that ends the plan, or null to go on. */
  private async step(step: PlanStep): Promise<OperationResult | null> {
    switch (step.kind) {
      case 'fetch': return this.fetch(step);
      case 'prepare': {
        const form = await this.manifestOf(step.version).then((m) => m.form, () => 'command');
        await prepareHandlerFiles(this.paths(step.version), this.goal.name, step.version, this.goal.extensions, { settings: form !== 'script' });
        return null;
      }
      case 'copyState':
        await copyHandlerState(this.paths(step.from), this.paths(step.to));
        return null;
      case 'removeDir': return this.removeDir(step.version, step.uninstalled === true);
      case 'command': return this.command(step);
    }
  }

  private async fetch(step: Extract<PlanStep, { kind: 'fetch' }>): Promise<OperationResult | null> {
    const startedAt = this.deps.clock.now();
    this.deps.emit({ type: 'operationStarted', handler: this.goal.name, op: 'fetch', version: step.version, extension: null, startedAt, pid: null });
    let result: OperationResult;
    try {
      const got = await this.deps.gates.fetch.run(() => fetchHandlerPackage({ libDir: this.deps.dirs.libDir, name: this.goal.name,
        pkg: step.pkg, paths: this.paths(step.version), signal: this.deps.signal }), this.deps.signal);
      this.manifests.set(step.version, got.manifest);
      result = { ...this.synthetic('fetch', step, 0, got.reused ? `reused ${this.paths(step.version).dir}` : `fetched ${got.uri}`),
        result: 'succeeded', startedAt };
    } catch (err) {
      result = { ...this.synthetic('fetch', step, fetchFailureCode(err), `fetch of ${this.goal.name} ${step.version} failed: ${(err as Error).message}`), startedAt };
    }
    return this.record_(result);
  }

  private record_(result: OperationResult): OperationResult | null {
    this.operations.push(result);
    this.deps.emit({ type: 'operationEnded', handler: this.goal.name, result });
    return result.result === 'succeeded' ? null : result;
  }

  private async removeDir(version: string, uninstalled: boolean): Promise<OperationResult | null> {
    await rm(this.paths(version).dir, { recursive: true, force: true });
    this.manifests.delete(version);
    if (uninstalled) {
      await rm(scriptWorkFolder(this.deps.dirs, this.goal.name), { recursive: true, force: true });
      await this.advance({ type: 'uninstalled' });
    } else if (this.record.state === 'FailedUpgrade' && this.record.version === version && this.plan.action !== 'uninstall') {
      await this.advance({ type: 'rolledBack' });
    }
    return null;
  }

  private async command(step: CommandStep): Promise<OperationResult | null> {
    let manifest: HandlerManifest;
    try {
      manifest = await this.manifestOf(step.version);
    } catch (err) {
      return this.record_(this.synthetic(step.op, step, fetchFailureCode(err), (err as Error).message));
    }
    if (step.op === 'install' && step.role === 'new' && manifest.form === 'command' && manifest.updateMode === 'UpdateWithoutInstall') {
      await this.advance({ type: 'upgraded', version: step.version, form: manifest.form });
      return null;
    }
    const results: OperationResult[] = [];
    for (const target of this.targets(step, manifest)) {
      const r = await this.runTarget(step, target);
      results.push(r);
      const failure = this.record_(r);
      if (failure) return this.onCommandFailure(step, manifest, failure);
    }
    await this.onCommandSuccess(step, manifest, results);
    return null;
  }

  /** One run for handler-level ops and single-config handlers; one per extension for multi-config. */
  private targets(step: CommandStep, manifest: HandlerManifest): InvokeTarget[] {
    const exts = this.goal.extensions;
    // Script handlers have no per-extension actions: one run per operation.
    const multi = isMultiConfig(exts) && !handlerLevel.has(step.op) && manifest.form === 'command';
    const list: Array<{ ext: ExtensionSettings | null; name: string | null }> = multi
      ? exts.filter((e) => step.extensions.includes(e.name)).map((e) => ({ ext: e, name: e.name }))
      : [{ ext: exts[0] ?? null, name: null }];
    return list.map(({ ext, name }) => ({
      handler: this.goal.name, op: step.op, version: step.version, paths: this.paths(step.version), manifest, ext, extName: name,
      timeoutMs: this.goal.timeouts[step.op] * 1000, upgrade: this.upgrade, handlerProperties: this.goal.handlerProperties,
      component: this.goal.component, dirs: this.deps.dirs,
    }));
  }

  /** Checkpoint, then run; after a restart, first find out what became of the interrupted run. */
  private async runTarget(step: CommandStep, t: InvokeTarget): Promise<OperationResult> {
    const gate = handlerLevel.has(step.op) ? this.deps.gates.install : this.deps.gates.enable;
    let started = false;
    // Script operations start one process per action: the operation starts once.
    const ctx = { libId: this.deps.libId, gate, graceMs: this.deps.graceMs, signal: this.deps.signal, clock: this.deps.clock,
      ...(this.deps.spawner ? { spawner: this.deps.spawner } : {}),
      onStart: (pid: number | null, startedAt: number) => {
        if (started) return;
        started = true;
        this.deps.emit({ type: 'operationStarted', handler: this.goal.name, op: step.op, version: step.version, extension: t.extName, startedAt, pid });
      } };
    const interrupted = this.interrupted;
    this.interrupted = null;
    let note = '';
    if (interrupted && interrupted.step === this.i && interrupted.op === step.op) {
      const got = await recoverCommand(interrupted, { libId: this.deps.libId, handler: this.goal.name, timeoutMs: t.timeoutMs,
        graceMs: this.deps.graceMs, clock: this.deps.clock, signal: this.deps.signal });
      if (got.kind !== 'unknown') {
        this.recovery = `${step.op} ${got.kind === 'exited' ? 'completed' : 'timed out'} while the supervisor was down`;
        return recoveredResult(t, interrupted, got, ctx);
      }
      this.recovery = `${step.op} was interrupted by a supervisor restart and ran again`;
      note = ' (run again: it was interrupted by a supervisor restart)';
    }
    const run = await prepareRun(t, this.i, this.deps.clock.now());
    await this.save(stepStarted(this.record, run, this.i));
    const r = await invokeCommand(t, run, ctx);
    return note ? { ...r, message: `${r.message}${note}` } : r;
  }

  private async onCommandSuccess(step: CommandStep, manifest: HandlerManifest, results: OperationResult[]): Promise<void> {
    const last = results.at(-1);
    if (this.upgrade && step.role === 'old' && step.op === 'disable') this.upgrade.disableExitCode = last?.exitCode ?? 0;
    if (this.upgrade && step.role === 'old' && step.op === 'uninstall') this.upgrade.uninstallExitCode = last?.exitCode ?? 0;
    switch (step.op) {
      case 'install':
        if (step.role === 'new') return this.advance({ type: 'upgraded', version: step.version, form: manifest.form });
        if (this.record.state === 'NotInstalled') return this.advance({ type: 'installed', version: step.version, form: manifest.form });
        return this.markDone();
      case 'enable': {
        const names = new Set(this.goal.extensions.map((e) => e.name));
        const kept = Object.fromEntries(Object.entries(this.record.enabledExtensions).filter(([n]) => names.has(n)));
        const done = this.goal.extensions.filter((e) => step.extensions.includes(e.name));
        return this.advance({ type: 'enabled', extensions: { ...kept, ...enabledSnapshot(done) }, at: this.deps.clock.now() });
      }
      case 'disable':
        return this.record.state === 'Enabled' ? this.advance({ type: 'disabled' }) : this.markDone();
      case 'update':
      case 'uninstall':
        return this.markDone();
    }
  }

  /** Decides what a failed command means for the lifecycle (CONTRACT section 4, upgrade rules). */
  private async onCommandFailure(step: CommandStep, manifest: HandlerManifest, failure: OperationResult): Promise<OperationResult | null> {
    if (this.upgrade && step.role === 'old') {
      const target = this.plan.targetVersion ?? step.version;
      const continueOnFailure = await this.manifestOf(target).then((m) => m.form === 'command' && m.continueOnUpdateFailure, () => false);
      if (step.op === 'disable') this.upgrade.disableExitCode = failure.exitCode ?? -1;
      if (step.op === 'uninstall') this.upgrade.uninstallExitCode = failure.exitCode ?? -1;
      if (continueOnFailure) {
        if (step.op === 'disable' && this.record.state === 'Enabled') await this.advance({ type: 'disabled' });
        else await this.markDone();
        return null;
      }
      if (step.op === 'uninstall') {
        // The new side is already updated: keep both dirs and say the upgrade failed.
        await this.advance({ type: 'upgradeFailed', version: target, previousVersion: step.version, form: manifest.form });
      } else if (this.record.state !== 'FailedUpgrade') {
        await rm(this.paths(target).dir, { recursive: true, force: true });
      }
      return failure;
    }
    if (step.op === 'update') {
      const from = this.plan.fromVersion ?? step.version;
      if (this.record.state !== 'FailedUpgrade' || this.record.version !== step.version) {
        await this.advance({ type: 'upgradeFailed', version: step.version, previousVersion: from, form: manifest.form });
      }
      return failure;
    }
    if (step.op === 'install' && step.role === 'new' && this.record.state !== 'NotInstalled') {
      // The old version is gone already; the new dir stays and is reused by the next attempt.
      await this.advance({ type: 'uninstalled' });
    }
    return failure;
  }
}

/** Executes the plan for one handler (or resumes the one its record holds); never throws for a handler failure. */
export async function executePlan(goal: ExecutionGoal, plan: HandlerPlan, record: HandlerRecord, deps: ExecutorDeps): Promise<PlanOutcome> {
  return new PlanRun(goal, plan, record, deps).run();
}
