/** Finding the daemon of a lib dir: light imports only, so quick commands start fast. */
import { statSync } from 'node:fs';
import { join } from 'node:path';
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

export function socketPath(dirs: SupervisorDirs): string {
  return join(dirs.libDir, 'supervisor.sock');
}

/** The daemon's client, or null when none runs on this lib dir (other errors are thrown). */
export async function tryConnect(dirs: SupervisorDirs, timeoutMs = 5000): Promise<ControlClient | null> {
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
