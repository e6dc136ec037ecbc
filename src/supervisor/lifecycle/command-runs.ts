/**
 * The runs of one command step: one per extension for a multi-config enable or disable, one
 * otherwise. Each run's start is checkpointed before it starts; after a supervisor restart the
 * interrupted run is first recovered from its exit status, or run again once.
 */
import type { HandlerManifest } from '../../protocol/manifest.js';
import type { UpgradeEnv } from './command-line.js';
import type { OperationResult } from './events.js';
import type { ExecutionGoal, ExecutorDeps } from './execution.js';
import { handlerPaths } from '../../storage/layout.js';
import { isMultiConfig } from './prepare.js';
import type { RunningStep } from './progress.js';
import { recoverCommand } from './recover-command.js';
import { invokeCommand, prepareRun, recoveredResult, type InvokeTarget } from './invoke-command.js';
import type { ExtensionSettings } from './settings-hash.js';
import type { CommandName, PlanStep } from './steps.js';

export type CommandStep = Extract<PlanStep, { kind: 'command' }>;
const handlerLevel: ReadonlySet<CommandName> = new Set(['install', 'update', 'uninstall']);

/**
 * One run for handler-level ops and single-config handlers; one per extension for a multi-config
 * enable or disable. A multi-config handler is told ConfigExtensionName on every command, as the
 * agent does: a handler-level command names the first extension, whose settings it was started for.
 */
export function commandTargets(goal: ExecutionGoal, deps: Pick<ExecutorDeps, 'dirs'>, step: CommandStep, manifest: HandlerManifest,
  upgrade: UpgradeEnv | null): InvokeTarget[] {
  const exts = goal.extensions;
  const multi = isMultiConfig(manifest);
  // Script handlers have no per-extension actions: one run per operation.
  const perExtension = multi && !handlerLevel.has(step.op);
  const list: Array<{ ext: ExtensionSettings | null; name: string | null }> = !perExtension ? [{ ext: exts[0] ?? null, name: null }]
    // A dropped extension is no longer in the goal: its name and last sequence number are all it has.
    : step.dropped ? step.dropped.map((d) => ({ ext: { ...d, publicSettings: null, protectedSettings: null, protectedSettingsCertThumbprint: null }, name: d.name }))
      : exts.filter((e) => step.extensions.includes(e.name)).map((e) => ({ ext: e, name: e.name }));
  return list.map(({ ext, name }) => ({
    handler: goal.name, op: step.op, version: step.version, paths: handlerPaths(deps.dirs, goal.name, step.version), manifest, ext,
    extName: name, configName: multi ? ext?.name ?? null : null, timeoutMs: goal.timeouts[step.op] * 1000, upgrade,
    handlerProperties: goal.handlerProperties, component: goal.component, dirs: deps.dirs, limits: goal.limits ?? null,
  }));
}

/** Where a run stands in its plan, and how its start is checkpointed. */
export interface RunPlace {
  /** The index of its step in the plan. */
  readonly step: number;
  /** The run a supervisor restart interrupted, when resuming at this step. */
  readonly interrupted: RunningStep | null;
  /** Writes the run's start into the record (the checkpoint before a command). */
  readonly started: (run: RunningStep) => Promise<void>;
}

/** Checkpoint, then run; after a restart, first find out what became of the interrupted run. */
export async function runTarget(step: CommandStep, t: InvokeTarget, place: RunPlace,
  deps: Omit<ExecutorDeps, 'saveRecord'>): Promise<{ result: OperationResult; recovery: string | null }> {
  const gate = handlerLevel.has(step.op) ? deps.gates.install : deps.gates.enable;
  let started = false;
  // Script operations start one process per action: the operation starts once.
  const ctx = { libId: deps.libId, gate, graceMs: deps.graceMs, signal: deps.signal, clock: deps.clock,
    ...(deps.spawner ? { spawner: deps.spawner } : {}), limits: t.limits ?? null,
    onStart: (pid: number | null, startedAt: number) => {
      if (started) return;
      started = true;
      deps.emit({ type: 'operationStarted', handler: t.handler, op: step.op, version: step.version, extension: t.extName, startedAt, pid });
    } };
  const interrupted = place.interrupted;
  let recovery: string | null = null;
  let note = '';
  if (interrupted && interrupted.step === place.step && interrupted.op === step.op) {
    const got = await recoverCommand(interrupted, { libId: deps.libId, handler: t.handler, timeoutMs: t.timeoutMs,
      graceMs: deps.graceMs, clock: deps.clock, signal: deps.signal });
    const by = deps.interruptedBy ?? 'a supervisor restart';
    if (got.kind !== 'unknown') {
      const how = got.kind === 'exited' ? 'completed' : 'timed out';
      // Cut short in this process (a failed write), the supervisor was never down.
      const when = deps.interruptedBy === undefined ? 'while the supervisor was down' : `before ${by}`;
      recovery = `${step.op} ${how} ${when}`;
      const note = deps.interruptedBy === undefined ? 'it ran on while the supervisor was down' : `its end was not recorded: ${by}`;
      return { result: await recoveredResult(t, interrupted, got, ctx, note), recovery };
    }
    recovery = `${step.op} was interrupted by ${by} and ran again`;
    note = ` (run again: it was interrupted by ${by})`;
  }
  const run = await prepareRun(t, place.step, deps.clock.now());
  await place.started(run);
  const r = await invokeCommand(t, run, ctx);
  return { result: note ? { ...r, message: `${r.message}${note}` } : r, recovery };
}
