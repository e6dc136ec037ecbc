/** Runs goal states through a real Fleet (in process) against a test Workspace. */
import { parseGoalState } from '../../src/supervisor/goal/goal-state.js';
import { Fleet, type ApplySummary, type FleetOptions } from '../../src/supervisor/lifecycle/fleet.js';
import { scanAttributed } from '../../src/supervisor/process/attribution.js';
import { libIdOf } from '../../src/storage/dirs.js';
import { endLibGroups } from './cgroups.js';
import type { Workspace } from './handlers.js';

export async function applyDoc(ws: Workspace, doc: unknown, opts: Partial<FleetOptions> = {}): Promise<ApplySummary> {
  const goal = parseGoalState(JSON.stringify(doc), `${ws.root}/goal.json`);
  const fleet = new Fleet({ dirs: ws.dirs, graceMs: 300, ...opts });
  try {
    return await fleet.reconcile(goal);
  } finally {
    await fleet.stop();
  }
}

export function resultOf(summary: ApplySummary, name: string) {
  const r = summary.results.find((x) => x.name === name);
  if (!r) throw new Error(`no result for ${name}`);
  return r;
}

/** Live (non-zombie) processes carrying this workspace's mark, by handler. */
export async function liveProcesses(ws: Workspace): Promise<Map<string, number[]>> {
  const byHandler = await scanAttributed(libIdOf(ws.libDir));
  return new Map([...byHandler].map(([h, procs]) => [h, procs.map((p) => p.pid)]));
}

/** Ends anything a test left behind (best effort), so no test leaks processes. */
export async function killLeftovers(ws: Workspace): Promise<void> {
  for (const pids of (await liveProcesses(ws)).values()) {
    for (const pid of pids) { try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ } }
  }
  await endLibGroups(libIdOf(ws.libDir));
}
