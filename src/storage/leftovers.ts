/**
 * Start-up: `.next` files left by a crash in the middle of an atomic write are removed (and
 * reported) from every folder the supervisor owns; package content is never touched.
 */
import { join } from 'node:path';
import { readdir, rm, stat } from 'node:fs/promises';
import { LEFTOVER_SUFFIX, removeLeftovers } from './atomic-write.js';
import type { SupervisorDirs } from './dirs.js';
import { handlerPaths, historyFolder, restartsFolder } from './layout.js';

async function removeFile(path: string): Promise<string[]> {
  const there = await stat(path).then(() => true, () => false);
  if (!there) return [];
  await rm(path, { force: true });
  return [path];
}

/**
 * Every leftover removed, for the log. `installed` lists (name, version) of the handler dirs the
 * records name; it is called after the state folder is clean, so reading records sees no leftover.
 */
export async function cleanLeftovers(dirs: SupervisorDirs, installed: () => Promise<ReadonlyArray<{ name: string; version: string }>>): Promise<string[]> {
  const removed: string[] = [
    ...await removeLeftovers(dirs.libDir),
    ...await removeLeftovers(join(dirs.libDir, 'state')),
    ...await removeLeftovers(join(dirs.libDir, 'sessions'), { recursive: true }),
    ...await removeLeftovers(historyFolder(dirs.libDir)),
    ...await removeLeftovers(restartsFolder(dirs.libDir)),
  ];
  // Downloads and extractions cut short: nothing in staging is ever referenced after a restart.
  const staging = join(dirs.libDir, '.staging');
  for (const entry of await readdir(staging).catch(() => [] as string[])) {
    await rm(join(staging, entry), { recursive: true, force: true });
    removed.push(join(staging, entry));
  }
  for (const h of await installed()) {
    const p = handlerPaths(dirs, h.name, h.version);
    removed.push(...await removeFile(`${p.environmentFile}${LEFTOVER_SUFFIX}`));
    removed.push(...await removeLeftovers(p.configFolder));
  }
  return removed;
}
