/** `supervisor apply`: one shot, no daemon. Renders the outcome; the work is the Fleet's. */
import { resolve } from 'node:path';
import { fetchGoalState } from '../supervisor/goal/goal-fetch.js';
import type { ApplySummary } from '../supervisor/lifecycle/fleet.js';
import { Runtime } from '../supervisor/daemon/runtime.js';
import { closePackagePool } from '../supervisor/packages/pool.js';
import type { HandlerRow } from '../supervisor/monitor/types.js';
import { renderPs } from './ps.js';
import { ApplyProgress } from './apply-progress.js';
import { resolveDirs } from '../storage/dirs.js';
import { acquireLock } from '../storage/lock.js';
import { SupervisorError, ValidationError } from '../core/errors.js';
import { EXIT, type CliIO } from './io.js';
import { cell } from './table.js';

export interface ApplyFlags {
  readonly goalState: string;
  readonly libDir?: string;
  readonly logDir?: string;
  readonly concurrency: number;
  readonly installConcurrency: number;
  readonly json?: boolean;
  /** Seconds between SIGTERM and SIGKILL (tests shorten it). */
  readonly grace?: number;
  readonly certificatesFolder?: string;
}

/**
 * The apply table: `ps`'s columns for the goal's handlers, then why each one that failed failed
 * and its extensions' status lines (from their status files).
 */
export function renderApplySummary(summary: ApplySummary, rows: readonly HandlerRow[] = [], tty = false): string {
  const byName = new Map(rows.map((r) => [r.name, r]));
  // A handler the snapshot no longer shows (uninstalled) gets its line from this apply's result.
  const shown = summary.results.map((r) => byName.get(r.name) ?? rowOfResult(r));
  const notes: string[] = [];
  for (const r of summary.results) {
    const row = byName.get(r.name);
    // A failure of this apply is what the operator needs to see; otherwise the live status.
    const status = r.failure || !row ? r.status : row;
    if (!r.reached || status.status === 'Failed') notes.push(`  ${r.name}: ${cell(status.message, 100)}`);
    // What this apply recovered from (an interrupted install run again...) is said even when it succeeded.
    else if (r.recovery) notes.push(`  ${r.name}: ${cell(r.recovery, 100)}`);
    for (const e of row?.extensions ?? []) {
      notes.push(`  ${r.name} extension ${e.name} (sequence ${e.sequenceNumber}): ${e.status}${e.code ? ` (code ${e.code})` : ''}${e.message ? `: ${cell(e.message, 100)}` : ''}`);
    }
  }
  const reached = summary.results.filter((r) => r.reached).length;
  return renderPs(shown, tty) + (notes.length ? `${notes.join('\n')}\n` : '')
    + `${reached}/${summary.results.length} handlers reached their goal in ${((summary.endedAt - summary.startedAt) / 1000).toFixed(1)} s\n`;
}

function rowOfResult(r: ApplySummary['results'][number]): HandlerRow {
  const last = r.failure ?? r.operations.at(-1) ?? null;
  return {
    name: r.name, version: r.record.version, desiredState: r.goal.state, state: r.record.state, status: r.status.status,
    code: r.status.code, message: r.status.message, pids: [], cpuPercent: 0, memoryBytes: 0, uptimeSeconds: null,
    heartbeatAgeSeconds: null, heartbeat: null, restarts: 0, extensions: [],
    lastOperation: last ? { name: last.op, result: last.result, exitCode: last.exitCode,
      startedAt: new Date(last.startedAt).toISOString(), endedAt: new Date(last.endedAt).toISOString() } : null,
  };
}

function summaryJson(summary: ApplySummary, rows: readonly HandlerRow[]): unknown {
  const byName = new Map(rows.map((r) => [r.name, r]));
  return {
    source: summary.source, etag: summary.etag, ok: summary.ok,
    startedAt: new Date(summary.startedAt).toISOString(), endedAt: new Date(summary.endedAt).toISOString(),
    handlers: summary.results.map((r) => ({
      name: r.name, desiredState: r.goal.state, version: r.record.version, state: r.record.state, reached: r.reached, action: r.action,
      status: r.status.status, code: r.status.code, message: r.status.message,
      operations: r.operations.map((o) => ({ name: o.op, version: o.version, extension: o.extension, result: o.result, exitCode: o.exitCode,
        code: o.code, startedAt: new Date(o.startedAt).toISOString(), endedAt: new Date(o.endedAt).toISOString(),
        ...(o.requests ? { rebootRequested: o.requests.reboot, agentRestartRequested: o.requests.agentRestart } : {}) })),
      heartbeat: byName.get(r.name)?.heartbeat ?? null,
      heartbeatAgeSeconds: byName.get(r.name)?.heartbeatAgeSeconds ?? null,
      extensions: byName.get(r.name)?.extensions ?? [],
    })),
  };
}

export async function applyCommand(flags: ApplyFlags, io: CliIO): Promise<number> {
  let goal;
  try {
    const got = await fetchGoalState(flags.goalState, null);
    if (got.kind !== 'goal') throw new Error(`${flags.goalState}: no document`);
    goal = got.goal;
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
  // One shot: work that fails on a full disk is reported, not retried after apply has exited.
  const runtime = new Runtime({ dirs, concurrency: flags.concurrency, installConcurrency: flags.installConcurrency, transientRetry: null,
    graceMs: flags.grace !== undefined ? flags.grace * 1000 : undefined,
    ...(flags.certificatesFolder ? { certificatesFolder: resolve(flags.certificatesFolder) } : {}),
    onCorruptState: (message) => io.stderr(`supervisor apply: ${message}\n`),
    onError: (err) => io.stderr(`supervisor apply: ${(err as Error)?.message ?? String(err)}\n`) });
  const onSignal = (): void => {
    io.stderr('supervisor apply: stopping: running commands get SIGTERM, then SIGKILL\n');
    runtime.cancel();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    for (const leftover of await runtime.cleanLeftovers()) io.stderr(`supervisor apply: removed ${leftover}, left by an interrupted write\n`);
    // --json prints one document and nothing else.
    const progress = flags.json ? null : new ApplyProgress(goal.handlers.length, io, (name) => runtime.row(name));
    const summary = await runtime.apply(goal, 'apply', progress ? (name) => progress.settled(name) : undefined);
    await progress?.finish();
    await runtime.settle();
    const rows = await runtime.rows();
    io.stdout(flags.json ? `${JSON.stringify(summaryJson(summary, rows), null, 2)}\n` : renderApplySummary(summary, rows, io.isTTY));
    return summary.ok ? EXIT.ok : EXIT.notReached;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await runtime.stop();
    await closePackagePool();
    await release();
  }
}
