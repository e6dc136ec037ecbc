/**
 * Which cgroup trees this process can use, found once at start: the cgroup2 tree (membership,
 * kill, CPU usage, and the controllers its subtree offers) and the v1 controller hierarchies
 * that stand in for controllers cgroup2 lacks. Nothing here touches a group we did not create.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { makeGroup, readCg, tryWriteCg, writeCg } from './cgfs.js';

/** The controllers limits need. */
export type Controller = 'memory' | 'cpu' | 'pids';
export const CONTROLLERS: readonly Controller[] = ['memory', 'cpu', 'pids'];
/** v1 hierarchies the backend may use: the three above, plus usage and freezing where cgroup2 is missing. */
export type V1Name = Controller | 'cpuacct' | 'freezer';

/** Where cgroup filesystems are mounted. */
export interface Mounts {
  readonly v2: string | null;
  readonly v1: ReadonlyMap<V1Name, string>;
}

/** Parses /proc/self/mountinfo for cgroup mounts (`- cgroup2 ...` and `- cgroup ... <controllers>`). */
export function findMounts(mountinfo = readCg('/proc/self/mountinfo') ?? ''): Mounts {
  let v2: string | null = null;
  const v1 = new Map<V1Name, string>();
  for (const line of mountinfo.split('\n')) {
    const dash = line.indexOf(' - ');
    if (dash === -1) continue;
    const mountPoint = (line.slice(0, dash).split(' ')[4] ?? '').replace(/\\040/g, ' ');
    const [fstype, , superOpts = ''] = line.slice(dash + 3).split(' ');
    if (fstype === 'cgroup2' && v2 === null) v2 = mountPoint;
    if (fstype !== 'cgroup') continue;
    for (const opt of superOpts.split(',')) {
      if ((opt === 'memory' || opt === 'cpu' || opt === 'pids' || opt === 'cpuacct' || opt === 'freezer') && !v1.has(opt)) v1.set(opt, mountPoint);
    }
  }
  return { v2, v1 };
}

/** This process's group in the cgroup2 tree (`0::/path`), or null. */
export function ownV2Group(text = readCg('/proc/self/cgroup') ?? ''): string | null {
  const line = text.split('\n').find((l) => l.startsWith('0::'));
  return line === undefined ? null : line.slice(3);
}

/** The trees chosen for one lib dir: its root group in each, and where each controller is enforced. */
export interface CgroupLayout {
  /** The lib dir's group in the cgroup2 tree: membership, kill, CPU usage. Null: v1 only. */
  readonly v2: string | null;
  /** The lib dir's group in each v1 hierarchy used. */
  readonly v1: ReadonlyMap<V1Name, string>;
  /** Which tree enforces each controller; null where neither can. */
  readonly where: Readonly<Record<Controller, 'v2' | 'v1' | null>>;
  /** Why a tree or controller is missing, for the log and `status`. */
  readonly notes: readonly string[];
}

export interface DetectOptions {
  readonly libId: string;
  /** The supervisor's subtree (--cgroup-root); default: its delegated unit group under systemd, else <mount>/ext-supervisor. */
  readonly root?: string;
  readonly mounts?: Mounts;
  /** The daemon: under systemd with Delegate=yes, move into a leaf of the unit's group and put handlers beside it. */
  readonly moveSelf?: boolean;
}

/** The leaf of a systemd unit's group the daemon lives in (deploy/ext-supervisor.service: DelegateSubgroup=supervisor). */
export const LEAF = 'supervisor';

/**
 * The systemd service whose group this process may manage: its own group when that is a
 * `.service`, or the service above when systemd already started it in the leaf
 * (DelegateSubgroup=supervisor, systemd 254+). Null otherwise.
 */
export function delegatedUnit(own: string): string | null {
  if (own.endsWith('.service')) return own;
  const parent = own.slice(0, own.lastIndexOf('/'));
  return own.endsWith(`/${LEAF}`) && parent.endsWith('.service') ? parent : null;
}

let daemonLeaf: string | null = null;

/** Where the daemon moved itself under systemd (null: it stayed where it was started). */
export function daemonGroup(): string | null {
  return daemonLeaf;
}

/** The subtree chosen by the first detection: later ones (other lib dirs, a swept root made again) reuse it. */
let chosenRel: string | null = null;

/** The relative path of the supervisor's subtree inside each hierarchy. */
function subtreePath(opts: DetectOptions, mounts: Mounts): string {
  if (opts.root === undefined && chosenRel !== null) return chosenRel;
  const rel = pickSubtree(opts, mounts);
  if (opts.root === undefined) chosenRel = rel;
  return rel;
}

function pickSubtree(opts: DetectOptions, mounts: Mounts): string {
  if (opts.root !== undefined) {
    for (const m of [mounts.v2, ...mounts.v1.values()]) {
      if (m !== null && (opts.root === m || opts.root.startsWith(`${m}/`))) return opts.root.slice(m.length) || '/';
    }
    return opts.root; // not under a mount: taken as a path inside each hierarchy
  }
  const own = ownV2Group();
  const unit = opts.moveSelf && mounts.v2 !== null && own !== null && process.env['INVOCATION_ID'] ? delegatedUnit(own) : null;
  if (unit !== null) {
    // A cgroup2 group with controllers enabled may hold no process: the daemon (and the spawner it forks later) go to a leaf.
    const leaf = join(mounts.v2!, unit, LEAF);
    try {
      makeGroup(leaf);
      if (own !== join(unit, LEAF)) writeCg(join(leaf, 'cgroup.procs'), String(process.pid));
      daemonLeaf = leaf;
      return unit;
    } catch { /* not delegated after all: our own subtree at the top */ }
  }
  return '/ext-supervisor';
}

function enableControllers(dir: string, wanted: readonly Controller[]): void {
  const offered = (readCg(join(dir, 'cgroup.controllers')) ?? '').trim().split(/\s+/);
  const add = wanted.filter((c) => offered.includes(c)).map((c) => `+${c}`);
  if (add.length > 0) tryWriteCg(join(dir, 'cgroup.subtree_control'), add.join(' '));
}

/** Creates the lib dir's group in one tree; the error message when it cannot. */
function tryMake(dir: string): string | null {
  try {
    makeGroup(dir);
    return null;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? (err as Error).message;
  }
}

/** Picks the trees for a lib dir and creates its root group in each; a layout with no tree means marks only. */
export function detectLayout(opts: DetectOptions): CgroupLayout {
  const mounts = opts.mounts ?? findMounts();
  const rel = subtreePath(opts, mounts);
  const notes: string[] = [];
  let v2: string | null = null;
  if (mounts.v2 !== null) {
    const base = join(mounts.v2, rel);
    const dir = join(base, opts.libId);
    const err = tryMake(dir);
    if (err === null && existsSync(join(dir, 'cgroup.procs'))) {
      v2 = dir;
      // Controllers reach our groups only through groups we own: the subtree root and the lib dir's group.
      enableControllers(base, CONTROLLERS);
      enableControllers(dir, CONTROLLERS);
    } else notes.push(`cgroup2 at ${mounts.v2}: cannot create ${dir} (${err ?? 'not a cgroup'})`);
  } else notes.push('no cgroup2 mount');
  const v2Has = new Set((v2 === null ? '' : readCg(join(v2, 'cgroup.subtree_control')) ?? '').trim().split(/\s+/));
  const v1 = new Map<V1Name, string>();
  const useV1 = (name: V1Name): boolean => {
    const mount = mounts.v1.get(name);
    if (mount === undefined) return false;
    const dir = join(mount, rel, opts.libId);
    const err = tryMake(dir);
    if (err !== null) { notes.push(`cgroup v1 ${name}: cannot create ${dir} (${err})`); return false; }
    v1.set(name, dir);
    return true;
  };
  const where = {} as Record<Controller, 'v2' | 'v1' | null>;
  for (const c of CONTROLLERS) {
    where[c] = v2Has.has(c) ? 'v2' : useV1(c) ? 'v1' : null;
    if (where[c] === null) notes.push(`no writable ${c} controller`);
  }
  // Without cgroup2, usage and the freeze-then-kill come from v1 hierarchies.
  if (v2 === null) { useV1('cpuacct'); useV1('freezer'); }
  return { v2, v1, where, notes };
}

/** `cgroup2 + v1 memory,cpu,pids`, `cgroup2 (memory,cpu,pids)`, `cgroup v1 (...)` or `marks only`. */
export function describeLayout(layout: CgroupLayout | null): string {
  if (layout === null || (layout.v2 === null && layout.v1.size === 0)) return 'marks only';
  const v2c = CONTROLLERS.filter((c) => layout.where[c] === 'v2');
  const v1c = [...layout.v1.keys()];
  if (layout.v2 === null) return `cgroup v1 ${v1c.join(',')}`;
  return `cgroup2${v2c.length ? ` (${v2c.join(',')})` : ''}${v1c.length ? ` + v1 ${v1c.join(',')}` : ''}`;
}
