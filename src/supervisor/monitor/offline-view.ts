/**
 * What `ps`, `status` and `report` show without a daemon: the same Snapshot the reporter keeps,
 * rebuilt by replaying what is on disk (records, the last session, heartbeat and status files)
 * and the processes found by their attribution mark.
 */
import { readFile } from 'node:fs/promises';
import { readHeartbeat } from './heartbeat-actor.js';
import { StateStore } from '../lifecycle/record-store.js';
import { SessionStore, type SessionDoc } from '../../storage/sessions.js';
import { libIdOf, type SupervisorDirs } from '../../storage/dirs.js';
import { parseGoalState, type HandlerGoal } from '../goal/goal-state.js';
import { buildDetail, type HandlerDetail } from './handler-detail.js';
import { operationFromSession } from '../sessions/session-replay.js';
import type { HandlerRecord } from '../lifecycle/record.js';
import { statusAtRest } from '../lifecycle/status.js';
import { watchSpecFor } from '../lifecycle/watch-spec.js';
import type { OperationEntry } from './operation-history.js';
import { Snapshot } from './snapshot.js';
import { readExtensionStatus, statusTargets } from './status-collector.js';
import { reportPath } from './status-report.js';
import type { HandlerRow, WatchSpec } from './types.js';
import { loadProcConstants, ProcUsageTracker, readUptimeSec, summarizeHandlers } from './proc-usage.js';
import { scanAttributed } from '../process/attribution.js';

interface DiskState {
  readonly snapshot: Snapshot;
  readonly records: Map<string, HandlerRecord>;
  readonly specs: Map<string, WatchSpec>;
  readonly session: SessionDoc | null;
}

async function lastGoals(sessions: SessionStore, session: SessionDoc | null): Promise<Map<string, HandlerGoal>> {
  const text = session ? await sessions.readGoalText(session.id) : null;
  if (!text) return new Map();
  try {
    return new Map(parseGoalState(text, 'last session').handlers.map((h) => [h.name, h]));
  } catch {
    return new Map();
  }
}

async function load(dirs: SupervisorDirs): Promise<DiskState> {
  const now = Date.now();
  const snapshot = new Snapshot();
  const store = new StateStore(dirs);
  const sessions = new SessionStore(dirs.libDir);
  const session = await sessions.last();
  const goals = await lastGoals(sessions, session);
  if (session) {
    snapshot.fold({ type: 'goalApplied', etag: session.etag, source: session.source,
      handlers: Object.entries(session.handlers).map(([name, h]) => ({ name, version: h.version, desiredState: h.desiredState as HandlerGoal['state'] })) });
  }
  const records = new Map<string, HandlerRecord>();
  const specs = new Map<string, WatchSpec>();
  for (const name of await store.names()) {
    const record = await store.load(name);
    records.set(name, record);
    snapshot.fold({ type: 'recordChanged', handler: name, record });
    const last = session?.handlers[name];
    const failure = last && last.reached === false && last.code !== null ? { code: last.code, message: last.message ?? '' } : null;
    snapshot.fold({ type: 'statusChanged', handler: name, status: statusAtRest(record, failure) });
    for (const op of last?.operations ?? []) snapshot.fold({ type: 'operationEnded', handler: name, result: operationFromSession(op) });
    const spec = await watchSpecFor(dirs, record, goals.get(name) ?? null);
    snapshot.fold({ type: 'watch', handler: name, spec });
    if (!spec) continue;
    specs.set(name, spec);
    if (spec.reportHeartbeat && spec.state === 'Enabled') {
      const read = await readHeartbeat(spec.heartbeatFile);
      const mtimeMs = read.kind === 'read' ? read.stamp.mtimeMs : null;
      const graceStart = spec.enabledAt ?? now;
      const stale = (mtimeMs ?? graceStart) + spec.heartbeatTimeoutSec * 1000 < now;
      if (read.kind === 'read' && !read.result.ok) {
        snapshot.fold({ type: 'heartbeat', handler: name, state: 'malformed', heartbeat: null, mtimeMs, problem: read.result.problem });
      } else {
        const hb = read.kind === 'read' && read.result.ok ? read.result.heartbeat : null;
        snapshot.fold({ type: 'heartbeat', handler: name, state: stale ? 'stale' : read.kind === 'read' ? 'fresh' : 'missing',
          heartbeat: hb ? { status: hb.status, code: hb.code, message: hb.message } : null, mtimeMs, problem: null });
      }
    }
    for (const t of statusTargets(spec)) {
      snapshot.fold({ type: 'extensionStatus', handler: name, extension: t.extension, sequenceNumber: t.sequenceNumber,
        status: await readExtensionStatus(t.file), file: t.file });
    }
  }
  const groups = await scanAttributed(libIdOf(dirs.libDir));
  // One sample: each process's CPU is its average over its life, as ps(1) shows it.
  const usage = new ProcUsageTracker(await loadProcConstants()).sample([...groups.values()].flat(), readUptimeSec());
  snapshot.fold({ type: 'processSample', at: now, handlers: summarizeHandlers(groups, usage) });
  return { snapshot, records, specs, session };
}

export async function offlineRows(dirs: SupervisorDirs): Promise<HandlerRow[]> {
  return (await load(dirs)).snapshot.rows(Date.now());
}

export async function offlineDetail(dirs: SupervisorDirs, name: string): Promise<{ detail: HandlerDetail | null; names: string[] }> {
  const state = await load(dirs);
  const now = Date.now();
  const row = state.snapshot.row(name, now);
  const names = state.snapshot.rows(now).map((r) => r.name);
  if (!row) return { detail: null, names };
  const ops: OperationEntry[] = (state.session?.handlers[name]?.operations ?? []).map((o) => ({ name: o.name, version: o.version, extension: o.extension,
    result: o.result, exitCode: o.exitCode, code: o.code, message: '', startedAt: o.startedAt, endedAt: o.endedAt, pid: null }));
  return { detail: await buildDetail(dirs, row, state.records.get(name) ?? null, ops, state.specs.get(name) ?? null), names };
}

/** The last status report the daemon wrote, as it is on disk. */
export async function offlineReport(dirs: SupervisorDirs): Promise<unknown | null> {
  const text = await readFile(reportPath(dirs.libDir), 'utf8').catch(() => null);
  return text === null ? null : JSON.parse(text);
}
