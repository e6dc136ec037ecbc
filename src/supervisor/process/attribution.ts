import { SupervisorError, showValue } from '../../core/errors.js';
import { findEnvVar, isGone, isKernelThread, listPids, readProcFile, readProcStat } from './proc.js';
import type { ProcInfo } from './proc.js';
import { ProcScanner } from './scanner.js';

/** Env var every handler command and all its descendants carry: `<libId>:<handlerName>`. */
export const MARK_ENV = 'EXT_SUPERVISOR_MARK';
/** Env var naming the one command run a process descends from, so a timeout ends only that run's processes. */
export const RUN_ENV = 'EXT_SUPERVISOR_RUN';

const LIB_ID = /^[0-9a-f]{12}$/;
// Same rule as goal-state handler names (CONTRACT section 2); it can never contain ':'.
const HANDLER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Who a process belongs to, decoded from its mark. */
export interface Mark {
  readonly libId: string;
  readonly handler: string;
}

/** A live process (never a zombie or kernel thread) with its attribution, if any. */
export interface ScannedProc extends ProcInfo {
  readonly mark: Mark | null;
  readonly runId: string | null;
}

/** One walk of /proc: every live process, and what the walk cost. */
export interface ProcSnapshot {
  /** Date.now() when the walk began: anything started later may be missing. */
  readonly startedAt: number;
  readonly procs: readonly ScannedProc[];
  readonly durationMs: number;
  /** Longest synchronous stretch between yields to the event loop. */
  readonly maxBlockMs: number;
  /**
   * Processes (not init's parent-less ones) whose environ read empty, so their mark, if any, was
   * not seen: one inside execve reads empty between the switch to its new memory and the copy of
   * its environment, as does one that is exiting. A kill scan that found nothing looks once more
   * when this is not 0 (terminate.ts).
   */
  readonly blankEnviron?: number;
}

/** Checks a libId (12 lowercase hex chars) and a handler name, throwing a coded error naming the bad value. */
export function checkMarkParts(libId: string, handler: string): void {
  if (!LIB_ID.test(libId)) {
    throw new SupervisorError('E_BAD_LIB_ID', `libId must be 12 lowercase hex characters (got ${showValue(libId)})`, { libId });
  }
  if (!HANDLER_NAME.test(handler)) {
    throw new SupervisorError('E_BAD_HANDLER_NAME', `handler name must match ${HANDLER_NAME.source} (got ${showValue(handler)})`, { handler });
  }
}

/** Builds the mark value for a handler's commands. */
export function formatMark(libId: string, handler: string): string {
  checkMarkParts(libId, handler);
  return `${libId}:${handler}`;
}

/** Decodes a mark value; null for anything not written by formatMark. */
export function parseMark(value: string): Mark | null {
  const colon = value.indexOf(':');
  if (colon === -1) return null;
  const libId = value.slice(0, colon);
  const handler = value.slice(colon + 1);
  return LIB_ID.test(libId) && HANDLER_NAME.test(handler) ? { libId, handler } : null;
}

/** Options for one walk of /proc. */
export interface ScanOptions {
  /** Longest synchronous stretch before yielding to the event loop (default 8 ms). */
  readonly sliceMs?: number;
  readonly procRoot?: string;
}

/**
 * Walks /proc once: reads stat (to drop zombies and kernel threads) and environ (for the mark)
 * of every process but ours, yielding every few ms so 1000s of processes never stall the loop.
 */
export async function scanProcesses(options: ScanOptions = {}): Promise<ProcSnapshot> {
  const sliceMs = options.sliceMs ?? 8;
  const startedAt = Date.now();
  const t0 = performance.now();
  let pids: number[];
  try {
    pids = listPids(options.procRoot);
  } catch (err) {
    throw new SupervisorError('E_PROC_UNAVAILABLE', `cannot list processes in /proc: ${(err as Error).message}`, {}, { cause: err });
  }
  const procs: ScannedProc[] = [];
  const seen = new Map<string, Attribution>();
  const blank = { count: 0 };
  let sliceStart = performance.now();
  let maxBlockMs = sliceStart - t0;
  for (let i = 0; i < pids.length; i += 1) {
    // Checking the time every 16 processes keeps the check itself off the profile.
    if ((i & 15) === 15 && performance.now() - sliceStart >= sliceMs) {
      maxBlockMs = Math.max(maxBlockMs, performance.now() - sliceStart);
      await new Promise<void>((resolve) => setImmediate(resolve));
      sliceStart = performance.now();
    }
    const scanned = scanOne(pids[i]!, seen, blank);
    if (scanned !== null) procs.push(scanned);
  }
  // Only processes alive in this walk stay known: the map never outgrows the process table.
  if (options.procRoot === undefined) known = seen;
  maxBlockMs = Math.max(maxBlockMs, performance.now() - sliceStart);
  return { startedAt, procs, durationMs: performance.now() - t0, maxBlockMs, blankEnviron: blank.count };
}

interface Attribution { readonly mark: Mark | null; readonly runId: string | null }

/**
 * Marks found in the last walk, by pid + start time + comm. The sampler walks ~2000 processes every
 * 5 s at 1000 handlers, and the environ reads were half of that walk. A process's environment is
 * fixed from its exec on, and marks are inherited across exec, so a marked process is read once.
 * Unmarked ones are read every walk: a fork of the spawner is unmarked until its exec, which may
 * keep its comm (a `node` handler), and must not stay unmarked in here.
 */
let known = new Map<string, Attribution>();

/** No mark because the environ could not be read, or because it read empty (counted: see ProcSnapshot.blankEnviron). */
const UNREADABLE: Attribution = { mark: null, runId: null };
const BLANK: Attribution = { mark: null, runId: null };

/** The mark and run id in a process's environment; null when it cannot be read, BLANK when it reads empty. */
function attributionOf(pid: number): Attribution | null {
  const environ = readProcFile(`/proc/${pid}/environ`);
  if (environ === null) return null;
  if (environ.length === 0) return BLANK;
  const markText = findEnvVar(environ, MARK_ENV);
  const mark = markText === null ? null : parseMark(markText);
  return { mark, runId: mark === null ? null : findEnvVar(environ, RUN_ENV) };
}

function scanOne(pid: number, seen: Map<string, Attribution>, blank: { count: number }): ScannedProc | null {
  if (pid === process.pid) return null;
  const stat = readProcStat(pid);
  if (stat === null || isGone(stat.state) || isKernelThread(stat)) return null;
  const key = `${pid}:${stat.startTicks}:${stat.comm}`;
  const a = known.get(key) ?? attributionOf(pid);
  if (a === BLANK && stat.ppid !== 0) blank.count += 1;
  if (a !== null && a.mark !== null) seen.set(key, a);
  const { mark, runId } = a ?? UNREADABLE;
  return {
    pid, ppid: stat.ppid, pgid: stat.pgid, sid: stat.sid, state: stat.state, startTicks: stat.startTicks, comm: stat.comm,
    utimeTicks: stat.utimeTicks, stimeTicks: stat.stimeTicks, rssPages: stat.rssPages, mark, runId,
  };
}

/** The process-wide coalescing scanner that terminations, `ps` and samplers share. */
export const sharedScanner = new ProcScanner<ProcSnapshot>(() => scanProcesses());

/** Groups a snapshot's processes of one lib dir by handler name. */
export function groupByHandler(snapshot: ProcSnapshot, libId: string): Map<string, ProcInfo[]> {
  const out = new Map<string, ProcInfo[]>();
  for (const p of snapshot.procs) {
    if (p.mark === null || p.mark.libId !== libId) continue;
    const list = out.get(p.mark.handler);
    if (list === undefined) out.set(p.mark.handler, [p]);
    else list.push(p);
  }
  return out;
}

/** Every live process attributed to the lib dir `libId`, grouped by handler name. */
export async function scanAttributed(libId: string, scanner: ProcScanner<ProcSnapshot> = sharedScanner): Promise<Map<string, ProcInfo[]>> {
  if (!LIB_ID.test(libId)) {
    throw new SupervisorError('E_BAD_LIB_ID', `libId must be 12 lowercase hex characters (got ${showValue(libId)})`, { libId });
  }
  return groupByHandler(await scanner.fresh(), libId);
}
