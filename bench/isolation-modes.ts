/**
 * The two ways the supervisor finds a handler's processes, as a bench dimension: `cgroup` (kernel
 * groups, the default when the cgroup trees are writable, as for root here) and `marks`
 * (`--no-cgroups`: environment marks and a walk of /proc). Benches that care run both, cgroup first.
 */
import { accessSync, constants, existsSync } from 'node:fs';
import { join } from 'node:path';
import { findMounts } from '../src/supervisor/process/cgroup/detect.js';

export type IsolationMode = 'cgroup' | 'marks';

/** True when a supervisor started by this bench would choose cgroups: root, and a cgroup tree it can write. */
export function cgroupsUsable(): boolean {
  if (process.getuid?.() !== 0) return false;
  const m = findMounts();
  return [m.v2, ...m.v1.values()].some((dir) => dir !== null && existsSync(join(dir, 'cgroup.procs')) && writable(dir));
}

function writable(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** The modes to measure here: both when cgroups are usable (cgroup first), else marks only. */
export function benchModes(): IsolationMode[] {
  return cgroupsUsable() ? ['cgroup', 'marks'] : ['marks'];
}

/** `supervisor run` flags for a mode. */
export function daemonModeArgs(mode: IsolationMode): string[] {
  return mode === 'marks' ? ['--no-cgroups'] : [];
}

/** Environment for one-shot CLI commands (`apply` has no flag; the variable is read by every supervisor process). */
export function cliModeEnv(mode: IsolationMode): NodeJS.ProcessEnv {
  return mode === 'marks' ? { EXT_SUPERVISOR_ISOLATION: 'marks' } : {};
}

/** How the mode is named in figures and tables. */
export function modeLabel(mode: IsolationMode): string {
  return mode === 'cgroup' ? 'cgroup mode' : 'marks mode (`--no-cgroups`)';
}
