/** The handler status that follows from a lifecycle outcome (CONTRACT section 6), as a pure function. */
import type { LifecycleStatus, OperationResult } from './events.js';
import type { HandlerRecord } from './record.js';
import type { HandlerPlan } from './steps.js';

export type GoalStateValue = 'enabled' | 'disabled' | 'uninstall';

/** Whether the record is where the goal wants it. */
export function goalReached(goal: GoalStateValue, record: HandlerRecord, targetVersion: string | null): boolean {
  switch (goal) {
    case 'enabled': return record.state === 'Enabled' && (targetVersion === null || record.version === targetVersion);
    case 'disabled': return record.state === 'NotInstalled' || record.state === 'Installed';
    case 'uninstall': return record.state === 'NotInstalled';
  }
}

/** Status while a plan runs: Installing for package and install work, NotReady otherwise. */
export function statusWhileRunning(plan: HandlerPlan): LifecycleStatus {
  switch (plan.action) {
    case 'install': return { status: 'Installing', code: 0, message: `installing ${plan.targetVersion}` };
    case 'upgrade': case 'downgrade':
      return { status: 'Installing', code: 0, message: `${plan.action === 'upgrade' ? 'upgrading' : 'downgrading'} ${plan.fromVersion} -> ${plan.targetVersion}` };
    case 'uninstall': return { status: 'NotReady', code: 0, message: 'uninstalling' };
    case 'disable': return { status: 'NotReady', code: 0, message: 'disabling' };
    default: return { status: 'NotReady', code: 0, message: 'enabling' };
  }
}

/** Status at rest, from the record alone (a failure, when there was one, wins). */
export function statusAtRest(record: HandlerRecord, failure: Pick<OperationResult, 'code' | 'message'> | null): LifecycleStatus {
  if (failure) return { status: 'Failed', code: failure.code, message: failure.message };
  switch (record.state) {
    case 'Enabled': return { status: 'Ready', code: 0, message: 'Plugin enabled' };
    case 'Installed': return { status: 'NotReady', code: 0, message: 'Plugin disabled' };
    case 'FailedUpgrade': return { status: 'Failed', code: 1008, message: `upgrade to ${record.version} failed` };
    case 'NotInstalled': return { status: 'NotReady', code: 0, message: 'Plugin not installed' };
  }
}
