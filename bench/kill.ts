/**
 * 4. Kill precision: N enable commands that hang, ignore SIGTERM and leave a setsid grandchild,
 * all timing out together. The bench watches /proc on its own (every process of a handler carries
 * its mark) and, in cgroup mode, the handlers' groups too (a process that dropped its mark is
 * still counted), and finds, per handler, when the last of its processes was gone; the floor is the
 * bench doing the same two-phase kill itself to the same processes (SIGTERM, grace, SIGKILL, gone).
 * It runs in each isolation mode (cgroup first, then marks), each next to its own floor.
 */
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { scanProcesses, type ScannedProc } from '../src/supervisor/process/attribution.js';
import { defaultSendSignal, signalIfSame } from '../src/supervisor/process/signal.js';
import { newSection, type BenchContext, type Benchmark, type SectionOutput } from './context.js';
import { BenchWorkspace, FIXTURES, goalState } from './fixtures.js';
import { markEnv, runCli, sleep, start } from './proc-tools.js';
import { max, median, ratio, round } from './stats.js';
import { groupMembers, sweepCgroups } from './cgroups.js';
import { benchModes, cliModeEnv, modeLabel, type IsolationMode } from './isolation-modes.js';
import type { ExtraTable } from './report.js';

const TITLE = '4. Kill precision: hung commands (ignoring SIGTERM, each with a setsid grandchild) timing out together';
const SCAN_GAP_MS = 25;

/**
 * Processes per handler name of one lib id, from one walk of /proc (by mark) and, with `groups`,
 * the handlers' cgroups read right after: a pid counts once, for the handler of its group or mark.
 */
async function byHandler(libId: string, groups = false): Promise<{ at: number; counts: Map<string, number>; procs: ScannedProc[]; unmarked: number }> {
  const snap = await scanProcesses();
  const procs = snap.procs.filter((p) => p.mark?.libId === libId);
  const owner = new Map<number, string>(procs.map((p) => [p.pid, p.mark!.handler]));
  let unmarked = 0;
  if (groups) {
    for (const [handler, pids] of groupMembers(libId)) {
      for (const pid of pids) {
        if (!owner.has(pid)) unmarked += 1;
        owner.set(pid, handler);
      }
    }
  }
  const counts = new Map<string, number>();
  for (const h of owner.values()) counts.set(h, (counts.get(h) ?? 0) + 1);
  return { at: Date.now(), counts, procs, unmarked };
}

/** The bench's own two-phase kill of `n` hang.sh trees: ms from "timeout" to the last process gone. */
async function killFloor(ctx: BenchContext, root: string, n: number, graceMs: number): Promise<number> {
  const libId = randomBytes(6).toString('hex');
  ctx.libIds.add(libId);
  const dir = join(root, 'floor');
  await mkdir(dir, { recursive: true });
  await copyFile(join(FIXTURES, 'hang.sh'), join(dir, 'hang.sh'));
  for (let i = 0; i < n; i += 1) start('/bin/sh', ['hang.sh'], { cwd: dir, detached: true, env: markEnv(libId, `F${i}`) });
  const until = Date.now() + 60_000;
  while ((await byHandler(libId)).procs.length < 3 * n) {
    if (Date.now() > until) throw new Error('kill floor: the hung commands did not all start within 60 s');
    await sleep(50);
  }
  const t0 = Date.now();
  for (const p of (await byHandler(libId)).procs) signalIfSame(defaultSendSignal, p, 'SIGTERM');
  await sleep(graceMs);
  for (;;) {
    const left = (await byHandler(libId)).procs;
    if (left.length === 0) return Date.now() - t0;
    for (const p of left) signalIfSame(defaultSendSignal, p, 'SIGKILL');
    await sleep(SCAN_GAP_MS);
  }
}

interface ApplyOut { handlers: { name: string; operations: { name: string; result: string; code: number; startedAt: string; endedAt: string }[] }[] }

/** One mode's headline figures, for the side-by-side table. */
interface KillModeSummary { readonly mode: IsolationMode; readonly worstSec: number; readonly medianSec: number; readonly allGoneSec: number; readonly floorSec: number;
  readonly targetSec: number; readonly timedOut: number; readonly survivors: number; readonly scans: number; readonly unmarkedSeen: number }

function killModesTable(rows: readonly KillModeSummary[], graceSec: number): ExtraTable {
  return {
    title: 'Both isolation modes side by side (each against the bench\'s own two-phase kill measured just before it):',
    header: ['mode', 'timeout → gone, worst (s)', 'median (s)', 'first timeout → all gone (s)', 'floor (s)', 'worst × floor', 'target', 'met', 'timed out', 'survivors', 'scans'],
    rows: rows.map((r) => [modeLabel(r.mode), round(r.worstSec, 2), round(r.medianSec, 2), round(r.allGoneSec, 2), round(r.floorSec, 2), `${ratio(r.worstSec, r.floorSec)} ×`,
      `≤ grace + ${round(r.targetSec - graceSec, 1)} s`, r.worstSec <= r.targetSec ? 'yes' : '**no**', r.timedOut, r.survivors, r.scans]),
  };
}

/** Benchmark 4: 200 hung commands timing out together, watched from /proc (and the groups), in each isolation mode. */
export const killBench: Benchmark = {
  name: 'kill',
  sections: [{ name: 'kill', title: TITLE }],
  // Two modes, each installing 200 handlers: on the loaded shared VM one mode has taken 7 minutes.
  budgetMs: ({ quick }) => (quick ? 300_000 : 1_200_000),
  async run(ctx: BenchContext): Promise<SectionOutput[]> {
    const s = newSection('kill', TITLE);
    const graceSec = ctx.quick ? 1 : 5;
    const rows: KillModeSummary[] = [];
    const failed: string[] = [];
    for (const mode of benchModes()) {
      // One mode failing (or the budget running out in it) keeps the other's figures.
      try { rows.push(await killInMode(ctx, s, mode, graceSec)); } catch (err) {
        if (rows.length === 0 && ctx.signal.aborted) throw err;
        failed.push(`${modeLabel(mode)}: ${(err as Error).message}`);
        ctx.log(`${modeLabel(mode)} failed: ${(err as Error).stack ?? String(err)}`);
      }
    }
    if (rows.length === 0) throw new Error(failed.join('; '));
    s.tables.unshift(killModesTable(rows, graceSec));
    for (const f of failed) s.notes.push(`**Failed:** ${f}`);
    return [s];
  },
};

/** The kill benchmark with supervisors of one isolation mode; its figures go to `s`, named with the mode. */
async function killInMode(ctx: BenchContext, s: SectionOutput, mode: IsolationMode, graceSec: number): Promise<KillModeSummary> {
  const tag = ` — ${modeLabel(mode)}`;
  const groups = mode === 'cgroup';
  const env = cliModeEnv(mode);
  const n = ctx.quick ? 20 : 200;
  const timeoutSec = 3;
  const ws = await BenchWorkspace.create('kill');
  ctx.cleanups.push(() => ws.dispose());
  ctx.libIds.add(ws.libId);
  const handlers = await ws.buildHandlers('hang', n);
  const flags = ['--concurrency', String(n), '--install-concurrency', '16', '--kill-grace', String(graceSec)];
  // First apply: install and enable them all (the flag is absent, enable returns at once). Its timeout is generous:
  // 200 commands entering their groups at once on a loaded machine (cgroup_mutex shared with other work) can take over 3 s to start.
  const first = await runCli(['apply', '--goal-state', await ws.writeGoal(goalState(handlers, { timeouts: { enable: 120 } }), 'goal-1.json'),
    ...ws.dirFlags, ...flags], { timeoutMs: 240_000, env });
  if (first.code !== 0) throw new Error(`the first apply (install + enable of ${n}) exited ${first.code}: ${first.stderr.slice(-500)}${first.stdout.slice(-1500)}`);
  const goal = await ws.writeGoal(goalState(handlers, { timeouts: { enable: timeoutSec }, sequenceNumber: 2 }), 'goal-2.json');
  await writeFile(ws.hangFlag, '');
  const floorMs = await killFloor(ctx, ws.root, n, graceSec * 1000);
  ctx.log(`${modeLabel(mode)}: kill floor: ${floorMs} ms for ${n} trees (grace ${graceSec} s)`);

  // Watch /proc while the apply runs: per handler, the scans that saw it and when.
  const timeline: { at: number; counts: Map<string, number> }[] = [];
  let watching = true;
  let unmarkedSeen = 0;
  const watcher = (async () => {
    while (watching) {
      const { at, counts, unmarked } = await byHandler(ws.libId, groups);
      unmarkedSeen = Math.max(unmarkedSeen, unmarked);
      timeline.push({ at, counts });
      await sleep(SCAN_GAP_MS);
    }
  })();
  // Second apply: the sequence number rose, so every enable runs again, now all at once, and hangs.
  const r = await runCli(['apply', '--goal-state', goal, ...ws.dirFlags, '--json', ...flags], { timeoutMs: 240_000, env });
  const survivors = [...(await byHandler(ws.libId, groups)).counts.values()].reduce((a, b) => a + b, 0);
  watching = false;
  await watcher;
  if (r.code !== 1) throw new Error(`supervisor apply exited ${r.code ?? r.signal}, expected 1 (every enable timed out): ${r.stderr.slice(-500)}`);
  const out = JSON.parse(r.stdout) as ApplyOut;

  const after: number[] = [];
  const reported: number[] = [];
  let timedOut = 0;
  let firstTimeout = Number.POSITIVE_INFINITY;
  let lastGone = 0;
  for (const h of out.handlers) {
    const en = h.operations.find((o) => o.name === 'enable');
    if (!en) continue;
    if (en.result === 'timedOut' && en.code === 1011) timedOut += 1;
    const timeoutAt = Date.parse(en.startedAt) + timeoutSec * 1000;
    firstTimeout = Math.min(firstTimeout, timeoutAt);
    reported.push(Date.parse(en.endedAt) - timeoutAt);
    // Gone: the first scan after the timeout from which on no process of the handler was seen.
    let gone: number | null = null;
    for (const scan of timeline) {
      if (scan.at < timeoutAt) continue;
      if ((scan.counts.get(h.name) ?? 0) === 0) gone ??= scan.at; else gone = null;
    }
    if (gone !== null) { after.push(gone - timeoutAt); lastGone = Math.max(lastGone, gone); }
  }
  const worst = max(after) / 1000;
  const floorSec = floorMs / 1000;
  // cgroup.kill ends a whole group at once: the issue's grace + 0.2 s; marks mode keeps its grace + 0.5 s.
  const slack = groups ? 0.2 : 0.5;
  s.figures.push(
    { name: `enable commands ended as timed out (code 1011), of ${n}${tag}`, value: timedOut, unit: '', target: `${n}`, met: timedOut === n },
    { name: `per command: timeout → its last process gone (worst)${tag}`, value: round(worst, 2), unit: 's', floor: round(floorSec, 2),
      floorLabel: `the bench's own SIGTERM, ${graceSec} s, SIGKILL of all ${3 * n} processes`, ratio: ratio(worst, floorSec),
      target: `≤ grace + ${slack} s = ${graceSec + slack} s`, met: after.length === n && worst <= graceSec + slack },
    { name: `per command: timeout → its last process gone (median)${tag}`, value: round(median(after) / 1000, 2), unit: 's', floor: round(floorSec, 2), ratio: ratio(median(after) / 1000, floorSec) },
    { name: `first timeout → no process of any command left${tag}`, value: round((lastGone - firstTimeout) / 1000, 2), unit: 's', floor: round(floorSec, 2),
      ratio: ratio((lastGone - firstTimeout) / 1000, floorSec) },
    { name: `operation end reported by the supervisor after the timeout (worst)${tag}`, value: round(max(reported) / 1000, 2), unit: 's', target: `≤ ${graceSec + slack} s`,
      met: max(reported) <= (graceSec + slack) * 1000 },
    { name: `processes surviving when supervisor apply returned${tag}`, value: survivors, unit: '', target: '0', met: survivors === 0 },
  );
  s.notes.push(`${modeLabel(mode)}: \`supervisor apply --concurrency ${n} --install-concurrency 16 --kill-grace ${graceSec}\`${groups ? '' : ' with EXT_SUPERVISOR_ISOLATION=marks (what --no-cgroups sets for the daemon)'} on ${n} installed and enabled handlers, with a goal state whose sequence number rose, so all ${n} enables run again at once; the enable is then \`sh hang.sh\` `
    + `(bench/fixtures/hang.sh: \`trap '' TERM\`, a \`setsid sleep\` grandchild, then \`sleep\`: 3 processes per command, none ending on SIGTERM), enable timeout ${timeoutSec} s. `
    + `The bench scanned /proc${groups ? ' and then read every handler\'s groups (cgroup.procs of the handler and run groups; a member is counted whether or not it carries its mark)' : ''} every ${SCAN_GAP_MS} ms plus the scan itself (${timeline.length} scans${groups ? `; at most ${unmarkedSeen} members without a mark in one scan` : ''}); "gone" is the end of the first scan that no longer saw a process of that handler, so figures are pessimistic by up to one scan.`);
  s.data[mode] = { afterTimeoutMs: after, reportedEndAfterTimeoutMs: reported, floorMs, unmarkedSeen };
  if (groups) await sweepCgroups(new Set([ws.libId]));
  return { mode, worstSec: worst, medianSec: median(after) / 1000, allGoneSec: (lastGone - firstTimeout) / 1000, floorSec, targetSec: graceSec + slack,
    timedOut, survivors, scans: timeline.length, unmarkedSeen };
}
