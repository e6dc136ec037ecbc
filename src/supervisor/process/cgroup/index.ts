/**
 * The isolation backend, chosen once per lib dir: kernel groups (cgroup2, plus v1 controllers
 * where cgroup2 lacks them) when a tree is writable, else today's environment marks and /proc walk.
 * `isolationFor(libId)` returns the groups, or null for marks only.
 */
import { detectLayout, describeLayout, type CgroupLayout } from './detect.js';
import { CgroupGroups } from './groups.js';

export { CgroupGroups } from './groups.js';
export type { GroupUsage } from './groups.js';
export type { HandlerLimits } from './limits.js';
export { describeLimits } from './limits.js';
export { loadSavedGroups, saveLayout } from './saved.js';
export { daemonGroup } from './detect.js';

/** How isolation is chosen: `auto` uses cgroups when writable; `marks` never does (--no-cgroups). */
export interface IsolationConfig {
  readonly mode: 'auto' | 'marks';
  /** The supervisor's subtree (--cgroup-root). */
  readonly root?: string;
  /** The daemon only: under systemd, move into a leaf of its delegated group (detect.ts). */
  readonly moveSelf?: boolean;
}

/** EXT_SUPERVISOR_ISOLATION=marks forces the fallback in every process that reads it (tests, debugging). */
let config: IsolationConfig = { mode: process.env['EXT_SUPERVISOR_ISOLATION'] === 'marks' ? 'marks' : 'auto' };
const chosen = new Map<string, { groups: CgroupGroups | null; description: string; notes: readonly string[] }>();

/** Sets how later choices are made (the daemon and CLI call it with their flags before any command runs). */
export function configureIsolation(next: IsolationConfig): void {
  config = next;
  chosen.clear();
}

function choose(libId: string): { groups: CgroupGroups | null; description: string; notes: readonly string[] } {
  let entry = chosen.get(libId);
  if (entry !== undefined) return entry;
  if (config.mode === 'marks') {
    entry = { groups: null, description: 'marks only', notes: ['cgroups turned off (--no-cgroups or EXT_SUPERVISOR_ISOLATION=marks)'] };
  } else {
    const detect = (): CgroupLayout => detectLayout({ libId, moveSelf: config.moveSelf === true, ...(config.root !== undefined ? { root: config.root } : {}) });
    const layout = detect();
    const usable = layout.v2 !== null || layout.v1.size > 0;
    entry = { groups: usable ? new CgroupGroups(layout, () => { detect(); }) : null, description: describeLayout(usable ? layout : null), notes: layout.notes };
  }
  chosen.set(libId, entry);
  return entry;
}

/** The lib dir's groups, or null when processes are found by marks. */
export function isolationFor(libId: string): CgroupGroups | null {
  return choose(libId).groups;
}

/** The lib dir's groups if they were chosen already (never creates any): for the clean-up at stop. */
export function chosenIsolation(libId: string): CgroupGroups | null {
  return chosen.get(libId)?.groups ?? null;
}

/** `cgroup2 + v1 memory,cpu,pids` or `marks only`, and why anything is missing. */
export function isolationSummary(libId: string): { description: string; notes: readonly string[] } {
  const { description, notes } = choose(libId);
  return { description, notes };
}

const ENTER = 'for f; do [ "$f" = -- ] && break; echo $$ > "$f" || { echo "cannot enter cgroup $f" >&2; exit 125; }; shift; done; shift;';

/**
 * The command line that puts a command in its groups before it runs: a shell writes its own pid
 * into each group's cgroup.procs, then execs the command, so the command's first instruction
 * already runs inside and nothing it forks can start outside. A failed write fails the run.
 * A shell command (`/bin/sh -c LINE`, every manifest command) runs in the entering shell itself,
 * after the writes, as `/bin/sh -c LINE` would run it ($0 `/bin/sh`, no arguments, `f` unset): one exec of
 * /bin/sh less per command (~3-6 ms of CPU on the 2-core VM, docs/decisions.md).
 */
export function enterGroups(procsFiles: readonly string[], file: string, args: readonly string[]): { file: string; args: string[] } {
  if (file === '/bin/sh' && args.length === 2 && args[0] === '-c') {
    return { file: '/bin/sh', args: ['-c', `${ENTER} unset f\n${args[1]!}`, file, ...procsFiles, '--'] };
  }
  return { file: '/bin/sh', args: ['-c', `${ENTER} exec "$@"`, 'ext-supervisor-enter', ...procsFiles, '--', file, ...args] };
}
