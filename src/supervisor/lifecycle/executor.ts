/**
 * Runs a handler plan step by step, moving the lifecycle record through `transition` and
 * persisting it after every change. A failed step ends the plan with the agent's error code.
 */
import { rm } from 'node:fs/promises';
import type { Clock } from '../../actors/clock.js';
import type { HandlerManifest } from '../../protocol/manifest.js';
import type { Gate } from '../gate.js';
import { commandEnv, commandLine, type UpgradeEnv } from './command-line.js';
import { fetchFailureCode, fetchHandlerPackage, readInstalledManifest } from './fetch-step.js';
import type { HandlerEvent, OperationResult } from './events.js';
import { handlerPaths, scriptWorkFolder, type SupervisorDirs } from './layout.js';
import { copyHandlerState, isMultiConfig, prepareHandlerFiles } from './prepare.js';
import { transition, type HandlerRecord, type LifecycleEvent } from './record.js';
import { runOperation } from './run-operation.js';
import { runScriptOperation } from '../script/script-operations.js';
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
  readonly saveRecord: (record: HandlerRecord) => Promise<void>;
  readonly emit: (event: HandlerEvent) => void;
}

export interface PlanOutcome {
  readonly ok: boolean;
  readonly record: HandlerRecord;
  readonly operations: readonly OperationResult[];
  readonly failure: OperationResult | null;
}

const handlerLevel: ReadonlySet<CommandName> = new Set(['install', 'update', 'uninstall']);

class PlanRun {
  private record: HandlerRecord;
  private readonly manifests = new Map<string, HandlerManifest>();
  private readonly operations: OperationResult[] = [];
  private readonly upgrade: UpgradeEnv | null;

  constructor(private readonly goal: ExecutionGoal, private readonly plan: HandlerPlan, record: HandlerRecord,
    private readonly deps: ExecutorDeps) {
    this.record = record;
    this.upgrade = plan.fromVersion && plan.targetVersion && (plan.action === 'upgrade' || plan.action === 'downgrade')
      ? { newVersion: plan.targetVersion, fromVersion: plan.fromVersion, disableExitCode: null, uninstallExitCode: null } : null;
  }

  async run(): Promise<PlanOutcome> {
    for (const step of this.plan.steps) {
      if (this.deps.signal.aborted) return this.fail(this.synthetic('fetch', step, ErrorCodes.processing, 'not run: the supervisor is stopping'));
      const failure = await this.step(step);
      if (failure) return this.fail(failure);
    }
    return { ok: true, record: this.record, operations: this.operations, failure: null };
  }

  private async fail(failure: OperationResult): Promise<PlanOutcome> {
    return { ok: false, record: this.record, operations: this.operations, failure };
  }

  private paths(version: string) { return handlerPaths(this.deps.dirs, this.goal.name, version); }

  private async apply(event: LifecycleEvent): Promise<void> {
    this.record = transition(this.record, event);
    await this.deps.saveRecord(this.record);
    this.deps.emit({ type: 'recordChanged', handler: this.goal.name, record: this.record });
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
      case 'prepare':
        await prepareHandlerFiles(this.paths(step.version), this.goal.name, step.version, this.goal.extensions);
        return null;
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
      await this.apply({ type: 'uninstalled' });
    }
    else if (this.record.state === 'FailedUpgrade' && this.record.version === version && this.plan.action !== 'uninstall') {
      await this.apply({ type: 'rolledBack' });
    }
    return null;
  }

  private async command(step: Extract<PlanStep, { kind: 'command' }>): Promise<OperationResult | null> {
    let manifest: HandlerManifest;
    try {
      manifest = await this.manifestOf(step.version);
    } catch (err) {
      return this.record_(this.synthetic(step.op, step, fetchFailureCode(err), (err as Error).message));
    }
    if (step.op === 'install' && step.role === 'new' && manifest.form === 'command' && manifest.updateMode === 'UpdateWithoutInstall') {
      await this.apply({ type: 'upgraded', version: step.version, form: manifest.form });
      return null;
    }
    const results = await this.invoke(step, manifest);
    for (const r of results) {
      const failure = this.record_(r);
      if (failure) return this.onCommandFailure(step, manifest, failure);
    }
    await this.onCommandSuccess(step, manifest, results);
    return null;
  }

  /** One run for handler-level ops and single-config handlers; one per extension for multi-config. */
  private async invoke(step: Extract<PlanStep, { kind: 'command' }>, manifest: HandlerManifest): Promise<OperationResult[]> {
    const exts = this.goal.extensions;
    // Script handlers have no per-extension actions: one run per operation.
    const multi = isMultiConfig(exts) && !handlerLevel.has(step.op) && manifest.form === 'command';
    const targets: Array<{ ext: ExtensionSettings | null; name: string | null }> = multi
      ? exts.filter((e) => step.extensions.includes(e.name)).map((e) => ({ ext: e, name: e.name }))
      : [{ ext: exts[0] ?? null, name: null }];
    const out: OperationResult[] = [];
    for (const target of targets) {
      const r = await this.invokeOne(step, manifest, target.ext, target.name);
      out.push(r);
      if (r.result !== 'succeeded') break;
    }
    return out;
  }

  private async invokeOne(step: Extract<PlanStep, { kind: 'command' }>, manifest: HandlerManifest,
    ext: ExtensionSettings | null, extName: string | null): Promise<OperationResult> {
    const paths = this.paths(step.version);
    const env = commandEnv({ handler: this.goal.name, op: step.op, dir: paths.dir, version: step.version,
      sequenceNumber: ext?.sequenceNumber ?? 0, extensionName: extName, upgrade: this.upgrade });
    const gate = handlerLevel.has(step.op) ? this.deps.gates.install : this.deps.gates.enable;
    const ctx = {
      libId: this.deps.libId, gate, graceMs: this.deps.graceMs, signal: this.deps.signal, clock: this.deps.clock,
      onStart: (pid: number | null, startedAt: number) => this.deps.emit({ type: 'operationStarted', handler: this.goal.name, op: step.op,
        version: step.version, extension: extName, startedAt, pid }),
    };
    const timeoutMs = this.goal.timeouts[step.op] * 1000;
    if (manifest.form === 'script') {
      const r = await runScriptOperation({ handler: this.goal.name, op: step.op, version: step.version, manifest, handlerDir: paths.dir,
        workFolder: scriptWorkFolder(this.deps.dirs, this.goal.name), outputFolder: paths.outputFolder,
        arguments: this.goal.handlerProperties.arguments ?? manifest.arguments,
        installedCriteria: this.goal.handlerProperties.installedCriteria ?? manifest.installedCriteria,
        component: this.goal.component, timeoutMs, env }, ctx);
      return { ...r, requests: { reboot: r.rebootRequested, agentRestart: r.agentRestartRequested } };
    }
    return runOperation({ handler: this.goal.name, op: step.op, version: step.version, extension: extName,
      command: { shell: commandLine(paths.dir, manifest[`${step.op}Command`]) }, cwd: paths.dir, env, outputFolder: paths.outputFolder,
      timeoutMs }, ctx);
  }

  private async onCommandSuccess(step: Extract<PlanStep, { kind: 'command' }>, manifest: HandlerManifest, results: OperationResult[]): Promise<void> {
    const last = results.at(-1);
    if (this.upgrade && step.role === 'old' && step.op === 'disable') this.upgrade.disableExitCode = last?.exitCode ?? 0;
    if (this.upgrade && step.role === 'old' && step.op === 'uninstall') this.upgrade.uninstallExitCode = last?.exitCode ?? 0;
    switch (step.op) {
      case 'install':
        if (step.role === 'new') await this.apply({ type: 'upgraded', version: step.version, form: manifest.form });
        else await this.apply({ type: 'installed', version: step.version, form: manifest.form });
        return;
      case 'enable': {
        if (this.record.state === 'FailedUpgrade') return;
        const names = new Set(this.goal.extensions.map((e) => e.name));
        const kept = Object.fromEntries(Object.entries(this.record.enabledExtensions).filter(([n]) => names.has(n)));
        const done = this.goal.extensions.filter((e) => step.extensions.includes(e.name));
        await this.apply({ type: 'enabled', extensions: { ...kept, ...enabledSnapshot(done) }, at: this.deps.clock.now() });
        return;
      }
      case 'disable':
        if (this.record.state === 'Enabled') await this.apply({ type: 'disabled' });
        return;
      case 'update':
      case 'uninstall':
        return;
    }
  }

  /** Decides what a failed command means for the lifecycle (CONTRACT section 4, upgrade rules). */
  private async onCommandFailure(step: Extract<PlanStep, { kind: 'command' }>, manifest: HandlerManifest,
    failure: OperationResult): Promise<OperationResult | null> {
    if (this.upgrade && step.role === 'old') {
      const target = this.plan.targetVersion ?? step.version;
      const continueOnFailure = await this.manifestOf(target).then((m) => m.form === 'command' && m.continueOnUpdateFailure, () => false);
      if (step.op === 'disable') this.upgrade.disableExitCode = failure.exitCode ?? -1;
      if (step.op === 'uninstall') this.upgrade.uninstallExitCode = failure.exitCode ?? -1;
      if (continueOnFailure) {
        if (step.op === 'disable' && this.record.state === 'Enabled') await this.apply({ type: 'disabled' });
        return null;
      }
      if (step.op === 'uninstall') {
        // The new side is already updated: keep both dirs and say the upgrade failed.
        await this.apply({ type: 'upgradeFailed', version: target, previousVersion: step.version, form: manifest.form });
      } else if (this.record.state !== 'FailedUpgrade') {
        await rm(this.paths(target).dir, { recursive: true, force: true });
      }
      return failure;
    }
    if (step.op === 'update') {
      const from = this.plan.fromVersion ?? step.version;
      if (this.record.state !== 'FailedUpgrade' || this.record.version !== step.version) {
        await this.apply({ type: 'upgradeFailed', version: step.version, previousVersion: from, form: manifest.form });
      }
      return failure;
    }
    if (step.op === 'install' && step.role === 'new' && this.record.state !== 'NotInstalled') {
      // The old version is gone already; the new dir stays and is reused by the next attempt.
      await this.apply({ type: 'uninstalled' });
    }
    return failure;
  }
}

/** Executes the plan for one handler; never throws for a handler failure (it is the outcome). */
export async function executePlan(goal: ExecutionGoal, plan: HandlerPlan, record: HandlerRecord, deps: ExecutorDeps): Promise<PlanOutcome> {
  return new PlanRun(goal, plan, record, deps).run();
}
