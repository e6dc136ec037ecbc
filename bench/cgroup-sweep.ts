/**
 * The bench's cgroup clean-up. Run as root outside systemd, a bench daemon (and `supervisor
 * apply`) puts every command in `<mount>/ext-supervisor/<libId>/h-<handler>/r-<run>` in each
 * cgroup tree it uses (cgroup2 and the v1 memory/cpu/pids hierarchies here). The daemon removes
 * only empty groups, and handlers outlive it on purpose (KillMode=process), so a benchmark that
 * ends its handlers leaves their groups behind. This finds every group of the bench's lib ids in
 * every cgroup mount, kills what is still in them (cgroup.kill, else SIGKILL each member) and
 * removes them deepest first; the shared `<mount>/ext-supervisor` parent goes too when it is
 * empty (rmdir refuses a group with members or children, as scripts/run-tests.mjs relies on).
 */
import { readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sleep } from './proc-tools.js';

/** The default subtree of a supervisor outside systemd (src/supervisor/process/cgroup/detect.ts). */
const SUBTREE = 'ext-supervisor';

/** Mount points of every cgroup and cgroup2 filesystem. */
export function cgroupMounts(): string[] {
  let text = '';
  try { text = readFileSync('/proc/self/mountinfo', 'utf8'); } catch { return []; }
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const dash = line.indexOf(' - ');
    if (dash === -1) continue;
    const fstype = line.slice(dash + 3).split(' ')[0];
    if (fstype === 'cgroup' || fstype === 'cgroup2') out.push((line.slice(0, dash).split(' ')[4] ?? '').replace(/\\040/g, ' '));
  }
  return out;
}

/** The group dirs under `dir` (itself included), deepest first. */
function groupsUnder(dir: string): string[] {
  const out: string[] = [];
  let entries: { name: string; isDirectory(): boolean }[] = [];
  try { entries = readdirSync(dir, { withFileTypes: true }); } catch { return out; }
  for (const e of entries) if (e.isDirectory()) out.push(...groupsUnder(join(dir, e.name)));
  out.push(dir);
  return out;
}

function pidsOf(dir: string): number[] {
  try {
    return readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Every lib id's group in every mount that exists now (`<mount>/ext-supervisor/<libId>`). */
export function libGroups(libIds: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (const m of cgroupMounts()) {
    for (const id of libIds) {
      const dir = join(m, SUBTREE, id);
      try { readdirSync(dir); out.push(dir); } catch { /* not made in this tree */ }
    }
  }
  return out;
}

export interface CgroupSweep {
  /** Groups removed (every tree counted). */
  readonly removed: number;
  /** Processes still in them that were killed first. */
  readonly killed: number;
  /** Groups that could not be removed before the deadline (each named). */
  readonly left: readonly string[];
}

/** Kills the members of the lib ids' groups and removes the groups; never touches another lib id's. */
export async function sweepCgroups(libIds: ReadonlySet<string>, timeoutMs = 30_000): Promise<CgroupSweep> {
  const until = Date.now() + timeoutMs;
  const killedPids = new Set<number>();
  let removed = 0;
  for (;;) {
    const roots = libGroups(libIds);
    if (roots.length === 0) break;
    for (const root of roots) {
      // cgroup2 kills the whole subtree at once; v1 groups have no cgroup.kill (their members are the same processes).
      try { writeFileSync(join(root, 'cgroup.kill'), '1'); } catch { /* v1, or a kernel before 5.14 */ }
      for (const dir of groupsUnder(root)) {
        for (const pid of pidsOf(dir)) {
          killedPids.add(pid);
          try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
        }
      }
    }
    for (const root of roots) {
      for (const dir of groupsUnder(root)) {
        try { rmdirSync(dir); removed += 1; } catch { /* members not reaped yet: next round */ }
      }
    }
    if (libGroups(libIds).length === 0) break;
    if (Date.now() > until) return { removed, killed: killedPids.size, left: libGroups(libIds).flatMap(groupsUnder) };
    await sleep(100);
  }
  for (const m of cgroupMounts()) {
    try { rmdirSync(join(m, SUBTREE)); } catch { /* absent, or another supervisor's groups are in it */ }
  }
  return { removed, killed: killedPids.size, left: [] };
}
