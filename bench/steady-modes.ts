/**
 * The steady window in both isolation modes, side by side: each daemon next to the work floor of
 * its own mode (groups read, or /proc walked) and the idle node floor, all from the same run.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeLayout, type CgroupLayout, type Controller, type V1Name } from '../src/supervisor/process/cgroup/detect.js';
import type { ExtraTable } from './report.js';
import { modeLabel, type IsolationMode } from './isolation-modes.js';
import { ratio, round } from './stats.js';

export interface SteadyModeSummary {
  readonly mode: IsolationMode;
  readonly isolation: string;
  readonly windowSec: number;
  readonly daemonCpu: number;
  readonly workCpu: number;
  readonly floorCpu: number;
  readonly rssMb: number;
  readonly floorRssMb: number;
  readonly fds: number;
  readonly falseUnresponsive: number;
  readonly procs: number;
  readonly workCounts: { readonly walks?: number; readonly groupReads?: number };
}

/** What the daemon of a lib dir chose, from the cgroups.json it writes at start (`marks only` when it wrote null). */
export function isolationOf(libDir: string): string {
  const raw = JSON.parse(readFileSync(join(libDir, 'cgroups.json'), 'utf8')) as
    { v2: string | null; v1: Array<[V1Name, string]>; where: Record<Controller, 'v2' | 'v1' | null>; notes: string[] } | null;
  if (raw === null) return 'marks only';
  const layout: CgroupLayout = { v2: raw.v2, v1: new Map(raw.v1), where: raw.where, notes: raw.notes };
  return describeLayout(layout);
}

/** One row per mode: the daemon's idle CPU against its mode's work floor and the idle node, RSS, fds. */
export function steadyModesTable(rows: readonly SteadyModeSummary[]): ExtraTable {
  return {
    title: 'Both isolation modes side by side (each daemon over its own window, next to the floors measured beside it):',
    header: ['mode', 'isolation chosen', 'daemon CPU % of a core', 'work floor of the mode, %', '× work floor', 'idle node %', 'daemon − work floor, % of a core',
      'target ≤ 1 %', 'RSS MB', 'fds', 'false Unresponsive'],
    rows: rows.map((r) => [modeLabel(r.mode), r.isolation, round(r.daemonCpu, 2),
      `${round(r.workCpu, 2)} (${r.mode === 'cgroup' ? `${r.workCounts.groupReads ?? '?'} cgroup file reads in ${r.workCounts.walks ?? '?'} rounds` : `${r.workCounts.walks ?? '?'} /proc walks`})`,
      `${ratio(r.daemonCpu, r.workCpu)} ×`, round(r.floorCpu, 3), round(r.daemonCpu - r.workCpu, 2), r.daemonCpu <= 1 ? 'yes' : '**no**',
      round(r.rssMb, 1), r.fds, r.falseUnresponsive]),
  };
}
