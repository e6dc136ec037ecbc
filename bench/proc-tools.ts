/**
 * Running the real `supervisor` CLI and other programs with a wall-clock figure, reading a
 * process's RSS/CPU/fds/inotify watches from /proc, and ending every process a bench started
 * (found by its attribution mark, EXT_SUPERVISOR_MARK=<libId>:..., which survives setsid).
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MARK_ENV, scanProcesses, type ScannedProc } from '../src/supervisor/process/attribution.js';
import { defaultSendSignal, signalIfSame } from '../src/supervisor/process/signal.js';
import { readProcStat } from '../src/supervisor/process/proc.js';
import { loadProcConstants, readUptimeSec } from '../src/supervisor/monitor/proc-usage.js';

export const CLI = fileURLToPath(new URL('../bin/supervisor.cjs', import.meta.url));
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface Ran { readonly code: number | null; readonly signal: string | null; readonly stdout: string; readonly stderr: string; readonly ms: number;
  readonly startedAt: number; readonly endedAt: number }

/** Children of this bench process still running: killed by `killChildren` on any way out. */
const live = new Set<ChildProcess>();

/** Runs a program to its end (SIGKILL after `timeoutMs`), capturing output and its wall time. */
export function run(file: string, args: readonly string[], opts: SpawnOptions & { timeoutMs?: number } = {}): Promise<Ran> {
  const startedAt = Date.now();
  const t0 = performance.now();
  const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  live.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 600_000);
  return new Promise((resolve, reject) => {
    child.once('error', (err) => { clearTimeout(timer); live.delete(child); reject(err); });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      live.delete(child);
      resolve({ code, signal, stdout, stderr, ms: performance.now() - t0, startedAt, endedAt: Date.now() });
    });
  });
}

/** Runs `supervisor <args>` (bin/ → dist/), optionally with extra node flags (--cpu-prof). */
export function runCli(args: readonly string[], opts: { nodeFlags?: readonly string[]; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<Ran> {
  return run(process.execPath, [...(opts.nodeFlags ?? []), CLI, ...args], { timeoutMs: opts.timeoutMs, env: { ...process.env, ...opts.env } });
}

/** Starts a long-lived program; the caller ends it, and `killChildren` ends it if the caller could not. */
export function start(file: string, args: readonly string[], opts: SpawnOptions = {}): { child: ChildProcess; exited: Promise<{ code: number | null; signal: string | null }> } {
  const child = spawn(file, args, { stdio: 'ignore', ...opts });
  live.add(child);
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
    child.once('exit', (code, signal) => { live.delete(child); resolve({ code, signal }); });
    child.once('error', () => { live.delete(child); resolve({ code: null, signal: null }); });
  });
  return { child, exited };
}

/** SIGKILLs every child this module started that is still running. */
export function killChildren(): number {
  let n = 0;
  for (const child of live) if (child.exitCode === null && child.signalCode === null && child.kill('SIGKILL')) n += 1;
  return n;
}

/** Live processes carrying a mark of one of these lib ids. */
export async function marked(libIds: ReadonlySet<string>): Promise<ScannedProc[]> {
  return (await scanProcesses()).procs.filter((p) => p.mark !== null && libIds.has(p.mark.libId));
}

/** SIGKILLs every process marked with one of these lib ids until none is left; returns how many there were. */
export async function killMarked(libIds: ReadonlySet<string>, timeoutMs = 10_000): Promise<number> {
  if (libIds.size === 0) return 0;
  const seen = new Set<string>();
  const until = Date.now() + timeoutMs;
  for (;;) {
    const left = await marked(libIds);
    if (left.length === 0) return seen.size;
    if (Date.now() > until) throw new Error(`${left.length} marked processes survived SIGKILL for ${timeoutMs} ms: ${left.slice(0, 5).map((p) => p.pid).join(', ')}`);
    for (const p of left) {
      seen.add(`${p.pid}:${p.startTicks}`);
      signalIfSame(defaultSendSignal, p, 'SIGKILL');
    }
    await sleep(50);
  }
}

/** The env that marks a process (and everything it starts) as a bench's, for cleanup by `killMarked`. */
export function markEnv(libId: string, who: string): NodeJS.ProcessEnv {
  return { ...process.env, [MARK_ENV]: `${libId}:${who}` };
}

export interface ProcStats {
  readonly rssBytes: number;
  /** RSS split: anonymous memory (heaps, malloc arenas) and file-backed pages (the node binary, libraries). */
  readonly rssAnonBytes: number;
  readonly rssFileBytes: number;
  /** Pages only this process maps (smaps_rollup Private_Clean + Private_Dirty): what it adds next to processes sharing its binary. */
  readonly privateBytes: number;
  /** For supervisorStats: the helpers' private pages included in rssBytes (0 for one process). */
  readonly helperPrivateBytes: number;
  /** On-CPU time of every thread (schedstat, ns). */
  readonly cpuNs: number;
  readonly fds: number;
  readonly inotifyWatches: number;
  readonly threads: number;
}

/** RSS, CPU time of all threads, open fds and inotify watches of one process; null when it is gone. */
export function procStats(pid: number): ProcStats | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string): number => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) * 1024;
    let cpuNs = 0;
    const tasks = readdirSync(`/proc/${pid}/task`);
    for (const tid of tasks) {
      try { cpuNs += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]); } catch { /* thread ended */ }
    }
    const fds = readdirSync(`/proc/${pid}/fd`);
    let inotifyWatches = 0;
    for (const fd of fds) {
      let target = '';
      try { target = readlinkSync(`/proc/${pid}/fd/${fd}`); } catch { continue; }
      if (target !== 'anon_inode:inotify') continue;
      const info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
      inotifyWatches += info.split('\n').filter((l) => l.startsWith('inotify wd:')).length;
    }
    let privateBytes = 0;
    try {
      const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
      for (const m of rollup.matchAll(/^Private_(?:Clean|Dirty):\s+(\d+) kB$/gm)) privateBytes += Number(m[1]) * 1024;
    } catch { /* no smaps_rollup (kernel < 4.14): counted as nothing private */ }
    return { rssBytes: kb('VmRSS'), rssAnonBytes: kb('RssAnon'), rssFileBytes: kb('RssFile'), privateBytes, helperPrivateBytes: 0, cpuNs, fds: fds.length, inotifyWatches, threads: tasks.length };
  } catch {
    return null;
  }
}

/** The supervisor's own helper processes (its spawner): direct children running spawner-main. */
export function helperPids(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = readProcStat(Number(name));
    if (st?.ppid !== pid) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').includes('spawner-main')) out.push(Number(name));
    } catch { /* gone */ }
  }
  return out;
}

/**
 * procStats of the supervisor daemon plus its helper processes: its whole footprint. CPU, fds,
 * watches and threads are summed; memory is the daemon's RSS plus each helper's private pages,
 * since a helper's shared pages are the same node binary and libraries the daemon maps (counting
 * its RSS would count ~40 MB of them twice).
 */
export function supervisorStats(pid: number): ProcStats | null {
  const own = procStats(pid);
  if (!own) return null;
  let sum = own;
  for (const h of helperPids(pid)) {
    const x = procStats(h);
    if (!x) continue;
    sum = { ...sum, rssBytes: sum.rssBytes + x.privateBytes, helperPrivateBytes: sum.helperPrivateBytes + x.privateBytes,
      cpuNs: sum.cpuNs + x.cpuNs, fds: sum.fds + x.fds, inotifyWatches: sum.inotifyWatches + x.inotifyWatches, threads: sum.threads + x.threads };
  }
  return sum;
}

/** Date.now() at which a process started (from its /proc start time, 10 ms resolution); null when it is gone. */
export async function processStartedAt(pid: number): Promise<number | null> {
  const { clockTicks } = await loadProcConstants();
  const stat = readProcStat(pid);
  if (stat === null) return null;
  return Date.now() - (readUptimeSec() - stat.startTicks / clockTicks) * 1000;
}

/** Pids of a process and all its descendants (by ppid), e.g. a PM2 daemon and its apps. */
export async function treeOf(rootPid: number): Promise<number[]> {
  const procs = (await scanProcesses()).procs;
  const out = [rootPid];
  for (let i = 0; i < out.length; i += 1) for (const p of procs) if (p.ppid === out[i]) out.push(p.pid);
  return out;
}
