/** What the isolation tests ask of a live daemon and of /proc. */
import { readProcStat } from '../../src/supervisor/process/proc.js';
import { askDaemon } from './cli.js';
import { dirFlags } from './daemon.js';
import type { Workspace } from './handlers.js';

/** Alive: in /proc and neither a zombie nor dead. */
export const alive = (pid: number): boolean => { const s = readProcStat(pid); return s !== null && s.state !== 'Z' && s.state !== 'X'; };

/** One handler's `ps --json` row from the running daemon (undefined when it has none). */
export async function psRow(ws: Workspace, name: string): Promise<Record<string, any> | undefined> {
  const r = await askDaemon(['ps', '--json', ...dirFlags(ws)]);
  try {
    return (JSON.parse(r.stdout) as Array<Record<string, any>>).find((x) => x.name === name);
  } catch {
    throw new Error(`ps --json gave no JSON (exit ${r.code}): ${r.stderr}`);
  }
}
