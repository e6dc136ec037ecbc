/**
 * CPU and memory of processes from what one /proc scan already read (stat's utime, stime,
 * rss and start time), instead of pidusage: no fd is held per pid and nothing outlives a
 * pid (see docs/decisions-sampler.md). CPU% is the tick delta between two samples.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { SupervisorError } from '../../core/errors.js';
import { readProcFile, type ProcInfo } from '../process/proc.js';
import type { ProcessSample } from './types.js';

const execFileAsync = promisify(execFile);

/** Kernel constants needed to turn stat fields into seconds, bytes and dates. */
export interface ProcConstants {
  /** sysconf(_SC_CLK_TCK): stat's time fields are in these ticks per second. */
  readonly clockTicks: number;
  readonly pageSize: number;
  /** /proc/stat btime in ms since the epoch: stat's start time counts from here. */
  readonly bootTimeMs: number;
}

/** Usage of one process in one sample. */
export interface ProcUsage {
  readonly pid: number;
  /** Share of one core (100 = one core busy) since the previous sample, or over its life when first seen. */
  readonly cpuPercent: number;
  /** CPU seconds used since the previous sample, or over its life when first seen (feeds a counter). */
  readonly cpuSecondsUsed: number;
  readonly memoryBytes: number;
  readonly startMs: number;
}

/** Asks getconf for one value; the fallback when getconf is missing or says something implausible. */
async function getconf(name: string, fallback: number, plausible: (n: number) => boolean): Promise<number> {
  try {
    const { stdout } = await execFileAsync('getconf', [name], { timeout: 5000 });
    const value = Number(stdout.trim());
    return Number.isSafeInteger(value) && plausible(value) ? value : fallback;
  } catch {
    return fallback;
  }
}

/** Reads /proc/uptime: seconds since boot on the same clock as stat's start time, and monotonic. */
export function readUptimeSec(procRoot = '/proc'): number {
  const buf = readProcFile(`${procRoot}/uptime`, true);
  const value = buf === null ? NaN : Number.parseFloat(buf.toString('latin1'));
  if (!Number.isFinite(value) || value < 0) {
    throw new SupervisorError('E_PROC_UNAVAILABLE', `cannot read ${procRoot}/uptime (got ${buf === null ? 'nothing' : JSON.stringify(buf.toString('latin1', 0, 40))})`, { procRoot });
  }
  return value;
}

async function readBootTimeMs(procRoot: string): Promise<number> {
  const text = await readFile(`${procRoot}/stat`, 'latin1').catch(() => '');
  const match = /^btime\s+(\d+)\s*$/m.exec(text);
  if (match) return Number(match[1]) * 1000;
  // No btime (unusual kernels, some containers): derive it from uptime, to within a scheduling delay.
  return Date.now() - readUptimeSec(procRoot) * 1000;
}

/** Reads the constants once (getconf twice and /proc/stat); callers share the result through loadProcConstants. */
export async function readProcConstants(procRoot = '/proc'): Promise<ProcConstants> {
  const [clockTicks, pageSize, bootTimeMs] = await Promise.all([
    getconf('CLK_TCK', 100, (n) => n > 0 && n <= 100_000),
    getconf('PAGESIZE', 4096, (n) => n >= 512 && (n & (n - 1)) === 0),
    readBootTimeMs(procRoot),
  ]);
  return Object.freeze({ clockTicks, pageSize, bootTimeMs });
}

let loaded: Promise<ProcConstants> | undefined;

/** The process-wide constants, read at first use and then cached (they cannot change while we run). */
export function loadProcConstants(): Promise<ProcConstants> {
  loaded ??= readProcConstants().catch((err: unknown) => {
    loaded = undefined; // let a later call try again rather than caching the failure
    throw err;
  });
  return loaded;
}

interface Previous {
  readonly startTicks: number;
  /** CPU time in seconds: schedstat's nanoseconds when readable, else utime + stime ticks. */
  readonly cpuSec: number;
  readonly precise: boolean;
  readonly uptimeSec: number;
  /** utime + stime when cpuSec was taken. */
  readonly ticks: number;
}

/**
 * On-CPU time from /proc/<pid>/schedstat (nanoseconds, exact). utime/stime are charged a whole
 * tick to whatever runs when the tick fires, which on a loaded VM was measured here to
 * overstate a busy loop's CPU 3.5-fold; schedstat does not. null when the kernel lacks it.
 */
export function readRunSeconds(pid: number, procRoot = '/proc'): number | null {
  const buf = readProcFile(`${procRoot}/${pid}/schedstat`, true);
  if (buf === null) return null;
  const end = buf.indexOf(0x20);
  const ns = Number(buf.subarray(0, end === -1 ? buf.length : end).toString('latin1'));
  return Number.isFinite(ns) && ns >= 0 ? ns / 1e9 : null;
}

/**
 * Turns successive scans into per-process usage. Keeps one previous sample per live pid,
 * keyed by (pid, start time) so a reused pid starts afresh; the map is rebuilt from each
 * sample, so a pid that vanished is forgotten at once.
 */
export class ProcUsageTracker {
  readonly #constants: ProcConstants;
  #previous = new Map<number, Previous>();

  readonly #runSeconds: (pid: number) => number | null;

  /** `runSeconds` reads a process's exact CPU time; tests of synthetic processes pass one returning null (tick accounting). */
  constructor(constants: ProcConstants, opts: { runSeconds?: (pid: number) => number | null } = {}) {
    this.#constants = constants;
    this.#runSeconds = opts.runSeconds ?? ((pid) => readRunSeconds(pid));
  }

  /** Processes remembered from the last sample (bounded by what that sample saw). */
  get tracked(): number {
    return this.#previous.size;
  }

  /** Usage of each process in `procs`, measured at `uptimeSec` (readUptimeSec right after the scan). */
  sample(procs: readonly ProcInfo[], uptimeSec: number): Map<number, ProcUsage> {
    const { clockTicks, pageSize, bootTimeMs } = this.#constants;
    const next = new Map<number, Previous>();
    const out = new Map<number, ProcUsage>();
    for (const p of procs) {
      const ticks = p.utimeTicks + p.stimeTicks;
      const prev = this.#previous.get(p.pid);
      // A process that is not running and was charged no tick since the last sample used (next to)
      // nothing: keep its exact figure instead of reading schedstat again. At 1000 handlers most
      // processes sleep, and this halves the sampler's reads (docs/decisions.md).
      const idle = prev !== undefined && prev.precise && prev.startTicks === p.startTicks && prev.ticks === ticks && p.state !== 'R';
      const run = idle ? prev.cpuSec : this.#runSeconds(p.pid);
      const precise = run !== null;
      const cpuSec = run ?? ticks / clockTicks;
      const startSec = p.startTicks / clockTicks;
      const same = prev !== undefined && prev.startTicks === p.startTicks && prev.precise === precise && uptimeSec > prev.uptimeSec && cpuSec >= prev.cpuSec;
      // First sight of a process: its average over its life so far, as ps(1) shows it.
      const used = same ? cpuSec - prev.cpuSec : cpuSec;
      const seconds = same ? uptimeSec - prev.uptimeSec : uptimeSec - startSec;
      const cpuPercent = seconds > 0 ? Math.max(0, (used / seconds) * 100) : 0;
      // Only a new process counts its whole life; a switch between tick and exact accounting counts nothing once.
      const cpuSecondsUsed = same ? used : prev !== undefined && prev.startTicks === p.startTicks ? 0 : cpuSec;
      next.set(p.pid, { startTicks: p.startTicks, cpuSec, precise, uptimeSec, ticks });
      out.set(p.pid, {
        pid: p.pid, cpuPercent, cpuSecondsUsed, memoryBytes: Math.max(0, p.rssPages) * pageSize, startMs: Math.round(bootTimeMs + startSec * 1000),
      });
    }
    this.#previous = next;
    return out;
  }
}

/** Sums per-process usage into one ProcessSample per handler (CPU rounded to 0.1 %). */
export function summarizeHandlers(groups: ReadonlyMap<string, readonly ProcInfo[]>, usage: ReadonlyMap<number, ProcUsage>): Map<string, ProcessSample> {
  const out = new Map<string, ProcessSample>();
  for (const [handler, procs] of groups) {
    let cpu = 0;
    let cpuSeconds = 0;
    let memory = 0;
    let oldest: number | null = null;
    const pids: number[] = [];
    for (const p of procs) {
      const u = usage.get(p.pid);
      if (!u) continue;
      pids.push(p.pid);
      cpu += u.cpuPercent;
      cpuSeconds += u.cpuSecondsUsed;
      memory += u.memoryBytes;
      if (oldest === null || u.startMs < oldest) oldest = u.startMs;
    }
    pids.sort((a, b) => a - b);
    out.set(handler, Object.freeze({ pids: Object.freeze(pids), cpuPercent: Math.round(cpu * 10) / 10, cpuSecondsUsed: cpuSeconds, memoryBytes: memory, oldestStartMs: oldest }));
  }
  return out;
}
