/**
 * One supervisor per lib dir: `<lib>/supervisor.lock` holds the owner's pid, created
 * exclusively. A lock whose pid is gone is stale and taken over.
 */
import { open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { SupervisorError } from '../core/errors.js';
import { ensureDir } from './dirs.js';

export interface LockInfo { readonly pid: number; readonly command: string; readonly startedAt: string }

export function lockFile(libDir: string): string {
  return join(libDir, 'supervisor.lock');
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM'; }
}

/** Who holds the lock, if a live process does. */
export async function readLock(libDir: string): Promise<LockInfo | null> {
  try {
    const info = JSON.parse(await readFile(lockFile(libDir), 'utf8')) as LockInfo;
    return Number.isInteger(info.pid) && info.pid > 0 && alive(info.pid) ? info : null;
  } catch {
    return null;
  }
}

/** Takes the lock or throws E_LOCKED naming the holder's pid; the returned function releases it. */
export async function acquireLock(libDir: string, command: string): Promise<() => Promise<void>> {
  await ensureDir(libDir, 0o700);
  const file = lockFile(libDir);
  const info: LockInfo = { pid: process.pid, command, startedAt: new Date().toISOString() };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(file, 'wx', 0o600);
      try { await fh.writeFile(`${JSON.stringify(info)}\n`); await fh.sync(); } finally { await fh.close(); }
      let released = false;
      return async () => {
        if (released) return;
        released = true;
        const holder = await readFile(file, 'utf8').then((t) => JSON.parse(t) as LockInfo, () => null);
        if (holder?.pid === process.pid) await rm(file, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = await readLock(libDir);
      if (holder) {
        throw new SupervisorError('E_LOCKED', `another supervisor (${holder.command}, pid ${holder.pid}) is running on ${libDir}`,
          { pid: holder.pid, libDir });
      }
      await rm(file, { force: true }); // stale: its owner is gone
    }
  }
  throw new SupervisorError('E_LOCKED', `could not take the lock ${file}`, { file });
}
