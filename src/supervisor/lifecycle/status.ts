/** Whether a handler reached its goal, as a pure function (what it shows is decided in monitor/handler-status.ts). */
import type { HandlerRecord } from './record.js';

export type GoalStateValue = 'enabled' | 'disabled' | 'uninstall';

/** Whether the record is where the goal wants it. */
export function goalReached(goal: GoalStateValue, record: HandlerRecord, targetVersion: string | null): boolean {
  switch (goal) {
    case 'enabled': return record.state === 'Enabled' && (targetVersion === null || record.version === targetVersion);
    case 'disabled': return record.state === 'NotInstalled' || record.state === 'Installed';
    case 'uninstall': return record.state === 'NotInstalled';
  }
}
