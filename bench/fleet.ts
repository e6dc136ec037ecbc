/**
 * 2, 3 and 5 share one expensive set-up: a `supervisor run` daemon with N handlers enabled, each
 * with a live `sh` loop rewriting heartbeat.log every period. Steady state is measured first (an
 * undisturbed daemon), then `ps`, then heartbeat detection (which kills 10 % of the writers).
 */
import { newSection, type BenchContext, type Benchmark, type SectionOutput } from './context.js';
import type { BenchDaemon } from './daemon.js';
import { BenchWorkspace, goalState, type BuiltHandler } from './fixtures.js';
import { profileFleet } from './fleet-profile.js';
import { bringUpFleet, DAEMON_ARGS, STEP } from './fleet-up.js';
import { heartbeatSection } from './heartbeat.js';
import { killMarked, sleep } from './proc-tools.js';
import { sweepCgroups } from './cgroups.js';
import { psSection } from './ps-bench.js';
import { steadySection } from './steady.js';
import { steadyModesTable, type SteadyModeSummary } from './steady-modes.js';
import { benchModes, daemonModeArgs, modeLabel, type IsolationMode } from './isolation-modes.js';

/** Sizes of the fleet benchmarks. */
export interface FleetParams {
  readonly n: number;
  /** Seconds between heartbeat writes of each handler. */
  readonly periodSec: number;
  /** The goal state's heartbeatTimeout (s). */
  readonly timeoutSec: number;
  readonly steadyMs: number;
  readonly stopCount: number;
  readonly psRuns: number;
}

/** What the sections get: the running fleet. */
export interface FleetEnv {
  readonly ctx: BenchContext;
  readonly ws: BenchWorkspace;
  readonly daemon: BenchDaemon;
  readonly handlers: readonly BuiltHandler[];
  readonly params: FleetParams;
  /** How long the daemon took to bring the fleet up (ms), for the notes. */
  readonly setupMs: number;
}

const FULL: FleetParams = { n: 1000, periodSec: 10, timeoutSec: 20, steadyMs: 60_000, stopCount: 100, psRuns: 10 };
const QUICK: FleetParams = { n: 60, periodSec: 2, timeoutSec: 5, steadyMs: 10_000, stopCount: 6, psRuns: 5 };

const SECTIONS = [
  { name: 'steady', title: '2. Steady state with N enabled handlers, each with a live heartbeat writer' },
  { name: 'heartbeat', title: '3. Heartbeat detection: 10 % of the heartbeats stop at once' },
  { name: 'ps', title: '5. `supervisor ps --json` with N handlers' },
] as const;

async function bringUp(ctx: BenchContext, p: FleetParams, sections: SectionOutput[], mode: IsolationMode): Promise<FleetEnv> {
  const ws = await BenchWorkspace.create('fleet');
  ctx.cleanups.push(() => ws.dispose());
  ctx.libIds.add(ws.libId);
  const handlers = await ws.buildHandlers('heartbeat', p.n, { heartbeatPeriodSec: p.periodSec });
  const up = await bringUpFleet(ctx, ws, ws.root, handlers, p, { extraArgs: daemonModeArgs(mode) });
  if (up.crash) for (const s of sections) s.notes.push(`**Daemon crash:** ${up.crash}. The fleet was then brought up by a new daemon in steps of ${STEP} handlers (goal-state rewrites) to measure the rest.`);
  ctx.log(`fleet up (${up.how}) in ${(up.setupMs / 1000).toFixed(1)} s; settling`);
  // Let the apply's session close, the sampler take a round and the heap settle before measuring "idle".
  await sleep(ctx.quick ? 3000 : 15_000);
  for (const s of sections) s.notes.push(`Fleet (${modeLabel(mode)}): ${p.n} handlers (zip packages), each enable starting \`sh heartbeat.sh ${p.periodSec}\` (bench/fixtures/heartbeat.sh: \`printf > heartbeat.log; sleep ${p.periodSec}\` in a loop), heartbeatTimeout ${p.timeoutSec} s; `
    + `\`supervisor run ${[...DAEMON_ARGS, ...daemonModeArgs(mode)].join(' ')}\` (sample interval: the default 5 s) brought them all to Enabled/Ready with a heartbeat in ${(up.setupMs / 1000).toFixed(1)} s (${up.how}).`);
  return { ctx, ws, daemon: up.daemon, handlers, params: p, setupMs: up.setupMs };
}

/** Benchmarks 2, 3 and 5 on one fleet of 1000 heartbeat handlers under a daemon. */
export const fleetBench: Benchmark = {
  name: 'fleet',
  sections: SECTIONS,
  // A second fleet measures the steady window in marks mode: about 5 minutes more.
  budgetMs: ({ quick, profile }) => (quick ? 450_000 : 1_500_000) * (profile ? 2 : 1),
  async run(ctx: BenchContext, selected: ReadonlySet<string>): Promise<SectionOutput[]> {
    const p = ctx.quick ? QUICK : FULL;
    const out = SECTIONS.filter((s) => selected.has(s.name)).map((s) => newSection(s.name, s.title));
    const byName = (name: string): SectionOutput | undefined => out.find((s) => s.name === name);
    const [mode, ...otherModes] = benchModes();
    const env = await bringUp(ctx, p, out, mode!);
    const guarded = async (name: string, fn: (s: SectionOutput) => Promise<void>): Promise<void> => {
      const s = byName(name);
      if (!s) return;
      try { await fn(s); } catch (err) { s.error = (err as Error).message; ctx.log(`${name} failed: ${(err as Error).stack ?? String(err)}`); }
    };
    const steadyRows: SteadyModeSummary[] = [];
    await guarded('steady', async (s) => { steadyRows.push(await steadySection(env, s, mode!)); });
    await guarded('ps', (s) => psSection(env, s));
    await guarded('heartbeat', (s) => heartbeatSection(env, s));
    const how = await env.daemon.stop(60_000);
    const left = await killMarked(new Set([env.ws.libId]));
    await sweepCgroups(new Set([env.ws.libId]));
    ctx.log(`daemon stopped (${how.graceful ? 'gracefully' : JSON.stringify(how)}); killed ${left} handler processes`);
    const steady = byName('steady');
    if (steady && !steady.error) {
      // The steady window again on a fleet of the other mode (--no-cgroups), for the side-by-side table.
      // Its failure is noted, not the section's: the first mode's figures stand.
      for (const other of otherModes) {
        try {
          const env2 = await bringUp(ctx, p, [steady], other);
          try { steadyRows.push(await steadySection(env2, steady, other)); } finally {
            await env2.daemon.stop(60_000);
            await killMarked(new Set([env2.ws.libId]));
            await sweepCgroups(new Set([env2.ws.libId]));
          }
        } catch (err) {
          steady.notes.push(`**Failed:** ${modeLabel(other)}: ${(err as Error).message}`);
          ctx.log(`steady, ${modeLabel(other)} failed: ${(err as Error).stack ?? String(err)}`);
        }
      }
      if (steadyRows.length > 0) steady.tables.unshift(steadyModesTable(steadyRows));
    }
    if (ctx.profile) {
      ctx.log('profiled fleet: a second daemon under --cpu-prof');
      await guarded(out[0]!.name, (s) => profileFleet(ctx, env.ws, env.handlers, p.timeoutSec, s));
    }
    return out;
  },
};
