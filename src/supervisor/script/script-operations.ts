/**
 * A lifecycle operation of a script-form handler (CONTRACT section 5) as a sequence of script
 * actions. Mapping, decided here:
 *  - install: is-installed (resultCode 900 → already installed, stop with success; anything
 *    else, also a failed is-installed, → go on), download, install. A timed-out, canceled or
 *    unstartable is-installed ends the operation (no budget left / nothing else can start).
 *  - update: ADU has no update action, so the new version runs its install sequence as above
 *    (the plan's later `install` of that version then finds it installed: is-installed 900).
 *  - enable: apply. disable: cancel (exit 0 without a result file is success, for cancel alone).
 *  - uninstall: ADU has no uninstall action; nothing runs, success, and the message says so.
 * One gate slot is held for the whole sequence, so another handler's install never interleaves
 * with it; the operation's timeout bounds the whole sequence (each action gets what is left).
 * After a successful disable or uninstall, leftover processes of the handler are ended.
 */
import { stat } from 'node:fs/promises';
import type { ScriptManifest } from '../../protocol/manifest.js';
import { SupervisorError } from '../../core/errors.js';
import { ErrorCodes } from '../lifecycle/error-codes.js';
import type { OperationResult } from '../lifecycle/events.js';
import type { RunContext } from '../lifecycle/run-operation.js';
import type { CommandName } from '../lifecycle/steps.js';
import { terminateHandler } from '../process/terminate.js';
import { notRun, runScriptAction, type ActionRecord, type ActionRun } from './run-script-action.js';
import { buildScriptArgs, scriptPath, type ScriptAction } from './script-args.js';
import { scriptOperationMessage } from './script-message.js';
import { ResultCodes, ScriptCodes, formatCode, setupFailure } from './script-result-map.js';
import { stagePackage } from './work-folder.js';

export interface ScriptOperationInput {
  readonly handler: string;
  readonly op: CommandName;
  readonly version: string;
  readonly manifest: ScriptManifest;
  readonly handlerDir: string;
  /** `<lib>/work/<name>`: created here, mode 0700, shared by the handler's versions. */
  readonly workFolder: string;
  readonly outputFolder: string;
  /** Already overridden by the goal state's handlerProperties. */
  readonly arguments: string;
  readonly installedCriteria: string | null;
  readonly component: Readonly<Record<string, string>> | null;
  readonly timeoutMs: number;
  readonly env: Readonly<Record<string, string>>;
}

export interface ScriptOperationResult extends OperationResult {
  readonly actions: readonly ActionRecord[];
  readonly rebootRequested: boolean;
  readonly agentRestartRequested: boolean;
  /** Of the decisive action (the failing one, else the last run). */
  readonly resultCode: number;
  readonly extendedResultCode: number;
  readonly resultDetails: string;
}

const INSTALL_SEQUENCE: readonly ScriptAction[] = ['is-installed', 'download', 'install'];

/** The script actions an operation runs, in order (see the mapping above). */
export function actionsFor(op: CommandName): readonly ScriptAction[] {
  switch (op) {
    case 'install':
    case 'update': return INSTALL_SEQUENCE;
    case 'enable': return ['apply'];
    case 'disable': return ['cancel'];
    case 'uninstall': return [];
  }
}

function describeOp(op: CommandName): string {
  return op === 'update' ? "update (the new version's install sequence)" : op;
}


/** Finds what must hold before any action runs; returns the script path or the failure. */
async function prepare(input: ScriptOperationInput): Promise<{ script: string } | { failure: ReturnType<typeof setupFailure> }> {
  let script: string;
  try {
    script = scriptPath(input.handlerDir, input.manifest.scriptFileName);
    for (const action of actionsFor(input.op)) {
      buildScriptArgs({ action, arguments: input.arguments, component: input.component, workFolder: input.workFolder, installedCriteria: input.installedCriteria });
    }
  } catch (err) {
    if (!(err instanceof SupervisorError)) throw err;
    const field = String(err.details['field'] ?? '');
    const code = field.startsWith('component.') ? ScriptCodes.invalidComponent : err.code === 'E_SCRIPT_PATH' ? ScriptCodes.missingScriptFile : ErrorCodes.processing;
    return { failure: setupFailure(code, `${err.message} (code ${formatCode(code)})`) };
  }
  const info = await stat(script).catch(() => null);
  if (info === null || !info.isFile()) {
    const code = ScriptCodes.missingScriptFile;
    return { failure: setupFailure(code, `script ${script} (scriptFileName ${JSON.stringify(input.manifest.scriptFileName)}) is missing or not a file (extendedResultCode ${formatCode(code)})`) };
  }
  try {
    await stagePackage(input.handlerDir, input.workFolder);
  } catch (err) {
    const code = ScriptCodes.sandbox;
    return { failure: setupFailure(code, `cannot fill the work folder ${input.workFolder} with the package: ${(err as Error).message} (extendedResultCode ${formatCode(code)})`) };
  }
  // Device Update runs <work folder>/<scriptFileName>, beside the payload it downloaded.
  return { script: scriptPath(input.workFolder, input.manifest.scriptFileName) };
}

/** Runs the operation's actions; never throws for a script failure, only reports it. */
export async function runScriptOperation(input: ScriptOperationInput, ctx: RunContext): Promise<ScriptOperationResult> {
  const startedAt = ctx.clock.now();
  let started = false;
  const onStart = (pid: number | null): void => { started = true; ctx.onStart(pid, startedAt); };
  let runs: ActionRun[] = [];
  let skipped = false;
  const first = actionsFor(input.op)[0];
  // uninstall runs nothing, so it needs neither the script nor the work folder.
  if (first !== undefined) {
    const ready = await prepare(input);
    if ('failure' in ready) {
      runs = [notRun({ op: input.op, action: first, workFolder: input.workFolder, outputFolder: input.outputFolder }, ctx.clock, ready.failure)];
    } else {
      ({ runs, skipped } = await runSequence(input, ctx, ready.script, onStart));
    }
  }
  if (!started) onStart(null);
  return finish(input, ctx, runs, skipped, startedAt);
}

/** The actions in order, holding one gate slot throughout and sharing one deadline. */
async function runSequence(input: ScriptOperationInput, ctx: RunContext, script: string,
  onStart: (pid: number | null) => void): Promise<{ runs: ActionRun[]; skipped: boolean }> {
  const runs: ActionRun[] = [];
  const release = await ctx.gate.acquire(ctx.signal);
  try {
    const deadline = ctx.clock.now() + input.timeoutMs;
    for (const action of actionsFor(input.op)) {
      const run = await runOne(input, ctx, script, action, deadline, onStart);
      runs.push(run);
      const r = run.record;
      if (action !== 'is-installed') {
        if (!r.succeeded) break;
        continue;
      }
      if (r.succeeded && r.resultCode === ResultCodes.isInstalledInstalled) return { runs, skipped: true };
      // Any other answer goes on, but not when no time is left or nothing can start.
      if (r.decidedBy === 'timedOut' || r.decidedBy === 'canceled' || r.decidedBy === 'spawnFailed' || r.decidedBy === 'setup') break;
    }
    return { runs, skipped: false };
  } finally {
    release();
  }
}

async function runOne(input: ScriptOperationInput, ctx: RunContext, script: string, action: ScriptAction, deadline: number,
  onStart: (pid: number | null) => void): Promise<ActionRun> {
  const remaining = deadline - ctx.clock.now();
  const inv = { handler: input.handler, op: input.op, action, script, cwd: input.workFolder, env: input.env,
    workFolder: input.workFolder, outputFolder: input.outputFolder, timeoutMs: remaining, operationTimeoutMs: input.timeoutMs,
    args: buildScriptArgs({ action, arguments: input.arguments, component: input.component, workFolder: input.workFolder, installedCriteria: input.installedCriteria }) };
  if (remaining <= 0) {
    return notRun(inv, ctx.clock, { ...setupFailure(ErrorCodes.timeout, `not started: the ${input.timeoutMs / 1000} s timeout of ${input.op} was used up by the actions before it`), decidedBy: 'timedOut' });
  }
  return runScriptAction(inv, ctx, onStart);
}

async function finish(input: ScriptOperationInput, ctx: RunContext, runs: readonly ActionRun[], skipped: boolean,
  startedAt: number): Promise<ScriptOperationResult> {
  const actions = runs.map((r) => r.record);
  // A failed is-installed is passed over, so the decisive action is always the last one run.
  const last = runs.at(-1);
  const decisive = last?.record;
  const succeeded = decisive === undefined || decisive.succeeded;
  let unkillable = runs.flatMap((r) => r.unkillable);
  let message = decisive === undefined
    ? `${input.op}: script handlers have no uninstall action (Device Update defines none); nothing was run`
    : scriptOperationMessage({ what: describeOp(input.op), actions, decisive, succeeded, skipped, tails: last ?? { stdoutTail: '', stderrTail: '' }, unkillable });
  if (succeeded && (input.op === 'disable' || input.op === 'uninstall')) {
    // A disabled handler keeps nothing running: end whatever it started (daemons, double forks).
    const cleanup = await terminateHandler({ libId: ctx.libId, handler: input.handler, graceMs: ctx.graceMs, reason: 'cleanup', clock: ctx.clock });
    const ended = cleanup.termed.length + cleanup.killed.length;
    if (ended > 0) message += `; ended ${ended} leftover process${ended === 1 ? '' : 'es'}`;
    if (cleanup.unkillable.length) {
      unkillable = [...unkillable, ...cleanup.unkillable];
      message += `; unkillable: ${cleanup.unkillable.join(', ')}`;
    }
  }
  const failure = succeeded ? null : decisive ?? null;
  return {
    op: input.op, version: input.version, extension: null,
    result: failure === null ? 'succeeded' : failure.decidedBy === 'timedOut' ? 'timedOut' : 'failed',
    exitCode: decisive?.exitCode ?? null, signal: decisive?.signal ?? null, code: failure?.code ?? 0, message,
    startedAt, endedAt: Math.max(ctx.clock.now(), startedAt),
    pids: actions.flatMap((a) => (a.pid === null ? [] : [a.pid])), unkillable,
    actions,
    rebootRequested: actions.some((a) => a.request === 'reboot'),
    agentRestartRequested: actions.some((a) => a.request === 'agentRestart'),
    resultCode: decisive?.resultCode ?? ResultCodes.success,
    extendedResultCode: decisive?.extendedResultCode ?? 0,
    resultDetails: decisive?.resultDetails ?? '',
  };
}
