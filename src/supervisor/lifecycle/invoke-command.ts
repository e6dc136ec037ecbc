/**
 * One run of a lifecycle command, command form or script form: builds its invocation
 * (command line or argv, environment, output files, checkpoint ids) and runs it.
 */
import { randomBytes } from 'node:crypto';
import type { HandlerLimits } from '../process/cgroup/index.js';
import { join } from 'node:path';
import { rm } from 'node:fs/promises';
import type { HandlerManifest } from '../../protocol/manifest.js';
import { readTail } from '../process/tail.js';
import { runScriptOperation } from '../script/script-operations.js';
import { commandEnv, commandLine, type UpgradeEnv } from './command-line.js';
import type { OperationResult } from './events.js';
import { scriptWorkFolder, type HandlerPaths, type SupervisorDirs } from '../../storage/layout.js';
import type { RunningStep } from './progress.js';
import type { Recovered } from './recover-command.js';
import { completeOperation, runOperation, type CommandInvocation, type RunContext } from './run-operation.js';
import type { ExtensionSettings } from './settings-hash.js';
import type { CommandName } from './steps.js';

export interface InvokeTarget {
  readonly handler: string;
  readonly op: CommandName;
  readonly version: string;
  readonly paths: HandlerPaths;
  readonly manifest: HandlerManifest;
  readonly ext: ExtensionSettings | null;
  /** Multi-config enable/disable only: the extension this run is for (names its output files). */
  readonly extName: string | null;
  /** Multi-config only, every command: ConfigExtensionName. */
  readonly configName: string | null;
  readonly timeoutMs: number;
  readonly upgrade: UpgradeEnv | null;
  readonly handlerProperties: { readonly arguments?: string; readonly installedCriteria?: string };
  readonly component: Readonly<Record<string, string>> | null;
  readonly dirs: SupervisorDirs;
  readonly limits?: HandlerLimits | null;
}

function invocation(t: InvokeTarget, extra: Partial<CommandInvocation> = {}): CommandInvocation {
  if (t.manifest.form !== 'command') throw new Error('invocation is for command-form handlers');
  return {
    handler: t.handler, op: t.op, version: t.version, extension: t.extName,
    command: { shell: commandLine(t.paths.dir, t.manifest[`${t.op}Command`]) }, cwd: t.paths.dir,
    env: commandEnv({ handler: t.handler, op: t.op, dir: t.paths.dir, version: t.version, sequenceNumber: t.ext?.sequenceNumber ?? 0,
      extensionName: t.configName, upgrade: t.upgrade }),
    outputFolder: t.paths.outputFolder, timeoutMs: t.timeoutMs, ...extra,
  };
}

/** The checkpoint written before the run starts: how a restarted supervisor finds it again. */
export async function prepareRun(t: InvokeTarget, step: number, now: number): Promise<RunningStep> {
  const base = `${t.op}${t.extName ? `.${t.extName}` : ''}`;
  const exitFile = t.manifest.form === 'command' ? join(t.paths.outputFolder, `${base}.exit`) : null;
  // A status left by an earlier run of the same command must not pass for this one's.
  if (exitFile) await Promise.all([rm(exitFile, { force: true }), rm(`${exitFile}.pid`, { force: true })]);
  return { step, op: t.op, runId: randomBytes(8).toString('hex'), exitFile, startedAt: now };
}

export async function invokeCommand(t: InvokeTarget, run: RunningStep, ctx: RunContext): Promise<OperationResult> {
  if (t.manifest.form === 'script') {
    const m = t.manifest;
    const r = await runScriptOperation({ handler: t.handler, op: t.op, version: t.version, manifest: m, handlerDir: t.paths.dir,
      workFolder: scriptWorkFolder(t.dirs, t.handler), outputFolder: t.paths.outputFolder,
      arguments: t.handlerProperties.arguments ?? m.arguments, installedCriteria: t.handlerProperties.installedCriteria ?? m.installedCriteria,
      component: t.component, timeoutMs: t.timeoutMs,
      env: commandEnv({ handler: t.handler, op: t.op, dir: t.paths.dir, version: t.version, sequenceNumber: t.ext?.sequenceNumber ?? 0,
        extensionName: t.configName, upgrade: t.upgrade }) }, ctx);
    return { ...r, requests: { reboot: r.rebootRequested, agentRestart: r.agentRestartRequested } };
  }
  return runOperation(invocation(t, { runId: run.runId, ...(run.exitFile ? { exitFile: run.exitFile } : {}) }), ctx);
}

/** The result of a command that finished (or timed out) while the supervisor was down. */
export async function recoveredResult(t: InvokeTarget, run: RunningStep, got: Exclude<Recovered, { kind: 'unknown' }>,
  ctx: Pick<RunContext, 'libId' | 'graceMs' | 'clock'>, why = 'it ran on while the supervisor was down'): Promise<OperationResult> {
  const inv = invocation(t);
  const base = `${t.op}${t.extName ? `.${t.extName}` : ''}`;
  // A tail that cannot be read (a FIFO planted there) is named in the message instead of failing the recovery.
  const tail = (file: string) => readTail(file).catch((err: Error) => `[${err.message}]`);
  const [stdoutTail, stderrTail] = await Promise.all([tail(join(t.paths.outputFolder, `${base}.stdout`)), tail(join(t.paths.outputFolder, `${base}.stderr`))]);
  const r = await completeOperation(inv, {
    pid: null, outcome: got.kind === 'exited' ? 'exited' : 'timedOut', exitCode: got.kind === 'exited' ? got.exitCode : null, signal: null,
    startedAt: run.startedAt, endedAt: got.endedAt, durationMs: got.endedAt - run.startedAt, stdoutTail, stderrTail, error: null, termination: null,
  }, ctx);
  return { ...r, message: `${r.message} (${why}; recovered from its exit status)` };
}
