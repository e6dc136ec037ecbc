/**
 * Runs a handler plan step by step: performs each step, asks `decide` what its outcome means and
 * carries that decision out (the event through `transition`, the plan's progress, the effects),
 * checkpointing the progress in the record before and after every command. A record that still
 * holds progress after a crash is resumed from it: completed commands are not run again; the one
 * that was running is recovered from its exit status or run again once.
 */
import { rm } from 'node:fs/promises';
import type { HandlerManifest } from '../../protocol/manifest.js';
import type { UpgradeEnv } from './command-line.js';
import { commandTargets, runTarget, type CommandStep } from './command-runs.js';
import { commandSkipped, decide, goneSkipped, isUpgrade, type Decision, type StepOutcome } from './decide.js';
import { terminateHandler } from '../process/terminate.js';
import type { OperationResult } from './events.js';
import type { ExecutionGoal, ExecutorDeps, PlanOutcome } from './execution.js';
import { fetchFailureCode, fetchHandlerPackage, manifestGone, readInstalledManifest } from './fetch-step.js';
import { handlerPaths, scriptWorkFolder } from '../../storage/layout.js';
import { copyHandlerState, isMultiConfig, multiConfigProblem, prepareHandlerFiles, removeExtensionFiles } from './prepare.js';
import { planEnded, planStarted, stepStarted, stepsDone, type RunningStep } from './progress.js';
import { transition, type HandlerRecord } from './record.js';
import type { HandlerPlan, PlanStep } from './steps.js';
import { ErrorCodes } from './error-codes.js';
import { protectedValues, scrubText } from '../../core/redact.js';
import { placeCertificates, releaseCertificates } from './certificates.js';

export type { ExecutionGoal, ExecutorDeps, PlanOutcome } from './execution.js';

const DONE: StepOutcome = { kind: 'done' };

class PlanRun {
  private record: HandlerRecord;
  private readonly manifests = new Map<string, HandlerManifest>();
  private readonly operations: OperationResult[] = [];
  private upgrade: UpgradeEnv | null;
  /** The step being carried out. */
  private i = 0;
  private recovery: string | null = null;
  /** The checkpoint to recover (resume only, first command only). */
  private interrupted: RunningStep | null;
  /** this.record holds a step's end that is not on disk yet (see checkpoint). */
  private unsaved = false;
  /** The goal's protected values, masked in every message this handler's operations produce. */
  private readonly secrets: readonly string[];

  constructor(private readonly goal: ExecutionGoal, private readonly plan: HandlerPlan, record: HandlerRecord,
    private readonly deps: ExecutorDeps) {
    this.secrets = protectedValues(goal.extensions.map((e) => e.protectedSettings));
    const resumed = record.pending;
    this.record = resumed ? record : planStarted(record, plan);
    this.i = resumed ? resumed.done : 0;
    this.interrupted = resumed?.running ?? null;
    const saved = resumed?.upgrade ?? null;
    this.upgrade = isUpgrade(plan) ? { newVersion: plan.targetVersion!, fromVersion: plan.fromVersion!,
      disableExitCode: saved?.disableExitCode ?? null, uninstallExitCode: saved?.uninstallExitCode ?? null } : null;
  }

  async run(): Promise<PlanOutcome> {
    for (; this.i < this.plan.steps.length; this.i++) {
      const step = this.plan.steps[this.i]!;
      // Stopping between steps keeps the checkpoint: the next start goes on from here.
      const outcome: StepOutcome = this.deps.signal.aborted
        ? { kind: 'stopping', failure: this.synthetic('fetch', step, ErrorCodes.processing, 'not run: the supervisor is stopping') }
        : await this.perform(step);
      const failure = await this.carryOut(await this.decision(step, outcome));
      if (failure) return { ok: false, record: this.record, operations: this.operations, failure, recovery: this.recovery };
    }
    await this.endPlan(this.record);
    return { ok: true, record: this.record, operations: this.operations, failure: null, recovery: this.recovery };
  }

  private async decision(step: PlanStep, outcome: StepOutcome): Promise<Decision> {
    const oldSide = step.kind === 'command' && step.role === 'old' && this.upgrade !== null;
    return decide({ record: this.record, plan: this.plan, step, outcome,
      manifest: step.kind === 'command' ? this.manifests.get(step.version) ?? null : null,
      newManifest: oldSide ? await this.manifestOf(this.upgrade!.newVersion).catch(() => null) : null,
      extensions: this.goal.extensions, at: this.deps.clock.now() });
  }

  /** Performs a decision's effects in order; returns the failure that ends this run, or null to go on. */
  private async carryOut(d: Decision): Promise<OperationResult | null> {
    const record = d.event ? transition(this.record, d.event) : this.record;
    for (const effect of d.effects) {
      switch (effect.type) {
        case 'upgradeExitCode':
          if (this.upgrade) this.upgrade = effect.command === 'disable'
            ? { ...this.upgrade, disableExitCode: effect.exitCode } : { ...this.upgrade, uninstallExitCode: effect.exitCode };
          break;
        case 'removeDir': await this.removeDir(effect.version); break;
        case 'removeExtensionFiles': await removeExtensionFiles(this.paths(effect.version), effect.extensions); break;
        // A lifecycle event always completes its step: one write for both.
        case 'stepDone': await this.checkpoint(stepsDone(record, this.i + 1, this.upgradeCodes())); break;
      }
    }
    switch (d.next.kind) {
      case 'continue': return null;
      case 'endPlan': await this.endPlan(record); return d.next.failure;
      case 'suspend': if (this.unsaved) await this.save(this.record); return d.next.failure;
    }
  }

  /** The last write of a plan: its end, with the last step's event. */
  private async endPlan(record: HandlerRecord): Promise<void> {
    if (record.pending) await this.save(planEnded(record));
    else if (this.unsaved || record !== this.record) await this.save(record);
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

  /** Carries out one step; what it means for the lifecycle is decide's. */
  private async perform(step: PlanStep): Promise<StepOutcome> {
    switch (step.kind) {
      case 'fetch': return this.fetch(step);
      case 'prepare': {
        const manifest = await this.manifestOf(step.version).catch(() => null);
        const problem = manifest ? multiConfigProblem(this.goal.name, manifest, this.goal.extensions) : null;
        // Named after the command it keeps from running.
        const op = this.plan.steps.slice(this.i).find((s) => s.kind === 'command')?.op ?? 'enable';
        if (problem) return { kind: 'error', failure: this.ended(this.synthetic(op, step, ErrorCodes.processing, problem)) };
        await prepareHandlerFiles(this.paths(step.version), this.goal.name, step.version, this.goal.extensions,
          { settings: manifest?.form !== 'script', multiConfig: isMultiConfig(manifest) });
        const thumbprints = this.goal.extensions.flatMap((e) => (e.protectedSettingsCertThumbprint ? [e.protectedSettingsCertThumbprint] : []));
        if (this.goal.certificatesFolder && thumbprints.length > 0) {
          await placeCertificates({ dirs: this.deps.dirs, handler: this.goal.name, folder: this.goal.certificatesFolder, thumbprints });
        }
        return DONE;
      }
      case 'copyState':
        await copyHandlerState(this.paths(step.from), this.paths(step.to));
        return DONE;
      case 'removeDir':
        await this.removeDir(step.version);
        if (step.uninstalled === true) {
          await rm(scriptWorkFolder(this.deps.dirs, this.goal.name), { recursive: true, force: true });
          await releaseCertificates(this.deps.dirs, this.goal.name);
        }
        return DONE;
      case 'command': return this.command(step);
    }
  }

  private async removeDir(version: string): Promise<void> {
    await rm(this.paths(version).dir, { recursive: true, force: true });
    this.manifests.delete(version);
  }

  private async fetch(step: Extract<PlanStep, { kind: 'fetch' }>): Promise<StepOutcome> {
    const startedAt = this.deps.clock.now();
    this.deps.emit({ type: 'operationStarted', handler: this.goal.name, op: 'fetch', version: step.version, extension: null, startedAt, pid: null });
    try {
      const got = await this.deps.gates.fetch.run(() => fetchHandlerPackage({ libDir: this.deps.dirs.libDir, name: this.goal.name,
        pkg: step.pkg, paths: this.paths(step.version), signal: this.deps.signal }), this.deps.signal);
      this.manifests.set(step.version, got.manifest);
      this.ended({ ...this.synthetic('fetch', step, 0, got.reused ? `reused ${this.paths(step.version).dir}` : `fetched ${got.uri}`),
        result: 'succeeded', startedAt });
      return DONE;
    } catch (err) {
      const failure = { ...this.synthetic('fetch', step, fetchFailureCode(err), `fetch of ${this.goal.name} ${step.version} failed: ${(err as Error).message}`), startedAt };
      return { kind: 'error', failure: this.ended(failure) };
    }
  }

  /**
   * Every operation's result passes here before anyone sees it: its message (the command's output
   * tails, a fetch error naming a uri) is scrubbed once, so the status, reports, session, journal
   * and CommandExecution.log all get the masked text.
   */
  private ended(raw: OperationResult): OperationResult {
    const result = { ...raw, message: scrubText(raw.message, this.secrets) };
    this.operations.push(result);
    this.deps.emit({ type: 'operationEnded', handler: this.goal.name, result });
    return result;
  }

  private async command(step: CommandStep): Promise<StepOutcome> {
    let manifest: HandlerManifest;
    try {
      manifest = await this.manifestOf(step.version);
    } catch (err) {
      if (manifestGone(err) && goneSkipped(this.plan, step)) return this.gone(step, err as Error);
      return { kind: 'error', failure: this.ended(this.synthetic(step.op, step, fetchFailureCode(err), (err as Error).message)) };
    }
    return commandSkipped(step, manifest) ? { kind: 'skipped' } : this.runCommand(step, manifest);
  }

  /** Uninstall of a handler that deleted its own dir: the command is not run, what it left running is ended. */
  private async gone(step: CommandStep, err: Error): Promise<StepOutcome> {
    const cleanup = await terminateHandler({ libId: this.deps.libId, handler: this.goal.name, graceMs: this.deps.graceMs, reason: 'cleanup',
      clock: this.deps.clock });
    const ended = cleanup.termed.length + cleanup.killed.length;
    const message = `${step.op} not run: ${err.message}; the handler is uninstalled without it and what is left is removed`
      + (ended > 0 ? `; ended ${ended} leftover process${ended === 1 ? '' : 'es'}` : '');
    this.recovery = `${this.paths(step.version).dir} was gone: ${step.op} not run, the rest removed`;
    return { kind: 'gone', failure: this.ended({ ...this.synthetic(step.op, step, fetchFailureCode(err), message), unkillable: cleanup.unkillable }) };
  }

  private async runCommand(step: CommandStep, manifest: HandlerManifest): Promise<StepOutcome> {
    let exitCode: number | null = null;
    for (const target of commandTargets(this.goal, this.deps, step, manifest, this.upgrade)) {
      const interrupted = this.interrupted;
      this.interrupted = null;
      const got = await runTarget(step, target, { step: this.i, interrupted,
        started: (run) => this.save(stepStarted(this.record, run, this.i)) }, this.deps);
      if (got.recovery) this.recovery = got.recovery;
      const r = this.ended(got.result);
      if (r.result !== 'succeeded') return { kind: 'failed', failure: r };
      exitCode = r.exitCode;
    }
    return { kind: 'succeeded', exitCode };
  }
}

/** Executes the plan for one handler (or resumes the one its record holds); never throws for a handler failure. */
export async function executePlan(goal: ExecutionGoal, plan: HandlerPlan, record: HandlerRecord, deps: ExecutorDeps): Promise<PlanOutcome> {
  return new PlanRun(goal, plan, record, deps).run();
}
