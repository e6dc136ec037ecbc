/**
 * System limits a fleet of N heartbeat handlers runs into, checked before the cost curve starts:
 * open files (RLIMIT_NOFILE of the bench, inherited by the daemon), inotify watches and instances
 * (per user, and every process of this machine's root user shares them), pids (pid_max,
 * threads-max, RLIMIT_NPROC, pids.max of the cgroups the processes land in). What can be raised
 * for the bench alone is raised (the daemon inherits the bench's RLIMIT_NOFILE through `prlimit`
 * on the bench process); a per-user or system-wide limit is raised only when the fleet would not
 * fit, and put back afterwards. Every check becomes a row of the curve section.
 */
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cgroupMounts } from './cgroups.js';
import { run } from './proc-tools.js';

export interface LimitRow {
  readonly limit: string;
  readonly value: string;
  readonly need: string;
  readonly verdict: string;
}

function readText(path: string): string | null {
  try { return readFileSync(path, 'utf8').trim(); } catch { return null; }
}

function readInt(path: string): number | null {
  const t = readText(path);
  return t === null || !/^\d+$/.test(t) ? null : Number(t);
}

/** Soft and hard value of one line of /proc/<pid>/limits ("Max open files  20000  20000  files"). */
export function rlimit(pid: number | 'self', name: string): { soft: number; hard: number } | null {
  const text = readText(`/proc/${pid}/limits`);
  const line = text?.split('\n').find((l) => l.startsWith(name));
  if (!line) return null;
  const [soft, hard] = line.slice(name.length).trim().split(/\s+/);
  const num = (x: string | undefined): number => (x === 'unlimited' ? Number.POSITIVE_INFINITY : Number(x));
  return { soft: num(soft), hard: num(hard) };
}

/** Inotify instances and watches held by every process of this machine (all run as root here). */
export function inotifyInUse(): { instances: number; watches: number } {
  let instances = 0;
  let watches = 0;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let fds: string[] = [];
    try { fds = readdirSync(`/proc/${name}/fd`); } catch { continue; }
    for (const fd of fds) {
      let target = '';
      try { target = readlinkSync(`/proc/${name}/fd/${fd}`); } catch { continue; }
      if (target !== 'anon_inode:inotify') continue;
      instances += 1;
      const info = readText(`/proc/${name}/fdinfo/${fd}`) ?? '';
      for (const l of info.split('\n')) if (l.startsWith('inotify wd:')) watches += 1;
    }
  }
  return { instances, watches };
}

function processCount(): { procs: number; threads: number } {
  let procs = 0;
  let threads = 0;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    procs += 1;
    const status = readText(`/proc/${name}/status`);
    threads += Number(/^Threads:\s+(\d+)/m.exec(status ?? '')?.[1] ?? 1);
  }
  return { procs, threads };
}

/** pids.max along the chain of pids cgroups from the mount to `<mount>/ext-supervisor`, smallest first. */
function pidsMaxOnTheWay(): { where: string; max: number } | null {
  let best: { where: string; max: number } | null = null;
  for (const m of cgroupMounts()) {
    for (const dir of [m, join(m, 'ext-supervisor')]) {
      const t = readText(join(dir, 'pids.max'));
      if (t === null || t === 'max') continue;
      const max = Number(t);
      if (best === null || max < best.max) best = { where: join(dir, 'pids.max'), max };
    }
  }
  return best;
}

const fmt = (n: number): string => (Number.isFinite(n) ? String(n) : 'unlimited');

/**
 * Checks the limits for a fleet of `n` heartbeat handlers (2 processes each: the sh loop and its
 * sleep; 2 inotify watches each in the daemon, 1 in the work floor beside it); raises what must be
 * raised; returns the rows and an undo for what was raised machine-wide.
 */
export async function checkLimits(n: number, log: (m: string) => void): Promise<{ rows: LimitRow[]; restore: () => void }> {
  const rows: LimitRow[] = [];
  const undo: (() => void)[] = [];
  // Open files: the daemon holds ~45 fds at any N (handler folders are watched through one inotify fd), the bench one per live child pipe.
  const nofile = rlimit('self', 'Max open files');
  const fdNeed = 4096;
  if (nofile && nofile.soft < fdNeed) {
    const to = Math.min(nofile.hard, 65_536);
    const r = await run('prlimit', ['--pid', String(process.pid), `--nofile=${to}:${Math.max(to, nofile.hard)}`]).catch(() => null);
    rows.push({ limit: 'RLIMIT_NOFILE of the bench (the daemon inherits it)', value: `${nofile.soft} / ${fmt(nofile.hard)}`, need: `${fdNeed}`,
      verdict: r?.code === 0 ? `raised to ${to} with prlimit` : `too low, could not raise (${r?.stderr.trim() ?? 'prlimit missing'})` });
  } else {
    rows.push({ limit: 'RLIMIT_NOFILE of the bench (the daemon inherits it)', value: nofile ? `${nofile.soft} soft / ${fmt(nofile.hard)} hard` : '?', need: `≤ ${fdNeed} (measured: ~45 at any N)`, verdict: 'enough' });
  }
  // Inotify watches and instances are per user: every root process on this shared machine counts.
  const used = inotifyInUse();
  const maxWatches = readInt('/proc/sys/fs/inotify/max_user_watches') ?? 0;
  const watchNeed = 3 * n + 1000;
  if (maxWatches - used.watches < watchNeed) {
    const to = used.watches + watchNeed * 2;
    try {
      writeFileSync('/proc/sys/fs/inotify/max_user_watches', String(to));
      undo.push(() => { try { writeFileSync('/proc/sys/fs/inotify/max_user_watches', String(maxWatches)); } catch { /* leave it */ } });
      rows.push({ limit: 'fs.inotify.max_user_watches', value: `${maxWatches} (${used.watches} in use)`, need: `${watchNeed} more`, verdict: `raised to ${to} for the run, put back after` });
    } catch (err) {
      rows.push({ limit: 'fs.inotify.max_user_watches', value: `${maxWatches} (${used.watches} in use)`, need: `${watchNeed} more`, verdict: `too low, could not raise: ${(err as Error).message}` });
    }
  } else {
    rows.push({ limit: 'fs.inotify.max_user_watches (per user: all root processes)', value: `${maxWatches} (${used.watches} in use at start)`, need: `${watchNeed} more (2 per handler in the daemon, 1 in the work floor)`, verdict: 'enough' });
  }
  const maxInstances = readInt('/proc/sys/fs/inotify/max_user_instances') ?? 0;
  rows.push({ limit: 'fs.inotify.max_user_instances', value: `${maxInstances} (${used.instances} in use at start)`, need: 'a few (one per event loop that watches)',
    verdict: maxInstances - used.instances >= 8 ? 'enough' : 'tight' });
  // Processes: 2 per handler + the spawner and the bench's own.
  const { procs, threads } = processCount();
  const pidMax = readInt('/proc/sys/kernel/pid_max') ?? 0;
  const threadsMax = readInt('/proc/sys/kernel/threads-max') ?? 0;
  const procNeed = 2 * n + 500;
  rows.push({ limit: 'kernel.pid_max (every pid and thread id)', value: `${pidMax} (${threads} threads alive at start)`, need: `${procNeed} more`,
    verdict: pidMax - threads >= procNeed ? 'enough' : 'too low: the fleet may fail to fork (not raised: machine-wide)' });
  rows.push({ limit: 'kernel.threads-max', value: `${threadsMax} (${threads} alive)`, need: `${procNeed} more`, verdict: threadsMax - threads >= procNeed ? 'enough' : 'too low' });
  const nproc = rlimit('self', 'Max processes');
  rows.push({ limit: 'RLIMIT_NPROC', value: nproc ? `${fmt(nproc.soft)} (${procs} processes alive)` : '?', need: `${procNeed} more`,
    verdict: process.getuid?.() === 0 ? 'not enforced for root' : nproc && nproc.soft - procs >= procNeed ? 'enough' : 'too low' });
  const pidsMax = pidsMaxOnTheWay();
  rows.push({ limit: 'pids.max of the cgroups above the handlers\' groups', value: pidsMax ? `${pidsMax.max} (${pidsMax.where})` : 'max everywhere', need: `${procNeed}`,
    verdict: pidsMax === null || pidsMax.max >= procNeed ? 'enough' : 'too low' });
  for (const r of rows) log(`limits: ${r.limit}: ${r.value}; need ${r.need}: ${r.verdict}`);
  return { rows, restore: () => { for (const u of undo.reverse()) u(); } };
}
