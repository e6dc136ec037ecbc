// Shared helpers for the script-handler tests: a handler dir holding a fixture script with
// per-action behaviors, a RunContext with its own libId and Gate, and /proc checks.
import { randomBytes } from 'node:crypto';
import { chmod, copyFile, mkdir, mkdtemp, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { systemClock } from '../../../src/core/clock.js';
import type { ScriptManifest } from '../../../src/protocol/manifest.js';
import { Gate } from '../../../src/supervisor/lifecycle/gate.js';
import type { RunContext } from '../../../src/supervisor/lifecycle/run-operation.js';
import { findEnvVar, listPids, readProcFile } from '../../../src/supervisor/process/proc.js';
import type { ScriptOperationInput } from '../../../src/supervisor/script/script-operations.js';

export const FIXTURES = fileURLToPath(new URL('../../fixtures/script-handlers/', import.meta.url));

/** A libId no other test uses (12 hex chars), so parallel tests never see each other's processes. */
export function uniqueLibId(): string {
  return randomBytes(6).toString('hex');
}

export interface ScriptHandlerDir {
  readonly root: string;
  readonly handlerDir: string;
  readonly workFolder: string;
  readonly outputFolder: string;
  /** Writes behavior/<action>.sh, sourced by adu-script.sh for that action. */
  behave(action: string, body: string): Promise<void>;
  /** The argv the fixture recorded for an action, one entry per line it wrote. */
  argv(action: string): Promise<string[]>;
  /** The actions the fixture was called with, in order. */
  calls(): Promise<string[]>;
  remove(): Promise<void>;
}

/** A fresh temp root with `<root>/lib/Contoso.Script-1.0/<fixture>` and the folders an operation needs. */
export async function makeHandlerDir(fixture = 'adu-script.sh'): Promise<ScriptHandlerDir> {
  const root = await realpath(await mkdtemp(join(tmpdir(), 'ext-sup-script-')));
  const handlerDir = join(root, 'lib', 'Contoso.Script-1.0');
  const outputFolder = join(handlerDir, '.supervisor');
  const workFolder = join(root, 'lib', 'work', 'Contoso.Script');
  await mkdir(join(handlerDir, 'behavior'), { recursive: true });
  await mkdir(outputFolder, { recursive: true });
  await copyFile(join(FIXTURES, fixture), join(handlerDir, fixture));
  await chmod(join(handlerDir, fixture), 0o755);
  return {
    root, handlerDir, workFolder, outputFolder,
    behave: (action, body) => writeFile(join(handlerDir, 'behavior', `${action}.sh`), body),
    argv: async (action) => (await readFile(join(workFolder, `argv_${action}.txt`), 'utf8')).replace(/\n$/, '').split('\n'),
    calls: async () => {
      const text = await readFile(join(workFolder, 'calls.log'), 'utf8').catch(() => '');
      return text.split('\n').filter(Boolean);
    },
    remove: () => rm(root, { recursive: true, force: true }),
  };
}

/** A script manifest as parseManifest would return it. */
export function scriptManifest(extra: Partial<ScriptManifest> = {}): ScriptManifest {
  return { form: 'script', name: 'Contoso.Script', version: '1.0', scriptFileName: 'adu-script.sh', arguments: '',
    installedCriteria: null, reportHeartbeat: false, ...extra };
}

/** An operation input over a handler dir; every field overridable. */
export function operationInput(dir: ScriptHandlerDir, extra: Partial<ScriptOperationInput> = {}): ScriptOperationInput {
  const manifest = extra.manifest ?? scriptManifest();
  return {
    handler: 'Contoso.Script', op: 'install', version: '1.0', manifest, handlerDir: dir.handlerDir, workFolder: dir.workFolder,
    outputFolder: dir.outputFolder, arguments: manifest.arguments, installedCriteria: manifest.installedCriteria, component: null,
    timeoutMs: 10_000, env: {}, ...extra,
  };
}

/** A RunContext with its own libId and an install gate of one slot; `starts` records onStart calls. */
export function runContext(extra: Partial<RunContext> = {}): RunContext & { starts: Array<{ pid: number | null; startedAt: number }> } {
  const starts: Array<{ pid: number | null; startedAt: number }> = [];
  return {
    libId: uniqueLibId(), gate: new Gate('install', 1), graceMs: 200, signal: new AbortController().signal, clock: systemClock,
    onStart: (pid, startedAt) => { starts.push({ pid, startedAt }); }, ...extra, starts,
  };
}

/** Live processes whose environment carries name=value, read straight from /proc. */
export function pidsWithEnv(name: string, value: string): number[] {
  const found: number[] = [];
  for (const pid of listPids()) {
    if (pid === process.pid) continue;
    const env = readProcFile(`/proc/${pid}/environ`);
    if (env !== null && findEnvVar(env, name) === value) found.push(pid);
  }
  return found;
}

/** SIGKILLs every live process carrying name=value: each test ends what it started. */
export async function killWithEnv(name: string, value: string): Promise<void> {
  for (let round = 0; round < 5; round += 1) {
    const left = pidsWithEnv(name, value);
    if (left.length === 0) return;
    for (const pid of left) { try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ } }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
