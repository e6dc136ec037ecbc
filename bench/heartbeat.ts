/**
 * 3. Heartbeat detection: SIGKILL the heartbeat writers of 10 % of the fleet at once, then poll
 * `ps` until each of them is Unresponsive. A handler's deadline is its heartbeat.log's last
 * mtime + heartbeatTimeout; lateness = when ps first said Unresponsive - that deadline.
 * Meanwhile no other handler may turn Unresponsive.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { scanProcesses } from '../src/supervisor/process/attribution.js';
import { defaultSendSignal, signalIfSame } from '../src/supervisor/process/signal.js';
import type { SectionOutput } from './context.js';
import type { FleetEnv } from './fleet.js';
import { runCli, sleep } from './proc-tools.js';
import { max, median, ratio, round } from './stats.js';

const POLL_MS = 200;

/** Kills every process of these handlers (the sh loop and its sleep) and waits until they are gone. */
async function killWriters(libId: string, names: ReadonlySet<string>): Promise<number> {
  let killed = 0;
  for (let round = 0; round < 100; round += 1) {
    // The loops first: a sleep killed before its loop would only be replaced by the next one.
    const left = (await scanProcesses()).procs.filter((p) => p.mark?.libId === libId && names.has(p.mark.handler))
      .sort((a, b) => Number(b.comm === 'sh') - Number(a.comm === 'sh'));
    if (left.length === 0) return killed;
    for (const p of left) if (signalIfSame(defaultSendSignal, p, 'SIGKILL')) killed += 1;
    await sleep(20);
  }
  throw new Error('heartbeat writers survived SIGKILL');
}

/** Fills the heartbeat section; leaves the stopped handlers Unresponsive (the fleet is torn down next). */
export async function heartbeatSection(env: FleetEnv, s: SectionOutput): Promise<void> {
  const { daemon, params: p, ws, handlers } = env;
  const step = Math.floor(handlers.length / p.stopCount);
  const stopped = new Set(handlers.filter((_, i) => i % step === 0).slice(0, p.stopCount).map((h) => h.name));
  const before = await daemon.ps();
  const already = before.filter((r) => r.status === 'Unresponsive').map((r) => r.name);
  if (already.length) throw new Error(`${already.length} handlers were Unresponsive before any heartbeat stopped: ${already.slice(0, 5).join(', ')}`);
  const killedAt = Date.now();
  const killed = await killWriters(ws.libId, stopped);
  const deadlines = new Map<string, number>();
  for (const name of stopped) {
    const m = await stat(join(ws.libDir, `${name}-1.0.0`, 'heartbeat.log'));
    deadlines.set(name, m.mtimeMs + p.timeoutSec * 1000);
  }
  const detected = new Map<string, number>();
  const falsePositive = new Map<string, number>();
  const giveUpAt = max([...deadlines.values()]) + 10_000;
  let polls = 0;
  while (detected.size < stopped.size && Date.now() < giveUpAt) {
    const rows = await daemon.ps();
    const at = Date.now();
    polls += 1;
    for (const r of rows) {
      if (r.status !== 'Unresponsive') continue;
      if (stopped.has(r.name)) { if (!detected.has(r.name)) detected.set(r.name, at); } else if (!falsePositive.has(r.name)) falsePositive.set(r.name, at);
    }
    await sleep(POLL_MS);
  }
  // The same answer through the CLI the operator uses.
  const cli = await runCli(['ps', '--json', ...ws.dirFlags]);
  const cliRows = JSON.parse(cli.stdout) as { name: string; status: string }[];
  const cliUnresponsive = cliRows.filter((r) => r.status === 'Unresponsive').map((r) => r.name);
  const lateness = [...detected].map(([name, at]) => at - deadlines.get(name)!);
  const ages = [...detected].map(([name, at]) => at - (deadlines.get(name)! - p.timeoutSec * 1000));
  const worstAge = max(ages) / 1000;
  s.figures.push(
    { name: `stopped heartbeats seen Unresponsive in ps (of ${stopped.size})`, value: detected.size, unit: '', target: `${stopped.size}`, met: detected.size === stopped.size },
    { name: 'heartbeat age when first seen Unresponsive (worst)', value: round(worstAge, 2), unit: 's', floor: p.timeoutSec, floorLabel: 'heartbeatTimeout',
      ratio: ratio(worstAge, p.timeoutSec), target: `≤ timeout + 1 s = ${p.timeoutSec + 1} s`, met: detected.size === stopped.size && worstAge <= p.timeoutSec + 1 },
    { name: 'lateness after mtime + timeout (worst)', value: round(max(lateness) / 1000, 2), unit: 's',
      floorLabel: `resolution: a poll every ${POLL_MS} ms + a ps call`, target: '≤ 1 s', met: lateness.length > 0 && max(lateness) <= 1000 },
    { name: 'lateness after mtime + timeout (median)', value: round(median(lateness) / 1000, 2), unit: 's' },
    { name: `other handlers seen Unresponsive meanwhile (false positives, of ${handlers.length - stopped.size})`, value: falsePositive.size, unit: '', target: '0', met: falsePositive.size === 0 },
    { name: `\`supervisor ps --json\` afterwards: Unresponsive rows (exactly the stopped ones: ${[...stopped].every((n) => cliUnresponsive.includes(n)) ? 'yes' : 'no'})`,
      value: cliUnresponsive.length, unit: '', target: `${stopped.size}`, met: cliUnresponsive.length === stopped.size && [...stopped].every((n) => cliUnresponsive.includes(n)) },
  );
  s.notes.push(`At ${new Date(killedAt).toISOString()} the bench SIGKILLed the writer processes of ${stopped.size} handlers (${killed} processes: each \`sh\` loop and its \`sleep\`), `
    + `then asked the daemon for \`ps\` every ${POLL_MS} ms (${polls} polls) over a persistent control connection (the rows \`ps --json\` prints). `
    + 'A handler is late when ps says Unresponsive later than its heartbeat.log mtime + heartbeatTimeout; the time seen is when the ps answer arrived, so each figure is at most one poll + one call pessimistic.');
  if (falsePositive.size) s.notes.push(`False positives: ${[...falsePositive.keys()].slice(0, 20).join(', ')}`);
  s.data['lateness'] = Object.fromEntries([...detected].map(([name, at]) => [name, at - deadlines.get(name)!]));
  s.data['missed'] = [...stopped].filter((n) => !detected.has(n));
  s.data['falsePositives'] = [...falsePositive.keys()];
}
