/**
 * Pure planning: from a handler's goal and its persisted record to the ordered steps that
 * reach the goal (CONTRACT section 4). No I/O, so every path has a table test.
 */
import { SupervisorError } from '../../core/errors.js';
import { chooseVersion, checkDowngrade } from './version-choice.js';
import type { HandlerRecord } from './record.js';
import type { DroppedExtension, HandlerPlan, PackageSpec, PlanStep } from './steps.js';
import { changedExtensions, type ExtensionSettings } from './settings-hash.js';

export interface PlanGoal {
  readonly name: string;
  readonly version: string;
  readonly upgradePolicy: 'manual' | 'auto';
  readonly state: 'enabled' | 'disabled' | 'uninstall';
  readonly allowDowngrade: boolean;
  readonly packages: readonly PackageSpec[];
  readonly extensions: readonly ExtensionSettings[];
}

const none = (reason: string, version: string | null): HandlerPlan =>
  ({ action: 'none', steps: [], targetVersion: version, fromVersion: null, reason });

function allExtensions(goal: PlanGoal): string[] {
  return goal.extensions.map((e) => e.name);
}

/** Picks the package for the goal; throws E_NO_MATCHING_PACKAGE when none fits. */
export function choosePackage(goal: PlanGoal): PackageSpec {
  const version = chooseVersion(goal.version, goal.upgradePolicy, goal.packages.map((p) => p.version));
  const pkg = goal.packages.find((p) => p.version === version);
  if (!pkg) throw new SupervisorError('E_NO_MATCHING_PACKAGE', `handler ${goal.name}: no package for version ${version}`, { handler: goal.name });
  return pkg;
}

function freshInstall(goal: PlanGoal, pkg: PackageSpec, rec: HandlerRecord): HandlerPlan {
  const v = pkg.version;
  // The dir a failed install of another version left goes first: a handler's folders never outlive it.
  const leftover: PlanStep[] = rec.version !== null && rec.version !== v ? [{ kind: 'removeDir', version: rec.version }] : [];
  return {
    action: 'install', targetVersion: v, fromVersion: null, reason: `install ${v}`,
    steps: [
      ...leftover,
      { kind: 'fetch', version: v, pkg },
      { kind: 'prepare', version: v },
      { kind: 'command', op: 'install', version: v, role: 'current', extensions: [] },
      { kind: 'command', op: 'enable', version: v, role: 'current', extensions: allExtensions(goal) },
    ],
  };
}

/** Old disable, copy state, new update, old uninstall, remove old, new install, new enable (as the Azure agent). */
function upgradeSteps(goal: PlanGoal, pkg: PackageSpec, from: string, oldEnabled: boolean, oldOnDisk: boolean): PlanStep[] {
  const v = pkg.version;
  const steps: PlanStep[] = [{ kind: 'fetch', version: v, pkg }, { kind: 'prepare', version: v }];
  if (oldEnabled) steps.push({ kind: 'command', op: 'disable', version: from, role: 'old', extensions: allExtensions(goal) });
  if (oldOnDisk) steps.push({ kind: 'copyState', from, to: v });
  steps.push({ kind: 'command', op: 'update', version: v, role: 'new', extensions: [] });
  if (oldOnDisk) {
    steps.push({ kind: 'command', op: 'uninstall', version: from, role: 'old', extensions: [] });
    steps.push({ kind: 'removeDir', version: from });
  }
  // The executor skips this install when the new manifest's updateMode is UpdateWithoutInstall.
  steps.push({ kind: 'command', op: 'install', version: v, role: 'new', extensions: [] });
  if (goal.state === 'enabled') steps.push({ kind: 'command', op: 'enable', version: v, role: 'new', extensions: allExtensions(goal) });
  return steps;
}

function planUninstall(rec: HandlerRecord, goal: PlanGoal): HandlerPlan {
  if (rec.version === null) return none('not installed', null);
  // As the agent's handle_uninstall: a handler that never installed runs nothing, but its folder goes.
  if (rec.state === 'NotInstalled') {
    return { action: 'uninstall', steps: [{ kind: 'removeDir', version: rec.version, uninstalled: true }], targetVersion: null,
      fromVersion: rec.version, reason: 'uninstall: remove the folder of a failed install' };
  }
  const steps: PlanStep[] = [];
  if (rec.state === 'FailedUpgrade' && rec.previousVersion) {
    // Both versions are on disk: the old one is the installed handler, the new one never finished.
    steps.push({ kind: 'command', op: 'uninstall', version: rec.previousVersion, role: 'old', extensions: [] });
    steps.push({ kind: 'removeDir', version: rec.previousVersion });
    steps.push({ kind: 'removeDir', version: rec.version, uninstalled: true });
    return { action: 'uninstall', steps, targetVersion: null, fromVersion: rec.version, reason: 'uninstall' };
  }
  if (rec.state === 'Enabled') steps.push({ kind: 'command', op: 'disable', version: rec.version, role: 'current', extensions: allExtensions(goal) });
  steps.push({ kind: 'command', op: 'uninstall', version: rec.version, role: 'current', extensions: [] });
  steps.push({ kind: 'removeDir', version: rec.version, uninstalled: true });
  return { action: 'uninstall', steps, targetVersion: null, fromVersion: rec.version, reason: 'uninstall' };
}

/** The plan that takes a handler from its record to its goal. Throws typed errors for apply-time problems. */
export function planHandler(goal: PlanGoal, rec: HandlerRecord): HandlerPlan {
  if (goal.state === 'uninstall') return planUninstall(rec, goal);
  if (goal.state === 'disabled') {
    if (rec.state === 'Enabled' && rec.version) {
      return { action: 'disable', targetVersion: rec.version, fromVersion: null, reason: 'disable',
        steps: [{ kind: 'command', op: 'disable', version: rec.version, role: 'current', extensions: allExtensions(goal) }] };
    }
    return none(rec.state === 'NotInstalled' ? 'not installed, nothing to disable' : 'already disabled', rec.version);
  }

  const pkg = choosePackage(goal);
  const chosen = pkg.version;
  if (rec.state === 'NotInstalled' || rec.version === null) return freshInstall(goal, pkg, rec);

  if (rec.state === 'FailedUpgrade' && rec.previousVersion) {
    const old = rec.previousVersion;
    if (chosen === rec.version) {
      // Retry the failed upgrade from its update step; the old side is already disabled.
      return { action: 'upgrade', targetVersion: chosen, fromVersion: old, reason: `retry upgrade ${old} -> ${chosen}`,
        steps: upgradeSteps(goal, pkg, old, false, true) };
    }
    const steps: PlanStep[] = [{ kind: 'removeDir', version: rec.version }];
    if (chosen === old) {
      steps.push({ kind: 'prepare', version: old }, { kind: 'command', op: 'enable', version: old, role: 'current', extensions: allExtensions(goal) });
      return { action: 'rollback', steps, targetVersion: old, fromVersion: rec.version, reason: `abandon failed upgrade to ${rec.version}, back to ${old}` };
    }
    checkDowngrade(old, chosen, goal.allowDowngrade);
    steps.push(...upgradeSteps(goal, pkg, old, false, true));
    return { action: 'upgrade', steps, targetVersion: chosen, fromVersion: old, reason: `upgrade ${old} -> ${chosen}` };
  }

  if (chosen !== rec.version) {
    const direction = checkDowngrade(rec.version, chosen, goal.allowDowngrade);
    if (direction !== 'same') {
      return { action: direction === 'downgrade' ? 'downgrade' : 'upgrade', targetVersion: chosen, fromVersion: rec.version,
        reason: `${direction} ${rec.version} -> ${chosen}`, steps: upgradeSteps(goal, pkg, rec.version, rec.state === 'Enabled', true) };
    }
  }
  const v = rec.version;
  if (rec.state === 'Installed') {
    return { action: 'enable', targetVersion: v, fromVersion: null, reason: 'enable',
      steps: [{ kind: 'prepare', version: v }, { kind: 'command', op: 'enable', version: v, role: 'current', extensions: allExtensions(goal) }] };
  }
  const changed = goal.extensions.length === 0 ? [] : changedExtensions(goal.extensions, rec.enabledExtensions);
  const dropped = droppedExtensions(goal, rec);
  if (changed.length === 0 && dropped.length === 0) return none('enabled, settings unchanged', v);
  const steps: PlanStep[] = [];
  // As the agent: a deleted extension is disabled (with its own ConfigExtensionName) and its files removed.
  if (dropped.length > 0) {
    steps.push({ kind: 'command', op: 'disable', version: v, role: 'current', extensions: dropped.map((d) => d.name), dropped });
  }
  if (changed.length > 0) steps.push({ kind: 'prepare', version: v }, { kind: 'command', op: 'enable', version: v, role: 'current', extensions: changed });
  const reasons = [...(changed.length > 0 ? [`settings changed: ${changed.join(', ')}`] : []),
    ...(dropped.length > 0 ? [`extensions removed: ${dropped.map((d) => d.name).join(', ')}`] : [])];
  return { action: changed.length > 0 ? 'enable' : 'disable', targetVersion: v, fromVersion: null, reason: reasons.join('; '), steps };
}

/** Extensions the last enable saw that the goal no longer has (only goals that still name some: a handler's own default is not dropped). */
function droppedExtensions(goal: PlanGoal, rec: HandlerRecord): DroppedExtension[] {
  if (goal.extensions.length === 0) return [];
  const names = new Set(allExtensions(goal));
  return Object.entries(rec.enabledExtensions).filter(([n]) => !names.has(n)).map(([name, e]) => ({ name, sequenceNumber: e.sequenceNumber }));
}

/** onUnresponsive "restart": disable then enable the installed version, settings rewritten in between. */
export function restartPlan(goal: PlanGoal, rec: HandlerRecord): HandlerPlan | null {
  if (rec.state !== 'Enabled' || rec.version === null) return null;
  const v = rec.version;
  const exts = allExtensions(goal);
  return { action: 'enable', targetVersion: v, fromVersion: null, reason: 'restart: heartbeat unresponsive',
    steps: [
      { kind: 'command', op: 'disable', version: v, role: 'current', extensions: exts },
      { kind: 'prepare', version: v },
      { kind: 'command', op: 'enable', version: v, role: 'current', extensions: exts },
    ] };
}

/** `supervisor restart`'s first half: disable the installed, enabled version; its goal is re-applied after. */
export function disablePlan(goal: PlanGoal, rec: HandlerRecord): HandlerPlan | null {
  if (rec.state !== 'Enabled' || rec.version === null) return null;
  const v = rec.version;
  return { action: 'disable', targetVersion: v, fromVersion: null, reason: 'restart requested: disable',
    steps: [{ kind: 'command', op: 'disable', version: v, role: 'current', extensions: allExtensions(goal) }] };
}
