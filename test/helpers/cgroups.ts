// Real cgroups for tests: a subtree no other test (or helper) uses, removed with everything in it.
import { existsSync, readdirSync, rmdirSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { findMounts } from '../../src/supervisor/process/cgroup/detect.js';
import { readPids } from '../../src/supervisor/process/cgroup/cgfs.js';
import { isolationFor } from '../../src/supervisor/process/cgroup/index.js';

let n = 0;

/** Every directory of the subtree `rel` in each cgroup tree, deepest first. */
function dirsUnder(rel: string): string[] {
  const mounts = findMounts();
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const d of readdirSync(dir, { withFileTypes: true })) if (d.isDirectory()) walk(join(dir, d.name));
    out.push(dir);
  };
  for (const m of [mounts.v2, ...mounts.v1.values()]) {
    if (m !== null && existsSync(join(m, rel))) walk(join(m, rel));
  }
  return out;
}

/** SIGKILLs every process in the subtree, waits for them to go, and removes its groups. */
export async function removeSubtree(rel: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const dirs = dirsUnder(rel);
    const pids = dirs.flatMap(readPids);
    if (pids.length === 0) break;
    for (const dir of dirs) {
      const freeze = join(dir, 'freezer.state');
      if (existsSync(freeze)) writeFileSync(freeze, 'THAWED');
    }
    for (const pid of pids) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
    if (Date.now() > deadline) throw new Error(`cgroup subtree ${rel} still holds ${pids.join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  for (const dir of dirsUnder(rel)) rmdirSync(dir);
}

/** A fresh subtree for one test: `root` is its path in the cgroup2 tree (the --cgroup-root form). */
export function testCgroupRoot(): { root: string; rel: string; cleanup: () => Promise<void> } {
  const mounts = findMounts();
  n += 1;
  const rel = `/ext-supervisor-test-${process.pid}-${n}`;
  const root = join(mounts.v2 ?? mounts.v1.values().next().value!, rel);
  return { root, rel, cleanup: () => removeSubtree(rel) };
}

/** Kills whatever is left in a lib dir's groups (default subtree) and removes them. */
export async function endLibGroups(libId: string): Promise<void> {
  const groups = isolationFor(libId);
  if (groups === null) return;
  for (const handler of groups.handlers()) groups.kill(handler);
  const deadline = Date.now() + 30_000;
  while (!groups.handlers().every((h) => groups.isEmpty(h))) {
    if (Date.now() > deadline) throw new Error(`the groups of ${libId} did not empty`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  groups.sweep();
}

/** The groups a daemon recorded in `<lib>/cgroups.json`: its lib dir's group in cgroup2 and in each v1 hierarchy. */
export function savedGroups(libDir: string): { v2: string | null; v1: Map<string, string> } {
  const raw = JSON.parse(readFileSync(join(libDir, 'cgroups.json'), 'utf8')) as { v2: string | null; v1: Array<[string, string]> };
  return { v2: raw.v2, v1: new Map(raw.v1) };
}

/** A process's group in the cgroup2 tree (`0::/path`), or null when it is gone. */
export function v2GroupOf(pid: number): string | null {
  try {
    const line = readFileSync(`/proc/${pid}/cgroup`, 'latin1').split('\n').find((l) => l.startsWith('0::'));
    return line === undefined ? null : line.slice(3);
  } catch {
    return null;
  }
}

/** Every live process (zombies count as gone) whose cgroup2 group is `rel` or below it: a scan of all of /proc. */
export function processesUnder(rel: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const group = v2GroupOf(Number(name));
    if (group === null || !(group === rel || group.startsWith(`${rel}/`))) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      if (state !== 'Z' && state !== 'X') out.push(Number(name));
    } catch { /* gone meanwhile */ }
  }
  return out;
}

/** Every directory below `rel` in any cgroup tree whose path has a component named `name` (a lib id, `h-<handler>`). */
export function groupsNamed(name: string, rel = '/ext-supervisor'): string[] {
  const mounts = findMounts();
  const out: string[] = [];
  const walk = (dir: string, depth: number): void => {
    let entries;
    try { entries = readdirSync(dir, { withFileTypes: true }); } catch { return; }
    for (const d of entries) {
      if (!d.isDirectory()) continue;
      if (d.name === name) out.push(join(dir, d.name));
      else if (depth < 4) walk(join(dir, d.name), depth + 1);
    }
  };
  for (const m of new Set([mounts.v2, ...mounts.v1.values()])) if (m !== null) walk(join(m, rel), 0);
  return out;
}
