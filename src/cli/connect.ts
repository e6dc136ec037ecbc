/** Finding the daemon of a lib dir: light imports only, so quick commands start fast. */
import { join } from 'node:path';
import { connectControl, type ControlClient } from '../ipc/client.js';
import { resolveDirs, type SupervisorDirs } from '../storage/dirs.js';

export interface DirFlags { readonly libDir?: string; readonly logDir?: string }

export function dirsOf(flags: DirFlags): SupervisorDirs {
  return resolveDirs({ libDir: flags.libDir, logDir: flags.logDir });
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
