/** What the monitors are told about an installed handler, derived from its record, goal and manifest. */
import type { HandlerGoal } from '../goal/goal-state.js';
import type { WatchSpec } from '../monitor/types.js';
import { DEFAULT_HEARTBEAT_TIMEOUT } from '../goal/goal-state-schema.js';
import { readInstalledManifest } from './fetch-step.js';
import { handlerPaths, type SupervisorDirs } from '../../storage/layout.js';
import { isMultiConfig } from './prepare.js';
import type { HandlerRecord } from './record.js';

/** null when nothing is installed; a handler whose manifest cannot be read is watched without heartbeat. */
export async function watchSpecFor(dirs: SupervisorDirs, record: HandlerRecord, goal: HandlerGoal | null): Promise<WatchSpec | null> {
  if (record.version === null || record.state === 'NotInstalled') return null;
  const paths = handlerPaths(dirs, record.name, record.version);
  const manifest = await readInstalledManifest(paths).catch(() => null);
  const reportHeartbeat = manifest?.reportHeartbeat ?? false;
  const extensions = goal
    ? goal.extensions.map((e) => ({ name: e.name, sequenceNumber: e.sequenceNumber }))
    : Object.entries(record.enabledExtensions).map(([name, e]) => ({ name, sequenceNumber: e.sequenceNumber }));
  return {
    name: record.name, version: record.version, form: manifest?.form ?? record.form ?? 'command', dir: paths.dir, statusFolder: paths.statusFolder, heartbeatFile: paths.heartbeatFile,
    state: record.state, reportHeartbeat,
    heartbeatTimeoutSec: goal?.heartbeatTimeout ?? DEFAULT_HEARTBEAT_TIMEOUT,
    onUnresponsive: goal?.onUnresponsive ?? 'report',
    extensions, multiConfig: manifest ? isMultiConfig(manifest) : extensions.length > 1,
    enabledAt: record.state === 'Enabled' ? record.enabledAt : null,
  };
}
