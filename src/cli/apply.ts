/** `supervisor apply`: one shot, no daemon. Renders the outcome; the work is the Fleet's. */
import { loadGoalStateFile } from '../supervisor/goal-state.js';
import { Fleet, type ApplySummary } from '../supervisor/fleet.js';
import { resolveDirs } from '../storage/dirs.js';
import { acquireLock } from '../storage/lock.js';
import { SupervisorError, ValidationError } from '../supervisor/errors.js';
import { EXIT, type CliIO } from './io.js';
import { cell, renderTable } from './table.js';

export interface ApplyFlags {
  readonly goalState: string;
  readonly libDir?: string;
  readonly logDir?: string;
  readonly concurrency: number;
  readonly installConcurrency: number;
  readonly json?: boolean;
  /** Seconds between SIGTERM and SIGKILL (tests shorten it). */
  readonly grace?: number;
}

export function renderApplySummary(summary: ApplySummary): string {
  const rows = summary.results.map((r) => {
    const last = r.failure ?? r.operations.at(-1) ?? null;
    return [r.name, r.record.version ?? '-', r.record.state, r.status.status,
      last ? `${last.op}${last.extension ? `(${last.extension})` : ''}` : '-', last ? last.result : '-', cell(r.status.message, 80)];
  });
  const reached = summary.results.filter((r) => r.reached).length;
  return renderTable(['NAME', 'VERSION', 'STATE', 'STATUS', 'LAST-OP', 'RESULT', 'MESSAGE'], rows)
    + `${reached}/${summary.results.length} handlers reached their goal in ${((summary.endedAt - summary.startedAt) / 1000).toFixed(1)} s\n`;
}

function summaryJson(summary: ApplySummary): unknown {
  return {
    source: summary.source, etag: summary.etag, ok: summary.ok,
    startedAt: new Date(summary.startedAt).toISOString(), endedAt: new Date(summary.endedAt).toISOString(),
    handlers: summary.results.map((r) => ({
      name: r.name, desiredState: r.goal.state, version: r.record.version, state: r.record.state, reached: r.reached, action: r.action,
      status: r.status.status, code: r.status.code, message: r.status.message,
      operations: r.operations.map((o) => ({ name: o.op, version: o.version, extension: o.extension, result: o.result, exitCode: o.exitCode,
        code: o.code, startedAt: new Date(o.startedAt).toISOString(), endedAt: new Date(o.endedAt).toISOString() })),
    })),
  };
}

export async function applyCommand(flags: ApplyFlags, io: CliIO): Promise<number> {
  let goal;
  try {
    goal = await loadGoalStateFile(flags.goalState);
  } catch (err) {
    io.stderr(`${err instanceof ValidationError || err instanceof SupervisorError ? err.message : String(err)}\n`);
    return EXIT.usage;
  }
  for (const w of goal.warnings) io.stderr(`warning: ${w.source ?? goal.source}: ${w.path}: ${w.reason}\n`);
  const dirs = resolveDirs({ libDir: flags.libDir, logDir: flags.logDir });
  let release: () => Promise<void>;
  try {
    release = await acquireLock(dirs.libDir, 'apply');
  } catch (err) {
    io.stderr(`supervisor apply: ${(err as Error).message}\n`);
    return EXIT.usage;
  }
  const fleet = new Fleet({ dirs, concurrency: flags.concurrency, installConcurrency: flags.installConcurrency,
    graceMs: flags.grace !== undefined ? flags.grace * 1000 : undefined });
  const onSignal = (): void => {
    io.stderr('supervisor apply: stopping: running commands get SIGTERM, then SIGKILL\n');
    fleet.cancel();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const summary = await fleet.apply(goal);
    io.stdout(flags.json ? `${JSON.stringify(summaryJson(summary), null, 2)}\n` : renderApplySummary(summary));
    return summary.ok ? EXIT.ok : EXIT.notReached;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await fleet.stop();
    await release();
  }
}
