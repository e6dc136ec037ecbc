/**
 * The kernel groups a bench's supervisors made: found under every cgroup mount by their lib id
 * (the supervisor names its lib dir's group after it: `<mount>/<subtree>/<libId>/h-<handler>/r-<run>`),
 * read for membership (the kill bench counts a process that dropped its mark), and swept: every
 * member SIGKILLed (cgroup.kill where cgroup2 has it), then every group removed, deepest first.
 */
import { existsSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findMounts } from '../src/supervisor/process/cgroup/detect.js';
import { readPids } from '../src/supervisor/process/cgroup/cgfs.js';
import { sleep } from './proc-tools.js';

/** How deep under a mount a lib id's group is looked for (`/ext-supervisor/<id>` is 2; a systemd unit's subtree a few more). */
const SEARCH_DEPTH = 5;

/** Every cgroup mount point the supervisor may use, cgroup2 first (the one with cgroup.kill). */
export function cgroupMounts(): string[] {
  const m = findMounts();
  const v1 = new Set(m.v1.values());
  // findMounts keeps the hierarchies the supervisor may use; a bench sweeps those.
  return [...(m.v2 !== null ? [m.v2] : []), ...v1];
}

function subdirs(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch {
    return [];
  }
}

/** A lib id's group names itself (12 hex digits); its subtree holds no other lib's groups. */
const LIB_GROUP = /^[0-9a-f]{12}$/;

/** The lib-id groups of these lib ids in every hierarchy (a walk of each mount, a few levels deep). */
export function libGroups(libIds: ReadonlySet<string>): string[] {
  if (libIds.size === 0) return [];
  const out: string[] = [];
  const visit = (dir: string, depth: number): void => {
    for (const name of subdirs(dir)) {
      const sub = join(dir, name);
      if (libIds.has(name)) out.push(sub);
      // Another lib's group, or a handler's, holds nothing of ours: not descended into.
      else if (depth < SEARCH_DEPTH && !name.startsWith('h-') && !LIB_GROUP.test(name)) visit(sub, depth + 1);
    }
  };
  for (const m of cgroupMounts()) visit(m, 1);
  return out;
}

/** The membership group of each lib id seen (cgroup2's, else the first v1 one), found once: read on every scan of the kill bench. */
const membershipGroup = new Map<string, string>();

function membershipOf(libId: string): string | undefined {
  const known = membershipGroup.get(libId);
  if (known !== undefined && existsSync(known)) return known;
  const found = libGroups(new Set([libId]))[0];
  if (found !== undefined) membershipGroup.set(libId, found);
  return found;
}

/** A group and its descendants, deepest first. */
function tree(dir: string): string[] {
  const out: string[] = [];
  for (const name of subdirs(dir)) out.push(...tree(join(dir, name)));
  out.push(dir);
  return out;
}

/** Members of one lib id's groups by handler name (from `h-<name>`), in the cgroup2 tree or else the first v1 one. */
export function groupMembers(libId: string): Map<string, number[]> {
  const out = new Map<string, number[]>();
  const lib = membershipOf(libId);
  if (lib === undefined) return out;
  for (const h of subdirs(lib)) {
    if (!h.startsWith('h-')) continue;
    const pids = tree(join(lib, h)).flatMap(readPids);
    if (pids.length) out.set(h.slice(2), pids);
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

/**
 * SIGKILLs every member of these lib ids' groups (cgroup.kill where cgroup2 has it) and removes
 * the groups deepest first, and an `ext-supervisor` parent left empty. Handlers outlive a daemon
 * on purpose (KillMode=process), so their groups do too: every benchmark ends with this. Never
 * touches another lib id's groups; what survives `timeoutMs` is named in `left`.
 */
export async function sweepCgroups(libIds: ReadonlySet<string>, timeoutMs = 30_000): Promise<CgroupSweep> {
  const until = Date.now() + timeoutMs;
  const killed = new Set<number>();
  let removed = 0;
  for (;;) {
    const libs = libGroups(libIds);
    if (libs.length === 0) break;
    for (const lib of libs) {
      const groups = tree(lib);
      for (const g of groups) {
        const members = readPids(g);
        for (const pid of members) killed.add(pid);
        if (!existsSync(join(g, 'cgroup.kill')) || !tryWrite(join(g, 'cgroup.kill'), '1')) {
          for (const pid of members) {
            try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
          }
        }
      }
      // A v1 group frozen by a kill that was interrupted keeps its tasks until thawed.
      for (const g of groups) if (existsSync(join(g, 'freezer.state'))) tryWrite(join(g, 'freezer.state'), 'THAWED');
      for (const g of groups) {
        try { rmdirSync(g); removed += 1; } catch { /* still populated: next round */ }
      }
    }
    if (libGroups(libIds).length === 0) break;
    if (Date.now() > until) return { removed, killed: killed.size, left: libGroups(libIds).flatMap(tree) };
    await sleep(100);
  }
  // The supervisor's default subtree, when nothing else (another lib dir, another run) is in it.
  for (const m of cgroupMounts()) {
    try { rmdirSync(join(m, 'ext-supervisor')); } catch { /* absent or in use */ }
  }
  return { removed, killed: killed.size, left: [] };
}

function tryWrite(file: string, text: string): boolean {
  try {
    writeFileSync(file, text);
    return true;
  } catch {
    return false;
  }
}
