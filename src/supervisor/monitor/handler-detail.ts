/** Everything `supervisor status NAME` shows about one handler, from the daemon or from disk. */
import { join } from 'node:path';
import { commandLogPath } from '../logging/command-log.js';
import { handlerPaths, type SupervisorDirs } from '../../storage/layout.js';
import type { HandlerRecord } from '../lifecycle/record.js';
import type { OperationEntry } from './operation-history.js';
import type { HandlerRow, WatchSpec } from './types.js';
import { scanAttributed } from '../process/attribution.js';
import { libIdOf } from '../../storage/dirs.js';
import { redactUrl } from '../../core/redact.js';
import { describeLimits, type CgroupGroups, type HandlerLimits } from '../process/cgroup/index.js';
import { readProcStat, type ProcInfo } from '../process/proc.js';

export interface ProcessDetail {
  readonly pid: number;
  readonly ppid: number;
  readonly pgid: number;
  readonly comm: string;
  readonly state: string;
  readonly rssBytes: number;
}

export interface HandlerDetail {
  readonly name: string;
  readonly row: HandlerRow;
  readonly record: HandlerRecord | null;
  readonly operations: readonly OperationEntry[];
  readonly heartbeat: { readonly file: string; readonly timeoutSeconds: number; readonly watched: boolean } | null;
  readonly processes: readonly ProcessDetail[];
  readonly limits: string;
  /** How the handler's processes are held: `cgroup2 + v1 memory,cpu,pids` or `marks only`. */
  readonly isolation?: string;
  /** cgroup mode: the kernel's throttling of the handler's CPU quota so far. */
  readonly throttled?: { readonly count: number; readonly ms: number };
  readonly paths: Readonly<Record<string, string>>;
}

const PAGE = 4096;

/** The daemon's isolation, when it has chosen one: processes come from the handler's group. */
export interface DetailIsolation {
  readonly groups: CgroupGroups | null;
  readonly description: string;
  readonly limits: HandlerLimits | null;
}

function groupProcs(groups: CgroupGroups, name: string): ProcInfo[] {
  return groups.members(name).map((pid) => readProcStat(pid)).filter((p): p is NonNullable<typeof p> => p !== null);
}

export async function buildDetail(dirs: SupervisorDirs, row: HandlerRow, record: HandlerRecord | null, operations: readonly OperationEntry[],
  spec: WatchSpec | null, iso?: DetailIsolation): Promise<HandlerDetail> {
  const groups = iso?.groups ?? null;
  const procs = groups !== null ? groupProcs(groups, row.name) : (await scanAttributed(libIdOf(dirs.libDir))).get(row.name) ?? [];
  const usage = groups !== null && groups.handlers().includes(row.name) ? groups.usage(row.name) : null;
  const version = record?.version ?? row.version;
  const paths: Record<string, string> = {
    logFolder: join(dirs.logDir, row.name),
    commandLog: commandLogPath(dirs.logDir, row.name),
  };
  if (version) {
    const p = handlerPaths(dirs, row.name, version);
    Object.assign(paths, { handlerDir: p.dir, configFolder: p.configFolder, statusFolder: p.statusFolder, heartbeatFile: p.heartbeatFile,
      commandOutput: p.outputFolder });
  }
  return {
    name: row.name, row, record: shownRecord(record), operations,
    heartbeat: spec ? { file: spec.heartbeatFile, timeoutSeconds: spec.heartbeatTimeoutSec, watched: spec.reportHeartbeat && spec.state === 'Enabled' } : null,
    processes: procs.map((p) => ({ pid: p.pid, ppid: p.ppid, pgid: p.pgid, comm: p.comm, state: p.state, rssBytes: p.rssPages * PAGE })),
    limits: iso ? describeLimits(groups?.layout ?? null, iso.limits) : 'not enforced',
    ...(iso ? { isolation: iso.description } : {}),
    ...(usage !== null && usage.nrThrottled > 0 ? { throttled: { count: usage.nrThrottled, ms: Math.round(usage.throttledUsec / 1000) } } : {}),
    paths,
  };
}

/** The record as `status` shows it: a pending fetch's package uris redacted (the record on disk keeps them whole, to resume). */
function shownRecord(record: HandlerRecord | null): HandlerRecord | null {
  if (!record?.pending) return record;
  const steps = record.pending.steps.map((s) => (s.kind === 'fetch' ? { ...s, pkg: { ...s.pkg, uris: s.pkg.uris.map(redactUrl) } } : s));
  return { ...record, pending: { ...record.pending, steps } };
}

/** Levenshtein distance, for "did you mean" on unknown handler names. */
export function closestName(name: string, names: readonly string[]): string | null {
  let best: string | null = null;
  let bestD = Infinity;
  const a = name.toLowerCase();
  for (const candidate of names) {
    const b = candidate.toLowerCase();
    const d = distance(a, b);
    if (d < bestD) { bestD = d; best = candidate; }
  }
  return best !== null && (bestD <= Math.max(2, Math.floor(name.length / 3)) || best.toLowerCase().includes(a)) ? best : null;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}
