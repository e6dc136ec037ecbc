/** Finding the daemon of a lib dir: light imports only, so quick commands start fast. */
import { readFileSync, statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { logDirRecordFile } from '../storage/layout.js';
import { connectControl, type ControlClient } from '../ipc/client.js';
import { SupervisorError } from '../core/errors.js';
import { resolveDirs, type SupervisorDirs } from '../storage/dirs.js';

export interface DirFlags { readonly libDir?: string; readonly logDir?: string }

export function dirsOf(flags: DirFlags): SupervisorDirs {
  return resolveDirs({ libDir: flags.libDir, logDir: flags.logDir });
}

/**
 * The dirs of a command that reads a lib dir: one that is missing or not a folder is an error
 * naming it, never an empty fleet ("no handlers", exit 0) that hides a mistyped --lib-dir.
 */
export function existingDirsOf(flags: DirFlags): SupervisorDirs {
  const dirs = dirsOf(flags);
  let isDir = false;
  try { isDir = statSync(dirs.libDir).isDirectory(); } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new SupervisorError('E_USAGE', `cannot read the lib dir ${dirs.libDir}: ${(err as Error).message}`, { libDir: dirs.libDir });
    throw new SupervisorError('E_USAGE', `no lib dir at ${dirs.libDir} (no supervisor has run with it; check --lib-dir or $SUPERVISOR_LIB_DIR)`, { libDir: dirs.libDir });
  }
  if (!isDir) throw new SupervisorError('E_USAGE', `the lib dir ${dirs.libDir} is not a folder (check --lib-dir or $SUPERVISOR_LIB_DIR)`, { libDir: dirs.libDir });
  return dirs;
}

/**
 * The log dir a command reads: --log-dir or $SUPERVISOR_LOG_DIR when given; else the running
 * daemon's (from its handshake); else the one the last daemon recorded in the lib dir; else the default.
 */
export function logDirFor(flags: DirFlags, dirs: SupervisorDirs, client: ControlClient | null, env: NodeJS.ProcessEnv = process.env): string {
  if ((flags.logDir !== undefined && flags.logDir !== '') || env['SUPERVISOR_LOG_DIR']) return dirs.logDir;
  if (client?.server.logDir) return client.server.logDir;
  try {
    const recorded = readFileSync(logDirRecordFile(dirs.libDir), 'utf8').trim();
    if (isAbsolute(recorded)) return recorded;
  } catch { /* none recorded: the default */ }
  return dirs.logDir;
}

export function socketPath(dirs: SupervisorDirs): string {
  return join(dirs.libDir, 'supervisor.sock');
}

/**
 * How long a command waits for the daemon's hello and each answer. A refused socket is "no daemon"
 * at once; a daemon that is alive but starved (a load of 300 on 2 cores took over 5 s to answer)
 * is waited for, since an operator would rather wait than be told the daemon did not answer.
 */
export const CLI_ANSWER_TIMEOUT_MS = 30_000;

/** The daemon's client, or null when none runs on this lib dir (other errors are thrown). */
export async function tryConnect(dirs: SupervisorDirs, timeoutMs = CLI_ANSWER_TIMEOUT_MS): Promise<ControlClient | null> {
  try {
    return await connectControl(socketPath(dirs), { timeoutMs });
  } catch (err) {
    if ((err as { code?: string }).code === 'E_NO_DAEMON') return null;
    throw err;
  }
}

export function noDaemonNote(command: string, dirs: SupervisorDirs): string {
  return `supervisor ${command}: no daemon is running on ${dirs.libDir}; showing the state saved on disk\n`;
}
