/**
 * One supervisor per lib dir: `<lib>/supervisor.lock` holds the owner's pid, created
 * exclusively. A lock whose owner is gone is stale and taken over. "Gone" also covers a pid
 * reused by an unrelated process (after a crash or a power loss): the lock records the owner's
 * start time and the boot id, and a process with another start time, or a lock from another
 * boot, is not the owner (docs/decisions.md, "The lib-dir lock").
 */
import { readFileSync } from 'node:fs';
import { open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { SupervisorError } from '../core/errors.js';
import { ensureDir } from './dirs.js';

export interface LockInfo {
  readonly pid: number;
  readonly command: string;
  readonly startedAt: string;
  /** The owner's start time in clock ticks since boot (/proc/<pid>/stat field 22); absent off Linux and in old locks. */
  readonly procStart?: string;
  /** /proc/sys/kernel/random/boot_id when the lock was taken. */
  readonly bootId?: string;
}

export function lockFile(libDir: string): string {
  return join(libDir, 'supervisor.lock');
}

function readText(path: string): string | null {
  try { return readFileSync(path, 'utf8'); } catch { return null; }
}

/** Field 22 of /proc/<pid>/stat, counted after the `(comm)` field, which may hold spaces and parentheses. */
export function processStartTime(pid: number): string | null {
  const text = readText(`/proc/${pid}/stat`);
  if (text === null) return null;
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return fields[19] ?? null;
}

export function bootId(): string | null {
  return readText('/proc/sys/kernel/random/boot_id')?.trim() || null;
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM'; }
}

/** The lock's owner still runs: its pid is alive and, where the lock says, it is the same process of the same boot. */
export function ownerAlive(info: LockInfo): boolean {
  if (!Number.isInteger(info.pid) || info.pid <= 0 || !alive(info.pid)) return false;
  if (typeof info.bootId === 'string' && info.bootId !== bootId()) return false;
  if (typeof info.procStart === 'string') {
    const now = processStartTime(info.pid);
    if (now !== null && now !== info.procStart) return false;
  }
  return true;
}

/** Who holds the lock, if a live process does. */
export async function readLock(libDir: string): Promise<LockInfo | null> {
  try {
    const info = JSON.parse(await readFile(lockFile(libDir), 'utf8')) as LockInfo;
    return ownerAlive(info) ? info : null;
  } catch {
    return null;
  }
}

function ownInfo(command: string): LockInfo {
  const procStart = processStartTime(process.pid);
  const boot = bootId();
  return { pid: process.pid, command, startedAt: new Date().toISOString(),
    ...(procStart !== null ? { procStart } : {}), ...(boot !== null ? { bootId: boot } : {}) };
}

/** Takes the lock or throws E_LOCKED naming the holder's pid; the returned function releases it. */
export async function acquireLock(libDir: string, command: string): Promise<() => Promise<void>> {
  await ensureDir(libDir, 0o700);
  const file = lockFile(libDir);
  const info = ownInfo(command);
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
      await rm(file, { force: true }); // stale: its owner is gone (or its pid now belongs to another process)
    }
  }
  throw new SupervisorError('E_LOCKED', `could not take the lock ${file}`, { file });
}
