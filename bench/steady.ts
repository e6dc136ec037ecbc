/**
 * 2. Steady state: the daemon's RSS, CPU, open fds and inotify watches over a quiet window, next
 * to an idle `node` process sampled at the same instants; meanwhile status-report.json (written
 * within 1 s of any change) is read from outside to catch a false Unresponsive without asking the
 * daemon anything.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SectionOutput } from './context.js';
import type { FleetEnv } from './fleet.js';
import { marked, procStats, supervisorStats, sleep, start, type ProcStats } from './proc-tools.js';
import { LONG_RUNNING_NODE_FLAGS } from '../src/supervisor/process/spawner.js';
import { DAEMON_MALLOC_ENV } from '../src/supervisor/process/daemon-env.js';
import { max, ratio, round } from './stats.js';
import { modeLabel, type IsolationMode } from './isolation-modes.js';
import { isolationOf, type SteadyModeSummary } from './steady-modes.js';

const MB = 1e6;
const SAMPLE_MS = 5000;

interface Sample { readonly t: number; readonly daemon: ProcStats; readonly floor: ProcStats; readonly work: ProcStats }

const WORK_FLOOR = fileURLToPath(new URL('./fixtures/work-floor.cjs', import.meta.url));

/** Names of the handlers the last written report calls Unresponsive. */
async function unresponsiveInReport(libDir: string): Promise<string[]> {
  const text = await readFile(join(libDir, 'status-report.json'), 'utf8').catch(() => null);
  if (text === null) return [];
  try {
    const doc = JSON.parse(text) as { handlers?: { name: string; status: string }[] };
    return (doc.handlers ?? []).filter((h) => h.status === 'Unresponsive').map((h) => h.name);
  } catch {
    return []; // caught between truncate and write: the next read sees it
  }
}

function cpuPct(a: ProcStats, b: ProcStats, ms: number): number {
  return ((b.cpuNs - a.cpuNs) / 1e6 / ms) * 100;
}

/**
 * Measures the fleet's daemon over `steadyMs` and fills the steady section; the figures name the
 * isolation `mode` the daemon runs in, and the work floor is that mode's (groups read, or /proc walked).
 */
export async function steadySection(env: FleetEnv, s: SectionOutput, mode: IsolationMode): Promise<SteadyModeSummary> {
  const { daemon, params: p, ws } = env;
  const isolation = isolationOf(ws.libDir);
  if ((mode === 'cgroup') !== (isolation !== 'marks only')) throw new Error(`steady, ${modeLabel(mode)}: the daemon chose "${isolation}"`);
  const tag = ` — ${modeLabel(mode)}`;
  const floorProc = start(process.execPath, ['-e', 'setInterval(() => {}, 1000)']);
  // The same fleet's bare minimum (heartbeat reads + the mode's sampling, nothing else): what any supervisor must spend.
  const workArgs = [WORK_FLOOR, ws.libDir, String(SAMPLE_MS), ...(mode === 'cgroup' ? [join(ws.libDir, 'cgroups.json')] : [])];
  const workProc = start(process.execPath, workArgs, { stdio: ['ignore', 'pipe', 'ignore'] });
  let workOut = '';
  workProc.child.stdout!.setEncoding('utf8').on('data', (d: string) => { workOut += d; });
  try {
    await sleep(1000);
    const procsAtStart = (await marked(new Set([ws.libId]))).length;
    const samples: Sample[] = [];
    const falseUnresponsive = new Set<string>();
    const t0 = performance.now();
    let nextSample = 0;
    let nextReport = 0;
    while (performance.now() - t0 <= p.steadyMs + 50) {
      const t = performance.now() - t0;
      if (t >= nextSample) {
        const d = supervisorStats(daemon.pid);
        const f = procStats(floorProc.child.pid!);
        const w = procStats(workProc.child.pid!);
        if (!d || !f || !w) throw new Error(`${!d ? 'the daemon' : !f ? 'the idle node floor' : 'the work floor'} exited during the steady window`);
        samples.push({ t, daemon: d, floor: f, work: w });
        nextSample += SAMPLE_MS;
      }
      if (t >= nextReport) {
        for (const name of await unresponsiveInReport(ws.libDir)) falseUnresponsive.add(name);
        nextReport += 2000;
      }
      await sleep(Math.max(10, Math.min(nextSample, nextReport) - (performance.now() - t0)));
    }
    const procsAtEnd = (await marked(new Set([ws.libId]))).length;
    const first = samples[0]!;
    const last = samples[samples.length - 1]!;
    const windowMs = last.t - first.t;
    const daemonCpu = cpuPct(first.daemon, last.daemon, windowMs);
    const floorCpu = cpuPct(first.floor, last.floor, windowMs);
    const workCpu = cpuPct(first.work, last.work, windowMs);
    workProc.child.kill('SIGTERM');
    await workProc.exited;
    const workCounts = JSON.parse(workOut.trim() || '{}') as { watched?: number; heartbeatReads?: number; walks?: number; groupReads?: number };
    const rssMax = max(samples.map((x) => x.daemon.rssBytes)) / MB;
    const floorRss = max(samples.map((x) => x.floor.rssBytes)) / MB;
    const fdsMax = max(samples.map((x) => x.daemon.fds));
    const watchLimit = Number(readFileSync('/proc/sys/fs/inotify/max_user_watches', 'utf8').trim());
    const win = `${(windowMs / 1000).toFixed(0)} s`;
    s.figures.push(
      { name: `daemon RSS + its spawner's private pages, N = ${p.n} (max over ${win})${tag}`, value: round(rssMax, 1), unit: 'MB', floor: round(floorRss, 1), floorLabel: 'idle `node -e setInterval`',
        ratio: ratio(rssMax, floorRss), target: '≤ 120 MB', met: rssMax <= 120 },
      { name: `daemon CPU over ${win}, % of one core${tag}`, value: round(daemonCpu, 2), unit: '%', floor: round(floorCpu, 3), floorLabel: 'idle node',
        ratio: ratio(daemonCpu, floorCpu), target: '≤ 1 %', met: daemonCpu <= 1 },
      { name: `daemon CPU over ${win} next to the same fleet's work floor (bare loop: ${workCounts.watched ?? '?'} folders watched, `
          + `${workCounts.heartbeatReads ?? '?'} heartbeat reads, ${mode === 'cgroup' ? `${workCounts.walks ?? '?'} rounds of group reads (${workCounts.groupReads ?? '?'} cgroup files)` : `${workCounts.walks ?? '?'} /proc walks`}; see below)${tag}`, value: round(daemonCpu, 2), unit: '%',
        floor: round(workCpu, 2), floorLabel: 'work floor, % of one core', ratio: ratio(daemonCpu, workCpu), target: undefined, met: null },
      { name: `daemon open fds at the last sample (first ${first.daemon.fds}, max ${fdsMax})${tag}`, value: last.daemon.fds, unit: '',
        floor: first.floor.fds, floorLabel: 'idle node', ratio: ratio(last.daemon.fds, first.floor.fds), target: 'bounded, not growing (last ≤ first + 2)',
        met: last.daemon.fds <= first.daemon.fds + 2 },
      { name: `daemon inotify watches (${round(last.daemon.inotifyWatches / p.n, 2)} per handler)${tag}`, value: last.daemon.inotifyWatches, unit: '',
        floor: null, floorLabel: `kernel limit max_user_watches = ${watchLimit}`, target: undefined, met: null },
      { name: `handlers reported Unresponsive during the window (false positives, of ${p.n})${tag}`, value: falseUnresponsive.size, unit: '',
        target: '0', met: falseUnresponsive.size === 0 },
      { name: `handler processes alive at the end of the window (${procsAtStart} at its start; 2 per handler: sh loop + sleep)${tag}`, value: procsAtEnd, unit: '',
        target: undefined, met: null },
    );
    s.tables.push({ title: `${modeLabel(mode)} (isolation: ${isolation}): samples every ${SAMPLE_MS / 1000} s (CPU % of one core over the preceding interval):`,
      header: ['t (s)', 'daemon RSS MB (anon + file + spawner private)', 'daemon CPU %', 'daemon fds', 'inotify watches', 'threads', 'idle node RSS MB', 'idle node CPU %', 'work floor CPU %'],
      rows: samples.map((x, i) => {
        const prev = samples[i - 1];
        const dt = prev ? x.t - prev.t : 0;
        return [(x.t / 1000).toFixed(0), `${(x.daemon.rssBytes / MB).toFixed(1)} (${(x.daemon.rssAnonBytes / MB).toFixed(1)} + ${(x.daemon.rssFileBytes / MB).toFixed(1)} + ${(x.daemon.helperPrivateBytes / MB).toFixed(1)})`, prev ? cpuPct(prev.daemon, x.daemon, dt).toFixed(2) : '–', x.daemon.fds,
          x.daemon.inotifyWatches, x.daemon.threads, (x.floor.rssBytes / MB).toFixed(1), prev ? cpuPct(prev.floor, x.floor, dt).toFixed(3) : '–',
          prev ? cpuPct(prev.work, x.work, dt).toFixed(2) : '–'];
      }) });
    if (!s.notes.some((n) => n.startsWith('CPU is the on-CPU'))) s.notes.push('CPU is the on-CPU time of every thread of the daemon (`/proc/<pid>/task/*/schedstat`), so other load on the machine does not inflate it; '
      + 'Daemon figures include its spawner process: CPU, fds and threads summed; memory is the daemon\'s VmRSS plus the pages only the spawner maps (Private_Clean + Private_Dirty of its smaps_rollup), as its shared pages are the node binary and libraries the daemon maps too. '
      + `The daemon runs as the systemd unit runs it: \`node ${LONG_RUNNING_NODE_FLAGS.join(' ')}\` with ${Object.entries(DAEMON_MALLOC_ENV).map(([k, v]) => `\`${k}=${v}\``).join(', ')} (deploy/ext-supervisor.service). `
      + 'Inotify watches are counted from `/proc/<pid>/fdinfo` of its inotify fds. The window includes the heartbeat writes '
      + `(${p.n} files rewritten every ${p.periodSec} s) and the process sampler's scans: "idle" means no goal-state change and no client.`);
    if (falseUnresponsive.size) s.notes.push(`False Unresponsive: ${[...falseUnresponsive].slice(0, 20).join(', ')}`);
    s.notes.push(mode === 'cgroup'
      ? `The work floor of ${modeLabel(mode)} (bench/fixtures/work-floor.cjs given the lib dir's cgroups.json) is the least a supervisor of this fleet must do with kernel groups, in a bare loop: one fs.watch per handler folder with a heartbeat.log, `
        + `reading and parsing the file on each change, and every ${SAMPLE_MS / 1000} s, per handler group, its CPU counter (cgroup2 cpu.stat), its memory counter (v1 memory.usage_in_bytes here, memory.current on a unified host) and the cgroup.procs of its run groups (listed once, again when one is gone). `
        + 'No /proc walk, no start times, no throttling or OOM counters, no actors, no state, no report; it runs beside the daemon over the same window.'
      : `The work floor of ${modeLabel(mode)} (bench/fixtures/work-floor.cjs) is the least any supervisor of this fleet must do with marks, in a bare loop: one fs.watch per handler folder with a heartbeat.log, `
        + `reading and parsing the file on each change, and every ${SAMPLE_MS / 1000} s a walk of /proc reading each process's stat and the environ of each process new since the last walk. `
        + 'No actors, no state, no report, no status folders; it runs beside the daemon over the same window.');
    s.data[mode] = { isolation, samples: samples.map((x) => ({ t: round(x.t, 0), daemon: x.daemon, floor: x.floor, work: x.work })),
      workFloor: { cpuPct: workCpu, ...workCounts }, falseUnresponsive: [...falseUnresponsive], procs: { atStart: procsAtStart, atEnd: procsAtEnd } };
    return { mode, isolation, windowSec: windowMs / 1000, daemonCpu, workCpu, floorCpu, rssMb: rssMax, floorRssMb: floorRss, fds: last.daemon.fds,
      falseUnresponsive: falseUnresponsive.size, procs: procsAtEnd, workCounts };
  } finally {
    floorProc.child.kill('SIGKILL');
    workProc.child.kill('SIGKILL');
    await Promise.all([floorProc.exited, workProc.exited]);
  }
}
