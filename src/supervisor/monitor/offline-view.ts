/**
 * What `ps`, `status` and `report` show without a daemon: the events the daemon's reporter would
 * have folded, built from what is on disk (the last session's goal, each handler's journal and
 * restart book, records, heartbeat and status files, processes found by their attribution mark),
 * folded by the same Snapshot. No row is built here.
 */
import { readFile } from 'node:fs/promises';
import { loadSavedGroups } from '../process/cgroup/index.js';
import { describeLayout } from '../process/cgroup/detect.js';
import { GroupUsageTracker } from './group-usage.js';
import { StateStore } from '../lifecycle/record-store.js';
import { SessionStore, type SessionDoc } from '../../storage/sessions.js';
import { libIdOf, type SupervisorDirs } from '../../storage/dirs.js';
import { parseGoalState, type HandlerGoal } from '../goal/goal-state.js';
import { buildDetail, type HandlerDetail } from './handler-detail.js';
import { watchSpecFor } from '../lifecycle/watch-spec.js';
import { readHeartbeatNow } from './heartbeat-read.js';
import { HeartbeatTracker, heartbeatWatched, trackerSpec } from './heartbeat-tracker.js';
import { loadPersisted } from './persisted.js';
import { Snapshot } from './snapshot.js';
import { readExtensionStatus, statusTargets } from './status-collector.js';
import { reportPath } from './status-report.js';
import type { HandlerRow, MonitorEvent, WatchSpec } from './types.js';
import { loadProcConstants, ProcUsageTracker, readUptimeSec, summarizeHandlers } from './proc-usage.js';
import { scanAttributed } from '../process/attribution.js';
import { protectedValuesInFolder, scrubEvent } from './scrub-events.js';
import { handlerPaths } from '../../storage/layout.js';

async function lastGoals(sessions: SessionStore, session: SessionDoc | null): Promise<Map<string, HandlerGoal>> {
  const text = session ? await sessions.readGoalText(session.id) : null;
  if (!text) return new Map();
  try {
    return new Map(parseGoalState(text, 'last session').handlers.map((h) => [h.name, h]));
  } catch {
    return new Map();
  }
}

/** The heartbeat the watchdog would report after reading the file once now (its one staleness rule). */
function heartbeatEvent(name: string, spec: WatchSpec, now: number): MonitorEvent | null {
  const tracker = new HeartbeatTracker(trackerSpec(spec), now);
  tracker.afterRead(readHeartbeatNow(spec.heartbeatFile), now);
  const view = tracker.current;
  return view ? { type: 'heartbeat', handler: name, ...view } : null;
}

/** Every event the fold needs, in the order a daemon's reporter receives them: goal, restored facts, records and what they watch, processes. */
async function* diskEvents(dirs: SupervisorDirs, now: number): AsyncGenerator<MonitorEvent> {
  const store = new StateStore(dirs);
  const sessions = new SessionStore(dirs.libDir);
  const session = await sessions.last();
  const goals = await lastGoals(sessions, session);
  if (session) {
    yield { type: 'goalApplied', etag: session.etag, source: session.source,
      handlers: Object.entries(session.handlers).map(([name, h]) => ({ name, version: h.version, desiredState: h.desiredState as HandlerGoal['state'] })) };
  }
  yield* (await loadPersisted(dirs.libDir, session)).events;
  for (const name of await store.names()) {
    const record = await store.load(name);
    yield { type: 'recordChanged', handler: name, record };
    const spec = await watchSpecFor(dirs, record, goals.get(name) ?? null);
    yield { type: 'watch', handler: name, spec };
    if (!spec) continue;
    // The session's goal copy has them blanked: the handler's settings files hold its protected values.
    const values = await protectedValuesInFolder(handlerPaths(dirs, name, spec.version).configFolder);
    const hb = heartbeatWatched(spec) ? heartbeatEvent(name, spec, now) : null;
    if (hb) yield scrubEvent(hb, values);
    if (spec.form === 'script') continue; // the daemon collects no status files of a script handler either
    for (const t of statusTargets(spec)) {
      yield scrubEvent({ type: 'extensionStatus', handler: name, extension: t.extension, sequenceNumber: t.sequenceNumber,
        status: await readExtensionStatus(t.file), file: t.file }, values);
    }
  }
  const cgroups = loadSavedGroups(dirs.libDir);
  if (cgroups !== null) {
    yield { type: 'processSample', at: now, handlers: new GroupUsageTracker(cgroups, await loadProcConstants()).sample(readUptimeSec(), { prune: false }) };
    return;
  }
  const groups = await scanAttributed(libIdOf(dirs.libDir));
  // One sample: each process's CPU is its average over its life, as ps(1) shows it.
  const usage = new ProcUsageTracker(await loadProcConstants()).sample([...groups.values()].flat(), readUptimeSec());
  yield { type: 'processSample', at: now, handlers: summarizeHandlers(groups, usage) };
}

async function load(dirs: SupervisorDirs, now: number): Promise<Snapshot> {
  const snapshot = new Snapshot();
  for await (const event of diskEvents(dirs, now)) snapshot.fold(event);
  return snapshot;
}

export async function offlineRows(dirs: SupervisorDirs): Promise<HandlerRow[]> {
  const now = Date.now();
  return (await load(dirs, now)).rows(now);
}

export async function offlineDetail(dirs: SupervisorDirs, name: string): Promise<{ detail: HandlerDetail | null; names: string[] }> {
  const now = Date.now();
  const snapshot = await load(dirs, now);
  const facts = snapshot.facts(name, now);
  const names = snapshot.rows(now).map((r) => r.name);
  if (!facts) return { detail: null, names };
  const groups = loadSavedGroups(dirs.libDir);
  const sessions = new SessionStore(dirs.libDir);
  const limits = groups === null ? null : (await lastGoals(sessions, await sessions.last())).get(name)?.limits ?? null;
  const iso = groups !== null ? { groups, description: describeLayout(groups.layout), limits } : undefined;
  return { detail: await buildDetail(dirs, facts.row, facts.record, facts.operations, facts.spec, iso), names };
}

/** The last status report the daemon wrote, as it is on disk. */
export async function offlineReport(dirs: SupervisorDirs): Promise<unknown | null> {
  const text = await readFile(reportPath(dirs.libDir), 'utf8').catch(() => null);
  return text === null ? null : JSON.parse(text);
}
