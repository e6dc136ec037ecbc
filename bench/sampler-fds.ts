/**
 * Open descriptors of this process before, during and after sampling 1000 attributed
 * processes (docs/decisions-sampler.md): the /proc reader must hold no fd per pid.
 * Run: node --import tsx bench/sampler-fds.ts [count]
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { MARK_ENV, groupByHandler, scanProcesses } from '../src/supervisor/process/attribution.js';
import { signalIfSame, defaultSendSignal } from '../src/supervisor/process/signal.js';
import { ProcUsageTracker, loadProcConstants, readUptimeSec } from '../src/supervisor/monitor/proc-usage.js';

const count = Number(process.argv[2] ?? 1000);
const rounds = 10;
const libId = randomBytes(6).toString('hex');
const openFds = (): number => readdirSync('/proc/self/fd').length;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function marked(): Promise<Awaited<ReturnType<typeof scanProcesses>>['procs']> {
  return (await scanProcesses()).procs.filter((p) => p.mark?.libId === libId);
}

async function killAll(): Promise<number> {
  for (let round = 0; round < 50; round += 1) {
    const left = await marked();
    if (left.length === 0) return round;
    for (const p of left) signalIfSame(defaultSendSignal, p, 'SIGKILL');
    await sleep(50);
  }
  throw new Error(`processes with mark ${libId} survived SIGKILL`);
}

const fdsAtStart = openFds();
// One shell forks them all: the mark is inherited, and this process gets one child, not 1000.
const parent = spawn('sh', ['-c', `i=0; while [ $i -lt ${count} ]; do sleep 600 & i=$((i+1)); done; wait`],
  { stdio: 'ignore', env: { ...process.env, [MARK_ENV]: `${libId}:Bench` } });
try {
  while ((await marked()).length < count + 1) await sleep(50);
  const tracker = new ProcUsageTracker(await loadProcConstants());
  const fdsBefore = openFds();
  let maxFds = fdsBefore;
  const durations: number[] = [];
  for (let i = 0; i < rounds; i += 1) {
    const t0 = performance.now();
    const groups = groupByHandler(await scanProcesses(), libId);
    const usage = tracker.sample(groups.get('Bench') ?? [], readUptimeSec());
    durations.push(performance.now() - t0);
    if (usage.size !== count + 1) throw new Error(`round ${i}: sampled ${usage.size} processes, expected ${count + 1}`);
    maxFds = Math.max(maxFds, openFds());
  }
  const fdsAfterSampling = openFds();
  const trackedWhileLive = tracker.tracked;
  parent.kill('SIGKILL');
  await killAll();
  tracker.sample(groupByHandler(await scanProcesses(), libId).get('Bench') ?? [], readUptimeSec());
  console.log(JSON.stringify({
    processes: count + 1, rounds, fdsAtStart, fdsBefore, maxFdsAfterAnyRound: maxFds, fdsAfterSampling, fdsAfterKill: openFds(),
    trackedWhileLive, trackedAfterKill: tracker.tracked,
    msPerSample: { min: Math.min(...durations).toFixed(1), max: Math.max(...durations).toFixed(1) },
  }, null, 2));
} finally {
  parent.kill('SIGKILL');
  await killAll();
}
