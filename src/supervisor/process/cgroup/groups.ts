/**
 * One lib dir's groups: `<root>/h-<handler>/r-<runId>` in every tree the layout uses. A command
 * enters its run group before it runs (enter.ts); membership, kill and usage are read from the
 * groups. Limits sit on the handler group, so they bound all of a handler's runs together.
 */
import { existsSync, watch } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../../../core/clock.js';
import { childGroups, makeGroup, readCg, readKeyed, readNumber, readPids, readPidsOrNull, removeGroup, tryWriteCg } from './cgfs.js';
import { CONTROLLERS, type CgroupLayout } from './detect.js';
import { applyLimits, hasLimits, type HandlerLimits } from './limits.js';

/** A handler group's counters, read in one sample. */
export interface GroupUsage {
  /** CPU time used by the group since it was made, in microseconds; null when no tree counts it. */
  readonly cpuUsec: number | null;
  readonly memoryBytes: number | null;
  readonly nrThrottled: number;
  readonly throttledUsec: number;
  readonly oomKills: number;
}

const handlerDir = (handler: string): string => `h-${handler}`;
const runDir = (handler: string, runId: string): string => `h-${handler}/r-${runId}`;

export class CgroupGroups {
  /** Every tree's lib root: cgroup2 first (membership and kill), then the v1 hierarchies. */
  private readonly roots: string[];
  private readonly membershipRoot: string;
  /** Runs prepared and not yet released: empty until their shell writes itself in, and never swept meanwhile. */
  private readonly active = new Set<string>();
  /** The limits each handler's group was last given here; a handler adopted from a previous daemon is absent (read all). */
  private readonly limitsOf = new Map<string, HandlerLimits | null>();
  /** The limits written to each handler's groups by this process, and what could not be set: not written again for each run. */
  private readonly appliedLimits = new Map<string, { readonly key: string; readonly problems: readonly string[] }>();
  /**
   * Each handler's run groups, as this process made and removed them; a handler first seen here
   * (adopted from a previous daemon) is listed once. The sampler reads only these runs' members
   * each tick, with no directory listing: only this process makes run groups in its lib root (the
   * lib-dir lock), and a run removed by anyone else is dropped when its cgroup.procs is gone.
   */
  private readonly runsOf = new Map<string, Set<string>>();

  /** `cgroupKill: false` takes the path of kernels before 5.14 (no cgroup.kill): tests only. */
  constructor(readonly layout: CgroupLayout, private readonly onPrepare: () => void = () => {}, private readonly opts: { cgroupKill?: boolean } = {}) {
    this.roots = [...(layout.v2 !== null ? [layout.v2] : []), ...layout.v1.values()];
    this.membershipRoot = layout.v2 ?? layout.v1.get('pids') ?? layout.v1.get('freezer') ?? this.roots[0]!;
  }

  /**
   * Creates the run's group (and its handler's, with the limits) in every tree; returns the
   * cgroup.procs files the command's shell writes itself into, and what limits could not be set.
   */
  prepareRun(handler: string, runId: string, limits: HandlerLimits | null): { procsFiles: string[]; problems: string[] } {
    if (!existsSync(this.membershipRoot)) this.onPrepare(); // swept when it was empty: made again, controllers on
    this.active.add(runDir(handler, runId));
    this.runsFor(handler).add(runId);
    // A handler group made now (first run, or removed since) has no limits yet, whatever was written before.
    let madeIn = 0;
    for (const root of this.roots) {
      const made = makeGroup(join(root, runDir(handler, runId)));
      if (made !== undefined && !made.startsWith(join(root, handlerDir(handler), 'r-'))) {
        this.appliedLimits.delete(handler);
        madeIn += 1;
      }
    }
    // Written once per handler group and change of limits: a run's writes to the v1 limit files cost
    // ~2.5 ms each and were 4.4 % of the main thread bringing up 5000 handlers (docs/decisions.md).
    // A group the kernel has just made is unlimited already: no limits means nothing to write (they
    // were still 4.4 % bringing up 5000 handlers, whose groups are made again for each run).
    const key = JSON.stringify(limits);
    let applied = this.appliedLimits.get(handler);
    if (applied === undefined || applied.key !== key) {
      const nothingToWrite = madeIn === this.roots.length && !hasLimits(limits);
      applied = { key, problems: nothingToWrite ? [] : applyLimits(this.layout, handlerDir(handler), limits) };
      this.appliedLimits.set(handler, applied);
    }
    const problems = [...applied.problems];
    this.limitsOf.set(handler, limits);
    return { procsFiles: this.roots.map((root) => join(root, runDir(handler, runId), 'cgroup.procs')), problems };
  }

  /** Every pid in a handler's groups, or one run's. */
  members(handler: string, runId?: string): number[] {
    const dir = join(this.membershipRoot, runId === undefined ? handlerDir(handler) : runDir(handler, runId));
    return collect(dir);
  }

  /**
   * A handler's members, removing its run groups that are empty now (the sampler calls it each
   * tick): one cgroup.procs read per run group it knows of (runsOf), no listing. Commands enter
   * run groups only, so the handler group's own cgroup.procs is not read.
   */
  prune(handler: string): number[] {
    const out: number[] = [];
    const dir = join(this.membershipRoot, handlerDir(handler));
    const runs = this.runsFor(handler);
    for (const runId of [...runs]) {
      const pids = readPidsOrNull(join(dir, `r-${runId}`));
      if (pids === null) { runs.delete(runId); continue; } // removed by a sweep, or by hand
      if (pids.length === 0 && !this.active.has(runDir(handler, runId))) { this.release(handler, runId); continue; }
      out.push(...pids);
    }
    return out;
  }

  /** The run groups known for `handler`, listed from the membership tree the first time it is asked for. */
  private runsFor(handler: string): Set<string> {
    let runs = this.runsOf.get(handler);
    if (runs === undefined) {
      runs = new Set(childGroups(join(this.membershipRoot, handlerDir(handler)), 'r-').map((d) => d.slice(2)));
      this.runsOf.set(handler, runs);
    }
    return runs;
  }

  /** Names of handlers that have a group (from a previous daemon too: adoption). */
  handlers(): string[] {
    return childGroups(this.membershipRoot, 'h-').map((d) => d.slice(2));
  }

  /** Sends `sig` to every member; returns the pids signalled. */
  signal(handler: string, runId: string | undefined, sig: NodeJS.Signals): number[] {
    const done: number[] = [];
    for (const pid of this.members(handler, runId)) {
      try {
        process.kill(pid, sig);
        done.push(pid);
      } catch { /* gone already */ }
    }
    return done;
  }

  /**
   * SIGKILLs every member at once: cgroup.kill (Linux 5.14+); else freeze, kill each, thaw, so
   * nothing forks between the listing and the kill. Returns the pids that were members.
   */
  kill(handler: string, runId?: string): number[] {
    const rel = runId === undefined ? handlerDir(handler) : runDir(handler, runId);
    const before = this.members(handler, runId);
    if (before.length === 0) return before;
    const v2 = this.layout.v2 === null ? null : join(this.layout.v2, rel);
    if (v2 !== null && this.opts.cgroupKill !== false && tryWriteCg(join(v2, 'cgroup.kill'), '1')) return before;
    const freezer = v2 !== null ? { file: join(v2, 'cgroup.freeze'), on: '1', off: '0' }
      : this.layout.v1.has('freezer') ? { file: join(this.layout.v1.get('freezer')!, rel, 'freezer.state'), on: 'FROZEN', off: 'THAWED' } : null;
    const frozen = freezer !== null && tryWriteCg(freezer.file, freezer.on);
    for (const pid of this.members(handler, runId)) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone already */ }
    }
    // A v1-frozen task dies only once thawed.
    if (frozen) tryWriteCg(freezer.file, freezer.off);
    return before;
  }

  /** True once the group holds no process; cgroup2 says so in cgroup.events (watched, not polled). */
  isEmpty(handler: string, runId?: string): boolean {
    const rel = runId === undefined ? handlerDir(handler) : runDir(handler, runId);
    if (this.layout.v2 !== null) {
      const events = readCg(join(this.layout.v2, rel, 'cgroup.events'));
      return events === null || /^populated 0$/m.test(events);
    }
    return this.members(handler, runId).length === 0;
  }

  /** Resolves true when the group is empty, false at the deadline (on `clock`). */
  waitEmpty(handler: string, runId: string | undefined, ms: number, clock: Clock): Promise<boolean> {
    if (this.isEmpty(handler, runId)) return Promise.resolve(true);
    const rel = runId === undefined ? handlerDir(handler) : runDir(handler, runId);
    return new Promise<boolean>((resolve) => {
      let done = false;
      const cleanups: Array<() => void> = [];
      const finish = (empty: boolean): void => {
        if (done) return;
        done = true;
        for (const c of cleanups) c();
        resolve(empty);
      };
      const check = (): void => { if (this.isEmpty(handler, runId)) finish(true); };
      if (this.layout.v2 !== null) {
        try {
          const w = watch(join(this.layout.v2, rel, 'cgroup.events'), check);
          w.on('error', () => finish(this.isEmpty(handler, runId)));
          cleanups.push(() => w.close());
        } catch { /* gone between the two looks: the check below says so */ }
      } else {
        // v1 has no populated event: look every 50 ms.
        const tick = (): void => { check(); if (!done) t = clock.setTimeout(tick, 50); };
        let t = clock.setTimeout(tick, 50);
        cleanups.push(() => clock.clearTimeout(t));
      }
      const deadline = clock.setTimeout(() => finish(this.isEmpty(handler, runId)), ms);
      cleanups.push(() => clock.clearTimeout(deadline));
      check(); // it may have emptied before the watch began
    });
  }

  /** The kernel's OOM kills in one run's group (or the handler's), from memory.events or memory.oom_control. */
  oomKills(handler: string, runId?: string): number {
    const rel = runId === undefined ? handlerDir(handler) : runDir(handler, runId);
    const where = this.layout.where.memory;
    if (where === 'v2') return readKeyed(join(this.layout.v2!, rel, 'memory.events'))?.get('oom_kill') ?? 0;
    if (where === 'v1') return readKeyed(join(this.layout.v1.get('memory')!, rel, 'memory.oom_control'))?.get('oom_kill') ?? 0;
    return 0;
  }

  /** A handler group's CPU, memory and throttling counters. */
  usage(handler: string): GroupUsage {
    const rel = handlerDir(handler);
    const v2 = this.layout.v2 === null ? null : join(this.layout.v2, rel);
    const cpuStat = v2 !== null ? readKeyed(join(v2, 'cpu.stat')) : null;
    const acct = this.layout.v1.get('cpuacct');
    const cpuUsec = cpuStat?.get('usage_usec') ?? (acct ? nsToUs(readNumber(join(acct, rel, 'cpuacct.usage'))) : null);
    const mem = this.layout.where.memory;
    const memoryBytes = mem === 'v2' ? readNumber(join(v2!, 'memory.current'))
      : mem === 'v1' ? readNumber(join(this.layout.v1.get('memory')!, rel, 'memory.usage_in_bytes')) : null;
    let nrThrottled = 0;
    let throttledUsec = 0;
    // Without a limit nothing throttles or OOM-kills: two reads less per handler and tick (v1).
    const limits = this.limitsOf.get(handler);
    const capped = (key: 'cpuPercent' | 'memoryMB'): boolean => limits === undefined || (limits !== null && limits[key] !== undefined);
    if (this.layout.where.cpu === 'v2') {
      nrThrottled = cpuStat?.get('nr_throttled') ?? 0;
      throttledUsec = cpuStat?.get('throttled_usec') ?? 0;
    } else if (this.layout.where.cpu === 'v1' && capped('cpuPercent')) {
      const s = readKeyed(join(this.layout.v1.get('cpu')!, rel, 'cpu.stat'));
      nrThrottled = s?.get('nr_throttled') ?? 0;
      throttledUsec = nsToUs(s?.get('throttled_time') ?? 0) ?? 0;
    }
    return { cpuUsec, memoryBytes, nrThrottled, throttledUsec, oomKills: capped('memoryMB') ? this.oomKills(handler) : 0 };
  }

  /**
   * The handler's task count and tasksMax when it has no room for a command's shell and one fork
   * of it (pids.current >= pids.max - 1), else null. A shell may still move in over the limit (the
   * kernel bounds forks, not migrations), but whatever it runs that forks would fail.
   */
  tasksAtLimit(handler: string): { readonly current: number; readonly max: number } | null {
    const tree = this.layout.where.pids === 'v2' ? this.layout.v2 : this.layout.where.pids === 'v1' ? this.layout.v1.get('pids') ?? null : null;
    if (tree === null || tree === undefined) return null;
    const dir = join(tree, handlerDir(handler));
    const max = readNumber(join(dir, 'pids.max')); // "max" (no limit) reads as null
    const current = max === null ? null : readNumber(join(dir, 'pids.current'));
    return max !== null && current !== null && current >= max - 1 ? { current, max } : null;
  }

  /** Removes a run's groups once empty, then its handler's and the lib root if nothing is left. */
  release(handler: string, runId: string): void {
    this.active.delete(runDir(handler, runId));
    for (const root of this.roots) removeGroup(join(root, runDir(handler, runId)));
    // Still there when it holds what the command left running (a daemon it started): the sampler reads it on.
    if (!existsSync(join(this.membershipRoot, runDir(handler, runId)))) this.runsOf.get(handler)?.delete(runId);
    this.releaseHandler(handler);
  }

  /**
   * Removes one handler's empty run groups (not those prepared and not yet entered), then its
   * group and the lib root if nothing is left: after that handler's processes were all ended.
   * Only its own folders are read, so ending N handlers costs N times one handler, not N x N.
   */
  releaseAll(handler: string): void {
    for (const root of this.roots) {
      for (const run of childGroups(join(root, handlerDir(handler)), 'r-')) {
        if (!this.active.has(`${handlerDir(handler)}/${run}`)) removeGroup(join(root, handlerDir(handler), run));
      }
    }
    this.releaseHandler(handler);
  }

  /** Removes every empty group (after a crash, at start and stop). */
  sweep(): void {
    for (const handler of new Set(this.roots.flatMap((r) => childGroups(r, 'h-').map((d) => d.slice(2))))) this.releaseAll(handler);
  }

  /**
   * The handler's group, then the lib root, each where it is empty. No listing first: the kernel
   * refuses to remove a group that holds a process or a child group (EBUSY), which is the same
   * test made atomically, and listing a root of N handler groups at every release made a stop
   * of N handlers cost N x N directory reads (docs/decisions.md, "Stopping N handlers").
   */
  private releaseHandler(handler: string): void {
    let handlerLeft = false;
    for (const root of this.roots) if (!removeGroup(join(root, handlerDir(handler))) && existsSync(join(root, handlerDir(handler)))) handlerLeft = true;
    if (handlerLeft) return;
    this.limitsOf.delete(handler);
    this.appliedLimits.delete(handler);
    this.runsOf.delete(handler);
    for (const root of this.roots) removeGroup(root);
  }

  /** Which controllers are enforced, for limit messages. */
  get controllers(): string[] {
    return CONTROLLERS.filter((c) => this.layout.where[c] !== null);
  }
}

function nsToUs(ns: number | null): number | null {
  return ns === null ? null : Math.floor(ns / 1000);
}

/** Pids in a group and its descendants (a handler group holds only run groups). */
function collect(dir: string): number[] {
  const out = readPids(dir);
  for (const child of childGroups(dir, 'r-')) out.push(...collect(join(dir, child)));
  return out;
}
