/**
 * One point of the cost curve's apply: `supervisor apply --json --concurrency 16
 * --install-concurrency 16` of N trivial handlers in a fresh lib dir, between two spawn floors
 * (a Node process running N `sh -c 'exit 0'` at 16, then N more at 16), as section 1 measures it.
 */
import { rm } from 'node:fs/promises';
import { checkDeadline, type BenchContext } from './context.js';
import { BenchWorkspace, goalState, type BuiltHandler } from './fixtures.js';
import { spawnFloor } from './floors.js';
import { errorLine, phasesOf, type ApplyPhases } from './apply.js';
import { killMarked, runCli } from './proc-tools.js';

export interface ApplyPoint {
  readonly n: number;
  readonly wallMs: number;
  readonly floorMs: number;
  readonly reached: number;
  readonly phases: ApplyPhases | null;
  readonly error?: string;
}

type ApplyOut = Parameters<typeof phasesOf>[0];

/** Applies the first N trivial handlers; the lib dir is removed afterwards (its processes and groups are the caller's to sweep). */
export async function measureApplyPoint(ctx: BenchContext, ws: BenchWorkspace, handlers: readonly BuiltHandler[], timeoutMs: number): Promise<ApplyPoint> {
  const n = handlers.length;
  const goal = await ws.writeGoal(goalState(handlers), `goal-curve-apply-${n}.json`);
  const phases = [{ count: n, concurrency: 16 }, { count: n, concurrency: 16 }];
  const before = await spawnFloor(phases);
  checkDeadline(ctx, `applying ${n} handlers`);
  const dirs = ws.instance(`curve-apply-${n}`);
  ctx.libIds.add(dirs.libId);
  try {
    const r = await runCli(['apply', '--goal-state', goal, ...dirs.dirFlags, '--json', '--concurrency', '16', '--install-concurrency', '16'], { timeoutMs });
    checkDeadline(ctx, `applying ${n} handlers`);
    const after = await spawnFloor(phases);
    const floorMs = (before.wallMs + after.wallMs) / 2;
    if (r.code !== 0) {
      return { n, wallMs: r.ms, floorMs, reached: 0, phases: null, error: `supervisor apply exited ${r.code ?? r.signal} after ${(r.ms / 1000).toFixed(1)} s: ${errorLine(r.stderr)}` };
    }
    const out = JSON.parse(r.stdout) as ApplyOut & { handlers: { reached: boolean }[] };
    return { n, wallMs: r.ms, floorMs, reached: out.handlers.filter((h) => h.reached).length, phases: phasesOf(out, r.startedAt, r.endedAt, null) };
  } finally {
    await killMarked(new Set([dirs.libId]));
    await rm(dirs.libDir, { recursive: true, force: true });
    await rm(dirs.logDir, { recursive: true, force: true });
  }
}
