/**
 * Where the supervisor keeps its state and logs (CONTRACT section 1), and folder
 * creation with exact modes. Every command resolves the same way, so `supervisor ps`
 * in a second terminal finds the daemon `supervisor run` started with the same flags.
 */
import { createHash } from 'node:crypto';
import { chmod, mkdir, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { SupervisorError } from '../core/errors.js';
import type { ErrorCode } from '../core/error-codes.js';

export const APP_DIR_NAME = 'ext-supervisor';
export const ROOT_LIB_DIR = '/var/lib/ext-supervisor';
export const ROOT_LOG_DIR = '/var/log/ext-supervisor';

export interface ResolveDirsOptions {
  /** `--lib-dir`; relative paths are resolved against `cwd`. */
  readonly libDir?: string | undefined;
  /** `--log-dir`. */
  readonly logDir?: string | undefined;
  readonly env?: NodeJS.ProcessEnv;
  /** Effective uid; root (0) gets the system folders. */
  readonly uid?: number;
  readonly home?: string;
  readonly cwd?: string;
}

export interface SupervisorDirs {
  readonly libDir: string;
  readonly logDir: string;
}

/**
 * Lib dir: flag, else $SUPERVISOR_LIB_DIR, else /var/lib/ext-supervisor for root, else
 * ${XDG_STATE_HOME:-~/.local/state}/ext-supervisor. Log dir: flag, else
 * $SUPERVISOR_LOG_DIR, else /var/log/ext-supervisor for root, else <lib>/log. Always absolute.
 */
export function resolveDirs(opts: ResolveDirsOptions = {}): SupervisorDirs {
  const env = opts.env ?? process.env;
  const uid = opts.uid ?? process.getuid?.() ?? -1;
  const cwd = opts.cwd ?? process.cwd();
  const isRoot = uid === 0;
  const libFlag = flag(opts.libDir, '--lib-dir');
  const logFlag = flag(opts.logDir, '--log-dir');

  let libDir: string;
  if (libFlag !== undefined) libDir = resolve(cwd, libFlag);
  else if (nonEmpty(env['SUPERVISOR_LIB_DIR'])) libDir = resolve(cwd, env['SUPERVISOR_LIB_DIR'] as string);
  else if (isRoot) libDir = ROOT_LIB_DIR;
  else libDir = join(stateHome(env, opts.home), APP_DIR_NAME);

  let logDir: string;
  if (logFlag !== undefined) logDir = resolve(cwd, logFlag);
  else if (nonEmpty(env['SUPERVISOR_LOG_DIR'])) logDir = resolve(cwd, env['SUPERVISOR_LOG_DIR'] as string);
  else if (isRoot) logDir = ROOT_LOG_DIR;
  else logDir = join(libDir, 'log');

  return Object.freeze({ libDir, logDir });
}

/**
 * Creates `path` and any missing parents, and leaves every folder it created, and the
 * final one in any case, with exactly `mode` whatever the umask.
 */
export async function ensureDir(path: string, mode = 0o700): Promise<void> {
  const target = resolve(path);
  let firstCreated: string | undefined;
  try {
    firstCreated = await mkdir(target, { recursive: true, mode });
  } catch (error) {
    // mkdir -p says EEXIST only when the path exists and is not a folder.
    if (errnoOf(error) === 'EEXIST') throw new SupervisorError('E_NOT_A_DIRECTORY', `${target} exists and is not a folder`, { path: target });
    throw dirError('E_MKDIR', `cannot create folder ${target}`, target, error);
  }
  const info = await stat(target).catch((error: unknown) => { throw dirError('E_MKDIR', `cannot stat folder ${target}`, target, error); });
  if (!info.isDirectory()) throw new SupervisorError('E_NOT_A_DIRECTORY', `${target} exists and is not a folder`, { path: target });
  // mkdir applies the umask; fix each folder created here, from the top one down.
  const toFix = firstCreated === undefined ? [target] : createdChain(resolve(firstCreated), target);
  for (const dir of toFix) {
    try {
      const current = dir === target ? info.mode & 0o7777 : -1;
      if (current !== mode) await chmod(dir, mode);
    } catch (error) {
      throw dirError('E_CHMOD', `cannot set mode ${mode.toString(8)} on ${dir}`, dir, error);
    }
  }
}

/** A short stable id of a lib dir (first 12 hex of sha256 of its absolute path), to mark the processes it started. */
export function libIdOf(libDir: string): string {
  return createHash('sha256').update(resolve(libDir)).digest('hex').slice(0, 12);
}

function createdChain(first: string, target: string): string[] {
  const chain = [first];
  const rest = relative(first, target);
  if (rest === '') return chain;
  let current = first;
  for (const part of rest.split(sep)) {
    current = join(current, part);
    chain.push(current);
  }
  return chain;
}

function stateHome(env: NodeJS.ProcessEnv, home: string | undefined): string {
  const xdg = env['XDG_STATE_HOME'];
  // The XDG spec says a relative value is invalid and must be ignored.
  if (nonEmpty(xdg) && isAbsolute(xdg as string)) return resolve(xdg as string);
  const base = home ?? homedir();
  if (!nonEmpty(base) || !isAbsolute(base)) {
    throw new SupervisorError('E_NO_LIB_DIR', 'cannot choose a lib dir: no --lib-dir, $SUPERVISOR_LIB_DIR, $XDG_STATE_HOME or home folder', { home: base });
  }
  return join(base, '.local', 'state');
}

function flag(value: string | undefined, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (value.trim() === '') throw new SupervisorError('E_USAGE', `${name} must not be empty (got ${JSON.stringify(value)})`, { flag: name, value });
  return value;
}

function nonEmpty(value: string | undefined): boolean {
  return typeof value === 'string' && value !== '';
}

function errnoOf(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error ? String((error as { code: unknown }).code) : undefined;
}

function dirError(code: ErrorCode, what: string, path: string, cause: unknown): SupervisorError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new SupervisorError(code, `${what}: ${reason}`, { path, errno: errnoOf(cause) ?? null }, { cause });
}
