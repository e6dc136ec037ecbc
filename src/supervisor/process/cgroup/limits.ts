/**
 * A handler's limits written to its group: memory.max / memory.limit_in_bytes (swap included
 * where the host has it), cpu.max / cfs_quota_us, pids.max. Returns what could not be applied.
 */
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { tryWriteCg, writeCg } from './cgfs.js';
import type { CgroupLayout, Controller } from './detect.js';

/** The goal state's `limits` (CONTRACT: memoryMB, cpuPercent, tasksMax); absent means unlimited. */
export interface HandlerLimits {
  readonly memoryMB?: number;
  readonly cpuPercent?: number;
  readonly tasksMax?: number;
}

export const CPU_PERIOD_US = 100_000;

/** The cpu quota for a share of one core (100 = one core); the kernel's floor is 1 ms. */
export function cpuQuotaUs(percent: number): number {
  return Math.max(1000, Math.round((percent / 100) * CPU_PERIOD_US));
}

export function memoryBytes(mb: number): number {
  return Math.round(mb * 1024 * 1024);
}

function attempt(problems: string[], what: string, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    problems.push(`${what}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** Writes (or lifts) each limit in the group `rel` (relative to the lib dir's root in each tree). */
export function applyLimits(layout: CgroupLayout, rel: string, limits: HandlerLimits | null): string[] {
  const problems: string[] = [];
  const dirOf = (c: Controller): string | null => {
    const where = layout.where[c];
    const root = where === 'v2' ? layout.v2 : where === 'v1' ? layout.v1.get(c) ?? null : null;
    return root === null ? null : join(root, rel);
  };
  const mem = dirOf('memory');
  if (mem !== null) {
    const bytes = limits?.memoryMB !== undefined ? memoryBytes(limits.memoryMB) : null;
    if (layout.where.memory === 'v2') {
      attempt(problems, 'memory.max', () => writeCg(join(mem, 'memory.max'), bytes === null ? 'max' : String(bytes)));
      // No swap beyond the limit, as memsw does in v1: the limit is the handler's whole footprint.
      if (existsSync(join(mem, 'memory.swap.max'))) tryWriteCg(join(mem, 'memory.swap.max'), bytes === null ? 'max' : '0');
    } else {
      const value = bytes === null ? '-1' : String(bytes);
      const memsw = join(mem, 'memory.memsw.limit_in_bytes');
      const hasMemsw = existsSync(memsw);
      // memsw must stay >= limit_in_bytes: raise memsw first, lower it last.
      const first = hasMemsw && tryWriteCg(memsw, value);
      attempt(problems, 'memory.limit_in_bytes', () => writeCg(join(mem, 'memory.limit_in_bytes'), value));
      if (hasMemsw && !first) tryWriteCg(memsw, value);
    }
  }
  const cpu = dirOf('cpu');
  if (cpu !== null) {
    const quota = limits?.cpuPercent !== undefined ? cpuQuotaUs(limits.cpuPercent) : null;
    if (layout.where.cpu === 'v2') {
      attempt(problems, 'cpu.max', () => writeCg(join(cpu, 'cpu.max'), `${quota ?? 'max'} ${CPU_PERIOD_US}`));
    } else {
      attempt(problems, 'cpu.cfs_period_us', () => writeCg(join(cpu, 'cpu.cfs_period_us'), String(CPU_PERIOD_US)));
      attempt(problems, 'cpu.cfs_quota_us', () => writeCg(join(cpu, 'cpu.cfs_quota_us'), String(quota ?? -1)));
    }
  }
  const pids = dirOf('pids');
  if (pids !== null) {
    attempt(problems, 'pids.max', () => writeCg(join(pids, 'pids.max'), limits?.tasksMax !== undefined ? String(limits.tasksMax) : 'max'));
  }
  return problems;
}

/** Whether any limit is set (absent or null: unlimited, the state of a group the kernel just made). */
export function hasLimits(limits: HandlerLimits | null): limits is HandlerLimits {
  return limits !== null && (limits.memoryMB !== undefined || limits.cpuPercent !== undefined || limits.tasksMax !== undefined);
}

/** What `ps`/`status` say about a handler's limits: where each is enforced, or why it is not. */
export function describeLimits(layout: CgroupLayout | null, limits: HandlerLimits | null): string {
  if (!hasLimits(limits)) return 'none';
  const parts: string[] = [];
  const say = (c: Controller, text: string): void => {
    const where = layout?.where[c] ?? null;
    parts.push(where === null ? `${text} not enforced (no ${c} cgroup)` : `${text} (${where === 'v2' ? 'cgroup2' : 'cgroup v1'})`);
  };
  if (limits.memoryMB !== undefined) say('memory', `memory ${limits.memoryMB} MB`);
  if (limits.cpuPercent !== undefined) say('cpu', `cpu ${limits.cpuPercent} %`);
  if (limits.tasksMax !== undefined) say('pids', `tasks ${limits.tasksMax}`);
  return parts.join(', ');
}
